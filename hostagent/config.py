"""The agent's configuration: one file, agent.properties style or TOML.

    # /etc/cloudplane/agent.properties
    servers=ws://10.0.0.5:8080/agent,ws://10.0.0.6:8080/agent
    host.id=<the host's id from addHost>
    host.token=<the agenttoken addHost returned once>   (or host.token.file=/path)
    libvirt.uri=qemu:///system
    domain.type=kvm                                     (qemu: TCG, no hardware virtualisation)
    public.network.device=cloudbr0
    guest.network.device=cloudbr1

A file whose name ends in `.toml` is read as TOML; nested tables become dotted
keys (`[libvirt] uri = ...` is `libvirt.uri`). Every key is in `KEYS` with its
meaning; unknown keys are refused, so a typo is an error rather than a default.
`load()` returns a frozen, validated `AgentConfig`; nothing else reads the file.
"""

from __future__ import annotations

import ipaddress
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cloudplane.hostagent.bridges import TrafficLabels
from cloudplane.hostagent.domxml import DomainType

DEFAULT_PORT = 8080

KEYS: dict[str, str] = {
    "servers": "management servers' agent endpoints, comma-separated: ws[s]://HOST[:PORT]/agent or HOST[:PORT]",
    "host.id": "this host's id (the uuid addHost answered)",
    "host.token": "the agent token addHost answered once",
    "host.token.file": "a file holding the token instead (first line)",
    "libvirt.uri": "libvirt connection URI (default qemu:///system)",
    "domain.type": "kvm (hardware virtualisation, default) or qemu (TCG emulation)",
    "public.network.device": "bridge for public traffic (default cloudbr0)",
    "guest.network.device": "bridge for guest traffic (default cloudbr1)",
    "private.network.device": "bridge for management traffic (default cloudbr1)",
    "storage.network.device": "bridge for storage traffic (default cloudbr1)",
    "local.storage.pool": "libvirt pool for root disks and templates (default cloudplane-local)",
    "local.storage.path": "directory of that pool, created as a dir pool when set",
    "host.reserved.mem.mb": "memory kept for the host itself, not offered to guests (default 1024)",
    "host.cpu.manual.speed.mhz": "report this CPU speed instead of libvirt's",
    "stop.timeout": "seconds a guest gets to shut down on StopCommand before it is powered off (default 20)",
    "console.log.dir": "write each guest's serial console to <dir>/<instance>.log (default: a pty)",
    "config.drive.dir": "where config-drive ISOs with user data are kept (default /var/lib/cloudplane/configdrive)",
    "migration.uri": "destination libvirt URI template (default qemu+tcp://{ip}/system)",
    "migration.data.uri": "migration data path template, empty to let libvirt choose (default tcp://{ip})",
    "migration.peers": "static peers for MigrateCommand without an address: uuid=ip,uuid=ip",
    "migration.unsafe": "live-migrate disks libvirt cannot tell are shared (true/false, default false)",
    "vxlan.device": "underlay device for VXLAN guest networks",
    "vxlan.local.ip": "this host's underlay address for VXLAN",
    "vxlan.group": "multicast group (or unicast peer) for VXLAN flooding",
    "network.netns": "do network work inside this network namespace (tests)",
    "tls.ca": "CA bundle to verify wss:// servers (default: the system's)",
    "tls.verify": "false to skip server certificate checks (never in production)",
    "tls.cert": "client certificate (PEM) for wss://, if the servers ask for one",
    "tls.key": "its private key",
    "backoff.base": "first reconnect delay cap in seconds (default 0.5)",
    "backoff.cap": "longest reconnect delay in seconds (default 30)",
    "command.workers": "libvirt worker threads (default 8)",
}


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca: str | None = None
    verify: bool = True
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class VxlanConfig:
    device: str
    local_ip: str
    group: str


@dataclass(frozen=True, slots=True)
class AgentConfig:
    servers: tuple[str, ...]
    host_id: str
    token: str
    libvirt_uri: str = "qemu:///system"
    domain_type: DomainType = "kvm"
    labels: TrafficLabels = field(default_factory=TrafficLabels)
    pool: str = "cloudplane-local"
    pool_path: str | None = None
    reserved_mem_mb: int = 1024
    cpu_mhz: int | None = None
    stop_timeout_s: float = 20.0
    console_log_dir: str | None = None
    config_drive_dir: str = "/var/lib/cloudplane/configdrive"
    migration_uri: str = "qemu+tcp://{ip}/system"
    migration_data_uri: str | None = "tcp://{ip}"
    peers: Mapping[str, str] = field(default_factory=dict)
    # libvirt refuses a live migration unless every disk is on storage it recognises as
    # shared (NFS, cluster filesystems); a shared mount it does not recognise needs this.
    migration_unsafe: bool = False
    vxlan: VxlanConfig | None = None
    netns: str | None = None
    tls: TlsConfig = field(default_factory=TlsConfig)
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    workers: int = 8


def server_url(entry: str) -> str:
    """`ws://h:p/agent` stays as it is; `h`, `h:p` become `ws://h:p/agent`."""
    entry = entry.strip()
    if "://" not in entry:
        entry = f"ws://{entry}" if ":" in entry.rsplit("]", 1)[-1] else f"ws://{entry}:{DEFAULT_PORT}"
    parsed = urlparse(entry)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise ConfigError(f"bad management server {entry!r}: want ws[s]://HOST[:PORT]/agent")
    return entry if parsed.path not in ("", "/") else f"{entry.rstrip('/')}/agent"


def parse_properties(text: str) -> dict[str, str]:
    """key=value lines (`:` also separates); `#` and `!` start comments."""
    props: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        seps = [i for i in (line.find("="), line.find(":")) if i > 0]
        if not seps:
            raise ConfigError(f"line {number}: expected key=value, got {raw!r}")
        cut = min(seps)
        props[line[:cut].strip()] = line[cut + 1:].strip()
    return props


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def _float(props: Mapping[str, str], key: str, default: float) -> float:
    try:
        value = float(props.get(key, default))
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {props[key]!r}") from None
    if value < 0:
        raise ConfigError(f"{key} must not be negative")
    return value


def _int(props: Mapping[str, str], key: str, default: int | None) -> int | None:
    if key not in props or props[key] == "":
        return default
    try:
        return int(props[key])
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {props[key]!r}") from None


def _bool(props: Mapping[str, str], key: str, default: bool) -> bool:
    value = props.get(key)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "yes", "1", "on"):
        return True
    if value.lower() in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _peers(text: str) -> dict[str, str]:
    peers: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        host, sep, ip = item.partition("=")
        if not sep:
            raise ConfigError(f"migration.peers: expected uuid=ip, got {item!r}")
        ipaddress.ip_address(ip.strip())
        peers[host.strip()] = ip.strip()
    return peers


def _token(props: Mapping[str, str], base: Path | None) -> str:
    if props.get("host.token"):
        return props["host.token"]
    if props.get("host.token.file"):
        path = Path(props["host.token.file"])
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            lines = path.read_text().splitlines()
        except OSError as err:
            raise ConfigError(f"host.token.file {path}: {err.strerror}") from None
        if lines and lines[0].strip():
            return lines[0].strip()
        raise ConfigError(f"host.token.file {path} is empty")
    raise ConfigError("host.token (or host.token.file) is required: addHost answered it as agenttoken")


def from_properties(props: Mapping[str, str], base: Path | None = None) -> AgentConfig:
    """Validate a key/value mapping into an AgentConfig; `base` resolves relative files."""
    unknown = sorted(set(props) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(unknown)}")
    servers = tuple(server_url(s) for s in props.get("servers", "").split(",") if s.strip())
    if not servers:
        raise ConfigError("servers is required: the management servers' agent endpoints")
    host_id = props.get("host.id", "")
    try:
        uuid.UUID(host_id)
    except ValueError:
        raise ConfigError(f"host.id must be the host's uuid from addHost, got {host_id!r}") from None
    domain_type = props.get("domain.type", "kvm")
    if domain_type not in ("kvm", "qemu"):
        raise ConfigError(f"domain.type must be kvm or qemu, got {domain_type!r}")
    vxlan = None
    if props.get("vxlan.device"):
        if not (props.get("vxlan.local.ip") and props.get("vxlan.group")):
            raise ConfigError("vxlan.device needs vxlan.local.ip and vxlan.group")
        vxlan = VxlanConfig(props["vxlan.device"], props["vxlan.local.ip"], props["vxlan.group"])
    try:
        labels = TrafficLabels.from_properties(props)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    cap = _float(props, "backoff.cap", 30.0)
    base_s = _float(props, "backoff.base", 0.5)
    if base_s <= 0 or cap < base_s:
        raise ConfigError("backoff.base must be positive and not above backoff.cap")
    data_uri = props.get("migration.data.uri", "tcp://{ip}")
    return AgentConfig(
        servers=servers,
        host_id=host_id,
        token=_token(props, base),
        libvirt_uri=props.get("libvirt.uri") or "qemu:///system",
        domain_type=domain_type,
        labels=labels,
        pool=props.get("local.storage.pool") or "cloudplane-local",
        pool_path=props.get("local.storage.path") or None,
        reserved_mem_mb=_int(props, "host.reserved.mem.mb", 1024) or 0,
        cpu_mhz=_int(props, "host.cpu.manual.speed.mhz", None),
        stop_timeout_s=_float(props, "stop.timeout", 20.0),
        console_log_dir=props.get("console.log.dir") or None,
        config_drive_dir=props.get("config.drive.dir") or "/var/lib/cloudplane/configdrive",
        migration_uri=props.get("migration.uri") or "qemu+tcp://{ip}/system",
        migration_data_uri=data_uri or None,
        peers=_peers(props.get("migration.peers", "")),
        migration_unsafe=_bool(props, "migration.unsafe", False),
        vxlan=vxlan,
        netns=props.get("network.netns") or None,
        tls=TlsConfig(props.get("tls.ca") or None, _bool(props, "tls.verify", True),
                      props.get("tls.cert") or None, props.get("tls.key") or None),
        backoff_base_s=base_s,
        backoff_cap_s=cap,
        workers=_int(props, "command.workers", 8) or 8,
    )


def load(path: Path) -> AgentConfig:
    """Read and validate the file at `path` (TOML when it ends in .toml)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    if path.suffix == ".toml":
        try:
            props = _flatten(tomllib.loads(text))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: {err}") from None
    else:
        props = parse_properties(text)
    return from_properties(props, path.parent)
