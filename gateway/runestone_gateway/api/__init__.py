"""The OpenAI-compatible API: the ASGI app, request checks, token estimates, the streaming relay
and the ASGI helpers they share.

Rule: imports every layer below it, never the process. What it serves from (the current config
generation, the process's ledger) is typed as protocols in `app`, which the process fulfils."""
