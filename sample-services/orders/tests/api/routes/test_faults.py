from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.config import Settings
from app.main import create_app
from app.models import Order
from shoptools import databases
from shoptools.processes import free_port
from tests.stub_products import StubProducts

BODY = {"items": [{"product_id": "cup", "quantity": 1}]}


async def _count_orders(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A real TCP server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        server.close()


async def _real_products_app(settings: Settings, products_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings.model_copy(update={"products_url": products_url, "products_timeout_seconds": 0.3})
    )
    async with app.router.lifespan_context(app):
        yield app


async def _post(app: FastAPI, headers: dict[str, str]) -> tuple[httpx.Response, float]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
        start = time.perf_counter()
        response = await client.post("/api/v1/orders", json=BODY, headers=headers)
        return response, time.perf_counter() - start


async def test_products_down_is_503_quickly_and_writes_nothing(
    settings: Settings, alice: dict[str, str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async for app in _real_products_app(settings, url):
        response, elapsed = await _post(app, alice)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert "no order was placed" in response.json()["detail"]
        assert elapsed < 1.0
        assert await _count_orders(app) == 0


async def test_products_hanging_times_out_then_503(
    settings: Settings, alice: dict[str, str], black_hole: str
) -> None:
    async for app in _real_products_app(settings, black_hole):
        response, elapsed = await _post(app, alice)
        assert response.status_code == 503
        # 3 attempts x 0.3 s read timeout + backoff: bounded, not the client's patience.
        assert 0.9 <= elapsed < 2.5
        assert await _count_orders(app) == 0


@pytest.mark.parametrize(
    "faults", [["refused"], ["timeout", 503], [502, "refused"], ["timeout", "in_progress"]]
)
async def test_transient_faults_are_retried_with_the_same_reservation(
    client: httpx.AsyncClient,
    alice: dict[str, str],
    stub: StubProducts,
    app: FastAPI,
    faults: list[str | int],
) -> None:
    stub.faults.extend(faults)
    response = await client.post("/api/v1/orders", json=BODY, headers=alice)
    assert response.status_code == 201
    assert len(stub.calls) == len(faults) + 1
    assert len({call.content for call in stub.calls}) == 1  # same reservation id each time
    assert stub.products["cup"][2] == 99
    assert await _count_orders(app) == 1


async def test_retries_are_bounded(
    client: httpx.AsyncClient, alice: dict[str, str], stub: StubProducts, app: FastAPI
) -> None:
    stub.faults.extend([503, 503, 503, 503])
    response = await client.post("/api/v1/orders", json=BODY, headers=alice)
    assert response.status_code == 503
    assert len(stub.calls) == 3
    assert await _count_orders(app) == 0


async def test_nonsense_from_products_is_502(
    client: httpx.AsyncClient, alice: dict[str, str], stub: StubProducts, app: FastAPI
) -> None:
    stub.faults.append("garbage")
    response = await client.post("/api/v1/orders", json=BODY, headers=alice)
    assert response.status_code == 502
    assert await _count_orders(app) == 0


async def test_database_failure_releases_the_reservation(
    app: FastAPI,
    alice: dict[str, str],
    stub: StubProducts,
    database_servers: databases.DatabaseServers,
    database_url: str,
) -> None:
    databases.drop_postgres_database(database_servers.postgres_url, database_url.rsplit("/")[-1])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
        response = await client.post("/api/v1/orders", json=BODY, headers=alice)
    assert response.status_code == 500
    assert len(stub.released) == 1
    assert stub.products["cup"][2] == 100  # the stock came back
