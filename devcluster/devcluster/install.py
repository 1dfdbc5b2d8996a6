"""Putting the quickstart on a cluster and watching it come up: the Helm chart installed with
values for this host, the example applied, the operator, gateway and Weaviate members followed
with progress lines, a crash-looping container reported with its log, and the endpoint and key a
user calls. `make demo` (devcluster.demo) and the e2e tests both use these on their cluster and
process kubelet."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster import chart, storage
from devcluster.kube import exists
from devcluster.kubelet import runner
from runestone_operator.gateway import names
from runestone_operator.vectorcluster import names as vectornames

SYSTEM_NAMESPACE = chart.NAMESPACE
DEMO_NAMESPACE = "runestone-demo"
QUICKSTART = chart.EXAMPLES / "quickstart.yaml"
GATEWAY = "quickstart"
KEY = "demo"
VECTOR_CLUSTER = "docs"
CHAT_MODEL = "mock-chat"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
OPERATOR_LABELS = "app.kubernetes.io/name=runestone,app.kubernetes.io/component=operator"


def say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


# -- installing and following the quickstart ---------------------------------------------------


def ensure_namespace(api: client.ApiClient, name: str) -> None:
    """Create `name` (if missing) labelled so that the process kubelet runs its pods."""
    core = client.CoreV1Api(api)
    labels = {runner.NAMESPACE_LABEL: "true", "app.kubernetes.io/part-of": "runestone"}
    try:
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
        )
    except ApiException as error:
        if error.status != 409:
            raise
        core.patch_namespace(name, {"metadata": {"labels": labels}})
    # The ServiceAccount admission plugin refuses pods until the namespace's default account
    # exists.
    account = core.read_namespaced_service_account
    wait(f"namespace {name}", lambda: exists(account, "default", name))


def set_default_storage_class(api: client.ApiClient, default: bool) -> None:
    """Make the local StorageClass the cluster's default (or stop it being the default), so
    that the quickstart's VectorCluster, which names no class, gets volumes as on a real
    cluster."""
    storage.ensure_storage_class(api)
    value = "true" if default else None
    body = {"metadata": {"annotations": {DEFAULT_CLASS_ANNOTATION: value}}}
    client.StorageV1Api(api).patch_storage_class(storage.STORAGE_CLASS, body)


def install_chart(
    kubeconfig: Path,
    namespace: str,
    values: Mapping[str, Any],
    values_file: Path,
    release: str = chart.RELEASE,
) -> None:
    """`helm upgrade --install` the chart (CRDs, RBAC, operator) into `namespace`."""
    values_file.write_text(yaml.safe_dump(dict(values), sort_keys=False))
    command: list[str | Path] = [chart.helm_binary(), "upgrade", "--install", release, chart.CHART]
    command += ["--namespace", namespace, "--values", values_file, "--timeout", "5m"]
    # The chart owns its CRDs: on a cluster where they were applied before by another hand
    # (kubectl, the test suite), the chart's server-side apply takes their fields over.
    command += ["--server-side", "true", "--force-conflicts"]
    chart.run(command, kubeconfig=kubeconfig)


def uninstall_chart(kubeconfig: Path, namespace: str, release: str = chart.RELEASE) -> None:
    command: list[str | Path] = [chart.helm_binary(), "uninstall", release, "-n", namespace]
    command += ["--ignore-not-found", "--wait", "--timeout", "2m"]
    chart.run(command, kubeconfig=kubeconfig)


def kubectl(kubeconfig: Path, *args: str) -> str:
    return chart.run([chart.kubectl_binary(), *args], kubeconfig=kubeconfig).stdout


def apply_quickstart(kubeconfig: Path, namespace: str) -> str:
    """`kubectl apply` the quickstart example, as its header tells a user to."""
    return kubectl(kubeconfig, "apply", "--namespace", namespace, "--filename", str(QUICKSTART))


QUICKSTART_MINILM = QUICKSTART.with_name("quickstart-minilm.yaml")
EMBEDDINGS_PORT = 8400
"""Where `make demo` serves the real embedding model (on `processes.HOST_FOR_PODS`), as
quickstart-minilm.yaml's ProviderPool names it."""
MINILM_PATCH = {
    "spec": {
        "providerPools": [{"name": "mock"}, {"name": "minilm"}],
        "vectorStores": {"embeddingModel": "minilm"},
    }
}


def embed_with_minilm(kubeconfig: Path, namespace: str) -> str:
    """The quickstart Gateway embeds with the real model: its pool applied, the Gateway patched,
    as quickstart-minilm.yaml's header tells a user to."""
    applied = kubectl(
        kubeconfig, "apply", "--namespace", namespace, "--filename", str(QUICKSTART_MINILM)
    )
    patch = json.dumps(MINILM_PATCH)
    patched = kubectl(
        kubeconfig, "patch", "--namespace", namespace, f"gateways.runestone.dev/{GATEWAY}",
        "--type", "merge", "--patch", patch,
    )  # fmt: skip
    return applied + patched


def operator_pod(api: client.ApiClient, namespace: str) -> Any | None:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=OPERATOR_LABELS)
    running = [p for p in pods.items if p.metadata.deletion_timestamp is None]
    return running[0] if running else None


def operator_health(api: client.ApiClient, namespace: str, port: int = 8080) -> dict[str, Any]:
    """The liveness report of the operator pod, read at the pod's address; raises until then."""
    pod = operator_pod(api, namespace)
    if pod is None or not pod.status.pod_ip:
        raise LookupError("the operator pod has no address yet")
    url = f"http://{pod.status.pod_ip}:{port}/healthz"
    with urllib.request.urlopen(url, timeout=3) as response:
        report: dict[str, Any] = json.loads(response.read())
        return report


def gateway_pods(api: client.ApiClient, namespace: str, gateway: str = GATEWAY) -> list[Any]:
    selector = ",".join(f"{k}={v}" for k, v in names.gateway_selector(gateway).items())
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def pod_conditions(pod: Any) -> dict[str, str]:
    return {c.type: c.status for c in pod.status.conditions or []}


def gateway_progress(api: client.ApiClient, namespace: str, gateway: str = GATEWAY) -> str | None:
    """None once every gateway pod is Ready through its gate; otherwise what is missing."""
    pods = gateway_pods(api, namespace, gateway)
    if not pods:
        return f"gateway {gateway}: no pods yet"
    waiting = []
    for pod in pods:
        conditions = pod_conditions(pod)
        gate = conditions.get(names.GATEWAY_READY_GATE, "not set")
        if conditions.get("Ready") != "True" or gate != "True":
            waiting.append(
                f"{pod.metadata.name} containers={conditions.get('ContainersReady', '-')} "
                f"gate={gate} ready={conditions.get('Ready', '-')}"
            )
    if not waiting:
        return None
    return f"gateway {gateway}: {len(pods) - len(waiting)}/{len(pods)} ready ({'; '.join(waiting)})"


def _custom(api: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "runestone.dev", "v1alpha1", namespace, plural, name
    )
    return found


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            found: dict[str, Any] = item
            return found
    return None


def resource_progress(api: client.ApiClient, namespace: str, plural: str, name: str) -> str | None:
    """None once the object is Ready for its current generation; otherwise its state."""
    try:
        obj = _custom(api, namespace, plural, name)
    except ApiException as error:
        if error.status == 404:
            return f"{plural} {name}: not created yet"
        raise
    status = obj.get("status") or {}
    ready = condition(obj, "Ready")
    current = status.get("observedGeneration") == obj["metadata"]["generation"]
    if ready is not None and ready.get("status") == "True" and current:
        return None
    members = ""
    if plural == "vectorclusters":
        members = f" {status.get('readyReplicas') or 0}/{obj['spec'].get('replicas')} members,"
    detail = f"{ready.get('reason')}: {ready.get('message')}" if ready else "no status yet"
    return f"{plural} {name}:{members} {detail}"[:200]


def link_progress(api: client.ApiClient, namespace: str, gateway: str = GATEWAY) -> str | None:
    """None once the gateway's link to its VectorCluster is usable (`VectorStoreReady`) and its
    Deployment has rolled onto the key and CA it mounts for it; otherwise what is missing."""
    try:
        obj = _custom(api, namespace, "gateways", gateway)
    except ApiException as error:
        if error.status == 404:
            return f"gateway {gateway}: not created yet"
        raise
    link = condition(obj, "VectorStoreReady")
    if link is None or link.get("status") != "True":
        detail = f"{link.get('reason')}: {link.get('message')}" if link else "not judged yet"
        return f"gateway {gateway} vector stores: {detail}"[:200]
    deployment = client.AppsV1Api(api).read_namespaced_deployment(gateway, namespace)
    status, wanted = deployment.status, deployment.spec.replicas
    rolled = (
        (status.observed_generation or 0) >= (deployment.metadata.generation or 0)
        and (status.updated_replicas or 0) == wanted
        and (status.replicas or 0) == wanted
    )
    return None if rolled else f"gateway {gateway}: rolling onto its vector-store mounts"


def quickstart_progress(api: client.ApiClient, namespace: str) -> list[str]:
    """What still keeps the quickstart from being ready (empty once everything is)."""
    checks = (
        resource_progress(api, namespace, "providerpools", "mock"),
        resource_progress(api, namespace, "gateways", GATEWAY),
        gateway_progress(api, namespace),
        resource_progress(api, namespace, "vectorclusters", VECTOR_CLUSTER),
        link_progress(api, namespace),
    )
    return [line for line in checks if line]


_EXITED = re.compile(r" (\S+)/(\S+)\[(\S+)\] exited with (\S+); restarting")


def check_not_crashing(
    kubelet_log: Path, pods_dir: Path, namespaces: Sequence[str], limit: int = 3
) -> None:
    """Raise, with the container's last log lines, once a container of `namespaces` has exited
    `limit` times: waiting longer for it would only wait out a crash loop."""
    if not kubelet_log.exists():
        return
    exits: dict[tuple[str, str, str], int] = {}
    for match in _EXITED.finditer(kubelet_log.read_text(errors="replace")):
        namespace, pod, container, _ = match.groups()
        if namespace in namespaces:
            exits[(namespace, pod, container)] = exits.get((namespace, pod, container), 0) + 1
    crashing = []
    for (namespace, pod, container), count in exits.items():
        if count >= limit:
            logs = sorted((pods_dir / namespace).glob(f"{pod}-*/{container}.log"))
            tail = logs[-1].read_text(errors="replace").splitlines()[-3:] if logs else []
            crashing.append(f"{pod}[{container}] exited {count} times: " + " | ".join(tail))
    if crashing:
        raise RuntimeError("crash loop: " + "; ".join(crashing))


def log_tails(kubelet_log: Path, pods_dir: Path, namespaces: Sequence[str], lines: int = 30) -> str:
    """The last lines of the kubelet's log and of every container log in `namespaces`."""
    logs = [kubelet_log]
    for namespace in namespaces:
        logs += sorted((pods_dir / namespace).glob("*/*.log"))
    parts = []
    for log in logs:
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            parts.append(f"===== {log.parent.name}/{log.name}\n{tail}")
    return "\n".join(parts)


def wait_for(
    what: str,
    progress: Callable[[], list[str]],
    timeout: float,
    report_every: float = 10,
    say: Callable[[str], None] = say,
) -> None:
    """Poll `progress` until it reports nothing left, printing what is left now and then."""
    started = time.monotonic()
    last_report, last_left = started, [""]
    while True:
        try:
            left = progress()
        except (ApiException, OSError, LookupError, ValueError) as error:
            left = [f"{type(error).__name__}: {error}"[:200]]
        now = time.monotonic()
        if not left:
            say(f"{what}: done in {now - started:.0f}s")
            return
        if now - started > timeout:
            raise TimeoutError(f"{what}: still waiting after {timeout:.0f}s: " + "; ".join(left))
        # Report what changed at once, and the same state again only now and then.
        if now - last_report >= report_every and (left != last_left or now - last_report >= 60):
            last_report, last_left = now, left
            say(f"{what} ({now - started:.0f}s): " + "; ".join(left))
        time.sleep(1)


def wait_for_operator(
    api: client.ApiClient,
    namespace: str,
    timeout: float = 180,
    kubelet_log: Path | None = None,
    pods_dir: Path | None = None,
) -> None:
    def progress() -> list[str]:
        if kubelet_log is not None and pods_dir is not None:
            check_not_crashing(kubelet_log, pods_dir, [namespace])
        operator_health(api, namespace)
        return []

    wait_for("operator (the chart's Deployment, run by the process kubelet)", progress, timeout)


def issued_key(
    api: client.ApiClient, namespace: str, gateway: str = GATEWAY, key: str = KEY
) -> str:
    """The plaintext key the operator issued into the key's Secret."""
    secret = client.CoreV1Api(api).read_namespaced_secret(names.key_secret(gateway, key), namespace)
    return base64.b64decode((secret.data or {})["api-key"]).decode()


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """How a client on this host reaches a gateway pod: at the pod's address (there is
    no kube-proxy here), over HTTPS when the gateway serves it, verifying the certificate
    against the operator's CA and the Service's DNS name."""

    base_url: str
    api_key: str
    ca_file: Path | None = None
    server_name: str | None = None
    """The name the certificate is verified against (the URL names the pod by address)."""

    @property
    def address(self) -> str:
        return self.base_url.split("://", 1)[1].split("/", 1)[0]

    def curl(self, path: str, body: str) -> str:
        """A curl command line for `path` (e.g. /chat/completions) with a JSON body."""
        url = f"{self.base_url}{path}"
        tls = ""
        if self.server_name is not None:
            host, port = self.address.rsplit(":", 1)
            url = f"https://{self.server_name}:{port}/v1{path}"
            tls = f"--cacert {self.ca_file} --resolve {self.server_name}:{port}:{host} "
        return (
            f"curl -s {tls}{url} -H 'Authorization: Bearer {self.api_key}' \\\n"
            f"    -H 'Content-Type: application/json' -d '{body}'"
        )

    def _client_lines(self, imports: Sequence[str] = ()) -> list[str]:
        """A script's start: its standard-library `imports`, then `client`, an `OpenAI` client
        of this endpoint."""
        client_args = f'base_url="{self.base_url}", api_key="{self.api_key}"'
        if self.server_name is None:
            head = [*imports, ""] if imports else []
            return [*head, "from openai import OpenAI", "", f"client = OpenAI({client_args})"]
        return [
            *sorted([*imports, "import ssl"]),
            "",
            "from openai import DefaultHttpxClient, OpenAI",
            "",
            "",
            "# The URL names the pod by address; the certificate names its Service.",
            "def verify_as_service(request):",
            f'    request.extensions["sni_hostname"] = "{self.server_name}"',
            "",
            "",
            "tls = DefaultHttpxClient(",
            f'    verify=ssl.create_default_context(cafile="{self.ca_file}"),',
            '    event_hooks={"request": [verify_as_service]},',
            ")",
            f"client = OpenAI({client_args}, http_client=tls)",
        ]

    def sdk_script(self, model: str = CHAT_MODEL) -> str:
        """A Python script that asks the gateway for one chat completion with the openai SDK."""
        lines = [
            *self._client_lines(),
            "reply = client.chat.completions.create(",
            f'    model="{model}", messages=[{{"role": "user", "content": "Hello"}}]',
            ")",
            "print(reply.choices[0].message.content)",
        ]
        return "\n".join(lines) + "\n"

    def retrieval_script(self, model: str = CHAT_MODEL) -> str:
        """A Python script that uploads a file into a new vector store, searches it and asks a
        question with the `file_search` tool, printing the search's best file and the file the
        answer cites."""
        lines = [
            *self._client_lines(imports=["import io"]),
            "",
            'notes = b"A Gateway keeps its files and vector stores in its VectorCluster."',
            'store = client.vector_stores.create(name="demo notes")',
            "attached = client.vector_stores.files.upload_and_poll(",
            '    vector_store_id=store.id, file=("runestone-notes.md", io.BytesIO(notes))',
            ")",
            'print("ingested:", attached.status)',
            'hits = client.vector_stores.search(store.id, query="Where are vector stores kept?")',
            'print("search:", hits.data[0].filename)',
            "answer = client.responses.create(",
            f'    model="{model}",',
            '    input="Where does Runestone keep vector stores?",',
            '    tools=[{"type": "file_search", "vector_store_ids": [store.id]}],',
            ")",
            'print("answer:", answer.output_text)',
            "cited = [",
            "    note.filename",
            "    for item in answer.output",
            '    if item.type == "message"',
            "    for part in item.content",
            '    for note in getattr(part, "annotations", [])',
            '    if note.type == "file_citation"',
            "]",
            'print("cited:", ", ".join(cited))',
        ]
        return "\n".join(lines) + "\n"

    def vector_store_progress(self) -> list[str]:
        """Empty once the gateway answers the vector-store API; otherwise its answer.
        `VectorStoreReady` says the link is usable and its config written; the pod's gateway
        takes that config at its next reload check, after the kubelet has refreshed the mounted
        file, seconds later."""
        import openai

        with self.openai_client() as sdk:
            try:
                sdk.vector_stores.list(limit=1)
            except openai.APIStatusError as error:
                return [f"gateway vector stores: {error.status_code} {error.message}"[:200]]
            except openai.APIConnectionError as error:
                return [f"gateway vector stores: {error}"[:200]]
        return []

    def openai_client(self, api_key: str | None = None) -> Any:
        """An `openai.OpenAI` client for this endpoint (another key when given)."""
        import openai

        http_client = None
        if self.server_name is not None:
            server_name = self.server_name

            def verify_as_service(request: Any) -> None:
                request.extensions["sni_hostname"] = server_name

            http_client = openai.DefaultHttpxClient(
                verify=ssl.create_default_context(cafile=str(self.ca_file)),
                event_hooks={"request": [verify_as_service]},
            )
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or self.api_key,
            http_client=http_client,
            max_retries=0,
        )


def serves_tls(address: str) -> bool:
    """Whether the listener at host:port completes a TLS handshake (certificate not checked)."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only asking whether it speaks TLS at all
    try:
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=None),
        ):
            return True
    except (ssl.SSLError, OSError):
        return False


def gateway_endpoint(
    api: client.ApiClient, namespace: str, ca_folder: Path, gateway: str = GATEWAY, key: str = KEY
) -> Endpoint:
    """Where and how to call a ready gateway with one of its issued keys."""
    pods = [p for p in gateway_pods(api, namespace, gateway) if p.status.pod_ip]
    if not pods:
        raise LookupError(f"gateway {gateway} has no pod with an address")
    address = f"{pods[0].status.pod_ip}:{names.API_PORT}"
    api_key = issued_key(api, namespace, gateway, key)
    if not serves_tls(address):
        return Endpoint(f"http://{address}/v1", api_key)
    ca = client.CoreV1Api(api).read_namespaced_secret(names.ca_secret(gateway), namespace)
    ca_file = ca_folder / f"{gateway}-ca.crt"
    ca_file.write_bytes(base64.b64decode((ca.data or {})["ca.crt"]))
    server_name = f"{gateway}.{namespace}.svc"
    return Endpoint(f"https://{address}/v1", api_key, ca_file, server_name)


def vector_members(api: client.ApiClient, namespace: str, cluster_name: str) -> list[str]:
    selector = vectornames.label_selector(cluster_name)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return sorted(f"{p.metadata.name}={p.status.pod_ip}" for p in pods if p.status.pod_ip)


def _indented(script: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in script.splitlines())


def snippet(
    endpoint: Endpoint, script: Path, retrieval: Path, kubeconfig: Path, namespace: str
) -> str:
    body = '{"model": "' + CHAT_MODEL + '", "messages": [{"role": "user", "content": "Hello"}]}'
    return f"""
Runestone is running. Gateway `{GATEWAY}` in namespace {namespace} answers at {endpoint.address},
its pod's address (this host does not resolve cluster names), with the key the operator
issued into Secret {names.key_secret(GATEWAY, KEY)}.

curl:

    {endpoint.curl("/chat/completions", body)}

OpenAI SDK ({script}, run with {sys.executable}):

{_indented(endpoint.sdk_script())}

Files, a vector store, search and file_search, kept in VectorCluster {VECTOR_CLUSTER} ({retrieval}):

{_indented(endpoint.retrieval_script())}

Look around:

    export KUBECONFIG={kubeconfig}
    {chart.kubectl_binary()} get rspp,rsgw,rsvc,pods -n {namespace}

Stop it all: make demo-down
"""


def wait(what: str, check: Callable[[], bool], timeout: float = 60, strict: bool = True) -> None:
    """Poll `check` until it holds; past `timeout`, raise (strict) or give up quietly."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            if not strict:
                return
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)
