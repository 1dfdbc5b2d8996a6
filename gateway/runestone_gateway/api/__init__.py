"""The OpenAI-compatible API: the ASGI app, request checks, token estimates, the streaming relay
and the ASGI helpers they share."""
