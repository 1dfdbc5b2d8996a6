"""Translations between OpenAI Chat Completions, OpenAI Responses and Anthropic Messages: requests,
whole answers, streams, usage and prompt-token estimates, as pure functions over parsed JSON.

Its rule: it imports the standard library, orjson and typing only, never another module of
runestone_gateway, so the API layer above can call it from any layout and its tests need nothing
but the SDKs' own types. Bad input raises `checks.TranslationError` naming the field."""
