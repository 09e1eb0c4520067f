from __future__ import annotations

from typing import Any

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.core.config import Settings
from app.core.db import run_migrations
from app.models import Base


def _url(database_url: str) -> str:
    return Settings(
        database_url=database_url, products_url="http://p", jwks_url="http://j", jwt_issuer="i"
    ).sqlalchemy_url


def _tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_upgrade_creates_the_schema_and_is_idempotent(database_url: str) -> None:
    run_migrations(_url(database_url))
    run_migrations(_url(database_url))
    assert _tables(database_url) == {"alembic_version", "orders", "order_items"}


def test_downgrade_and_upgrade_again(database_url: str) -> None:
    from alembic import command

    from app.core.db import alembic_config

    run_migrations(_url(database_url))
    command.downgrade(alembic_config(_url(database_url)), "base")
    assert _tables(database_url) == {"alembic_version"}
    run_migrations(_url(database_url))
    assert "orders" in _tables(database_url)


def test_models_match_the_migrations(database_url: str) -> None:
    run_migrations(_url(database_url))
    engine = create_engine(_url(database_url))
    try:
        with engine.connect() as conn:
            diff: list[Any] = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
