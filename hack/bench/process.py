"""The operator as its own process, with its RSS and CPU time sampled from /proc."""

from __future__ import annotations

import asyncio
import itertools
import os
import resource
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from hack.bench import prometheus

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def children_of(pid: int) -> list[int]:
    """Child process ids."""
    return [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


CONTROL_PLANE = (
    "kube-apiserver",
    "etcd",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
)
"""The local cluster's processes, by the names of their pid files."""


def cpu_by_process(pids: Path) -> dict[str, float]:
    """CPU seconds so far of each control-plane process and of this driver."""
    out: dict[str, float] = {}
    for name in CONTROL_PLANE:
        try:
            out[name] = cpu_seconds(int((pids / f"{name}.pid").read_text()))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # not running (or not this runtime): left out rather than guessed
    own = resource.getrusage(resource.RUSAGE_SELF)
    out["driver"] = own.ru_utime + own.ru_stime
    return out


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process spent between two readings."""
    return {name: round(after[name] - before[name], 2) for name in after if name in before}


@dataclass
class Sample:
    """One reading: seconds since start, RSS (MiB), CPU seconds."""

    t: float
    rss_mib: float
    cpu: float


@dataclass
class Operator:
    """`python -m microservice_operator.cli run` against the benchmark cluster."""

    kubeconfig: Path
    namespace: str
    log: Path
    profile: Path | None = None
    """When set, run under `py-spy record` and write raw (collapsed) stacks here."""
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    metrics_port: int = 0
    _proc: asyncio.subprocess.Process | None = None
    _pid: int = 0
    _sampler: asyncio.Task[None] | None = None

    async def start(self) -> float:
        """Start the process; seconds from spawn until its liveness endpoint answers 200."""
        port = free_port()
        self.metrics_port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "microservice_operator.cli",
            "run",
            "--log-format",
            "json",
            "--liveness",
            f"http://127.0.0.1:{port}/healthz",
            "--metrics-port",
            str(self.metrics_port),
            "-n",
            self.namespace,
        ]
        if self.profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [str(spy), "record", "-r", "50", "-f", "raw", "-o", str(self.profile), "--", *cmd]
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.samples = []
        with self.log.open("ab") as out:
            self.started = time.monotonic()
            self._proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=out, stderr=asyncio.subprocess.STDOUT, env=env, cwd=ROOT
            )
        self._pid = await self._python_pid()
        self._sampler = asyncio.create_task(self._sample())
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - self.started < 120:
                if self._proc.returncode is not None:
                    raise RuntimeError(f"operator exited: see {self.log}")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        if answer.status == 200:
                            return time.monotonic() - self.started
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"operator not live after 120 s: see {self.log}")

    async def _python_pid(self) -> int:
        assert self._proc is not None
        if self.profile is None:
            return self._proc.pid
        for _ in range(200):  # py-spy's child
            kids = children_of(self._proc.pid)
            if kids:
                return kids[0]
            await asyncio.sleep(0.05)
        raise RuntimeError("py-spy started no child")

    async def _sample(self) -> None:
        while True:
            try:
                sample = Sample(
                    time.monotonic() - self.started,
                    rss_bytes(self._pid) / MIB,
                    cpu_seconds(self._pid),
                )
            except (FileNotFoundError, ProcessLookupError):
                return
            self.samples.append(sample)
            await asyncio.sleep(0.1)

    async def _metric(self, name: str, **match: str) -> int:
        """The sum of the operator's own samples of ``name`` with labels ``match``."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            text = await answer.text()
        return int(prometheus.total(text, name, **match))

    async def reconciles(self) -> int:
        """Reconcile passes so far (any result)."""
        return await self._metric("controller_runtime_reconcile_total")

    async def throttled(self) -> int:
        """API answers of 429 Too Many Requests so far (the client retries them)."""
        return await self._metric("rest_client_requests_total", code="429")

    def rss_mib(self) -> float:
        """RSS now."""
        return rss_bytes(self._pid) / MIB

    def cpu(self) -> float:
        """CPU seconds so far."""
        return cpu_seconds(self._pid)

    def peak_rss_mib(self, since: float = 0.0) -> float:
        """Highest RSS sampled after ``since`` (seconds since start)."""
        return max((s.rss_mib for s in self.samples if s.t >= since), default=self.rss_mib())

    def now(self) -> float:
        """Seconds since start."""
        return time.monotonic() - self.started

    async def quiet(
        self, since: float, *, window: float = 3.0, busy: float = 0.01, give_up: float = 900
    ) -> float:
        """Wait until the process is idle for ``window`` s; when it was last busy (after ``since``).

        Times are seconds since start. Busy means more than ``busy`` CPU seconds in one
        0.1 s sample (10 % of a core).
        """
        deadline = time.monotonic() + give_up
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            recent = self.samples[-int(window / 0.1) :]
            if len(recent) < window / 0.1:
                continue
            if all(b.cpu - a.cpu <= busy for a, b in itertools.pairwise(recent)):
                last_busy = since
                for a, b in itertools.pairwise(self.samples):
                    if b.t > since and b.cpu - a.cpu > busy:
                        last_busy = b.t
                return last_busy
        raise TimeoutError("operator never went quiet")

    async def stop(self) -> None:
        """SIGTERM the operator (py-spy then writes its profile) and wait for it."""
        if self._proc is None:
            return
        if self._pid and self._pid != self._proc.pid:
            os.kill(self._pid, signal.SIGTERM)
        elif self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), 60)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._sampler is not None:
            self._sampler.cancel()
        self._proc = None

    def log_lines(self) -> int:
        """Lines the operator has logged so far."""
        return sum(1 for _ in self.log.open("rb")) if self.log.exists() else 0
