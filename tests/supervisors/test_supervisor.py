from __future__ import annotations

import asyncio

import pytest

from cloudplane.supervisors import Action, ChildSpec, Restart, Strategy, SupFlags, Supervisor

from .fakes import FakeChild, FakeClock, Journal, starts, stops


async def make(strategy: Strategy, *ids: str, intensity: int = 3,
               restart: dict[str, Restart] | None = None) -> tuple[Supervisor, dict[str, FakeChild], Journal]:
    """A supervisor with started children `ids`; the journal is cleared after setup."""
    journal: Journal = []
    sup = Supervisor("sup", SupFlags(strategy, intensity=intensity), clock=FakeClock())
    kids = {i: FakeChild(i, journal) for i in ids}
    for i, kid in kids.items():
        await sup.add_child(ChildSpec(i, restart=(restart or {}).get(i, Restart.PERMANENT)), kid)
    assert journal == starts(*ids)
    journal.clear()
    return sup, kids, journal


# -- strategies ---------------------------------------------------------------

async def test_one_for_one_restarts_only_the_failed_child() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ONE, "a", "b", "c")
    decision = await sup.child_exited("b", "boom")
    assert journal == stops("b") + starts("b")
    assert (decision.action, decision.child, decision.restarted) == (Action.RESTARTED, "b", ("b",))
    assert kids["b"].stop_reasons == ["shutdown: one_for_one restart after b exited abnormally (boom)"]


async def test_one_for_all_stops_all_in_reverse_then_starts_all_in_order() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ALL, "a", "b", "c", "d")
    decision = await sup.child_exited("b", "boom")
    assert journal == stops("d", "c", "b", "a") + starts("a", "b", "c", "d")
    assert decision.restarted == ("a", "b", "c", "d")
    reason = "shutdown: one_for_all restart after b exited abnormally (boom)"
    assert kids["a"].stop_reasons == kids["b"].stop_reasons == [reason]


async def test_rest_for_one_restarts_the_failed_child_and_later_ones() -> None:
    sup, _, journal = await make(Strategy.REST_FOR_ONE, "a", "b", "c", "d")
    decision = await sup.child_exited("b", "boom")
    assert journal == stops("d", "c", "b") + starts("b", "c", "d")
    assert decision.restarted == ("b", "c", "d")
    journal.clear()
    await sup.child_exited("d", "boom")
    assert journal == stops("d") + starts("d")


async def test_rest_for_one_uses_insertion_order_after_removal_and_addition() -> None:
    sup, kids, journal = await make(Strategy.REST_FOR_ONE, "a", "b", "c")
    await sup.remove_child("b")
    await sup.add_child(ChildSpec("b"), kids["b"])
    assert sup.children() == ("a", "c", "b")
    journal.clear()
    await sup.child_exited("c", "boom")
    assert journal == stops("b", "c") + starts("c", "b")


# -- restart types ------------------------------------------------------------

@pytest.mark.parametrize("abnormal", [True, False])
async def test_permanent_always_restarts(abnormal: bool) -> None:
    sup, _, journal = await make(Strategy.ONE_FOR_ONE, "a")
    decision = await sup.child_exited("a", "done", abnormal=abnormal)
    assert decision.action is Action.RESTARTED
    assert journal == stops("a") + starts("a")


async def test_transient_restarts_only_after_abnormal_exit() -> None:
    sup, _, journal = await make(Strategy.ONE_FOR_ONE, "a", "t", restart={"t": Restart.TRANSIENT})
    assert (await sup.child_exited("t", "crash")).action is Action.RESTARTED
    assert journal == stops("t") + starts("t")
    journal.clear()
    decision = await sup.child_exited("t", "finished", abnormal=False)
    assert decision.action is Action.IGNORED and decision.restarted == ()
    assert journal == stops("t")
    assert sup.children() == ("a", "t")  # spec kept, child stays stopped
    journal.clear()
    # A second report for a child that is no longer running is stale.
    assert (await sup.child_exited("t", "again")).action is Action.IGNORED
    assert journal == []


async def test_transient_stopped_child_comes_back_with_a_one_for_all_restart() -> None:
    sup, _, journal = await make(Strategy.ONE_FOR_ALL, "a", "t", "b", restart={"t": Restart.TRANSIENT})
    await sup.child_exited("t", "finished", abnormal=False)
    journal.clear()
    await sup.child_exited("b", "boom")
    assert journal == stops("b", "a") + starts("a", "t", "b")  # OTP starts every kept spec


@pytest.mark.parametrize("abnormal", [True, False])
async def test_temporary_is_never_restarted_and_dropped(abnormal: bool) -> None:
    sup, _, journal = await make(Strategy.ONE_FOR_ONE, "a", "tmp", restart={"tmp": Restart.TEMPORARY})
    decision = await sup.child_exited("tmp", "crash", abnormal=abnormal)
    assert decision.action is Action.IGNORED
    assert journal == stops("tmp")
    assert sup.children() == ("a",)


async def test_temporary_sibling_is_stopped_and_dropped_by_a_group_restart() -> None:
    sup, _, journal = await make(Strategy.ONE_FOR_ALL, "a", "tmp", "b", restart={"tmp": Restart.TEMPORARY})
    decision = await sup.child_exited("a", "boom")
    assert journal == stops("b", "tmp", "a") + starts("a", "b")
    assert decision.restarted == ("a", "b")
    assert sup.children() == ("a", "b")


async def test_temporary_exit_does_not_count_against_intensity() -> None:
    sup, kids, _ = await make(Strategy.ONE_FOR_ONE, "a", intensity=0)
    for i in range(3):
        await sup.add_child(ChildSpec(f"t{i}", restart=Restart.TEMPORARY), FakeChild(f"t{i}", []))
        assert (await sup.child_exited(f"t{i}", "crash")).action is Action.IGNORED
    assert sup.running and sup.children() == ("a",)


# -- lifecycle ----------------------------------------------------------------

async def test_add_child_validates_and_start_false_defers_start() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ONE, "a")
    with pytest.raises(ValueError, match="already has a child 'a'"):
        await sup.add_child(ChildSpec("a"), kids["a"])
    with pytest.raises(ValueError):
        await sup.add_child(ChildSpec(""), kids["a"])
    await sup.add_child(ChildSpec("late"), FakeChild("late", journal), start=False)
    assert journal == [] and sup.children() == ("a", "late")
    await sup.start()  # starts what is not running yet
    assert journal == starts("late")


async def test_add_child_whose_start_fails_is_not_added() -> None:
    sup, _, journal = await make(Strategy.ONE_FOR_ONE, "a")
    with pytest.raises(RuntimeError, match="bad cannot start"):
        await sup.add_child(ChildSpec("bad"), FakeChild("bad", journal, fail_starts=1))
    assert sup.children() == ("a",) and not sup.has_child("bad")


async def test_remove_child_stops_it_and_records_why() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ALL, "a", "b")
    decision = await sup.remove_child("a", "vm expunged")
    assert journal == stops("a") and kids["a"].stop_reasons == ["vm expunged"]
    assert (decision.action, decision.child, decision.reason) == (Action.REMOVED, "a", "vm expunged")
    assert sup.children() == ("b",)
    with pytest.raises(KeyError):
        await sup.remove_child("a")
    journal.clear()
    assert (await sup.child_exited("a", "late crash")).action is Action.IGNORED
    assert journal == []


async def test_stop_and_start_order() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ONE, "a", "b", "c")
    await sup.stop("shutdown")
    assert journal == stops("c", "b", "a") and not sup.running
    assert kids["c"].stop_reasons == ["shutdown"]
    assert (await sup.child_exited("a", "late")).action is Action.IGNORED
    journal.clear()
    await sup.start()
    assert journal == starts("a", "b", "c") and sup.running


async def test_failed_start_stops_what_started_and_raises() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ONE, "a", "b", "c")
    await sup.stop("maintenance")
    kids["b"].fail_starts = 1
    journal.clear()
    with pytest.raises(RuntimeError, match="b cannot start"):
        await sup.start()
    assert journal == starts("a", "b") + stops("a")
    assert not sup.running


async def test_failing_stop_is_noted_and_restart_goes_on() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ALL, "a", "b")
    kids["a"].fail_stop = True
    decision = await sup.child_exited("b", "boom")
    assert journal == stops("b", "a") + starts("a", "b")
    assert "stop of a failed (RuntimeError('a cannot stop'))" in decision.reason


async def test_hanging_stop_is_abandoned_after_shutdown_s() -> None:
    journal: Journal = []
    sup = Supervisor("sup", SupFlags(), clock=FakeClock())
    hang = FakeChild("hang", journal)
    hang.stop_gate = asyncio.Event()  # never set
    await sup.add_child(ChildSpec("hang", shutdown_s=0), hang)
    decision = await sup.child_exited("hang", "boom")
    assert journal == starts("hang") + stops("hang") + starts("hang")
    assert "hang did not stop within 0s and was abandoned" in decision.reason


# -- decisions and concurrency --------------------------------------------------

async def test_history_explains_and_is_bounded() -> None:
    clock = FakeClock(50.0)
    sup = Supervisor("zone:1", SupFlags(intensity=10), clock=clock, history_len=2)
    await sup.add_child(ChildSpec("a"), FakeChild("a", []))
    await sup.add_child(ChildSpec("t", restart=Restart.TEMPORARY), FakeChild("t", []))
    await sup.child_exited("a", "oom")
    clock.advance(1)
    await sup.child_exited("a", "oom again")
    clock.advance(1)
    await sup.child_exited("t", "crash")
    assert [(d.child, d.action, d.at) for d in sup.history] == [
        ("a", Action.RESTARTED, 51.0), ("t", Action.IGNORED, 52.0)]
    first = sup.history[0]
    assert first.supervisor == "zone:1" and first.restarted == ("a",)
    assert first.reason == "a exited abnormally (oom again); one_for_one restarted ['a'] " \
                           "(2 restart(s) within 5.0s, intensity 10)"
    assert str(sup.history[1]).startswith("zone:1: t ignored: temporary child exited abnormally (crash)")


async def test_concurrent_exits_are_handled_one_after_another() -> None:
    sup, kids, journal = await make(Strategy.ONE_FOR_ONE, "a", "b")
    gate = kids["a"].stop_gate = asyncio.Event()
    first = asyncio.create_task(sup.child_exited("a", "boom"))
    await kids["a"].stop_entered.wait()  # first handler is now inside a's stop()
    second = asyncio.create_task(sup.child_exited("b", "boom"))
    for _ in range(10):  # give the second handler every chance to interleave
        await asyncio.sleep(0)
    assert journal == stops("a")
    gate.set()
    d1, d2 = await asyncio.gather(first, second)
    assert journal == stops("a") + starts("a") + stops("b") + starts("b")
    assert [d.child for d in sup.history] == ["a", "b"] and d1.child == "a" and d2.child == "b"
