"""The service's database: credentials first, then the server, then readiness.

Credentials are generated with a CSPRNG and written to the Secret *before*
they are used anywhere. An existing Secret is never regenerated or
overwritten; only an explicit rotation request changes the password, in two
recorded steps so a crash at any point loses nothing.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from microservice_operator.api.v1alpha1 import DatabaseEngine, DatabaseMode, DeletionPolicy
from microservice_operator.builders import Manifest, Owner
from microservice_operator.builders.common import LABEL_MANAGED_BY, MANAGED_BY, owner_reference
from microservice_operator.builders.database import (
    CHECKSUM_ANNOTATION,
    ENGINES,
    ROTATE_ANNOTATION,
    ROTATED_ANNOTATION,
    Credentials,
    build_cnpg_cluster,
    build_credentials_secret,
    build_database_service,
    build_database_statefulset,
    credentials_checksum,
    database_env,
    dedicated_host,
    identifier,
    retained,
    secret_data,
    secret_name,
    server_name,
)
from microservice_operator.builders.status import DatabaseState, Problem
from microservice_operator.databases import Admin, ProvisioningError
from microservice_operator.handlers.state import State
from microservice_operator.kube import ApiError

logger = logging.getLogger(__name__)
PENDING_KEY = "DB_PASSWORD_PENDING"
CNPG_CRD = "clusters.postgresql.cnpg.io"
RETRY = 30.0


@dataclass
class DatabaseOutcome:
    """What the rest of the reconcile needs from the database step."""

    children: list[Manifest] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    state: DatabaseState | None = None
    problem: Problem | None = None
    retry_after: float | None = None


class AdminSecretMissingError(ProvisioningError):
    """The serverRef's admin Secret does not exist (or no longer does)."""


def new_password() -> str:
    """32 URL-safe characters from the OS CSPRNG."""
    return secrets.token_urlsafe(24)


def decode(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's data as text."""
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


@dataclass
class DatabaseManager:
    """Database work for one reconcile; memory lives on the shared State."""

    state: State

    async def ensure(
        self, owner: Owner, live: dict[tuple[str, str], dict[str, Any]]
    ) -> DatabaseOutcome | None:
        """Credentials, server and readiness for ``owner``'s database (None: it has none)."""
        database = owner.spec.database
        if database is None:
            return None
        if database.mode is DatabaseMode.CLOUDNATIVEPG:
            return await self._cloudnativepg(owner, live)
        out = DatabaseOutcome(env=database_env(owner))
        data = await self._credentials(owner, live, out)
        if data is None:
            return out
        out.pod_annotations[CHECKSUM_ANNOTATION] = credentials_checksum(
            {k: v for k, v in data.items() if k != PENDING_KEY}
        )
        host = data["DB_HOST"]
        if database.mode is DatabaseMode.DEDICATED:
            out.children += [build_database_statefulset(owner), build_database_service(owner)]
            server = live.get(("StatefulSet", server_name(owner)))
            ready = int(((server or {}).get("status") or {}).get("readyReplicas") or 0) >= 1
            out.state = DatabaseState(
                ready,
                "ServerReady" if ready else "Provisioning",
                "the database server is ready"
                if ready
                else "waiting for the database server to be ready",
                secret_name(owner),
                host,
            )
            return out
        await self._external(owner, data, out)
        return out

    # ------------------------------------------------------------ secret
    async def _credentials(
        self, owner: Owner, live: dict[tuple[str, str], dict[str, Any]], out: DatabaseOutcome
    ) -> dict[str, str] | None:
        """The Secret's data: read it, or create it once; align its owner with the policy."""
        assert owner.spec.database is not None
        name = secret_name(owner)
        secret = live.get(("Secret", name)) or await self.state.client.get(
            "v1", "Secret", name, owner.namespace
        )
        if (
            secret is not None
            and (secret["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) != MANAGED_BY
        ):
            out.problem = Problem(
                "ChildConflict",
                f"Secret {name} already exists and is not managed by "
                "this MicroService; delete or rename it",
            )
            return None
        if secret is None:
            secret = await self._create_secret(owner)
        await self._align_owner(owner, secret)
        data = await self._align_location(owner, secret, decode(secret))
        return await self._rotate_if_asked(owner, secret, data, out)

    def _location(self, owner: Owner) -> tuple[str, int]:
        assert owner.spec.database is not None
        database = owner.spec.database
        engine = ENGINES[database.engine]
        if database.mode is DatabaseMode.EXTERNAL and database.server_ref is not None:
            return database.server_ref.host, database.server_ref.port or engine.port
        return dedicated_host(owner), engine.port

    async def _align_location(
        self, owner: Owner, secret: dict[str, Any], data: dict[str, str]
    ) -> dict[str, str]:
        """Follow a moved server (serverRef changed): host and port only, never the login."""
        assert owner.spec.database is not None
        host, port = self._location(owner)
        if data.get("DB_HOST") == host and data.get("DB_PORT") == str(port):
            return data
        creds = _creds({**data, "DB_HOST": host, "DB_PORT": str(port)})
        database = owner.spec.database
        moved = secret_data(database.engine, creds, database.mode)
        changes = {k: moved[k] for k in ("DATABASE_URL", "DB_HOST", "DB_PORT")}
        await self.state.client.patch_merge(
            "v1", "Secret", secret["metadata"]["name"], owner.namespace, {"stringData": changes}
        )
        logger.info("database of %s/%s moved to %s:%s", owner.namespace, owner.name, host, port)
        return {**data, **changes}

    async def _create_secret(self, owner: Owner) -> dict[str, Any]:
        assert owner.spec.database is not None
        host, port = self._location(owner)
        ident = identifier(owner)
        creds = Credentials(host, port, ident, ident, new_password())
        manifest = build_credentials_secret(owner, creds)
        try:
            created = await self.state.client.create(manifest)
        except ApiError as exc:
            if not exc.conflict:
                raise
            existing = await self.state.client.get(
                "v1", "Secret", manifest["metadata"]["name"], owner.namespace
            )
            if existing is None:
                raise
            return existing
        logger.info(
            "created credentials Secret %s/%s", owner.namespace, manifest["metadata"]["name"]
        )
        return created

    async def _align_owner(self, owner: Owner, secret: dict[str, Any]) -> None:
        """Retain: no owner (the Secret outlives us). Delete: owned (garbage-collected)."""
        assert owner.spec.database is not None
        refs = secret["metadata"].get("ownerReferences") or []
        owned = any(ref.get("uid") == owner.uid for ref in refs)
        want = not retained(owner.spec.database)
        if owned == want and (want or not refs):
            return
        patch = {"metadata": {"ownerReferences": [owner_reference(owner)] if want else None}}
        updated = await self.state.client.patch_merge(
            "v1", "Secret", secret["metadata"]["name"], owner.namespace, patch
        )
        secret["metadata"] = updated["metadata"]

    async def _rotate_if_asked(
        self, owner: Owner, secret: dict[str, Any], data: dict[str, str], out: DatabaseOutcome
    ) -> dict[str, str] | None:
        """Two-step rotation: record the new password as pending, set it on the server, promote."""
        assert owner.spec.database is not None
        asked = owner.annotations.get(ROTATE_ANNOTATION)
        done = (secret["metadata"].get("annotations") or {}).get(ROTATED_ANNOTATION)
        if not asked or asked == done:
            return data
        name = secret["metadata"]["name"]
        pending = data.get(PENDING_KEY)
        if not pending:
            pending = new_password()
            await self.state.client.patch_merge(
                "v1", "Secret", name, owner.namespace, {"stringData": {PENDING_KEY: pending}}
            )
        creds = _creds(data)
        rotated = Credentials(creds.host, creds.port, creds.database, creds.username, pending)
        try:
            await self._set_password(owner, creds, rotated)
        except ProvisioningError as exc:
            out.state = DatabaseState(False, "RotationPending", str(exc), name, creds.host)
            out.retry_after = RETRY
            return data
        database = owner.spec.database
        new_data = secret_data(database.engine, rotated, database.mode)
        await self.state.client.patch_merge(
            "v1",
            "Secret",
            name,
            owner.namespace,
            {
                "metadata": {"annotations": {ROTATED_ANNOTATION: asked}},
                "data": {PENDING_KEY: None},
                "stringData": new_data,
            },
        )
        logger.info("rotated database credentials of %s/%s", owner.namespace, owner.name)
        self.state.db_provisioned.pop((owner.namespace, owner.name), None)
        return new_data

    async def _set_password(self, owner: Owner, current: Credentials, rotated: Credentials) -> None:
        assert owner.spec.database is not None
        database = owner.spec.database
        if database.mode is DatabaseMode.EXTERNAL:
            admin = await self._admin(owner)
            await _engine(database.engine).provision(admin, rotated)
            return
        # Dedicated: the service's own user changes its password on its own server.
        admin = Admin(current.host, current.port, current.username, current.password)
        await _engine(database.engine).provision(admin, rotated)

    # ---------------------------------------------------------- external
    async def _admin(self, owner: Owner) -> Admin:
        assert owner.spec.database is not None and owner.spec.database.server_ref is not None
        ref = owner.spec.database.server_ref
        secret = await self.state.client.get("v1", "Secret", ref.admin_secret_name, owner.namespace)
        if secret is None:
            raise AdminSecretMissingError(f"admin Secret {ref.admin_secret_name} not found")
        data = decode(secret)
        if "username" not in data or "password" not in data:
            raise ProvisioningError(
                f"admin Secret {ref.admin_secret_name} needs keys username and password"
            )
        port = ref.port or ENGINES[owner.spec.database.engine].port
        return Admin(ref.host, port, data["username"], data["password"])

    async def _external(self, owner: Owner, data: dict[str, str], out: DatabaseOutcome) -> None:
        assert owner.spec.database is not None
        key = (owner.namespace, owner.name)
        fingerprint = credentials_checksum(data)
        name = secret_name(owner)
        if out.state is not None:  # rotation pending
            return
        if self.state.db_provisioned.get(key) != fingerprint:
            try:
                admin = await self._admin(owner)
                await _engine(owner.spec.database.engine).provision(admin, _creds(data))
            except ProvisioningError as exc:
                out.state = DatabaseState(
                    False, "ProvisioningFailed", str(exc), name, data["DB_HOST"]
                )
                out.retry_after = RETRY
                return
            self.state.db_provisioned[key] = fingerprint
            logger.info("provisioned database %s on %s", data["DB_NAME"], data["DB_HOST"])
        out.state = DatabaseState(
            True,
            "Provisioned",
            "database and user exist on the external server",
            name,
            data["DB_HOST"],
        )

    async def drop_external(self, owner: Owner) -> None:
        """Drop the external database and user (deletionPolicy Delete, from the finalizer).

        Names are derived, not read from the Secret, which may already be gone.
        """
        assert owner.spec.database is not None
        admin = await self._admin(owner)
        ident = identifier(owner)
        await _engine(owner.spec.database.engine).drop(
            admin, Credentials(admin.host, admin.port, ident, ident, "")
        )
        self.state.db_provisioned.pop((owner.namespace, owner.name), None)
        logger.info("dropped database %s on %s", ident, admin.host)

    # ------------------------------------------------------ cloudnativepg
    async def _cloudnativepg(
        self, owner: Owner, live: dict[tuple[str, str], dict[str, Any]]
    ) -> DatabaseOutcome:
        assert owner.spec.database is not None
        out = DatabaseOutcome(env=database_env(owner))
        app_secret = f"{server_name(owner)}-app"
        if not await self.state.crds_installed(CNPG_CRD):
            out.state = DatabaseState(
                False,
                "CloudNativePGMissing",
                f"CloudNativePG is not installed (no {CNPG_CRD} CRD):"
                " install it or use mode dedicated",
                app_secret,
                None,
            )
            out.retry_after = RETRY
            return out
        cluster = build_cnpg_cluster(owner)
        if owner.spec.database.deletion_policy is DeletionPolicy.RETAIN:
            cluster["metadata"].pop("ownerReferences", None)  # the data outlives the MicroService
        out.children.append(cluster)
        live_cluster = live.get(("Cluster", server_name(owner)))
        status = (live_cluster or {}).get("status") or {}
        ready = int(status.get("readyInstances") or 0) >= 1
        host = f"{server_name(owner)}-rw.{owner.namespace}.svc"
        out.state = DatabaseState(
            ready,
            "ClusterReady" if ready else "Provisioning",
            "the CloudNativePG cluster is ready"
            if ready
            else f"waiting for the CloudNativePG cluster: {status.get('phase', 'creating')}",
            app_secret,
            host,
        )
        return out


def _engine(engine: DatabaseEngine) -> Any:
    # Imported on first use: the drivers (psycopg, pymongo) cost about 15 MiB of memory,
    # and only external databases need them.
    if engine is DatabaseEngine.POSTGRES:
        from microservice_operator.databases import postgres

        return postgres
    from microservice_operator.databases import mongodb

    return mongodb


def _creds(data: Mapping[str, str]) -> Credentials:
    return Credentials(
        data["DB_HOST"], int(data["DB_PORT"]), data["DB_NAME"], data["DB_USER"], data["DB_PASSWORD"]
    )
