"""What only the operator can check becomes a Degraded condition and a Warning Event, retried
until fixed, never a crash and never a half-configured gateway: the last good children stay."""

from __future__ import annotations

from typing import Any

import yaml
from kubernetes import client

from devcluster import operator_process
from devcluster.kube import eventually
from integration.operator import objects
from runestone_gateway import config


def _degraded(api: client.ApiClient, namespace: str, plural: str, name: str, reason: str) -> str:
    obj = objects.condition_is(api, namespace, plural, name, "Degraded", "True", reason)
    return str(objects.must(objects.condition(obj, "Degraded"))["message"])


def _eventually_degraded(
    api: client.ApiClient, namespace: str, plural: str, name: str, reason: str
) -> str:
    return eventually(
        lambda: _degraded(api, namespace, plural, name, reason),
        timeout=60,
        what=f"{plural}/{name} Degraded with {reason}",
    )


def _healthy(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return objects.condition_is(api, namespace, "gateways", name, "Degraded", "False")


def test_unknown_pool_then_created(
    kube_api: client.ApiClient, namespace: str, operator: operator_process.OperatorProcess
) -> None:
    apps = client.AppsV1Api(kube_api)
    objects.create(
        kube_api, namespace, objects.gateway("orphan", providerPools=[{"name": "later"}])
    )
    message = eventually(
        lambda: _degraded(kube_api, namespace, "gateways", "orphan", "UnknownProviderPool"),
        timeout=60,
        what="Degraded UnknownProviderPool",
    )
    assert "'later'" in message
    assert any(
        "'later'" in m
        for m in eventually(
            lambda: objects.warnings(kube_api, namespace, "UnknownProviderPool"), what="event"
        )
    )
    # Nothing half-configured was written.
    assert not objects.exists(apps.read_namespaced_deployment, "orphan", namespace)
    assert not objects.exists(
        client.CoreV1Api(kube_api).read_namespaced_config_map, "orphan-config", namespace
    )

    objects.create(kube_api, namespace, objects.mock_pool("later"))
    eventually(lambda: _healthy(kube_api, namespace, "orphan"), timeout=60, what="recovery")
    assert objects.exists(apps.read_namespaced_deployment, "orphan", namespace)
    assert operator.alive()


def test_missing_secret_then_created(kube_api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube_api)
    objects.create(kube_api, namespace, objects.openai_pool("upstream", "creds"))
    objects.create(
        kube_api, namespace, objects.gateway("needs-creds", providerPools=[{"name": "upstream"}])
    )
    gateway_message = eventually(
        lambda: _degraded(kube_api, namespace, "gateways", "needs-creds", "MissingSecret"),
        timeout=60,
        what="the Gateway to be Degraded",
    )
    assert "Secret 'creds' does not exist" in gateway_message
    pool_message = eventually(
        lambda: _degraded(kube_api, namespace, "providerpools", "upstream", "MissingSecret"),
        what="the ProviderPool to be Degraded",
    )
    assert "'creds'" in pool_message
    eventually(
        lambda: objects.warnings(kube_api, namespace, "MissingSecret"), what="a Warning event"
    )

    secret_value = "sk-test-not-a-real-key"
    core.create_namespaced_secret(namespace, objects.credential_secret("creds", secret_value))
    eventually(lambda: _healthy(kube_api, namespace, "needs-creds"), timeout=90, what="recovery")
    eventually(
        lambda: objects.condition_is(
            kube_api, namespace, "providerpools", "upstream", "Ready", "True"
        ),
        timeout=90,
        what="the pool to recover",
    )
    # Mounted, never copied: the credential appears in no ConfigMap, condition or event.
    config_text = core.read_namespaced_config_map("needs-creds-config", namespace).data[
        "config.yaml"
    ]
    assert secret_value not in config_text
    everything = " ".join(e.message for e in core.list_namespaced_event(namespace).items)
    assert secret_value not in everything


def test_a_provider_credential_is_a_labelled_secret_holding_one_token(
    kube_api: client.ApiClient, namespace: str
) -> None:
    """Whoever may edit a ProviderPool chooses where its credential goes (`baseURL`): only a
    Secret its owner labelled as a provider credential may be one, and a value with a line
    break (which would add header lines to every upstream request) is refused. Each refusal is
    a Degraded reason and a Warning Event naming the Secret, never its value; nothing is
    mounted until it is fixed."""
    core = client.CoreV1Api(kube_api)
    apps = client.AppsV1Api(kube_api)
    database_password = "db-password-never-sent-upstream"
    core.create_namespaced_secret(
        namespace, objects.credential_secret("db", database_password, labelled=False)
    )
    objects.create(kube_api, namespace, objects.openai_pool("upstream", "db"))
    objects.create(
        kube_api, namespace, objects.gateway("exfil", providerPools=[{"name": "upstream"}])
    )
    for plural, name in (("providerpools", "upstream"), ("gateways", "exfil")):
        message = _eventually_degraded(kube_api, namespace, plural, name, "CredentialNotAllowed")
        assert "Secret 'db' is not labelled runestone.dev/provider-credential" in message
    warnings = eventually(
        lambda: objects.warnings(kube_api, namespace, "CredentialNotAllowed"), what="an Event"
    )
    assert any("Secret 'db'" in warning for warning in warnings)
    assert not objects.exists(apps.read_namespaced_deployment, "exfil", namespace)

    # Labelled, but two lines: the second would become a header of its own.
    injected = "sk-first\r\nX-Forwarded-For: 10.0.0.1"
    core.create_namespaced_secret(namespace, objects.credential_secret("creds", injected))
    objects.patch(
        kube_api,
        namespace,
        "providerpools",
        "upstream",
        {"spec": objects.openai_pool("upstream", "creds")["spec"]},
    )
    message = _eventually_degraded(kube_api, namespace, "gateways", "exfil", "InvalidCredential")
    assert "Secret 'creds' key 'api-key' is not one header-safe token" in message
    eventually(lambda: objects.warnings(kube_api, namespace, "InvalidCredential"), what="an Event")
    assert not objects.exists(apps.read_namespaced_deployment, "exfil", namespace)

    core.patch_namespaced_secret("creds", namespace, {"stringData": {"api-key": "sk-one-token"}})
    eventually(lambda: _healthy(kube_api, namespace, "exfil"), timeout=90, what="recovery")
    everything = " ".join(str(e.message) for e in core.list_namespaced_event(namespace).items)
    for value in (database_password, "sk-first", "X-Forwarded-For", "sk-one-token"):
        assert value not in everything
        for plural, name in (("providerpools", "upstream"), ("gateways", "exfil")):
            assert value not in str(objects.read(kube_api, namespace, plural, name)["status"])


def test_model_no_provider_serves_keeps_the_last_good_children(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway("picky", apiKeys=[{"name": "k", "models": ["mock-chat"]}]),
    )
    eventually(lambda: _healthy(kube_api, namespace, "picky"), timeout=60, what="a healthy gateway")
    good = core.read_namespaced_config_map("picky-config", namespace)

    # The pool drops the model the key needs: refused, and the running config stays as it was.
    objects.patch(
        kube_api,
        namespace,
        "providerpools",
        "mock",
        {
            "spec": {
                "providers": [
                    {
                        "name": "mock",
                        "type": "mock",
                        "models": [{"name": "mock-embedding", "kinds": ["embedding"]}],
                    }
                ]
            }
        },
    )
    message = eventually(
        lambda: _degraded(kube_api, namespace, "gateways", "picky", "ModelNotServed"),
        timeout=60,
        what="Degraded ModelNotServed",
    )
    assert "'k'" in message
    assert "mock-chat" in message
    eventually(
        lambda: objects.warnings(kube_api, namespace, "ModelNotServed"), what="a Warning event"
    )
    kept = core.read_namespaced_config_map("picky-config", namespace)
    assert kept.metadata.resource_version == good.metadata.resource_version
    rendered = config.GatewayConfig.model_validate(yaml.safe_load(kept.data["config.yaml"]))
    assert "mock-chat" in rendered.provider_pools[0].model_names()

    # Fixing the key's allow-list resolves it.
    objects.patch(
        kube_api,
        namespace,
        "gateways",
        "picky",
        {"spec": {"apiKeys": [{"name": "k", "models": ["mock-embedding"]}]}},
    )
    eventually(lambda: _healthy(kube_api, namespace, "picky"), timeout=60, what="recovery")
    recovered = core.read_namespaced_config_map("picky-config", namespace).data["config.yaml"]
    assert "mock-chat" not in recovered
