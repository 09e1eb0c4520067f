"""Public keys (JWKS) and a minimal discovery document for token consumers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.api.deps import KeysDep, SettingsDep

router = APIRouter(prefix="/.well-known", tags=["keys"])


@router.get("/jwks.json")
async def jwks(keys: KeysDep, response: Response) -> dict[str, Any]:
    """The JWK Set consumers verify tokens with; cacheable for five minutes."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return keys.jwks()


@router.get("/openid-configuration")
async def discovery(settings: SettingsDep) -> dict[str, Any]:
    """Where the keys are and how tokens are signed (a subset of OIDC discovery)."""
    return {
        "issuer": settings.jwt_issuer,
        "jwks_uri": "/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint": "/api/v1/login",
    }
