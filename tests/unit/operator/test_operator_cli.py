"""`runestone operator` flags and environment."""

from __future__ import annotations

import pytest
import yaml

from runestone_operator import cli
from runestone_operator.core import names, operator_rbac, settings


def _settings(argv: list[str], env: dict[str, str] | None = None) -> object:
    return cli.build_settings(cli.parser().parse_args(argv), env or {})


def _outside_a_pod() -> None:
    return None


def test_defaults_watch_everything_with_the_operator_image() -> None:
    config = cli.build_settings(cli.parser().parse_args([]), {}, _outside_a_pod)
    assert config.all_namespaces
    assert config.image == names.DEFAULT_IMAGE
    assert config.resync_seconds == 30
    assert config.liveness_endpoint == "http://0.0.0.0:8080/healthz"
    assert config.drain_seconds == 20
    # Outside a pod, with no namespace given, there is no Lease to elect a leader on.
    assert config.lease_namespace is None


def test_leader_election_namespace_from_flag_environment_or_own_pod() -> None:
    def parsed(argv: list[str], env: dict[str, str]) -> settings.Settings:
        return cli.build_settings(cli.parser().parse_args(argv), env, lambda: "from-pod")

    assert parsed([], {}).lease_namespace == "from-pod"
    assert parsed([], {cli.POD_NAMESPACE_ENV: "from-env"}).lease_namespace == "from-env"
    flagged = parsed(["--leader-election-namespace", "ops", "--leader-election-id", "x"], {})
    assert (flagged.lease_namespace, flagged.lease_name) == ("ops", "x")
    assert parsed(["--no-leader-election"], {cli.POD_NAMESPACE_ENV: "a"}).lease_namespace is None
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["--no-leader-election", "--leader-election-namespace", "a"])


def test_each_process_has_its_own_identity_named_after_its_pod() -> None:
    env = {cli.POD_ID_ENV: "runestone-operator-5d9f-abcde"}
    first, second = (
        cli.build_settings(cli.parser().parse_args([]), env, _outside_a_pod).identity
        for _ in range(2)
    )
    assert first.startswith("runestone-operator-5d9f-abcde_")
    assert second.startswith("runestone-operator-5d9f-abcde_")
    assert first != second


def test_negative_drain_and_unusable_liveness_urls_are_refused() -> None:
    assert cli.main(["--drain-seconds", "-1"]) == 2
    assert cli.main(["--liveness", "http://0.0.0.0:8080/metrics"]) == 2


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


def test_print_election_rbac(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--print-election-rbac"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == operator_rbac.election_role()
