"""Run the real operator (`msop run`) as a separate process against the test cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_AGENTS = ("microservice-operator/", "kopf/")
"""User-Agent prefixes of the operator's requests (its own client and kopf's watches)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OperatorProcess:
    """One `msop run` process; its log is kept and checked for crashes."""

    kubeconfig: Path
    log_dir: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    metrics_port: int = 0

    def start(self) -> None:
        port = free_port()
        self.metrics_port = free_port()
        log = self.log_dir / f"operator-{len(self.logs)}.log"
        self.logs.append(log)
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PYTHONWARNINGS": "error::RuntimeWarning",
        }
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "microservice_operator.cli",
                    "run",
                    "--log-format",
                    "human",
                    "--liveness",
                    f"http://127.0.0.1:{port}/healthz",
                    "--metrics-port",
                    str(self.metrics_port),
                    *self.extra_args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"operator exited with {self.process.returncode}:\n{log.read_text()}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=1
                ) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"operator not live after 60 s:\n{log.read_text()}")

    def metrics(self) -> str:
        """The operator's Prometheus exposition text."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(answer.read().decode())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def crashes(self) -> list[str]:
        """Lines that show an unhandled exception in any of the logs."""
        bad = []
        for log in self.logs:
            for line in log.read_text(errors="replace").splitlines():
                if "Traceback (most recent call last)" in line or "Unhandled" in line:
                    bad.append(f"{log.name}: {line}")
        return bad
