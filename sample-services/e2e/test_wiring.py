"""Turning a Deployment's container into a local environment (shoptools.wiring)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pymongo
import pytest

from shoptools import databases
from shoptools.wiring import (
    WiringError,
    address,
    container_env,
    initialise_database,
    mount_secret_volumes,
    rewrite_addresses,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRETS: dict[str, dict[str, Any]] = {
    "auth-db": {
        "data": {
            "DATABASE_URL": b64("postgresql://shop_auth:pw@auth-db.shop.svc:5432/shop_auth"),
            "DB_HOST": b64("auth-db.shop.svc"),
            "DB_PORT": b64("5432"),
        }
    },
    "auth-jwt": {"data": {"private.pem": b64("-----BEGIN PRIVATE KEY-----\n")}},
}


def deployment(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "auth"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "env": env,
                            "volumeMounts": [
                                {"name": "tmp", "mountPath": "/tmp"},
                                {"name": "jwt-key", "mountPath": "/var/run/secrets/jwt"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {}},
                        {
                            "name": "jwt-key",
                            "secret": {
                                "secretName": "auth-jwt",
                                "items": [{"key": "private.pem", "path": "private.pem"}],
                            },
                        },
                    ],
                }
            }
        },
    }


AUTH = deployment(
    [
        {"name": "PORT", "value": "8000"},
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "auth-db", "key": "DATABASE_URL"}},
        },
        {"name": "DB_HOST", "valueFrom": {"secretKeyRef": {"name": "auth-db", "key": "DB_HOST"}}},
        {"name": "DB_PORT", "valueFrom": {"secretKeyRef": {"name": "auth-db", "key": "DB_PORT"}}},
        {"name": "JWT_ISSUER", "value": "http://auth.shop.svc:80"},
        {"name": "JWT_PRIVATE_KEY_FILE", "value": "/var/run/secrets/jwt/private.pem"},
        {"name": "JWKS_URL", "value": "http://auth.shop.svc:80/.well-known/jwks.json"},
    ]
)


def test_secret_references_and_mounted_files_resolve_to_local_values(tmp_path: Path) -> None:
    mounts = mount_secret_volumes(AUTH, SECRETS, tmp_path)
    assert mounts == {"/var/run/secrets/jwt": str(tmp_path / "auth" / "jwt-key")}
    env = container_env(AUTH, SECRETS, mounts)
    assert env["DATABASE_URL"] == "postgresql://shop_auth:pw@auth-db.shop.svc:5432/shop_auth"
    key_file = Path(env["JWT_PRIVATE_KEY_FILE"])
    assert key_file == tmp_path / "auth" / "jwt-key" / "private.pem"
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_addresses_are_mapped_but_identifiers_are_kept() -> None:
    env = container_env(AUTH, SECRETS, {})
    local = rewrite_addresses(
        env,
        {
            address("http://auth.shop.svc:80"): "127.0.0.1:8001",
            address(env["DATABASE_URL"]): "127.0.0.1:5999",
        },
    )
    assert local["DATABASE_URL"] == "postgresql://shop_auth:pw@127.0.0.1:5999/shop_auth"
    assert (local["DB_HOST"], local["DB_PORT"]) == ("127.0.0.1", "5999")
    assert local["JWKS_URL"] == "http://127.0.0.1:8001/.well-known/jwks.json"
    assert local["JWT_ISSUER"] == "http://auth.shop.svc:80"


def test_unsupported_sources_and_missing_keys_are_clear_errors() -> None:
    with pytest.raises(WiringError, match="FOO: only values and Secret references"):
        container_env(deployment([{"name": "FOO", "valueFrom": {"fieldRef": {}}}]), {}, {})
    missing = {"secretKeyRef": {"name": "auth-db", "key": "NOPE"}}
    with pytest.raises(WiringError, match="Secret auth-db has no key NOPE"):
        container_env(deployment([{"name": "X", "valueFrom": missing}]), SECRETS, {})


def test_databases_are_initialised_from_the_secret_like_the_images_do(
    database_servers: databases.DatabaseServers,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    pg = {
        "DATABASE_URL": "postgresql://x@h:5432/d",
        "DB_USER": f"u_{suffix}",
        "DB_PASSWORD": "first-password",
        "DB_NAME": f"d_{suffix}",
    }
    initialise_database(pg, database_servers.postgres_url)
    initialise_database({**pg, "DB_PASSWORD": "second-password"}, database_servers.postgres_url)
    local = databases.with_database(database_servers.postgres_url, pg["DB_NAME"])
    host = local.split("@", 1)[1]
    url = f"postgresql://{pg['DB_USER']}:second-password@{host}"
    with psycopg.connect(url) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert owner == (pg["DB_USER"],)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://{pg['DB_USER']}:first-password@{host}").close()

    mongo = {
        "DATABASE_URL": "mongodb://x@h:27017/m?authSource=admin",
        "DB_USER": f"u_{suffix}",
        "DB_PASSWORD": "mongo-password",
        "DB_NAME": f"m_{suffix}",
    }
    initialise_database(mongo, database_servers.mongodb_url)
    initialise_database(mongo, database_servers.mongodb_url)
    netloc = database_servers.mongodb_url.split("@", 1)[1].split("/", 1)[0]
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        f"mongodb://{mongo['DB_USER']}:mongo-password@{netloc}/{mongo['DB_NAME']}?authSource=admin"
    )
    try:
        client[mongo["DB_NAME"]]["probe"].insert_one({"ok": 1})
        assert client[mongo["DB_NAME"]]["probe"].count_documents({}) == 1
    finally:
        client.drop_database(mongo["DB_NAME"])
        client.close()
