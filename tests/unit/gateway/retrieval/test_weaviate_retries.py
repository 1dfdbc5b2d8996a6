"""Which failed Weaviate calls are made again, how often, and a batch whose answer says some of
its objects failed: those objects, and only those, are written again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runestone_gateway.retrieval import weaviate

NO_WAIT = (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("status", "passing"),
    [(None, True), (500, True), (503, True), (504, True),
     (400, False), (401, False), (403, False), (404, False), (422, False)],
)  # fmt: skip
def test_no_answer_and_server_errors_pass_and_refusals_do_not(
    status: int | None, passing: bool
) -> None:
    assert weaviate.passing(status, '{"error":[{"message":"invalid object"}]}') is passing


@pytest.mark.parametrize(
    "message",
    [
        # as Weaviate 1.39 answered when the Raft leader was killed mid-call
        "msg:failed to execute query: rpc error: code = Canceled desc = grpc: the client "
        "connection is closing code:400 err:invalid object: failed to execute query",
        "validate: failed to get class: RunestoneChunk: failed to execute query: rpc error: "
        "code = Unavailable desc = connection refused",
        "leader not found, can not resolve nodes [loss-0]",
        "node is not the leader",
    ],
)
def test_a_refusal_because_the_raft_leader_was_lost_passes(message: str) -> None:
    assert weaviate.passing(422, json.dumps({"error": [{"message": message}]}))


class Attempts:
    """Fails with the given errors in turn, then answers "done"."""

    def __init__(self, *failures: weaviate.Unavailable) -> None:
        self.failures = list(failures)
        self.made = 0

    async def __call__(self) -> str:
        self.made += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def conflict() -> weaviate.Unavailable:
    return weaviate.Unavailable(
        "GET /v1/objects/X/1: 500 read repair error: ... conflict", passing=True
    )


async def test_a_passing_failure_is_asked_again_until_it_succeeds() -> None:
    attempts = Attempts(conflict(), conflict())
    assert await weaviate.retrying(attempts, NO_WAIT) == "done"
    assert attempts.made == 3


async def test_a_refusal_is_raised_at_once() -> None:
    attempts = Attempts(weaviate.Unavailable("POST /v1/objects: 422 invalid"))
    with pytest.raises(weaviate.Unavailable, match="422"):
        await weaviate.retrying(attempts, NO_WAIT)
    assert attempts.made == 1


async def test_a_failure_that_does_not_pass_is_raised_after_the_last_delay() -> None:
    attempts = Attempts(*[conflict() for _ in range(len(NO_WAIT) + 1)])
    with pytest.raises(weaviate.Unavailable, match="conflict"):
        await weaviate.retrying(attempts, NO_WAIT)
    assert attempts.made == len(NO_WAIT) + 1


class Scripted(weaviate.Client):
    """A client whose calls answer from a script, recording what was sent."""

    def __init__(self, *answers: Any) -> None:
        super().__init__("http://weaviate.invalid:8080", None, None, retry_delays=NO_WAIT)
        self.answers = list(answers)
        self.sent: list[Any] = []

    async def call(
        self, method: str, path: str, body: object = None, *, missing_ok: bool = False
    ) -> Any:
        self.sent.append(body)
        return self.answers.pop(0)


def ok() -> dict[str, Any]:
    return {"result": {}}


def failed(message: str) -> dict[str, Any]:
    return {"result": {"errors": {"error": [{"message": message}]}}}


async def test_a_batch_writes_again_the_objects_its_answer_says_failed() -> None:
    objects = [{"id": str(n)} for n in range(4)]
    quorum = 'cannot achieve consistency level "QUORUM"'
    client = Scripted([ok(), failed(quorum), ok(), failed(quorum)], [ok(), ok()])
    try:
        await client.insert_many(objects)
    finally:
        await client.close()
    assert [[o["id"] for o in body["objects"]] for body in client.sent] == [
        ["0", "1", "2", "3"],
        ["1", "3"],
    ]


async def test_a_batch_whose_objects_keep_failing_is_unavailable() -> None:
    client = Scripted([ok(), failed("no replica")], *[[failed("no replica")] for _ in NO_WAIT])
    try:
        with pytest.raises(weaviate.Unavailable, match="1 objects failed: no replica"):
            await client.insert_many([{"id": "a"}, {"id": "b"}])
    finally:
        await client.close()
    assert len(client.sent) == len(NO_WAIT) + 1
