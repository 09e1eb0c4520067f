"""The FastAPI application of the products service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.api.main import api_router
from app.api.routes import health
from app.core import db
from app.core.config import Settings, get_settings
from app.core.jwks import JwksCache
from app.core.locks import LockTimeoutError
from app.core.metrics import Metrics, MetricsMiddleware
from app.crud import Catalog

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan, so building does no I/O."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = db.make_client(settings)
        database = client[settings.database_name]
        async with httpx.AsyncClient() as http:
            app.state.db = database
            app.state.catalog = Catalog(database, lock_timeout=settings.stock_lock_timeout_seconds)
            app.state.jwks = JwksCache(
                settings.jwks_url,
                http,
                max_age=settings.jwks_max_age_seconds,
                min_refresh_interval=settings.jwks_min_refresh_seconds,
            )
            try:
                await db.ensure_indexes(database)
                logger.info("products ready", extra={"database": settings.database_name})
                yield
            finally:
                await client.close()

    app = FastAPI(title="shop products", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(health.router)
    app.include_router(api_router)

    @app.exception_handler(LockTimeoutError)
    async def busy(_: Request, exc: LockTimeoutError) -> JSONResponse:
        logger.warning("stock lock timeout", extra={"lock": str(exc)})
        return JSONResponse(
            {"detail": {"code": "busy", "message": "stock is busy, retry shortly"}},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )

    return app
