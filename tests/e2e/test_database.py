"""A database per service, end to end.

The operator process and a real API server; for external mode a real
PostgreSQL on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from microservice_operator.kube import KubeClient
from tests.support.cluster import ROOT, Cluster, eventually
from tests.support.microservices import (
    API_VERSION,
    condition,
    get_ms,
    microservice,
    wait_condition,
)
from tests.support.operator import OperatorProcess
from tests.support.volumes import persistent_volumes

pytestmark = pytest.mark.usefixtures("operator")
CONTRACT = ["DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"]


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


@pytest.fixture
async def volumes(kube: KubeClient) -> AsyncIterator[None]:
    """PersistentVolumes for dedicated databases (the local cluster has no provisioner)."""
    async with persistent_volumes(kube, 2):
        yield


async def secret(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get("v1", "Secret", name, namespace)


@pytest.mark.usefixtures("volumes")
async def test_dedicated_postgres_gets_server_secret_and_env(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(
        microservice("orders", namespace, database={"engine": "postgres", "version": "16"})
    )
    body = await wait_condition(kube, namespace, "orders", timeout=90)
    assert condition(body, "DatabaseReady")["status"] == "True"
    assert body["status"]["database"] == {
        "ready": True,
        "secretName": "orders-db",
        "host": f"orders-db.{namespace}.svc",
    }

    creds = await secret(kube, namespace, "orders-db")
    assert creds is not None
    assert "ownerReferences" not in creds["metadata"]  # Retain: outlives the MicroService
    data = decoded(creds)
    assert set(data) == set(CONTRACT)
    assert len(data["DB_PASSWORD"]) >= 32
    assert data["DATABASE_URL"].startswith(f"postgresql://{data['DB_USER']}:")
    assert data["DB_HOST"] == f"orders-db.{namespace}.svc" and data["DB_PORT"] == "5432"

    sts = await kube.get("apps/v1", "StatefulSet", "orders-db", namespace)
    assert sts is not None
    pod = sts["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "postgres:16"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    assert (
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    )
    headless = await kube.get("v1", "Service", "orders-db", namespace)
    assert headless is not None and headless["spec"]["clusterIP"] == "None"

    deployment = await kube.get("apps/v1", "Deployment", "orders", namespace)
    assert deployment is not None
    template = deployment["spec"]["template"]
    env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
    for key in CONTRACT:
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "orders-db", "key": key}
    assert "microservice-operator.dev/database-credentials" in template["metadata"]["annotations"]
    # The service's selector picks the Deployment's pods and never the database's.
    service = await kube.get("v1", "Service", "orders", namespace)
    assert service is not None
    selector = ",".join(f"{k}={v}" for k, v in service["spec"]["selector"].items())
    app_pods = await kube.list("v1", "Pod", namespace, label_selector=selector)
    db_pods = await kube.list(
        "v1",
        "Pod",
        namespace,
        label_selector=",".join(
            f"{k}={v}" for k, v in sts["spec"]["selector"]["matchLabels"].items()
        ),
    )
    assert app_pods and db_pods
    assert {o["kind"] for p in app_pods for o in p["metadata"]["ownerReferences"]} == {"ReplicaSet"}
    assert not {p["metadata"]["uid"] for p in app_pods} & {p["metadata"]["uid"] for p in db_pods}


@pytest.mark.usefixtures("volumes")
async def test_credentials_survive_100_reconciles_and_a_restart(
    kube: KubeClient, namespace: str, operator: OperatorProcess
) -> None:
    await kube.create(microservice("keep", namespace, database={"engine": "mongodb"}))
    await wait_condition(kube, namespace, "keep", timeout=90)
    first = await secret(kube, namespace, "keep-db")
    assert first is not None
    assert decoded(first)["DATABASE_URL"].startswith("mongodb://")
    for i in range(100):
        await kube.patch_merge(
            API_VERSION,
            "MicroService",
            "keep",
            namespace,
            {"metadata": {"annotations": {"poke": str(i)}}},
        )
    await asyncio.sleep(2)
    operator.restart()
    await kube.patch_merge(
        API_VERSION, "MicroService", "keep", namespace, {"spec": {"replicas": 2}}
    )
    await wait_condition(kube, namespace, "keep", timeout=90)
    later = await secret(kube, namespace, "keep-db")
    assert later is not None
    assert later["data"] == first["data"]
    assert later["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


@pytest.mark.usefixtures("volumes")
async def test_retain_keeps_secret_and_volume_delete_removes_them(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(microservice("kept", namespace, database={"engine": "postgres"}))
    await kube.create(
        microservice(
            "dropped", namespace, database={"engine": "postgres", "deletionPolicy": "Delete"}
        )
    )
    await wait_condition(kube, namespace, "kept", timeout=90)
    await wait_condition(kube, namespace, "dropped", timeout=90)
    dropped_secret = await secret(kube, namespace, "dropped-db")
    assert (
        dropped_secret is not None
        and dropped_secret["metadata"]["ownerReferences"][0]["name"] == "dropped"
    )

    for name in ("kept", "dropped"):
        await kube.delete(API_VERSION, "MicroService", name, namespace)

    async def settled() -> bool:
        stss = await kube.list("apps/v1", "StatefulSet", namespace)
        pvcs = {
            p["metadata"]["name"] for p in await kube.list("v1", "PersistentVolumeClaim", namespace)
        }
        return (
            not stss
            and await secret(kube, namespace, "dropped-db") is None
            and pvcs == {"data-kept-db-0"}
        )

    await eventually(settled, timeout=60, what="Delete cleaned up, Retain kept")
    assert await secret(kube, namespace, "kept-db") is not None


# ------------------------------------------------------------------ external


@pytest.fixture
async def admin_secret(kube: KubeClient, namespace: str, databases: dict[str, str]) -> str:
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pg-admin", "namespace": namespace},
            "stringData": {
                "username": databases["POSTGRES_USER"],
                "password": databases["POSTGRES_PASSWORD"],
            },
        }
    )
    return "pg-admin"


def external(databases: dict[str, str], policy: str = "Retain") -> dict[str, Any]:
    return {
        "engine": "postgres",
        "mode": "external",
        "deletionPolicy": policy,
        "serverRef": {
            "host": "127.0.0.1",
            "port": int(databases["POSTGRES_PORT"]),
            "adminSecretName": "pg-admin",
        },
    }


async def connect(data: dict[str, str]) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(
        data["DATABASE_URL"], connect_timeout=5, autocommit=True
    )


async def database_exists(databases: dict[str, str], name: str) -> bool:
    conn = await psycopg.AsyncConnection.connect(
        host="127.0.0.1",
        port=int(databases["POSTGRES_PORT"]),
        user=databases["POSTGRES_USER"],
        password=databases["POSTGRES_PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    async with conn, conn.cursor() as cur:
        await cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        row = await cur.fetchone()
    return bool(row and row[0])


@pytest.mark.usefixtures("admin_secret")
async def test_external_postgres_creates_a_working_least_privilege_login(
    kube: KubeClient, namespace: str, databases: dict[str, str]
) -> None:
    await kube.create(microservice("ext", namespace, database=external(databases, "Delete")))
    body = await wait_condition(kube, namespace, "ext", timeout=60)
    assert condition(body, "DatabaseReady")["reason"] == "Provisioned"
    live = await get_ms(kube, namespace, "ext")
    assert (
        live is not None
        and "microservice-operator.dev/external-database" in live["metadata"]["finalizers"]
    )
    creds = await secret(kube, namespace, "ext-db")
    assert creds is not None
    data = decoded(creds)
    conn = await connect(data)
    async with conn, conn.cursor() as cur:
        await cur.execute("CREATE TABLE orders (id serial primary key)")
        await cur.execute("SELECT current_user, current_database()")
        assert await cur.fetchone() == (data["DB_USER"], data["DB_NAME"])

    await kube.delete(API_VERSION, "MicroService", "ext", namespace)

    async def gone() -> bool:
        return await get_ms(kube, namespace, "ext") is None

    await eventually(gone, timeout=30, what="MicroService deleted after its finalizer ran")
    assert not await database_exists(databases, data["DB_NAME"])


@pytest.mark.usefixtures("admin_secret")
async def test_external_retain_keeps_the_database(
    kube: KubeClient, namespace: str, databases: dict[str, str]
) -> None:
    await kube.create(microservice("kept", namespace, database=external(databases)))
    await wait_condition(kube, namespace, "kept", timeout=60)
    live = await get_ms(kube, namespace, "kept")
    assert live is not None and not live["metadata"].get("finalizers")
    creds = await secret(kube, namespace, "kept-db")
    assert creds is not None
    await kube.delete(API_VERSION, "MicroService", "kept", namespace)

    async def gone() -> bool:
        return await get_ms(kube, namespace, "kept") is None

    await eventually(gone, what="MicroService deleted")
    assert await database_exists(databases, decoded(creds)["DB_NAME"])
    assert await secret(kube, namespace, "kept-db") is not None


@pytest.mark.usefixtures("admin_secret")
async def test_killed_between_secret_and_user_resumes_with_the_same_password(
    kube: KubeClient, namespace: str, databases: dict[str, str], operator: OperatorProcess
) -> None:
    # Point the service at an unreachable port first: the Secret is written, the user is not.
    spec = external(databases)
    spec["serverRef"]["port"] = 1
    await kube.create(microservice("crash", namespace, database=spec))

    async def written() -> dict[str, Any] | None:
        return await secret(kube, namespace, "crash-db")

    first = await eventually(written, what="credentials Secret written")
    operator.stop(signal.SIGKILL)
    operator.start()
    body = await wait_condition(kube, namespace, "crash", "DatabaseReady", "False", timeout=30)
    assert condition(body, "DatabaseReady")["reason"] == "ProvisioningFailed"
    assert "127.0.0.1:1" in condition(body, "DatabaseReady")["message"]
    # Now the server is reachable (same credentials, host fixed by the user).
    real = int(databases["POSTGRES_PORT"])
    await kube.patch_merge(
        API_VERSION,
        "MicroService",
        "crash",
        namespace,
        {"spec": {"database": {"serverRef": {"port": real}}}},
    )
    await wait_condition(kube, namespace, "crash", timeout=90)
    later = await secret(kube, namespace, "crash-db")
    assert later is not None
    assert decoded(later)["DB_PASSWORD"] == decoded(first)["DB_PASSWORD"]
    data = decoded(later)
    assert data["DB_PORT"] == str(real)  # the location follows serverRef; the login does not change
    conn = await connect(data)
    await conn.close()


@pytest.mark.usefixtures("admin_secret")
async def test_rotation_on_request_changes_the_password_and_rolls_pods(
    kube: KubeClient, namespace: str, databases: dict[str, str]
) -> None:
    await kube.create(microservice("rot", namespace, database=external(databases)))
    await wait_condition(kube, namespace, "rot", timeout=60)
    before = await secret(kube, namespace, "rot-db")
    deployment = await kube.get("apps/v1", "Deployment", "rot", namespace)
    assert before is not None and deployment is not None
    checksum = deployment["spec"]["template"]["metadata"]["annotations"]

    await kube.patch_merge(
        API_VERSION,
        "MicroService",
        "rot",
        namespace,
        {
            "metadata": {
                "annotations": {"microservice-operator.dev/rotate-credentials": "2026-11-25"}
            }
        },
    )

    async def rotated() -> dict[str, Any] | None:
        live = await secret(kube, namespace, "rot-db")
        annotations = (live or {}).get("metadata", {}).get("annotations") or {}
        return (
            live
            if annotations.get("microservice-operator.dev/rotated-for") == "2026-11-25"
            else None
        )

    after = await eventually(rotated, timeout=60, what="credentials rotated")
    old, new = decoded(before), decoded(after)
    assert new["DB_PASSWORD"] != old["DB_PASSWORD"] and "DB_PASSWORD_PENDING" not in new
    conn = await connect(new)
    await conn.close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        await connect(old)

    async def rolled() -> bool:
        live = await kube.get("apps/v1", "Deployment", "rot", namespace)
        return bool(live and live["spec"]["template"]["metadata"]["annotations"] != checksum)

    await eventually(rolled, what="pod template checksum changed")
    await wait_condition(kube, namespace, "rot", timeout=60)


# ------------------------------------------------------------------ CloudNativePG


def cnpg_crds() -> Path:
    out = subprocess.run(
        [str(ROOT / "hack" / "crds.sh"), "cnpg"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


async def test_cloudnativepg_missing_then_installed_without_restart(
    kube: KubeClient, namespace: str, cluster: Cluster
) -> None:
    crds = cnpg_crds()
    files = [crds / "postgresql.cnpg.io_clusters.yaml", crds / "postgresql.cnpg.io_databases.yaml"]
    for f in files:
        cluster.kubectl("delete", "--ignore-not-found", "--wait=true", "-f", str(f))
    await kube.create(
        microservice("pg", namespace, database={"engine": "postgres", "mode": "cloudnativepg"})
    )
    body = await wait_condition(kube, namespace, "pg", "DatabaseReady", "False", timeout=30)
    assert condition(body, "DatabaseReady")["reason"] == "CloudNativePGMissing"
    assert "CloudNativePG is not installed" in condition(body, "DatabaseReady")["message"]
    assert condition(body, "Ready")["status"] == "False"
    try:
        for f in files:
            cluster.kubectl("apply", "--server-side", "-f", str(f))
        cluster.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/clusters.postgresql.cnpg.io",
        )

        async def created() -> dict[str, Any] | None:
            return await kube.get("postgresql.cnpg.io/v1", "Cluster", "pg-db", namespace)

        # The CRD's arrival reconciles the service at once, well before its 30 s recheck.
        pg = await eventually(created, timeout=20, what="CloudNativePG Cluster created")
        assert (
            pg["spec"]["bootstrap"]["initdb"]["owner"]
            == pg["spec"]["bootstrap"]["initdb"]["database"]
        )
        assert "ownerReferences" not in pg["metadata"]  # Retain: the data outlives the MicroService
        deployment = await kube.get("apps/v1", "Deployment", "pg", namespace)
        assert deployment is not None
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg-db-app",
            "key": "uri",
        }
        assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg-db-app",
            "key": "password",
        }
        # Play the CloudNativePG operator: report the cluster ready.
        await kube.patch_merge(
            "postgresql.cnpg.io/v1",
            "Cluster",
            "pg-db",
            namespace,
            {"status": {"readyInstances": 1, "phase": "Cluster in healthy state"}},
            subresource="status",
        )
        # kopf watches Clusters from the CRD's arrival: the status change is seen at once.
        body = await wait_condition(kube, namespace, "pg", timeout=20)
        assert condition(body, "DatabaseReady")["reason"] == "ClusterReady"
    finally:
        await kube.delete("postgresql.cnpg.io/v1", "Cluster", "pg-db", namespace)
        for f in files:
            cluster.kubectl("delete", "--ignore-not-found", "-f", str(f))
