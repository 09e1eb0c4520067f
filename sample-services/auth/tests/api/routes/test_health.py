from __future__ import annotations

import httpx

from shoptools import databases


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_follows_the_database(
    client: httpx.AsyncClient, database_servers: databases.DatabaseServers, database_url: str
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    name = database_url.rsplit("/", 1)[1]
    databases.drop_postgres_database(database_servers.postgres_url, name)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing"}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.post("/api/v1/login", json={"email": "nobody@example.com", "password": "x"})
    await client.get("/no/such/path")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/api/v1/login",status="401"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "http_request_errors_total" in text
