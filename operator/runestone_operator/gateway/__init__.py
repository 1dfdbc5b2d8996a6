"""The Gateway kind: its model, names, pure builders, ordered steps and reconcile. It reads the
ProviderPools it names through `core.peers`, never by importing that kind."""
