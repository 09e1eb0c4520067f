from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shoptools.tokens import TokenFactory
from tests.conftest import create_product


async def test_admin_creates_and_anyone_reads(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create_product(client, admin, name="Kettle", price_cents=2500, stock=3)
    listed = (await client.get("/api/v1/products")).json()
    assert listed["count"] == 1
    assert listed["data"][0]["id"] == created["id"]
    one = await client.get(f"/api/v1/products/{created['id']}")
    assert one.status_code == 200
    assert one.json()["stock"] == 3


async def test_list_pages_in_creation_order(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for i in range(5):
        await create_product(client, admin, name=f"P{i}")
    page = (await client.get("/api/v1/products", params={"limit": 2, "offset": 2})).json()
    assert [p["name"] for p in page["data"]] == ["P2", "P3"]
    assert page["count"] == 5


async def test_writes_need_role_admin(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    body = {"name": "Mug", "price_cents": 500}
    assert (await client.post("/api/v1/products", json=body)).status_code == 401
    assert (await client.post("/api/v1/products", json=body, headers=user)).status_code == 403
    product = await create_product(client, admin)
    url = f"/api/v1/products/{product['id']}"
    assert (await client.patch(url, json={"stock": 1}, headers=user)).status_code == 403
    assert (await client.delete(url, headers=user)).status_code == 403


async def test_update_and_delete(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    product = await create_product(client, admin)
    url = f"/api/v1/products/{product['id']}"
    updated = await client.patch(url, json={"price_cents": 999, "stock": 42}, headers=admin)
    assert updated.status_code == 200
    assert (updated.json()["price_cents"], updated.json()["stock"]) == (999, 42)
    assert updated.json()["name"] == product["name"]
    assert (await client.delete(url, headers=admin)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=admin)).status_code == 404


async def test_unknown_product_is_404_with_its_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/products/nope")
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "unknown_product"
    assert response.json()["detail"]["product_id"] == "nope"


async def test_duplicate_name_is_a_conflict(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await create_product(client, admin, name="Unique")
    again = await client.post(
        "/api/v1/products", json={"name": "Unique", "price_cents": 1}, headers=admin
    )
    assert again.status_code == 409
    assert again.json()["detail"]["code"] == "name_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_cents": 1}, "name"),
        ({"name": "", "price_cents": 1}, "name"),
        ({"name": "x" * 201, "price_cents": 1}, "name"),
        ({"name": "A", "price_cents": -1}, "price_cents"),
        ({"name": "A", "price_cents": "abc"}, "price_cents"),
        ({"name": "A", "price_cents": 1, "stock": -5}, "stock"),
        ({"name": "A", "price_cents": 1, "owner": "me"}, "owner"),
        ({"name": {"$gt": ""}, "price_cents": 1}, "name"),
    ],
)
async def test_invalid_payloads_are_422_with_field_errors(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = await client.post("/api/v1/products", json=body, headers=admin)
    assert response.status_code == 422
    assert ["body", field] in [error["loc"][:2] for error in response.json()["detail"]]


async def test_nosql_injection_strings_are_data(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    evil = '{"$gt": ""}'
    product = await create_product(client, admin, name=evil, description="'; db.dropDatabase()")
    fetched = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert fetched["name"] == evil
    assert fetched["description"] == "'; db.dropDatabase()"
    await create_product(client, admin, name="Plain")
    # An operator-looking filter value matches only the product literally named so.
    assert (await client.get("/api/v1/products", params={"name": evil})).json()["count"] == 1
    assert (await client.get("/api/v1/products", params={"name": '{"$ne": null}'})).json()[
        "count"
    ] == 0
    assert (await client.get('/api/v1/products/{"$ne": null}')).status_code == 404


async def test_bad_tokens_are_401(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    body = {"name": "Mug", "price_cents": 500}
    bad = [
        tokens.token(roles=["admin"], now=datetime.now(UTC) - timedelta(hours=1)),
        tokens.token(roles=["admin"], issuer="http://evil.test"),
        tokens.alg_none_token(roles=["admin"]),
        tokens.tampered(tokens.token(roles=["user"]), roles=["user", "admin"]),
        TokenFactory(issuer=tokens.issuer).admin_token(),  # a key the issuer never published
    ]
    for token in bad:
        response = await client.post(
            "/api/v1/products", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"
