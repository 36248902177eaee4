"""The `vm` object of a StartCommand (and PrepareForMigrationCommand): everything
a host needs to run the VM, read from the store in one connection.

    {"name", "uuid", "cpus", "mhz", "ram_mb", "type", "ha", "hostname",
     "user_data": base64 | null, "ssh_keys": [str], "os_type": str,
     "details": {str: str},          the template's details (kernel, initrd, cmdline, ...)
     "template": {"name": template uuid, "format", "url", "pool": POOL}   (ROOT from a template)
     "root_volume": ROOT volume file name, "root_size": bytes,
     "disks": [{"volume", "pool": POOL, "device_id", "type": ROOT|DATADISK, "format", "size"}],
     "nics": [{"mac", "device_id", "ip", "netmask", "gateway", "isdefault", "traffic",
               "broadcast_uri", "bridge"?, "mtu"?}]}

    POOL = {"uuid", "type": NetworkFilesystem|Filesystem|SharedMountPoint|..., "host", "path"}

A ROOT volume made from a template is a qcow2 overlay the host builds on the
template's copy in the same pool; any other volume is named by its file in its
pool, with its size so the host can create it on first use. A NIC's bridge is
its physical network's KVM traffic label, when one is set; otherwise the host's
own label for its traffic type decides. The simulator reads only `name`; the
real agent reads the rest (hostagent/vmargs.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cloudplane.store import prepared
from cloudplane.store.tables.images import OsType, Template
from cloudplane.store.tables.network import Network, Nic, PhysicalNetworkTrafficType
from cloudplane.store.tables.storage import StoragePool, Volume
from cloudplane.store.tables.tags import ResourceDetail

T_VOL: Table = Volume.__table__  # type: ignore[attr-defined]
T_POOL: Table = StoragePool.__table__  # type: ignore[attr-defined]
T_TPL: Table = Template.__table__  # type: ignore[attr-defined]
T_OS: Table = OsType.__table__  # type: ignore[attr-defined]
T_NIC: Table = Nic.__table__  # type: ignore[attr-defined]
T_NET: Table = Network.__table__  # type: ignore[attr-defined]
T_TRAFFIC: Table = PhysicalNetworkTrafficType.__table__  # type: ignore[attr-defined]
T_DETAIL: Table = ResourceDetail.__table__  # type: ignore[attr-defined]

SSH_KEY_DETAIL = "SSH.PublicKey"  # CloudStack's user_vm_details name for the VM's key(s)
ISO_FORMAT = "ISO"


def _pool(v: Mapping[str, Any]) -> dict[str, Any] | None:
    if v.get("pool_uuid") is None:
        return None  # not placed yet: the host's default pool
    return {"uuid": v["pool_uuid"], "type": v["pool_type"], "host": v["pool_host"], "path": v["pool_path"]}


def _file(v: Mapping[str, Any]) -> str:
    return str(v.get("path") or v["uuid"])


def _fmt(value: str | None) -> str:
    return str(value or "QCOW2").lower()


def _disk(v: Mapping[str, Any]) -> dict[str, Any]:
    return {"volume": _file(v), "pool": _pool(v), "device_id": int(v.get("device_id") or 0),
            "type": v["volume_type"], "format": _fmt(v.get("format")), "size": int(v["size_bytes"])}


def _nic(n: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mac": n["mac_address"], "device_id": int(n["device_id"]), "ip": n.get("ip4_address"),
        "netmask": n.get("netmask"), "gateway": n.get("gateway"), "isdefault": bool(n.get("is_default")),
        "traffic": n.get("traffic_type") or n.get("net_traffic") or "Guest",
        "broadcast_uri": n.get("broadcast_uri") or n.get("net_broadcast_uri")}
    if n.get("label"):
        out["bridge"] = n["label"]
    if n.get("mtu"):
        out["mtu"] = int(n["mtu"])
    return out


def start_spec(vm: Mapping[str, Any], *, uuid: str, name: str, volumes: Sequence[Mapping[str, Any]],
               template: Mapping[str, Any] | None, details: Mapping[str, str], os_type: str | None,
               nics: Sequence[Mapping[str, Any]], ssh_keys: Sequence[str]) -> dict[str, Any]:
    """Pure: the `vm` object from the rows `load_start_spec` reads."""
    spec: dict[str, Any] = {
        "name": name, "uuid": uuid, "cpus": vm["cpu_count"], "mhz": vm["cpu_speed_mhz"], "ram_mb": vm["ram_mb"],
        "type": vm.get("type"), "ha": bool(vm.get("ha_enabled")), "hostname": vm.get("name") or name,
        "user_data": vm.get("user_data"), "ssh_keys": list(ssh_keys), "os_type": os_type or "Other (64-bit)",
        "details": dict(details), "disks": [], "nics": [_nic(n) for n in sorted(nics, key=lambda n: n["device_id"])]}
    for v in sorted(volumes, key=lambda v: (v["volume_type"] != "ROOT", v.get("device_id") or 0)):
        if v["volume_type"] == "ROOT" and template is not None and template["format"] != ISO_FORMAT:
            spec["template"] = {"name": template["uuid"], "format": _fmt(template["format"]),
                                "url": template.get("url"), "pool": _pool(v)}
            spec["root_volume"] = _file(v)
            spec["root_size"] = int(v["size_bytes"])
        else:
            spec["disks"].append(_disk(v))
    return spec


# Read on every start: built once, executed with parameters (building the expressions
# afresh cost more Python than running them).
_VOLUMES = select(T_VOL.c.uuid, T_VOL.c.path, T_VOL.c.volume_type, T_VOL.c.device_id, T_VOL.c.size_bytes,
                  T_VOL.c.format, T_POOL.c.uuid.label("pool_uuid"), T_POOL.c.pool_type,
                  T_POOL.c.host_address.label("pool_host"), T_POOL.c.path.label("pool_path")).select_from(
    T_VOL.outerjoin(T_POOL, T_VOL.c.pool_id == T_POOL.c.id)).where(
    T_VOL.c.instance_id == bindparam("b_vm"), T_VOL.c.removed.is_(None))
_TEMPLATE = select(T_TPL.c.uuid, T_TPL.c.format, T_TPL.c.url).where(T_TPL.c.id == bindparam("b_tpl"))
_DETAILS = select(T_DETAIL.c.name, T_DETAIL.c.value).where(
    T_DETAIL.c.resource_type == bindparam("b_kind"), T_DETAIL.c.resource_id == bindparam("b_id"))
_OS = select(T_OS.c.display_name).where(T_OS.c.id == bindparam("b_os"))
_NICS = select(T_NIC.c.mac_address, T_NIC.c.device_id, T_NIC.c.ip4_address, T_NIC.c.netmask, T_NIC.c.gateway,
               T_NIC.c.is_default, T_NIC.c.traffic_type, T_NIC.c.broadcast_uri, T_NIC.c.mtu,
               T_NET.c.traffic_type.label("net_traffic"), T_NET.c.broadcast_uri.label("net_broadcast_uri"),
               T_TRAFFIC.c.kvm_network_label.label("label")).select_from(
    T_NIC.join(T_NET, T_NIC.c.network_id == T_NET.c.id).outerjoin(T_TRAFFIC, and_(
        T_TRAFFIC.c.physical_network_id == T_NET.c.physical_network_id,
        T_TRAFFIC.c.traffic_type == T_NET.c.traffic_type, T_TRAFFIC.c.removed.is_(None)))).where(
    T_NIC.c.instance_id == bindparam("b_vm"), T_NIC.c.removed.is_(None))
_KEYS = select(T_DETAIL.c.value).where(T_DETAIL.c.resource_type == "UserVm", T_DETAIL.c.resource_id == bindparam("b_vm"),
                                       T_DETAIL.c.name == SSH_KEY_DETAIL)


async def load_start_spec(conn: AsyncConnection, vm: Mapping[str, Any], uuid: str, name: str) -> dict[str, Any]:
    """Read the VM's volumes (with their pools), template, OS, NICs (with their networks'
    broadcast URIs and traffic labels) and SSH keys, and build its `vm` object."""
    vm_id = vm["id"]
    has_template, has_os = vm.get("template_id") is not None, vm.get("guest_os_id") is not None
    # The reads that need nothing but the VM at once (one round trip on MariaDB).
    volumes_r, nics_r, keys_r, *rest = await prepared.execute_all(conn, [
        (_VOLUMES, {"b_vm": vm_id}), (_NICS, {"b_vm": vm_id}), (_KEYS, {"b_vm": vm_id}),
        *([(_TEMPLATE, {"b_tpl": vm["template_id"]})] if has_template else []),
        *([(_OS, {"b_os": vm["guest_os_id"]})] if has_os else [])])
    volumes, nics = volumes_r.mappings().all(), nics_r.mappings().all()
    keys = [str(k) for k in keys_r.scalars() if k]
    template, details = None, {}
    if has_template:
        template = rest.pop(0).mappings().first()
        kind = "ISO" if template is not None and template["format"] == ISO_FORMAT else "Template"
        rows = (await prepared.execute(conn, _DETAILS, {"b_kind": kind, "b_id": vm["template_id"]})).all()
        details = {r.name: r.value for r in rows if r.value is not None}
    os_type = rest.pop(0).scalar() if has_os else None
    return start_spec(vm, uuid=uuid, name=name, volumes=volumes, template=template, details=details,
                      os_type=os_type, nics=nics, ssh_keys=[line for k in keys for line in k.splitlines() if line])
