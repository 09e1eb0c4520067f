"""Pure JWT verification: RS256 only, issuer always checked, audience when configured.

No I/O here: the key comes from the JWKS cache (`app.core.jwks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss")


class InvalidTokenError(Exception):
    """The token is malformed, unsigned, expired, foreign or otherwise unacceptable."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and roles."""

    subject: str
    roles: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict)

    def has_role(self, role: str) -> bool:
        """Tell whether the token grants `role`."""
        return role in self.roles


def token_key_id(token: str) -> str:
    """The `kid` of an RS256 token's header; anything else (`alg: none`, HS256) is refused."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError(f"token algorithm must be {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("token has no kid")
    return kid


def decode_access_token(
    token: str,
    key: rsa.RSAPublicKey,
    *,
    issuer: str,
    audience: str | None = None,
    leeway: int = 0,
) -> Principal:
    """Verify signature, expiry, issuer (and audience) and return the caller."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS), "verify_aud": audience is not None},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidTokenError("roles claim must be a list of strings")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidTokenError("sub claim must be a non-empty string")
    return Principal(subject=subject, roles=frozenset(roles), claims=claims)
