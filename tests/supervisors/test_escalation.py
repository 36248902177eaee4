from __future__ import annotations

import pytest

from cloudplane.supervisors import (
    Action, ChildSpec, Escalated, Restart, Strategy, SupFlags, Supervisor,
)
from cloudplane.supervisors.supervisor import ESCALATION_REASON

from .fakes import FakeChild, FakeClock, Journal, starts, stops


async def test_intensity_window_with_the_clock() -> None:
    clock = FakeClock()
    journal: Journal = []
    sup = Supervisor("sup", SupFlags(intensity=2, period_s=10.0), clock=clock)
    await sup.add_child(ChildSpec("a"), FakeChild("a", journal))
    await sup.child_exited("a", "1")
    clock.advance(6)
    await sup.child_exited("a", "2")
    clock.advance(5)  # the first restart is now 11s old and drops out
    assert (await sup.child_exited("a", "3")).action is Action.RESTARTED
    with pytest.raises(Escalated, match="supervisor sup escalated: a exited abnormally \\(4\\)"):
        await sup.child_exited("a", "4")
    assert [d.action for d in sup.history] == [Action.RESTARTED] * 3 + [Action.ESCALATED]


async def test_escalation_without_handler_raises_after_stopping_children() -> None:
    journal: Journal = []
    sup = Supervisor("root", SupFlags(intensity=0), clock=FakeClock())
    for i in ("a", "b", "c"):
        await sup.add_child(ChildSpec(i), FakeChild(i, journal))
    journal.clear()
    with pytest.raises(Escalated) as err:
        await sup.child_exited("b", "boom")
    assert err.value.supervisor == "root"
    assert journal == stops("c", "b", "a")
    assert not sup.running
    last = sup.history[-1]
    assert (last.action, last.child, last.restarted) == (Action.ESCALATED, "b", ())
    assert "1 restart(s) within 5.0s, intensity 0 exceeded; stopped all children" in last.reason


async def test_escalation_at_root_calls_on_escalate() -> None:
    calls: list[tuple[Supervisor, str]] = []

    async def on_escalate(sup: Supervisor, reason: str) -> None:
        calls.append((sup, reason))

    journal: Journal = []
    root = Supervisor("root", SupFlags(intensity=0), clock=FakeClock(), on_escalate=on_escalate)
    await root.add_child(ChildSpec("a"), FakeChild("a", journal))
    decision = await root.child_exited("a", "boom")
    assert decision.action is Action.ESCALATED
    assert len(calls) == 1 and calls[0][0] is root and calls[0][1] == decision.reason
    assert journal == starts("a") + stops("a")


async def test_escalation_goes_to_parent_which_restarts_the_subtree() -> None:
    journal: Journal = []
    clock = FakeClock()
    parent = Supervisor("parent", SupFlags(Strategy.ONE_FOR_ALL, intensity=5), clock=clock)
    sub = Supervisor("sub", SupFlags(intensity=1), clock=clock)
    await parent.add_child(ChildSpec("a"), FakeChild("a", journal))
    await parent.add_child(ChildSpec("sub", is_supervisor=True), sub)
    await sub.add_child(ChildSpec("x"), FakeChild("x", journal))
    await sub.add_child(ChildSpec("y"), FakeChild("y", journal))
    await parent.add_child(ChildSpec("b"), FakeChild("b", journal))
    assert sub.parent is parent
    assert journal == starts("a", "x", "y", "b")
    journal.clear()

    await sub.child_exited("x", "boom")  # within intensity 1
    assert journal == stops("x") + starts("x")
    journal.clear()
    decision = await sub.child_exited("x", "boom")  # second one escalates
    assert decision.action is Action.ESCALATED
    assert journal == (stops("y", "x")  # sub gives up
                       + stops("b", "a")  # parent's one_for_all; sub's children are already down
                       + starts("a", "x", "y", "b"))
    restart = parent.history[-1]
    assert (restart.child, restart.action, restart.restarted) == ("sub", Action.RESTARTED, ("a", "sub", "b"))
    assert restart.reason.startswith(f"sub exited abnormally ({ESCALATION_REASON})")
    # The restarted sub has a fresh window: one more failure is a plain restart.
    journal.clear()
    assert (await sub.child_exited("x", "boom")).action is Action.RESTARTED
    assert journal == stops("x") + starts("x")


async def test_escalation_propagates_to_the_top() -> None:
    clock = FakeClock()
    top = Supervisor("top", SupFlags(intensity=0), clock=clock)
    mid = Supervisor("mid", SupFlags(intensity=0), clock=clock)
    journal: Journal = []
    await top.add_child(ChildSpec("mid", is_supervisor=True), mid)
    await mid.add_child(ChildSpec("leaf"), FakeChild("leaf", journal))
    with pytest.raises(Escalated, match="supervisor top escalated: mid exited abnormally"):
        await mid.child_exited("leaf", "boom")
    assert not top.running and not mid.running
    assert journal == starts("leaf") + stops("leaf")


async def test_child_whose_start_keeps_failing_escalates_instead_of_looping() -> None:
    journal: Journal = []
    sup = Supervisor("sup", SupFlags(intensity=3), clock=FakeClock())
    await sup.add_child(ChildSpec("ok"), FakeChild("ok", journal))
    bad = FakeChild("bad", journal)
    await sup.add_child(ChildSpec("bad"), bad)
    bad.fail_starts = 10**9
    journal.clear()
    with pytest.raises(Escalated):
        await sup.child_exited("bad", "boom")
    # One stop, three start attempts (the intensity), then the supervisor gives up.
    assert journal == stops("bad") + starts("bad", "bad", "bad") + stops("ok")
    assert [(d.child, d.action) for d in sup.history] == [("bad", Action.RESTARTED)] * 3 + [
        ("bad", Action.ESCALATED)]
    assert "start of bad failed (RuntimeError('bad cannot start'))" in sup.history[0].reason
    assert sup.history[-1].reason.startswith("bad failed to start (RuntimeError('bad cannot start'))")


async def test_start_failure_of_another_child_becomes_the_failing_child() -> None:
    sup = Supervisor("sup", SupFlags(Strategy.ONE_FOR_ALL), clock=FakeClock())
    journal: Journal = []
    kids = {i: FakeChild(i, journal) for i in ("a", "b", "c")}
    for i, kid in kids.items():
        await sup.add_child(ChildSpec(i), kid)
    kids["b"].fail_starts = 1
    journal.clear()
    decision = await sup.child_exited("a", "boom")
    assert journal == (stops("c", "b", "a") + starts("a", "b")  # b fails to start
                       + stops("a") + starts("a", "b", "c"))  # retried as a failure of b
    assert (decision.child, decision.restarted) == ("b", ("a", "b", "c"))
    assert [d.child for d in sup.history] == ["a", "b"]
    assert sup.history[0].restarted == ("a",)


async def test_transient_start_failure_is_retried() -> None:
    journal: Journal = []
    sup = Supervisor("sup", SupFlags(Strategy.REST_FOR_ONE), clock=FakeClock())
    kids = {i: FakeChild(i, journal) for i in ("a", "t", "c")}
    for i, kid in kids.items():
        await sup.add_child(ChildSpec(i, restart=Restart.TRANSIENT if i == "t" else Restart.PERMANENT), kid)
    kids["t"].fail_starts = 2
    journal.clear()
    decision = await sup.child_exited("t", "boom")
    assert journal == stops("c", "t") + starts("t", "t", "t", "c")
    assert decision.restarted == ("t", "c")


async def test_nesting_rules() -> None:
    parent = Supervisor("p", SupFlags())
    sub = Supervisor("s", SupFlags())
    with pytest.raises(ValueError, match="is_supervisor=True"):
        await parent.add_child(ChildSpec("s"), sub)
    with pytest.raises(ValueError, match="is_supervisor=True"):
        await parent.add_child(ChildSpec("other", is_supervisor=True), sub)
    await parent.add_child(ChildSpec("s", is_supervisor=True), sub)
    with pytest.raises(ValueError, match="already has a parent"):
        await Supervisor("q", SupFlags()).add_child(ChildSpec("s", is_supervisor=True), sub)
    await parent.remove_child("s")
    assert sub.parent is None
