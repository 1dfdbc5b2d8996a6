"""Typed spec and status of the custom resources (group `runestone.dev`, version `v1alpha1`).

Pure data: pydantic and the standard library only. The CRD YAML is generated from these models,
so the API server validates exactly what the operator parses."""
