from __future__ import annotations

import os
import socket

import pytest

from cloudplane.hostagent.errors import NotFound
from cloudplane.hostagent.namespaces import open_socket, path
from tests.hostagent.nettools import Namespaces


def test_names() -> None:
    assert path("cptest-x") == "/var/run/netns/cptest-x"
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(ValueError):
            path(bad)


async def test_socket_is_created_inside_the_namespace(namespaces: Namespaces) -> None:
    ns = namespaces.make("sock")
    own = os.readlink("/proc/thread-self/ns/net")
    with await open_socket(ns, socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # The namespace's only interface is its loopback, still down: nothing can be sent.
        with pytest.raises(OSError):
            sock.sendto(b"x", ("127.0.0.1", 9))
    assert os.readlink("/proc/thread-self/ns/net") == own  # the caller never moved
    with pytest.raises(NotFound):
        await open_socket(f"{ns}-absent", socket.AF_INET, socket.SOCK_DGRAM)
