from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from shoptools.tokens import TokenFactory
from tests.conftest import create_product


def _reservation(*items: tuple[str, int]) -> dict[str, Any]:
    return {
        "reservation_id": uuid.uuid4().hex,
        "items": [{"product_id": pid, "quantity": qty} for pid, qty in items],
    }


async def _stock(client: httpx.AsyncClient, product_id: str) -> int:
    stock: int = (await client.get(f"/api/v1/products/{product_id}")).json()["stock"]
    return stock


async def test_reserve_takes_stock_and_fixes_prices(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    a = await create_product(client, admin, name="A", price_cents=250, stock=5)
    b = await create_product(client, admin, name="B", price_cents=1000, stock=1)
    body = _reservation((a["id"], 2), (b["id"], 1), (a["id"], 1))
    response = await client.post("/api/v1/reservations", json=body, headers=user)
    assert response.status_code == 201, response.text
    reservation = response.json()
    assert reservation["status"] == "reserved"
    assert reservation["total_cents"] == 3 * 250 + 1000
    assert {(i["product_id"], i["quantity"]) for i in reservation["items"]} == {
        (a["id"], 3),
        (b["id"], 1),
    }
    assert await _stock(client, a["id"]) == 2
    assert await _stock(client, b["id"]) == 0


async def test_replaying_a_reservation_takes_stock_once(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    a = await create_product(client, admin, stock=5)
    body = _reservation((a["id"], 2))
    first = await client.post("/api/v1/reservations", json=body, headers=user)
    again = await client.post("/api/v1/reservations", json=body, headers=user)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await _stock(client, a["id"]) == 3


async def test_all_or_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    a = await create_product(client, admin, name="A", stock=5)
    b = await create_product(client, admin, name="B", stock=1)
    response = await client.post(
        "/api/v1/reservations", json=_reservation((a["id"], 2), (b["id"], 3)), headers=user
    )
    assert response.status_code == 409
    assert response.json()["detail"]["code"] == "insufficient_stock"
    assert response.json()["detail"]["product_id"] == b["id"]
    assert await _stock(client, a["id"]) == 5  # the line that fitted was given back
    unknown = await client.post(
        "/api/v1/reservations", json=_reservation((a["id"], 1), ("nope", 1)), headers=user
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == {
        "code": "unknown_product",
        "message": "product 'nope' does not exist",
        "product_id": "nope",
    }
    assert await _stock(client, a["id"]) == 5


async def test_release_gives_stock_back_once(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str], tokens: TokenFactory
) -> None:
    a = await create_product(client, admin, stock=5)
    body = _reservation((a["id"], 4))
    await client.post("/api/v1/reservations", json=body, headers=user)
    url = f"/api/v1/reservations/{body['reservation_id']}"
    stranger = {"Authorization": f"Bearer {tokens.token(sub='user-2')}"}
    assert (await client.delete(url, headers=stranger)).status_code == 404
    for _ in range(2):
        released = await client.delete(url, headers=user)
        assert released.status_code == 200
        assert released.json()["status"] == "released"
    assert await _stock(client, a["id"]) == 5


async def test_concurrent_reservations_never_oversell(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    a = await create_product(client, admin, stock=30)

    async def reserve() -> int:
        response = await client.post(
            "/api/v1/reservations", json=_reservation((a["id"], 1)), headers=user
        )
        return response.status_code

    codes = await asyncio.gather(*(reserve() for _ in range(50)))
    assert codes.count(201) == 30
    assert codes.count(409) == 20
    assert await _stock(client, a["id"]) == 0


async def test_invalid_reservations_are_422(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    for body in (
        {"reservation_id": "short", "items": [{"product_id": "p", "quantity": 1}]},
        {"reservation_id": uuid.uuid4().hex, "items": []},
        {"reservation_id": uuid.uuid4().hex, "items": [{"product_id": "p", "quantity": 0}]},
        {"reservation_id": uuid.uuid4().hex, "items": [{"product_id": {"$ne": 1}, "quantity": 1}]},
    ):
        response = await client.post("/api/v1/reservations", json=body, headers=user)
        assert response.status_code == 422, body


async def test_replay_while_the_first_call_runs_says_in_progress(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str], app: FastAPI
) -> None:
    a = await create_product(client, admin, stock=5)
    body = _reservation((a["id"], 1))
    await app.state.db.reservations.insert_one(
        {"_id": body["reservation_id"], "user_id": "user-1", "status": "pending", "items": []}
    )
    response = await client.post("/api/v1/reservations", json=body, headers=user)
    assert response.status_code == 409
    assert response.json()["detail"]["code"] == "reservation_in_progress"
    assert await _stock(client, a["id"]) == 5
