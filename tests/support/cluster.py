"""The cluster a test session runs against, and polling helpers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass(frozen=True)
class Cluster:
    """A kubeconfig and whether it is the project's local control plane."""

    kubeconfig: Path
    local: bool

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        """Run the project's kubectl against this cluster; stdout."""
        binary = ROOT / ".tools" / "bin" / "kubectl"
        result = subprocess.run(
            [
                str(binary if binary.exists() else "kubectl"),
                "--kubeconfig",
                str(self.kubeconfig),
                *args,
            ],
            capture_output=True,
            text=True,
            input=input,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout + (result.stderr if not check else "")

    def is_healthy(self) -> bool:
        """True when the API server answers /readyz."""
        if not self.kubeconfig.exists():
            return False
        binary = ROOT / ".tools" / "bin" / "kubectl"
        if not binary.exists():
            return False
        result = subprocess.run(
            [str(binary), "--kubeconfig", str(self.kubeconfig), "get", "--raw", "/readyz"],
            capture_output=True,
            check=False,
            env={**os.environ},
        )
        return result.returncode == 0


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
