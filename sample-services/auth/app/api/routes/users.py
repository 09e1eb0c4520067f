"""Registration and the current user."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app import crud
from app.api.deps import CurrentUser, SessionDep
from app.core.config import API_V1_STR
from app.models import UserPublic, UserRegister

router = APIRouter(prefix=f"{API_V1_STR}/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def register(body: UserRegister, session: SessionDep) -> UserPublic:
    """Create a user with role `user` (admins come from the bootstrap, see README)."""
    try:
        user = await crud.create_user(
            session, email=body.email, password=body.password, full_name=body.full_name
        )
    except crud.EmailTakenError as exc:
        raise HTTPException(
            status_code=status.HTTP_409_CONFLICT, detail="email already registered"
        ) from exc
    return UserPublic.model_validate(user)


@router.get("/me")
async def read_me(user: CurrentUser) -> UserPublic:
    """The user the bearer token belongs to."""
    return UserPublic.model_validate(user)
