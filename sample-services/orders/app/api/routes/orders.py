"""Orders: place one (prices and stock come from products), read your own."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from app import crud
from app.api.deps import BearerToken, CurrentPrincipal, ProductsDep, SessionDep
from app.core.config import API_V1_STR
from app.core.products import (
    InsufficientStockError,
    ProductsBadResponseError,
    ProductsUnavailableError,
    UnknownProductError,
)
from app.models import OrderCreate, OrderPublic, OrdersPage

router = APIRouter(prefix=f"{API_V1_STR}/orders", tags=["orders"])
logger = logging.getLogger(__name__)


def _unknown_product(body: OrderCreate, exc: UnknownProductError) -> HTTPException:
    errors: list[dict[str, Any]] = [
        {
            "type": "unknown_product",
            "loc": ["body", "items", index, "product_id"],
            "msg": str(exc),
            "input": item.product_id,
        }
        for index, item in enumerate(body.items)
        if item.product_id == exc.product_id
    ]
    return HTTPException(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)


@router.post("", status_code=status.HTTP_201_CREATED)
async def place_order(
    body: OrderCreate,
    principal: CurrentPrincipal,
    token: BearerToken,
    session: SessionDep,
    products: ProductsDep,
) -> OrderPublic:
    """Reserve stock at products (which fixes prices), then record the order.

    Nothing is written unless products reserved every line; if writing fails, the
    reservation is released again.
    """
    order_id = uuid.uuid4()
    lines = [(item.product_id, item.quantity) for item in body.items]
    try:
        reservation = await products.reserve(order_id.hex, lines, token)
    except UnknownProductError as exc:
        raise _unknown_product(body, exc) from exc
    except InsufficientStockError as exc:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except ProductsUnavailableError as exc:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the products service is unavailable; no order was placed",
            headers={"Retry-After": "2"},
        ) from exc
    except ProductsBadResponseError as exc:
        logger.error("bad answer from products", extra={"error": str(exc)})
        raise HTTPException(
            status_code=status.HTTP_502_BAD_GATEWAY,
            detail="the products service gave an unexpected answer; no order was placed",
        ) from exc
    try:
        order = await crud.create_order(
            session, order_id=order_id, user_id=principal.subject, reservation=reservation
        )
    except BaseException:
        # Shielded: a client hanging up must not leave stock taken for no order.
        await asyncio.shield(products.release(order_id.hex, token))
        raise
    logger.info(
        "order placed",
        extra={"order_id": str(order.id), "user_id": principal.subject, "total": order.total_cents},
    )
    return OrderPublic.model_validate(order)


@router.get("")
async def list_orders(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> OrdersPage:
    """The caller's orders, newest first."""
    orders, count = await crud.list_orders(
        session, user_id=principal.subject, limit=limit, offset=offset
    )
    return OrdersPage(data=[OrderPublic.model_validate(o) for o in orders], count=count)


@router.get("/{order_id}")
async def get_order(
    order_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> OrderPublic:
    """One of the caller's orders; someone else's order is 404, as if it did not exist."""
    order = await crud.get_order(session, user_id=principal.subject, order_id=order_id)
    if order is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="order not found")
    return OrderPublic.model_validate(order)
