"""Pure manifest builders every kind uses: typed values in, Kubernetes manifests (plain dicts) out.

No I/O, no clock, no randomness, no kopf and no Kubernetes client (an import-linter contract checks
it, here and in each kind's `builders`); the same inputs always give the same manifest, so applying
it again changes nothing."""
