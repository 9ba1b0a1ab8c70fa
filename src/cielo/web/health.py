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
    checks = {"database": await services(request).db.ping()}
    redis = services(request).redis
    if redis is not None:
        try:
            checks["redis"] = bool(await redis.ping())
        except Exception:
            checks["redis"] = False
    if all(checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_S)})
