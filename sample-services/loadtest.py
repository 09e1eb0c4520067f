"""Bounded load test of placing orders, on loopback only.

    .tools/bin/uv run --frozen --all-packages python sample-services/loadtest.py

Starts its own throwaway databases and the three services on 127.0.0.1 (or uses
running ones: --auth-url/--products-url/--orders-url, loopback addresses only), makes
users and products, then places at most --requests orders with --concurrency
clients, stopping at --time-limit seconds whatever happens. Prints orders'
throughput and latency percentiles for POST /api/v1/orders.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shoptools import databases
from shoptools.shop import (
    Shop,
    admin_token,
    bearer,
    create_product,
    register_and_login,
    running_shop,
)


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - a command-line report


def _loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to load a non-loopback address: {url}")
    return url.rstrip("/")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_load(shop: Shop, requests: int, concurrency: int, time_limit: float) -> int:
    """Place up to `requests` orders; print the figures; return 1 if any order failed."""
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
        users = [await register_and_login(http, shop) for _ in range(min(concurrency, 10))]
        admin = await admin_token(http, shop)
        products = [
            await create_product(http, shop, admin, price_cents=100 + i, stock=requests * 10)
            for i in range(10)
        ]
        latencies: list[float] = []
        statuses: Counter[int | str] = Counter()
        next_index = 0
        deadline = time.monotonic() + time_limit

        async def client() -> None:
            nonlocal next_index
            while next_index < requests and time.monotonic() < deadline:
                i = next_index
                next_index += 1
                body = {
                    "items": [
                        {"product_id": products[i % 10]["id"], "quantity": 1},
                        {"product_id": products[(i + 3) % 10]["id"], "quantity": 2},
                    ]
                }
                start = time.perf_counter()
                try:
                    response = await http.post(
                        f"{shop.orders}/api/v1/orders",
                        json=body,
                        headers=bearer(users[i % len(users)][1]),
                    )
                    statuses[response.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began

    done = len(latencies)
    _say(f"orders placed: {done} requests in {elapsed:.2f} s with {concurrency} clients")
    _say(f"status codes: {dict(statuses)}")
    _say(f"throughput: {done / elapsed:.1f} req/s")
    _say(
        "latency: "
        f"p50 {_percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p95 {_percentile(latencies, 0.95) * 1000:.1f} ms, "
        f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
    return 0 if set(statuses) == {201} else 1


def main() -> int:
    """Parse arguments, start (or find) the shop, run the load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="orders to place at most")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent clients")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds, at most")
    parser.add_argument("--auth-url")
    parser.add_argument("--products-url")
    parser.add_argument("--orders-url")
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-password")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 200:
        parser.error("--requests must be 1..100000 and --concurrency 1..200")
    if not 0 < args.time_limit <= 600:
        parser.error("--time-limit must be in (0, 600] seconds")

    with ExitStack() as stack:
        if args.orders_url:
            if not (args.auth_url and args.products_url and args.admin_password):
                parser.error("with --orders-url, give --auth-url, --products-url, --admin-password")
            shop = Shop(
                auth=_loopback(args.auth_url),
                products=_loopback(args.products_url),
                orders=_loopback(args.orders_url),
                admin_email=args.admin_email,
                admin_password=args.admin_password,
            )
        else:
            _say("starting databases and the three services on 127.0.0.1 ...")
            servers = stack.enter_context(databases.database_servers())
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="msop-load-")))
            shop = stack.enter_context(running_shop(servers, work))
        return asyncio.run(run_load(shop, args.requests, args.concurrency, args.time_limit))


if __name__ == "__main__":
    sys.exit(main())
