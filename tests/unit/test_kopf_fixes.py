"""kopf overheads the operator removes: toggle-set wake-ups (kopf_fixes) and the diff base."""

from __future__ import annotations

import asyncio

import kopf
from kopf._cogs.aiokits import aiotoggles

from microservice_operator.handlers import kopf_fixes, watch


def test_the_fix_applies_to_the_installed_kopf() -> None:
    # When kopf is upgraded this fails: check whether the new release still needs
    # the fix (kopf/_cogs/aiokits/aiotoggles.py) and update PATCHED_KOPF or drop it.
    assert kopf_fixes.KOPF_VERSION.startswith(kopf_fixes.PATCHED_KOPF)
    assert kopf_fixes.apply() is True
    assert aiotoggles.ToggleSet.make_toggle is kopf_fixes._make_toggle


def counting_notifies(toggles: aiotoggles.ToggleSet) -> list[int]:
    calls = [0]
    condition = toggles._condition
    original = condition.notify_all

    def notify_all() -> None:
        calls[0] += 1
        original()

    condition.notify_all = notify_all  # type: ignore[method-assign]
    return calls


async def test_waiters_wake_once_when_the_last_index_toggle_goes() -> None:
    kopf_fixes.apply()
    indexed = aiotoggles.ToggleSet(all)
    calls = counting_notifies(indexed)
    blocker = await indexed.make_toggle(name="blocker")
    objects = [await indexed.make_toggle(name=f"object {i}") for i in range(500)]
    assert indexed.is_off() and calls == [1]  # on -> off once, not once per object

    woken: list[int] = []

    async def worker(i: int) -> None:
        await indexed.wait_for(True)
        woken.append(i)

    workers = [asyncio.create_task(worker(i)) for i in range(500)]
    await asyncio.sleep(0)
    for toggle in objects:
        await indexed.drop_toggle(toggle)
    await asyncio.sleep(0)
    assert woken == [] and calls == [1]  # the blocker still holds them all
    await indexed.drop_toggles([blocker, blocker])
    await asyncio.wait_for(asyncio.gather(*workers), timeout=5)
    assert sorted(woken) == list(range(500)) and calls == [2]
    assert indexed.is_on() and len(indexed) == 0


async def test_turning_toggles_keeps_the_count_for_all_and_any() -> None:
    kopf_fixes.apply()
    every = aiotoggles.ToggleSet(all)
    some = aiotoggles.ToggleSet(any)
    assert every.is_on() and some.is_off()  # empty sets, as kopf defines them
    a = await every.make_toggle(True)
    b = await some.make_toggle(False)
    assert every.is_on() and some.is_off()
    await a.turn_to(False)
    await b.turn_to(True)
    assert every.is_off() and some.is_on()
    await a.turn_to(False)  # no change: the count must not drift
    await a.turn_to(True)
    assert every.is_on()
    await every.drop_toggle(a)
    await some.drop_toggle(b)
    assert every.is_on() and some.is_off()
    await every.drop_toggle(a)  # dropping twice is harmless
    assert every.is_on()


async def test_toggles_outside_any_set_behave_as_before() -> None:
    kopf_fixes.apply()
    toggle = aiotoggles.Toggle(False)
    waiter = asyncio.create_task(toggle.wait_for(True))
    await asyncio.sleep(0)
    await toggle.turn_to(True)
    await asyncio.wait_for(waiter, timeout=5)
    assert toggle.is_on()


def test_only_event_and_index_handlers_so_no_diff_base_is_needed() -> None:
    registry = kopf.OperatorRegistry()
    watch.register(registry)
    # Change-detecting (create/update/resume/delete) and spawning (daemon/timer)
    # handlers would read the diff base that NoDiffBase never stores.
    assert list(registry._changing.get_all_handlers()) == []
    assert list(registry._spawning.get_all_handlers()) == []
    assert list(registry._watching.get_all_handlers()) != []
    settings = kopf.OperatorSettings()
    watch.configure(settings)
    storage = settings.persistence.diffbase_storage
    assert isinstance(storage, watch.NoDiffBase)
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"image": "a"}})
    assert storage.build(body=body) == {} and storage.fetch(body=body) is None
