from __future__ import annotations

import math

import pytest

from cloudplane.supervisors import ChildSpec, Restart, Strategy, SupFlags, check_specs


def test_defaults() -> None:
    flags = SupFlags()
    assert (flags.strategy, flags.intensity, flags.period_s) == (Strategy.ONE_FOR_ONE, 3, 5.0)
    spec = ChildSpec("vm:1")
    assert (spec.restart, spec.shutdown_s, spec.is_supervisor) == (Restart.PERMANENT, 5.0, False)
    assert Strategy("rest_for_one") is Strategy.REST_FOR_ONE
    assert Restart("transient") is Restart.TRANSIENT


@pytest.mark.parametrize(
    "flags",
    [SupFlags(intensity=-1), SupFlags(period_s=0), SupFlags(period_s=-1.0), SupFlags(period_s=math.inf),
     SupFlags(period_s=math.nan), SupFlags(strategy="simple_one_for_one")],  # type: ignore[arg-type]
)
def test_bad_flags(flags: SupFlags) -> None:
    with pytest.raises(ValueError):
        flags.validate()


def test_zero_intensity_is_valid() -> None:
    assert SupFlags(intensity=0).validate().intensity == 0


@pytest.mark.parametrize(
    "spec",
    [ChildSpec(""), ChildSpec("  "), ChildSpec("x", shutdown_s=-1), ChildSpec("x", shutdown_s=math.nan),
     ChildSpec("x", restart="sometimes")],  # type: ignore[arg-type]
)
def test_bad_child_spec(spec: ChildSpec) -> None:
    with pytest.raises(ValueError):
        spec.validate()


def test_check_specs_rejects_duplicates_and_keeps_order() -> None:
    specs = [ChildSpec("a"), ChildSpec("b", shutdown_s=math.inf)]
    assert check_specs(specs) == tuple(specs)
    with pytest.raises(ValueError, match="duplicate child id 'a'"):
        check_specs([ChildSpec("a"), ChildSpec("b"), ChildSpec("a")])
    with pytest.raises(ValueError):
        check_specs([ChildSpec("a"), ChildSpec("")])


def test_specs_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SupFlags().intensity = 9  # type: ignore[misc]
