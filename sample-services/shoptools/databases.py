"""Real PostgreSQL and FerretDB servers from `hack/databases.sh`, and a fresh database each."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pymongo
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
DATABASES_SCRIPT = REPO_ROOT / "hack" / "databases.sh"
# Set by `make test-samples` so the four pytest runs share one pair of servers.
SHARED_ENV_VARIABLE = "MSOP_DATABASES_ENV"


@dataclass(frozen=True)
class DatabaseServers:
    """Admin URLs of a running PostgreSQL and FerretDB, and their state directory."""

    directory: Path
    postgres_url: str
    mongodb_url: str


def read_env_file(path: Path) -> dict[str, str]:
    """Parse the `KEY=value` lines `hack/databases.sh start` writes."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            env[key.strip()] = value.strip()
    return env


def _servers(env_file: Path) -> DatabaseServers:
    env = read_env_file(env_file)
    return DatabaseServers(
        directory=Path(env["MSOP_DB_DIR"]),
        postgres_url=env["POSTGRES_URL"],
        mongodb_url=env["MONGODB_URL"],
    )


def start_databases() -> tuple[DatabaseServers, Path]:
    """Start both servers; return them and the env file. Fails loudly, never skips."""
    proc = subprocess.run(
        [str(DATABASES_SCRIPT), "start"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"hack/databases.sh start failed ({proc.returncode}):\n{proc.stderr}")
    env_file = Path(proc.stdout.strip().splitlines()[-1])
    return _servers(env_file), env_file


def stop_databases(servers: DatabaseServers) -> None:
    """Stop both servers and remove their state."""
    subprocess.run([str(DATABASES_SCRIPT), "stop", str(servers.directory)], check=True, timeout=120)


@contextmanager
def database_servers() -> Iterator[DatabaseServers]:
    """Servers for a test session: shared ones from `$MSOP_DATABASES_ENV`, else our own."""
    shared = os.environ.get(SHARED_ENV_VARIABLE)
    if shared:
        yield _servers(Path(shared))
        return
    servers, _ = start_databases()
    try:
        yield servers
    finally:
        stop_databases(servers)


def with_database(url: str, name: str) -> str:
    """`url` with its path (the database name) replaced by `name`, query kept."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def unique_name(prefix: str) -> str:
    """A database name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def create_postgres_database(admin_url: str, name: str) -> str:
    """Create database `name`; return its URL (same credentials)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_postgres_database(admin_url: str, name: str) -> None:
    """Drop database `name`, closing its connections."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    name = unique_name("test")
    url = create_postgres_database(admin_url, name)
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, name)


@contextmanager
def fresh_mongodb_database(admin_url: str) -> Iterator[str]:
    """A MongoDB URL naming a database no other test uses; dropped afterwards."""
    name = unique_name("test")
    try:
        yield with_database(admin_url, name)
    finally:
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(admin_url)
        try:
            client.drop_database(name)
        finally:
            client.close()
