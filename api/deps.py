"""Dependencies: the pipeline, the settings, and the optional bearer-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from rag.config import Settings
from rag.pipeline import Pipeline


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]


def _bearer_matches(request: Request, listed: str) -> bool:
    keys = [k.strip() for k in listed.split(",") if k.strip()]
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compare against every key, each in constant time, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.strip().encode(), key.encode())
    return scheme.lower() == "bearer" and matched


def require_api_key(request: Request, settings: SettingsDep) -> None:
    """With RAG_API_KEYS set, /v1/* needs `Authorization: Bearer <one of them>`."""
    if settings.api_keys is None:
        return
    if not _bearer_matches(request, settings.api_keys.get_secret_value()):
        raise HTTPException(401, "missing or invalid API key: send `Authorization: Bearer <key>`",
                            headers={"WWW-Authenticate": "Bearer"})


def require_feed_writer(request: Request, settings: SettingsDep) -> None:
    """With RAG_API_KEYS set, adding, removing and refreshing feeds (which make the server fetch
    URLs) also needs the key to be in RAG_API_FEED_KEYS (issue 27, row 12)."""
    if settings.api_keys is None:
        return
    feed_keys = settings.api_feed_keys.get_secret_value() if settings.api_feed_keys else ""
    if not _bearer_matches(request, feed_keys):
        raise HTTPException(403, "this key may not change or refresh feeds: list it in RAG_API_FEED_KEYS")
