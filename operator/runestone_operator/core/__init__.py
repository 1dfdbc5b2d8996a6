"""The core every kind shares: API access (`kube`, the one module that talks to the API server),
the work queue, conditions, events, the reconcile context, object metadata, PKI and key plans,
the steps every kind runs (TLS, keys, status) and the one list of custom-resource kinds.

It imports no kind. A kind that needs another kind's objects reads them through `peers`, whose
reader the app hands to it."""
