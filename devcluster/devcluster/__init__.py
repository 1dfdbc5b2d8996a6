"""Runestone's local platform: a real Kubernetes control plane built from pinned Go modules, a
process kubelet that runs pods' containers as real processes on addresses of their own, a volume
provisioner, Redis and Weaviate runners, and the demo that installs the chart on it. It starts
real processes on this host; it never fakes an API. No `runestone_*` package imports it."""
