"""HTTP/1.1 on both sides of the gateway: the API port's server protocol, the upstream client,
TLS serving, server-sent-event framing and inactivity timers."""
