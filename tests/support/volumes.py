"""PersistentVolumes for dedicated databases: the local cluster has no provisioner."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from microservice_operator.kube import KubeClient


@asynccontextmanager
async def persistent_volumes(
    kube: KubeClient, count: int, storage: str = "5Gi"
) -> AsyncIterator[list[str]]:
    """``count`` hostPath volumes for the length of a block; their names."""
    names = [f"pv-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for name in names:
        await kube.create(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": storage},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "hostPath": {"path": f"/tmp/{name}"},
                },
            }
        )
    try:
        yield names
    finally:
        for name in names:
            await kube.delete("v1", "PersistentVolume", name)
