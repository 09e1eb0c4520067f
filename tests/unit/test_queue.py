from __future__ import annotations

import asyncio
import itertools

import pytest

from microservice_operator.handlers import queue as queue_module
from microservice_operator.handlers.queue import Requeue, WorkQueue


async def test_triggers_during_a_pass_coalesce_into_one_more_pass() -> None:
    calls: list[str] = []
    gate = asyncio.Event()

    async def work(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            await gate.wait()

    q = WorkQueue[str](work=work)
    q.trigger("a")
    await asyncio.sleep(0)
    for _ in range(5):
        q.trigger("a")
    gate.set()
    await q.drain()
    await asyncio.sleep(0.01)
    await q.drain()
    assert calls == ["a", "a"]


async def test_keys_run_concurrently_and_one_key_never_overlaps() -> None:
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def work(key: str) -> None:
        active[key] = active.get(key, 0) + 1
        peak[key] = max(peak.get(key, 0), active[key])
        await asyncio.sleep(0.01)
        active[key] -= 1

    q = WorkQueue[str](work=work)
    for key in "abc" * 3:
        q.trigger(key)
    await asyncio.sleep(0.05)
    await q.drain()
    assert peak == {"a": 1, "b": 1, "c": 1}


async def test_failures_retry_with_backoff_and_requeue_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queue_module, "BACKOFF_START", 0.05)
    attempts: list[float] = []

    async def work(key: str) -> None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) < 3:
            raise RuntimeError("boom")
        if len(attempts) == 3:
            raise Requeue(0.3)

    q = WorkQueue[str](work=work)
    q.trigger("k")
    for _ in range(300):
        await asyncio.sleep(0.01)
        if len(attempts) >= 4:
            break
    await q.drain()
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Timers never fire early: each wait is at least its backoff (0.05 s, 0.1 s, then 0.3 s).
    assert gaps[0] >= 0.049 and gaps[1] >= 0.099 and gaps[2] >= 0.299, gaps


async def test_child_triggered_keys_go_first_when_slots_are_short() -> None:
    order: list[str] = []
    gate = asyncio.Event()

    async def work(key: str) -> None:
        order.append(key)
        if key == "busy":
            await gate.wait()

    queue = WorkQueue[str](work=work, concurrency=1)
    queue.trigger("busy")
    await asyncio.sleep(0.01)
    for key in ("new-1", "new-2"):
        queue.trigger(key)  # MicroService events: NORMAL
    queue.trigger("rolled-out", queue_module.URGENT)  # a child's status changed
    queue.trigger("new-3")
    await asyncio.sleep(0.01)
    gate.set()
    await queue.drain()
    assert order == ["busy", "rolled-out", "new-1", "new-2", "new-3"]


async def test_an_urgent_requeue_goes_before_new_work_when_due() -> None:
    order: list[str] = []
    gate = asyncio.Event()
    held = [True]

    async def work(key: str) -> None:
        order.append(key)
        if key == "held" and held[0]:
            held[0] = False
            raise Requeue(0.04, "progress held", urgent=True)
        if key == "busy":
            await gate.wait()

    queue = WorkQueue[str](work=work, concurrency=1)
    queue.trigger("held")
    await asyncio.sleep(0.01)
    queue.trigger("busy")
    await asyncio.sleep(0.01)
    for key in ("new-1", "new-2"):
        queue.trigger(key)
    await asyncio.sleep(0.08)  # the requeue falls due while "busy" holds the only slot
    gate.set()
    await queue.drain()
    assert order == ["held", "busy", "held", "new-1", "new-2"]


async def test_a_cancelled_waiter_does_not_lose_its_slot() -> None:
    slots = queue_module._Slots(1)
    await slots.acquire(queue_module.NORMAL)
    waiter = asyncio.create_task(slots.acquire(queue_module.NORMAL))
    await asyncio.sleep(0)
    waiter.cancel()
    slots.release()
    await asyncio.wait_for(slots.acquire(queue_module.URGENT), timeout=1)
