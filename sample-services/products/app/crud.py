"""The catalog: products and stock reservations in MongoDB."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.core.locks import DocumentLocks
from app.models import (
    Product,
    ProductCreate,
    ProductUpdate,
    Reservation,
    ReservationItem,
    ReservedLine,
)

logger = logging.getLogger(__name__)
Document = dict[str, Any]


class CatalogError(Exception):
    """A request the catalog refuses; `code` and `product_id` go into the API error."""

    code = "catalog_error"

    def __init__(self, message: str, product_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.product_id = product_id

    def as_detail(self) -> dict[str, Any]:
        """The JSON error detail clients (the orders service) read."""
        return {"code": self.code, "message": self.message, "product_id": self.product_id}


class UnknownProductError(CatalogError):
    """No product with this id."""

    code = "unknown_product"


class InsufficientStockError(CatalogError):
    """Fewer units in stock than asked for."""

    code = "insufficient_stock"


class NameTakenError(CatalogError):
    """Another product has this name."""

    code = "name_taken"


class ReservationConflictError(CatalogError):
    """The reservation id is in use by another caller."""

    code = "reservation_conflict"


class ReservationInProgressError(ReservationConflictError):
    """A call with this reservation id is still running: retry shortly."""

    code = "reservation_in_progress"


def _now() -> datetime:
    """Now, at the millisecond precision BSON stores, so replies match stored values."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _product(doc: Document) -> Product:
    return Product(id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


class Catalog:
    """Products and reservations; every stock change runs under the product's lock."""

    def __init__(self, db: AsyncDatabase[Document], *, lock_timeout: float = 5.0) -> None:
        self.products = db.products
        self.reservations = db.reservations
        self.locks = DocumentLocks(db.locks)
        self.lock_timeout = lock_timeout

    async def list_products(
        self, *, limit: int, offset: int, name: str | None = None
    ) -> tuple[list[Product], int]:
        """A page of products by creation time, and how many match."""
        query: Document = {} if name is None else {"name": name}
        cursor = self.products.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        docs = await cursor.skip(offset).limit(limit).to_list()
        return [_product(d) for d in docs], await self.products.count_documents(query)

    async def get_product(self, product_id: str) -> Product:
        """The product, or `UnknownProductError`."""
        doc = await self.products.find_one({"_id": product_id})
        if doc is None:
            raise UnknownProductError(f"product {product_id!r} does not exist", product_id)
        return _product(doc)

    async def create_product(self, data: ProductCreate) -> Product:
        """Insert a product with a new id."""
        now = _now()
        doc: Document = {"_id": uuid.uuid4().hex, **data.model_dump()}
        doc.update(created_at=now, updated_at=now)
        try:
            await self.products.insert_one(doc)
        except DuplicateKeyError as exc:
            raise NameTakenError(f"a product named {data.name!r} exists") from exc
        return _product(doc)

    async def update_product(self, product_id: str, data: ProductUpdate) -> Product:
        """Change the given fields; a stock change waits for in-flight reservations."""
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        async with self.locks.hold(f"product:{product_id}", self.lock_timeout):
            changes["updated_at"] = _now()
            try:
                doc = await self.products.find_one_and_update(
                    {"_id": product_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
                )
            except DuplicateKeyError as exc:
                raise NameTakenError(f"a product named {changes.get('name')!r} exists") from exc
        if doc is None:
            raise UnknownProductError(f"product {product_id!r} does not exist", product_id)
        return _product(doc)

    async def delete_product(self, product_id: str) -> None:
        """Remove the product (reservations keep their copied name and price)."""
        async with self.locks.hold(f"product:{product_id}", self.lock_timeout):
            result = await self.products.delete_one({"_id": product_id})
        if result.deleted_count == 0:
            raise UnknownProductError(f"product {product_id!r} does not exist", product_id)

    async def reserve(
        self, reservation_id: str, user_id: str, items: list[ReservationItem]
    ) -> tuple[Reservation, bool]:
        """Take stock for every item, all or nothing; return it and whether it is new.

        The reservation id makes the call idempotent: a retry of a call that
        succeeded returns the same reservation instead of taking stock twice.
        """
        now = _now()
        try:
            await self.reservations.insert_one(
                {
                    "_id": reservation_id,
                    "user_id": user_id,
                    "status": "pending",
                    "items": [],
                    "total_cents": 0,
                    "created_at": now,
                }
            )
        except DuplicateKeyError:
            return await self._replay(reservation_id, user_id), False
        wanted = Counter[str]()
        for item in items:
            wanted[item.product_id] += item.quantity
        taken: list[ReservedLine] = []
        try:
            for product_id in sorted(wanted):  # one lock at a time: no deadlock possible
                taken.append(await self._take(product_id, wanted[product_id]))
        except BaseException as exc:
            for line in taken:
                await self._give_back(line.product_id, line.quantity)
            if isinstance(exc, CatalogError):  # a verdict: a retry gets the same answer
                await self.reservations.update_one(
                    {"_id": reservation_id},
                    {"$set": {"status": "failed", "error": exc.as_detail()}},
                )
            else:  # a fault (lock timeout, database): a retry starts afresh
                await self.reservations.delete_one({"_id": reservation_id})
            raise
        total = sum(line.unit_price_cents * line.quantity for line in taken)
        lines = [line.model_dump() for line in taken]
        await self.reservations.update_one(
            {"_id": reservation_id},
            {"$set": {"status": "reserved", "items": lines, "total_cents": total}},
        )
        reservation = Reservation(
            id=reservation_id,
            user_id=user_id,
            status="reserved",
            items=taken,
            total_cents=total,
            created_at=now,
        )
        return reservation, True

    async def release(self, reservation_id: str, user_id: str, *, is_admin: bool) -> Reservation:
        """Give the stock of a reservation back (idempotent)."""
        async with self.locks.hold(f"reservation:{reservation_id}", self.lock_timeout):
            doc = await self.reservations.find_one({"_id": reservation_id})
            if doc is None or (doc["user_id"] != user_id and not is_admin):
                raise ReservationConflictError(f"no reservation {reservation_id!r}")
            if doc["status"] == "reserved":
                for line in doc["items"]:
                    await self._give_back(line["product_id"], line["quantity"])
                await self.reservations.update_one(
                    {"_id": reservation_id}, {"$set": {"status": "released"}}
                )
                doc["status"] = "released"
                logger.info("reservation released", extra={"reservation_id": reservation_id})
        return Reservation(id=doc["_id"], **{k: v for k, v in doc.items() if k in _RES_FIELDS})

    async def _replay(self, reservation_id: str, user_id: str) -> Reservation:
        doc = await self.reservations.find_one({"_id": reservation_id})
        if doc is None or doc["user_id"] != user_id:
            raise ReservationConflictError(f"reservation id {reservation_id!r} is in use")
        if doc["status"] == "failed":
            error = doc.get("error") or {}
            kind = _ERRORS_BY_CODE.get(str(error.get("code")), ReservationConflictError)
            raise kind(error.get("message", "reservation failed"), error.get("product_id"))
        if doc["status"] == "pending":
            raise ReservationInProgressError(f"reservation {reservation_id!r} is in progress")
        return Reservation(id=doc["_id"], **{k: v for k, v in doc.items() if k in _RES_FIELDS})

    async def _take(self, product_id: str, quantity: int) -> ReservedLine:
        async with self.locks.hold(f"product:{product_id}", self.lock_timeout):
            doc = await self.products.find_one({"_id": product_id})
            if doc is None:
                raise UnknownProductError(f"product {product_id!r} does not exist", product_id)
            if doc["stock"] < quantity:
                raise InsufficientStockError(
                    f"only {doc['stock']} of product {product_id!r} in stock", product_id
                )
            # The stock condition is what makes this safe on real MongoDB even without
            # the lock; on FerretDB the lock is what makes it safe.
            result = await self.products.update_one(
                {"_id": product_id, "stock": {"$gte": quantity}},
                {"$inc": {"stock": -quantity}, "$set": {"updated_at": _now()}},
            )
            if result.modified_count != 1:
                raise InsufficientStockError(f"product {product_id!r} sold out", product_id)
        return ReservedLine(
            product_id=product_id,
            name=doc["name"],
            unit_price_cents=doc["price_cents"],
            quantity=quantity,
        )

    async def _give_back(self, product_id: str, quantity: int) -> None:
        async with self.locks.hold(f"product:{product_id}", self.lock_timeout):
            await self.products.update_one(
                {"_id": product_id},
                {"$inc": {"stock": quantity}, "$set": {"updated_at": _now()}},
            )


_RES_FIELDS = frozenset({"user_id", "status", "items", "total_cents", "created_at"})
_ERRORS_BY_CODE: dict[str, type[CatalogError]] = {
    UnknownProductError.code: UnknownProductError,
    InsufficientStockError.code: InsufficientStockError,
}
