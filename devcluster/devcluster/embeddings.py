"""The local platform's embeddings provider: all-MiniLM-L6-v2 (`devcluster.minilm`) behind an
OpenAI-compatible `POST /v1/embeddings` and `GET /v1/models`, as a self-hosted embeddings server
answers. A Gateway routes an embedding model to it like to any OpenAI-compatible upstream.

    python -m devcluster.embeddings --host 127.0.0.2 --port 8400

`make demo` runs it where the process kubelet's pods reach this host (`processes.HOST_FOR_PODS`);
the tests and `bench/retrieval.py` run `create_app` in their own processes."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devcluster import minilm

MODEL = "all-MiniLM-L6-v2"


def create_app() -> Starlette:
    model = minilm.load()

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            error = {"message": "input must be a string or a list of strings", "type": "invalid"}
            return JSONResponse({"error": error}, status_code=400)
        vectors = await asyncio.to_thread(lambda: [model.embed(text) for text in texts])
        tokens = sum(model.count_tokens(text) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": n, "embedding": vector}
                    for n, vector in enumerate(vectors)
                ],
                "model": body.get("model", MODEL),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devcluster.embeddings")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
