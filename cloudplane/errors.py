"""The one error hierarchy of cloudplane.

    CloudplaneError
    ├── ApiError(code, text)          a CloudStack-style failure a client may see
    │   ├── ParamError      431       missing or malformed parameter
    │   ├── NotAllowed      432       unknown command or no permission
    │   ├── PermissionDenied 531      the caller may not touch this account's resource
    │   ├── AuthError       401       bad key, signature, session
    │   ├── LimitExceeded   532       resource limit reached
    │   ├── Insufficient    533       no capacity
    │   └── InternalError   530       everything else a handler reports
    ├── StaleVersion                  a versioned write lost to a newer one (retryable)
    ├── IllegalTransition             a state machine refused an edge (terminal)
    ├── EntityNotFound                no row for an entity ref (terminal, maps to 431)
    └── ShardUnavailable              a shard could not be reached (retryable)

ApiError is *expected*: a job that ends with one is a failed job, not a crashed
entity. Any other exception escaping an operation is a crash, reported to the
entity's supervisor.
"""

from __future__ import annotations

# CloudStack's cserrorcode values (com.cloud.utils.exception.CSExceptionErrorCode),
# by the exception CloudStack typically raises for each HTTP code:
# 401 and 430 ServerApiException 9999, 431 InvalidParameterValueException 4350,
# 432 PermissionDeniedException 4365, 530 CloudRuntimeException 4250,
# 532 ResourceAllocationException 4370, 533 InsufficientCapacityException 4325,
# 429 RequestLimitException 4545.
CS_ERROR_CODE = {
    401: 9999, 430: 9999, 431: 4350, 432: 4365, 530: 4250, 531: 4365, 532: 4370, 533: 4325, 429: 4545,
}


class CloudplaneError(Exception):
    """Base of everything cloudplane raises on purpose."""


class ApiError(CloudplaneError):
    code: int = 530

    def __init__(self, text: str, code: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        if code is not None:
            self.code = code

    @property
    def cs_code(self) -> int:
        return CS_ERROR_CODE.get(self.code, 9999)

    def to_dict(self) -> dict[str, object]:
        return {"errorcode": self.code, "cserrorcode": self.cs_code, "errortext": self.text}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ApiError:
        code = int(d.get("errorcode", 530))  # type: ignore[call-overload]
        sub = _BY_CODE.get(code, ApiError)
        return sub(str(d.get("errortext", "")), code)


class AuthError(ApiError):
    code = 401


class ParamError(ApiError):
    code = 431


class NotAllowed(ApiError):
    code = 432


class InternalError(ApiError):
    code = 530


class PermissionDenied(ApiError):
    """CloudStack's PermissionDeniedException (ACCOUNT_ERROR)."""

    code = 531


class LimitExceeded(ApiError):
    code = 532


class Insufficient(ApiError):
    code = 533


class Throttled(ApiError):
    code = 429


_BY_CODE: dict[int, type[ApiError]] = {
    401: AuthError, 431: ParamError, 432: NotAllowed, 530: InternalError, 531: PermissionDenied,
    532: LimitExceeded, 533: Insufficient, 429: Throttled,
}


class StaleVersion(CloudplaneError):
    """A write carried version v but the row is already past v."""

    def __init__(self, table: str, key: object, expected: int) -> None:
        super().__init__(f"{table} {key}: version {expected} is stale")
        self.table, self.key, self.expected = table, key, expected


class IllegalTransition(CloudplaneError):
    def __init__(self, kind: str, src: str, dst: str) -> None:
        super().__init__(f"{kind}: transition from {src} to {dst} not allowed")
        self.kind, self.src, self.dst = kind, src, dst


class EntityNotFound(CloudplaneError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} does not exist")
        self.kind, self.key = kind, key


class ShardUnavailable(CloudplaneError):
    pass
