"""The Runestone gateway: an OpenAI-compatible ASGI app in front of provider pools.

It never imports the operator; the operator imports only its config schema."""
