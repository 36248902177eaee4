"""Sockets opened inside a named network namespace, without forking.

pyroute2 reaches another namespace by forking the whole process and waiting up to
two seconds for the child to hand back a socket. A forked copy of a large,
multi-threaded process (an agent, a pytest run with Ray loaded) can miss that
deadline on a busy host, and the child may then outlive the request. Here a
throw-away thread enters the namespace with setns(2), which only affects the
calling thread, opens the socket (a socket stays in the namespace it was created
in), steps back, and ends, so no pooled thread is ever left in another namespace.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import os
import socket
import threading

from cloudplane.hostagent.errors import NotFound

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"  # where `ip netns` and pyroute2 keep named namespaces


def path(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"bad network namespace name {name!r}")
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _setns(fd: int) -> None:
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _open_in(ns_path: str, family: int, kind: int, proto: int) -> socket.socket:
    """Blocking; must run on a thread that is discarded afterwards."""
    with open(ns_path, "rb") as target, open("/proc/thread-self/ns/net", "rb") as home:
        _setns(target.fileno())
        try:
            return socket.socket(family, kind, proto)
        finally:
            _setns(home.fileno())


async def open_socket(netns: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket created inside network namespace `netns` (NotFound if it does not exist)."""
    ns_path = path(netns)
    if not os.path.exists(ns_path):
        raise NotFound(f"no network namespace {netns}")
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def set_result(sock: socket.socket) -> None:
        if done.cancelled():
            sock.close()
        else:
            done.set_result(sock)

    def set_error(err: BaseException) -> None:
        if not done.cancelled():
            done.set_exception(err)

    def work() -> None:
        try:
            sock = _open_in(ns_path, family, kind, proto)
        except BaseException as err:  # handed to the awaiting coroutine
            loop.call_soon_threadsafe(set_error, err)
            return
        try:
            loop.call_soon_threadsafe(set_result, sock)
        except RuntimeError:  # the loop has closed: nobody is waiting
            sock.close()

    threading.Thread(target=work, name=f"netns-{netns}", daemon=True).start()
    try:
        return await done
    except FileNotFoundError as err:  # removed between the check and the open
        raise NotFound(f"no network namespace {netns}") from err
