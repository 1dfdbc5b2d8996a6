"""The `runestone` command: one entry point, three roles (operator, gateway, sidecar).

It only dispatches; each role's package owns its own options and imports nothing of the others.
"""
