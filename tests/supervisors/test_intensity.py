from __future__ import annotations

from cloudplane.supervisors import SupFlags, Verdict, record_restart

FLAGS = SupFlags(intensity=3, period_s=5.0)


def test_exactly_intensity_restarts_are_allowed_then_escalate() -> None:
    history: tuple[float, ...] = ()
    verdicts = []
    for now in (10.0, 11.0, 12.0, 13.0):
        history, verdict = record_restart(history, now, FLAGS)
        verdicts.append(verdict)
    assert verdicts == [Verdict.RESTART, Verdict.RESTART, Verdict.RESTART, Verdict.ESCALATE]
    assert history == (10.0, 11.0, 12.0, 13.0)


def test_restart_exactly_period_ago_still_counts() -> None:
    history, verdict = record_restart((10.0, 11.0, 12.0), 15.0, FLAGS)
    assert verdict is Verdict.ESCALATE
    assert history == (10.0, 11.0, 12.0, 15.0)


def test_older_restarts_drop_out_of_the_window() -> None:
    history, verdict = record_restart((10.0, 11.0, 12.0), 15.5, FLAGS)
    assert verdict is Verdict.RESTART
    assert history == (11.0, 12.0, 15.5)
    history, verdict = record_restart(history, 100.0, FLAGS)
    assert (history, verdict) == ((100.0,), Verdict.RESTART)


def test_intensity_zero_escalates_on_first_failure() -> None:
    assert record_restart((), 1.0, SupFlags(intensity=0)) == ((1.0,), Verdict.ESCALATE)


def test_intensity_one() -> None:
    flags = SupFlags(intensity=1, period_s=1.0)
    history, verdict = record_restart((), 0.0, flags)
    assert verdict is Verdict.RESTART
    assert record_restart(history, 0.5, flags)[1] is Verdict.ESCALATE
    assert record_restart(history, 1.01, flags) == ((1.01,), Verdict.RESTART)
