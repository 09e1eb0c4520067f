"""HTTP client of the products service: stock reservations with timeouts and bounded retries.

Retrying a reservation is safe: its id (the order id) makes products answer a replay
with the first result instead of taking stock twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({502, 503, 504})
# products answers 409 with this code when a retry overtakes the first attempt.
IN_PROGRESS = "reservation_in_progress"


class ProductsError(Exception):
    """The products service refused or failed a request."""


class ProductsUnavailableError(ProductsError):
    """No answer (refused, timed out, 5xx) after every attempt."""


class ProductsBadResponseError(ProductsError):
    """An answer this client does not understand."""


class UnknownProductError(ProductsError):
    """A product in the order does not exist."""

    def __init__(self, message: str, product_id: str) -> None:
        super().__init__(message)
        self.product_id = product_id


class InsufficientStockError(ProductsError):
    """Not enough stock for a line of the order."""


class ReservedLine(BaseModel):
    """A reserved line with the name and unit price products fixed."""

    product_id: str
    name: str
    unit_price_cents: int
    quantity: int


class Reservation(BaseModel):
    """What products answers to a reservation."""

    id: str
    status: str
    items: list[ReservedLine]
    total_cents: int


class ProductsClient:
    """Calls products with the caller's bearer token."""

    def __init__(
        self, http: httpx.AsyncClient, *, attempts: int = 3, backoff: float = 0.05
    ) -> None:
        self._http = http
        self._attempts = attempts
        self._backoff = backoff

    async def reserve(
        self, reservation_id: str, items: Sequence[tuple[str, int]], token: str
    ) -> Reservation:
        """Take stock for every line, all or nothing."""
        body = {
            "reservation_id": reservation_id,
            "items": [{"product_id": pid, "quantity": qty} for pid, qty in items],
        }
        response = await self._send("POST", "/api/v1/reservations", token, json=body)
        if response.status_code in (200, 201):
            try:
                return Reservation.model_validate_json(response.content)
            except ValidationError as exc:
                raise ProductsBadResponseError("malformed reservation from products") from exc
        detail = _detail(response)
        if response.status_code == 404 and detail.get("code") == "unknown_product":
            product_id = str(detail.get("product_id"))
            raise UnknownProductError(f"product {product_id!r} does not exist", product_id)
        if response.status_code == 409 and detail.get("code") == "insufficient_stock":
            raise InsufficientStockError(str(detail.get("message", "insufficient stock")))
        raise ProductsBadResponseError(f"products answered {response.status_code}")

    async def release(self, reservation_id: str, token: str) -> None:
        """Give a reservation's stock back; errors are logged, never raised."""
        try:
            response = await self._send("DELETE", f"/api/v1/reservations/{reservation_id}", token)
            if response.status_code != 200:
                logger.error(
                    "releasing a reservation failed",
                    extra={"reservation_id": reservation_id, "status": response.status_code},
                )
        except ProductsError as exc:
            logger.error(
                "releasing a reservation failed",
                extra={"reservation_id": reservation_id, "error": str(exc)},
            )

    async def _send(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:  # refused, reset, timed out
                reason = f"{type(exc).__name__}: {exc}"
            else:
                in_progress = response.status_code == 409 and _detail(response).get("code") == (
                    IN_PROGRESS
                )
                if response.status_code not in RETRYABLE_STATUS and not in_progress:
                    return response
                reason = f"status {response.status_code}"
            logger.warning(
                "products call failed",
                extra={"method": method, "path": path, "attempt": attempt, "reason": reason},
            )
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise ProductsUnavailableError(f"products unavailable after {self._attempts} attempts")


def _detail(response: httpx.Response) -> dict[str, Any]:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return {}
    return detail if isinstance(detail, dict) else {}
