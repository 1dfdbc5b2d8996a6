"""The process kubelet runs a pod's init containers one after another, each until it exits 0,
before any of its containers; a failing one is retried after a delay, or stops the pod for good
under `restartPolicy: Never` (real processes: a shell in a mount namespace of its own). And what
it runs for a member pod's containers: the host file standing for a program the runestone image
carries, and the start program a Weaviate container's command names."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from devcluster.kubelet import containers, runner, volumes


def _container(tmp_path: Path, name: str, script: str) -> runner.Container:
    return runner.Container(
        name=name,
        log=tmp_path / f"{name}.log",
        launch=containers.Launch(
            argv=["/bin/sh", "-c", script],
            env={"PATH": "/usr/bin:/bin"},
            mounts=[],
            uid=None,
            gid=None,
            read_only_root=False,
            scratch=tmp_path / "scratch" / name,
        ),
    )


def _pod(tmp_path: Path, inits: list[runner.Container], policy: str = "Always") -> runner.Pod:
    return runner.Pod(
        uid="uid-1",
        namespace="ns",
        name="pod",
        directory=tmp_path,
        ip="127.0.0.1",
        grace_seconds=1,
        source=volumes.VolumeSource.__new__(volumes.VolumeSource),
        restart_policy=policy,
        init_containers=inits,
    )


def _drive(pod: runner.Pod, clock: list[float], rounds: int = 200) -> bool:
    """Call the kubelet's step until it says the pod is initialized (or `rounds` run out); the
    clock jumps past every retry delay."""
    for _ in range(rounds):
        clock[0] += runner.BACKOFF_CAP
        if runner.advance_init(pod, clock[0]):
            return True
        time.sleep(0.02)
    return False


def test_init_containers_run_in_order_and_each_until_it_succeeds(tmp_path: Path) -> None:
    order = tmp_path / "order"
    attempts = tmp_path / "attempts"
    first = _container(tmp_path, "first", f"sleep 0.2; echo first >> {order}")
    # Fails twice, then succeeds: it is retried, and only the first run of `first` happened.
    second = _container(
        tmp_path,
        "second",
        f"echo x >> {attempts}; [ $(wc -l < {attempts}) -ge 3 ] || exit 1; echo second >> {order}",
    )
    pod = _pod(tmp_path, [first, second])
    clock = [0.0]
    assert runner.advance_init(pod, clock[0]) is False
    assert first.running()
    assert second.process is None, "the second started before the first had finished"
    assert _drive(pod, clock)
    assert order.read_text().split() == ["first", "second"]
    assert attempts.read_text().count("x") == 3
    assert second.restarts == 2
    assert first.finished
    assert second.finished
    # Once initialized, it stays so: nothing runs again.
    assert runner.advance_init(pod, clock[0] + 100)
    assert order.read_text().split() == ["first", "second"]


def test_a_failed_init_container_stops_a_pod_that_never_restarts(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    failing = _container(tmp_path, "failing", "exit 3")
    after = _container(tmp_path, "after", f"touch {ran}")
    pod = _pod(tmp_path, [failing, after], policy="Never")
    assert _drive(pod, [0.0], rounds=50) is False
    assert pod.init_failed
    assert failing.restarts == 0
    assert after.process is None
    assert not ran.exists()


def test_a_pod_without_init_containers_is_initialized_at_once(tmp_path: Path) -> None:
    assert runner.advance_init(_pod(tmp_path, []), 0.0)


def _spec(image: str, command: list[str] | None, args: list[str] | None) -> SimpleNamespace:
    return SimpleNamespace(image=image, command=command, args=args)


def test_a_program_the_runestone_image_carries_is_the_host_file_standing_for_it() -> None:
    programs = containers.Programs(
        runestone="/venv/bin/runestone",
        python="/venv/bin/python",
        weaviate="/cache/weaviate-server",
        image_files={"/usr/local/bin/tool": "/var/tmp/tool"},
    )
    copy = _spec("ghcr.io/x/runestone:1", ["cp", "/usr/local/bin/tool", "/tools/tool"], None)
    assert programs.resolve(None, copy, {}, "10.0.0.1") == ["cp", "/var/tmp/tool", "/tools/tool"]
    sidecar = _spec("ghcr.io/x/runestone:1", ["runestone"], ["sidecar", "--port", "1"])
    resolved = programs.resolve(None, sidecar, {}, "10.0.0.1")
    assert resolved == ["/venv/bin/runestone", "sidecar", "--port", "1"]
    # A Weaviate container with a command keeps it (the adapter maps the image's Weaviate).
    start = ["/tools/start", "--data", "/data", "--", "/bin/weaviate"]
    member = _spec("cr.weaviate.io/semitechnologies/weaviate:1.39.3", start, ["--port", "8080"])
    assert programs.resolve(None, member, {}, "10.0.0.1") == [*start, "--port", "8080"]
    plain = _spec("cr.weaviate.io/semitechnologies/weaviate:1.39.3", None, ["--port", "8080"])
    resolved = programs.resolve(None, plain, {}, "10.0.0.1")
    assert resolved == ["/cache/weaviate-server", "--port", "8080"]
