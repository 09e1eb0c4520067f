"""Request dependencies, as `Annotated` aliases used by the routes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app import crud
from app.core.config import Settings
from app.core.keys import SigningKeys
from app.core.security import ALGORITHM
from app.models import User

bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_keys(request: Request) -> SigningKeys:
    """The signing keys loaded at start."""
    keys: SigningKeys = request.app.state.keys
    return keys


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One database session per request."""
    async with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[SigningKeys, Depends(get_keys)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TokenDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="invalid or missing bearer token",
    headers={"WWW-Authenticate": "Bearer"},
)


async def get_current_user(
    session: SessionDep, settings: SettingsDep, keys: KeysDep, credentials: TokenDep
) -> User:
    """The active user the bearer token (issued by this service) names."""
    if credentials is None:
        raise _UNAUTHORIZED
    try:
        claims = jwt.decode(
            credentials.credentials,
            keys.private_key.public_key(),
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise _UNAUTHORIZED from exc
    user = await crud.get_user(session, user_id)
    if user is None or not user.is_active:
        raise _UNAUTHORIZED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
