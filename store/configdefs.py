"""The configuration catalogue: every setting cloudplane knows, its type,
default, category and the scopes at which it may be overridden.

Values live in the `configuration` table; these definitions seed it and
validate `updateConfiguration`. Defaults are CloudStack's unless a comment
says why ours differ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigDef:
    name: str
    default: str
    type: str  # String | Integer | Long | Float | Boolean | Range
    category: str
    description: str
    scopes: tuple[str, ...] = ("global",)
    dynamic: bool = True


_C, _A, _N, _S, _U, _H = "Advanced", "Alert", "Network", "Storage", "Usage", "Hidden"

CATALOGUE: tuple[ConfigDef, ...] = (
    ConfigDef("default.page.size", "500", "Integer", _A, "Default page size for API list calls; also the largest page served"),
    ConfigDef("api.throttling.enabled", "false", "Boolean", _A, "Enable API rate limiting per account"),
    ConfigDef("api.throttling.interval", "1", "Integer", _A, "Time interval (seconds) to reset the API count"),
    ConfigDef("api.throttling.max", "25", "Integer", _A, "Max number of APIs an account may call per interval"),
    ConfigDef("integration.api.port", "0", "Integer", _A, "Unauthenticated API port on 127.0.0.1 (0 = off)", dynamic=False),
    ConfigDef("ping.interval", "60", "Integer", _A, "Interval (seconds) between agent pings"),
    ConfigDef("ping.timeout", "2.5", "Float", _A, "Multiplier of ping.interval before a host with no ping is in Alert"),
    ConfigDef("cpu.overprovisioning.factor", "1.0", "Float", _S, "CPU overprovisioning factor", ("global", "cluster")),
    ConfigDef("mem.overprovisioning.factor", "1.0", "Float", _S, "Memory overprovisioning factor", ("global", "cluster")),
    ConfigDef("storage.overprovisioning.factor", "2", "Float", _S, "Storage overprovisioning factor", ("global", "storagepool")),
    ConfigDef("cluster.cpu.allocated.capacity.disablethreshold", "0.85", "Float", _A,
              "Fraction of allocated CPU beyond which a cluster takes no new VMs", ("global", "cluster")),
    ConfigDef("cluster.memory.allocated.capacity.disablethreshold", "0.85", "Float", _A,
              "Fraction of allocated memory beyond which a cluster takes no new VMs", ("global", "cluster")),
    ConfigDef("pool.storage.capacity.disablethreshold", "0.85", "Float", _A,
              "Fraction of used storage beyond which a pool takes no new volumes", ("global", "zone")),
    ConfigDef("vm.allocation.algorithm", "random", "String", _C,
              "Host order within a cluster: random, firstfit, userdispersing, firstfitleastconsumed"),
    ConfigDef("vm.deployment.planner", "FirstFitPlanner", "String", _C,
              "FirstFitPlanner, UserDispersingPlanner or UserConcentratedPodPlanner"),
    ConfigDef("ha.tag", "", "String", _C, "Hosts with this tag take only HA restarts"),
    ConfigDef("expunge.delay", "86400", "Integer", _C, "Seconds before a destroyed VM is expunged"),
    ConfigDef("expunge.interval", "86400", "Integer", _C, "Seconds between expunge runs"),
    ConfigDef("expunge.workers", "1", "Integer", _C, "Expunge workers"),
    ConfigDef("network.gc.interval", "600", "Integer", _N, "Seconds between network garbage collections"),
    ConfigDef("network.gc.wait", "600", "Integer", _N, "Seconds a network stays idle before it is shut down"),
    # HA: ours default short, for recovery in seconds rather than minutes.
    ConfigDef("restart.retry.interval", "5", "Integer", _C, "Seconds between HA restart attempts"),
    ConfigDef("max.retries", "5", "Integer", _C, "HA restart attempts before giving up"),
    ConfigDef("time.between.failures", "3600", "Integer", _C, "Seconds within which repeated failures count together"),
    ConfigDef("ha.vm.restart.hostup", "true", "Boolean", _C, "Restart an HA VM that vanished from an Up host"),
    ConfigDef("drs.automatic.enable", "false", "Boolean", _C, "Run cluster DRS automatically", ("global", "cluster")),
    ConfigDef("drs.automatic.interval", "60", "Integer", _C, "Minutes between automatic DRS runs", ("global", "cluster")),
    ConfigDef("drs.iterations", "0.2", "Float", _C, "Max migrations per DRS round, as a fraction of VMs", ("global", "cluster")),
    ConfigDef("drs.imbalance", "0.4", "Float", _C, "Imbalance threshold for DRS", ("global", "cluster")),
    ConfigDef("drs.algorithm", "balanced", "String", _C, "DRS algorithm: balanced or condensed", ("global", "cluster")),
    ConfigDef("drs.metric", "memory", "String", _C, "Allocated resource DRS measures imbalance on: memory or cpu",
              ("global", "cluster")),
    ConfigDef("drs.max.migrations", "50", "Integer", _C, "Max migrations in one DRS round", ("global", "cluster")),
    ConfigDef("drs.plan.expire.interval", "720", "Integer", _C, "Hours after which finished DRS plans are forgotten"),
    # cloudplane: how many of a plan's migrations run at once (never two on one host).
    ConfigDef("drs.parallel.migrations", "4", "Integer", _C, "DRS migrations run at the same time"),
    ConfigDef("account.cleanup.interval", "86400", "Integer", _C, "Seconds between account cleanups"),
    ConfigDef("check.pod.cidrs", "true", "Boolean", _C, "Refuse pods with overlapping CIDRs"),
    ConfigDef("direct.agent.load.size", "16", "Integer", _C, "Direct agents loaded per management server"),
    ConfigDef("enable.dynamic.scale.vm", "false", "Boolean", _C, "Allow scaling running VMs", ("global", "zone")),
    ConfigDef("guest.domain.suffix", "cloud.internal", "String", _N, "Default domain suffix for guest networks"),
    ConfigDef("instance.name", "VM", "String", _H, "Suffix of internal VM names", dynamic=False),
    ConfigDef("secstorage.allowed.internal.sites", "", "String", _S, "CIDRs from which templates may be downloaded"),
    ConfigDef("storage.cleanup.interval", "86400", "Integer", _S, "Seconds between storage cleanups"),
    ConfigDef("snapshot.poll.interval", "300", "Integer", _S,
              "Seconds between the management server's looks for due recurring snapshots (snapshot policies)"),
    ConfigDef("vm.op.wait.interval", "120", "Integer", _C, "Seconds to wait before retrying a VM operation"),
    ConfigDef("workers", "5", "Integer", _C, "Worker threads (kept for compatibility; cloudplane uses shards)"),
    # Account-scoped in CloudStack; a domain value applies to the domain's accounts that set none.
    ConfigDef("allow.user.view.destroyed.vm", "false", "Boolean", _C,
              "Whether users may list their destroyed VMs", ("global", "domain", "account")),
    ConfigDef("allow.user.expunge.recover.vm", "false", "Boolean", _C,
              "Whether users may expunge or recover their destroyed VMs", ("global", "domain", "account")),
    # Images. The simulated download stands in for the secondary storage VM: nothing is fetched.
    ConfigDef("simulator.template.download.seconds", "2", "Float", _S,
              "Seconds a simulated template or ISO download (or copy between zones) takes"),
    ConfigDef("allow.public.user.templates", "true", "Boolean", _A,
              "Whether non-admin accounts may make their templates and ISOs public", ("global", "account")),
    ConfigDef("disable.extraction", "false", "Boolean", _A,
              "Whether extraction of templates and ISOs is refused to everyone but root admins"),
    # VM placement.
    ConfigDef("host.capacityType.to.order.clusters", "CPU", "String", _A,
              "The capacity (CPU or RAM) that orders clusters and, for firstfitleastconsumed, hosts"),
    ConfigDef("vm.user.dispersion.weight", "1", "Float", _A,
              "UserDispersingPlanner: weight of the account's VM count against capacity (1 = dispersion only)"),
    ConfigDef("vm.placement.cache.seconds", "2", "Float", _H,
              "How long a shard plans on a snapshot of a zone before reading it again (claims always re-check)"),
    ConfigDef("vm.password.length", "6", "Integer", _H, "Length of generated VM passwords"),
    # Resource limits: the default for an account or domain that set none (store/limits.py).
    *(ConfigDef(f"max.{owner}.{what}", str(default), "Long", _A, f"The default maximum {text} for {owner}s")
      for what, text, account_default, domain_default in (
          ("user.vms", "number of user VMs", 20, 40), ("public.ips", "number of public IPs", 20, 40),
          ("volumes", "number of volumes", 20, 40), ("snapshots", "number of snapshots", 20, 40),
          ("templates", "number of templates", 20, 40), ("projects", "number of projects", 10, 50),
          ("networks", "number of guest networks", 20, 20), ("vpcs", "number of VPCs", 20, 20),
          ("cpus", "number of CPU cores", 40, 80), ("memory", "memory (MiB)", 40960, 81920),
          ("primary.storage", "primary storage (GiB)", 200, 400),
          ("secondary.storage", "secondary storage (GiB)", 400, 800))
      for owner, default in (("account", account_default), ("domain", domain_default))),
)

BY_NAME: dict[str, ConfigDef] = {d.name: d for d in CATALOGUE}


def coerce(defn: ConfigDef, value: str) -> str:
    """Validate `value` for `defn`; return its canonical text or raise ValueError."""
    v = value.strip()
    if defn.type in ("Integer", "Long"):
        return str(int(v))
    if defn.type == "Float":
        f = float(v)
        if f != f:
            raise ValueError("NaN")
        return v
    if defn.type == "Boolean":
        if v.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return v.lower()
    return value
