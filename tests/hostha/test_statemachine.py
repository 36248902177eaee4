"""The host-HA state machine as data, and the evaluator's pure decision step."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cloudplane.errors import IllegalTransition
from cloudplane.supervisors.hostha import (
    EDGES,
    PROBES,
    PROVIDERS,
    Action,
    Counters,
    Facts,
    HaEvent,
    HaState,
    Probe,
    Step,
    decide,
    providers_for,
    transition,
)

S, E = HaState, HaEvent
SIM = PROVIDERS["simulatorhaprovider"]


def test_transition_follows_the_table_and_refuses_the_rest() -> None:
    assert transition(S.DISABLED, E.ENABLED) is S.AVAILABLE
    assert transition("Available", "HealthCheckFailed") is S.SUSPECT
    assert transition(S.FENCING, E.FENCED) is S.FENCED
    assert transition(S.FENCED, E.HEALTH_CHECK_PASSED) is S.INELIGIBLE
    for src, event in ((S.AVAILABLE, E.FENCED), (S.DISABLED, E.HEALTH_CHECK_FAILED),
                       (S.FENCED, E.INELIGIBLE), (S.SUSPECT, E.RECOVERED)):
        with pytest.raises(IllegalTransition):
            transition(src, event)


def test_the_table_is_complete() -> None:
    assert set(EDGES) == set(HaState) == set(PROBES)
    for src, edges in EDGES.items():
        assert all(dst in HaState for dst in edges.values())
        if src is not S.DISABLED:
            assert edges[E.DISABLED] is S.DISABLED  # HA can always be switched off
    assert {e for edges in EDGES.values() for e in edges} == set(HaEvent)


def test_providers_by_hypervisor() -> None:
    assert [p.display for p in providers_for("Simulator")] == ["SimulatorHAProvider"]
    assert [p.display for p in providers_for("kvm")] == ["KVMHAProvider"]
    assert providers_for("VMware") == []


class Walk:
    """Drives `decide` as the entity does, answering each state's probe from a script."""

    def __init__(self, state: HaState = S.DISABLED) -> None:
        self.state, self.counters, self.now = state, Counters(), 1000.0
        self.log: list[Step] = []

    def step(self, result: bool | None = None, *, enabled: bool = True, eligible: bool = True,
             dt: float = 1.0) -> Step:
        self.now += dt
        s = decide(self.state, self.counters, Facts(enabled, eligible, result), SIM, self.now)
        self.state, self.counters = s.state, s.counters
        self.log.append(s)
        return s

    def until(self, state: HaState, answer: dict[Probe, bool], limit: int = 50) -> list[Step]:
        start = len(self.log)
        for _ in range(limit):
            if self.state is state:
                return self.log[start:]
            self.step(answer.get(PROBES[self.state]))
        raise AssertionError(f"never reached {state}: {[(s.event, s.state) for s in self.log[start:]]}")


def test_enable_and_stay_healthy() -> None:
    w = Walk()
    s = w.step()
    assert (s.event, s.state) == (E.ENABLED, S.AVAILABLE)
    for _ in range(5):
        assert not w.step(True).changed
    assert (w.step(enabled=False).event, w.state) == (E.DISABLED, S.DISABLED)
    assert not w.step(enabled=False).changed


def test_health_failing_with_activity_is_degraded_then_rechecked() -> None:
    w = Walk(S.AVAILABLE)
    fails = {Probe.HEALTH: False, Probe.ACTIVITY: True}
    steps = w.until(S.DEGRADED, fails)
    events = [s.event for s in steps]
    assert events[:2] == [E.HEALTH_CHECK_FAILED, E.PERFORM_ACTIVITY_CHECK]
    assert events.count(E.TOO_FEW_ACTIVITY_CHECK_SAMPLES) == SIM.max_activity_checks - 1
    last = steps[-1]
    assert last.event is E.ACTIVITY_CHECK_FAILURE_UNDER_THRESHOLD_RATIO
    assert last.seen is not None and last.seen.activity_checks == SIM.max_activity_checks
    assert last.counters.activity_checks == 0  # a new round of samples next time
    s = w.step(False, dt=SIM.max_degraded_s)
    assert (s.event, s.state) == (E.PERIODIC_RECHECK_RESOURCE_ACTIVITY, S.SUSPECT)
    assert (w.step(True).event, w.state) == (E.HEALTH_CHECK_PASSED, S.AVAILABLE)


def test_dead_host_is_recovered_and_then_fenced() -> None:
    w = Walk(S.AVAILABLE)
    dead = {Probe.HEALTH: False, Probe.ACTIVITY: False, Probe.RECOVER: False, Probe.FENCE: False}
    w.until(S.RECOVERING, dead)
    assert w.log[-1].event is E.ACTIVITY_CHECK_FAILURE_OVER_THRESHOLD_RATIO
    w.until(S.FENCING, dead)
    to_fencing = w.log[-1]
    assert to_fencing.event is E.RECOVERY_OPERATION_THRESHOLD_EXCEEDED
    assert to_fencing.seen is not None and to_fencing.seen.recovery_attempts == SIM.max_recovery_attempts
    assert to_fencing.seen.activity_checks == 0
    for attempt in (1, 2):
        s = w.step(False)
        assert not s.changed and s.counters.fence_attempts == attempt  # fencing is retried
    s = w.step(True)
    assert (s.event, s.state, s.action) == (E.FENCED, S.FENCED, Action.FENCE_SUBRESOURCES)
    assert s.seen is not None and (s.seen.activity_checks, s.seen.recovery_attempts) == (0, 0)
    assert not w.step(False).changed  # stays fenced while unhealthy, whatever the eligibility
    assert not w.step(False, eligible=False).changed
    assert (w.step(True).event, w.state) == (E.HEALTH_CHECK_PASSED, S.INELIGIBLE)
    assert not w.step(eligible=False).changed
    assert (w.step().event, w.state) == (E.ELIGIBLE, S.AVAILABLE)


def test_recovery_that_works_comes_back_then_attempts_add_up() -> None:
    w = Walk(S.AVAILABLE)
    flaky = {Probe.HEALTH: False, Probe.ACTIVITY: False, Probe.RECOVER: True}
    w.until(S.RECOVERED, flaky)
    assert w.counters.recovery_attempts == 1
    assert not w.step().changed  # waits recovery_wait_s
    s = w.step(dt=SIM.recovery_wait_s)
    assert (s.event, s.state) == (E.RECOVERY_WAIT_PERIOD_TIMEOUT, S.AVAILABLE)
    # Failing again and again: recoveries count up until the host is fenced.
    w.until(S.FENCING, flaky, limit=200)
    assert w.log[-1].seen is not None and w.log[-1].seen.recovery_attempts == SIM.max_recovery_attempts


def test_recovery_attempts_are_forgotten_after_a_long_healthy_spell() -> None:
    w = Walk(S.AVAILABLE)
    w.counters = replace(w.counters, recovery_attempts=1, since=w.now)
    assert w.step(True).counters.recovery_attempts == 1
    assert w.step(True, dt=SIM.counter_reset_s).counters.recovery_attempts == 0


def test_suspect_that_recovers_by_itself() -> None:
    w = Walk(S.AVAILABLE)
    w.step(False)
    assert w.state is S.SUSPECT
    assert (w.step(True).event, w.state) == (E.HEALTH_CHECK_PASSED, S.AVAILABLE)


@pytest.mark.parametrize("state", [s for s in HaState if s not in (S.DISABLED, S.INELIGIBLE, S.FENCED)])
def test_an_ineligible_host_leaves_any_active_state(state: HaState) -> None:
    s = decide(state, Counters(), Facts(True, False, None, "in Maintenance"), SIM, 0.0)
    assert (s.event, s.state) == (E.INELIGIBLE, S.INELIGIBLE) and "Maintenance" in s.reason


@pytest.mark.parametrize("state", [s for s in HaState if s is not S.DISABLED])
def test_disabling_wins_everywhere(state: HaState) -> None:
    s = decide(state, Counters(activity_checks=2, recovery_attempts=1), Facts(False, True, True), SIM, 5.0)
    assert (s.event, s.state) == (E.DISABLED, S.DISABLED)
    assert s.counters == Counters(since=5.0)
