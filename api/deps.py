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


def require_api_key(request: Request, settings: SettingsDep) -> None:
    """With RAG_API_KEYS set, /v1/* needs `Authorization: Bearer <one of them>`."""
    if settings.api_keys is None:
        return
    keys = [k.strip() for k in settings.api_keys.get_secret_value().split(",") if k.strip()]
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compare against every key, each in constant time, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.strip().encode(), key.encode())
    if scheme.lower() != "bearer" or not matched:
        raise HTTPException(401, "missing or invalid API key: send `Authorization: Bearer <key>`",
                            headers={"WWW-Authenticate": "Bearer"})
