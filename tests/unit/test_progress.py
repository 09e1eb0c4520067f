"""Rollout progress is held only while the work queue is saturated, and never for long."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from microservice_operator.builders.status import condition, rolling_out
from microservice_operator.handlers import progress
from microservice_operator.handlers.progress import HOLD_MAX, ProgressHold
from microservice_operator.handlers.queue import WorkQueue

pytestmark = pytest.mark.unit
KEY = ("shop", "orders")


def status(reconciling: bool, reason: str) -> dict[str, Any]:
    return {"conditions": [condition("Reconciling", reconciling, reason, "", 1)]}


ROLLING = status(True, "RollingOut")
READY = status(False, "Reconciled")


def test_only_a_rollout_under_way_counts_as_mere_progress() -> None:
    assert rolling_out(ROLLING) and rolling_out(status(True, "Creating"))
    assert not rolling_out(READY)
    assert not rolling_out(status(True, "DatabaseNotReady"))  # worth telling at once
    assert not rolling_out(status(True, "DependenciesNotReady"))
    assert not rolling_out({})


def test_held_while_saturated_for_at_most_hold_max(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress, "_clock", lambda: clock[0])
    busy = [False]
    hold = ProgressHold(saturated=lambda: busy[0])

    assert hold.hold(KEY, 1, ROLLING) is None  # not saturated: written at once
    busy[0] = True
    assert hold.hold(KEY, 1, ROLLING) == HOLD_MAX
    clock[0] += 10
    assert hold.hold(KEY, 1, ROLLING) == HOLD_MAX - 10  # counted from the first hold
    clock[0] += HOLD_MAX
    assert hold.hold(KEY, 1, ROLLING) is None and len(hold) == 0  # held long enough

    assert hold.hold(KEY, 2, ROLLING) == HOLD_MAX  # a new generation starts over
    assert hold.hold(KEY, 2, READY) is None and len(hold) == 0  # Ready goes out at once
    assert hold.hold(KEY, 3, ROLLING) == HOLD_MAX
    busy[0] = False
    assert hold.hold(KEY, 3, ROLLING) is None and len(hold) == 0  # the burst is over


async def test_the_queue_is_saturated_only_while_keys_wait_for_a_slot() -> None:
    release = asyncio.Event()

    async def work(_: int) -> None:
        await release.wait()

    queue = WorkQueue[int](work=work, concurrency=2)

    def saturated() -> bool:  # read afresh each time
        return queue.saturated

    assert not saturated()
    queue.trigger(1)
    queue.trigger(2)
    await asyncio.sleep(0.01)
    assert not saturated()  # both slots busy, nobody waiting
    queue.trigger(3)
    await asyncio.sleep(0.01)
    assert saturated()
    release.set()
    await queue.drain()
    assert not saturated()
