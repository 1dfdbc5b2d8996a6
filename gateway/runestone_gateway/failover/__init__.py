"""Which provider serves a request: routing within a pool's tiers, failover from tier to tier,
and the circuit breakers that stop calling a failing provider.

Rule: imports only providers, the shared schema and errors, and transport; never admission,
telemetry or anything above."""
