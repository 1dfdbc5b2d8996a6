"""The Runestone health sidecar: probes its pod's workload and reports the result into the pod's
readiness-gate condition through pods/status. It imports neither the operator nor the gateway."""
