"""Upstream providers behind one interface: a call in OpenAI shape, an answer in OpenAI shape.

Each provider owns its pooled HTTP session; translation to other wire formats lives in modules of
its own so it can be tested without a network.

Rule: imports only the shared schema and errors, and transport (the upstream HTTP/1.1 client,
SSE framing)."""
