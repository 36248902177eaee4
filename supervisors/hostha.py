"""Host HA (CloudStack's HA framework, apart from VM HA): the per-host state
machine as data, the providers' tunables as data, and one pure decision step.

    Disabled ──Enabled──► Available ──HealthCheckFailed──► Suspect ──PerformActivityCheck──► Checking
                              ▲  ▲                           │  ▲                             │
              HealthCheckPassed  └──────HealthCheckPassed────┘  └──TooFewActivityCheckSamples─┤
                              │                                                               │
    Degraded ◄──ActivityCheckFailureUnderThresholdRatio───────────────────────────────────────┤
      └─PeriodicRecheckResourceActivity─► Suspect                                             │
    Recovering ◄──ActivityCheckFailureOverThresholdRatio──────────────────────────────────────┘
      ├─Recovered─► Recovered ─RecoveryWaitPeriodTimeout─► Available
      └─RecoveryOperationThresholdExceeded─► Fencing ─Fenced─► Fenced ─HealthCheckPassed─► Ineligible
    Ineligible ─Eligible─► Available;  any state but Fenced ─Ineligible─► Ineligible;  any ─Disabled─► Disabled

`transition()` refuses every edge not in `EDGES`. `decide()` is one step of
the evaluator: from the state, its counters, what the provider answered
(`Facts`) and the clock, the event to fire (or none) and the new counters.
It never touches a host: the entity (actors/kinds/hostha.py) asks the
provider, calls `decide`, records the transition and carries out the action
(`Action.FENCE_SUBRESOURCES` once a host is fenced). `probe_for()` says which
provider question a state needs answered, so the entity asks only that one:
health, activity, recover (an action) or fence (an action).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from cloudplane.errors import IllegalTransition


class HaState(StrEnum):
    DISABLED = "Disabled"
    AVAILABLE = "Available"
    INELIGIBLE = "Ineligible"
    SUSPECT = "Suspect"
    CHECKING = "Checking"
    DEGRADED = "Degraded"
    RECOVERING = "Recovering"
    RECOVERED = "Recovered"
    FENCING = "Fencing"
    FENCED = "Fenced"


class HaEvent(StrEnum):
    ELIGIBLE = "Eligible"
    INELIGIBLE = "Ineligible"
    DISABLED = "Disabled"
    ENABLED = "Enabled"
    HEALTH_CHECK_PASSED = "HealthCheckPassed"
    HEALTH_CHECK_FAILED = "HealthCheckFailed"
    PERFORM_ACTIVITY_CHECK = "PerformActivityCheck"
    TOO_FEW_ACTIVITY_CHECK_SAMPLES = "TooFewActivityCheckSamples"
    PERIODIC_RECHECK_RESOURCE_ACTIVITY = "PeriodicRecheckResourceActivity"
    ACTIVITY_CHECK_FAILURE_OVER_THRESHOLD_RATIO = "ActivityCheckFailureOverThresholdRatio"
    ACTIVITY_CHECK_FAILURE_UNDER_THRESHOLD_RATIO = "ActivityCheckFailureUnderThresholdRatio"
    RECOVERED = "Recovered"
    RETRY_RECOVERY = "RetryRecovery"
    RECOVERY_WAIT_PERIOD_TIMEOUT = "RecoveryWaitPeriodTimeout"
    RECOVERY_OPERATION_THRESHOLD_EXCEEDED = "RecoveryOperationThresholdExceeded"
    RETRY_FENCING = "RetryFencing"
    FENCED = "Fenced"


S, E = HaState, HaEvent
_LEAVE = {E.DISABLED: S.DISABLED, E.INELIGIBLE: S.INELIGIBLE}  # every state but Disabled and Fenced has these

EDGES: dict[HaState, dict[HaEvent, HaState]] = {
    S.DISABLED: {E.ENABLED: S.AVAILABLE},
    S.INELIGIBLE: {E.DISABLED: S.DISABLED, E.INELIGIBLE: S.INELIGIBLE, E.ELIGIBLE: S.AVAILABLE},
    S.AVAILABLE: {**_LEAVE, E.HEALTH_CHECK_PASSED: S.AVAILABLE, E.HEALTH_CHECK_FAILED: S.SUSPECT},
    S.SUSPECT: {**_LEAVE, E.HEALTH_CHECK_FAILED: S.SUSPECT, E.PERFORM_ACTIVITY_CHECK: S.CHECKING,
                E.HEALTH_CHECK_PASSED: S.AVAILABLE},
    S.CHECKING: {**_LEAVE, E.TOO_FEW_ACTIVITY_CHECK_SAMPLES: S.SUSPECT,
                 E.ACTIVITY_CHECK_FAILURE_UNDER_THRESHOLD_RATIO: S.DEGRADED,
                 E.ACTIVITY_CHECK_FAILURE_OVER_THRESHOLD_RATIO: S.RECOVERING},
    S.DEGRADED: {**_LEAVE, E.HEALTH_CHECK_FAILED: S.DEGRADED, E.HEALTH_CHECK_PASSED: S.AVAILABLE,
                 E.PERIODIC_RECHECK_RESOURCE_ACTIVITY: S.SUSPECT},
    S.RECOVERING: {**_LEAVE, E.RETRY_RECOVERY: S.RECOVERING, E.RECOVERED: S.RECOVERED,
                   E.RECOVERY_OPERATION_THRESHOLD_EXCEEDED: S.FENCING},
    S.RECOVERED: {**_LEAVE, E.RECOVERY_WAIT_PERIOD_TIMEOUT: S.AVAILABLE},
    S.FENCING: {**_LEAVE, E.RETRY_FENCING: S.FENCING, E.FENCED: S.FENCED},
    S.FENCED: {E.DISABLED: S.DISABLED, E.HEALTH_CHECK_PASSED: S.INELIGIBLE, E.HEALTH_CHECK_FAILED: S.FENCED},
}


def transition(state: HaState | str, event: HaEvent | str) -> HaState:
    """The state `event` leads to from `state`; IllegalTransition if there is no such edge."""
    src, ev = HaState(state), HaEvent(event)
    dst = EDGES[src].get(ev)
    if dst is None:
        raise IllegalTransition(f"host HA event {ev}", src, "any state")
    return dst


class Probe(StrEnum):
    """The one question a state asks the provider each round."""

    NONE = "none"
    HEALTH = "health"
    ACTIVITY = "activity"
    RECOVER = "recover"  # an action: reset the host
    FENCE = "fence"  # an action: power it off


PROBES: dict[HaState, Probe] = {
    S.DISABLED: Probe.NONE, S.INELIGIBLE: Probe.NONE, S.RECOVERED: Probe.NONE,
    S.AVAILABLE: Probe.HEALTH, S.SUSPECT: Probe.HEALTH, S.DEGRADED: Probe.HEALTH, S.FENCED: Probe.HEALTH,
    S.CHECKING: Probe.ACTIVITY, S.RECOVERING: Probe.RECOVER, S.FENCING: Probe.FENCE,
}


class Action(StrEnum):
    FENCE_SUBRESOURCES = "fence_subresources"  # the host is fenced: its VMs are let go and HA-restarted


@dataclass(frozen=True)
class ProviderPolicy:
    """A host-HA provider's tunables (CloudStack's HAProviderConfig)."""

    name: str  # as configureHAForHost takes it, lower case
    display: str  # as listHostHAProviders shows it
    hypervisor: str
    check_interval_s: float  # between two evaluation rounds of one host
    max_activity_checks: int  # samples before deciding Degraded or Recovering
    activity_failure_ratio: float  # failed samples above this ratio: Recovering, else Degraded
    max_recovery_attempts: int  # then Fencing
    recovery_wait_s: float  # Recovered this long: Available again
    max_degraded_s: float  # Degraded this long: Suspect again (re-check activity)
    counter_reset_s: float  # Available this long: recovery attempts are forgotten


PROVIDERS: dict[str, ProviderPolicy] = {
    # Quick, for tests: the flags of configureSimulatorHAProviderState answer every probe.
    "simulatorhaprovider": ProviderPolicy(
        "simulatorhaprovider", "SimulatorHAProvider", "Simulator", check_interval_s=0.5, max_activity_checks=3,
        activity_failure_ratio=0.7, max_recovery_attempts=2, recovery_wait_s=3.0, max_degraded_s=5.0,
        counter_reset_s=60.0),
    # CloudStack's kvm.ha.* defaults.
    "kvmhaprovider": ProviderPolicy(
        "kvmhaprovider", "KVMHAProvider", "KVM", check_interval_s=60.0, max_activity_checks=10,
        activity_failure_ratio=0.7, max_recovery_attempts=1, recovery_wait_s=600.0, max_degraded_s=300.0,
        counter_reset_s=3600.0),
}


def providers_for(hypervisor: str) -> list[ProviderPolicy]:
    return [p for p in PROVIDERS.values() if p.hypervisor.lower() == hypervisor.lower()]


@dataclass(frozen=True)
class Counters:
    activity_checks: int = 0
    activity_failures: int = 0
    recovery_attempts: int = 0
    fence_attempts: int = 0
    since: float = 0.0  # when the current state was entered (epoch seconds)


@dataclass(frozen=True)
class Facts:
    """What the evaluator learnt this round. `result` answers the state's probe
    (None when the state has none or the provider could not tell)."""

    enabled: bool  # the host's switch, its cluster's and its zone's all on
    eligible: bool
    result: bool | None = None
    why: str = ""  # what the provider or the eligibility check said


@dataclass(frozen=True)
class Step:
    event: HaEvent | None  # None: stay, nothing to record
    state: HaState
    counters: Counters
    action: Action | None = None
    reason: str = ""
    # The counters as they stood when the event fired (what a transition record shows).
    seen: Counters | None = None

    @property
    def changed(self) -> bool:
        return self.event is not None


def _fire(state: HaState, event: HaEvent, before: Counters, after: Counters, now: float, reason: str,
          action: Action | None = None) -> Step:
    dst = transition(state, event)
    if dst != state:
        after = replace(after, since=now)
    return Step(event, dst, after, action, reason, before)


def _stay(state: HaState, counters: Counters, reason: str) -> Step:
    return Step(None, state, counters, None, reason)


def decide(state: HaState | str, counters: Counters, facts: Facts, policy: ProviderPolicy, now: float) -> Step:
    """One evaluation round. Level-triggered: the same inputs give the same step."""
    st = HaState(state)
    c = counters
    reset = Counters(recovery_attempts=c.recovery_attempts, fence_attempts=0, since=c.since)
    if not facts.enabled:
        if st is S.DISABLED:
            return _stay(st, c, "HA is disabled for the host, its cluster or its zone")
        return _fire(st, E.DISABLED, c, Counters(since=now), now, "HA was disabled")
    if st is S.DISABLED:
        return _fire(st, E.ENABLED, c, Counters(since=now), now, "HA was enabled")
    if not facts.eligible and st not in (S.INELIGIBLE, S.FENCED):
        return _fire(st, E.INELIGIBLE, c, reset, now, f"not eligible: {facts.why}")
    if st is S.INELIGIBLE:
        if facts.eligible:
            return _fire(st, E.ELIGIBLE, c, reset, now, "eligible again")
        return _stay(st, c, f"not eligible: {facts.why}")
    ok = facts.result
    if st is S.AVAILABLE:
        if ok is False:
            return _fire(st, E.HEALTH_CHECK_FAILED, c, c, now, f"health check failed: {facts.why}")
        if c.recovery_attempts and now - c.since >= policy.counter_reset_s:
            return _stay(st, replace(c, recovery_attempts=0), "healthy long enough: recovery attempts forgotten")
        return _stay(st, c, "healthy")
    if st is S.SUSPECT:
        if ok is True:
            return _fire(st, E.HEALTH_CHECK_PASSED, c, replace(c, activity_checks=0, activity_failures=0), now,
                         "health check passed")
        return _fire(st, E.PERFORM_ACTIVITY_CHECK, c, c, now, f"health check still failing: {facts.why}")
    if st is S.CHECKING:
        checks = c.activity_checks + 1
        failures = c.activity_failures + (0 if ok else 1)
        seen = replace(c, activity_checks=checks, activity_failures=failures)
        sample = "activity seen" if ok else "no activity"
        if checks < policy.max_activity_checks:
            return _fire(st, E.TOO_FEW_ACTIVITY_CHECK_SAMPLES, seen, seen, now,
                         f"{sample} ({checks} of {policy.max_activity_checks} samples)")
        ratio = failures / checks
        done = replace(seen, activity_checks=0, activity_failures=0)
        if ratio > policy.activity_failure_ratio:
            return _fire(st, E.ACTIVITY_CHECK_FAILURE_OVER_THRESHOLD_RATIO, seen, done, now,
                         f"{failures} of {checks} activity checks failed (> {policy.activity_failure_ratio}): recover")
        return _fire(st, E.ACTIVITY_CHECK_FAILURE_UNDER_THRESHOLD_RATIO, seen, done, now,
                     f"{failures} of {checks} activity checks failed (<= {policy.activity_failure_ratio}): "
                     "unhealthy but active, degraded")
    if st is S.DEGRADED:
        if ok is True:
            return _fire(st, E.HEALTH_CHECK_PASSED, c, c, now, "health check passed")
        if now - c.since >= policy.max_degraded_s:
            return _fire(st, E.PERIODIC_RECHECK_RESOURCE_ACTIVITY, c, c, now,
                         f"degraded for {policy.max_degraded_s:.0f}s: check activity again")
        return _stay(st, c, "degraded, still unhealthy")
    if st is S.RECOVERING:
        if c.recovery_attempts >= policy.max_recovery_attempts:
            return _fire(st, E.RECOVERY_OPERATION_THRESHOLD_EXCEEDED, c, replace(c, recovery_attempts=0), now,
                         f"{c.recovery_attempts} recovery attempt(s) made: fence")
        tried = replace(c, recovery_attempts=c.recovery_attempts + 1)
        if ok is True:
            return _fire(st, E.RECOVERED, tried, tried, now, "recovery succeeded")
        return Step(None, st, tried, None, f"recovery attempt {tried.recovery_attempts} failed: {facts.why}")
    if st is S.RECOVERED:
        if now - c.since >= policy.recovery_wait_s:
            return _fire(st, E.RECOVERY_WAIT_PERIOD_TIMEOUT, c, c, now, "recovered and waited: available again")
        return _stay(st, c, "recovered, waiting")
    if st is S.FENCING:
        tried = replace(c, fence_attempts=c.fence_attempts + 1)
        if ok is True:
            done = replace(tried, fence_attempts=0)
            return _fire(st, E.FENCED, done, done, now, "fenced", Action.FENCE_SUBRESOURCES)
        return Step(None, st, tried, None, f"fence attempt {tried.fence_attempts} failed: {facts.why}")
    # Fenced: stays fenced until the host is healthy again, then waits to be eligible.
    if ok is True:
        return _fire(st, E.HEALTH_CHECK_PASSED, c, Counters(since=now), now, "fenced host is healthy again")
    return _stay(st, c, "fenced")
