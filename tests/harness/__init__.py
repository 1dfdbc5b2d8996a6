"""Test harness: builds and runs the real components the tests use (Kubernetes control plane,
kwok nodes, Redis, Weaviate). It starts real processes on loopback; it never fakes an API."""
