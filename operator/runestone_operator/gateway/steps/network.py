"""Step 9: who may reach the pods, and where they are scraped: the metrics Service, the
NetworkPolicy (deleted when `spec.networkPolicy.enabled` is off) and the ServiceMonitor (when
`spec.metrics.serviceMonitor.enabled`; a cluster without its CRD makes the Gateway Degraded,
after everything else was applied)."""

from __future__ import annotations

from runestone_operator.core import conditions, context
from runestone_operator.gateway import names
from runestone_operator.gateway.builders import network, service
from runestone_operator.gateway.context import Context


async def ensure_network(ctx: Context) -> None:
    await ctx.kube.apply(service.metrics_service(ctx.owner))
    if ctx.spec.network_policy.enabled:
        await ctx.kube.apply(network.network_policy(ctx.owner, ctx.spec.network_policy))
    else:
        await context.remove_optional(
            ctx, "networking.k8s.io/v1", "NetworkPolicy", names.network_policy(ctx.name)
        )
    monitor = ctx.spec.metrics.service_monitor
    if not monitor.enabled:
        # Absent, or its CRD is not installed: both read as nothing to delete.
        await context.remove_optional(
            ctx,
            network.SERVICE_MONITOR_GROUP_VERSION,
            "ServiceMonitor",
            names.metrics_service(ctx.name),
        )
        return
    if not await ctx.kube.serves(network.SERVICE_MONITOR_GROUP_VERSION):
        raise context.Blocked(
            conditions.Reason.SERVICE_MONITOR_UNAVAILABLE,
            "metrics.serviceMonitor.enabled is set but the monitoring.coreos.com/v1 API (the "
            "Prometheus Operator's ServiceMonitor CRD) is not installed in this cluster",
        )
    await ctx.kube.apply(network.service_monitor(ctx.owner, monitor))
