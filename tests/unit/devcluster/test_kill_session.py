"""Killing a container kills every process it started, including one that moved to a process
group of its own (as the Weaviate preStop wrapper's server does) and would otherwise outlive the
pod, still listening on its address."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from devcluster import weaviate
from devcluster.kubelet import containers

# A leader that starts a child in a group of its own, as PRE_STOP_WRAPPER does, and prints its pid.
LEADER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         preexec_fn=lambda: os.setpgid(0, 0))
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _leader() -> tuple[subprocess.Popen[str], int]:
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    assert os.getpgid(child) == child != leader.pid  # a group of its own, in the leader's session
    return leader, child


def test_killing_a_containers_session_kills_a_child_in_a_group_of_its_own() -> None:
    leader, child = _leader()
    try:
        containers.kill_session(leader.pid)
        leader.wait(10)
        assert _wait_gone(child), "the child outlived its container"
    finally:
        for pid in (leader.pid, child):
            if _alive(pid):
                os.kill(pid, 9)


def test_killing_the_process_group_alone_leaves_that_child_behind() -> None:
    """The control: what kill_container did before (os.killpg on the container's pid)."""
    leader, child = _leader()
    try:
        os.killpg(leader.pid, 9)
        leader.wait(10)
        time.sleep(0.3)
        assert _alive(child)
    finally:
        os.kill(child, 9)


def test_a_killed_member_takes_its_server_with_it(tmp_path: Path) -> None:
    """weaviate.kill_container, on a pod folder as the process kubelet lays it out."""
    leader, child = _leader()
    folder = tmp_path / "pods" / "ns" / "crash-0-1a2b3c4d"
    folder.mkdir(parents=True)
    (folder / "weaviate.log").write_text("")
    (folder / "weaviate.pid").write_text(str(leader.pid))
    try:
        assert weaviate.kill_container(tmp_path, "ns", "crash-0") == leader.pid
        leader.wait(10)
        assert _wait_gone(child), "the member's server outlived the kill"
        assert (folder / "weaviate.hold").exists()
    finally:
        for pid in (leader.pid, child):
            if _alive(pid):
                os.kill(pid, 9)
