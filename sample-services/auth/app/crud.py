"""Database operations on users."""

from __future__ import annotations

import logging
import uuid

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import security
from app.models import ROLE_ADMIN, ROLE_USER, User

logger = logging.getLogger(__name__)


class EmailTakenError(Exception):
    """A user with this email already exists."""


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user with this id, or None."""
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this email (case-insensitive), or None."""
    result = await session.execute(select(User).where(User.email == email.lower()))
    return result.scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str = "",
    roles: list[str] | None = None,
) -> User:
    """Insert a user; hashing runs in a worker thread so the event loop stays free."""
    hashed = await anyio.to_thread.run_sync(security.hash_password, password)
    user = User(
        email=email.lower(),
        full_name=full_name,
        hashed_password=hashed,
        roles=roles or [ROLE_USER],
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailTakenError(email) from exc
    await session.refresh(user)
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (constant work either way)."""
    user = await get_user_by_email(session, email)
    stored = user.hashed_password if user else security.DUMMY_PASSWORD_HASH
    ok = await anyio.to_thread.run_sync(security.verify_password, password, stored)
    if not ok or user is None or not user.is_active:
        return None
    if security.password_needs_rehash(user.hashed_password):
        user.hashed_password = await anyio.to_thread.run_sync(security.hash_password, password)
        await session.commit()
    return user


async def ensure_admin(session: AsyncSession, *, email: str, password: str) -> None:
    """Create the bootstrap admin if missing; never takes over an existing account."""
    user = await get_user_by_email(session, email)
    if user is None:
        try:
            await create_user(
                session, email=email, password=password, roles=[ROLE_USER, ROLE_ADMIN]
            )
        except EmailTakenError:  # another replica created it first
            return
        logger.info("created bootstrap admin", extra={"email": email.lower()})
    elif ROLE_ADMIN not in user.roles:
        logger.warning(
            "ADMIN_EMAIL belongs to an existing non-admin user; not promoting it",
            extra={"email": email.lower()},
        )
