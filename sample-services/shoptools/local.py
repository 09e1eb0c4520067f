"""`make samples-up` / `make samples-down`: the shop running locally in the background.

    python sample-services/shoptools/local.py up      start databases and services, print URLs
    python sample-services/shoptools/local.py up --from-cluster NAMESPACE
                                                     the same, wired from what the operator
                                                     generated there (see shoptools/wiring.py)
    python sample-services/shoptools/local.py flow    walk register, login, order; print each step
    python sample-services/shoptools/local.py down    stop everything and remove the state
    python sample-services/shoptools/local.py status  print URLs if running

State (databases, logs, pids, the signing key) lives in
${MSOP_SAMPLES_DIR:-${TMPDIR:-/tmp}/msop-samples-<uid>}. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from shoptools import databases, wiring
from shoptools.processes import SERVICES, ServiceProcess, free_port, start_services
from shoptools.shop import Shop, start_shop, walk_flow, write_signing_key

STATE_DIR = Path(
    os.environ.get("MSOP_SAMPLES_DIR")
    or Path(tempfile.gettempdir()) / f"msop-samples-{os.getuid()}"
)
STATE_FILE = STATE_DIR / "shop.json"


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - a command-line report


def _describe(state: dict[str, object]) -> None:
    _say(f"auth:     {state['auth']}   (JWKS: {state['auth']}/.well-known/jwks.json)")
    _say(f"products: {state['products']}")
    _say(f"orders:   {state['orders']}")
    _say(f"admin:    {state['admin_email']} / {state['admin_password']}")
    _say(f"logs:     {STATE_DIR / 'logs'}")
    _say(f"env:      {STATE_DIR / 'shop.env'}")


def _local_wiring(servers: databases.DatabaseServers) -> tuple[Shop, list[ServiceProcess]]:
    return start_shop(
        auth_db=databases.create_postgres_database(servers.postgres_url, "auth"),
        products_db=databases.with_database(servers.mongodb_url, "products"),
        orders_db=databases.create_postgres_database(servers.postgres_url, "orders"),
        key_file=write_signing_key(STATE_DIR / "jwt.pem"),
        log_dir=STATE_DIR / "logs",
        admin_password=secrets.token_urlsafe(12),
    )


def _cluster_wiring(
    namespace: str, servers: databases.DatabaseServers
) -> tuple[Shop, list[ServiceProcess]]:
    cluster = wiring.read_cluster(namespace)
    ports = {name: free_port() for name in SERVICES}
    envs, addresses = wiring.wire_shop(
        cluster,
        postgres_url=servers.postgres_url,
        mongodb_url=servers.mongodb_url,
        ports=ports,
        files=STATE_DIR / "files",
    )
    _say(f"wired from the Deployments the operator generated in namespace {namespace}:")
    for cluster_address, local in addresses.items():
        _say(f"  {cluster_address:<40} -> {local}")
    for name, env in envs.items():
        _say(f"  {name:<9} env: {' '.join(sorted(env))}")
    processes = start_services(envs, ports, STATE_DIR / "logs")
    auth = envs["auth"]
    shop = Shop(
        auth=f"http://127.0.0.1:{ports['auth']}",
        products=f"http://127.0.0.1:{ports['products']}",
        orders=f"http://127.0.0.1:{ports['orders']}",
        admin_email=auth["ADMIN_EMAIL"],
        admin_password=auth["ADMIN_PASSWORD"],
    )
    return shop, processes


def up(namespace: str | None = None) -> int:
    """Start databases and the three services unless they already run."""
    if STATE_FILE.exists():
        _say("the shop is already running:")
        _describe(json.loads(STATE_FILE.read_text()))
        return 0
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STATE_DIR.chmod(0o700)
    servers, _ = databases.start_databases()
    try:
        if namespace is None:
            shop, processes = _local_wiring(servers)
        else:
            shop, processes = _cluster_wiring(namespace, servers)
    except BaseException:
        databases.stop_databases(servers)
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        raise
    state: dict[str, object] = {
        "auth": shop.auth,
        "products": shop.products,
        "orders": shop.orders,
        "admin_email": shop.admin_email,
        "admin_password": shop.admin_password,
        "pids": [p.process.pid for p in processes],
        "databases_dir": str(servers.directory),
    }
    STATE_FILE.write_text(json.dumps(state, indent=2))
    STATE_FILE.chmod(0o600)
    (STATE_DIR / "shop.env").write_text(
        f"AUTH_URL={shop.auth}\nPRODUCTS_URL={shop.products}\nORDERS_URL={shop.orders}\n"
        f"ADMIN_EMAIL={shop.admin_email}\nADMIN_PASSWORD={shop.admin_password}\n"
        f"POSTGRES_URL={servers.postgres_url}\nMONGODB_URL={servers.mongodb_url}\n"
    )
    _say("the shop is running:")
    _describe(state)
    return 0


def flow() -> int:
    """Walk the shop flow against the running shop; exit 1 on the first failing step."""
    if not STATE_FILE.exists():
        _say("the shop is not running")
        return 1
    state = json.loads(STATE_FILE.read_text())
    shop = Shop(
        auth=state["auth"],
        products=state["products"],
        orders=state["orders"],
        admin_email=state["admin_email"],
        admin_password=state["admin_password"],
    )

    async def walk() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            await walk_flow(http, shop, lambda line: _say(f"  ok  {line}"))

    try:
        asyncio.run(walk())
    except (RuntimeError, httpx.HTTPError) as exc:
        _say(f"  FAILED  {exc}")
        return 1
    return 0


def _stop_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def down() -> int:
    """Stop the services, then the databases, and remove the state directory."""
    if not STATE_FILE.exists():
        _say("the shop is not running")
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        return 0
    state = json.loads(STATE_FILE.read_text())
    for pid in reversed(state["pids"]):
        _stop_pid(int(pid))
    databases.stop_databases(
        databases.DatabaseServers(Path(state["databases_dir"]), postgres_url="", mongodb_url="")
    )
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    _say("the shop is stopped")
    return 0


def status() -> int:
    """Print the URLs; exit 1 when not running."""
    if not STATE_FILE.exists():
        _say("the shop is not running")
        return 1
    _describe(json.loads(STATE_FILE.read_text()))
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:2] == ["up", "--from-cluster"] and len(args) == 3:
        sys.exit(up(args[2]))
    commands = {"up": up, "flow": flow, "down": down, "status": status}
    if len(args) != 1 or args[0] not in commands:
        sys.exit(__doc__)
    sys.exit(commands[args[0]]())
