"""The Gateway -> VectorCluster link, decided without I/O: what a Gateway reads of the cluster,
the name of the key the cluster issues it, when the link is usable (`VectorStoreReady`), and the
`vectorStores` section and mounts rendered for it."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
import yaml

from runestone_gateway import config
from runestone_operator import handlers
from runestone_operator.core import conditions, kinds, meta, models, names, peers
from runestone_operator.core.conditions import Reason
from runestone_operator.gateway import linking
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.gateway.builders import deployment
from runestone_operator.gateway.steps import vectorstores
from runestone_operator.providerpool import model as providerpool
from runestone_operator.providerpool import render
from runestone_operator.vectorcluster import model as vectorcluster
from runestone_operator.vectorcluster import reading


def _pool(*kinds: str) -> peers.PoolView:
    spec = providerpool.ProviderPoolSpec.model_validate(
        {
            "providers": [
                {
                    "name": "local",
                    "type": "mock",
                    "models": [
                        {"name": "gpt-4o-mini", "kinds": ["chat"]},
                        {"name": "minilm", "kinds": list(kinds)},
                    ],
                }
            ]
        }
    )
    return render.view("default", spec)


def _stores(**extra: Any) -> gateway.VectorStores:
    return gateway.VectorStores.model_validate(
        {"vectorClusterRef": {"name": "docs"}, "embeddingModel": "minilm", **extra}
    )


def _cluster(tls: str = "selfSigned", **status: Any) -> peers.VectorClusterView:
    spec = vectorcluster.VectorClusterSpec.model_validate(
        {"version": "1.39.3", "replicas": 3, "replicationFactor": 2, "tls": {"mode": tls}}
    )
    return reading.view(
        "docs", "team", spec, vectorcluster.VectorClusterStatus.model_validate(status)
    )


_KEY: dict[str, Any] = {
    "name": "gateway.main",
    "secretName": "docs-key-gateway.main",
    "gateway": "main",
    "accepted": True,
}
_ACCEPTED: dict[str, Any] = {"readyReplicas": 3, "gatewayKeys": [_KEY]}


def test_the_gateways_key_name_cannot_be_a_spec_keys_name() -> None:
    assert names.gateway_key("main") == "gateway.main"
    long = "g" * 63
    shortened = names.gateway_key(long)
    assert len(shortened) == 63
    assert shortened == names.gateway_key(long)  # stable across reconciles
    assert shortened != names.gateway_key("g" * 62 + "h")
    with pytest.raises(pydantic.ValidationError):  # a spec key is a DNS label: no dot
        vectorcluster.VectorApiKey.model_validate({"name": "gateway.main"})


def test_a_gateway_reads_the_clusters_url_ca_and_replication_factor() -> None:
    cluster = _cluster(**_ACCEPTED)
    assert cluster.url == "https://docs.team.svc:443"
    assert cluster.ca == models.SecretKeySelector(name="docs-ca", key="ca.crt")
    assert cluster.replication_factor == 2
    assert cluster.ready_members == 3
    key = cluster.gateway_keys["main"]
    assert key.secret == models.SecretKeySelector(name="docs-key-gateway.main", key="api-key")
    assert key.accepted
    plain = _cluster("none")
    assert plain.url.startswith("http://docs.team.svc:80")
    assert plain.ca is None
    unset = vectorcluster.VectorClusterSpec.model_validate({"version": "1.39.3", "replicas": 3})
    default = reading.view("docs", "team", unset, vectorcluster.VectorClusterStatus())
    assert default.replication_factor == reading.DEFAULT_REPLICATION_FACTOR


@pytest.mark.parametrize(
    ("cluster", "kinds", "reason"),
    [
        (None, ("embedding",), Reason.VECTOR_CLUSTER_NOT_FOUND),
        (_cluster(**_ACCEPTED), ("chat",), Reason.EMBEDDING_MODEL_NOT_SERVED),
        (_cluster(), ("embedding",), Reason.VECTOR_CLUSTER_NOT_READY),
        (_cluster(readyReplicas=1), ("embedding",), Reason.GATEWAY_KEY_PENDING),
        (
            _cluster(
                readyReplicas=3,
                gatewayKeys=[{**_KEY, "accepted": False}],
            ),
            ("embedding",),
            Reason.GATEWAY_KEY_PENDING,
        ),
    ],
)
def test_a_link_that_is_not_usable_says_why(
    cluster: peers.VectorClusterView | None, kinds: tuple[str, ...], reason: str
) -> None:
    observation, key = vectorstores.judge("main", _stores(), cluster, [_pool(*kinds)])
    assert key is None
    assert observation.type == conditions.VECTOR_STORE_READY
    assert (observation.status, observation.reason) == (conditions.FALSE, reason)
    assert "docs" in observation.message or "minilm" in observation.message


def test_a_usable_link_renders_the_section_the_gateway_loads() -> None:
    cluster = _cluster(**_ACCEPTED)
    observation, key = vectorstores.judge("main", _stores(), cluster, [_pool("embedding")])
    assert (observation.status, observation.reason) == (conditions.TRUE, Reason.LINKED)
    assert key is not None
    spec = _stores(chunking={"maxChunkSizeTokens": 400, "chunkOverlapTokens": 100})
    mounts = vectorstores.link_mounts("main", "docs", cluster)
    section = config_builder.vector_stores(spec, cluster, mounts)
    assert section.url == "https://docs.team.svc:443"
    assert section.api_key_file == "/etc/runestone/vector-store/key/api-key"
    assert section.ca_file == "/etc/runestone/vector-store/ca/ca.crt"
    assert section.replication_factor == 2
    assert section.chunking == config.Chunking(max_chunk_size_tokens=400, chunk_overlap_tokens=100)
    assert [(m.secret_name, m.key, m.path, m.optional) for m in mounts] == [
        ("docs-key-gateway.main", "api-key", section.api_key_file, True),
        ("docs-ca", "ca.crt", section.ca_file, True),
    ]
    gateway_spec = gateway.GatewaySpec.model_validate(
        {"providerPools": [{"name": "default"}], "vectorStores": spec.model_dump(by_alias=True)}
    )
    rendered = config_builder.gateway_config(
        gateway_spec, [_pool("embedding")], tls=False, stores=section
    )
    text = config_builder.render(rendered)
    assert config.GatewayConfig.model_validate(yaml.safe_load(text)) == rendered


def test_plain_http_mounts_no_ca() -> None:
    cluster = _cluster("none", **_ACCEPTED)
    mounts = vectorstores.link_mounts("main", "docs", cluster)
    assert [m.volume for m in mounts] == ["vector-key"]
    assert config_builder.vector_stores(_stores(), cluster, mounts).ca_file is None


def test_the_mounts_come_before_the_cluster_so_linking_never_restarts_pods() -> None:
    """Before the cluster exists the key's Secret (named by rule) and the CA bundle of the
    default TLS mode are mounted, optional; once linked, the mounts are the same."""
    before = vectorstores.link_mounts("main", "docs", None)
    assert before == vectorstores.link_mounts("main", "docs", _cluster(**_ACCEPTED))
    assert all(mount.optional for mount in before)
    owner = meta.Owner(kinds.API_VERSION, "Gateway", "team", "main", "uid-1")
    spec = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "default"}]})
    manifest = deployment.deployment(
        deployment.Inputs(
            owner=owner, spec=spec, image="runestone:1", tls_secret=None, secret_mounts=before
        )
    )
    volumes = {v["name"]: v for v in manifest["spec"]["template"]["spec"]["volumes"]}
    assert volumes["vector-key"]["secret"] == {
        "secretName": "docs-key-gateway.main",
        "items": [{"key": "api-key", "path": "api-key"}],
        "optional": True,
    }
    assert volumes["vector-ca"]["secret"]["optional"] is True


def test_the_chunking_bounds_are_openais() -> None:
    _stores(chunking={"maxChunkSizeTokens": 100, "chunkOverlapTokens": 50})
    _stores(chunking={"maxChunkSizeTokens": 4096, "chunkOverlapTokens": 0})
    for chunking in ({"maxChunkSizeTokens": 99}, {"maxChunkSizeTokens": 4097}):
        with pytest.raises(pydantic.ValidationError):
            _stores(chunking=chunking)
    with pytest.raises(pydantic.ValidationError):
        _stores(maxFileBytes=0)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"spec": {"vectorStores": {"vectorClusterRef": {"name": "docs"}}}}, "docs"),
        ({"spec": {}}, None),
        (
            {
                "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"vectorStores": {"vectorClusterRef": {"name": "docs"}}},
            },
            None,
        ),
    ],
)
def test_a_gateway_being_deleted_references_no_cluster(
    body: dict[str, Any], expected: str | None
) -> None:
    assert linking.referenced_cluster(body) == expected


def test_a_changed_reference_reconciles_the_old_and_the_new_cluster() -> None:
    links = handlers.Links()
    assert links.seen("team", "main", "docs") == ("docs",)  # first seen (also after a restart)
    assert links.seen("team", "main", "docs") == ()  # a status write: nothing to revoke or issue
    assert links.seen("team", "other", "docs") == ("docs",)
    assert links.seen("team", "main", "wiki") == ("docs", "wiki")  # revoke there, issue here
    assert links.seen("team", "main", None) == ("wiki",)  # reference removed or Gateway deleted
    assert links.seen("team", "main", None) == ()
    assert links.seen("lab", "main", "docs") == ("docs",)  # namespaces are apart
