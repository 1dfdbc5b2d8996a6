"""Pure manifest builders: typed values in, Kubernetes manifests (plain dicts) out.

No I/O, no clock, no randomness, no kopf and no Kubernetes client (an import-linter contract checks
it); the same inputs always give the same manifest, so applying it again changes nothing."""
