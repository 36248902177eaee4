"""The investigators over a fake `ask`: what each witness says, and the verdict
CloudStack's simulator recipe needs every one of them to reach."""

from __future__ import annotations

from typing import Any

from cloudplane.agentproto import Cmd
from cloudplane.errors import ApiError
from cloudplane.supervisors.ha import Verdict, Vote, verdict
from cloudplane.supervisors.investigators import (
    DEFAULT_INVESTIGATORS,
    NEIGHBOURS,
    NeighbourInvestigator,
    Peer,
    PingInvestigator,
    SelfInvestigator,
    Suspect,
)

SUSPECT = Suspect(Peer("h0", "c"), "203.0.113.5", ("i-2-7-VM",),
                  tuple(Peer(f"h{i}", "c") for i in range(1, 9)), tuple(Peer(f"h{i}", "c") for i in range(1, 9)))


class Unreachable(ApiError):
    code = 530


def fake(answers: dict[tuple[str, str], dict[str, Any] | None]) -> tuple[Any, list[tuple[str, str]]]:
    """An `ask` answering from a table ((host, command) -> answer; None: unreachable)."""
    asked: list[tuple[str, str]] = []

    async def ask(peer: Peer, name: str, args: dict[str, Any]) -> dict[str, Any]:
        asked.append((peer.uuid, name))
        ans = answers.get((peer.uuid, name), answers.get(("*", name)))
        if ans is None:
            raise Unreachable(f"{peer.uuid} unreachable")
        return ans

    return ask, asked


FAIL = {"ok": False, "result": None, "error": "mock"}


async def test_the_suspect_answering_health_or_its_vm_is_alive() -> None:
    ask, _ = fake({("h0", Cmd.CHECK_HEALTH): {"ok": True, "result": {"healthy": True}}})
    assert (await SelfInvestigator().investigate(SUSPECT, ask)).vote is Vote.ALIVE
    ask, asked = fake({("h0", Cmd.CHECK_HEALTH): FAIL,
                       ("h0", Cmd.CHECK_VM): {"ok": True, "result": {"state": "PowerOn"}}})
    assert (await SelfInvestigator().investigate(SUSPECT, ask)).vote is Vote.ALIVE
    assert asked == [("h0", Cmd.CHECK_HEALTH), ("h0", Cmd.CHECK_VM)]
    ask, _ = fake({("h0", Cmd.CHECK_HEALTH): FAIL, ("h0", Cmd.CHECK_VM): FAIL})
    assert (await SelfInvestigator().investigate(SUSPECT, ask)).vote is Vote.UNKNOWN
    ask, _ = fake({})  # no link left at all
    assert (await SelfInvestigator().investigate(SUSPECT, ask)).vote is Vote.UNKNOWN


async def test_a_pod_host_that_can_ping_it_says_alive_and_few_are_asked() -> None:
    ask, asked = fake({("*", Cmd.PING_TEST): {"ok": True, "result": {"reachable": False}},
                       ("h2", Cmd.PING_TEST): {"ok": True, "result": {"reachable": True}}})
    assert (await PingInvestigator().investigate(SUSPECT, ask)).vote is Vote.ALIVE
    assert len(asked) == 3
    ask, _ = fake({("*", Cmd.PING_TEST): FAIL})
    assert (await PingInvestigator().investigate(SUSPECT, ask)).vote is Vote.UNKNOWN


async def test_neighbours_failing_check_on_host_say_dead_any_alive_wins() -> None:
    ask, asked = fake({("*", Cmd.CHECK_ON_HOST): FAIL})
    assert (await NeighbourInvestigator().investigate(SUSPECT, ask)).vote is Vote.DEAD
    assert len(asked) == NEIGHBOURS < len(SUSPECT.neighbours)
    ask, _ = fake({("*", Cmd.CHECK_ON_HOST): FAIL, ("h3", Cmd.CHECK_ON_HOST): {"ok": True, "result": {"alive": True}}})
    assert (await NeighbourInvestigator().investigate(SUSPECT, ask)).vote is Vote.ALIVE
    ask, _ = fake({("*", Cmd.CHECK_ON_HOST): {"ok": True, "result": {"alive": None}}})
    assert (await NeighbourInvestigator().investigate(SUSPECT, ask)).vote is Vote.UNKNOWN


async def test_only_the_whole_recipe_confirms_the_host_dead() -> None:
    recipe = {("h0", Cmd.CHECK_HEALTH): FAIL, ("h0", Cmd.CHECK_VM): FAIL, ("*", Cmd.PING_TEST): FAIL,
              ("*", Cmd.CHECK_ON_HOST): FAIL}
    ask, _ = fake(recipe)
    assert verdict([await i.investigate(SUSPECT, ask) for i in DEFAULT_INVESTIGATORS]) is Verdict.DOWN
    # Leave out any one failure and some witness still sees the host alive (or nobody can tell).
    alive = {Cmd.CHECK_HEALTH: {"ok": True, "result": {"healthy": True}},
             Cmd.CHECK_VM: {"ok": True, "result": {"state": "PowerOn"}},
             Cmd.PING_TEST: {"ok": True, "result": {"reachable": True}},
             Cmd.CHECK_ON_HOST: {"ok": True, "result": {"alive": True}}}
    for (host, name) in recipe:
        ask, _ = fake({**recipe, (host, name): alive[name]})
        got = verdict([await i.investigate(SUSPECT, ask) for i in DEFAULT_INVESTIGATORS])
        assert got is Verdict.ALERT, name
