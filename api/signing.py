"""CloudStack request signatures, as the management server checks them.

CloudStack (ApiServer.verifyRequest) drops ``signature``, sorts the received
parameter names, encodes every value with Java's ``URLEncoder`` (space as
``%20``), joins ``name=value`` with ``&``, lower-cases the whole string and
compares HMAC-SHA1(secret) in base64 with the ``signature`` parameter.

Real clients build that string slightly differently (Python's ``quote`` keeps
``~``, libcloud keeps ``[]`` and sorts lower-cased names, aiocloudstack
percent-encodes the names, Go clients encode ``*``), so ``verify`` accepts
each of those serialisations of the *received* parameters. None of them lets a
request through without the secret: every variant is still an HMAC over what
the server actually received.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cloudplane.api.dates import parse_date
from cloudplane.errors import AuthError

# The text CloudStack answers with for every authentication failure; it never
# tells the client which check failed.
AUTH_FAILED = "unable to verify user credentials and/or request signature"

_ALWAYS_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_")


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of building the string to sign."""

    name: str
    sort_lower: bool = False  # order names by their lower-cased form (libcloud, Marvin)
    keep_tilde: bool = False  # '~' left literal in values (every Python/Go client)
    keep_brackets: bool = False  # '[' and ']' left literal in values (libcloud)
    encode_star: bool = False  # '*' percent-encoded (Go's url.QueryEscape: cloudmonkey)
    quote_names: bool = False  # names percent-encoded too (aiocloudstack)
    # How this variant encodes, worked out once: every signed request encodes all its
    # names and values, and a byte-by-byte loop was most of checking a signature.
    unchanged: re.Pattern[str] = field(init=False, repr=False, compare=False)  # text it leaves as is
    byte_forms: tuple[str, ...] = field(init=False, repr=False, compare=False)  # each byte, encoded

    def __post_init__(self) -> None:
        safe = set(_ALWAYS_SAFE)
        if not self.encode_star:
            safe.add(ord("*"))
        if self.keep_tilde:
            safe.add(ord("~"))
        if self.keep_brackets:
            safe.update(b"[]")
        object.__setattr__(self, "unchanged", re.compile("[" + re.escape("".join(map(chr, sorted(safe)))) + "]*"))
        object.__setattr__(self, "byte_forms", tuple(chr(b) if b in safe else f"%{b:02X}" for b in range(256)))


JAVA = Variant("java")
CS = Variant("cs", keep_tilde=True)
LIBCLOUD = Variant("libcloud", sort_lower=True, keep_tilde=True, keep_brackets=True)
AIOCLOUDSTACK = Variant("aiocloudstack", keep_tilde=True, quote_names=True)
MARVIN = Variant("marvin", sort_lower=True, keep_tilde=True)
CLOUDMONKEY = Variant("cloudmonkey", keep_tilde=True, encode_star=True)
NAMED_VARIANTS = (JAVA, CS, LIBCLOUD, AIOCLOUDSTACK, MARVIN, CLOUDMONKEY)


def _encode(text: str, variant: Variant) -> str:
    """Java URLEncoder.encode(text, "UTF-8") with '+' turned into %20, bent by variant."""
    if variant.unchanged.fullmatch(text):
        return text
    forms = variant.byte_forms
    # Java replaces unencodable (lone surrogate) characters with '?'.
    return "".join([forms[b] for b in text.encode("utf-8", errors="replace")])


def _signed_items(params: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.items() if k.lower() != "signature"]


def canonical_query(params: Mapping[str, str], *, variant: Variant = JAVA) -> str:
    """The lower-cased string CloudStack signs for these received parameters."""
    items = _signed_items(params)
    # Java sorts Strings by UTF-16 code units; for the ASCII names CloudStack
    # uses that is plain code-point order.
    items.sort(key=(lambda kv: (kv[0].lower(), kv[0])) if variant.sort_lower else (lambda kv: kv[0]))
    parts = []
    for name, value in items:
        shown = _encode(name, variant) if variant.quote_names else name
        parts.append(f"{shown}={_encode(str(value), variant)}")
    return "&".join(parts).lower()


def _hmac_b64(message: str, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8", errors="replace"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def signature(params: Mapping[str, str], secret_key: str, *, variant: Variant = JAVA) -> str:
    """The base64 HMAC-SHA1 signature of ``params`` (any ``signature`` entry is ignored)."""
    return _hmac_b64(canonical_query(params, variant=variant), secret_key)


def _received_signature(params: Mapping[str, str]) -> str | None:
    for name, value in params.items():
        if name.lower() == "signature":
            # A '+' sent unescaped arrives as a space; base64 never holds spaces.
            return str(value).replace(" ", "+")
    return None


def candidate_variants(params: Mapping[str, str]) -> list[Variant]:
    """The flag combinations that can change the signed string for these params.

    Each flag only matters when the parameters hold the character it is about,
    so an ordinary request yields just [JAVA] and costs one HMAC.
    """
    items = _signed_items(params)
    values = "".join(str(v) for _, v in items)
    names = [k for k, _ in items]
    relevant = (
        ("sort_lower", sorted(names) != sorted(names, key=lambda n: (n.lower(), n))),
        ("keep_tilde", "~" in values or any("~" in n for n in names)),
        ("keep_brackets", "[" in values or "]" in values),
        ("encode_star", "*" in values or any("*" in n for n in names)),
        ("quote_names", any(not JAVA.unchanged.fullmatch(n) for n in names)),
    )
    return list(_variants_for(tuple(f for f, on in relevant if on)))


@functools.cache
def _variants_for(flags: tuple[str, ...]) -> tuple[Variant, ...]:
    # Fewest deviations first: the exact Java form, then single quirks (cs: '~').
    combos = sorted(itertools.product((False, True), repeat=len(flags)), key=sum)
    variants = []
    for combo in combos:
        chosen = dict(zip(flags, combo, strict=True))
        label = "+".join(f for f, on in chosen.items() if on) or "java"
        variants.append(Variant(label, **chosen))
    return tuple(variants)


def verify(params: Mapping[str, str], secret_key: str) -> bool:
    """True when ``signature`` matches a serialisation some known client produces."""
    given = _received_signature(params)
    if not given or not secret_key:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII strings.
    given_bytes = given.encode("utf-8", errors="replace")
    seen: set[str] = set()
    for variant in candidate_variants(params):
        message = canonical_query(params, variant=variant)
        if message in seen:
            continue
        seen.add(message)
        if hmac.compare_digest(_hmac_b64(message, secret_key).encode("ascii"), given_bytes):
            return True
    return False


def _lookup(params: Mapping[str, str], name: str) -> str | None:
    for key, value in params.items():
        if key.lower() == name:
            return value
    return None


def check_expiry(params: Mapping[str, str], now: datetime | None = None) -> None:
    """Apply signatureVersion=3: ``expires`` must be present, parseable and not past.

    Raises AuthError with CloudStack's generic text; the reason is chained as
    ``__cause__`` for logs.
    """
    if _lookup(params, "signatureversion") != "3":
        return
    expires = _lookup(params, "expires")
    if expires is None or expires == "":
        raise AuthError(AUTH_FAILED) from ValueError("signatureVersion=3 without expires")
    try:
        deadline = parse_date(expires, require_zone=True)
    except ValueError as exc:
        raise AuthError(AUTH_FAILED) from exc
    current = now if now is not None else datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    if deadline < current:
        raise AuthError(AUTH_FAILED) from ValueError(f"request expired at {expires}")


def authenticate(params: Mapping[str, str], secret_key: str, now: datetime | None = None) -> None:
    """Expiry first (as ApiServer.verifyRequest does, and it is cheaper), then the HMAC."""
    check_expiry(params, now)
    if not verify(params, secret_key):
        raise AuthError(AUTH_FAILED) from ValueError("signature mismatch")
