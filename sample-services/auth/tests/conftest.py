from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from shoptools import databases

ISSUER = "http://auth.test"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture(scope="session")
def database_servers() -> Iterator[databases.DatabaseServers]:
    with databases.database_servers() as servers:
        yield servers


@pytest.fixture
def database_url(database_servers: databases.DatabaseServers) -> Iterator[str]:
    with databases.fresh_postgres_database(database_servers.postgres_url) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_issuer=ISSUER,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
        yield client


async def register(
    client: httpx.AsyncClient, email: str, password: str = "correct-horse-1", full_name: str = ""
) -> httpx.Response:
    return await client.post(
        "/api/v1/users", json={"email": email, "password": password, "full_name": full_name}
    )


async def login(client: httpx.AsyncClient, email: str, password: str = "correct-horse-1") -> str:
    response = await client.post("/api/v1/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
