"""PostgreSQL: one database owned by one login role, closed to every other role."""

from __future__ import annotations

import psycopg
from psycopg import sql

from microservice_operator.builders.database import Credentials
from microservice_operator.databases import Admin, ProvisioningError

CONNECT_TIMEOUT = 5


async def _connect(
    admin: Admin, dbname: str = "postgres"
) -> psycopg.AsyncConnection[tuple[object, ...]]:
    try:
        return await psycopg.AsyncConnection.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            password=admin.password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
        )
    except psycopg.OperationalError as exc:
        raise ProvisioningError(
            f"cannot connect to PostgreSQL at {admin.host}:{admin.port}: {_first_line(exc)}"
        ) from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


async def provision(admin: Admin, creds: Credentials) -> None:
    """Create or re-align role and database; safe to repeat."""
    role, database = sql.Identifier(creds.username), sql.Identifier(creds.database)
    password = sql.Literal(creds.password)
    conn = await _connect(admin)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (creds.username,))
            verb = "ALTER" if await cur.fetchone() else "CREATE"
            await cur.execute(
                sql.SQL(
                    "{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    "NOREPLICATION PASSWORD {}"
                ).format(sql.SQL(verb), role, password)
            )
            await cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (creds.database,))
            if not await cur.fetchone():
                # The admin must be able to create objects owned by the role.
                await cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
                await cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
            await cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            await cur.execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(database, role))
    except psycopg.Error as exc:
        raise ProvisioningError(f"PostgreSQL refused provisioning: {_first_line(exc)}") from None
    finally:
        await conn.close()


async def drop(admin: Admin, creds: Credentials) -> None:
    """Drop the database and the role; missing ones are fine."""
    conn = await _connect(admin)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(creds.database)
                )
            )
            await cur.execute(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(creds.username))
            )
    except psycopg.Error as exc:
        raise ProvisioningError(f"PostgreSQL refused dropping: {_first_line(exc)}") from None
    finally:
        await conn.close()
