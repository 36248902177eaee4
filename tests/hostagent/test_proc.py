from __future__ import annotations

import sys

import pytest

from cloudplane.hostagent.errors import AgentError, ToolMissing
from cloudplane.hostagent.proc import require, run


async def test_run() -> None:
    done = await run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], stdin=b"hi")
    assert done.ok and done.stdout.strip() == b"HI"
    failed = await run([sys.executable, "-c", "import sys; sys.exit('boom')"])
    assert not failed.ok and "exited 1: boom" in failed.describe()
    with pytest.raises(ToolMissing):
        await run(["cp-no-such-tool"])
    with pytest.raises(AgentError, match="did not finish") as info:
        await run([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.2)
    assert info.value.retryable


def test_require() -> None:
    assert require("sh", "dash")
    with pytest.raises(ToolMissing, match="Debian package nope-pkg"):
        require("cp-no-such-tool", "nope-pkg")
