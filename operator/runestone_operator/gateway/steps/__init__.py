"""The ordered "ensure X" steps of a Gateway reconcile that only a Gateway has, one module each
(its TLS, keys and status use the core's steps). A step either makes its part of the desired
state true or raises `core.context.Blocked`."""
