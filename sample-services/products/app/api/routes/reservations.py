"""Stock reservations: how the orders service takes stock, all or nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from app.api.deps import ROLE_ADMIN, CatalogDep, CurrentPrincipal
from app.core.config import API_V1_STR
from app.crud import (
    CatalogError,
    InsufficientStockError,
    ReservationConflictError,
    UnknownProductError,
)
from app.models import Reservation, ReservationCreate

router = APIRouter(prefix=f"{API_V1_STR}/reservations", tags=["reservations"])

_STATUS = {
    UnknownProductError: status.HTTP_404_NOT_FOUND,
    InsufficientStockError: status.HTTP_409_CONFLICT,
    ReservationConflictError: status.HTTP_409_CONFLICT,
}


def _http_error(exc: CatalogError) -> HTTPException:
    code = _STATUS.get(type(exc), status.HTTP_409_CONFLICT)
    return HTTPException(status_code=code, detail=exc.as_detail())


@router.post("", status_code=status.HTTP_201_CREATED)
async def reserve(
    body: ReservationCreate, catalog: CatalogDep, principal: CurrentPrincipal, response: Response
) -> Reservation:
    """Take stock for every item and fix their prices; 200 when replaying the same id."""
    try:
        reservation, created = await catalog.reserve(
            body.reservation_id, principal.subject, body.items
        )
    except CatalogError as exc:
        raise _http_error(exc) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return reservation


@router.delete("/{reservation_id}")
async def release(
    reservation_id: Annotated[str, Path(min_length=1, max_length=64)],
    catalog: CatalogDep,
    principal: CurrentPrincipal,
) -> Reservation:
    """Give a reservation's stock back (its owner or an admin); idempotent."""
    try:
        return await catalog.release(
            reservation_id, principal.subject, is_admin=principal.has_role(ROLE_ADMIN)
        )
    except ReservationConflictError as exc:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=exc.as_detail()) from exc
