from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from app.core.locks import DocumentLocks, LockTimeoutError


@pytest.fixture
async def db(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        yield client.get_default_database()
    finally:
        await client.close()


async def test_holders_of_one_name_never_overlap(db: AsyncDatabase[dict[str, Any]]) -> None:
    # Two lock objects stand for two replicas: only the document in FerretDB is shared.
    replicas = [DocumentLocks(db.locks), DocumentLocks(db.locks)]
    inside = 0
    most = 0

    async def worker(locks: DocumentLocks) -> None:
        nonlocal inside, most
        for _ in range(5):
            async with locks.hold("product:p1", wait_seconds=10):
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.001)
                inside -= 1

    await asyncio.gather(*(worker(replicas[i % 2]) for i in range(8)))
    assert most == 1
    assert await db.locks.count_documents({}) == 0


async def test_expired_lease_of_a_dead_holder_is_broken(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    expired = datetime.now(UTC) - timedelta(seconds=1)
    await db.locks.insert_one({"_id": "product:p2", "owner": "dead", "expires_at": expired})
    async with DocumentLocks(db.locks).hold("product:p2", wait_seconds=2):
        doc = await db.locks.find_one({"_id": "product:p2"})
        assert doc is not None and doc["owner"] != "dead"


async def test_a_held_lock_times_out(db: AsyncDatabase[dict[str, Any]]) -> None:
    later = datetime.now(UTC) + timedelta(minutes=1)
    await db.locks.insert_one({"_id": "product:p3", "owner": "alive", "expires_at": later})
    with pytest.raises(LockTimeoutError):
        async with DocumentLocks(db.locks).hold("product:p3", wait_seconds=0.2):
            pass
