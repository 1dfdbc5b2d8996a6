"""Turn a pod's container spec into a real process on this host.

Each container runs in its own mount namespace where the pod's volumes appear at their declared
mount paths (over a private overlay of the host directory, so the host is left untouched), as
the user its securityContext names, with a read-only root filesystem when it asks for one. Pods
share the host's network, so each pod has an address of its own on this host (its podIP, see
devcluster.kubelet.network) and pod-local addresses in its args and env are mapped to it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from devcluster.kubelet import volumes

POD_LOCAL = re.compile(r"(?<![\w.-])(127\.0\.0\.1|localhost|0\.0\.0\.0)(?![\w.-])")


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container's process."""

    argv: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    uid: int | None
    gid: int | None
    read_only_root: bool
    scratch: Path  # overlay upper/work dirs for this container
    keep_visible: tuple[str, ...] = ()
    """Host folders the program itself needs (interpreter, venv, sources, binaries). A pod mount
    may cover one (an emptyDir over /tmp while the checkout lives under /tmp); each is held open
    before the pod's mounts and bound back where it was if a mount hid it."""


Adapter = Callable[[Any, Any, list[str], dict[str, str], str], list[str]]
"""(pod, container, argv, env, pod_ip) -> argv: adapts a program to run on one host."""


@dataclass
class Programs:
    """Which host executable runs which image, and how its arguments are adapted."""

    runestone: str
    python: str
    weaviate: str | None = None
    adapters: dict[str, Adapter] = field(default_factory=dict)
    keep_visible: tuple[str, ...] = ()
    image_files: dict[str, str] = field(default_factory=dict)
    """Programs the runestone image carries besides `runestone`: their path in the image, and
    the host file that stands for it in a container's arguments (an init container copies one)."""

    def resolve(self, pod: Any, container: Any, env: dict[str, str], ip: str) -> list[str] | None:
        image = str(container.image)
        repository = image.rsplit("@", 1)[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        command = list(container.command or [])
        args = [POD_LOCAL.sub(ip, arg) for arg in container.args or []]
        if repository == "runestone":
            entry = (
                [self.runestone] if not command or command[0].endswith("runestone") else command[:1]
            )
            argv = [self.image_files.get(arg, arg) for arg in entry + command[1:] + args]
        elif repository == "python":
            argv = [self.python, *command[1:], *args]
        elif repository == "weaviate" and self.weaviate:
            # A command that starts the image's Weaviate itself keeps it; the adapter then says
            # which build stands for it.
            argv = (
                [*command, *args]
                if command
                else [self.weaviate, *args]
                if args
                else [self.weaviate, "--host", ip, "--port", "8080", "--scheme", "http"]
            )
        else:
            return None
        adapter = self.adapters.get(repository)
        return adapter(pod, container, argv, env, ip) if adapter else argv


def runestone_adapter(
    pod: Any, container: Any, argv: list[str], env: dict[str, str], ip: str
) -> list[str]:
    """The gateway and sidecar bind all interfaces by default; here, only the pod's address."""
    if len(argv) > 1 and argv[1] in ("gateway", "sidecar") and "--host" not in argv:
        return [*argv, "--host", ip]
    return argv


def environment(
    api: client.ApiClient, pod: Any, container: Any, ip: str, api_server: str
) -> dict[str, str]:
    host, _, port = api_server.removeprefix("https://").partition(":")
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": "/tmp",
        "HOSTNAME": pod.metadata.name,
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port or "443",
    }
    core = client.CoreV1Api(api)
    namespace = pod.metadata.namespace
    for source in container.env_from or []:
        if source.config_map_ref is not None:
            data = core.read_namespaced_config_map(source.config_map_ref.name, namespace).data or {}
        elif source.secret_ref is not None:
            raw = core.read_namespaced_secret(source.secret_ref.name, namespace).data or {}
            data = {k: base64.b64decode(v).decode() for k, v in raw.items()}
        else:
            continue
        env.update({(source.prefix or "") + k: v for k, v in data.items()})
    for variable in container.env or []:
        env[variable.name] = _env_value(core, pod, variable, ip)
    mapped = {name: POD_LOCAL.sub(ip, value) for name, value in env.items()}
    # The API server is not pod-local: in-cluster clients must reach it where it listens.
    mapped["KUBERNETES_SERVICE_HOST"] = host
    return mapped


def _env_value(core: client.CoreV1Api, pod: Any, variable: Any, ip: str) -> str:
    if variable.value_from is None:
        return str(variable.value or "")
    source = variable.value_from
    namespace = pod.metadata.namespace
    if source.field_ref is not None:
        return volumes.field_value(pod, source.field_ref.field_path, ip)
    if source.secret_key_ref is not None:
        secret = core.read_namespaced_secret(source.secret_key_ref.name, namespace)
        return base64.b64decode((secret.data or {})[source.secret_key_ref.key]).decode("utf-8")
    if source.config_map_key_ref is not None:
        config_map = core.read_namespaced_config_map(source.config_map_key_ref.name, namespace)
        return str((config_map.data or {})[source.config_map_key_ref.key])
    if source.resource_field_ref is not None:
        return "0"
    raise KeyError(f"unsupported env source for {variable.name}")


def user_of(pod: Any, container: Any) -> tuple[int | None, int | None]:
    """The uid and gid a container runs as; the container's securityContext wins over the pod's."""

    def first(attribute: str) -> int | None:
        for context in (container.security_context, pod.spec.security_context):
            value = getattr(context, attribute, None) if context is not None else None
            if value is not None:
                return int(value)
        return None

    uid = first("run_as_user")
    gid = first("run_as_group")
    fs_group = getattr(pod.spec.security_context, "fs_group", None)
    return uid, gid if gid is not None else (fs_group if fs_group is not None else uid)


def _overlay_base(target: str) -> str:
    """The deepest existing directory above a mount path (after resolving host symlinks)."""
    path = Path(os.path.realpath(target))
    while not path.exists():
        path = path.parent
    return str(path)


def mount_script(launch: Launch) -> str:
    """Shell steps run inside the new mount namespace before the program is exec'd.

    Overlays come first, then binds; a bind whose target covers the kubelet's own folders (an
    emptyDir over /tmp while the kubelet works under /tmp) comes last, so that every source is
    still reachable when it is bound.
    """
    steps = ["set -e"]
    if len(launch.keep_visible) > 7:
        raise ValueError("at most 7 folders can be kept visible (sh has descriptors 3 to 9)")
    held = {3 + index: path for index, path in enumerate(launch.keep_visible)}
    steps += [f"exec {fd}< {shlex.quote(path)}" for fd, path in held.items()]
    overlays: list[str] = []
    targets = []
    for mount in launch.mounts:
        real = os.path.realpath(mount.target)
        targets.append((mount, real))
        if os.path.exists(real):
            continue
        base = _overlay_base(real)
        if base == "/":
            raise ValueError(f"cannot place {mount.target}: its top-level folder is missing")
        if any(base == o or base.startswith(o + "/") for o in overlays):
            continue
        overlays.append(base)
        upper = launch.scratch / f"upper{len(overlays)}"
        work = launch.scratch / f"work{len(overlays)}"
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        options = f"lowerdir={base},upperdir={upper},workdir={work}"
        steps.append(f"mount -t overlay overlay -o {options} {base}")

    kubelet_dirs = [str(launch.scratch)] + [str(m.source) for m in launch.mounts]

    def covers_kubelet(real: str) -> bool:
        return any(d == real or d.startswith(real.rstrip("/") + "/") for d in kubelet_dirs)

    for mount, real in sorted(targets, key=lambda t: (covers_kubelet(t[1]), t[1].count("/"))):
        if mount.source.is_file():  # a file over a file (the pod's /etc/hosts)
            steps.append(f"test -f {shlex.quote(real)} || : > {shlex.quote(real)}")
        else:
            steps.append(f"mkdir -p {shlex.quote(real)}")
        steps.append(f"mount --bind {shlex.quote(str(mount.source))} {shlex.quote(real)}")
        if mount.read_only:
            steps.append(f"mount -o remount,bind,ro {shlex.quote(real)}")
    for fd, path in held.items():
        # Bound back unconditionally: binding a visible folder over itself changes nothing, and
        # an existence test is fooled by an empty folder a previous start left in an emptyDir.
        # --no-canonicalize keeps mount from turning /proc/self/fd/N back into the hidden path.
        quoted = shlex.quote(path)
        steps.append(f"mkdir -p {quoted}")
        steps.append(f"mount --no-canonicalize --bind /proc/self/fd/{fd} {quoted}")
        steps.append(f"exec {fd}<&-")
    if launch.read_only_root:
        steps += [f"mount -o remount,bind,ro {base}" for base in ["/", *overlays]]
    user = ""
    if launch.uid is not None:
        gid = launch.gid if launch.gid is not None else launch.uid
        user = f"setpriv --reuid {launch.uid} --regid {gid} --clear-groups -- "
    steps.append("exec " + user + " ".join(shlex.quote(arg) for arg in launch.argv))
    return "\n".join(steps)


def spawn(launch: Launch, log: Path) -> subprocess.Popen[bytes]:
    """Start the container's process in a private mount namespace, in its own process group."""
    log.parent.mkdir(parents=True, exist_ok=True)
    script = mount_script(launch)
    log.with_suffix(".sh").write_text(script + "\n")
    with open(log, "ab") as output:
        return subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=launch.env,
            start_new_session=True,
            cwd="/",
        )


def kill_session(leader: int) -> None:
    """SIGKILL every process of the session a container's process leads (`spawn` starts each in a
    session of its own). Killing its process group is not enough: a program may move to a group
    of its own (the Weaviate preStop wrapper's child does), and a parent-death signal does not
    always reach it, which left a member's server listening on its pod's address after the pod
    was gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        session = int(stat[stat.rindex(")") + 2 :].split()[3])  # pid (comm) state ppid pgrp session
        if session == leader:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
