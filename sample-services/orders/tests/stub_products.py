"""A scripted products service behind `httpx.MockTransport`, for faults real ones rarely show.

The end-to-end tests run orders against the real products service; these tests
need products to time out, fail twice then succeed, or answer nonsense on cue.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class StubProducts:
    """Products by id (name, price, stock) and a queue of faults to play first."""

    products: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    faults: deque[str | int] = field(default_factory=deque)
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    calls: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        """The transport to hand to `create_app(products_transport=...)`."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.faults:
            fault = self.faults.popleft()
            if fault == "refused":
                raise httpx.ConnectError("connection refused", request=request)
            if fault == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            if fault == "in_progress":
                detail = {"code": "reservation_in_progress", "message": "in progress"}
                return httpx.Response(409, json={"detail": detail})
            if fault == "garbage":
                return httpx.Response(200, text="<html>not json</html>")
            return httpx.Response(int(fault), json={"detail": "scripted fault"})
        if request.method == "POST" and request.url.path == "/api/v1/reservations":
            return self._reserve(json.loads(request.content))
        if request.method == "DELETE" and request.url.path.startswith("/api/v1/reservations/"):
            rid = request.url.path.rsplit("/", 1)[1]
            reservation = self.reservations.get(rid)
            if reservation is None:
                return httpx.Response(404, json={"detail": {"code": "reservation_conflict"}})
            if reservation["status"] == "reserved":
                for line in reservation["items"]:
                    name, price, stock = self.products[line["product_id"]]
                    self.products[line["product_id"]] = (name, price, stock + line["quantity"])
                reservation["status"] = "released"
                self.released.append(rid)
            return httpx.Response(200, json=reservation)
        return httpx.Response(404, json={"detail": "Not Found"})

    def _reserve(self, body: dict[str, Any]) -> httpx.Response:
        rid = body["reservation_id"]
        if rid in self.reservations:
            return httpx.Response(200, json=self.reservations[rid])
        for item in body["items"]:
            pid = item["product_id"]
            if pid not in self.products:
                detail = {"code": "unknown_product", "message": "no", "product_id": pid}
                return httpx.Response(404, json={"detail": detail})
            if self.products[pid][2] < item["quantity"]:
                detail = {
                    "code": "insufficient_stock",
                    "message": f"only {self.products[pid][2]} of product {pid!r} in stock",
                    "product_id": pid,
                }
                return httpx.Response(409, json={"detail": detail})
        lines = []
        for item in body["items"]:
            name, price, stock = self.products[item["product_id"]]
            self.products[item["product_id"]] = (name, price, stock - item["quantity"])
            lines.append(
                {
                    "product_id": item["product_id"],
                    "name": name,
                    "unit_price_cents": price,
                    "quantity": item["quantity"],
                }
            )
        reservation = {
            "id": rid,
            "status": "reserved",
            "items": lines,
            "total_cents": sum(line["unit_price_cents"] * line["quantity"] for line in lines),
        }
        self.reservations[rid] = reservation
        return httpx.Response(201, json=reservation)
