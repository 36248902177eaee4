"""The shard's ping bookkeeping: liveness order, ping turns, interval changes."""

from __future__ import annotations

from cloudplane.actors.kinds.hostping import Liveness, PingTurns


def test_overdue_stops_at_the_first_live_host() -> None:
    book = Liveness()
    book.beat("a", 0.0)
    book.beat("b", 1.0)
    book.beat("c", 2.0)
    book.beat("a", 5.0)  # a pinged again: it moves behind c
    assert book.overdue(now=6.5, limit=5.0) == ["b"]  # b silent 5.5 s, c 4.5 s, a 1.5 s
    assert book.overdue(now=6.5, limit=4.0) == ["b", "c"]
    assert book.overdue(now=6.0, limit=10.0) == []


def test_forgotten_hosts_are_never_overdue() -> None:
    book = Liveness()
    book.beat("a", 0.0)
    book.beat("b", 0.0)
    book.forget("a")
    assert book.overdue(now=100.0, limit=1.0) == ["b"]
    assert len(book) == 1


def test_only_real_pings_are_written_and_each_once() -> None:
    book = Liveness()
    book.beat("a", 0.0)  # an activation or a connect: the connect itself wrote last_pinged
    book.beat("b", 1.0, row_id=2)
    book.beat("b", 2.0, row_id=2)
    book.beat("c", 2.0, row_id=3)
    assert book.take_unwritten() == [2, 3]
    assert book.take_unwritten() == []


def test_restart_gives_every_host_a_fresh_window() -> None:
    book = Liveness()
    book.beat("a", 0.0)
    book.beat("b", 1.0)
    book.restart(50.0)
    assert book.overdue(now=52.0, limit=5.0) == []
    assert book.overdue(now=56.0, limit=5.0) == ["a", "b"]


def test_turns_come_due_in_time_order() -> None:
    turns = PingTurns()
    turns.schedule("late", "agent-late", 9.0, 10.0)
    turns.schedule("early", "agent-early", 1.0, 10.0)
    turns.schedule("mid", "agent-mid", 5.0, 10.0)
    assert turns.due(0.5) == []
    assert turns.due(5.0) == [("early", "agent-early"), ("mid", "agent-mid")]
    assert len(turns) == 1
    assert turns.due(100.0) == [("late", "agent-late")]


def test_shorter_interval_pulls_far_turns_in_and_leaves_near_ones() -> None:
    turns = PingTurns()
    turns.schedule("far", "a1", 60.0, 60.0)
    turns.schedule("near", "a2", 3.0, 60.0)
    assert turns.interval == 60.0
    turns.shorten(now=0.0, interval=10.0, spread=lambda: 0.5)
    assert turns.interval == 10.0
    assert turns.due(3.0) == [("near", "a2")]
    assert turns.due(5.0) == [("far", "a1")]  # now + 10 x 0.5, not 60
