"""`helm lint` and `helm template` of the chart with the pinned helm: clean with the default and
the production values, the operator Deployment as promised (one replica, Recreate, non-root,
probes on the operator's liveness endpoint, leader election on a Lease of its namespace; two
replicas with a RollingUpdate in production), its optional metrics Service, ServiceMonitor and
Grafana dashboard, and values.schema.json refusing bad values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devcluster import chart
from integration.packaging.conftest import documents
from runestone_operator.core import operator_rbac

VALUES = {"default": [], "production": [chart.PRODUCTION_VALUES]}


@pytest.mark.parametrize("values", VALUES.values(), ids=VALUES.keys())
def test_helm_lint_is_clean(values: list[Any]) -> None:
    done = chart.lint(values)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout
    problems = [
        line for line in done.stdout.splitlines() if "[WARNING]" in line or "[ERROR]" in line
    ]
    assert not problems, done.stdout


def _by_kind(text: str) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for document in documents(text):
        kinds.setdefault(document["kind"], []).append(document)
    return kinds


def _operator(kinds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (deployment,) = kinds["Deployment"]
    assert deployment["metadata"]["name"] == "runestone-operator"
    return deployment


def _arg(args: list[str], flag: str) -> str:
    """The value of the last `flag VALUE` or `flag=VALUE` in args (argparse: the last wins)."""
    found = None
    for index, arg in enumerate(args):
        if arg == flag:
            found = args[index + 1]
        elif arg.startswith(flag + "="):
            found = arg.split("=", 1)[1]
    assert found is not None, f"{flag} not in {args}"
    return found


def test_default_template_renders_the_operator_as_promised() -> None:
    kinds = _by_kind(chart.template())
    assert set(kinds) == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "NetworkPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    deployment = _operator(kinds)
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["serviceAccountName"] == kinds["ServiceAccount"][0]["metadata"]["name"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/runestone-dev/runestone:0.1.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    args = container["args"]
    assert args[0] == "operator"
    assert "--all-namespaces" in args
    # Both probes ask the endpoint the operator serves its liveness on.
    liveness = _arg(args, "--liveness")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
    assert liveness == f"http://0.0.0.0:{port}/healthz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    # Gateways are started with the operator's own image.
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RUNESTONE_IMAGE"] == container["image"]
    # Kopf's identity comes from the pod's name, not from a passwd lookup of the non-root uid.
    (pod_id,) = [e for e in container["env"] if e["name"] == "POD_ID"]
    assert pod_id["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # The cluster-wide role is exactly the operator's own statement of what it needs.
    (role,) = kinds["ClusterRole"]
    assert role["rules"] == operator_rbac.rules()
    (binding,) = kinds["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": chart.NAMESPACE}
    ]


def test_the_operator_is_elected_on_a_lease_of_its_namespace_and_drains() -> None:
    kinds = _by_kind(chart.template())
    deployment = _operator(kinds)
    pod = deployment["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert _arg(args, "--leader-election-namespace") == chart.NAMESPACE
    assert _arg(args, "--leader-election-id") == deployment["metadata"]["name"]
    assert "--no-leader-election" not in args
    # The grace period covers the drain, then the Lease's release and the watches' stop.
    assert pod["terminationGracePeriodSeconds"] == int(_arg(args, "--drain-seconds")) + 10
    (role,) = kinds["Role"]
    assert role["metadata"]["namespace"] == chart.NAMESPACE
    assert role["rules"] == operator_rbac.election_rules()
    (binding,) = kinds["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": chart.NAMESPACE}
    ]

    alone = _by_kind(chart.template(set_values={"operator.leaderElection.enabled": "false"}))
    assert "Role" not in alone
    assert (
        "--no-leader-election"
        in _operator(alone)["spec"]["template"]["spec"]["containers"][0]["args"]
    )


@pytest.mark.parametrize(
    "setting",
    [{"operator.replicas": "2"}, {"operator.strategy.type": "RollingUpdate"}],
    ids=["two replicas", "rolling update"],
)
def test_two_operators_without_leader_election_are_refused(setting: dict[str, str]) -> None:
    command: list[str | Path] = [chart.helm_binary(), "template", chart.RELEASE, chart.CHART]
    for key, value in {**setting, "operator.leaderElection.enabled": "false"}.items():
        command += ["--set", f"{key}={value}"]
    done = chart.run(command, check=False)
    assert done.returncode != 0, done.stdout
    assert "need operator.leaderElection.enabled" in done.stderr


def test_the_operators_network_policy_admits_only_prometheus_unless_told(tmp_path: Path) -> None:
    """Nothing calls the operator but the kubelet's probes (never filtered by a NetworkPolicy)
    and Prometheus, admitted from the monitoring namespace to the port of /metrics. The policy
    selects the pods the operator Deployment creates (the e2e tier checks the running pod against
    it); `networkPolicy.metricsFromNamespaces` names Prometheus's namespaces (none: nothing is
    admitted), `networkPolicy.ingress` adds rules, `networkPolicy.enabled` removes it."""
    kinds = _by_kind(chart.template())
    (policy,) = kinds["NetworkPolicy"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    container = _operator(kinds)["spec"]["template"]["spec"]["containers"][0]
    metrics_port = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
    assert _arg(container["args"], "--liveness") == f"http://0.0.0.0:{metrics_port}/healthz"
    monitoring = {
        "namespaceSelector": {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring"]}
            ]
        }
    }
    scraping = {"from": [monitoring], "ports": [{"port": metrics_port, "protocol": "TCP"}]}
    assert policy["spec"]["ingress"] == [scraping]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    pod_labels = _operator(kinds)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert selector["app.kubernetes.io/component"] == "operator"
    assert "NetworkPolicy" not in _by_kind(
        chart.template(set_values={"networkPolicy.enabled": "false"})
    )
    none = tmp_path / "no-metrics.yaml"
    none.write_text("networkPolicy: {metricsFromNamespaces: []}\n")
    (closed,) = _by_kind(chart.template([none]))["NetworkPolicy"]
    assert "ingress" not in closed["spec"]  # no rule: nothing admitted
    scrape = {"networkPolicy.ingress[0].ports[0].port": "9090"}
    (opened,) = _by_kind(chart.template(set_values=scrape))["NetworkPolicy"]
    assert opened["spec"]["ingress"] == [scraping, {"ports": [{"port": 9090}]}]


def test_the_service_monitor_scrapes_every_operator_pods_metrics() -> None:
    assert not {"Service", "ServiceMonitor"} & set(_by_kind(chart.template()))
    monitor_values = {
        "operator.metrics.serviceMonitor.enabled": "true",
        "operator.metrics.serviceMonitor.labels.release": "kube-prometheus-stack",
    }
    kinds = _by_kind(chart.template(set_values=monitor_values))
    (service,) = kinds["Service"]
    (monitor,) = kinds["ServiceMonitor"]
    pod = _operator(kinds)["spec"]["template"]
    (port,) = service["spec"]["ports"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert port["targetPort"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": port["name"], "path": "/metrics", "interval": "30s"}
    ]


def test_the_grafana_dashboard_is_the_charts_json_for_grafanas_sidecar() -> None:
    assert "ConfigMap" not in _by_kind(chart.template())
    kinds = _by_kind(chart.template(set_values={"grafanaDashboard.enabled": "true"}))
    (config_map,) = kinds["ConfigMap"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == chart.NAMESPACE
    shipped = json.loads((chart.CHART / "dashboards" / "runestone.json").read_text())
    assert json.loads(config_map["data"]["runestone.json"]) == shipped
    elsewhere = {"grafanaDashboard.enabled": "true", "grafanaDashboard.namespace": "grafana"}
    (moved,) = _by_kind(chart.template(set_values=elsewhere))["ConfigMap"]
    assert moved["metadata"]["namespace"] == "grafana"


def test_production_values_pin_and_size_the_operator() -> None:
    digest = "sha256:" + "ab" * 32
    text = chart.template([chart.PRODUCTION_VALUES], {"image.digest": digest})
    deployment = _operator(_by_kind(text))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/runestone-dev/runestone@{digest}"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RUNESTONE_IMAGE"] == container["image"]
    args = container["args"]
    assert _arg(args, "--resync-seconds") == "60"
    assert _arg(args, "--liveness-max-age-seconds") == "300"
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}


def test_production_values_run_a_leader_and_a_stand_by() -> None:
    """Two replicas, one leading; a rollout starts the new pod (a follower) before it stops an
    old one, which drains and releases the Lease; a node drain evicts one at a time."""
    kinds = _by_kind(chart.template([chart.PRODUCTION_VALUES]))
    deployment = _operator(kinds)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert _arg(args, "--leader-election-namespace") == chart.NAMESPACE
    (budget,) = kinds["PodDisruptionBudget"]
    assert budget["spec"]["maxUnavailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "PodDisruptionBudget" not in _by_kind(chart.template())


def test_watched_namespaces_get_roles_instead_of_a_cluster_role() -> None:
    kinds = _by_kind(chart.template(set_values={"operator.watchNamespaces": "{team-a,team-b}"}))
    assert "ClusterRole" not in kinds
    assert "ClusterRoleBinding" not in kinds
    election = f"{_operator(kinds)['metadata']['name']}-leader-election"
    roles = [r for r in kinds["Role"] if r["metadata"]["name"] != election]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert all(r["rules"] == operator_rbac.rules() for r in roles)
    for binding in kinds["RoleBinding"]:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"][0]["namespace"] == chart.NAMESPACE
    args = _operator(kinds)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" not in args
    assert [args[i + 1] for i, a in enumerate(args) if a == "--namespace"] == ["team-a", "team-b"]


BAD_VALUES = {
    "unknown key": ("operator.replica=2", "replica"),
    "no replicas": ("operator.replicas=0", "replicas"),
    "strategy": ("operator.strategy.type=BlueGreen", "strategy"),
    "negative drain": ("operator.drainSeconds=-1", "drainSeconds"),
    "scrape interval": ("operator.metrics.serviceMonitor.interval=often", "interval"),
    "metrics namespace": ("networkPolicy.metricsFromNamespaces={Monitoring}", "metricsFrom"),
    "no workers": ("operator.workers=0", "workers"),
    "pull policy": ("image.pullPolicy=Sometimes", "pullPolicy"),
    "digest": ("image.digest=latest", "digest"),
    "namespace name": ("operator.watchNamespaces={Team_A}", "watchNamespaces"),
    "network policy rule": ("networkPolicy.ingress[0].to=x", "ingress"),
}


@pytest.mark.parametrize(("setting", "named"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_refuses_bad_values_naming_them(setting: str, named: str) -> None:
    command: list[str | Path] = [chart.helm_binary(), "template", chart.RELEASE, chart.CHART]
    command += ["--set", setting]
    done = chart.run(command, check=False)
    assert done.returncode != 0, done.stdout
    assert "values don't meet the specifications of the schema" in done.stderr
    assert named in done.stderr


@pytest.mark.parametrize(("kube_version", "accepted"), [("1.29.9", False), ("1.30.0", True)])
def test_kubernetes_before_1_30_is_refused_clearly(kube_version: str, accepted: bool) -> None:
    command: list[str | Path] = [chart.helm_binary(), "template", chart.RELEASE, chart.CHART]
    done = chart.run([*command, "--kube-version", kube_version], check=False)
    assert (done.returncode == 0) is accepted, done.stderr
    if not accepted:
        assert "Runestone needs Kubernetes 1.30 or later" in done.stderr
        assert kube_version in done.stderr


def test_admission_policies_can_be_left_to_another_release() -> None:
    policy_kinds = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert policy_kinds <= set(_by_kind(chart.template()))
    off = _by_kind(chart.template(set_values={"sidecarAdmissionPolicy.enabled": "false"}))
    assert not policy_kinds & set(off)
    assert "Deployment" in off
    # The switch lives in YAML comments: the template still applies as plain YAML (the sidecar's
    # integration tests install the policies that way).
    template = chart.CHART / "templates" / "sidecar-admission-policy.yaml"
    plain = documents(template.read_text())
    assert [d["kind"] for d in plain] == sorted(policy_kinds) * 2
