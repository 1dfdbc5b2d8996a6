"""The process kubelet: runs the containers of pods that kwok placed on its fake nodes.

kwok plays the kubelet's API side (pod status, node heartbeats); this plays its process side, so
e2e tests exercise the very processes the operator's pod specs describe: the same command, args,
env, volumes (kept in sync like a kubelet's), user and read-only root. It watches namespaces that
carry the label `devcluster.runestone.dev/processes=true`.

Each pod it runs gets an address of its own, held until its last process has exited (see
devcluster.kubelet.network), reported as the pod's `status.podIP` before the first process starts.

A pod's init containers run first, one after another, each until it exits 0 (a failure is
retried with a growing delay, unless the pod's `restartPolicy` is `Never`); then its containers
start. A container that exits is started again (with a growing delay) as the pod's
`restartPolicy` asks: always, only after a failure (`OnFailure`), or never; its init containers
do not run again, as on a kubelet.

Control files beside each container's log let tests act like a node operator:
`<container>.pid` holds the PID; creating `<container>.hold` keeps it from being restarted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kubelet import containers, network, services, volumes

NAMESPACE_LABEL = "devcluster.runestone.dev/processes"
POD_ANNOTATION = "devcluster.runestone.dev/processes"
"""Set on a pod once this kubelet runs its containers (kwok then leaves its deletion to it)."""
ADDRESS_ANNOTATION = "devcluster.runestone.dev/pod-address"
"""Set at admission on the pods of NAMESPACE_LABEL namespaces: this kubelet gives their address."""
BACKOFF_START, BACKOFF_CAP = 1.0, 20.0

log = logging.getLogger("devcluster.kubelet")


@dataclass
class Container:
    name: str
    launch: containers.Launch
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    finished: bool = False
    """Exited for good: the pod's restartPolicy does not start it again (an init container:
    exited 0)."""

    @property
    def hold_file(self) -> Path:
        return self.log.with_suffix(".hold")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = containers.spawn(self.launch, self.log)
        self.log.with_suffix(".pid").write_text(str(self.process.pid))

    def signal(self, number: int) -> None:
        if not self.running():  # once it is reaped, its pid may be another process's
            return
        assert self.process is not None
        if number == signal.SIGKILL:  # every process it started, whatever their group
            containers.kill_session(self.process.pid)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)


@dataclass
class Pod:
    uid: str
    namespace: str
    name: str
    directory: Path
    ip: str
    """The pod's own address, where its processes listen."""
    grace_seconds: float
    source: volumes.VolumeSource
    restart_policy: str = "Always"
    volume_dirs: dict[str, Path] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)
    init_containers: list[Container] = field(default_factory=list)
    init_failed: bool = False
    """An init container failed and the pod's restartPolicy is `Never`: nothing more starts."""

    def every_container(self) -> list[Container]:
        return [*self.init_containers, *self.containers]


class ProcessKubelet:
    def __init__(
        self,
        api: client.ApiClient,
        workdir: Path,
        programs: containers.Programs,
        api_server: str,
        addresses: network.Addresses,
        services_: services.Services | None = None,
    ) -> None:
        self.api = api
        self.services = services_
        """Service names and ClusterIPs for the pods; None leaves them out (unit tests)."""
        self.addresses = addresses
        self.core = client.CoreV1Api(api)
        self.workdir = workdir
        self.programs = programs
        self.api_server = api_server
        self.pods: dict[str, Pod] = {}
        self.stopping = threading.Event()
        self._leaving: list[threading.Thread] = []
        """Pods being stopped, each in a thread of its own: as on a kubelet, one pod's grace
        period never holds up another pod, nor the start of new ones."""
        self._stopping: set[str] = set()
        """The uids of those pods: each holds its address until its processes are gone."""

    # -- the loop -----------------------------------------------------------------------------

    def run(self, period: float = 0.5) -> None:
        while not self.stopping.is_set():
            try:
                self.sync_once()
            except Exception:  # a bad pod or a blip of the API server must not stop the node
                log.exception("sync failed")
            self.stopping.wait(period)
        for uid in list(self.pods):
            self.stop_pod(uid, delete=False)
        for thread in self._leaving:
            thread.join()

    def sync_once(self) -> None:
        namespaces = {
            ns.metadata.name
            for ns in self.core.list_namespace(label_selector=f"{NAMESPACE_LABEL}=true").items
        }
        listed: set[str] = set()
        wanted: dict[str, Any] = {}
        for namespace in namespaces:
            for pod in self.core.list_namespaced_pod(namespace).items:
                listed.add(pod.metadata.uid)
                if pod.status.pod_ip and pod.status.phase == "Running":
                    wanted[pod.metadata.uid] = pod
                elif _awaits_address(pod):
                    self.give_address(pod)
        for uid in list(self.pods):
            pod = wanted.get(uid)
            if pod is None or pod.metadata.deletion_timestamp is not None:
                self.stop_pod(uid, delete=pod is not None)
        for uid in self.addresses.owners() - listed - set(self.pods) - self._stopping:
            self.addresses.release(uid)  # a pod deleted before it started
        if self.services is not None:
            try:
                self.services.refresh(namespaces)
            except Exception:  # the pods still run; their Services catch up on the next sync
                log.exception("refreshing Services failed")
        for pod in wanted.values():
            if pod.metadata.deletion_timestamp is None:
                self.sync_pod(pod)

    def give_address(self, pod: Any) -> None:
        """Report an address of the process network as the pod's podIP; kwok starts the pod then
        (its pod-start stage waits for it)."""
        ip = self.addresses.take(pod.metadata.uid)
        try:
            self._report_address(pod.metadata.name, pod.metadata.namespace, ip)
        except ApiException as error:
            if error.status != 404:
                raise
            self.addresses.release(pod.metadata.uid)
            return
        log.info("%s/%s gets address %s", pod.metadata.namespace, pod.metadata.name, ip)

    # -- one pod --------------------------------------------------------------------------------

    def sync_pod(self, pod: Any) -> None:
        uid = pod.metadata.uid
        state = self.pods.get(uid)
        if state is None:
            state = self.admit(pod)
            if state is None:
                return
            self.pods[uid] = state
        now = time.monotonic()
        for name, directory in state.volume_dirs.items():
            volume = next(v for v in pod.spec.volumes if v.name == name)
            files = state.source.files(volume, time.time())
            if files is not None and volumes.write_atomically(directory, files):
                _chown_tree(directory, *_owner(state))
        if not advance_init(state, now):
            return
        for container in state.containers:
            if (
                container.running()
                or container.finished
                or container.hold_file.exists()
                or now < container.next_start
            ):
                continue
            if container.process is not None:
                code = container.process.returncode
                if state.restart_policy == "Never" or (
                    state.restart_policy == "OnFailure" and code == 0
                ):
                    container.finished = True
                    log.info(
                        "%s/%s[%s] exited with %s; not restarted (restartPolicy %s)",
                        state.namespace,
                        state.name,
                        container.name,
                        code,
                        state.restart_policy,
                    )
                    continue
                _back_off(state, container, now, code)
                continue
            container.start()
            log.info(
                "%s/%s[%s] started (pid %s)",
                state.namespace,
                state.name,
                container.name,
                container.process.pid if container.process else "?",
            )

    def admit(self, pod: Any) -> Pod | None:
        if _marked(pod):
            # Normally the address given before kwok started the pod; after a kubelet restart
            # the pod keeps the one it has.
            ip = self.addresses.take(pod.metadata.uid, pod.status.pod_ip)
        else:
            # Created before its namespace was labelled: it runs on kwok's address, which kwok
            # may hand to another pod while this one's processes still stop.
            ip = str(pod.status.pod_ip)
        state = self._prepare(pod, ip)
        if state is None:
            return None
        if state.ip != pod.status.pod_ip:
            self._report_address(state.name, state.namespace, state.ip)
        body = {"metadata": {"annotations": {POD_ANNOTATION: "true"}}}
        self.core.patch_namespaced_pod(state.name, state.namespace, body)
        log.info("%s/%s admitted on %s", state.namespace, state.name, state.ip)
        return state

    def _report_address(self, name: str, namespace: str, ip: str) -> None:
        patch = [
            {"op": "add", "path": "/status/podIP", "value": ip},
            {"op": "add", "path": "/status/podIPs", "value": [{"ip": ip}]},
        ]
        self.core.patch_namespaced_pod_status(name, namespace, patch)

    def _prepare(self, pod: Any, ip: str) -> Pod | None:
        """The pod's containers as launches on address `ip`; None when none can run here."""
        directory = (
            self.workdir
            / "pods"
            / pod.metadata.namespace
            / f"{pod.metadata.name}-{pod.metadata.uid[:8]}"
        )
        state = Pod(
            uid=pod.metadata.uid,
            namespace=pod.metadata.namespace,
            name=pod.metadata.name,
            directory=directory,
            ip=ip,
            grace_seconds=float(pod.spec.termination_grace_period_seconds or 30),
            source=volumes.VolumeSource(self.api, pod, ip),
            restart_policy=str(pod.spec.restart_policy or "Always"),
        )
        launches = [self._container(pod, spec, state) for spec in pod.spec.containers]
        state.containers = [launch for launch in launches if launch is not None]
        if not state.containers:
            return None
        for spec in pod.spec.init_containers or []:
            launch = self._container(pod, spec, state)
            if launch is None:
                continue
            if spec.restart_policy == "Always":  # a sidecar: it runs beside the containers
                state.containers.append(launch)
            else:
                state.init_containers.append(launch)
        for volume in pod.spec.volumes or []:
            path = directory / "volumes" / volume.name
            path.mkdir(parents=True, exist_ok=True)
            state.volume_dirs[volume.name] = path
        _chown_tree(directory / "volumes", *_owner(state))
        return state

    def _container(self, pod: Any, spec: Any, state: Pod) -> Container | None:
        """How to run one of the pod's containers; None when no program runs its image here."""
        ip, directory = state.ip, state.directory
        env = containers.environment(self.api, pod, spec, ip, self.api_server)
        argv = self.programs.resolve(pod, spec, env, ip)
        if argv is None:
            log.info(
                "%s/%s[%s]: no program for image %s; not run",
                state.namespace,
                state.name,
                spec.name,
                spec.image,
            )
            return None
        uid, gid = containers.user_of(pod, spec)
        context = spec.security_context
        mounts = [
            containers.Mount(directory / "volumes" / m.name, m.mount_path, bool(m.read_only))
            for m in spec.volume_mounts or []
        ]
        if self.services is not None:
            hosts = services.HOSTS_PATH
            mounts.append(containers.Mount(self.services.hosts, hosts, read_only=True))
        return Container(
            name=spec.name,
            log=directory / f"{spec.name}.log",
            launch=containers.Launch(
                argv=argv,
                env=env,
                mounts=mounts,
                uid=uid,
                gid=gid,
                read_only_root=bool(context and context.read_only_root_filesystem),
                scratch=directory / "scratch" / spec.name,
                keep_visible=self.programs.keep_visible,
            ),
        )

    def stop_pod(self, uid: str, delete: bool) -> None:
        """Stop a pod's containers in the background (see `terminate`)."""
        self._stopping.add(uid)
        state = self.pods.pop(uid)
        thread = threading.Thread(
            target=self.terminate, args=(state, delete), name=f"stop-{state.name}", daemon=True
        )
        self._leaving = [t for t in self._leaving if t.is_alive()] + [thread]
        thread.start()

    def terminate(self, state: Pod, delete: bool) -> None:
        """SIGTERM every container, SIGKILL what outlives the grace period, then remove the pod."""
        uid = state.uid
        every = state.every_container()
        for container in every:
            container.signal(signal.SIGTERM)
        deadline = time.monotonic() + state.grace_seconds
        while any(c.running() for c in every) and time.monotonic() < deadline:
            time.sleep(0.1)
        for container in every:
            container.signal(signal.SIGKILL)
            if container.process is not None:
                container.process.wait()
        self.addresses.release(uid)
        self._stopping.discard(uid)
        log.info("%s/%s terminated; %s released", state.namespace, state.name, state.ip)
        if delete:
            with contextlib.suppress(ApiException):
                # In the body: the API server ignores query options when a body is sent.
                options = client.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid)
                )
                self.core.delete_namespaced_pod(state.name, state.namespace, body=options)
        shutil.rmtree(state.directory / "scratch", ignore_errors=True)


def advance_init(state: Pod, now: float) -> bool:
    """Advance the pod's init containers; True once each has exited 0."""
    for container in state.init_containers:
        if container.finished:
            continue
        if state.init_failed or container.running() or now < container.next_start:
            return False
        if container.process is None:
            container.start()
            log.info("%s/%s[%s] (init) started", state.namespace, state.name, container.name)
            return False
        code = container.process.returncode
        if code == 0:
            container.finished = True
            log.info("%s/%s[%s] (init) completed", state.namespace, state.name, container.name)
            continue
        if state.restart_policy == "Never":
            state.init_failed = True
            log.warning(
                "%s/%s[%s] (init) exited with %s; the pod does not start (restartPolicy Never)",
                state.namespace,
                state.name,
                container.name,
                code,
            )
            return False
        _back_off(state, container, now, code)
        return False
    return True


def _back_off(state: Pod, container: Container, now: float, code: int | None) -> None:
    """Start an exited container again after a delay that doubles with each restart."""
    container.restarts += 1
    delay = min(BACKOFF_CAP, BACKOFF_START * 2 ** (container.restarts - 1))
    container.next_start = now + delay
    container.process = None
    kind = " (init)" if any(c is container for c in state.init_containers) else ""
    log.warning(
        "%s/%s[%s]%s exited with %s; restarting in %.0fs",
        state.namespace,
        state.name,
        container.name,
        kind,
        code,
        delay,
    )


def _marked(pod: Any) -> bool:
    return (pod.metadata.annotations or {}).get(ADDRESS_ANNOTATION) == "kubelet"


def _awaits_address(pod: Any) -> bool:
    """A marked pod, scheduled and not deleted, that has no address yet."""
    return (
        _marked(pod)
        and bool(pod.spec.node_name)
        and not pod.status.pod_ip
        and pod.metadata.deletion_timestamp is None
    )


def _owner(state: Pod) -> tuple[int | None, int | None]:
    for container in state.containers:
        if container.launch.uid is not None:
            return container.launch.uid, container.launch.gid
    return None, None


def _chown_tree(path: Path, uid: int | None, gid: int | None) -> None:
    if uid is None:
        return
    for entry in [path, *path.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):
            os.lchown(entry, uid, gid if gid is not None else uid)
