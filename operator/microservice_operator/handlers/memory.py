"""Give memory back after a burst of work.

A restart lists every watched object at once: kopf starts a worker per object and
holds each raw event until it is processed, so the heap grows far beyond what the
indexes need afterwards, and CPython and glibc keep the freed memory. Once the
work queue has been idle for a while after a burst, a full garbage collection and
glibc's ``malloc_trim`` return it to the system (measured in docs/performance.md:
the restarted operator's RSS falls back towards that of one that converged the
same objects gradually). Nothing is done while idle, so steady state costs no CPU.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

BURST = 200
"""Reconciles since the last trim that make a burst worth trimming after."""
QUIET = 5.0
"""Seconds without work in flight before trimming."""


def _malloc_trim() -> Callable[[], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def call() -> int:
        return int(trim(0))

    return call


async def trim_after_bursts(
    reconciles: Callable[[], int], in_flight: Callable[[], int], period: float = QUIET
) -> None:
    """Forever: after ``BURST`` reconciles and ``period`` seconds with none in flight, trim."""
    trim = _malloc_trim()
    done_at_last_trim = reconciles()
    quiet_for = 0.0
    while True:
        await asyncio.sleep(period / 5)
        quiet_for = 0.0 if in_flight() else quiet_for + period / 5
        if quiet_for < period or reconciles() - done_at_last_trim < BURST:
            continue
        done_at_last_trim = reconciles()
        collected = gc.collect()
        released = trim() if trim is not None else 0
        logger.debug("after a burst: %d objects collected, malloc_trim %d", collected, released)
