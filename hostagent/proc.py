"""Running host tools (`nft`, `genisoimage`, ...) without blocking the event loop.

`netns` runs the tool inside a named network namespace through `ip netns exec`,
which is how tests confine everything to namespaces they created.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from cloudplane.hostagent.errors import AgentError, ToolMissing


@dataclass(frozen=True, slots=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        err = self.stderr.decode(errors="replace").strip()
        return f"{' '.join(self.argv)} exited {self.returncode}: {err}"


def require(tool: str, package: str) -> str:
    """The tool's path, or ToolMissing naming the Debian package that provides it."""
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"{tool} is not installed (Debian package {package})")
    return path


async def run(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    netns: str | None = None,
    timeout_s: float = 30.0,
) -> Completed:
    """Run `argv`, feeding `stdin`; returns whatever the exit status was.

    Raises ToolMissing if the executable (or `ip`, for a netns) is absent, and a
    retryable AgentError if it does not finish within `timeout_s` (it is killed).
    """
    if shutil.which(argv[0]) is None:
        raise ToolMissing(f"{argv[0]} is not installed")
    full = list(argv)
    if netns is not None:
        full = [require("ip", "iproute2"), "netns", "exec", netns, *full]
    proc = await asyncio.create_subprocess_exec(
        *full,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AgentError(f"{' '.join(argv)} did not finish within {timeout_s} s", retryable=True) from None
    returncode = proc.returncode if proc.returncode is not None else await proc.wait()
    return Completed(tuple(argv), returncode, out, err)
