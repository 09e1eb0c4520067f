"""The FastAPI application of the orders service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import httpx
from fastapi import FastAPI

from app.api.main import api_router
from app.api.routes import health
from app.core import db
from app.core.config import Settings, get_settings
from app.core.jwks import JwksCache
from app.core.metrics import Metrics, MetricsMiddleware
from app.core.products import ProductsClient

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, products_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the app; resources open in the lifespan, so building does no I/O.

    `products_transport` lets tests put a misbehaving products in front of the client.
    """
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await anyio.to_thread.run_sync(db.run_migrations, settings.sqlalchemy_url)
        engine = db.make_engine(settings.sqlalchemy_url, settings.db_pool_size)
        timeout = httpx.Timeout(settings.products_timeout_seconds, connect=0.5)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        async with (
            httpx.AsyncClient(
                base_url=settings.products_url,
                timeout=timeout,
                limits=limits,
                transport=products_transport,
            ) as products_http,
            httpx.AsyncClient(timeout=timeout) as jwks_http,
        ):
            app.state.engine = engine
            app.state.sessionmaker = db.make_sessionmaker(engine)
            app.state.products = ProductsClient(
                products_http,
                attempts=settings.products_attempts,
                backoff=settings.products_backoff_seconds,
            )
            app.state.jwks = JwksCache(
                settings.jwks_url,
                jwks_http,
                max_age=settings.jwks_max_age_seconds,
                min_refresh_interval=settings.jwks_min_refresh_seconds,
            )
            try:
                logger.info("orders ready")
                yield
            finally:
                await engine.dispose()

    app = FastAPI(title="shop orders", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(health.router)
    app.include_router(api_router)
    return app
