from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.models import Order
from shoptools.tokens import TokenFactory
from tests.stub_products import StubProducts


async def _count_orders(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_place_order_totals_lines_from_products(
    client: httpx.AsyncClient, alice: dict[str, str], stub: StubProducts
) -> None:
    body = {
        "items": [{"product_id": "teapot", "quantity": 2}, {"product_id": "cup", "quantity": 3}]
    }
    response = await client.post("/api/v1/orders", json=body, headers=alice)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["total_cents"] == 2 * 1999 + 3 * 450
    assert [(i["name"], i["line_total_cents"]) for i in order["items"]] == [
        ("Teapot", 3998),
        ("Cup", 1350),
    ]
    assert stub.products["teapot"][2] == 8
    # The order id is the reservation id: products can recognise a retry.
    [call] = stub.calls
    assert call.headers["authorization"] == alice["Authorization"]
    assert order["id"].replace("-", "") in call.content.decode()


async def test_users_see_only_their_own_orders(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    body = {"items": [{"product_id": "cup", "quantity": 1}]}
    order = (await client.post("/api/v1/orders", json=body, headers=alice)).json()
    await client.post("/api/v1/orders", json=body, headers=alice)
    mine = (await client.get("/api/v1/orders", headers=alice)).json()
    assert mine["count"] == 2
    assert (await client.get("/api/v1/orders", headers=bob)).json() == {"data": [], "count": 0}
    url = f"/api/v1/orders/{order['id']}"
    assert (await client.get(url, headers=alice)).status_code == 200
    assert (await client.get(url, headers=bob)).status_code == 404


async def test_unknown_product_is_422_naming_the_line(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    body = {"items": [{"product_id": "cup", "quantity": 1}, {"product_id": "ghost", "quantity": 1}]}
    response = await client.post("/api/v1/orders", json=body, headers=alice)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "items", 1, "product_id"]
    assert error["msg"] == "product 'ghost' does not exist"
    assert await _count_orders(app) == 0


async def test_insufficient_stock_is_409(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    body = {"items": [{"product_id": "teapot", "quantity": 11}]}
    response = await client.post("/api/v1/orders", json=body, headers=alice)
    assert response.status_code == 409
    assert "only 10" in response.json()["detail"]
    assert await _count_orders(app) == 0


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "items"]),
        ({"items": []}, ["body", "items"]),
        ({"items": [{"product_id": "cup", "quantity": 0}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": "cup", "quantity": "many"}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": "", "quantity": 1}]}, ["body", "items", 0, "product_id"]),
        (
            {"items": [{"product_id": {"$ne": 1}, "quantity": 1}]},
            ["body", "items", 0, "product_id"],
        ),
        ({"items": [{"product_id": "cup", "quantity": 1}], "total": 0}, ["body", "total"]),
    ],
)
async def test_invalid_payloads_are_422_with_field_errors(
    client: httpx.AsyncClient, alice: dict[str, str], body: dict[str, object], loc: list[object]
) -> None:
    response = await client.post("/api/v1/orders", json=body, headers=alice)
    assert response.status_code == 422
    assert loc in [error["loc"] for error in response.json()["detail"]]


async def test_sql_injection_strings_are_data(
    client: httpx.AsyncClient, alice: dict[str, str], stub: StubProducts, app: FastAPI
) -> None:
    evil = "x'); DROP TABLE orders; --"
    stub.products[evil] = ("Robert'); DROP TABLE order_items; --", 100, 5)
    body = {"items": [{"product_id": evil, "quantity": 1}]}
    response = await client.post("/api/v1/orders", json=body, headers=alice)
    assert response.status_code == 201
    fetched = (await client.get(f"/api/v1/orders/{response.json()['id']}", headers=alice)).json()
    assert fetched["items"][0]["product_id"] == evil
    assert fetched["items"][0]["name"] == "Robert'); DROP TABLE order_items; --"
    assert await _count_orders(app) == 1  # both tables are still there


async def test_bad_tokens_are_401(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    body = {"items": [{"product_id": "cup", "quantity": 1}]}
    for token in (
        tokens.token(now=datetime.now(UTC) - timedelta(hours=1)),
        tokens.token(issuer="http://evil.test"),
        tokens.alg_none_token(),
        tokens.tampered(tokens.token(sub="alice"), sub="bob"),
    ):
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.post("/api/v1/orders", json=body, headers=headers)).status_code == 401
        assert (await client.get("/api/v1/orders", headers=headers)).status_code == 401
    assert (await client.get("/api/v1/orders")).status_code == 401


async def test_concurrent_orders_lose_no_writes(
    client: httpx.AsyncClient, tokens: TokenFactory, stub: StubProducts, app: FastAPI
) -> None:
    stub.products["gadget"] = ("Gadget", 700, 40)
    body = {"items": [{"product_id": "gadget", "quantity": 1}]}

    async def place(i: int) -> int:
        headers = {"Authorization": f"Bearer {tokens.token(sub=f'user-{i % 7}')}"}
        return (await client.post("/api/v1/orders", json=body, headers=headers)).status_code

    codes = await asyncio.gather(*(place(i) for i in range(50)))
    assert codes.count(201) == 40 and codes.count(409) == 10
    assert await _count_orders(app) == 40
    assert stub.products["gadget"][2] == 0
