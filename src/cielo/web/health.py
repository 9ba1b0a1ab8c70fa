"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.services import services
from cielo.web.http import JSONResponse
from cielo.web.middleware import RETRY_AFTER_S

router = APIRouter(tags=["Health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="The database (and Redis, when configured) answer")
async def readyz(request: Request) -> Response:
    """503 ``unavailable`` without the database; 200 ``degraded`` when only Redis is away (the
    service still answers, its limits counted in each process: API.md §2), else ``ready``."""
    found = services(request)
    checks = {"database": await found.db.ping()}
    redis = await found.limiter.ready()
    if redis is not None:
        checks["redis"] = redis
    if not checks["database"]:
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})
    return JSONResponse({"status": "ready" if all(checks.values()) else "degraded", "checks": checks})
