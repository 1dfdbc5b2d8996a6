"""The ProviderPool kind: its model, how it renders into the gateway's config schema (`render`),
how other kinds read it (`reading`, handed to them by the app as a `core.peers.PoolReader`), and
its reconcile, which validates what only the operator can check."""
