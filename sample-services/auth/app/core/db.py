"""Database engine, schema creation and readiness check."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.models import Base

# Any constant works: it only serialises schema creation between replicas.
_SCHEMA_LOCK_ID = 0x5A17_0001


def make_engine(url: str, pool_size: int) -> AsyncEngine:
    """An async engine with a bounded pool and stale-connection checks."""
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_timeout=10
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep attribute values after commit (they are returned by the API)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_schema(engine: AsyncEngine) -> None:
    """Create missing tables; an advisory lock keeps concurrent replicas from racing."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK_ID})
        await conn.run_sync(Base.metadata.create_all)


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers `SELECT 1`."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
