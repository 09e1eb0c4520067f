"""The memory trim after bursts (handlers/memory.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from microservice_operator.handlers import memory


def test_glibc_malloc_trim_is_found() -> None:
    trim = memory._malloc_trim()
    assert trim is not None and trim() in (0, 1)


async def test_trims_once_after_a_burst_and_quiet_not_while_busy_or_idle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=memory.__name__)
    done = [0]
    busy = [1]
    task = asyncio.create_task(memory.trim_after_bursts(lambda: done[0], lambda: busy[0], 0.05))
    await asyncio.sleep(0)  # it counts from here
    done[0] = memory.BURST + 1
    await asyncio.sleep(0.2)
    assert not caplog.records  # work still in flight
    busy[0] = 0
    await asyncio.sleep(0.2)
    assert len(caplog.records) == 1 and "after a burst" in caplog.records[0].getMessage()
    await asyncio.sleep(0.2)
    assert len(caplog.records) == 1  # idle since: nothing more to give back
    task.cancel()
