"""Errors the host agent raises on purpose.

    CloudplaneError                       (cloudplane.errors)
    └── AgentError(message, retryable)    a host-side operation failed
        ├── NotFound                      no such domain, pool, volume or link (terminal)
        ├── InvalidState                  the object is in the wrong state for the call (terminal)
        ├── Unsupported                   this host, kernel or libvirt driver cannot do it (terminal)
        ├── ToolMissing                   a required executable is not installed (terminal)
        ├── HypervisorError               libvirt failed; `code` is libvirt's error number
        ├── NetworkError                  netlink refused a link operation; `errno` is the kernel's
        └── FirewallError                 nft refused a ruleset

`retryable` tells the caller (the agent's command loop, later the management server)
whether the same request may succeed if sent again unchanged: a timed-out RPC to
libvirtd is, a missing volume is not.
"""

from __future__ import annotations

from cloudplane.errors import CloudplaneError


class AgentError(CloudplaneError):
    """A host-side operation failed; `retryable` says whether repeating it may help."""

    retryable_default: bool = False

    def __init__(self, message: str, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = self.retryable_default if retryable is None else retryable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, retryable={self.retryable})"


class NotFound(AgentError):
    """The named domain, pool, volume or link does not exist."""


class InvalidState(AgentError):
    """The object exists but is in the wrong state (e.g. rebooting a stopped VM)."""


class Unsupported(AgentError):
    """The host cannot do this at all: kernel feature or libvirt driver API missing."""


class ToolMissing(AgentError):
    """An executable the operation needs is not installed on this host."""


class HypervisorError(AgentError):
    """libvirt reported a failure not covered by a more specific class."""

    def __init__(self, message: str, retryable: bool | None = None, *, code: int = 0) -> None:
        super().__init__(message, retryable)
        self.code = code


class NetworkError(AgentError):
    """A netlink request failed; `errno` is the kernel's error number (0 if unknown)."""

    def __init__(self, message: str, retryable: bool | None = None, *, errno: int = 0) -> None:
        super().__init__(message, retryable)
        self.errno = errno


class FirewallError(AgentError):
    """nft rejected a ruleset or could not be run."""
