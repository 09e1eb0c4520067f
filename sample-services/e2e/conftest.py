from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shoptools import databases
from shoptools.shop import Shop, running_shop


@pytest.fixture(scope="session")
def database_servers() -> Iterator[databases.DatabaseServers]:
    with databases.database_servers() as servers:
        yield servers


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shop")


@pytest.fixture(scope="session")
def shop(database_servers: databases.DatabaseServers, shop_dir: Path) -> Iterator[Shop]:
    """auth, products and orders as processes on free ports, each with its own database."""
    with running_shop(database_servers, shop_dir) as shop:
        yield shop


@pytest.fixture(scope="session")
def signing_key(shop: Shop, shop_dir: Path) -> rsa.RSAPrivateKey:
    """The key auth signs with (read from the file mounted as its Secret)."""
    key = serialization.load_pem_private_key((shop_dir / "jwt.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key
