"""Which provider serves a request: routing within a pool's tiers, failover from tier to tier,
and the circuit breakers that stop calling a failing provider."""
