"""Run the services as real processes (`python -m app`) on free 127.0.0.1 ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SAMPLES_DIR = Path(__file__).resolve().parents[1]
SERVICES = ("auth", "products", "orders")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServiceProcess:
    """A running service: its base URL, process and log file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def start_service(
    name: str, env: Mapping[str, str], log_dir: Path, port: int | None = None
) -> ServiceProcess:
    """Start `name` and wait until `/readyz` answers 200 (30 s at most)."""
    port = port or free_port()
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DB_", "JWT_", "JWKS_", "PRODUCTS_", "ADMIN_"))
    }
    full_env.update({"HOST": "127.0.0.1", "PORT": str(port), **env})
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=SAMPLES_DIR / name,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = ServiceProcess(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(service, timeout=30.0)
    except BaseException:
        stop_service(service)
        raise
    return service


def _wait_ready(service: ServiceProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode}:\n"
                + service.log_path.read_text(errors="replace")[-4000:]
            )
        try:
            if httpx.get(service.url + "/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(
        f"{service.name} not ready after {timeout} s:\n"
        + service.log_path.read_text(errors="replace")[-4000:]
    )


def stop_service(service: ServiceProcess, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps the process."""
    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait(timeout=5)


def start_services(
    envs: Mapping[str, Mapping[str, str]], ports: Mapping[str, int], log_dir: Path
) -> list[ServiceProcess]:
    """Start services in the order given, each ready before the next; all or none."""
    started: list[ServiceProcess] = []
    try:
        for name, env in envs.items():
            started.append(start_service(name, env, log_dir, ports[name]))
    except BaseException:
        for service in reversed(started):
            stop_service(service)
        raise
    return started


@contextmanager
def running_service(
    name: str, env: Mapping[str, str], log_dir: Path, port: int | None = None
) -> Iterator[ServiceProcess]:
    """`start_service` for the length of a block."""
    service = start_service(name, env, log_dir, port)
    try:
        yield service
    finally:
        stop_service(service)
