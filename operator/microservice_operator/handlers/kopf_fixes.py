"""A fix to kopf 1.45's toggle sets, applied at import, until kopf has its own.

kopf holds back every handler until every index is filled: each object of the
initial listing adds an "off" toggle to one ``ToggleSet(all)`` and drops it once
indexed, and every worker then waits on the set. In kopf 1.45 each add or drop
wakes *every* waiting worker (``notify_all``), and each re-evaluates the set over
all its toggles: a restart over N objects costs O(N²) wake-ups and O(N³) work
(about 2 minutes at 5,000 watched objects on two cores; see docs/performance.md).

The fix keeps a count of toggles that are off, so the set's state is O(1), and
wakes the waiters only when that state flips. Toggles change state only through
``Toggle.turn_to``, which is patched to keep the count. Semantics are unchanged:
a waiter is woken whenever what it waits for may have become true.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from importlib.metadata import version
from typing import Any

from kopf._cogs.aiokits import aiotoggles

PATCHED_KOPF = ("1.45.",)  # the releases whose aiotoggles this was written against
KOPF_VERSION = version("kopf")


def _off_count(toggles: Iterable[aiotoggles.Toggle]) -> int:
    return sum(1 for toggle in toggles if toggle.is_off())


def _state(toggle_set: aiotoggles.ToggleSet) -> bool:
    fn = toggle_set._fn
    off: int = toggle_set._msop_off  # type: ignore[attr-defined]
    total = len(toggle_set._toggles)
    if fn is builtins.all:
        return off == 0
    if fn is builtins.any:
        return total - off > 0
    return bool(fn(toggle.is_on() for toggle in toggle_set._toggles))


def _is_on(self: aiotoggles.ToggleSet) -> bool:
    if not hasattr(self, "_msop_off"):
        self._msop_off = _off_count(self._toggles)  # type: ignore[attr-defined]
    return _state(self)


async def _make_toggle(
    self: aiotoggles.ToggleSet, __val: bool = False, *, name: str | None = None
) -> aiotoggles.Toggle:
    toggle = aiotoggles.Toggle(__val, name=name, condition=self._condition)
    toggle._msop_set = self  # type: ignore[attr-defined]
    async with self._condition:
        before = _is_on(self)
        self._toggles.add(toggle)
        self._msop_off += toggle.is_off()  # type: ignore[attr-defined]
        if _state(self) != before:
            self._condition.notify_all()
    return toggle


async def _drop_toggles(self: aiotoggles.ToggleSet, toggles: Iterable[aiotoggles.Toggle]) -> None:
    async with self._condition:
        before = _is_on(self)
        for toggle in list(toggles):
            if toggle in self._toggles:
                self._toggles.discard(toggle)
                self._msop_off -= toggle.is_off()  # type: ignore[attr-defined]
        if _state(self) != before:
            self._condition.notify_all()


async def _drop_toggle(self: aiotoggles.ToggleSet, toggle: aiotoggles.Toggle) -> None:
    await _drop_toggles(self, [toggle])


_original_turn_to = aiotoggles.Toggle.turn_to


async def _turn_to(self: aiotoggles.Toggle, __state: bool) -> None:
    owner: Any = getattr(self, "_msop_set", None)
    if owner is None or self not in owner._toggles:
        await _original_turn_to(self, __state)
        return
    async with self._condition:
        was_off = self.is_off()
        self._state = bool(__state)
        owner._msop_off += self.is_off() - was_off
        self._condition.notify_all()


def apply() -> bool:
    """Patch kopf's ToggleSet if this kopf is one the fix was written for; idempotent."""
    if not KOPF_VERSION.startswith(PATCHED_KOPF):
        return False
    cls: Any = aiotoggles.ToggleSet
    cls.is_on = _is_on
    cls.make_toggle = _make_toggle
    cls.drop_toggle = _drop_toggle
    cls.drop_toggles = _drop_toggles
    toggle_cls: Any = aiotoggles.Toggle
    toggle_cls.turn_to = _turn_to
    return True
