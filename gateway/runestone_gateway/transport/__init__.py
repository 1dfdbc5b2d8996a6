"""HTTP/1.1 on both sides of the gateway: the API port's server protocol, the upstream client,
TLS serving, server-sent-event framing and inactivity timers.

Rule: imports nothing else of the gateway. What it needs from above comes as plain values or
small protocols (a certificate pair, the ASGI app), so it can be read, tested and replaced on its
own."""
