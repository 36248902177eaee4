"""Virtual machines: deploy and the lifecycle commands, through the VM's own
entity actor. The handler checks what a user may ask for and records the job;
the VM entity decides placement, claims capacity and talks to the host."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import and_, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ADMINS, ALL, command, page
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.views.vms import vms_out, vms_query
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store.base import new_uuid
from cloudplane.store.tables.compute import DiskOffering, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template, TemplateZone
from cloudplane.store.tables.infra import Cluster, Host, Pod, Zone
from cloudplane.store.tables.network import Network, NetworkOffering, Nic, PhysicalNetwork

VM, Z, SO, DO, T, TZ = (t.__table__ for t in (VmInstance, Zone, ServiceOffering, DiskOffering, Template,  # type: ignore[attr-defined]
                                              TemplateZone))
A, D, NET, NO, PN, NIC = (t.__table__ for t in (Account, Domain, Network, NetworkOffering, PhysicalNetwork, Nic))  # type: ignore[attr-defined]
H, C, P = Host.__table__, Cluster.__table__, Pod.__table__  # type: ignore[attr-defined]
GiB = 2**30
READY = ("DOWNLOADED", "Ready", "READY")


def vm_ref(row: Any) -> EntityRef:
    return EntityRef("vm", row.uuid, row.placement_key)


async def vm_job_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(vms_query().where(VM.c.uuid == result.get("id")))).all()
        items = await vms_out(conn, rows, admin=caller.role_type != "User")
    return {"virtualmachine": items[0]} if items else {"success": True}


async def owned_vm(call: Call, uuid: str, *, removed_ok: bool = False) -> Any:
    """The VM row, if the caller may act on it (431 unknown, 432 someone else's)."""
    async with call.service.engine.connect() as conn:
        q = select(VM, D.c.path.label("dom_path")).select_from(VM.join(D, VM.c.domain_id == D.c.id)).where(
            VM.c.uuid == uuid, VM.c.type == "User")
        if not removed_ok:
            q = q.where(VM.c.removed.is_(None))
        row = (await conn.execute(q)).first()
    if row is None:
        raise ParamError(f"Unable to find virtual machine with id {uuid}")
    c = call.caller
    if (c.role_type == "User" and row.account_id != c.account_id) or \
            (c.role_type != "User" and not row.dom_path.startswith(c.domain_path)):
        raise NotAllowed(f"Caller {c.username} is not allowed to operate on virtual machine {uuid}")
    return row


async def _one(call: Call, table: Any, uuid: str, what: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.uuid == uuid, table.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find {what} by id {uuid}")
    return row


def _size(call: Call, so: Any) -> tuple[int, int, int]:
    """(cpus, MHz, MiB): the offering's, or the caller's `details` for a customized one."""
    det: dict[str, str] = {}
    for d in call.get("details") or []:
        det.update({str(k).lower(): str(v) for k, v in d.items()})
    try:
        cpus = so.cpu_count or int(det.get("cpunumber", 0))
        mhz = so.cpu_speed_mhz or int(det.get("cpuspeed", 0))
        mib = so.ram_mb or int(det.get("memory", 0))
    except ValueError:
        raise ParamError("details cpuNumber, cpuSpeed and memory must be numbers") from None
    if cpus <= 0 or mhz <= 0 or mib <= 0:
        raise ParamError(f"Service offering {so.uuid} is customized: give details[0].cpuNumber, "
                         "details[0].cpuSpeed and details[0].memory")
    return cpus, mhz, mib


async def _networks(call: Call, zone: Any, account_id: int, domain_id: int) -> list[dict[str, Any]]:
    """The VM's networks: `networkids`, or the account's default network in the zone (created if none)."""
    ips = {str(d.get("networkid")): str(d.get("ip")) for d in (call.get("iptonetworklist") or [])}
    if call.get("networkids"):
        out = []
        for i, nid in enumerate(call.get("networkids")):
            n = await _one(call, NET, nid, "network")
            if n.zone_id != zone.id:
                raise ParamError(f"Network {nid} is not in zone {zone.uuid}")
            if n.acl_type == "Account" and n.account_id != account_id:
                raise NotAllowed(f"Network {nid} belongs to another account")
            ip = ips.get(nid) or (call.get("ipaddress") if i == 0 else None)
            out.append({"network": n.uuid, "ip": ip})
        return out
    async with call.service.engine.connect() as conn:
        q = select(NET.c.uuid).where(NET.c.zone_id == zone.id, NET.c.removed.is_(None), NET.c.traffic_type == "Guest")
        if zone.network_type == "Basic":
            q = q.where(NET.c.guest_type == "Shared")
        else:
            q = q.where(NET.c.account_id == account_id, NET.c.guest_type == "Isolated")
        existing = (await conn.execute(q.order_by(NET.c.id).limit(1))).scalar()
    if existing is None:
        if zone.network_type == "Basic":
            raise ParamError(f"Zone {zone.uuid} has no guest network to deploy in")
        existing = await _default_network(call, zone, account_id, domain_id)
    return [{"network": existing, "ip": call.get("ipaddress")}]


async def _default_network(call: Call, zone: Any, account_id: int, domain_id: int) -> str:
    """CloudStack creates an account's first isolated network on its first deploy."""
    async with call.service.engine.connect() as conn:
        off = (await conn.execute(select(NO.c.id).where(
            NO.c.name == "DefaultIsolatedNetworkOfferingWithSourceNatService"))).scalar()
        pn = (await conn.execute(select(PN.c.id).where(PN.c.zone_id == zone.id, PN.c.removed.is_(None))
                                 .order_by(PN.c.id).limit(1))).scalar()
        acct = (await conn.execute(select(A.c.name).where(A.c.id == account_id))).scalar()
    if off is None:
        raise ParamError("No default isolated network offering exists to create the account's network")
    cidr = ipaddress.IPv4Network(zone.guest_cidr or "10.1.1.0/24", strict=False)
    uuid = new_uuid()
    values = {"name": f"{acct}-network", "display_text": f"{acct}-network", "traffic_type": "Guest",
              "guest_type": "Isolated", "state": "Allocated", "zone_id": zone.id, "physical_network_id": pn,
              "network_offering_id": off, "account_id": account_id, "domain_id": domain_id, "acl_type": "Account",
              "broadcast_domain_type": "Vlan", "cidr": str(cidr), "netmask": str(cidr.netmask),
              "gateway": str(next(cidr.hosts())), "network_domain": zone.network_domain}
    await call.service.run(call, JobTarget(EntityRef("network", uuid), "create", {"values": values}, "Network"))
    return uuid


async def _placement_key(call: Call, zone: Any) -> str:
    """The shard home of a new VM: a cluster of its zone with an Up host (its likely home)."""
    async with call.service.engine.connect() as conn:
        q = select(C.c.uuid).select_from(H.join(C, H.c.cluster_id == C.c.id)).where(
            H.c.zone_id == zone.id, H.c.status == "Up", H.c.resource_state == "Enabled", H.c.removed.is_(None))
        if call.get("clusterid"):
            q = q.where(C.c.uuid == call.get("clusterid"))
        rows = [r[0] for r in (await conn.execute(q.distinct())).all()]
    if not rows:
        return str(zone.uuid)
    return rows[hash(call.caller.account_uuid) % len(rows)] if len(rows) > 1 else rows[0]


@command("deployVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def deploy_virtual_machine(call: Call) -> Accepted:
    c = call.caller
    zone = await _one(call, Z, call.get("zoneid"), "zone")
    if zone.allocation_state != "Enabled" and not c.is_root_admin:
        raise ParamError(f"Cannot perform this operation, Zone is currently disabled: {zone.uuid}")
    so = await _one(call, SO, call.get("serviceofferingid"), "service offering")
    if so.is_system or so.state != "Active":
        raise ParamError(f"Unable to use service offering {so.uuid} for a user VM")
    cpus, mhz, mib = _size(call, so)
    tpl = await _one(call, T, call.get("templateid"), "template")
    async with call.service.engine.connect() as conn:
        tz = (await conn.execute(select(TZ.c.download_state).where(
            and_(TZ.c.template_id == tpl.id, TZ.c.zone_id == zone.id, TZ.c.removed.is_(None))))).scalar()
    if tz not in READY:
        raise ParamError(f"Template {tpl.uuid} is not ready in zone {zone.uuid} (state: {tz or 'not there'})")
    account_id, domain_id = await scope.target_account(call)
    if not tpl.is_public and tpl.account_id != account_id and not c.is_root_admin:
        raise NotAllowed(f"Template {tpl.uuid} is private to another account")
    for p in ("hostid", "clusterid", "podid"):
        if call.get(p) and not c.is_root_admin:
            raise NotAllowed(f"Only root admins may choose {p}")
    root_size = (call.get("rootdisksize") or 0) * GiB or tpl.size_bytes or so.root_disk_size_bytes or 8 * GiB
    volumes: list[dict[str, Any]] = [{"type": "ROOT", "size": root_size, "template_id": tpl.id}]
    if call.get("diskofferingid"):
        do = await _one(call, DO, call.get("diskofferingid"), "disk offering")
        size = (do.disk_size_bytes if not do.customized else (call.get("size") or 0) * GiB)
        if not size:
            raise ParamError(f"Disk offering {do.uuid} is customized: give size (GB)")
        volumes.append({"type": "DATADISK", "size": size, "disk_offering_id": do.id})
    nets = await _networks(call, zone, account_id, domain_id)
    uuid = new_uuid()
    values = {"name": call.get("name") or "vm", "display_name": call.get("displayname"), "type": "User",
              "zone_id": zone.id, "account_id": account_id, "domain_id": domain_id,
              "user_id": c.user_id if account_id == c.account_id else None, "service_offering_id": so.id,
              "template_id": tpl.id, "guest_os_id": tpl.os_type_id, "hypervisor_type": tpl.hypervisor_type
              or "Simulator", "cpu_count": cpus, "cpu_speed_mhz": mhz, "ram_mb": mib,
              "ha_enabled": bool(so.offer_ha), "user_data": call.get("userdata"), "group_name": call.get("group"),
              "dynamically_scalable": bool(tpl.dynamically_scalable)}
    startvm = call.get("startvm")
    args = {"values": values, "nets": nets, "volumes": volumes, "start": True if startvm is None else bool(startvm),
            "host": call.get("hostid"), "cluster": call.get("clusterid")}
    ref = EntityRef("vm", uuid, await _placement_key(call, zone))
    return await call.service.accept(call, JobTarget(ref, "create", args, "VirtualMachine"), uuid)


async def _lifecycle(call: Call, op: str, args: dict[str, Any] | None = None) -> Accepted:
    row = await owned_vm(call, call.get("id"))
    return await call.service.accept(call, JobTarget(vm_ref(row), op, args or {}, "VirtualMachine"), row.uuid)


@command("startVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def start_virtual_machine(call: Call) -> Accepted:
    for p in ("hostid", "clusterid", "podid"):
        if call.get(p) and not call.caller.is_root_admin:
            raise NotAllowed(f"Only root admins may choose {p}")
    return await _lifecycle(call, "start", {"host": call.get("hostid"), "cluster": call.get("clusterid")})


@command("stopVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def stop_virtual_machine(call: Call) -> Accepted:
    return await _lifecycle(call, "stop", {"forced": bool(call.get("forced", False))})


@command("rebootVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def reboot_virtual_machine(call: Call) -> Accepted:
    return await _lifecycle(call, "reboot")


@command("destroyVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def destroy_virtual_machine(call: Call) -> Accepted:
    if call.get("expunge") and call.caller.role_type == "User":
        raise NotAllowed("Only administrators may expunge a virtual machine at once")
    return await _lifecycle(call, "destroy", {"expunge": bool(call.get("expunge", False))})


@command("expungeVirtualMachine", object_name="virtualmachine", roles=ADMINS, entity_type="VirtualMachine")
async def expunge_virtual_machine(call: Call) -> Accepted:
    return await _lifecycle(call, "expunge")


@command("recoverVirtualMachine", object_name="virtualmachine", roles=ADMINS, entity_type="VirtualMachine")
async def recover_virtual_machine(call: Call) -> dict[str, Any]:
    row = await owned_vm(call, call.get("id"))
    await call.service.run(call, JobTarget(vm_ref(row), "recover", {}, "VirtualMachine"))
    return (await vm_job_view(call.service, call.caller, {"id": row.uuid}))["virtualmachine"]


@command("updateVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine")
async def update_virtual_machine(call: Call) -> dict[str, Any]:
    row = await owned_vm(call, call.get("id"))
    changes = {"display_name": call.get("displayname"), "group_name": call.get("group"),
               "ha_enabled": call.get("haenable"), "user_data": call.get("userdata"), "name": call.get("name"),
               "display": call.get("displayvm")}
    await call.service.run(call, JobTarget(vm_ref(row), "update", {k: v for k, v in changes.items()
                                                                    if v is not None}, "VirtualMachine"))
    return (await vm_job_view(call.service, call.caller, {"id": row.uuid}))["virtualmachine"]


@command("listVirtualMachines", object_name="virtualmachine", roles=ALL)
async def list_virtual_machines(call: Call) -> ListResult:
    vis = await scope.visibility(call)
    q = vms_query().where(VM.c.type == "User", vis.clause(VM.c.account_id, VM.c.domain_id))
    from cloudplane.api.views.vms import H as VH, T as VT, Z as VZ

    for p, col in (("id", VM.c.uuid), ("name", VM.c.name), ("state", VM.c.state), ("zoneid", VZ.c.uuid),
                   ("hostid", VH.c.uuid), ("templateid", VT.c.uuid), ("haenable", VM.c.ha_enabled),
                   ("displayvm", VM.c.display)):
        if call.get(p) is not None:
            q = q.where(col == call.get(p))
    if call.get("ids"):
        q = q.where(VM.c.uuid.in_(call.get("ids")))
    if call.get("keyword"):
        kw = call.get("keyword")
        q = q.where(VM.c.name.contains(kw) | VM.c.display_name.contains(kw) | VM.c.instance_name.contains(kw))
    if call.get("serviceofferingid"):
        q = q.where(VM.c.service_offering_id == select(SO.c.id).where(
            SO.c.uuid == call.get("serviceofferingid")).scalar_subquery())
    if call.get("podid"):
        q = q.where(VM.c.pod_id == select(P.c.id).where(P.c.uuid == call.get("podid")).scalar_subquery())
    if call.get("clusterid"):
        q = q.where(VM.c.host_id.in_(select(H.c.id).join(C, H.c.cluster_id == C.c.id).where(
            C.c.uuid == call.get("clusterid"))))
    if call.get("networkid"):
        q = q.where(VM.c.id.in_(select(NIC.c.instance_id).join(NET, NIC.c.network_id == NET.c.id).where(
            NET.c.uuid == call.get("networkid"), NIC.c.removed.is_(None))))
    for t in call.get("tags") or []:
        from cloudplane.store.tables.tags import ResourceTag

        rt = ResourceTag.__table__  # type: ignore[attr-defined]
        sub = select(rt.c.resource_id).where(rt.c.resource_type == "UserVm", rt.c.removed.is_(None))
        if t.get("key") is not None:
            sub = sub.where(rt.c.name == t["key"])
        if t.get("value") is not None:
            sub = sub.where(rt.c.value == t["value"])
        q = q.where(VM.c.id.in_(sub))
    async with call.service.engine.connect() as conn:
        rows, total = await page(call, conn, q, VM.c.id)
        return ListResult(await vms_out(conn, rows, admin=call.caller.role_type != "User"), total)
