from __future__ import annotations

import httpx

from shoptools import databases


async def test_healthz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_follows_the_database(
    client: httpx.AsyncClient, database_servers: databases.DatabaseServers, database_url: str
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    databases.drop_postgres_database(database_servers.postgres_url, database_url.rsplit("/")[-1])
    assert (await client.get("/readyz")).status_code == 503


async def test_metrics_count_errors(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    await client.post("/api/v1/orders", json={"items": []}, headers=alice)
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/api/v1/orders",status="422"} 1.0' in text
