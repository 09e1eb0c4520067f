"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from app.core import db

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers within two seconds."""
    try:
        await asyncio.wait_for(db.ping(request.app.state.db), READINESS_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("not ready: database check failed", extra={"error": repr(exc)})
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": "failing"}},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse({"status": "ok", "checks": {"database": "ok"}})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of the service's RED metrics."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
