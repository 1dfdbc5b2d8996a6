"""The ordered "ensure X" steps of a VectorCluster reconcile that only a VectorCluster has, one
module each (its TLS, spec keys and status writing use the core's steps). What the database does
comes from the `engine.Engine` each step is given."""
