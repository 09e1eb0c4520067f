"""Fault injection into the local control plane (kwokctl, binary runtime).

kwokctl runs each component as a plain process: its binary under
``<workdir>/bin/``, its arguments recorded in ``<workdir>/kwok.yaml``, its pid
in ``<workdir>/pids/<name>.pid`` and its output in ``<workdir>/logs/<name>.log``.
kwokctl can stop and start only a whole cluster, so a single component is
faulted here by signal and brought back with its recorded command line, the
way kwokctl itself starts it (so ``kwokctl delete cluster`` still finds it).

Processes are found in the process table by the absolute path of their binary,
which names this cluster's work directory: another cluster's components (for
example the benchmark cluster's) never match.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.cluster import Cluster


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    args: list[str]
    workdir: Path


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@dataclass
class ControlPlane:
    """The components of one kwokctl cluster, by name, with their recorded command lines."""

    cluster: Cluster
    workdir: Path
    restarted: list[str] = field(default_factory=list)
    stopped: set[int] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    """Components a test keeps down on purpose: the supervisor leaves them alone."""
    supervised: list[str] = field(default_factory=list)
    """Components the supervisor found gone and started again."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def components(self) -> dict[str, Component]:
        docs = list(yaml.safe_load_all((self.workdir / "kwok.yaml").read_text()))
        found: dict[str, Component] = {}
        for doc in docs:
            for item in (doc or {}).get("components") or []:
                found[item["name"]] = Component(
                    name=item["name"],
                    binary=item["binary"],
                    args=list(item.get("args") or []),
                    workdir=Path(item.get("workDir") or self.workdir),
                )
        return found

    def pids(self, name: str) -> list[int]:
        """Live processes of one component (matched by its binary's absolute path)."""
        binary = self.components()[name].binary
        out = subprocess.run(
            ["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True
        ).stdout
        pids = []
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.split(" ", 1)[0] == binary and _alive(int(pid)):
                pids.append(int(pid))
        return pids

    def pid(self, name: str) -> int:
        pids = self.pids(name)
        assert len(pids) == 1, f"expected one {name} process, found {pids}"
        return pids[0]

    # ------------------------------------------------------------- faults
    def pause(self, name: str) -> int:
        """SIGSTOP a component; ``resume`` (or ``restore``) sends SIGCONT."""
        pid = self.pid(name)
        self.stopped.add(pid)
        os.kill(pid, signal.SIGSTOP)
        return pid

    def resume(self, pid: int) -> None:
        if _alive(pid):
            os.kill(pid, signal.SIGCONT)
        self.stopped.discard(pid)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 60.0) -> bool:
        """Stop a component and keep it down (held) until ``start``.

        SIGKILL follows after ``timeout``; True when it exited on ``sig`` alone.
        """
        with self._lock:
            self.held.add(name)
        graceful = True
        for pid in self.pids(name):
            os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                graceful = False
                os.kill(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
        return graceful

    def start(self, name: str) -> int:
        """Start a component with its recorded command line, detached, as kwokctl does."""
        component = self.components()[name]
        log = component.workdir / "logs" / f"{name}.log"
        # A shell starts it in the background and exits: the component is not our
        # child, so nothing waits on it and it outlives the test process like the rest.
        script = 'exec 0</dev/null; "$@" >>"$LOG" 2>&1 & echo $!'
        result = subprocess.run(
            ["setsid", "sh", "-c", script, "sh", component.binary, *component.args],
            capture_output=True,
            text=True,
            check=True,
            cwd=component.workdir,
            env={**os.environ, "LOG": str(log)},
        )
        pid = int(result.stdout.strip())
        (component.workdir / "pids" / f"{name}.pid").write_text(str(pid))
        self.restarted.append(name)
        with self._lock:
            self.held.discard(name)
        return pid

    # ---------------------------------------------------------- supervisor
    def supervise(self, interval: float = 0.5) -> None:
        """Start components that exit, as a kubelet restarts static control-plane pods.

        kwokctl's binary runtime does not restart anything: a kube-controller-manager
        or kube-scheduler that loses its leader Lease (the API server is away for
        longer than the renew deadline) exits by design and would stay gone.
        """

        def loop() -> None:
            while not self._stop.wait(interval):
                for name in self.components():
                    with self._lock:
                        if name in self.held:
                            continue
                    if not self.pids(name):
                        self.start(name)
                        self.supervised.append(name)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="control-plane-supervisor", daemon=True)
        self._thread.start()

    def unsupervise(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    # ----------------------------------------------------------- recovery
    def ready(self) -> bool:
        return self.cluster.is_healthy()

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until /readyz answers ok; the monotonic time it first did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return time.monotonic()
            time.sleep(0.1)
        raise AssertionError(f"API server not ready after {timeout:.0f} s")

    def missing(self) -> list[str]:
        return [name for name in self.components() if not self.pids(name)]

    def restore(self) -> list[str]:
        """Resume anything paused, start any component that is gone, wait for /readyz.

        Returns the components that had to be started again (a controller manager
        or scheduler that lost its leader lease during a fault exits by design).
        """
        for pid in list(self.stopped):
            self.resume(pid)
        self.held.clear()
        order = list(self.components())  # kwok.yaml lists them in start order
        brought_back = []
        for name in order:
            if not self.pids(name):
                self.start(name)
                brought_back.append(name)
                if name in ("etcd", "kube-apiserver"):
                    time.sleep(1)
        self.wait_ready()
        return brought_back

    def info(self) -> dict[str, Any]:
        return {name: self.pids(name) for name in self.components()}
