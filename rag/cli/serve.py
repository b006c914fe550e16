from __future__ import annotations

import os

import click

from rag.cli.common import load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Several workers need RAG_CHROMA_URL (embedded Chroma is one process only).")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (see /docs for the OpenAPI document)."""
    import uvicorn

    if workers > 1 and not load_settings().chroma_url:
        raise click.ClickException("--workers > 1 needs a Chroma server: set RAG_CHROMA_URL")
    os.environ["RAG_API_BOUND_HOST"] = host  # the app (in each worker) checks Host against it (DNS rebinding)
    settings = load_settings()
    try:
        import httptools  # noqa: F401

        http = "rag_api.server:ReadTimeoutHttp"  # times out clients that trickle their headers
    except ImportError:
        http = "auto"
    # Idle keep-alive connections close after 5 s; past RAG_API_MAX_CONNECTIONS open connections or
    # requests, new requests get 503 at once (docs/RELIABILITY.md).
    uvicorn.run("rag_api.main:create_app", factory=True, host=host, port=port, workers=workers, http=http,
                timeout_keep_alive=5, limit_concurrency=settings.api_max_connections,
                h11_max_incomplete_event_size=64 * 1024)
