"""Probes: each asks one kind of workload whether it can serve, and answers with a ProbeResult.
A probe never raises for anything the target does; a broken answer is a failure with a reason."""
