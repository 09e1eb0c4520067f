"""A database per service: the credentials Secret, the dedicated server, the env contract.

Every engine and mode ends in the same place: a Secret with ``DATABASE_URL``
and ``DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD``, injected into the
service's pods by ``secretKeyRef``. Passwords are inputs here: they are
generated once, elsewhere, and never by a builder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from microservice_operator.api.v1alpha1 import (
    Database,
    DatabaseEngine,
    DatabaseMode,
    DeletionPolicy,
)
from microservice_operator.builders.common import (
    ANNOTATION_PREFIX,
    LABEL_COMPONENT,
    LABEL_NAME,
    LABEL_PART_OF,
    Manifest,
    Owner,
    labels,
    metadata,
    owner_reference,
)

CONTRACT_KEYS = ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")
CHECKSUM_ANNOTATION = f"{ANNOTATION_PREFIX}/database-credentials"
ROTATE_ANNOTATION = f"{ANNOTATION_PREFIX}/rotate-credentials"
ROTATED_ANNOTATION = f"{ANNOTATION_PREFIX}/rotated-for"
DB_COMPONENT = "database"
DATABASE_OF = f"{ANNOTATION_PREFIX}/database-of"


@dataclass(frozen=True)
class Engine:
    """What differs between PostgreSQL and MongoDB."""

    port: int
    image: str
    default_version: str
    data_path: str
    run_path: str
    uid: int


ENGINES = {
    DatabaseEngine.POSTGRES: Engine(
        5432, "postgres", "17", "/var/lib/postgresql/data", "/var/run/postgresql", 999
    ),
    DatabaseEngine.MONGODB: Engine(27017, "mongo", "8.0", "/data/db", "/data/configdb", 999),
}


@dataclass(frozen=True)
class Credentials:
    """Where the service's database is and how to log in."""

    host: str
    port: int
    database: str
    username: str
    password: str

    def url(self, engine: DatabaseEngine, *, auth_source: str | None = None) -> str:
        """The connection URL in the engine's usual form."""
        user, secret = quote(self.username, safe=""), quote(self.password, safe="")
        scheme = "postgresql" if engine is DatabaseEngine.POSTGRES else "mongodb"
        url = f"{scheme}://{user}:{secret}@{self.host}:{self.port}/{quote(self.database, safe='')}"
        return f"{url}?authSource={auth_source}" if auth_source else url


def secret_name(owner: Owner) -> str:
    """Name of the credentials Secret."""
    return f"{owner.name}-db"


def server_name(owner: Owner) -> str:
    """Name of the dedicated StatefulSet, its Service, or the CloudNativePG Cluster."""
    return f"{owner.name}-db"


def identifier(owner: Owner) -> str:
    """A database and user name unique per namespace/service, safe in SQL and Mongo."""
    raw = f"{owner.namespace}_{owner.name}".lower()
    cleaned = re.sub(r"[^a-z0-9_]", "_", raw)
    if len(cleaned) > 60:  # PostgreSQL identifiers stop at 63 bytes
        digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:51]}_{digest}"
    return cleaned if cleaned[0].isalpha() else f"s_{cleaned}"[:63]


def dedicated_host(owner: Owner) -> str:
    """In-cluster host of the dedicated server."""
    return f"{server_name(owner)}.{owner.namespace}.svc"


def retained(database: Database) -> bool:
    """True when data must outlive the MicroService."""
    return database.deletion_policy is DeletionPolicy.RETAIN


def secret_data(engine: DatabaseEngine, creds: Credentials, mode: DatabaseMode) -> dict[str, str]:
    """The contract keys (plain strings; the API server base64-encodes stringData)."""
    auth_source = (
        "admin" if engine is DatabaseEngine.MONGODB and mode is DatabaseMode.DEDICATED else None
    )
    return {
        "DATABASE_URL": creds.url(engine, auth_source=auth_source),
        "DB_HOST": creds.host,
        "DB_PORT": str(creds.port),
        "DB_NAME": creds.database,
        "DB_USER": creds.username,
        "DB_PASSWORD": creds.password,
    }


def build_credentials_secret(owner: Owner, creds: Credentials) -> Manifest:
    """The credentials Secret. Created once; with Retain it has no owner and outlives us."""
    assert owner.spec.database is not None
    database = owner.spec.database
    meta: dict[str, Any] = {
        "name": secret_name(owner),
        "namespace": owner.namespace,
        "labels": labels(owner, DB_COMPONENT),
    }
    if not retained(database):
        meta["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": secret_data(database.engine, creds, database.mode),
    }


def credentials_checksum(data: dict[str, str]) -> str:
    """A short digest of the Secret's data: changes (and rolls pods) only on rotation."""
    joined = "\n".join(f"{k}={data.get(k, '')}" for k in sorted(data))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def database_env(owner: Owner, secret: str | None = None) -> list[dict[str, Any]]:
    """The env contract as secretKeyRefs (CloudNativePG maps its own keys)."""
    database = owner.spec.database
    if database is None:
        return []
    if database.mode is DatabaseMode.CLOUDNATIVEPG:
        app_secret = f"{server_name(owner)}-app"
        mapping = {
            "DATABASE_URL": "uri",
            "DB_HOST": "host",
            "DB_PORT": "port",
            "DB_NAME": "dbname",
            "DB_USER": "username",
            "DB_PASSWORD": "password",
        }
        return [
            {"name": env, "valueFrom": {"secretKeyRef": {"name": app_secret, "key": key}}}
            for env, key in mapping.items()
        ]
    name = secret or secret_name(owner)
    return [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        for key in CONTRACT_KEYS
    ]


def build_database_service(owner: Owner) -> Manifest:
    """Headless Service in front of the dedicated server."""
    assert owner.spec.database is not None
    engine = ENGINES[owner.spec.database.engine]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, server_name(owner), DB_COMPONENT),
        "spec": {
            "clusterIP": "None",
            "selector": _db_selector(owner),
            "ports": [{"name": "db", "port": engine.port, "targetPort": "db", "protocol": "TCP"}],
        },
    }


def _db_selector(owner: Owner) -> dict[str, str]:
    # No managed-by label on database pods: no service's Deployment selector can match them.
    return {LABEL_NAME: server_name(owner), DATABASE_OF: owner.name}


def _server_env(database: Database, secret: str) -> list[dict[str, Any]]:
    def ref(key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": secret, "key": key}}

    if database.engine is DatabaseEngine.POSTGRES:
        return [
            {"name": "POSTGRES_USER", "valueFrom": ref("DB_USER")},
            {"name": "POSTGRES_PASSWORD", "valueFrom": ref("DB_PASSWORD")},
            {"name": "POSTGRES_DB", "valueFrom": ref("DB_NAME")},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        ]
    return [
        {"name": "MONGO_INITDB_ROOT_USERNAME", "valueFrom": ref("DB_USER")},
        {"name": "MONGO_INITDB_ROOT_PASSWORD", "valueFrom": ref("DB_PASSWORD")},
        {"name": "MONGO_INITDB_DATABASE", "valueFrom": ref("DB_NAME")},
    ]


def _server_probes(database: Database) -> dict[str, Any]:
    if database.engine is DatabaseEngine.POSTGRES:
        command = ["sh", "-c", 'pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB" -h 127.0.0.1']
    else:
        command = ["mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"]
    probe = {
        "exec": {"command": command},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
        "successThreshold": 1,
    }
    return {
        "readinessProbe": probe,
        "livenessProbe": {**probe, "initialDelaySeconds": 30},
        "startupProbe": {**probe, "failureThreshold": 60},
    }


def build_database_statefulset(owner: Owner) -> Manifest:
    """The dedicated server: one replica, restricted security context, a volume per pod."""
    assert owner.spec.database is not None
    database = owner.spec.database
    engine = ENGINES[database.engine]
    version = database.version or engine.default_version
    pod_labels = {**_db_selector(owner), LABEL_COMPONENT: DB_COMPONENT}
    if LABEL_PART_OF in owner.labels:
        pod_labels[LABEL_PART_OF] = owner.labels[LABEL_PART_OF]
    container: dict[str, Any] = {
        "name": database.engine.value,
        "image": f"{engine.image}:{version}",
        "ports": [{"name": "db", "containerPort": engine.port, "protocol": "TCP"}],
        "env": _server_env(database, secret_name(owner)),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        **_server_probes(database),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "data", "mountPath": engine.data_path},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "run", "mountPath": engine.run_path},
        ],
    }
    policy = "Retain" if retained(database) else "Delete"
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(owner, server_name(owner), DB_COMPONENT),
        "spec": {
            "replicas": 1,
            "serviceName": server_name(owner),
            "selector": {"matchLabels": _db_selector(owner)},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": policy, "whenScaled": "Retain"},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": engine.uid,
                        "runAsGroup": engine.uid,
                        "fsGroup": engine.uid,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "run", "emptyDir": {}}],
                },
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "labels": labels(owner, DB_COMPONENT)},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": database.storage}},
                    },
                }
            ],
        },
    }


def build_cnpg_cluster(owner: Owner) -> Manifest:
    """A CloudNativePG Cluster whose app Secret (``<name>-db-app``) feeds the env contract."""
    assert owner.spec.database is not None
    database = owner.spec.database
    name = identifier(owner)
    spec: dict[str, Any] = {
        "instances": 1,
        "storage": {"size": database.storage},
        "bootstrap": {"initdb": {"database": name, "owner": name}},
    }
    if database.version:
        spec["imageName"] = f"ghcr.io/cloudnative-pg/postgresql:{database.version}"
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": metadata(owner, server_name(owner), DB_COMPONENT),
        "spec": spec,
    }
