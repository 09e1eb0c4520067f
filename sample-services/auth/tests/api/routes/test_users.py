from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from tests.conftest import login, register


async def test_register_login_and_me(client: httpx.AsyncClient) -> None:
    created = await register(client, "Alice@Example.com", full_name="Alice")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "alice@example.com"
    assert body["roles"] == ["user"]
    assert "hashed_password" not in body and "password" not in body

    token = await login(client, "alice@example.com")
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]


async def test_duplicate_email_is_a_conflict_case_insensitively(client: httpx.AsyncClient) -> None:
    assert (await register(client, "bob@example.com")).status_code == 201
    again = await register(client, "BOB@example.com")
    assert again.status_code == 409
    assert again.json()["detail"] == "email already registered"


async def test_invalid_payload_names_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users", json={"email": "not-an-email", "password": "short", "role": "admin"}
    )
    assert response.status_code == 422
    fields = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("body", "email") in fields
    assert ("body", "password") in fields
    assert ("body", "role") in fields  # unknown fields are refused, not ignored


async def test_sql_injection_strings_are_stored_as_data(client: httpx.AsyncClient) -> None:
    evil = "Robert'); DROP TABLE users; --"
    created = await register(client, "robert@example.com", full_name=evil)
    assert created.status_code == 201
    assert created.json()["full_name"] == evil
    # The table is still there and the string came back verbatim.
    token = await login(client, "robert@example.com")
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["full_name"] == evil
    injected = await client.post(
        "/api/v1/login", json={"email": "x@example.com' OR '1'='1", "password": "' OR '1'='1"}
    )
    assert injected.status_code in (401, 422)


async def test_me_rejects_missing_and_bad_tokens(client: httpx.AsyncClient) -> None:
    await register(client, "carol@example.com")
    token = await login(client, "carol@example.com")
    header, payload, signature = token.split(".")
    unsigned = jwt.encode({"sub": "x"}, key="", algorithm="none")
    for bad in (
        None,
        "garbage",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        unsigned,
    ):
        headers = {"Authorization": f"Bearer {bad}"} if bad else {}
        response = await client.get("/api/v1/users/me", headers=headers)
        assert response.status_code == 401, bad
        assert response.headers["www-authenticate"] == "Bearer"


async def test_me_rejects_expired_and_foreign_tokens(client: httpx.AsyncClient) -> None:
    from app.core import security  # the service's own signing function

    created = await register(client, "dave@example.com")
    user_id = created.json()["id"]
    app_keys = client._transport.app.state.keys  # type: ignore[attr-defined]
    expired = security.create_access_token(
        private_key=app_keys.private_key,
        subject=user_id,
        roles=["user"],
        issuer="http://auth.test",
        expires_in=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    wrong_issuer = security.create_access_token(
        private_key=app_keys.private_key,
        subject=user_id,
        roles=["user"],
        issuer="http://evil.test",
        expires_in=timedelta(minutes=5),
    )
    other_key = security.create_access_token(
        private_key=security.generate_private_key(),
        subject=user_id,
        roles=["user"],
        issuer="http://auth.test",
        expires_in=timedelta(minutes=5),
    )
    for bad in (expired, wrong_issuer, other_key):
        response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401
