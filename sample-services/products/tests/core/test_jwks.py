from __future__ import annotations

import httpx
import pytest

from app.core.jwks import JwksCache, JwksUnavailableError, UnknownKeyError
from shoptools.processes import free_port
from shoptools.tokens import JwksServer, TokenFactory


async def test_keys_are_cached() -> None:
    first = TokenFactory()
    with JwksServer(first).running() as server:
        async with httpx.AsyncClient() as http:
            cache = JwksCache(server.url, http)
            for _ in range(5):
                await cache.get_key(first.kid)
    assert server.requests == 1


async def test_unknown_kid_triggers_one_refresh_then_rotation_works() -> None:
    old, new = TokenFactory(), TokenFactory()
    with JwksServer(old).running() as server:
        async with httpx.AsyncClient() as http:
            cache = JwksCache(server.url, http, min_refresh_interval=0.0)
            await cache.get_key(old.kid)
            server.factories.append(new)  # the issuer rotates its key
            assert await cache.get_key(new.kid)
            assert server.requests == 2


async def test_made_up_kids_do_not_flood_the_issuer() -> None:
    factory = TokenFactory()
    with JwksServer(factory).running() as server:
        async with httpx.AsyncClient() as http:
            cache = JwksCache(server.url, http, min_refresh_interval=60.0)
            await cache.get_key(factory.kid)
            for i in range(20):
                with pytest.raises(UnknownKeyError):
                    await cache.get_key(f"made-up-{i}")
    assert server.requests == 1


async def test_unreachable_issuer_without_cached_keys() -> None:
    async with httpx.AsyncClient() as http:
        cache = JwksCache(f"http://127.0.0.1:{free_port()}/jwks.json", http)
        with pytest.raises(JwksUnavailableError):
            await cache.get_key("any")


async def test_cached_keys_survive_an_issuer_outage() -> None:
    factory = TokenFactory()
    server = JwksServer(factory)
    async with httpx.AsyncClient() as http:
        cache = JwksCache(server.url, http, max_age=0.0)
        with server.running():
            await cache.get_key(factory.kid)
        assert await cache.get_key(factory.kid)  # refresh fails, the old key still works
