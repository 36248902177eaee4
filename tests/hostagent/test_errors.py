from __future__ import annotations

from cloudplane.errors import CloudplaneError
from cloudplane.hostagent.errors import AgentError, HypervisorError, NetworkError, NotFound


def test_error_hierarchy() -> None:
    err = NotFound("no domain x")
    assert isinstance(err, AgentError) and isinstance(err, CloudplaneError)
    assert (err.message, err.retryable) == ("no domain x", False)
    assert HypervisorError("rpc", retryable=True, code=39).retryable
    assert NetworkError("x", errno=95).errno == 95
    assert "retryable=False" in repr(err)
