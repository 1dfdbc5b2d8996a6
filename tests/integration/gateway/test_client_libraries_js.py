"""The JavaScript client libraries users have, against a real gateway over HTTPS with an
operator-style key: the official `openai` npm package, the Vercel AI SDK (its default
`provider(model)`, which speaks the Responses API, and `provider.chat(model)`), LangChain.js's
`@langchain/openai` (Chat Completions and `useResponsesApi`), and the official Anthropic SDK
(`@anthropic-ai/sdk`, the Messages API). Each case is a node program (tests/clients/js/run.mjs)
run by one test here; its output shows when it fails.

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
CASES = {
    "openai": [
        *COMMON,
        "models",
        *RESPONSES,
        "responses-structured",
        "responses-stored",
        "responses-errors",
        "untrusted-certificate",
    ],
    "vercel-ai": [
        *COMMON,
        *RESPONSES,
        "responses-structured",
        "responses-conversation",
        "responses-errors",
        "untrusted-certificate",
    ],
    "langchain": [*COMMON, *RESPONSES, "untrusted-certificate"],
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
    harness: Path, client_bench: clientbench.Bench, library: str, case: str
) -> None:
    env = {**os.environ, "RUNESTONE_BENCH": json.dumps(client_bench.settings())}
    env.pop("NODE_EXTRA_CA_CERTS", None)
    if case != "untrusted-certificate":
        env["NODE_EXTRA_CA_CERTS"] = str(client_bench.ca)  # how a Node user trusts a private CA
    ran = node(harness, library, case, env=env)
    output = f"--- stdout ---\n{ran.stdout}\n--- stderr ---\n{ran.stderr}"
    assert ran.returncode == 0, f"node run.mjs {library} {case} failed:\n{output}"
    assert f"ok {library} {case}" in ran.stdout, output
