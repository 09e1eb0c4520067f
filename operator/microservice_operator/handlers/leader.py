"""Leader election on a coordination.k8s.io Lease (kopf peering is not one).

Every replica watches and keeps its indexes warm; only the holder of the
Lease reconciles, so only the leader writes. The rules are client-go's:
the holder renews every ``retry_period``; a candidate takes the Lease once
``renewTime + leaseDuration`` has passed; a leader that cannot renew within
``renew_deadline`` stops at once (the process exits and restarts clean), so
two writers never overlap. On a clean shutdown the leader releases the Lease
so a standby takes over without waiting for it to expire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from microservice_operator.kube import ApiError, KubeClient
from microservice_operator.observability import LEADER

logger = logging.getLogger(__name__)
API_VERSION = "coordination.k8s.io/v1"


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """Parse metav1.MicroTime or metav1.Time."""
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def default_identity() -> str:
    """The pod name in a cluster; host and pid elsewhere."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class LeaseConfig:
    """Timing and location of the Lease."""

    name: str = "microservice-operator"
    namespace: str = "default"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 12.0
    renew_deadline: float = 8.0
    retry_period: float = 2.0


@dataclass
class LeaderElector:
    """Acquire and hold the Lease; ``leading`` is set while we hold it."""

    client: KubeClient
    config: LeaseConfig
    on_lost: Callable[[], None]
    leading: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def run(self) -> None:
        """Campaign until elected, then renew until stopped or the Lease is lost."""
        cfg = self.config
        logger.info(
            "leader election: %s campaigning for Lease %s/%s", cfg.identity, cfg.namespace, cfg.name
        )
        while not await self._attempt():  # noqa: ASYNC110 - polling the Lease is the protocol
            await asyncio.sleep(cfg.retry_period)
        self.leading.set()
        LEADER.labels(cfg.name).set(1)
        logger.info("leader election: %s is the leader", cfg.identity)
        last_renew = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(cfg.retry_period)
            renewed = await self._attempt()  # any failure counts against the deadline
            now = asyncio.get_running_loop().time()
            if renewed:
                last_renew = now
            elif now - last_renew > cfg.renew_deadline:
                logger.error(
                    "leader election: could not renew within %.0f s; stepping down",
                    cfg.renew_deadline,
                )
                self.leading.clear()
                LEADER.labels(cfg.name).set(0)
                self.on_lost()
                return

    async def _attempt(self) -> bool:
        try:
            return await self._try_acquire_or_renew()
        except Exception as exc:  # the API may be away for a while; keep campaigning
            logger.warning("leader election: could not reach the Lease: %s", exc)
            return False

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now = self.clock()
        lease = await self.client.get(API_VERSION, "Lease", cfg.name, cfg.namespace)
        spec = {
            "holderIdentity": cfg.identity,
            "leaseDurationSeconds": round(cfg.lease_duration),
            "renewTime": micro_time(now),
        }
        if lease is None:
            body = {
                "apiVersion": API_VERSION,
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": {**spec, "acquireTime": micro_time(now), "leaseTransitions": 0},
            }
            try:
                await self.client.create(body)
            except ApiError as exc:
                if exc.conflict:
                    return False
                raise
            return True
        current = lease.get("spec") or {}
        holder = current.get("holderIdentity") or ""
        if holder != cfg.identity:
            renewed_at = parse_time(current.get("renewTime")) or parse_time(
                current.get("acquireTime")
            )
            duration = float(current.get("leaseDurationSeconds") or cfg.lease_duration)
            expired = renewed_at is None or (now - renewed_at).total_seconds() > duration
            if holder and not expired:
                return False
            spec["acquireTime"] = micro_time(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        else:
            spec["acquireTime"] = current.get("acquireTime") or micro_time(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0)
        return await self._replace(lease, spec)

    async def _replace(self, lease: dict[str, Any], spec: dict[str, Any]) -> bool:
        body = {
            "apiVersion": API_VERSION,
            "kind": "Lease",
            "metadata": lease["metadata"],
            "spec": spec,
        }
        try:
            await self.client.replace(body)  # resourceVersion makes this a compare-and-swap
        except ApiError as exc:
            if exc.conflict:
                return False
            raise
        return True

    async def release(self) -> None:
        """Give the Lease up on shutdown so a standby need not wait for expiry."""
        if not self.leading.is_set():
            return
        self.leading.clear()
        lease = await self.client.get(API_VERSION, "Lease", self.config.name, self.config.namespace)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.config.identity:
            return
        spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
        try:
            await self._replace(lease, spec)
            logger.info("leader election: released the Lease")
        except ApiError as exc:
            logger.warning("leader election: could not release the Lease: %s", exc)
