"""Reconciles: read the object, run its ordered steps, report the outcome to the work queue.
Each reconcile is level-based: it computes the whole desired state from what it reads now."""
