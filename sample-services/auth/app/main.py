"""The FastAPI application of the auth service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import crud
from app.api.main import api_router
from app.api.routes import health, jwks
from app.core import db
from app.core.config import Settings, get_settings
from app.core.keys import load_signing_keys
from app.core.metrics import Metrics, MetricsMiddleware

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan, so building does no I/O."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.make_engine(settings.sqlalchemy_url, settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = db.make_sessionmaker(engine)
        app.state.keys = load_signing_keys(settings)
        try:
            await db.create_schema(engine)
            password = settings.bootstrap_admin_password()
            if settings.admin_email and password:
                async with app.state.sessionmaker() as session:
                    await crud.ensure_admin(session, email=settings.admin_email, password=password)
            logger.info("auth ready", extra={"kid": app.state.keys.kid})
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="shop auth", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(health.router)
    app.include_router(jwks.router)
    app.include_router(api_router)
    return app
