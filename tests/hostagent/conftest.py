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


# -- real libvirt daemons and a tiny guest (test_real_*.py) ------------------------------------


@pytest.fixture(scope="session")
def tiny_guest(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """Debian's kernel (cached across runs) and a busybox initramfs built for this session."""
    from tests.hostagent import guest, libvirtd

    pytest.importorskip("libvirt", reason="libvirt-python is not installed (the project's `agent` extra)")
    reason = libvirtd.skip_reason() or guest.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return guest.build(tmp_path_factory.mktemp("tinyguest"))


@pytest.fixture(scope="session")
async def lab(tiny_guest, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """Two network namespaces joined by a veth (10.98.0.1 <-> 10.98.0.2) and libvirt
    daemon `a` in the first, listening on qemu+tcp; daemon `b` is started on demand
    (`await lab.daemon_b()`). Everything is stopped and removed at the end."""
    from tests.hostagent.realhost import Lab

    lab = Lab(tmp_path_factory.mktemp("lab"), tiny_guest)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()
