"""Pure security functions: password hashing (argon2id) and RS256 JWT issuing.

Nothing here does I/O or reads settings; callers pass everything in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
# Verified against when the user does not exist, so login takes as long either way.
DUMMY_PASSWORD_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Return an argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Tell whether `password` matches `password_hash`; never raises on a bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Tell whether the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def generate_private_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (development only: it dies with the process)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Load an unencrypted PEM RSA private key (PKCS#1 or PKCS#8)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("JWT private key must be an RSA key")
    if key.key_size < 2048:
        raise ValueError("JWT private key must have at least 2048 bits")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """Load a PEM RSA public key, or the public half of a PEM private key."""
    if b"PRIVATE KEY" in pem:
        return load_private_key(pem).public_key()
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("JWT public key must be an RSA key")
    return key


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public key as a JWK with `kid` (RFC 7638 thumbprint), `use` and `alg`."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {
        "kty": "RSA",
        "n": str(jwk["n"]),
        "e": str(jwk["e"]),
        "kid": key_id(public_key),
        "use": "sig",
        "alg": ALGORITHM,
    }


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def create_access_token(
    *,
    private_key: rsa.RSAPrivateKey,
    subject: str,
    roles: Sequence[str],
    issuer: str,
    expires_in: timedelta,
    audience: str | None = None,
    extra_claims: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """Sign a short-lived RS256 access token; the header carries the key's `kid`."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims: dict[str, Any] = {
        **(extra_claims or {}),
        "sub": subject,
        "roles": list(roles),
        "iss": issuer,
        "iat": issued,
        "nbf": issued,
        "exp": issued + expires_in,
        "jti": uuid.uuid4().hex,
    }
    if audience:
        claims["aud"] = audience
    kid = key_id(private_key.public_key())
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})
