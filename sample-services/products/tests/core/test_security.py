from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.core.security import InvalidTokenError, decode_access_token, token_key_id
from shoptools.tokens import TokenFactory

ISSUER = "http://auth.test"


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory(issuer=ISSUER)


def _decode(tokens: TokenFactory, token: str, audience: str | None = None) -> object:
    token_key_id(token)
    return decode_access_token(
        token, tokens.private_key.public_key(), issuer=ISSUER, audience=audience
    )


def test_valid_token_gives_subject_and_roles(tokens: TokenFactory) -> None:
    token = tokens.token(sub="u-7", roles=["user", "admin"])
    assert token_key_id(token) == tokens.kid
    principal = decode_access_token(token, tokens.private_key.public_key(), issuer=ISSUER)
    assert principal.subject == "u-7"
    assert principal.has_role("admin")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda t: t.token(now=datetime.now(UTC) - timedelta(hours=1)), id="expired"),
        pytest.param(lambda t: t.token(issuer="http://evil.test"), id="wrong-issuer"),
        pytest.param(lambda t: t.alg_none_token(), id="alg-none"),
        pytest.param(lambda t: t.tampered(t.token(), roles=["admin"]), id="tampered"),
        pytest.param(lambda t: TokenFactory(ISSUER).token(kid=t.kid), id="other-key-same-kid"),
        pytest.param(
            lambda t: jwt.encode(
                {"sub": "x", "iss": ISSUER, "iat": 0, "exp": 2**32},
                t.jwk()["n"],
                algorithm="HS256",
                headers={"kid": t.kid},
            ),
            id="hs256-key-confusion",
        ),
        pytest.param(lambda t: t.token(extra={"roles": "admin"}), id="roles-not-a-list"),
        pytest.param(lambda t: "not.a.token", id="garbage"),
    ],
)
def test_bad_tokens_are_rejected(tokens: TokenFactory, make: object) -> None:
    token = make(tokens)  # type: ignore[operator]
    with pytest.raises(InvalidTokenError):
        _decode(tokens, token)


def test_audience_is_checked_when_configured() -> None:
    shop = TokenFactory(issuer=ISSUER, audience="shop")
    assert _decode(shop, shop.token(), audience="shop")
    with pytest.raises(InvalidTokenError):
        _decode(shop, shop.token(), audience="other")


def test_token_without_kid_is_rejected(tokens: TokenFactory) -> None:
    token = jwt.encode({"sub": "x"}, tokens.private_key, algorithm="RS256")
    with pytest.raises(InvalidTokenError, match="kid"):
        token_key_id(token)
