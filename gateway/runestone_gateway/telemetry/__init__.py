"""What the gateway reports: Prometheus metrics, the access log, and the counting of each
answered request into both.

Rule: imports failover, admission and what is below them; never the API or the process."""
