from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.hostagent.nettools import Namespaces, root_skip_reason


@pytest.fixture(autouse=True)
def no_python_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent must not fork itself (pyroute2 does, to reach a namespace, unless given
    a socket): a forked copy of a big process can outlive the call on a busy host.
    Subprocesses are unaffected; they are spawned by _posixsubprocess, not os.fork."""

    def refuse() -> int:
        raise AssertionError("os.fork() called in host agent code")

    monkeypatch.setattr(os, "fork", refuse)


@pytest.fixture
async def namespaces() -> AsyncIterator[Namespaces]:
    """Factory of throw-away network namespaces, all removed afterwards (even on failure)."""
    reason = root_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    spaces = Namespaces()
    try:
        yield spaces
    finally:
        await spaces.close()
