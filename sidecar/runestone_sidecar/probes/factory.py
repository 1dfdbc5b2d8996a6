"""Build the probe a Settings asks for."""

from __future__ import annotations

from runestone_sidecar import settings
from runestone_sidecar.probes import base, engines, grpccheck, httpget


def build(config: settings.Settings) -> base.Probe:
    if config.target == "gateway":
        return httpget.HttpProbe(httpget.gateway_readyz(config.url), config.timeout)
    if config.target == "http":
        return httpget.HttpProbe(config.url, config.timeout)
    if config.target == "grpc":
        return grpccheck.GrpcProbe(
            grpccheck.target_from_url(config.url), config.grpc_service, config.timeout
        )
    if config.target == "member":
        return engines.build(config)
    raise settings.SettingsError(f"unknown target {config.target!r}")
