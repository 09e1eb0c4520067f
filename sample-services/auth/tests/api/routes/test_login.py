from __future__ import annotations

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.core.config import Settings
from app.main import create_app
from app.models import User
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ISSUER, login, register


async def test_login_issues_short_lived_rs256_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = (await register(client, "erin@example.com")).json()
    response = await client.post(
        "/api/v1/login", json={"email": "erin@example.com", "password": "correct-horse-1"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_expire_seconds
    jwks = (await client.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(
        body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], issuer=ISSUER
    )
    assert claims["sub"] == created["id"]
    assert claims["roles"] == ["user"]
    assert claims["exp"] - claims["iat"] == settings.access_token_expire_seconds


@pytest.mark.parametrize(
    ("email", "password"),
    [("frank@example.com", "wrong-password"), ("nobody@example.com", "correct-horse-1")],
)
async def test_bad_credentials_are_401(
    client: httpx.AsyncClient, email: str, password: str
) -> None:
    await register(client, "frank@example.com")
    response = await client.post("/api/v1/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.json()["detail"] == "incorrect email or password"


async def test_inactive_user_cannot_log_in(client: httpx.AsyncClient, app: FastAPI) -> None:
    await register(client, "gina@example.com")
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(User).where(User.email == "gina@example.com").values(is_active=False)
        )
        await session.commit()
    response = await client.post(
        "/api/v1/login", json={"email": "gina@example.com", "password": "correct-horse-1"}
    )
    assert response.status_code == 401


async def test_bootstrap_admin_gets_role_admin(client: httpx.AsyncClient) -> None:
    token = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["user", "admin"]


async def test_registering_never_grants_admin(client: httpx.AsyncClient) -> None:
    response = await register(client, ADMIN_EMAIL, password="attacker-password")
    assert response.status_code == 409  # the bootstrap admin exists before serving


async def test_bootstrap_never_promotes_an_existing_user(database_url: str) -> None:
    first = create_app(Settings(database_url=database_url, jwt_issuer=ISSUER))
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await register(client, "early@example.com")).status_code == 201
    second = create_app(
        Settings(
            database_url=database_url,
            jwt_issuer=ISSUER,
            admin_email="early@example.com",
            admin_password="whatever-password",
        )
    )
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = await login(client, "early@example.com")
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["user"]
