"""HTTPS on the API port from the certificate and key files the config names (`server.tls`).

One `ssl.SSLContext` serves every connection; when the files change (a rotated Secret), the new
pair is loaded into that same context, so new connections get the new certificate while open ones
carry on, and nothing restarts. A pair that does not load (half-written, key not matching) is
logged and the previous certificate keeps serving until a good pair appears. Switching TLS on or
off needs a restart: the listening socket's protocol is fixed when it starts serving."""

from __future__ import annotations

import hashlib
import logging
import ssl
from pathlib import Path
from typing import Protocol

log = logging.getLogger("runestone.gateway.tls")


class Pair(Protocol):
    """A certificate chain and its private key, by file (the config's `server.tls` is one)."""

    @property
    def cert_file(self) -> str: ...

    @property
    def key_file(self) -> str: ...


class TlsError(Exception):
    """The certificate or key cannot be used. The message names files, never their content."""


class Certificates:
    def __init__(self, tls: Pair) -> None:
        self.tls = tls
        self.context = _context()
        self._fingerprint = ""
        self._load(tls)

    def refresh(self, tls: Pair | None) -> bool:
        """Load the pair again if its files changed; True when a new pair went live."""
        if tls is None:
            log.warning("server.tls was removed; HTTPS stays on until the gateway restarts")
            return False
        if tls == self.tls and _fingerprint(tls) == self._fingerprint:
            return False
        try:
            self._load(tls)
        except TlsError as error:
            log.error("%s; the previous certificate keeps serving", error)
            return False
        log.info("loaded the serving certificate from %s", tls.cert_file)
        return True

    def _load(self, tls: Pair) -> None:
        fingerprint = _fingerprint(tls)
        # A failed load can leave a context half-changed (new certificate, old key), so the pair
        # is tried on a scratch context before the serving one takes it.
        _load_pair(_context(), tls)
        _load_pair(self.context, tls)
        self.tls = tls
        self._fingerprint = fingerprint


def _context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _load_pair(context: ssl.SSLContext, tls: Pair) -> None:
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
        raise TlsError(
            f"cannot load the certificate {tls.cert_file} with the key {tls.key_file}: {reason}"
        ) from None


def check(tls: Pair) -> None:
    """Raise TlsError when the pair cannot serve."""
    Certificates(tls)


def _fingerprint(tls: Pair) -> str:
    digest = hashlib.sha256()
    for path in (tls.cert_file, tls.key_file):
        try:
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()
