"""Who a request comes from and whether it may go now: API keys, per-key limits, the stores
that keep their counters (in process, or in Redis), and budgets.

Rule: imports only providers, the shared schema and errors, and transport; never failover,
telemetry or anything above. The metrics it counts into are a protocol (`limits.Meters`)."""
