"""The process kubelet runs a pod's container as a real process that sees what a container sees."""

from __future__ import annotations

import base64
import json
import os
import signal
import urllib.request
from pathlib import Path

from kubernetes import client

from devcluster.kube import container_log, eventually

# The pod's program: serves what it can observe about its own environment.
PROGRAM = r"""
import errno, json, os, signal, sys, http.server

def observe(path):
    if path.startswith("/file/"):
        with open(path[len("/file"):], "rb") as f:
            return f.read()
    probes = {}
    for target in ("/etc/written-by-pod", "/var/tmp/written-by-pod", "/tmp/written-by-pod"):
        try:
            with open(target, "w") as f:
                f.write("x")
            probes[target] = "ok"
        except OSError as error:
            probes[target] = errno.errorcode[error.errno]
    seen = {"uid": os.getuid(), "writes": probes, "pod": os.environ["POD_NAME"]}
    return json.dumps(seen).encode()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            body, status = observe(self.path), 200
        except OSError as error:
            body, status = str(error).encode(), 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

def terminate(signum, frame):
    print("terminating on SIGTERM", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, terminate)
http.server.HTTPServer((os.environ["POD_IP"], int(sys.argv[1])), Handler).serve_forever()
"""


def _env(
    fields: dict[str, str] | None = None,
) -> list[client.V1EnvVar]:
    """Variables from the pod's own fields (the downward API)."""
    fields = fields or {"POD_NAME": "metadata.name", "POD_IP": "status.podIP"}
    return [
        client.V1EnvVar(
            name=name,
            value_from=client.V1EnvVarSource(
                field_ref=client.V1ObjectFieldSelector(field_path=path)
            ),
        )
        for name, path in fields.items()
    ]


def _pod() -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="observer"),
        spec=client.V1PodSpec(
            automount_service_account_token=False,
            security_context=client.V1PodSecurityContext(run_as_user=65532, run_as_group=65532),
            # Far longer than the test waits: the pod must go when its process exits.
            termination_grace_period_seconds=600,
            containers=[
                client.V1Container(
                    name="app",
                    image="docker.io/library/python:3.11",
                    command=["python", "-c", PROGRAM],
                    args=["8080"],
                    env=_env(),
                    security_context=client.V1SecurityContext(read_only_root_filesystem=True),
                    volume_mounts=[
                        client.V1VolumeMount(
                            name="settings", mount_path="/etc/app/config", read_only=True
                        ),
                        client.V1VolumeMount(
                            name="creds", mount_path="/etc/app/creds", read_only=True
                        ),
                        client.V1VolumeMount(
                            name="token",
                            mount_path="/var/run/secrets/kubernetes.io/serviceaccount",
                            read_only=True,
                        ),
                        client.V1VolumeMount(name="tmp", mount_path="/tmp"),
                    ],
                ),
                # Root, so that only the read-only root filesystem stands in the way of writes.
                client.V1Container(
                    name="root",
                    image="docker.io/library/python:3.11",
                    command=["python", "-c", PROGRAM],
                    args=["8081"],
                    env=_env(),
                    security_context=client.V1SecurityContext(
                        run_as_user=0, read_only_root_filesystem=True
                    ),
                    volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
                ),
            ],
            volumes=[
                client.V1Volume(
                    name="settings", config_map=client.V1ConfigMapVolumeSource(name="settings")
                ),
                client.V1Volume(
                    name="creds",
                    secret=client.V1SecretVolumeSource(
                        secret_name="creds",
                        items=[client.V1KeyToPath(key="api-key", path="api-key")],
                    ),
                ),
                client.V1Volume(
                    name="token",
                    projected=client.V1ProjectedVolumeSource(
                        sources=[
                            client.V1VolumeProjection(
                                service_account_token=client.V1ServiceAccountTokenProjection(
                                    path="token", expiration_seconds=3600
                                )
                            )
                        ]
                    ),
                ),
                client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource()),
            ],
        ),
    )


def test_pod_process_sees_its_volumes_identity_and_limits(
    kube_api: client.ApiClient, pod_namespace: str, process_kubelet: Path
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map(
        pod_namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="settings"), data={"settings.yaml": "level: 1\n"}
        ),
    )
    core.create_namespaced_secret(
        pod_namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="creds"),
            string_data={"api-key": "not-a-real-key", "other": "hidden"},
        ),
    )
    core.create_namespaced_pod(pod_namespace, _pod())

    pod = eventually(
        lambda: (p := core.read_namespaced_pod("observer", pod_namespace)).status.pod_ip and p,
        timeout=60,
        what="a pod IP",
    )
    address = pod.status.pod_ip

    def get(path: str, port: int = 8080) -> bytes:
        with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=5) as response:
            return bytes(response.read())

    observed = json.loads(
        eventually(lambda: get("/"), timeout=60, what="the pod's process to serve")
    )
    assert observed["pod"] == "observer"
    assert observed["uid"] == 65532
    assert observed["writes"]["/tmp/written-by-pod"] == "ok"
    assert observed["writes"]["/etc/written-by-pod"] == "EROFS"
    as_root = json.loads(
        eventually(lambda: get("/", 8081), timeout=60, what="the root container to serve")
    )
    assert as_root["uid"] == 0
    assert as_root["writes"] == {
        "/etc/written-by-pod": "EROFS",
        "/var/tmp/written-by-pod": "EROFS",
        "/tmp/written-by-pod": "ok",
    }

    assert get("/file/etc/app/config/settings.yaml") == b"level: 1\n"
    assert get("/file/etc/app/creds/api-key") == b"not-a-real-key"
    token = get("/file/var/run/secrets/kubernetes.io/serviceaccount/token").decode()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["kubernetes.io"]["pod"]["name"] == "observer"

    # A ConfigMap update reaches the running process through the volume, as from a kubelet.
    core.patch_namespaced_config_map(
        "settings", pod_namespace, {"data": {"settings.yaml": "level: 2\n"}}
    )
    eventually(
        lambda: get("/file/etc/app/config/settings.yaml") == b"level: 2\n", what="the updated file"
    )

    # Deleting the pod stops its process with SIGTERM within the grace period, then the pod is gone.
    core.delete_namespaced_pod("observer", pod_namespace)
    log = container_log(process_kubelet, pod_namespace, "observer", "app")
    eventually(
        lambda: "terminating on SIGTERM" in log.read_text(), what="SIGTERM to reach the process"
    )
    eventually(
        lambda: (
            not core.list_namespaced_pod(
                pod_namespace, field_selector="metadata.name=observer"
            ).items
        ),
        what="the pod to be removed once its process exited",
    )


def test_restart_policy_decides_whether_an_exited_container_runs_again(
    kube_api: client.ApiClient, pod_namespace: str, process_kubelet: Path
) -> None:
    core = client.CoreV1Api(kube_api)
    program = "import sys; print('ran', flush=True); sys.exit(int(sys.argv[1]))"
    cases = {"once": ("OnFailure", "0"), "again": ("OnFailure", "3"), "never": ("Never", "3")}
    for name, (policy, code) in cases.items():
        container = client.V1Container(
            name="app",
            image="docker.io/library/python:3.11",
            command=["python", "-c", program],
            args=[code],
        )
        spec = client.V1PodSpec(
            restart_policy=policy, automount_service_account_token=False, containers=[container]
        )
        core.create_namespaced_pod(
            pod_namespace, client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=spec)
        )

    def runs(pod: str) -> int:
        return container_log(process_kubelet, pod_namespace, pod, "app").read_text().count("ran")

    def left_exited(pod: str, code: str, policy: str) -> bool:
        line = (
            f"{pod_namespace}/{pod}[app] exited with {code}; not restarted (restartPolicy {policy})"
        )
        return line in (process_kubelet / "kubelet.log").read_text()

    eventually(lambda: left_exited("once", "0", "OnFailure"), what="a finished pod left alone")
    eventually(lambda: left_exited("never", "3", "Never"), what="a failed pod left alone")
    eventually(lambda: runs("again") >= 2, what="a failed container to run again")
    assert runs("once") == 1
    assert runs("never") == 1


def test_a_pod_slow_to_stop_holds_up_no_other_pod(
    kube_api: client.ApiClient, pod_namespace: str, process_kubelet: Path
) -> None:
    core = client.CoreV1Api(kube_api)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ran', flush=True); time.sleep(3600)"
    )

    def create(name: str, program: str) -> None:
        container = client.V1Container(
            name="app", image="docker.io/library/python:3.11", command=["python", "-c", program]
        )
        spec = client.V1PodSpec(
            automount_service_account_token=False,
            termination_grace_period_seconds=600,
            containers=[container],
        )
        core.create_namespaced_pod(
            pod_namespace, client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=spec)
        )

    def ran(pod: str) -> bool:
        return "ran" in container_log(process_kubelet, pod_namespace, pod, "app").read_text()

    create("slow", stubborn)
    eventually(lambda: ran("slow"), what="the slow pod to run")
    core.delete_namespaced_pod("slow", pod_namespace)
    create("next", "print('ran', flush=True)")
    eventually(lambda: ran("next"), what="a new pod to start while another stops")
    assert core.read_namespaced_pod("slow", pod_namespace).metadata.deletion_timestamp

    # Let the slow one go now rather than at the end of its grace period.
    log = container_log(process_kubelet, pod_namespace, "slow", "app")
    os.killpg(int(log.with_suffix(".pid").read_text()), signal.SIGKILL)
    eventually(
        lambda: (
            not core.list_namespaced_pod(pod_namespace, field_selector="metadata.name=slow").items
        ),
        what="the slow pod to be removed once its process is gone",
    )


# Serves its own pod's UID on the pod's address; on SIGTERM it goes on serving for a while, as a
# Weaviate member does during its preStop sleep, then exits.
IDENTITY = {"POD_UID": "metadata.uid", "POD_IP": "status.podIP"}
SLOW_TO_STOP = r"""
import http.server, os, signal, sys, threading, time

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(os.environ["POD_UID"].encode())

def stop(signum, frame):
    print("stopping", flush=True)
    threading.Timer(float(sys.argv[1]), os._exit, (0,)).start()

signal.signal(signal.SIGTERM, stop)
try:
    server = http.server.HTTPServer((os.environ["POD_IP"], 8080), Handler)
except OSError as error:
    print(f"cannot listen: {error}", flush=True)
    sys.exit(1)
print("serving", flush=True)
server.serve_forever()
"""


def test_a_replaced_pod_never_reaches_its_predecessor(
    kube_api: client.ApiClient, pod_namespace: str, process_kubelet: Path
) -> None:
    """A pod deleted with grace period 0 is gone from the API at once while its processes still
    stop; the replacement of the same name gets an address of its own, where its own server
    answers, as on a node where every pod has its own network."""
    core = client.CoreV1Api(kube_api)
    stopping_seconds = 20

    def create() -> str:
        env = _env(IDENTITY)
        container = client.V1Container(
            name="app",
            image="docker.io/library/python:3.11",
            command=["python", "-c", SLOW_TO_STOP],
            args=[str(stopping_seconds)],
            env=env,
        )
        spec = client.V1PodSpec(
            automount_service_account_token=False,
            termination_grace_period_seconds=60,
            containers=[container],
        )
        pod = core.create_namespaced_pod(
            pod_namespace, client.V1Pod(metadata=client.V1ObjectMeta(name="member"), spec=spec)
        )
        return str(pod.metadata.uid)

    def answer(uid: str) -> tuple[str, str]:
        """(address, what answers there) once the pod `uid` serves."""
        pod = core.read_namespaced_pod("member", pod_namespace)
        assert pod.metadata.uid == uid, "not the pod created last"
        if not pod.status.pod_ip:
            raise LookupError("no address yet")
        return pod.status.pod_ip, answer_at(pod.status.pod_ip)

    first = create()
    first_address, served = eventually(lambda: answer(first), timeout=60, what="the first pod")
    assert served == first

    core.delete_namespaced_pod("member", pod_namespace, grace_period_seconds=0)
    log = container_log(process_kubelet, pod_namespace, "member", "app")
    eventually(lambda: "stopping" in log.read_text(), what="SIGTERM to reach the first pod")
    second = create()
    address, served = eventually(
        lambda: answer(second), timeout=stopping_seconds, what="the replacement to answer"
    )
    assert served == second, "the replacement's address reached its predecessor"
    assert address != first_address
    # Both ran at once: the predecessor still answers at its own address.
    assert answer_at(first_address) == first


def answer_at(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}:8080/", timeout=5) as response:
        return str(response.read().decode())


# Asks a URL every half second and prints each answer (or why there was none), read-only root and
# an unprivileged user, as the gateway asks its VectorCluster's Service.
CALLER = r"""
import sys, time, urllib.request

while True:
    for url in sys.argv[1:]:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                print(f"{url} answered {response.read().decode()}", flush=True)
        except OSError as error:
            print(f"{url} failed: {error}", flush=True)
    time.sleep(0.5)
"""


def test_a_pod_reaches_a_service_by_name(
    kube_api: client.ApiClient, pod_namespace: str, process_kubelet: Path
) -> None:
    """A pod's process connects to a Service by its DNS names and lands on a ready endpoint at
    the Service's target port, as through cluster DNS and kube-proxy; a Service made after the
    process started is found too (its hosts file is rewritten in place)."""
    core = client.CoreV1Api(kube_api)
    urls = [
        f"http://backend.{pod_namespace}.svc.cluster.local/",
        f"http://backend.{pod_namespace}.svc/",
    ]
    caller = client.V1Container(
        name="app",
        image="docker.io/library/python:3.11",
        command=["python", "-c", CALLER],
        args=urls,
        security_context=client.V1SecurityContext(
            run_as_user=65532, read_only_root_filesystem=True
        ),
    )
    core.create_namespaced_pod(
        pod_namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="caller"),
            spec=client.V1PodSpec(automount_service_account_token=False, containers=[caller]),
        ),
    )

    def log() -> str:
        return container_log(process_kubelet, pod_namespace, "caller", "app").read_text()

    eventually(lambda: f"{urls[0]} failed" in log(), what="the caller to find no Service yet")

    env = _env(IDENTITY)
    backend = client.V1Container(
        name="app",
        image="docker.io/library/python:3.11",
        command=["python", "-c", SLOW_TO_STOP],
        args=["0"],
        env=env,
    )
    created = core.create_namespaced_pod(
        pod_namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="backend", labels={"app": "backend"}),
            spec=client.V1PodSpec(automount_service_account_token=False, containers=[backend]),
        ),
    )
    core.create_namespaced_service(
        pod_namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="backend"),
            spec=client.V1ServiceSpec(
                selector={"app": "backend"},
                ports=[client.V1ServicePort(name="http", port=80, target_port=8080)],
            ),
        ),
    )
    answers = [f"{url} answered {created.metadata.uid}" for url in urls]
    eventually(
        lambda: all(answer in log() for answer in answers),
        timeout=60,
        what=f"the backend's answers at {' and '.join(urls)}",
    )
