"""MongoDB: one database and one user with readWrite on it only."""

from __future__ import annotations

import logging
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from microservice_operator.builders.database import Credentials
from microservice_operator.databases import Admin, ProvisioningError

TIMEOUT_MS = 5000
logger = logging.getLogger(__name__)


def _client(admin: Admin) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        host=admin.host,
        port=admin.port,
        username=admin.username or None,
        password=admin.password or None,
        authSource="admin",
        serverSelectionTimeoutMS=TIMEOUT_MS,
        connectTimeoutMS=TIMEOUT_MS,
    )


def _roles_unsupported(exc: OperationFailure) -> bool:
    return "roles" in str(exc) and "not implemented" in str(exc)


async def supports_roles(admin: Admin) -> bool:
    """False for servers that authenticate but cannot authorise per database (FerretDB 1.x)."""
    client = _client(admin)
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    return "ferretdbVersion" not in info


def _message(exc: PyMongoError) -> str:
    text = str(exc).split(", full error:")[0]
    return text.splitlines()[0] if text else type(exc).__name__


async def provision(admin: Admin, creds: Credentials) -> None:
    """Create or update the user and make sure the database exists; safe to repeat."""
    client = _client(admin)
    try:
        db = client[creds.database]
        roles = [{"role": "readWrite", "db": creds.database}]
        found = await db.command("usersInfo", creds.username)
        verb = "updateUser" if found.get("users") else "createUser"
        try:
            await db.command(verb, creds.username, pwd=creds.password, roles=roles)
        except OperationFailure as exc:
            if not _roles_unsupported(exc):
                raise
            # FerretDB 1.x authenticates users but has no roles: it cannot confine
            # a user to one database. Create the login anyway and say so.
            logger.warning(
                "server at %s:%s does not support roles: user %s can log in but is not"
                " confined to database %s",
                admin.host,
                admin.port,
                creds.username,
                creds.database,
            )
            await db.command(verb, creds.username, pwd=creds.password, roles=[])
        # A database exists once it holds data: record who owns it.
        await db["_microservice_operator"].update_one(
            {"_id": "owner"}, {"$set": {"user": creds.username}}, upsert=True
        )
    except (OperationFailure, PyMongoError) as exc:
        raise ProvisioningError(
            f"MongoDB refused provisioning at {admin.host}:{admin.port}: {_message(exc)}"
        ) from None
    finally:
        await client.close()


async def drop(admin: Admin, creds: Credentials) -> None:
    """Drop the user and the database; missing ones are fine."""
    client = _client(admin)
    try:
        db = client[creds.database]
        found = await db.command("usersInfo", creds.username)
        if found.get("users"):
            await db.command("dropUser", creds.username)
        await client.drop_database(creds.database)
    except (OperationFailure, PyMongoError) as exc:
        raise ProvisioningError(
            f"MongoDB refused dropping at {admin.host}:{admin.port}: {_message(exc)}"
        ) from None
    finally:
        await client.close()
