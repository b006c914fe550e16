from __future__ import annotations

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
    uvicorn.run("rag_api.main:create_app", factory=True, host=host, port=port, workers=workers)
