"""Sign test tokens, good and bad, with keys of our own; serve their JWKS over real HTTP."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenFactory:
    """An RSA key pair and helpers to mint RS256 tokens as the auth service would."""

    def __init__(self, issuer: str = "http://auth.test", audience: str | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-" + uuid.uuid4().hex[:8]

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK."""
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def token(
        self,
        *,
        sub: str = "user-1",
        roles: Sequence[str] = ("user",),
        issuer: str | None = None,
        expires_in: timedelta = timedelta(minutes=5),
        now: datetime | None = None,
        kid: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed RS256 token; every argument can be bent to make a bad one."""
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": sub,
            "roles": list(roles),
            "iss": issuer or self.issuer,
            "iat": issued,
            "exp": issued + expires_in,
            **(extra or {}),
        }
        if self.audience:
            claims["aud"] = self.audience
        return jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def admin_token(self, sub: str = "admin-1") -> str:
        """A valid token with role admin."""
        return self.token(sub=sub, roles=("user", "admin"))

    def alg_none_token(self, *, sub: str = "user-1", roles: Sequence[str] = ("admin",)) -> str:
        """An unsigned token (`alg: none`) that claims whatever it likes."""
        header = {"alg": "none", "typ": "JWT", "kid": self.kid}
        now = int(datetime.now(UTC).timestamp())
        payload = {
            "sub": sub,
            "roles": list(roles),
            "iss": self.issuer,
            "iat": now,
            "exp": now + 300,
        }
        encoded = [_b64(json.dumps(part).encode()) for part in (header, payload)]
        return ".".join(encoded) + "."

    @staticmethod
    def tampered(token: str, **changes: Any) -> str:
        """`token` with its payload edited and the original signature kept."""
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims.update(changes)
        return ".".join([header, _b64(json.dumps(claims).encode()), signature])


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving `/.well-known/jwks.json` for some keys."""

    def __init__(self, *factories: TokenFactory) -> None:
        self.factories = list(factories)
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                body = json.dumps({"keys": [f.jwk() for f in outer.factories]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        """Serve in a background thread until the block ends."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)
