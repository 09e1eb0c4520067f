"""The issuer's public keys, fetched from `JWKS_URL`, cached and refreshed on unknown `kid`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from app.core.security import ALGORITHM, InvalidTokenError

logger = logging.getLogger(__name__)


class UnknownKeyError(InvalidTokenError):
    """No key with the token's `kid`, even after a refresh."""


class JwksUnavailableError(Exception):
    """The JWKS cannot be fetched and no keys are cached."""


class JwksCache:
    """Keys by `kid`, refreshed when older than `max_age` or when a `kid` is unknown.

    Refreshes on unknown `kid` happen at most once per `min_refresh_interval`, so
    tokens with made-up `kid`s cannot turn the service into a JWKS flooder.
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        max_age: float = 300.0,
        min_refresh_interval: float = 10.0,
    ) -> None:
        self.url = url
        self._http = http
        self._max_age = max_age
        self._min_refresh_interval = min_refresh_interval
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get_key(self, kid: str) -> rsa.RSAPublicKey:
        """The public key for `kid`; may fetch the JWKS."""
        now = time.monotonic()
        if now - self._fetched_at > self._max_age:
            await self._refresh(min_interval=self._max_age)
        key = self._keys.get(kid)
        if key is None:
            await self._refresh(min_interval=self._min_refresh_interval)
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKeyError(f"unknown key id {kid!r}")
        return key

    async def _refresh(self, min_interval: float) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < min_interval:
                return  # someone refreshed while we waited, or too soon to ask again
            try:
                response = await self._http.get(self.url, timeout=3.0)
                response.raise_for_status()
                keys = _parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise JwksUnavailableError(f"cannot fetch JWKS from {self.url}") from exc
                logger.warning(
                    "JWKS refresh failed; keeping cached keys", extra={"error": str(exc)}
                )
                self._fetched_at = time.monotonic()
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            logger.info("JWKS refreshed", extra={"kids": sorted(keys)})


def _parse_jwks(document: Any) -> dict[str, rsa.RSAPublicKey]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS document has no keys list")
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        except jwt.PyJWTError:
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys[str(jwk["kid"])] = key
    return keys
