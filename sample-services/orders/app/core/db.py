"""Database engine, Alembic migrations and readiness check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

ALEMBIC_DIR = Path(__file__).resolve().parents[1] / "alembic"


def make_engine(url: str, pool_size: int) -> AsyncEngine:
    """An async engine with a bounded pool and stale-connection checks."""
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_timeout=10
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep attribute values after commit (they are returned by the API)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic configured in code: no alembic.ini, the URL from the settings."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["url"] = url  # not a main option: '%' in passwords stays literal
    return config


def run_migrations(url: str, revision: str = "head") -> None:
    """Upgrade the schema (blocking; the app runs it in a worker thread)."""
    command.upgrade(alembic_config(url), revision)


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers `SELECT 1`."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
