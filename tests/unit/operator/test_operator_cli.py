"""`runestone operator` flags and environment."""

from __future__ import annotations

import pytest
import yaml

from runestone_operator import cli
from runestone_operator.core import names, operator_rbac


def _settings(argv: list[str], env: dict[str, str] | None = None) -> object:
    return cli.build_settings(cli.parser().parse_args(argv), env or {})


def test_defaults_watch_everything_with_the_operator_image() -> None:
    config = cli.build_settings(cli.parser().parse_args([]), {})
    assert config.all_namespaces
    assert config.image == names.DEFAULT_IMAGE
    assert config.resync_seconds == 30
    assert config.liveness_endpoint == "http://0.0.0.0:8080/healthz"


def test_flags_and_environment() -> None:
    env = {names.IMAGE_ENV: "registry.example/runestone:2", cli.RESYNC_ENV: "7"}
    config = cli.build_settings(
        cli.parser().parse_args(["-n", "a", "-n", "b", "--liveness", "off"]), env
    )
    assert config.namespaces == ("a", "b")
    assert config.image == "registry.example/runestone:2"
    assert config.resync_seconds == 7
    assert config.liveness_endpoint is None
    flag = cli.build_settings(cli.parser().parse_args(["--resync-seconds", "3"]), env)
    assert flag.resync_seconds == 3


def test_namespace_from_environment_unless_all_namespaces() -> None:
    env = {cli.NAMESPACE_ENV: "ops"}
    assert cli.build_settings(cli.parser().parse_args([]), env).namespaces == ("ops",)
    assert cli.build_settings(cli.parser().parse_args(["-A"]), env).all_namespaces


def test_namespace_and_all_namespaces_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["--namespace", "a", "--all-namespaces"])


def test_non_positive_resync_is_refused() -> None:
    assert cli.main(["--resync-seconds", "0"]) == 2


def test_print_rbac(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--print-rbac"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == operator_rbac.cluster_role()
