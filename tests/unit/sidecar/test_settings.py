"""Command-line options and the downward-API identity."""

from __future__ import annotations

import pytest

from runestone_sidecar import settings
from runestone_sidecar.probes import engines, factory, grpccheck, httpget
from runestone_sidecar.probes.engines import weaviate

ENV = {"POD_NAME": "gw-0", "POD_NAMESPACE": "ns"}
BASE = ["--condition", "runestone.dev/gateway-ready"]


def test_defaults_and_identity() -> None:
    config, level = settings.parse(
        ["--target", "gateway", "--url", "http://127.0.0.1:8081", *BASE], ENV
    )
    assert (config.pod_name, config.namespace, config.node_name) == ("gw-0", "ns", "gw-0")
    assert (config.port, config.grpc_port, config.period, config.timeout) == (8082, 8083, 5.0, 3.0)
    assert level == "INFO"
    probe = factory.build(config)
    assert isinstance(probe, httpget.HttpProbe)
    assert probe.url == "http://127.0.0.1:8081/readyz"


def test_each_target_builds_its_probe(tmp_path: object) -> None:
    grpc_config, _ = settings.parse(["--target", "grpc", "--url", "grpc://127.0.0.1:9", *BASE], ENV)
    probe = factory.build(grpc_config)
    assert isinstance(probe, grpccheck.GrpcProbe)
    assert probe.target == "127.0.0.1:9"
    argv = ["--target", "member", "--engine", "weaviate", "--url", "http://w:8080", *BASE]
    w_config, _ = settings.parse([*argv, "--node-name", "docs-1", "--api-key-file", "/k"], ENV)
    w_probe = factory.build(w_config)
    assert isinstance(w_probe, weaviate.WeaviateProbe)
    assert (w_probe.node_name, str(w_probe.api_key_file)) == ("docs-1", "/k")
    assert w_config.label == "weaviate"  # probe metrics name the engine, not "member"
    h_config, _ = settings.parse(
        ["--target", "http", "--url", "http://h/ok", "--period", "1", *BASE], ENV
    )
    assert factory.build(h_config).describe == "GET http://h/ok"
    assert h_config.timeout == 1.0


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--condition", "runestone.dev/x"], {}, "POD_NAME and POD_NAMESPACE"),
        (["--condition", "example.com/x"], ENV, "runestone.dev/"),
        (["--condition", "runestone.dev/x", "--period", "0"], ENV, "--period"),
        (["--condition", "runestone.dev/x", "--success-threshold", "0"], ENV, "thresholds"),
        (["--condition", "runestone.dev/x", "--engine", "weaviate"], ENV, "--engine"),
    ],
)
def test_bad_settings_are_explained(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError, match=message):
        settings.parse(["--target", "http", "--url", "http://h/", *argv], env)


def test_unknown_target_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit):
        settings.parse(["--target", "redis", "--url", "x", *BASE], ENV)


def test_a_member_probe_is_chosen_by_engine_from_the_probes_engines_modules() -> None:
    assert engines.names() == ["weaviate"]
    member = ["--target", "member", "--url", "http://m:1", *BASE]
    with pytest.raises(settings.SettingsError, match="--engine is required"):
        settings.parse(member, ENV)
    config, _ = settings.parse([*member, "--engine", "qdrant"], ENV)
    with pytest.raises(
        settings.SettingsError, match="no member probe for it \\(known: weaviate\\)"
    ):
        factory.build(config)
