"""API schemas of the products service (documents are stored as these models dump)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]
Stock = Annotated[int, Field(ge=0, le=1_000_000)]


class ProductCreate(BaseModel):
    """Body of `POST /api/v1/products`."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = Field(default="", max_length=2000)
    price_cents: Cents
    stock: Stock = 0


class ProductUpdate(BaseModel):
    """Body of `PATCH /api/v1/products/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    price_cents: Cents | None = None
    stock: Stock | None = None


class Product(BaseModel):
    """A product as the API shows it."""

    id: str
    name: str
    description: str
    price_cents: int
    stock: int
    created_at: datetime
    updated_at: datetime


class ProductsPage(BaseModel):
    """A page of products and the total count."""

    data: list[Product]
    count: int


class ReservationItem(BaseModel):
    """One line of a stock reservation."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    quantity: int = Field(ge=1, le=1000)


class ReservationCreate(BaseModel):
    """Body of `POST /api/v1/reservations`; the id makes retries idempotent."""

    model_config = ConfigDict(extra="forbid")

    reservation_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    items: list[ReservationItem] = Field(min_length=1, max_length=50)


class ReservedLine(BaseModel):
    """A reserved line, with the name and unit price at reservation time."""

    product_id: str
    name: str
    unit_price_cents: int
    quantity: int


class Reservation(BaseModel):
    """Stock taken for an order: `reserved`, then possibly `released`."""

    id: str
    user_id: str
    status: Literal["pending", "reserved", "released", "failed"]
    items: list[ReservedLine]
    total_cents: int
    created_at: datetime
