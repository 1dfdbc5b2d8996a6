"""The gateway config's `vectorStores` section: the embedding model must be an embedding model
of one of the pools, chunking follows OpenAI's rules, the key and CA files are secret files the
gateway reads and watches; per-key storage quotas in the key table."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from runestone_gateway import config


def document(**vector_stores: Any) -> dict[str, Any]:
    return {
        "providerPools": [
            {
                "name": "p",
                "providers": [
                    {
                        "name": "mock",
                        "type": "mock",
                        "models": [
                            {"name": "embed", "kinds": ["embedding"]},
                            {"name": "chat", "kinds": ["chat"]},
                        ],
                    }
                ],
            }
        ],
        "vectorStores": {"url": "https://docs.team.svc:8080", "embeddingModel": "embed",
                         **vector_stores},
    }  # fmt: skip


def test_defaults_and_round_trip() -> None:
    parsed = config.GatewayConfig.model_validate(document())
    settings = parsed.vector_stores
    assert settings is not None
    assert settings.chunking == config.Chunking(max_chunk_size_tokens=800, chunk_overlap_tokens=400)
    assert settings.replication_factor == 1
    assert settings.max_file_bytes == 512 * 1024 * 1024
    assert config.GatewayConfig.model_validate(parsed.to_document()) == parsed


def test_without_the_section_nothing_is_served() -> None:
    bare = document()
    del bare["vectorStores"]
    assert config.GatewayConfig.model_validate(bare).vector_stores is None


@pytest.mark.parametrize("model", ["chat", "missing"])
def test_the_embedding_model_must_be_an_embedding_model_of_a_pool(model: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="not an embedding model of any pool"):
        config.GatewayConfig.model_validate(document(embeddingModel=model))


def test_chunking_follows_openais_rules() -> None:
    with pytest.raises(pydantic.ValidationError, match="half"):
        config.GatewayConfig.model_validate(
            document(chunking={"maxChunkSizeTokens": 200, "chunkOverlapTokens": 101})
        )
    with pytest.raises(pydantic.ValidationError):
        config.GatewayConfig.model_validate(document(chunking={"maxChunkSizeTokens": 5000}))


def test_bad_values_are_refused() -> None:
    for bad in ({"url": "docs.team.svc"}, {"replicationFactor": 0}, {"maxFileBytes": 0},
                {"unknown": 1}):  # fmt: skip
        with pytest.raises(pydantic.ValidationError):
            config.GatewayConfig.model_validate(document(**bad))


def test_the_key_and_ca_files_are_secret_files() -> None:
    parsed = config.GatewayConfig.model_validate(
        document(apiKeyFile="/var/run/weaviate/key", caFile="/var/run/weaviate/ca.crt")
    )
    assert {"/var/run/weaviate/key", "/var/run/weaviate/ca.crt"} <= set(parsed.secret_files())


def test_storage_quotas_in_the_key_table() -> None:
    entry = config.KeyTableEntry.model_validate(
        {"id": "k", "sha256": "0" * 64, "limits": {"maxStoredBytes": 1000, "maxFiles": 3}}
    )
    assert (entry.limits.max_stored_bytes, entry.limits.max_files) == (1000, 3)
    with pytest.raises(pydantic.ValidationError):
        config.KeyLimits.model_validate({"maxFiles": 0})
