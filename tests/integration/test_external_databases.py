"""External-mode provisioning against a real PostgreSQL and a real MongoDB-wire server."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from microservice_operator.builders.database import Credentials
from microservice_operator.databases import Admin, ProvisioningError, mongodb, postgres


def pg_admin(databases: dict[str, str]) -> Admin:
    return Admin(
        "127.0.0.1",
        int(databases["POSTGRES_PORT"]),
        databases["POSTGRES_USER"],
        databases["POSTGRES_PASSWORD"],
    )


def mongo_admin(databases: dict[str, str]) -> Admin:
    return Admin(
        "127.0.0.1",
        int(databases["MONGODB_PORT"]),
        databases["MONGODB_USER"],
        databases["MONGODB_PASSWORD"],
    )


def creds(admin: Admin, name: str, password: str = "s3cret-Pa55") -> Credentials:
    return Credentials(admin.host, admin.port, name, name, password)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def pg_connect(
    c: Credentials, dbname: str | None = None
) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(
        host=c.host,
        port=c.port,
        user=c.username,
        password=c.password,
        dbname=dbname or c.database,
        autocommit=True,
        connect_timeout=5,
    )


async def test_postgres_user_owns_its_database_and_nothing_else(databases: dict[str, str]) -> None:
    admin = pg_admin(databases)
    orders, products = creds(admin, unique("orders")), creds(admin, unique("products"))
    await postgres.provision(admin, orders)
    await postgres.provision(admin, products)
    try:
        conn = await pg_connect(orders)
        async with conn, conn.cursor() as cur:
            await cur.execute("CREATE TABLE t (id int)")
            await cur.execute("INSERT INTO t VALUES (1)")
            await cur.execute("SELECT count(*) FROM t")
            assert await cur.fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            await pg_connect(orders, dbname=products.database)
        # Not a superuser, cannot create databases or roles.
        conn = await pg_connect(orders)
        async with conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles"
                " WHERE rolname = current_user"
            )
            assert await cur.fetchone() == (False, False, False)
    finally:
        await postgres.drop(admin, orders)
        await postgres.drop(admin, products)


async def test_postgres_provisioning_is_idempotent_and_realigns_the_password(
    databases: dict[str, str],
) -> None:
    admin = pg_admin(databases)
    name = unique("svc")
    await postgres.provision(admin, creds(admin, name, "first-password"))
    await postgres.provision(admin, creds(admin, name, "first-password"))
    await postgres.provision(admin, creds(admin, name, "second-password"))
    try:
        conn = await pg_connect(creds(admin, name, "second-password"))
        await conn.close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            await pg_connect(creds(admin, name, "first-password"))
    finally:
        await postgres.drop(admin, creds(admin, name))


async def test_postgres_drop_removes_database_and_role_and_tolerates_repeats(
    databases: dict[str, str],
) -> None:
    admin = pg_admin(databases)
    c = creds(admin, unique("gone"))
    await postgres.provision(admin, c)
    await postgres.drop(admin, c)
    await postgres.drop(admin, c)
    conn = await psycopg.AsyncConnection.connect(
        host=admin.host,
        port=admin.port,
        user=admin.username,
        password=admin.password,
        dbname="postgres",
    )
    async with conn, conn.cursor() as cur:
        await cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (c.database,))
        assert await cur.fetchone() == (0,)
        await cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (c.username,))
        assert await cur.fetchone() == (0,)


async def test_postgres_unreachable_server_is_a_clear_error(databases: dict[str, str]) -> None:
    admin = Admin("127.0.0.1", 1, "postgres", "x")
    with pytest.raises(ProvisioningError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1"):
        await postgres.provision(admin, creds(admin, "x"))


async def test_postgres_wrong_admin_password_is_a_clear_error(databases: dict[str, str]) -> None:
    admin = pg_admin(databases)
    wrong = Admin(admin.host, admin.port, admin.username, "wrong")
    with pytest.raises(ProvisioningError, match="password authentication failed"):
        await postgres.provision(wrong, creds(admin, unique("x")))


async def test_injection_looking_names_are_identifiers_not_sql(databases: dict[str, str]) -> None:
    admin = pg_admin(databases)
    hostile = Credentials(
        admin.host,
        admin.port,
        'x"; DROP ROLE postgres; --',
        'y"; DROP DATABASE postgres; --',
        "p'w\"d; DROP",
    )
    await postgres.provision(admin, hostile)
    try:
        conn = await pg_connect(hostile)
        await conn.close()
    finally:
        await postgres.drop(admin, hostile)


def mongo(c: Credentials) -> AsyncMongoClient[dict[str, object]]:
    return AsyncMongoClient(
        host=c.host,
        port=c.port,
        username=c.username,
        password=c.password,
        authSource=c.database,
        serverSelectionTimeoutMS=5000,
    )


async def test_mongodb_user_can_use_its_database_and_not_another(databases: dict[str, str]) -> None:
    admin = mongo_admin(databases)
    orders, products = creds(admin, unique("orders")), creds(admin, unique("products"))
    await mongodb.provision(admin, orders)
    await mongodb.provision(admin, products)
    try:
        client = mongo(orders)
        try:
            await client[orders.database]["items"].insert_one({"sku": "a"})
            assert await client[orders.database]["items"].count_documents({}) == 1
            if await mongodb.supports_roles(admin):
                with pytest.raises(OperationFailure):
                    await client[products.database]["items"].find_one({})
            else:
                # FerretDB 1.x: logins are enforced, per-database authorisation is not.
                # Documented in docs; this pins the behaviour so a change is noticed.
                await client[products.database]["items"].find_one({})
        finally:
            await client.close()
        wrong = mongo(creds(admin, orders.database, "wrong-password"))
        try:
            with pytest.raises(OperationFailure, match=r"[Aa]uthentication failed"):
                await wrong[orders.database]["items"].find_one({})
        finally:
            await wrong.close()
    finally:
        await mongodb.drop(admin, orders)
        await mongodb.drop(admin, products)


async def test_mongodb_provisioning_is_idempotent_and_drop_removes_the_user(
    databases: dict[str, str],
) -> None:
    admin = mongo_admin(databases)
    c = creds(admin, unique("svc"), "one")
    await mongodb.provision(admin, c)
    await mongodb.provision(admin, creds(admin, c.database, "two"))
    client = mongo(creds(admin, c.database, "two"))
    try:
        await client[c.database]["x"].insert_one({"ok": 1})
    finally:
        await client.close()
    await mongodb.drop(admin, c)
    await mongodb.drop(admin, c)
    client = mongo(creds(admin, c.database, "two"))
    try:
        with pytest.raises(OperationFailure):
            await client[c.database]["x"].find_one({})
    finally:
        await client.close()
