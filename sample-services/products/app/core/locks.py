"""A lease lock kept in MongoDB, for read-modify-write of stock across replicas.

Real MongoDB updates one document atomically, so a conditional `$inc` alone would do.
FerretDB 1.24 on SQLite does not: it reads, then writes, in separate steps, and
concurrent `find_one_and_update` calls lose updates (see sample-services/README.md).
What both do enforce atomically is a unique `_id`, so a lock is an inserted document;
it carries an expiry so a crashed holder cannot block a product forever.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError


class LockTimeoutError(Exception):
    """The lock stayed taken for longer than the caller would wait."""


class DocumentLocks:
    """Named locks: an in-process lock first (cheap), then the shared lease document."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, lease: float = 10.0) -> None:
        self._collection = collection
        self._lease = timedelta(seconds=lease)
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, name: str, wait_seconds: float) -> AsyncIterator[None]:
        """Hold lock `name` for the block; raise `LockTimeoutError` after `wait_seconds`."""
        local = self._local.setdefault(name, asyncio.Lock())
        try:
            async with asyncio.timeout(wait_seconds):
                await local.acquire()
        except TimeoutError as exc:
            raise LockTimeoutError(name) from exc
        try:
            owner = await self._acquire(name, time.monotonic() + wait_seconds)
            try:
                yield
            finally:
                await self._collection.delete_one({"_id": name, "owner": owner})
        finally:
            local.release()

    async def _acquire(self, name: str, deadline: float) -> str:
        owner = uuid.uuid4().hex
        delay = 0.002
        while True:
            now = datetime.now(UTC)
            try:
                await self._collection.insert_one(
                    {"_id": name, "owner": owner, "expires_at": now + self._lease}
                )
                return owner
            except DuplicateKeyError:
                # Break the lease of a holder that died without releasing it.
                await self._collection.delete_one({"_id": name, "expires_at": {"$lt": now}})
            if time.monotonic() >= deadline:
                raise LockTimeoutError(name)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.05)
