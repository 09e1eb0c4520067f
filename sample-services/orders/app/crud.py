"""Database operations on orders; every query is scoped to one user."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.products import Reservation
from app.models import Order, OrderItem


async def create_order(
    session: AsyncSession, *, order_id: uuid.UUID, user_id: str, reservation: Reservation
) -> Order:
    """Insert the order and its lines in one transaction."""
    order = Order(
        id=order_id,
        user_id=user_id,
        status="placed",
        total_cents=sum(line.unit_price_cents * line.quantity for line in reservation.items),
        items=[
            OrderItem(
                product_id=line.product_id,
                name=line.name,
                unit_price_cents=line.unit_price_cents,
                quantity=line.quantity,
            )
            for line in reservation.items
        ],
    )
    session.add(order)
    await session.commit()
    return order


async def list_orders(
    session: AsyncSession, *, user_id: str, limit: int, offset: int
) -> tuple[list[Order], int]:
    """The user's orders, newest first, and how many there are."""
    query = (
        select(Order)
        .where(Order.user_id == user_id)
        .order_by(Order.created_at.desc(), Order.id)
        .limit(limit)
        .offset(offset)
    )
    orders = list((await session.scalars(query)).all())
    count = await session.scalar(select(func.count()).where(Order.user_id == user_id))
    return orders, int(count or 0)


async def get_order(session: AsyncSession, *, user_id: str, order_id: uuid.UUID) -> Order | None:
    """The order if it exists and belongs to the user; None otherwise (no existence leak)."""
    query = select(Order).where(Order.id == order_id, Order.user_id == user_id)
    return (await session.scalars(query)).one_or_none()
