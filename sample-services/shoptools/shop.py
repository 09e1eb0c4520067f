"""Start the whole shop, and talk to it: register, log in, manage products, place orders."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shoptools.databases import DatabaseServers, fresh_mongodb_database, fresh_postgres_database
from shoptools.processes import ServiceProcess, start_service, stop_service


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
    started: list[ServiceProcess] = []
    try:
        auth = start_service(
            "auth",
            {
                "DATABASE_URL": auth_db,
                "JWT_ISSUER": issuer,
                "JWT_PRIVATE_KEY_FILE": str(key_file),
                "ADMIN_EMAIL": admin_email,
                "ADMIN_PASSWORD": admin_password,
            },
            log_dir,
        )
        started.append(auth)
        jwt_env = {"JWKS_URL": f"{auth.url}/.well-known/jwks.json", "JWT_ISSUER": issuer}
        products = start_service("products", {"DATABASE_URL": products_db, **jwt_env}, log_dir)
        started.append(products)
        orders_env = {"DATABASE_URL": orders_db, "PRODUCTS_URL": products.url, **jwt_env}
        orders = start_service("orders", orders_env, log_dir)
        started.append(orders)
    except BaseException:
        for service in reversed(started):
            stop_service(service)
        raise
    shop = Shop(
        auth=auth.url,
        products=products.url,
        orders=orders.url,
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
