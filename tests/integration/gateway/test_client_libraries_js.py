"""The JavaScript client libraries users have, against a real gateway over HTTPS with an
operator-style key: the official `openai` npm package, the Vercel AI SDK (its default
`provider(model)`, which speaks the Responses API, and `provider.chat(model)`), LangChain.js's
`@langchain/openai` (Chat Completions and `useResponsesApi`), and the official Anthropic SDK
(`@anthropic-ai/sdk`, the Messages API). Each case is a node program (tests/clients/js/run.mjs)
run by one test here; its output shows when it fails.

The cases that search files run against a second gateway of the same setup that also keeps files
and vector stores in a real Weaviate node (one for the module, started by the first such case, so
that the others do not wait for it), with a store of the application key's files made through the
Python SDK. The OpenAI-style libraries use the Responses API's `file_search` tool over it, each in
its own way (the Vercel AI SDK's `openai.tools.fileSearch`, whose citations become the answer's
sources and whose next turn names the search by its item; LangChain's built-in tool, whose
citations become annotations of the message's text and whose next turn sends the search back), and
the `openai` package makes a store of its own through the Files and Vector Stores APIs before
searching it.

The packages are pinned by tests/clients/js/package-lock.json and installed into the cache by
`make test` (`make clients`), or here on first use; a machine without Node.js 20 fails with what
to install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devcluster import npmcache
from fixtures import clientbench

HARNESS = Path(__file__).resolve().parents[2] / "clients" / "js"
CASE_TIMEOUT = 120
COMMON = ["chat", "chat-stream", "tools", "tools-stream", "embeddings", "errors"]
RESPONSES = ["responses", "responses-stream", "responses-tools", "responses-tools-stream"]
"""The Responses API, through each OpenAI-style library's own way of calling it."""
FILE_SEARCH = ["responses-file-search", "responses-file-search-stream"]
"""The Responses API's `file_search` tool over the bench's store, whole and streamed."""
CASES = {
    "openai": [
        *COMMON,
        "models",
        *RESPONSES,
        "responses-structured",
        "responses-stored",
        "responses-errors",
        "vector-stores",
        "untrusted-certificate",
    ],
    "vercel-ai": [
        *COMMON,
        *RESPONSES,
        "responses-structured",
        "responses-conversation",
        "responses-errors",
        *FILE_SEARCH,
        "untrusted-certificate",
    ],
    "langchain": [*COMMON, *RESPONSES, *FILE_SEARCH, "untrusted-certificate"],
    "anthropic": [
        "messages",
        "messages-stream",
        "messages-tools",
        "messages-tools-stream",
        "count-tokens",
        "errors",
        "untrusted-certificate",
    ],
}
"""Every case the harness has (a test checks they agree), by library."""
SEARCHING = {*FILE_SEARCH, "vector-stores"}
"""The cases that need files and vector stores (the bench with Weaviate)."""


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness beside the cached packages: node resolves imports from the program's own
    folder upward, so the programs run from a copy next to a link to the cache's node_modules."""
    try:
        node_modules = npmcache.ensure(HARNESS)
    except npmcache.NodeMissing as error:
        pytest.fail(f"the client-library tests need Node.js: {error}")
    folder = tmp_path_factory.mktemp("clients-js")
    for source in HARNESS.rglob("*.mjs"):
        copy = folder / source.relative_to(HARNESS)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    (folder / "package.json").write_bytes((HARNESS / "package.json").read_bytes())
    (folder / "node_modules").symlink_to(node_modules, target_is_directory=True)
    return folder


def node(harness: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [npmcache.node(), str(harness / "run.mjs"), *args],
        cwd=harness,
        env=env,
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT,
        check=False,
    )


def test_every_case_of_the_harness_runs_here(harness: Path) -> None:
    listed = node(harness, "--list", env=dict(os.environ))
    assert listed.returncode == 0, listed.stderr
    harness_cases = {library: sorted(cases) for library, cases in json.loads(listed.stdout).items()}
    assert harness_cases == {library: sorted(cases) for library, cases in CASES.items()}


@pytest.mark.parametrize(
    ("library", "case"), [(library, case) for library, cases in CASES.items() for case in cases]
)
def test_client_library(
    harness: Path, request: pytest.FixtureRequest, library: str, case: str
) -> None:
    bench: clientbench.Bench = request.getfixturevalue(
        "searching_client_bench" if case in SEARCHING else "client_bench"
    )
    env = {**os.environ, "RUNESTONE_BENCH": json.dumps(bench.settings())}
    env.pop("NODE_EXTRA_CA_CERTS", None)
    if case != "untrusted-certificate":
        env["NODE_EXTRA_CA_CERTS"] = str(bench.ca)  # how a Node user trusts a private CA
    ran = node(harness, library, case, env=env)
    output = f"--- stdout ---\n{ran.stdout}\n--- stderr ---\n{ran.stderr}"
    assert ran.returncode == 0, f"node run.mjs {library} {case} failed:\n{output}"
    assert f"ok {library} {case}" in ran.stdout, output
