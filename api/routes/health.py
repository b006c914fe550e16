from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rag.datadir import data_dir_problem
from rag_api.deps import PipelineDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: embedder loaded, store reachable, LLM reachable when configured",
            responses={503: {"description": "a check failed; `checks` says which"}})
def readyz(pipeline: PipelineDep, settings: SettingsDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        pipeline.embedder.embed(["ready"])
        checks["embedder"] = "ok"
    except Exception as exc:  # a probe reports, it does not raise
        checks["embedder"] = f"failed: {type(exc).__name__}"
    problem = data_dir_problem(settings)  # a data folder that is a file or read-only, said plainly
    try:
        pipeline.count_articles()
        checks["store"] = problem or "ok"
    except Exception as exc:
        checks["store"] = problem or f"unreachable: {type(exc).__name__}: {str(exc)[:200]}"
    # Not a failure: a new replica answers from the dense side while its BM25 index loads.
    try:
        checks["lexical"] = pipeline.index_status()
    except Exception as exc:
        checks["lexical"] = problem or f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    if settings.llm_model:
        try:
            checks["llm"] = "ok" if pipeline.llm.ping() else "unreachable"
        except Exception as exc:
            checks["llm"] = f"misconfigured: {exc}"
    else:
        checks["llm"] = "not configured (extractive answers)"
    ready = all(v.startswith(("ok", "not configured", "loading")) for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)
