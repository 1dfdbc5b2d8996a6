"""A real S3-compatible object store: Versity's S3 gateway (`versitygw posix`, built from its
pinned Go module, `versions.VERSITYGW`) serving a directory of the test's own, on a loopback address
of its own, with one root identity whose keys it checks (AWS Signature Version 4) and its buckets
created up front.

Pods reach it there too: the process kubelet makes `127.0.0.1` in a pod's settings mean the pod's
own address, so the store listens on `HOST` instead, which no pod takes for its own, and on that
one port alone (its admin API shares it, behind the same keys; no web UI). The root keys reach it
through its environment, never its command line, where any process listing would show them.

A small signing client (`S3Server.request`) lets a test create buckets and list what a backup
wrote, as any S3 client would."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import os
import secrets
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from devcluster import gobuild, processes, versions

HOST = processes.HOST_FOR_PODS
REGION = "us-east-1"
START_TIMEOUT = 120.0
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def binary() -> Path:
    return gobuild.ensure([versions.VERSITYGW.name])["versitygw"]


@dataclasses.dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = dataclasses.field(repr=False)

    @classmethod
    def generate(cls) -> Credentials:
        return cls("rs" + secrets.token_hex(8), secrets.token_urlsafe(30))


class S3Error(RuntimeError):
    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {detail[:300]}")
        self.status = status


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(
    credentials: Credentials,
    method: str,
    url: str,
    body: bytes = b"",
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """The headers that sign a request with AWS Signature Version 4 (service s3)."""
    moment = now or datetime.datetime.now(datetime.UTC)
    stamp, day = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(parts.path or "/", safe="/-_.~"),
            "&".join(
                f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                for k, v in query
            ),
            "".join(f"{name}:{value}\n" for name, value in sorted(headers.items())),
            ";".join(sorted(headers)),
            payload,
        ]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _sign(("AWS4" + credentials.secret_key).encode(), day)
    for part in (REGION, "s3", "aws4_request"):
        key = _sign(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(sorted(headers))}, Signature={signature}"
    )
    del headers["host"]  # httpx sends it
    return headers


class S3Server:
    """`versitygw posix` over `directory/data`: each bucket a folder there, object metadata in
    extended attributes."""

    def __init__(self, directory: Path, buckets: Sequence[str] = ("backups",)) -> None:
        self.directory = directory
        self.buckets = tuple(buckets)
        self.credentials = Credentials.generate()
        self.port = processes.free_port(HOST)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """What a client (a VectorCluster's `backup.s3.endpoint`, say) connects to."""
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "versitygw.log"

    def _argv(self) -> list[str]:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        return [
            str(binary()),
            f"--port={HOST}:{self.port}",
            f"--region={REGION}",
            "posix",
            str(data),
        ]

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ROOT_ACCESS_KEY_ID": self.credentials.access_key,
            "ROOT_SECRET_ACCESS_KEY": self.credentials.secret_key,
        }

    def start(self) -> None:
        """Start the server, wait until it answers a signed request, create the buckets."""
        if self.process is not None and self.process.poll() is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = self._argv()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, env=self._env()
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"versitygw exited:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"versitygw did not start:\n{self._log_tail()}")
            time.sleep(0.5)
        for bucket in self.buckets:
            self.request("PUT", f"/{bucket}")

    def _ready(self) -> bool:
        """The gateway answers, and lists the buckets for our identity."""
        try:
            self.request("GET", "/")
        except (httpx.HTTPError, S3Error):
            return False
        return True

    def _log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: bytes = b"",
        credentials: Credentials | None = None,
    ) -> httpx.Response:
        """A signed request (with `credentials`, by default the server's own identity); raises
        `S3Error` on any answer but 2xx."""
        query = urllib.parse.urlencode(sorted((params or {}).items()))
        url = f"{self.endpoint}{path}" + (f"?{query}" if query else "")
        headers = signed_headers(credentials or self.credentials, method, url, body)
        response = httpx.request(method, url, content=body, headers=headers, timeout=30)
        if response.status_code >= 300:
            raise S3Error(method, path, response.status_code, response.text)
        return response

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under `prefix` (ListObjectsV2, page by page)."""
        found: list[str] = []
        params = {"list-type": "2", "prefix": prefix}
        while True:
            listing = self.request("GET", f"/{bucket}", params).content
            answer = ElementTree.fromstring(listing)  # noqa: S314 - the test store's own answer
            found += [node.text or "" for node in answer.iter(f"{_S3_NS}Key")]
            token = answer.findtext(f"{_S3_NS}NextContinuationToken")
            if answer.findtext(f"{_S3_NS}IsTruncated") != "true" or not token:
                return found
            params = {**params, "continuation-token": token}

    def stop(self) -> None:
        if self.process is not None:
            processes.stop(self.process, grace=30)
