"""The request bodies of the retrieval endpoints, as pydantic models: FastAPI checks them, and
its refusals are answered in OpenAI's envelope naming the field (`app`)."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic

from runestone_gateway import config

AttributeValue = Annotated[str, pydantic.Field(max_length=512)] | bool | float
Attributes = Annotated[dict[Annotated[str, pydantic.Field(min_length=1, max_length=64)],
                            AttributeValue], pydantic.Field(max_length=16)]  # fmt: skip
Metadata = Annotated[dict[Annotated[str, pydantic.Field(max_length=64)],
                          Annotated[str, pydantic.Field(max_length=512)]],
                     pydantic.Field(max_length=16)]  # fmt: skip


class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class StaticChunking(_Body):
    max_chunk_size_tokens: int = pydantic.Field(
        ge=config.MIN_CHUNK_SIZE_TOKENS, le=config.MAX_CHUNK_SIZE_TOKENS
    )
    chunk_overlap_tokens: int = pydantic.Field(ge=0)

    @pydantic.model_validator(mode="after")
    def _overlap_at_most_half(self) -> StaticChunking:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError("chunk_overlap_tokens must not exceed half of max_chunk_size_tokens")
        return self


class ChunkingStrategy(_Body):
    type: Literal["auto", "static"]
    static: StaticChunking | None = None

    @pydantic.model_validator(mode="after")
    def _static_given(self) -> ChunkingStrategy:
        if (self.type == "static") != (self.static is not None):
            raise ValueError("'static' is given with type 'static', and only then")
        return self

    def resolve(self, default: config.Chunking) -> config.Chunking:
        if self.static is None:
            return default
        return config.Chunking(
            max_chunk_size_tokens=self.static.max_chunk_size_tokens,
            chunk_overlap_tokens=self.static.chunk_overlap_tokens,
        )


def chunking_body(chunking: config.Chunking) -> dict[str, object]:
    """How a file was chunked, as OpenAI reports it (`auto` is reported as what it chose)."""
    return {
        "type": "static",
        "static": {
            "max_chunk_size_tokens": chunking.max_chunk_size_tokens,
            "chunk_overlap_tokens": chunking.chunk_overlap_tokens,
        },
    }


class ExpiresAfter(_Body):
    anchor: Literal["last_active_at"]
    days: int = pydantic.Field(ge=1, le=365)


class CreateStore(_Body):
    name: str | None = pydantic.Field(default=None, max_length=256)
    description: str | None = pydantic.Field(default=None, max_length=512)
    file_ids: list[str] = pydantic.Field(default_factory=list, max_length=500)
    metadata: Metadata | None = None
    expires_after: ExpiresAfter | None = None
    chunking_strategy: ChunkingStrategy | None = None


class ModifyStore(_Body):
    name: str | None = pydantic.Field(default=None, max_length=256)
    metadata: Metadata | None = None
    expires_after: ExpiresAfter | None = None


class AttachFile(_Body):
    file_id: str = pydantic.Field(min_length=1)
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class UpdateFile(_Body):
    attributes: Attributes | None
    """Required, as in OpenAI's API; null clears them."""


class CreateBatch(_Body):
    file_ids: list[str] | None = pydantic.Field(default=None, max_length=500)
    files: list[AttachFile] | None = pydantic.Field(default=None, max_length=500)
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None

    @pydantic.model_validator(mode="after")
    def _one_list(self) -> CreateBatch:
        if (self.file_ids is None) == (self.files is None):
            raise ValueError("give file_ids or files, not both")
        return self

    def attachments(self) -> list[AttachFile]:
        if self.files is not None:
            return self.files
        return [
            AttachFile(
                file_id=file_id,
                attributes=self.attributes,
                chunking_strategy=self.chunking_strategy,
            )
            for file_id in self.file_ids or []
        ]


class RankingOptions(_Body):
    ranker: Literal["none", "auto", "default-2024-11-15"] | None = None
    score_threshold: float = pydantic.Field(default=0.0, ge=0.0, le=1.0)


class Search(_Body):
    query: (
        Annotated[str, pydantic.Field(min_length=1)]
        | Annotated[
            list[Annotated[str, pydantic.Field(min_length=1)]],
            pydantic.Field(min_length=1, max_length=10),
        ]
    )
    filters: dict[str, object] | None = None
    max_num_results: int = pydantic.Field(default=10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False
    search_mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    """Not OpenAI's: Weaviate's hybrid search (the default), the vectors alone, or BM25 alone."""
    page: str | None = pydantic.Field(default=None, max_length=64)
    """Not OpenAI's: an earlier answer's `next_page`, for the results after that page."""
