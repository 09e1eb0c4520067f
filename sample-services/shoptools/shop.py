"""Start the whole shop, and talk to it: register, log in, manage products, place orders."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shoptools.databases import DatabaseServers, fresh_mongodb_database, fresh_postgres_database
from shoptools.processes import SERVICES, ServiceProcess, free_port, start_services, stop_service


@dataclass(frozen=True)
class Shop:
    """Base URLs of the three running services and the bootstrap admin."""

    auth: str
    products: str
    orders: str
    admin_email: str
    admin_password: str
    log_dir: Path | None = None
    orders_env: dict[str, str] = field(default_factory=dict)


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def register_and_login(
    http: httpx.AsyncClient, shop: Shop, email: str | None = None
) -> tuple[str, str]:
    """Register a new user; return (user id, access token)."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct-horse-battery"
    created = await http.post(
        f"{shop.auth}/api/v1/users", json={"email": email, "password": password}
    )
    created.raise_for_status()
    return str(created.json()["id"]), await login(http, shop, email, password)


async def login(http: httpx.AsyncClient, shop: Shop, email: str, password: str) -> str:
    """An access token for these credentials."""
    response = await http.post(
        f"{shop.auth}/api/v1/login", json={"email": email, "password": password}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def admin_token(http: httpx.AsyncClient, shop: Shop) -> str:
    """An access token of the bootstrap admin."""
    return await login(http, shop, shop.admin_email, shop.admin_password)


async def create_product(
    http: httpx.AsyncClient, shop: Shop, token: str, *, price_cents: int, stock: int
) -> dict[str, Any]:
    """A new product with a unique name."""
    body = {"name": f"product-{uuid.uuid4().hex[:10]}", "price_cents": price_cents, "stock": stock}
    response = await http.post(f"{shop.products}/api/v1/products", json=body, headers=bearer(token))
    response.raise_for_status()
    product: dict[str, Any] = response.json()
    return product


async def stock_of(http: httpx.AsyncClient, shop: Shop, product_id: str) -> int:
    """The product's stock now."""
    response = await http.get(f"{shop.products}/api/v1/products/{product_id}")
    response.raise_for_status()
    return int(response.json()["stock"])


ISSUER = "http://auth.shop.local"
ADMIN_EMAIL = "admin@example.com"


def write_signing_key(path: Path) -> Path:
    """A fresh RSA key in PEM, as the Secret mounted into auth would hold it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def start_shop(
    *,
    auth_db: str,
    products_db: str,
    orders_db: str,
    key_file: Path,
    log_dir: Path,
    admin_password: str,
    issuer: str = ISSUER,
    admin_email: str = ADMIN_EMAIL,
) -> tuple[Shop, list[ServiceProcess]]:
    """Start auth, products and orders (in that order, each ready before the next)."""
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    jwt_env = {"JWKS_URL": f"{urls['auth']}/.well-known/jwks.json", "JWT_ISSUER": issuer}
    orders_env = {"DATABASE_URL": orders_db, "PRODUCTS_URL": urls["products"], **jwt_env}
    envs = {
        "auth": {
            "DATABASE_URL": auth_db,
            "JWT_ISSUER": issuer,
            "JWT_PRIVATE_KEY_FILE": str(key_file),
            "ADMIN_EMAIL": admin_email,
            "ADMIN_PASSWORD": admin_password,
        },
        "products": {"DATABASE_URL": products_db, **jwt_env},
        "orders": orders_env,
    }
    started = start_services(envs, ports, log_dir)
    shop = Shop(
        auth=urls["auth"],
        products=urls["products"],
        orders=urls["orders"],
        admin_email=admin_email,
        admin_password=admin_password,
        log_dir=log_dir,
        orders_env=orders_env,
    )
    return shop, started


@contextmanager
def running_shop(servers: DatabaseServers, work_dir: Path) -> Iterator[Shop]:
    """The whole shop on fresh databases for the length of a block."""
    with ExitStack() as stack:
        auth_db = stack.enter_context(fresh_postgres_database(servers.postgres_url))
        orders_db = stack.enter_context(fresh_postgres_database(servers.postgres_url))
        products_db = stack.enter_context(fresh_mongodb_database(servers.mongodb_url))
        shop, processes = start_shop(
            auth_db=auth_db,
            products_db=products_db,
            orders_db=orders_db,
            key_file=write_signing_key(work_dir / "jwt.pem"),
            log_dir=work_dir / "logs",
            admin_password=secrets.token_urlsafe(16),
        )
        for service in reversed(processes):
            stack.callback(stop_service, service)
        yield shop


async def walk_flow(http: httpx.AsyncClient, shop: Shop, say: Callable[[str], None]) -> None:
    """Register, log in, stock a product as admin, order it, check stock and history.

    Prints one line per step; raises on the first step that does not do what it should.
    """
    email = f"shopper-{uuid.uuid4().hex[:8]}@example.com"
    user_id, token = await register_and_login(http, shop, email)
    say(f"register   {email} at auth -> user {user_id}")
    claims = jwt.decode(token, options={"verify_signature": False})
    say(f"login      RS256 token from auth, iss={claims['iss']} roles={claims['roles']}")
    admin = await admin_token(http, shop)
    say(f"admin      {shop.admin_email} logs in (bootstrap admin from the Secret)")
    product = await create_product(http, shop, admin, price_cents=1999, stock=5)
    say(f"product    admin adds {product['name']} at products: 19.99, stock 5")
    body = {"items": [{"product_id": product["id"], "quantity": 2}]}
    placed = await http.post(f"{shop.orders}/api/v1/orders", json=body, headers=bearer(token))
    if placed.status_code != 201:
        raise RuntimeError(f"order failed: {placed.status_code} {placed.text}")
    order = placed.json()
    if order["total_cents"] != 2 * 1999:
        raise RuntimeError(f"order total {order['total_cents']}, expected {2 * 1999}")
    say(f"order      2 x {product['name']} at orders -> order {order['id']}, total 39.98")
    stock = await stock_of(http, shop, product["id"])
    if stock != 3:
        raise RuntimeError(f"stock after the order is {stock}, expected 3")
    say("stock      orders reserved 2 at products over REST: stock 5 -> 3")
    mine = await http.get(f"{shop.orders}/api/v1/orders", headers=bearer(token))
    mine.raise_for_status()
    if [o["id"] for o in mine.json()["data"]] != [order["id"]]:
        raise RuntimeError(f"order history is {mine.json()}, expected the one order")
    say("history    the shopper sees exactly their one order")
