"""What crosses the Ray boundary between a management node and a shard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudplane.actors.identity import EntityRef


@dataclass(frozen=True, slots=True)
class JobMsg:
    """Run `op(**args)` on `ref` for the durable job `job` (its uuid)."""

    job: str
    ref: EntityRef
    op: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Completion:
    seq: int
    job: str
    status: int  # store.jobs.JobStatus
    code: int  # 0 or the CloudStack error code
    result: Any  # the operation's result, or the error dict


@dataclass(frozen=True, slots=True)
class CompletionBatch:
    incarnation: str
    cursor: int
    items: list[Completion]
    gap: bool  # completions were missed (ring overrun or new incarnation): check the store


@dataclass(frozen=True, slots=True)
class ShardInfo:
    name: str
    incarnation: str
    pid: int
    node_id: str
    entities: int
    mailbox_depth: int
    jobs_done: int
    jobs_failed: int
    crashes: int
    recovered_jobs: int
    writer_depth: int
    op_latency_buckets: dict[str, int]
    op_latency_sum_s: float
    rss_bytes: int = 0
    cpu_s: float = 0.0
