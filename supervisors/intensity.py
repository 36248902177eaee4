"""The restart-intensity window: a pure function of history, time and flags."""

from __future__ import annotations

from enum import StrEnum

from cloudplane.supervisors.spec import SupFlags


class Verdict(StrEnum):
    RESTART = "restart"
    ESCALATE = "escalate"


def record_restart(
    history: tuple[float, ...], now: float, flags: SupFlags
) -> tuple[tuple[float, ...], Verdict]:
    """Add a restart at `now` and judge it.

    `history` holds earlier restart times, oldest first. A restart exactly
    `period_s` ago still counts (as in OTP); older ones drop out. With the new
    one included, up to `intensity` restarts are allowed; one more escalates,
    so intensity 0 escalates on the first failure.
    """
    threshold = now - flags.period_s
    kept = tuple(t for t in history if t >= threshold) + (now,)
    verdict = Verdict.RESTART if len(kept) <= flags.intensity else Verdict.ESCALATE
    return kept, verdict
