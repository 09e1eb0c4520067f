"""Login: exchange email and password for a short-lived access token."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, status

from app import crud
from app.api.deps import KeysDep, SessionDep, SettingsDep
from app.core import security
from app.core.config import API_V1_STR
from app.models import LoginRequest, Token

router = APIRouter(prefix=API_V1_STR, tags=["login"])


@router.post("/login")
async def login(
    body: LoginRequest, session: SessionDep, settings: SettingsDep, keys: KeysDep
) -> Token:
    """Return an RS256 access token carrying the user's id (`sub`) and `roles`."""
    user = await crud.authenticate(session, email=body.email, password=body.password)
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = security.create_access_token(
        private_key=keys.private_key,
        subject=str(user.id),
        roles=user.roles,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        expires_in=timedelta(seconds=settings.access_token_expire_seconds),
        extra_claims={"email": user.email},
    )
    return Token(access_token=token, expires_in=settings.access_token_expire_seconds)
