"""The shop as local processes, wired from what the operator generated in a cluster.

On a cluster whose pods are simulated (the local control plane: kwok nodes run no
containers), this is how the operator's output is exercised for real: each
service's environment is read from the Deployment the operator wrote (values,
Secret references, mounted Secret files), cluster addresses are mapped to local
ones, and a local PostgreSQL and FerretDB take the place of the dedicated database
pods, initialised from the same generated Secrets the database images would read.
Nothing here knows the operator's code: only the Kubernetes objects.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pymongo
from psycopg import sql

from shoptools.processes import SERVICES

Object = dict[str, Any]


class WiringError(RuntimeError):
    """The cluster's objects cannot be turned into a local environment."""


def kubectl_json(*args: str) -> Object:
    """`kubectl <args> -o json` with `$KUBECTL` (default: kubectl on PATH) and `$KUBECONFIG`."""
    command = [os.environ.get("KUBECTL", "kubectl"), *args, "-o", "json"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise WiringError(f"{' '.join(command)} failed: {proc.stderr.strip()}")
    result: Object = json.loads(proc.stdout)
    return result


@dataclass(frozen=True)
class ClusterShop:
    """What the operator generated for the shop in one namespace."""

    namespace: str
    deployments: dict[str, Object]
    secrets: dict[str, Object]
    urls: dict[str, str]  # service name -> status.url of its MicroService


def read_cluster(namespace: str) -> ClusterShop:
    """The shop's Deployments, the Secrets they use and the MicroServices' URLs."""
    microservices = {
        item["metadata"]["name"]: item
        for item in kubectl_json("-n", namespace, "get", "microservices")["items"]
    }
    missing = [name for name in SERVICES if name not in microservices]
    if missing:
        raise WiringError(f"no MicroService {', '.join(missing)} in namespace {namespace}")
    urls: dict[str, str] = {}
    for name in SERVICES:
        url = microservices[name].get("status", {}).get("url")
        if not url:
            raise WiringError(f"MicroService {namespace}/{name} has no status.url yet")
        urls[name] = url
    deployments = {
        name: kubectl_json("-n", namespace, "get", "deployment", name) for name in SERVICES
    }
    secrets = {
        item["metadata"]["name"]: item
        for item in kubectl_json("-n", namespace, "get", "secrets")["items"]
    }
    return ClusterShop(namespace, deployments, secrets, urls)


def _secret_value(secrets: Mapping[str, Object], name: str, key: str) -> str:
    data = secrets.get(name, {}).get("data", {})
    if key not in data:
        raise WiringError(f"Secret {name} has no key {key}")
    return base64.b64decode(data[key]).decode()


def _container(deployment: Object) -> Object:
    containers: list[Object] = deployment["spec"]["template"]["spec"]["containers"]
    return containers[0]


def database_secret(deployment: Object) -> str | None:
    """The Secret `DATABASE_URL` comes from, if it comes from one."""
    for entry in _container(deployment).get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if entry["name"] == "DATABASE_URL" and ref:
            return str(ref["name"])
    return None


def mount_secret_volumes(
    deployment: Object, secrets: Mapping[str, Object], root: Path
) -> dict[str, str]:
    """Write the container's mounted Secret files under `root`; map mount path -> local dir."""
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts: dict[str, str] = {}
    for mount in _container(deployment).get("volumeMounts", []):
        source = volumes.get(mount["name"], {}).get("secret")
        if source is None:
            continue
        local = root / deployment["metadata"]["name"] / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        local.chmod(0o700)
        data = secrets.get(source["secretName"], {}).get("data", {})
        items = source.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            path = local / item["path"]
            path.write_text(_secret_value(secrets, source["secretName"], item["key"]))
            path.chmod(0o600)
        mounts[mount["mountPath"].rstrip("/")] = str(local)
    return mounts


def container_env(
    deployment: Object, secrets: Mapping[str, Object], mounts: Mapping[str, str]
) -> dict[str, str]:
    """The container's environment as the kubelet would give it, with local file paths."""
    env: dict[str, str] = {}
    for entry in _container(deployment).get("env", []):
        name = entry["name"]
        if "value" in entry:
            value = str(entry["value"])
        elif ref := entry.get("valueFrom", {}).get("secretKeyRef"):
            value = _secret_value(secrets, ref["name"], ref["key"])
        else:
            raise WiringError(f"env {name}: only values and Secret references are supported")
        for mount_path, local in mounts.items():
            if value == mount_path or value.startswith(mount_path + "/"):
                value = local + value[len(mount_path) :]
        env[name] = value
    return env


def address(url: str) -> str:
    """`host:port` of a URL (default ports filled in for http and databases)."""
    parts = urlsplit(url)
    defaults = {"http": 80, "https": 443, "postgresql": 5432, "mongodb": 27017}
    return f"{parts.hostname}:{parts.port or defaults.get(parts.scheme, 0)}"


# Names, not addresses: kept as generated, so tokens carry the cluster's issuer.
IDENTIFIERS = frozenset({"JWT_ISSUER", "JWT_AUDIENCE"})


def rewrite_addresses(env: Mapping[str, str], addresses: Mapping[str, str]) -> dict[str, str]:
    """Replace cluster `host:port`s by local ones, except in identifiers; DB_HOST/DB_PORT too."""
    result = dict(env)
    for key, value in result.items():
        if key in IDENTIFIERS:
            continue
        for cluster, local in addresses.items():
            value = value.replace(cluster, local)
        result[key] = value
    if "DB_HOST" in result and "DB_PORT" in result:
        mapped = addresses.get(f"{result['DB_HOST']}:{result['DB_PORT']}")
        if mapped:
            result["DB_HOST"], _, result["DB_PORT"] = mapped.rpartition(":")
    return result


def initialise_database(secret_env: Mapping[str, str], admin_url: str) -> None:
    """Create the user and database the generated Secret names, as the database image does.

    PostgreSQL: a login role with the Secret's password owning the database
    (`POSTGRES_USER`/`POSTGRES_PASSWORD`/`POSTGRES_DB`). MongoDB: the user in its
    authentication database (`MONGO_INITDB_ROOT_*`). Idempotent.
    """
    url = secret_env["DATABASE_URL"]
    user, password, name = secret_env["DB_USER"], secret_env["DB_PASSWORD"], secret_env["DB_NAME"]
    if url.startswith("postgresql"):
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(user)
                    )
                )
        return
    auth_db = parse_qs(urlsplit(url).query).get("authSource", [name])[0]
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(admin_url)
    try:
        db = client[auth_db]
        if db.command("usersInfo", user).get("users"):
            db.command("updateUser", user, pwd=password)
        else:  # FerretDB 1.x authenticates users but has no roles: none to give
            db.command("createUser", user, pwd=password, roles=[])
    finally:
        client.close()


def wire_shop(
    cluster: ClusterShop,
    *,
    postgres_url: str,
    mongodb_url: str,
    ports: Mapping[str, int],
    files: Path,
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Each service's local environment, and the address map used (cluster -> local).

    Initialises the databases the generated Secrets describe on the local servers.
    """
    addresses = {address(cluster.urls[name]): f"127.0.0.1:{ports[name]}" for name in SERVICES}
    for name in SERVICES:
        secret = database_secret(cluster.deployments[name])
        if secret is None:
            continue
        secret_env = {
            key: _secret_value(cluster.secrets, secret, key)
            for key in cluster.secrets.get(secret, {}).get("data", {})
        }
        admin_url = (
            postgres_url if secret_env["DATABASE_URL"].startswith("postgres") else mongodb_url
        )
        initialise_database(secret_env, admin_url)
        addresses[address(secret_env["DATABASE_URL"])] = address(admin_url)
    envs: dict[str, dict[str, str]] = {}
    for name in SERVICES:
        deployment = cluster.deployments[name]
        mounts = mount_secret_volumes(deployment, cluster.secrets, files)
        env = container_env(deployment, cluster.secrets, mounts)
        env["PORT"] = str(ports[name])
        envs[name] = rewrite_addresses(env, addresses)
    return envs, addresses
