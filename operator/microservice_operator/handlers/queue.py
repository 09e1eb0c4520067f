"""A work queue of MicroService keys: coalescing, one worker per key, retry with backoff.

Any event (the MicroService itself, or one of its children) only *triggers*
its key. A key already being reconciled is marked dirty and reconciled once
more afterwards, so bursts collapse into one pass over the latest state.

When more keys wait than there are slots, those triggered by their children
(a Deployment rolled out: the service may be Ready now) go before those
triggered by the MicroService itself (a new or changed spec). Under a burst of
creations, services then become Ready as their workloads do, instead of all
after the last creation pass.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from microservice_operator.observability import (
    ACTIVE_WORKERS,
    CONTROLLER,
    QUEUE_DEPTH,
    RECONCILE_CONTEXT,
    RECONCILE_ERRORS,
    RECONCILE_TIME,
    RECONCILE_TOTAL,
    reconcile_context,
)

K = TypeVar("K")
logger = logging.getLogger(__name__)

BACKOFF_START = 0.5
BACKOFF_MAX = 300.0


class Requeue(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a reconcile to run again after ``delay`` seconds (not an error)."""

    def __init__(self, delay: float, why: str = "", *, urgent: bool = False) -> None:
        super().__init__(why or f"requeue in {delay} s")
        self.delay = delay
        self.urgent = urgent
        """When due, go before keys triggered by their own MicroService."""


URGENT = 0
"""Priority of keys triggered by a child's change (status may be ready to report)."""
NORMAL = 1
"""Priority of keys triggered by their own MicroService."""


class _Slots:
    """A semaphore whose waiters are served by priority (lowest first), then in order."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted, then cancelled: pass the slot on
            raise

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot (cancelled ones included until they are skipped)."""
        return len(self._waiters)

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # cancelled waiters are skipped
                future.set_result(None)
                return
        self._free += 1


@dataclass
class WorkQueue(Generic[K]):
    """Run ``work(key)`` for triggered keys, at most ``concurrency`` at a time."""

    work: Callable[[K], Awaitable[None]]
    concurrency: int = 64
    gate: asyncio.Event | None = None
    """When given, work waits until it is set (leader election: only the leader works)."""
    expected: tuple[type[BaseException], ...] = ()
    """Exception types that are operational (API errors, timeouts): logged without traceback."""
    _running: dict[K, asyncio.Task[None]] = field(default_factory=dict)
    _dirty: set[K] = field(default_factory=set)
    _failures: dict[K, int] = field(default_factory=dict)
    _timers: dict[K, asyncio.TimerHandle] = field(default_factory=dict)
    _priority: dict[K, int] = field(default_factory=dict)
    _slots: _Slots | None = None
    completed: int = 0
    """Reconciles finished (any result), for the memory trim after bursts."""

    def trigger(self, key: K, priority: int = NORMAL) -> None:
        """Reconcile ``key`` soon (now, or right after the pass in flight)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._priority[key] = min(priority, self._priority.get(key, priority))
        if key in self._running:
            self._dirty.add(key)
            return
        self._running[key] = asyncio.get_running_loop().create_task(self._run(key))

    def trigger_later(self, key: K, delay: float, priority: int = NORMAL) -> None:
        """Reconcile ``key`` after ``delay`` seconds unless triggered sooner."""
        if key in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key, priority)

    def _fire(self, key: K, priority: int) -> None:
        self._timers.pop(key, None)
        self.trigger(key, priority)

    @property
    def in_flight(self) -> int:
        """Keys being reconciled right now."""
        return len(self._running)

    @property
    def saturated(self) -> bool:
        """Whether every slot is busy and more keys wait for one."""
        return self._slots is not None and self._slots.waiting > 0

    async def _run(self, key: K) -> None:
        if self._slots is None:
            self._slots = _Slots(self.concurrency)
        try:
            while True:
                if self.gate is not None:
                    await self.gate.wait()
                await self._slots.acquire(self._priority.get(key, NORMAL))
                self._dirty.discard(key)
                self._priority.pop(key, None)
                try:
                    await self._once(key)
                finally:
                    self._slots.release()
                if key not in self._dirty:
                    return
        finally:
            self._running.pop(key, None)
            if key not in self._dirty:
                self._priority.pop(key, None)

    async def _once(self, key: K) -> None:
        token = reconcile_context(*key) if isinstance(key, tuple) and len(key) == 2 else None
        started = time.perf_counter()
        ACTIVE_WORKERS.labels(CONTROLLER).inc()
        result = "error"
        try:
            await self._attempt(key)
            result = "success"
        except Requeue:
            result = "requeue"
        except asyncio.CancelledError:
            raise
        except Exception:
            pass
        finally:
            self.completed += 1
            ACTIVE_WORKERS.labels(CONTROLLER).dec()
            RECONCILE_TIME.labels(CONTROLLER).observe(time.perf_counter() - started)
            RECONCILE_TOTAL.labels(CONTROLLER, result).inc()
            if result == "error":
                RECONCILE_ERRORS.labels(CONTROLLER).inc()
            QUEUE_DEPTH.labels(CONTROLLER).set(len(self._dirty) + len(self._timers))
            if token is not None:
                RECONCILE_CONTEXT.reset(token)

    async def _attempt(self, key: K) -> None:
        """One reconcile; failures are logged and retried, a Requeue re-raised for counting."""
        try:
            await self.work(key)
        except Requeue as again:
            self._failures.pop(key, None)
            self.trigger_later(key, again.delay, URGENT if again.urgent else NORMAL)
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(BACKOFF_START * 2 ** (failures - 1), BACKOFF_MAX)
            message = "reconcile of %s failed (attempt %d), retrying in %.1f s: %s"
            if isinstance(exc, self.expected):
                logger.warning(message, key, failures, delay, exc)
            else:  # a bug: keep the traceback
                logger.exception(message, key, failures, delay, exc)
            self.trigger_later(key, delay)
            raise
        else:
            self._failures.pop(key, None)

    async def drain(self) -> None:
        """Cancel pending timers and wait for reconciles in flight (shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
