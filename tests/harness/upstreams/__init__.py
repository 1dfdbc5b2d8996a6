"""Stand-ins for upstream LLM providers: real HTTP servers on loopback that speak the OpenAI and
Anthropic wire formats (streaming included), with behaviours a test controls and a record of what
they received and saw (requests, client disconnects)."""
