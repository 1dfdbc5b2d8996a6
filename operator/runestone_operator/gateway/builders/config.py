"""The gateway's config file, rendered with the gateway's own schema (`runestone_gateway.config`)
from a Gateway and the ProviderPools it names (as `core.peers.PoolView`s, already in that
schema), and the ConfigMap that carries it.

The file names secrets only by path: provider keys, the key table, the Redis URL and the TLS pair
are mounted files the gateway re-reads when they change."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from runestone_gateway import config
from runestone_operator.core import durations, meta, models, peers
from runestone_operator.core import names as core_names
from runestone_operator.gateway import model, names


@dataclass(frozen=True)
class SecretMount:
    """One key of a Secret mounted as a file, never copied anywhere."""

    volume: str
    secret_name: str
    key: str
    directory: str
    optional: bool = False
    """The pod starts without the Secret (or the key), and the file appears once it exists."""

    @property
    def path(self) -> str:
        return f"{self.directory}/{self.key}"


def provider_mounts(pools: Sequence[peers.PoolView]) -> list[SecretMount]:
    """The credential Secrets of every provider, each mounted at its own directory (where the
    rendered pool says its key file is)."""
    return [
        SecretMount(
            volume=_volume_name("provider", pool.name, credential.provider),
            secret_name=credential.ref.name,
            key=credential.ref.key,
            directory=core_names.provider_key_dir(pool.name, credential.provider),
        )
        for pool in pools
        for credential in pool.credentials
    ]


def redis_mount(spec: model.GatewaySpec) -> SecretMount | None:
    ref = spec.rate_limit_store.url_secret_ref
    if ref is None:
        return None
    return SecretMount("redis-url", ref.name, ref.key, names.REDIS_DIR)


def vector_store_mounts(
    key: models.SecretKeySelector, ca: models.SecretKeySelector | None
) -> list[SecretMount]:
    """The gateway's key into the cluster and, when the cluster serves TLS, its CA bundle. Both
    are optional: they are mounted as soon as the Gateway references the cluster, before the
    cluster has issued the key, so that the link becoming usable changes only the config file
    (which the gateway re-reads), never the pods."""
    mounts = [SecretMount("vector-key", key.name, key.key, names.VECTOR_KEY_DIR, optional=True)]
    if ca is not None:
        mounts.append(SecretMount("vector-ca", ca.name, ca.key, names.VECTOR_CA_DIR, optional=True))
    return mounts


def vector_stores(
    spec: model.VectorStores, link: peers.VectorClusterView, mounts: Sequence[SecretMount]
) -> config.VectorStores:
    """The `vectorStores` section for a usable link: the cluster's client URL and replication
    factor, the mounted key and CA (`vector_store_mounts`), and the Gateway's own settings."""
    paths = {mount.volume: mount.path for mount in mounts}
    return config.VectorStores(
        url=link.url,
        ca_file=paths.get("vector-ca") if link.ca is not None else None,
        api_key_file=paths["vector-key"],
        embedding_model=spec.embedding_model,
        chunking=config.Chunking(
            max_chunk_size_tokens=spec.chunking.max_chunk_size_tokens,
            chunk_overlap_tokens=spec.chunking.chunk_overlap_tokens,
        ),
        max_file_bytes=spec.max_file_bytes,
        replication_factor=link.replication_factor,
    )


def _volume_name(*parts: str) -> str:
    """A volume name (a DNS label) from readable parts, shortened with a digest when too long."""
    name = "-".join(parts)
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52]}-{digest}"


def gateway_config(
    spec: model.GatewaySpec,
    pools: Sequence[peers.PoolView],
    *,
    tls: bool,
    stores: config.VectorStores | None = None,
) -> config.GatewayConfig:
    """The whole config file, with `stores` when the link to a VectorCluster is usable; raises
    pydantic.ValidationError when the gateway would refuse it (for example a model served by two
    pools)."""
    store = spec.rate_limit_store
    redis = redis_mount(spec)
    return config.GatewayConfig(
        server=config.Server(
            max_body_bytes=spec.request_bodies.max_bytes,
            body_timeout_seconds=spec.request_bodies.timeout_seconds,
            body_min_bytes_per_second=spec.request_bodies.min_bytes_per_second,
            max_buffered_body_bytes=spec.request_bodies.max_buffered_bytes,
            log_prompts=spec.log_prompts,
            tls=(
                config.Tls(
                    cert_file=f"{names.TLS_DIR}/tls.crt", key_file=f"{names.TLS_DIR}/tls.key"
                )
                if tls
                else None
            ),
        ),
        auth=config.Auth(key_table_file=f"{names.KEYS_DIR}/{names.KEY_TABLE_FILE}"),
        limits=config.Limits(
            store=config.RateLimitStore(
                type=store.type,
                url=store.url,
                url_file=redis.path if redis else None,
                fail_mode=store.fail_mode,
            )
        ),
        stored_responses=config.StoredResponses(
            retention_seconds=durations.parse(spec.stored_responses.retention).total_seconds()
        ),
        provider_pools=[pool.config for pool in pools],
        vector_stores=stores,
    )


def render(document: config.GatewayConfig | config.KeyTable) -> str:
    """YAML text of a config document, byte-for-byte stable for equal input."""
    return yaml.safe_dump(document.to_document(), sort_keys=True)


def config_map(owner: meta.Owner, rendered: config.GatewayConfig) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta.object_meta(
            owner, names.config_map(owner.name), names.gateway_labels(owner.name)
        ),
        "data": {names.CONFIG_FILE: render(rendered)},
    }
