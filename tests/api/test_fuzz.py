"""parse_request on arbitrary input: a dict or ParamError, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudplane.api.registry import CommandSpec, ParamSpec, parse_request, spec_from_listapis
from cloudplane.api.signing import canonical_query, signature, verify
from cloudplane.errors import ParamError

SPECS = [
    spec_from_listapis("listZones"),
    spec_from_listapis("deployVirtualMachine"),
    spec_from_listapis("createTags"),
    spec_from_listapis("listEvents"),
    spec_from_listapis("updateRole"),
    CommandSpec("everyType", params=[
        ParamSpec(name, kind, required=(kind == "short"), length=8,
                  collection_type="integer" if kind == "list" else None)
        for name, kind in [("s", "string"), ("u", "uuid"), ("i", "integer"), ("l", "long"), ("sh", "short"),
                           ("b", "boolean"), ("d", "date"), ("tz", "tzdate"), ("m", "map"), ("li", "list"),
                           ("o", "object")]
    ]),
]

_names = st.sampled_from(sorted({p.name for spec in SPECS for p in spec.params}))
_keys = st.one_of(
    _names,
    _names.map(str.upper),
    st.tuples(_names, st.integers(-3, 3), st.text(max_size=6)).map(lambda t: f"{t[0]}[{t[1]}].{t[2]}"),
    st.text(alphabet="ab[].0-1 ", max_size=12),
    st.text(max_size=12),
)
_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["true", "FALSE", "", "-1", "2147483648", "04ccc336-d730-42fe-8ff6-5ae36e141e81",
                     "2026-07-29", "2026-07-29T11:18:10+0000", "2026-02-30 25:61:61", "a,b,,c", "9" * 40]),
    st.integers().map(str),
)
_requests = st.dictionaries(_keys, _values, max_size=12)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(spec=st.sampled_from(SPECS), raw=_requests)
def test_parse_request_raises_only_param_errors(spec: CommandSpec, raw: dict[str, str]) -> None:
    try:
        result = parse_request(spec, raw)
    except ParamError as err:
        assert err.code in (430, 431) and err.text
    else:
        assert isinstance(result, dict)
        declared = {p.name for p in spec.params}
        assert set(result) <= declared


@settings(max_examples=200, deadline=None)
@given(raw=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=8),
       secret=st.text(min_size=1, max_size=10))
def test_signing_is_total_and_self_consistent(raw: dict[str, str], secret: str) -> None:
    raw = {k: v for k, v in raw.items() if k.lower() != "signature"}
    assert canonical_query(raw) == canonical_query(raw).lower()
    assert verify({**raw, "signature": signature(raw, secret)}, secret)
