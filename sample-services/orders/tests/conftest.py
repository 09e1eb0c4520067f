from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from shoptools import databases
from shoptools.tokens import JwksServer, TokenFactory
from tests.stub_products import StubProducts

ISSUER = "http://auth.test"


@pytest.fixture(scope="session")
def database_servers() -> Iterator[databases.DatabaseServers]:
    with databases.database_servers() as servers:
        yield servers


@pytest.fixture
def database_url(database_servers: databases.DatabaseServers) -> Iterator[str]:
    with databases.fresh_postgres_database(database_servers.postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory(issuer=ISSUER)


@pytest.fixture
def jwks_server(tokens: TokenFactory) -> Iterator[JwksServer]:
    with JwksServer(tokens).running() as server:
        yield server


@pytest.fixture
def settings(database_url: str, jwks_server: JwksServer) -> Settings:
    return Settings(
        database_url=database_url,
        jwks_url=jwks_server.url,
        jwt_issuer=ISSUER,
        products_url="http://products.test",
        products_backoff_seconds=0.01,
    )


@pytest.fixture
def stub() -> StubProducts:
    return StubProducts(
        products={
            "teapot": ("Teapot", 1999, 10),
            "cup": ("Cup", 450, 100),
        }
    )


@pytest.fixture
async def app(settings: Settings, stub: StubProducts) -> AsyncIterator[FastAPI]:
    app = create_app(settings, products_transport=stub.transport())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
        yield client


@pytest.fixture
def alice(tokens: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.token(sub='alice')}"}


@pytest.fixture
def bob(tokens: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.token(sub='bob')}"}
