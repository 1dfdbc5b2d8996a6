"""OpenAI's Files and Vector Stores, kept in a Weaviate cluster: text extraction, token chunking
and filter translation (pure), the Weaviate client and the records kept there, ingestion, and the
FastAPI app that serves `/v1/files` and `/v1/vector_stores` beside the pure-ASGI hot path. It
embeds through the gateway's own routes; nothing of the hot path imports it."""
