from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from app.core import security
from app.core.config import Settings
from app.main import create_app
from tests.conftest import ISSUER


def _pem(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = security.generate_private_key()
    path = tmp_path / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path, security.key_id(key.public_key())


async def test_jwks_publishes_the_signing_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    [key] = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert "d" not in key  # never the private part
    discovery = (await client.get("/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == ISSUER


async def test_key_from_secret_file_and_rotation_keys(database_url: str, tmp_path: Path) -> None:
    current, current_kid = _pem(tmp_path, "current.pem")
    previous, previous_kid = _pem(tmp_path, "previous.pem")
    settings = Settings(
        database_url=database_url,
        jwt_private_key_file=current,
        jwt_extra_public_key_files=[previous],
    )
    for _ in range(2):  # a restart serves the same kid: the key comes from the file
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
        assert [k["kid"] for k in keys] == [current_kid, previous_kid]
