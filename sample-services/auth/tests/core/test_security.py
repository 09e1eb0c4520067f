from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.core import security


def test_password_hash_roundtrip() -> None:
    hashed = security.hash_password("s3cret-password")
    assert hashed.startswith("$argon2id$")
    assert security.verify_password("s3cret-password", hashed)
    assert not security.verify_password("wrong-password", hashed)
    assert not security.verify_password("anything", "not-a-hash")
    assert not security.password_needs_rehash(hashed)


def test_token_is_rs256_with_kid_and_claims() -> None:
    key = security.generate_private_key()
    now = datetime.now(UTC)
    token = security.create_access_token(
        private_key=key,
        subject="u-1",
        roles=["user", "admin"],
        issuer="iss",
        audience="shop",
        expires_in=timedelta(minutes=5),
        now=now,
    )
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == security.key_id(key.public_key())
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="shop")
    assert claims["sub"] == "u-1"
    assert claims["roles"] == ["user", "admin"]
    assert claims["iss"] == "iss"
    assert claims["exp"] - claims["iat"] == 300


def test_expired_token_fails_verification() -> None:
    key = security.generate_private_key()
    token = security.create_access_token(
        private_key=key,
        subject="u-1",
        roles=[],
        issuer="iss",
        expires_in=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, key.public_key(), algorithms=["RS256"])


def test_public_jwk_verifies_tokens_and_kid_is_rfc7638() -> None:
    key = security.generate_private_key()
    jwk = security.public_jwk(key.public_key())
    assert set(jwk) == {"kty", "n", "e", "kid", "use", "alg"}
    assert len(jwk["kid"]) == 43  # base64url SHA-256, no padding
    token = security.create_access_token(
        private_key=key, subject="s", roles=[], issuer="i", expires_in=timedelta(minutes=1)
    )
    public = jwt.PyJWK(jwk).key
    assert jwt.decode(token, public, algorithms=["RS256"])["sub"] == "s"


def test_load_private_key_accepts_rsa_and_rejects_others() -> None:
    key = security.generate_private_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert security.key_id(security.load_private_key(pem).public_key()) == security.key_id(
        key.public_key()
    )
    assert security.key_id(security.load_public_key(pem)) == security.key_id(key.public_key())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for bad in (small, ec_key):
        bad_pem = bad.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with pytest.raises(ValueError, match="JWT private key"):
            security.load_private_key(bad_pem)
