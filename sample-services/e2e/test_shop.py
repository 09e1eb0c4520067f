"""The shop end to end: three services as real processes, real PostgreSQL and FerretDB."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shoptools.processes import free_port, running_service
from shoptools.shop import (
    ISSUER,
    Shop,
    admin_token,
    bearer,
    create_product,
    register_and_login,
    stock_of,
)
from shoptools.tokens import TokenFactory


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_register_login_admin_products_order_and_privacy(
    http: httpx.AsyncClient, shop: Shop
) -> None:
    alice_id, alice = await register_and_login(http, shop)
    _, bob = await register_and_login(http, shop)
    me = (await http.get(f"{shop.auth}/api/v1/users/me", headers=bearer(alice))).json()
    assert me["id"] == alice_id and me["roles"] == ["user"]

    admin = await admin_token(http, shop)
    teapot = await create_product(http, shop, admin, price_cents=1999, stock=10)
    cup = await create_product(http, shop, admin, price_cents=450, stock=100)
    forbidden = await http.post(
        f"{shop.products}/api/v1/products",
        json={"name": "x", "price_cents": 1},
        headers=bearer(alice),
    )
    assert forbidden.status_code == 403

    body = {
        "items": [
            {"product_id": teapot["id"], "quantity": 2},
            {"product_id": cup["id"], "quantity": 3},
        ]
    }
    placed = await http.post(f"{shop.orders}/api/v1/orders", json=body, headers=bearer(alice))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["total_cents"] == 2 * 1999 + 3 * 450
    assert await stock_of(http, shop, teapot["id"]) == 8
    assert await stock_of(http, shop, cup["id"]) == 97

    url = f"{shop.orders}/api/v1/orders/{order['id']}"
    assert (await http.get(url, headers=bearer(alice))).json()["total_cents"] == 5348
    assert (await http.get(url, headers=bearer(bob))).status_code == 404
    bobs = (await http.get(f"{shop.orders}/api/v1/orders", headers=bearer(bob))).json()
    assert bobs == {"data": [], "count": 0}


async def test_bad_tokens_are_rejected_by_every_service(
    http: httpx.AsyncClient, shop: Shop, signing_key: rsa.RSAPrivateKey
) -> None:
    user_id, token = await register_and_login(http, shop)
    key = signing_key
    kid = jwt.get_unverified_header(token)["kid"]
    now = datetime.now(UTC)

    def signed(**claims: object) -> str:
        base: dict[str, object] = {"sub": user_id, "roles": ["user", "admin"], "iss": ISSUER}
        base.update({"iat": now, "exp": now + timedelta(minutes=5), **claims})
        return jwt.encode(base, key, algorithm="RS256", headers={"kid": kid})

    bad = {
        "expired": signed(iat=now - timedelta(hours=2), exp=now - timedelta(hours=1)),
        "wrong-issuer": signed(iss="http://evil.test"),
        "alg-none": TokenFactory(issuer=ISSUER).alg_none_token(sub=user_id),
        "tampered": TokenFactory.tampered(token, roles=["user", "admin"]),
        "unknown-key": TokenFactory(issuer=ISSUER).admin_token(sub=user_id),
    }
    for name, token_ in bad.items():
        for method, url, body in (
            ("GET", f"{shop.auth}/api/v1/users/me", None),
            ("POST", f"{shop.products}/api/v1/products", {"name": "x", "price_cents": 1}),
            ("GET", f"{shop.orders}/api/v1/orders", None),
        ):
            response = await http.request(method, url, json=body, headers=bearer(token_))
            assert response.status_code == 401, (name, url, response.text)


async def test_unknown_product_and_injection_strings(http: httpx.AsyncClient, shop: Shop) -> None:
    _, token = await register_and_login(http, shop)
    evil = "x'); DROP TABLE orders; --"
    for product_id in ("does-not-exist", evil, '{"$ne": null}'):
        body = {"items": [{"product_id": product_id, "quantity": 1}]}
        response = await http.post(f"{shop.orders}/api/v1/orders", json=body, headers=bearer(token))
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["msg"] == f"product {product_id!r} does not exist"
    admin = await admin_token(http, shop)
    name = '{"$gt": ""}; DROP TABLE users; --'
    created = await http.post(
        f"{shop.products}/api/v1/products",
        json={"name": name, "price_cents": 5, "stock": 1},
        headers=bearer(admin),
    )
    assert created.status_code == 201
    fetched = await http.get(f"{shop.products}/api/v1/products", params={"name": name})
    assert [p["name"] for p in fetched.json()["data"]] == [name]
    # The users table is still there.
    assert (
        await http.get(f"{shop.auth}/api/v1/users/me", headers=bearer(token))
    ).status_code == 200


async def test_products_down_means_503_fast_and_no_order(
    http: httpx.AsyncClient, shop: Shop, tmp_path: Path
) -> None:
    _, token = await register_and_login(http, shop)
    dead = {**shop.orders_env, "PRODUCTS_URL": f"http://127.0.0.1:{free_port()}"}
    with running_service("orders", dead, tmp_path) as lonely_orders:
        body = {"items": [{"product_id": "anything", "quantity": 1}]}
        start = time.perf_counter()
        response = await http.post(
            f"{lonely_orders.url}/api/v1/orders", json=body, headers=bearer(token)
        )
        elapsed = time.perf_counter() - start
    assert response.status_code == 503
    assert elapsed < 1.0
    mine = (await http.get(f"{shop.orders}/api/v1/orders", headers=bearer(token))).json()
    assert mine["count"] == 0


async def test_fifty_concurrent_orders_lose_no_writes(http: httpx.AsyncClient, shop: Shop) -> None:
    users = [await register_and_login(http, shop) for _ in range(5)]
    admin = await admin_token(http, shop)
    product = await create_product(http, shop, admin, price_cents=300, stock=40)
    body = {"items": [{"product_id": product["id"], "quantity": 1}]}

    async def place(i: int) -> int:
        token = users[i % len(users)][1]
        url = f"{shop.orders}/api/v1/orders"
        return (await http.post(url, json=body, headers=bearer(token))).status_code

    codes = await asyncio.gather(*(place(i) for i in range(50)))
    assert sorted(set(codes)) == [201, 409], codes
    assert codes.count(201) == 40
    assert await stock_of(http, shop, product["id"]) == 0
    counts = [
        (await http.get(f"{shop.orders}/api/v1/orders", headers=bearer(t))).json()["count"]
        for _, t in users
    ]
    assert sum(counts) == 40


async def test_health_metrics_and_json_logs(http: httpx.AsyncClient, shop: Shop) -> None:
    for base in (shop.auth, shop.products, shop.orders):
        assert (await http.get(f"{base}/healthz")).status_code == 200
        assert (await http.get(f"{base}/readyz")).json()["status"] == "ok"
        metrics = (await http.get(f"{base}/metrics")).text
        assert "http_requests_total{" in metrics
        assert "http_request_duration_seconds_bucket{" in metrics
    assert shop.log_dir is not None
    for name in ("auth", "products", "orders"):
        lines = (shop.log_dir / f"{name}.log").read_text().splitlines()
        assert lines
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {r["service"] for r in records} == {name}
        assert any(r["msg"] == "request" and "route" in r for r in records)


def test_copied_modules_stay_identical() -> None:
    """Each service owns its copy of the shared plumbing; the copies must not drift."""
    root = Path(__file__).resolve().parents[1]
    groups = {
        "core/logging.py": ("auth", "products", "orders"),
        "core/metrics.py": ("auth", "products", "orders"),
        "core/security.py": ("products", "orders"),
        "core/jwks.py": ("products", "orders"),
    }
    for module, services in groups.items():
        texts = {(root / s / "app" / module).read_text() for s in services}
        assert len(texts) == 1, f"app/{module} differs between {services}"
