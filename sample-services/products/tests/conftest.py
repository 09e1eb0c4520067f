from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from shoptools import databases
from shoptools.tokens import JwksServer, TokenFactory

ISSUER = "http://auth.test"


@pytest.fixture(scope="session")
def database_servers() -> Iterator[databases.DatabaseServers]:
    with databases.database_servers() as servers:
        yield servers


@pytest.fixture
def mongodb_url(database_servers: databases.DatabaseServers) -> Iterator[str]:
    with databases.fresh_mongodb_database(database_servers.mongodb_url) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory(issuer=ISSUER)


@pytest.fixture
def jwks_server(tokens: TokenFactory) -> Iterator[JwksServer]:
    with JwksServer(tokens).running() as server:
        yield server


@pytest.fixture
def settings(mongodb_url: str, jwks_server: JwksServer) -> Settings:
    return Settings(database_url=mongodb_url, jwks_url=jwks_server.url, jwt_issuer=ISSUER)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://products.test") as client:
        yield client


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.admin_token()}"}


@pytest.fixture
def user(tokens: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.token(sub='user-1')}"}


async def create_product(
    client: httpx.AsyncClient, admin: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Teapot", "price_cents": 1999, "stock": 10, **fields}
    response = await client.post("/api/v1/products", json=body, headers=admin)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product
