"""Weaviate's words for vectors of another length than its index holds, as weaviate-server
1.39 writes them (a write, a search), read into both sizes; other errors are not mismatches."""

from __future__ import annotations

from runestone_gateway.retrieval import weaviate

WRITTEN = (
    "Validate vector index for 091aa228-327b-4d78-b074-972cda7e650b: new node has a vector with "
    "length 8. Existing nodes have vectors with length 4: vector dimensions do not match the "
    "index dimensions"
)
SEARCHED = (
    "graphql: explorer: get class: vector search: object vector search at index chunk: shard "
    "chunk_9QOw21A7BLkJ: vector search: knn search: distance between entrypoint and query "
    "node: 4 vs 8: vector lengths don't match"
)


def test_both_sizes_are_read_from_a_write_and_from_a_search() -> None:
    for detail in (WRITTEN, SEARCHED):
        found = weaviate.mismatch(detail)
        assert found is not None
        assert (found.stored, found.given) == (4, 8)
        assert not found.passing
        assert found.explained().startswith(
            "The vector store keeps 4-dimensional vectors, but this gateway's embedding model "
            "gives 8-dimensional ones: one VectorCluster holds the chunks of one embedding model."
        )


def test_a_mismatch_worded_otherwise_still_counts_without_sizes() -> None:
    found = weaviate.mismatch("shard x: vector lengths don't match")
    assert found is not None
    assert (found.stored, found.given) == (None, None)
    assert "another size" in found.explained()


def test_other_errors_are_not_mismatches() -> None:
    assert weaviate.mismatch("graphql: no such class RunestoneChunk") is None
    assert weaviate.mismatch("POST /v1/batch/objects: 500 leader not found") is None
