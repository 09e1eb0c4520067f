"""The signing key (from a mounted Secret file, or generated for development) and the JWKS."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from app.core import security
from app.core.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SigningKeys:
    """The private key tokens are signed with, and every public key the JWKS publishes."""

    private_key: rsa.RSAPrivateKey
    extra_public_keys: tuple[rsa.RSAPublicKey, ...] = field(default=())

    @property
    def kid(self) -> str:
        """Key id of the current signing key."""
        return security.key_id(self.private_key.public_key())

    def jwks(self) -> dict[str, Any]:
        """The JWK Set: the current key first, then keys kept for rotation."""
        keys = [self.private_key.public_key(), *self.extra_public_keys]
        return {"keys": [security.public_jwk(k) for k in keys]}


def load_signing_keys(settings: Settings) -> SigningKeys:
    """Read `JWT_PRIVATE_KEY_FILE`, or generate a key when it is unset (development)."""
    if settings.jwt_private_key_file is not None:
        private = security.load_private_key(settings.jwt_private_key_file.read_bytes())
    else:
        logger.warning(
            "JWT_PRIVATE_KEY_FILE is unset: generated a development key; tokens die with "
            "this process and differ between replicas"
        )
        private = security.generate_private_key()
    extra = tuple(
        security.load_public_key(path.read_bytes()) for path in settings.jwt_extra_public_key_files
    )
    return SigningKeys(private_key=private, extra_public_keys=extra)
