"""Who a request comes from and whether it may go now: API keys, per-key limits, the stores
that keep their counters (in process, or in Redis), and budgets."""
