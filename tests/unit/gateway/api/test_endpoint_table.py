"""The API's endpoint table: every kind a model can serve is reachable at exactly one path, under
OpenTelemetry's operation name for it."""

from __future__ import annotations

import typing

from runestone_gateway import config
from runestone_gateway.api import endpoints


def test_every_kind_has_one_endpoint() -> None:
    kinds = [endpoint.kind for endpoint in endpoints.GENERATION.values()]
    assert sorted(kinds) == sorted(typing.get_args(config.Kind))


def test_paths_and_operation_names() -> None:
    table = {path: (e.kind, e.operation) for path, e in endpoints.GENERATION.items()}
    assert table == {
        "/v1/chat/completions": ("chat", "chat"),
        "/v1/completions": ("completion", "text_completion"),
        "/v1/embeddings": ("embedding", "embeddings"),
    }
    assert all(path == e.path for path, e in endpoints.GENERATION.items())
