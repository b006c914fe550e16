"""The HTTP API. Installed as `rag_api` (not `api`, a name other distributions also use)."""
