"""What users would pick instead: one `helm install` of a small per-service chart per service."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from hack.bench.workloads import children, microservice

from microservice_operator.builders.common import LABEL_MANAGED_BY, MANAGED_BY

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "hack" / "bench" / "chart"
HELM = ROOT / ".tools" / "bin" / "helm"


def _normalise(value: Any) -> Any:
    """Labels say who manages an object; everything else must be equal."""
    if isinstance(value, dict):
        return {
            k: ("*" if k == LABEL_MANAGED_BY and v in (MANAGED_BY, "Helm") else _normalise(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def chart_differences(kubeconfig: Path) -> list[str]:
    """Kinds whose spec in the chart differs from what the operator builds (empty: same)."""
    name = "svc-00000"
    rendered = subprocess.run(
        [str(HELM), "template", name, str(CHART), "--namespace", "x"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    ).stdout
    chart = {d["kind"]: d for d in yaml.safe_load_all(rendered) if d}
    body = microservice(name, "x", database=False)
    body["metadata"]["uid"] = "0"
    _, built = children(body)
    out = []
    for manifest in built:
        kind = manifest["kind"]
        keys = [k for k in manifest if k not in ("apiVersion", "kind", "metadata")]
        ours = {k: manifest[k] for k in keys}
        theirs = {k: chart.get(kind, {}).get(k) for k in keys}
        if _normalise(ours) != _normalise(theirs):
            out.append(kind)
    return out


async def install_all(kubeconfig: Path, namespace: str, names: list[str], parallel: int) -> None:
    """`helm install NAME chart` for every name, ``parallel`` processes at a time."""
    slots = asyncio.Semaphore(parallel)

    async def one(name: str) -> None:
        async with slots:
            proc = await asyncio.create_subprocess_exec(
                str(HELM),
                "install",
                name,
                str(CHART),
                "--namespace",
                namespace,
                "--kubeconfig",
                str(kubeconfig),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"helm install {name} failed: {err.decode()[-500:]}")

    await asyncio.gather(*(one(n) for n in names))
