"""Request dependencies, as `Annotated` aliases used by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.jwks import JwksCache, JwksUnavailableError
from app.core.products import ProductsClient
from app.core.security import InvalidTokenError, Principal, decode_access_token, token_key_id

bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_products(request: Request) -> ProductsClient:
    """The products client opened at start."""
    products: ProductsClient = request.app.state.products
    return products


def get_jwks(request: Request) -> JwksCache:
    """The issuer's keys."""
    jwks: JwksCache = request.app.state.jwks
    return jwks


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One database session per request."""
    async with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProductsDep = Annotated[ProductsClient, Depends(get_products)]
JwksDep = Annotated[JwksCache, Depends(get_jwks)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TokenDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=f"invalid or missing bearer token: {reason}",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def get_principal(settings: SettingsDep, jwks: JwksDep, credentials: TokenDep) -> Principal:
    """The caller, from a bearer token signed by the issuer's current keys."""
    if credentials is None:
        raise _unauthorized("no token")
    try:
        key = await jwks.get_key(token_key_id(credentials.credentials))
        return decode_access_token(
            credentials.credentials,
            key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
        )
    except InvalidTokenError as exc:
        raise _unauthorized(str(exc)) from exc
    except JwksUnavailableError as exc:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="cannot verify tokens: the issuer's keys are unavailable",
        ) from exc


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_bearer_token(principal: CurrentPrincipal, credentials: TokenDep) -> str:
    """The caller's verified token, forwarded to products."""
    assert credentials is not None  # get_principal refused the request otherwise
    return credentials.credentials


BearerToken = Annotated[str, Depends(get_bearer_token)]
