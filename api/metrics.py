"""Prometheus text exposition of the runtime's figures (no client library needed)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudplane.actors.messages import ShardInfo
from cloudplane.supervisors.shards import ShardHealth


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def render(infos: Iterable[ShardInfo], health: dict[str, ShardHealth],
           jobs_by_state: dict[str, int], local: dict[str, float]) -> str:
    out: list[str] = []

    def head(name: str, kind: str, help_: str) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")

    infos = list(infos)
    head("cloudplane_shard_entities", "gauge", "Entities active in memory per shard.")
    out += [_line("cloudplane_shard_entities", i.entities, {"shard": i.name}) for i in infos]
    head("cloudplane_mailbox_depth", "gauge", "Operations queued or running in entity mailboxes.")
    out += [_line("cloudplane_mailbox_depth", i.mailbox_depth, {"shard": i.name}) for i in infos]
    head("cloudplane_shard_jobs_total", "counter", "Jobs completed by a shard incarnation.")
    for i in infos:
        out.append(_line("cloudplane_shard_jobs_total", i.jobs_done, {"shard": i.name, "result": "succeeded"}))
        out.append(_line("cloudplane_shard_jobs_total", i.jobs_failed, {"shard": i.name, "result": "failed"}))
    head("cloudplane_entity_crashes_total", "counter", "Operations that crashed and were handed to a supervisor.")
    out += [_line("cloudplane_entity_crashes_total", i.crashes, {"shard": i.name}) for i in infos]
    head("cloudplane_recovered_jobs_total", "counter", "Pending jobs picked up by a restarted shard.")
    out += [_line("cloudplane_recovered_jobs_total", i.recovered_jobs, {"shard": i.name}) for i in infos]
    head("cloudplane_operation_latency_seconds", "histogram", "Entity operation latency.")
    for i in infos:
        acc = 0
        for le, n in i.op_latency_buckets.items():
            acc += n
            out.append(_line("cloudplane_operation_latency_seconds_bucket", acc, {"shard": i.name, "le": le}))
        out.append(_line("cloudplane_operation_latency_seconds_sum", round(i.op_latency_sum_s, 6), {"shard": i.name}))
        out.append(_line("cloudplane_operation_latency_seconds_count", acc, {"shard": i.name}))
    head("cloudplane_shard_rss_bytes", "gauge", "Resident memory of each shard process.")
    out += [_line("cloudplane_shard_rss_bytes", i.rss_bytes, {"shard": i.name}) for i in infos]
    head("cloudplane_shard_cpu_seconds_total", "counter", "CPU time of each shard process.")
    out += [_line("cloudplane_shard_cpu_seconds_total", round(i.cpu_s, 3), {"shard": i.name}) for i in infos]
    head("cloudplane_shard_restarts_total", "counter", "Shard process restarts seen by the watchdog.")
    out += [_line("cloudplane_shard_restarts_total", h.restarts, {"shard": n}) for n, h in health.items()]
    head("cloudplane_shard_up", "gauge", "1 when the shard answered its last ping.")
    out += [_line("cloudplane_shard_up", int(h.reachable), {"shard": n}) for n, h in health.items()]
    head("cloudplane_jobs", "gauge", "Durable jobs in the store by state.")
    out += [_line("cloudplane_jobs", n, {"state": s}) for s, n in jobs_by_state.items()]
    head("cloudplane_jobs_submitted_total", "counter", "Jobs submitted through this management node.")
    out.append(_line("cloudplane_jobs_submitted_total", local.get("jobs_submitted", 0)))
    return "\n".join(out) + "\n"
