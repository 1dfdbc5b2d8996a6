"""The Runestone gateway: an OpenAI-compatible ASGI app in front of provider pools.

It never imports the operator; the operator imports only its config schema (`config`) and key
format (`apikeys`). Packages are layers, each importing only those below it (pyproject.toml's
import-linter contracts check this):

    process     the process: config loading and reloads, serving state, servers, workers, CLI
    api         the OpenAI-compatible ASGI app, request checks, token estimates, streaming relay
    telemetry   metrics, the access log, and counting each answered request into both
    failover    routing within a pool, failover across tiers, circuit breakers
    admission   API keys, per-key limits and their stores, budgets (beside failover, not above)
    providers   upstreams behind one interface, constructed by provider type from a table
    config, apikeys, errors   the schema, the key format and the error envelope every layer uses
    transport   HTTP/1.1 server and client, TLS serving, SSE framing, inactivity timers
"""
