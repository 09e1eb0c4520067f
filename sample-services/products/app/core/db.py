"""MongoDB client, indexes and readiness check (pymongo's native async API)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from app.core.config import Settings

Document = dict[str, Any]


def make_client(settings: Settings) -> AsyncMongoClient[Document]:
    """A client with bounded timeouts; it connects lazily."""
    timeout_ms = int(settings.db_timeout_seconds * 1000)
    return AsyncMongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        timeoutMS=timeout_ms,
        maxPoolSize=50,
        tz_aware=True,
        appname=settings.service_name,
    )


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Create the indexes the queries need (idempotent, run at start)."""
    await db.products.create_index([("name", ASCENDING)], unique=True, name="name_unique")
    await db.products.create_index([("created_at", ASCENDING)], name="created_at")
    await db.reservations.create_index([("user_id", ASCENDING)], name="user_id")
    await db.locks.create_index([("expires_at", ASCENDING)], name="expires_at")


async def ping(db: AsyncDatabase[Document]) -> None:
    """Raise unless the server answers `ping`."""
    await db.command("ping")
