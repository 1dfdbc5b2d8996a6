"""Generic HTTP probes (2xx means ready) and the gateway's `/readyz`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from runestone_sidecar import conditions, httpclient
from runestone_sidecar.probes import base


@dataclass(frozen=True)
class HttpProbe:
    url: str
    timeout: float

    @property
    def describe(self) -> str:
        return f"GET {self.url}"

    async def check(self) -> base.ProbeResult:
        try:
            response = await httpclient.request("GET", self.url, time_limit=self.timeout)
        except httpclient.TransportError as error:
            return base.from_transport(self.describe, error)
        answered = f"{self.describe} answered {response.status}"
        if 200 <= response.status < 300:
            return base.success(answered)
        detail = response.text()
        message = f"{answered}: {detail}" if detail else answered
        return base.failure(conditions.TARGET_NOT_READY, message)


def gateway_readyz(url: str) -> str:
    """The gateway's readiness URL: the given one, or `/readyz` on it when it names no path."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path="/readyz"))
    return url
