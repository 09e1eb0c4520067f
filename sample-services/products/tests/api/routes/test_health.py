from __future__ import annotations

import httpx
from fastapi import FastAPI


async def test_healthz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_follows_the_database(client: httpx.AsyncClient, app: FastAPI) -> None:
    assert (await client.get("/readyz")).status_code == 200
    await app.state.db.client.close()  # the database is gone for this app
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing"}


async def test_metrics_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/products/one")
    await client.get("/api/v1/products/two")
    text = (await client.get("/metrics")).text
    line = 'http_requests_total{method="GET",route="/api/v1/products/{product_id}",status="404"}'
    assert f"{line} 2.0" in text
    assert (
        'http_request_duration_seconds_count{method="GET",route="/api/v1/products/{product_id}"}'
        in text
    )


async def test_indexes_exist(app: FastAPI) -> None:
    names = {index["name"] async for index in await app.state.db.products.list_indexes()}
    assert {"name_unique", "created_at"} <= names
