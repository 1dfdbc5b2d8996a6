"""What the gateway reports: Prometheus metrics, the access log, and the counting of each
answered request into both."""
