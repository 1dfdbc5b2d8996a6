"""Invalid specs are rejected by the API server itself, with the CRD's CEL or schema message."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from integration.operator import objects

GATEWAY: dict[str, Any] = objects.gateway("gw")
POOL: dict[str, Any] = {
    "apiVersion": "runestone.dev/v1alpha1",
    "kind": "ProviderPool",
    "metadata": {"name": "pool"},
    "spec": {
        "providers": [
            {
                "name": "openai",
                "type": "openai",
                "baseURL": "https://api.openai.com/v1",
                "models": [{"name": "gpt-4o-mini"}],
            }
        ]
    },
}
VECTOR: dict[str, Any] = {
    "apiVersion": "runestone.dev/v1alpha1",
    "kind": "VectorCluster",
    "metadata": {"name": "docs"},
    "spec": {"version": "1.39.0", "replicas": 3},
}
S3_BACKUP = {
    "schedule": "@daily",
    "backend": "s3",
    "s3": {"bucket": "backups", "credentialsSecretRef": {"name": "s3-credentials"}},
}
STORES: dict[str, Any] = {
    "vectorClusterRef": {"name": "docs"},
    "embeddingModel": "mock-embedding",
}
PLURALS = {
    "Gateway": "gateways",
    "ProviderPool": "providerpools",
    "VectorCluster": "vectorclusters",
}


def _with(
    base: dict[str, Any], spec: dict[str, Any] | None = None, name: str | None = None
) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body["spec"].update(spec or {})
    if name is not None:
        body["metadata"]["name"] = name
    return body


def _provider(**fields: Any) -> dict[str, Any]:
    provider = copy.deepcopy(POOL["spec"]["providers"][0])
    provider.update(fields)
    return {"providers": [{k: v for k, v in provider.items() if v is not None}]}


INVALID = [
    (
        "pool: baseURL missing",
        _with(POOL, _provider(baseURL=None)),
        "baseURL is required unless type is mock",
    ),
    (
        "pool: mock with baseURL",
        _with(POOL, _provider(type="mock")),
        "a mock provider takes neither baseURL nor apiKeySecretRef",
    ),
    (
        "pool: anthropic embeddings",
        _with(POOL, _provider(type="anthropic", models=[{"name": "e", "kinds": ["embedding"]}])),
        "anthropic providers cannot serve embedding models",
    ),
    (
        "pool: unknown provider type",
        _with(POOL, _provider(type="cohere")),
        'Unsupported value: "cohere"',
    ),
    (
        "pool: api on an anthropic provider",
        _with(POOL, _provider(type="anthropic", api="responses")),
        "api applies only to openai providers",
    ),
    (
        "pool: an api no provider speaks",
        _with(POOL, _provider(api="completions")),
        'Unsupported value: "completions"',
    ),
    (
        "pool: cache price not a decimal",
        _with(
            POOL,
            _provider(models=[{"name": "m", "price": {"cacheReadInputPerMillionTokens": "cheap"}}]),
        ),
        "should match",
    ),
    (
        "pool: duplicate provider names",
        _with(POOL, {"providers": _provider()["providers"] * 2}),
        "Duplicate value",
    ),
    (
        "pool: health timeout above interval",
        _with(POOL, {"healthCheck": {"intervalSeconds": 5, "timeoutSeconds": 10}}),
        "healthCheck.timeoutSeconds must not exceed intervalSeconds",
    ),
    (
        "pool: negative priority",
        _with(POOL, _provider(priority=-1)),
        "should be greater than or equal to 0",
    ),
    (
        "gateway: autoscaling min above max",
        _with(GATEWAY, {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}),
        "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
    ),
    (
        "gateway: tls secret without secretName",
        _with(GATEWAY, {"tls": {"mode": "secret"}}),
        "tls.secretName is required when tls.mode is secret",
    ),
    (
        "gateway: certManager without issuerRef",
        _with(GATEWAY, {"tls": {"mode": "certManager"}}),
        "tls.issuerRef is required when tls.mode is certManager",
    ),
    (
        "gateway: renewBefore not shorter than duration",
        _with(GATEWAY, {"tls": {"duration": "1h", "renewBefore": "2h"}}),
        "tls.renewBefore must be shorter than tls.duration",
    ),
    (
        "gateway: redis without url",
        _with(GATEWAY, {"rateLimitStore": {"type": "redis"}}),
        "a redis rateLimitStore needs exactly one of url or urlSecretRef",
    ),
    (
        "gateway: url for a local store",
        _with(GATEWAY, {"rateLimitStore": {"type": "local", "url": "redis://r:6379"}}),
        "url and urlSecretRef apply only to a redis rateLimitStore",
    ),
    (
        "gateway: stored responses kept under a minute",
        _with(GATEWAY, {"storedResponses": {"retention": "30s"}}),
        "storedResponses.retention must be at least 1m",
    ),
    (
        "gateway: fewer buffered body bytes than one body",
        _with(GATEWAY, {"requestBodies": {"maxBytes": 4194304, "maxBufferedBytes": 1048576}}),
        "requestBodies.maxBufferedBytes must be at least requestBodies.maxBytes",
    ),
    (
        "gateway: a body deadline of zero",
        _with(GATEWAY, {"requestBodies": {"timeoutSeconds": 0}}),
        "should be greater than or equal to 1",
    ),
    (
        "gateway: no provider pools",
        _with(GATEWAY, {"providerPools": []}),
        "should have at least 1 items",
    ),
    (
        "gateway: duplicate key names",
        _with(GATEWAY, {"apiKeys": [{"name": "a"}, {"name": "a"}]}),
        "Duplicate value",
    ),
    (
        "gateway: key name not a DNS label",
        _with(GATEWAY, {"apiKeys": [{"name": "Team_A"}]}),
        "should match",
    ),
    (
        "gateway: budget not a decimal",
        _with(GATEWAY, {"apiKeys": [{"name": "a", "budget": {"usd": "ten"}}]}),
        "should match",
    ),
    (
        "gateway: duration not a duration",
        _with(GATEWAY, {"tls": {"duration": "3 days"}}),
        "should match",
    ),
    (
        "gateway: name starting with a digit",
        _with(GATEWAY, name="1gw"),
        "a Gateway name must be a DNS label starting with a letter",
    ),
    (
        "gateway: zero replicas",
        _with(GATEWAY, {"replicas": 0}),
        "should be greater than or equal to 1",
    ),
    (
        "gateway: vectorStores chunk too small",
        _with(GATEWAY, {"vectorStores": {**STORES, "chunking": {"maxChunkSizeTokens": 99}}}),
        "should be greater than or equal to 100",
    ),
    (
        "gateway: vectorStores chunk too large",
        _with(GATEWAY, {"vectorStores": {**STORES, "chunking": {"maxChunkSizeTokens": 4097}}}),
        "should be less than or equal to 4096",
    ),
    (
        "gateway: vectorStores overlap above half",
        _with(
            GATEWAY,
            {
                "vectorStores": {
                    **STORES,
                    "chunking": {"maxChunkSizeTokens": 400, "chunkOverlapTokens": 201},
                }
            },
        ),
        "vectorStores.chunking.chunkOverlapTokens must be at most half of maxChunkSizeTokens",
    ),
    (
        "gateway: vectorStores default overlap above half of a small chunk",
        _with(GATEWAY, {"vectorStores": {**STORES, "chunking": {"maxChunkSizeTokens": 500}}}),
        "lower the overlap or raise the chunk size",
    ),
    (
        "gateway: vectorStores maxFileBytes zero",
        _with(GATEWAY, {"vectorStores": {**STORES, "maxFileBytes": 0}}),
        "should be greater than or equal to 1",
    ),
    (
        "gateway: vectorStores without a cluster",
        _with(GATEWAY, {"vectorStores": {"embeddingModel": "mock-embedding"}}),
        "vectorClusterRef: Required value",
    ),
    (
        "gateway: a request above its limit",
        _with(GATEWAY, {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}}),
        "each request must be at most its limit",
    ),
    (
        "gateway: the sidecar's request above its limit",
        _with(
            GATEWAY,
            {
                "sidecar": {
                    "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "64Mi"}}
                }
            },
        ),
        "each request must be at most its limit",
    ),
    (
        "gateway: a quantity that is not one",
        _with(GATEWAY, {"resources": {"limits": {"memory": "lots"}}}),
        "should match",
    ),
    (
        "vectorcluster: a negative quantity",
        _with(VECTOR, {"resources": {"requests": {"memory": -1}}}),
        "should be greater than or equal to 0",
    ),
    (
        "vectorcluster: the sidecar's request above its limit",
        _with(
            VECTOR, {"sidecar": {"resources": {"requests": {"cpu": 1}, "limits": {"cpu": "100m"}}}}
        ),
        "each request must be at most its limit",
    ),
    (
        "gateway: a toleration of every key with a value",
        _with(GATEWAY, {"scheduling": {"tolerations": [{"operator": "Exists", "value": "v"}]}}),
        "a toleration with operator Exists takes no value",
    ),
    (
        "gateway: a toleration without a key that is not Exists",
        _with(GATEWAY, {"scheduling": {"tolerations": [{"value": "v"}]}}),
        "a toleration without a key must have operator Exists",
    ),
    (
        "vectorcluster: tolerationSeconds on a NoSchedule toleration",
        _with(
            VECTOR,
            {
                "scheduling": {
                    "tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 9}]
                }
            },
        ),
        "tolerationSeconds is only for effect NoExecute",
    ),
    (
        "vectorcluster: a node selector key that is not a label key",
        _with(VECTOR, {"scheduling": {"nodeSelector": {"bad key!": "x"}}}),
        "every nodeSelector key must be a label key",
    ),
    (
        "gateway: a node selector value that is not a label value",
        _with(GATEWAY, {"scheduling": {"nodeSelector": {"pool": "two words"}}}),
        "should match",
    ),
    (
        "vectorcluster: two voters",
        _with(VECTOR, {"replicas": 2}),
        "replicas must be 1, 3 or 5, or more than 5",
    ),
    (
        "vectorcluster: four voters",
        _with(VECTOR, {"replicas": 4}),
        "replicas must be 1, 3 or 5, or more than 5",
    ),
    (
        "vectorcluster: replication above replicas",
        _with(VECTOR, {"replicas": 1, "replicationFactor": 3}),
        "replicationFactor cannot exceed replicas",
    ),
    (
        "vectorcluster: s3 backup without s3",
        _with(VECTOR, {"backup": {"schedule": "0 3 * * *", "backend": "s3"}}),
        "backup.s3 is required when backup.backend is s3",
    ),
    ("vectorcluster: bad version", _with(VECTOR, {"version": "latest"}), "should match"),
    (
        "vectorcluster: restore without a backup location",
        _with(VECTOR, {"restore": {"backupId": "docs-nightly"}}),
        "restore needs spec.backup: the members read the backup from the location it names",
    ),
    (
        "vectorcluster: restore from another backend",
        _with(VECTOR, {"backup": S3_BACKUP, "restore": {"backupId": "b", "backend": "filesystem"}}),
        "restore.backend must be spec.backup.backend",
    ),
    (
        "vectorcluster: restore of a malformed backup id",
        _with(VECTOR, {"backup": S3_BACKUP, "restore": {"backupId": "Nightly Backup"}}),
        "should match",
    ),
]


def _create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = objects.custom(api).create_namespaced_custom_object(
        "runestone.dev", "v1alpha1", namespace, PLURALS[body["kind"]], body, dry_run="All"
    )
    return created


@pytest.mark.parametrize(("case", "body", "message"), INVALID, ids=[case for case, _, _ in INVALID])
def test_invalid_spec_is_rejected_with_its_message(
    kube_api: client.ApiClient, namespace: str, case: str, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiException) as rejected:
        _create(kube_api, namespace, body)
    assert rejected.value.status == 422, case
    status = json.loads(rejected.value.body)
    assert message in status["message"], status["message"]


@pytest.mark.parametrize("body", [GATEWAY, VECTOR], ids=lambda body: body["kind"])
def test_resources_in_the_api_servers_forms_are_accepted(
    kube_api: client.ApiClient, namespace: str, body: dict[str, Any]
) -> None:
    workload = {
        "requests": {"cpu": "500m", "memory": "900M"},
        "limits": {"cpu": 1, "memory": "1e9"},
    }
    sidecar = {"requests": {"cpu": "20m", "memory": "48Mi"}, "limits": {"memory": "96Mi"}}
    created = _create(
        kube_api, namespace, _with(body, {"resources": workload, "sidecar": {"resources": sidecar}})
    )
    assert created["spec"]["resources"] == workload
    assert created["spec"]["sidecar"] == {"resources": sidecar}


@pytest.mark.parametrize("body", [GATEWAY, VECTOR], ids=lambda body: body["kind"])
def test_a_node_pool_and_its_taint_are_accepted(
    kube_api: client.ApiClient, namespace: str, body: dict[str, Any]
) -> None:
    selector = {"cloud.example.com/pool": "vectors"}
    evicted = {"key": "gone", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
    tolerations = [{"key": "dedicated", "value": "vectors", "effect": "NoSchedule"}, evicted]
    scheduling = {"nodeSelector": selector, "tolerations": tolerations}
    created = _create(kube_api, namespace, _with(body, {"scheduling": scheduling}))
    assert created["spec"]["scheduling"]["nodeSelector"] == selector
    assert created["spec"]["scheduling"]["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "vectors", "effect": "NoSchedule"},
        evicted,
    ]


def test_vector_stores_take_openais_defaults(kube_api: client.ApiClient, namespace: str) -> None:
    created = _create(kube_api, namespace, _with(GATEWAY, {"vectorStores": STORES}))
    assert created["spec"]["vectorStores"] == {
        **STORES,
        "chunking": {"maxChunkSizeTokens": 800, "chunkOverlapTokens": 400},
        "maxFileBytes": 512 * 1024 * 1024,
    }


@pytest.mark.parametrize("body", [GATEWAY, POOL, VECTOR], ids=lambda body: body["kind"])
def test_the_valid_baselines_are_accepted_with_defaults(
    kube_api: client.ApiClient, namespace: str, body: dict[str, Any]
) -> None:
    created = _create(kube_api, namespace, copy.deepcopy(body))
    if body["kind"] == "Gateway":
        assert created["spec"]["tls"] == {
            "mode": "selfSigned",
            "duration": "2160h",
            "renewBefore": "720h",
        }
        assert created["spec"]["keyRotation"] == {"gracePeriod": "24h"}
        assert created["spec"]["storedResponses"] == {"retention": "720h"}
        assert created["spec"]["requestBodies"] == {
            "maxBytes": 10485760,
            "timeoutSeconds": 30,
            "minBytesPerSecond": 4096,
        }
    if body["kind"] == "ProviderPool":
        provider = created["spec"]["providers"][0]
        assert (provider["priority"], provider["weight"]) == (0, 100)
        assert provider["models"][0]["kinds"] == ["chat"]
        assert "api" not in provider  # the type's own: chatCompletions for openai
    if body["kind"] == "VectorCluster":
        assert created["spec"]["storage"] == {"size": "10Gi"}
