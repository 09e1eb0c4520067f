"""The catalog: anyone reads it, admins change it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from app.api.deps import AdminPrincipal, CatalogDep
from app.core.config import API_V1_STR
from app.crud import CatalogError, NameTakenError, UnknownProductError
from app.models import Product, ProductCreate, ProductsPage, ProductUpdate

router = APIRouter(prefix=f"{API_V1_STR}/products", tags=["products"])

ProductIdPath = Annotated[str, Path(min_length=1, max_length=64)]


def _http_error(exc: CatalogError) -> HTTPException:
    code = {
        UnknownProductError: status.HTTP_404_NOT_FOUND,
        NameTakenError: status.HTTP_409_CONFLICT,
    }.get(type(exc), status.HTTP_409_CONFLICT)
    return HTTPException(status_code=code, detail=exc.as_detail())


@router.get("")
async def list_products(
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> ProductsPage:
    """A page of products (public), optionally those with exactly this name."""
    products, count = await catalog.list_products(limit=limit, offset=offset, name=name)
    return ProductsPage(data=products, count=count)


@router.get("/{product_id}")
async def get_product(product_id: ProductIdPath, catalog: CatalogDep) -> Product:
    """One product (public)."""
    try:
        return await catalog.get_product(product_id)
    except CatalogError as exc:
        raise _http_error(exc) from exc


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_product(body: ProductCreate, catalog: CatalogDep, _: AdminPrincipal) -> Product:
    """Add a product (role admin)."""
    try:
        return await catalog.create_product(body)
    except CatalogError as exc:
        raise _http_error(exc) from exc


@router.patch("/{product_id}")
async def update_product(
    product_id: ProductIdPath, body: ProductUpdate, catalog: CatalogDep, _: AdminPrincipal
) -> Product:
    """Change a product's name, description, price or stock (role admin)."""
    try:
        return await catalog.update_product(product_id, body)
    except CatalogError as exc:
        raise _http_error(exc) from exc


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(
    product_id: ProductIdPath, catalog: CatalogDep, _: AdminPrincipal
) -> Response:
    """Remove a product (role admin)."""
    try:
        await catalog.delete_product(product_id)
    except CatalogError as exc:
        raise _http_error(exc) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
