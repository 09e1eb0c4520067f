"""The versioned API router (each route module carries the `/api/v1` prefix)."""

from fastapi import APIRouter

from app.api.routes import orders

api_router = APIRouter()
api_router.include_router(orders.router)
