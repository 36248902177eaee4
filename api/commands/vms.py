"""Virtual machines: deploy, the lifecycle commands and listVirtualMachines.

A handler checks what the caller may ask for and records the job; the VM
entity decides placement, claims capacity and talks to the host. Deploy is
the hot path: its offering, template and zone come from one query, the VM's
shard home is its default network's.
"""

from __future__ import annotations

import ipaddress
import secrets
import string
import uuid as _uuid
from typing import Any

from sqlalchemy import and_, bindparam, select

from cloudplane.actors.identity import EntityRef
from cloudplane.api import scope
from cloudplane.api.commands.base import ALL, command
from cloudplane.api.context import Accepted, Call, JobTarget, ListResult
from cloudplane.api.views.vms import VM_BY_UUID, vm_filters, vm_page, vms_out
from cloudplane.api.vmkeys import account_keys, keypair_names
from cloudplane.errors import NotAllowed, ParamError
from cloudplane.store import prepared
from cloudplane.store.base import new_uuid
from cloudplane.supervisors.placement import PLANNERS
from cloudplane.store.tables.compute import AffinityGroup, DiskOffering, ServiceOffering, VmInstance
from cloudplane.store.tables.identity import Account, Domain
from cloudplane.store.tables.images import Template, TemplateZone
from cloudplane.store.tables.infra import Zone
from cloudplane.store.tables.network import Network, NetworkOffering, PhysicalNetwork

VM, Z, SO, DO, T, TZ = (t.__table__ for t in (VmInstance, Zone, ServiceOffering, DiskOffering, Template,  # type: ignore[attr-defined]
                                              TemplateZone))
A, D, NET, NO, PN, AG = (t.__table__ for t in (Account, Domain, Network, NetworkOffering, PhysicalNetwork,  # type: ignore[attr-defined]
                                               AffinityGroup))
GiB = 2**30
READY = ("DOWNLOADED", "Ready", "READY")
NS = _uuid.UUID("0d4f6c8e-2b1a-4c3d-9e8f-7a6b5c4d3e2f")  # default networks: one per account and zone


def vm_ref(row: Any) -> EntityRef:
    return EntityRef("vm", row.uuid, row.placement_key)


async def vm_view_by_uuid(service: Any, caller: Any, uuid: str | None, *, password: bool = False) -> dict[str, Any]:
    async with prepared.reading(service.engine) as conn:
        rows = (await prepared.execute(conn, VM_BY_UUID, {"u": uuid})).all()
        items = await vms_out(conn, rows, admin=caller.role_type != "User")
    if not items:
        return {"success": True}
    vm = items[0]
    if password and rows[0].password and rows[0].tpl_pw:
        try:
            vm["password"] = service.key.decrypt(rows[0].password)
        except ValueError:
            pass
    return {"virtualmachine": vm}


async def vm_job_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    return await vm_view_by_uuid(service, caller, result.get("id"))


async def vm_password_view(service: Any, caller: Any, result: dict[str, Any]) -> dict[str, Any]:
    """A deploy or password reset answers with the VM's new password (password-enabled templates)."""
    return await vm_view_by_uuid(service, caller, result.get("id"), password=True)


async def owned_vm(call: Call, uuid: str, *, removed_ok: bool = False) -> Any:
    """The VM row, if the caller may act on it (431 unknown, 432 someone else's)."""
    async with prepared.reading(call.service.engine) as conn:
        row = (await prepared.execute(conn, _OWNED, {"u": uuid})).first()
    if row is None or (row.removed is not None and not removed_ok):
        raise ParamError(f"Unable to find virtual machine with id {uuid}")
    c = call.caller
    if (c.role_type == "User" and row.account_id != c.account_id) or \
            (c.role_type != "User" and not row.dom_path.startswith(c.domain_path)):
        raise NotAllowed(f"Caller {c.username} is not allowed to operate on virtual machine {uuid}")
    return row


async def one(call: Call, table: Any, uuid: str, what: str) -> Any:
    async with call.service.engine.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.uuid == uuid, table.c.removed.is_(None)))).first()
    if row is None:
        raise ParamError(f"Unable to find {what} by id {uuid}")
    return row


def size_of(call: Call, cpu_count: int | None, cpu_speed_mhz: int | None, ram_mb: int | None,
            offering: str) -> tuple[int, int, int]:
    """(cpus, MHz, MiB): the offering's, or the caller's `details` for a customized one."""
    det: dict[str, str] = {}
    for d in call.get("details") or []:
        det.update({str(k).lower(): str(v) for k, v in d.items()})
    try:
        cpus = cpu_count or int(det.get("cpunumber", 0))
        mhz = cpu_speed_mhz or int(det.get("cpuspeed", 0))
        mib = ram_mb or int(det.get("memory", 0))
    except ValueError:
        raise ParamError("details cpuNumber, cpuSpeed and memory must be numbers") from None
    if cpus <= 0 or mhz <= 0 or mib <= 0:
        raise ParamError(f"Service offering {offering} is customized: give details[0].cpuNumber, "
                         "details[0].cpuSpeed and details[0].memory")
    return cpus, mhz, mib


# -- deploy ----------------------------------------------------------------------------------------


_LOOKUP = (select(Z.c.id.label("z_id"), Z.c.uuid.label("z_uuid"), Z.c.allocation_state.label("z_state"),
                  Z.c.network_type, Z.c.guest_cidr, Z.c.network_domain,
                  SO.c.id.label("so_id"), SO.c.uuid.label("so_uuid"), SO.c.cpu_count, SO.c.cpu_speed_mhz, SO.c.ram_mb,
                  SO.c.is_system, SO.c.state.label("so_state"), SO.c.offer_ha, SO.c.root_disk_size_bytes,
                  SO.c.dynamic_scaling_enabled,
                  T.c.id.label("t_id"), T.c.uuid.label("t_uuid"), T.c.account_id.label("t_account"), T.c.is_public,
                  T.c.size_bytes.label("t_size"), T.c.os_type_id, T.c.hypervisor_type, T.c.dynamically_scalable,
                  T.c.password_enabled, T.c.format, T.c.state.label("t_state"), TZ.c.download_state)
           .select_from(Z.join(SO, SO.c.uuid == bindparam("su")).join(T, T.c.uuid == bindparam("tu")).outerjoin(
               TZ, and_(TZ.c.template_id == T.c.id, TZ.c.zone_id == Z.c.id, TZ.c.removed.is_(None))))
           .where(Z.c.uuid == bindparam("zu"), Z.c.removed.is_(None), SO.c.removed.is_(None), T.c.removed.is_(None)))
_NETWORK = {basic: select(NET.c.uuid).where(
    NET.c.zone_id == bindparam("z"), NET.c.removed.is_(None), NET.c.traffic_type == "Guest",
    *((NET.c.guest_type == "Shared",) if basic else (NET.c.account_id == bindparam("a"), NET.c.guest_type == "Isolated"))
).order_by(NET.c.id).limit(1) for basic in (True, False)}
_OWNED = select(VM, D.c.path.label("dom_path")).select_from(VM.join(D, VM.c.domain_id == D.c.id)).where(
    VM.c.uuid == bindparam("u"), VM.c.type == "User")


async def _lookup(call: Call) -> Any:
    """Zone, offering, template and the template's state in the zone: one query; on a miss,
    one query each, to say which is missing."""
    zu, su, tu = call.get("zoneid"), call.get("serviceofferingid"), call.get("templateid")
    async with prepared.reading(call.service.engine) as conn:
        row = (await prepared.execute(conn, _LOOKUP, {"zu": zu, "su": su, "tu": tu})).first()
    if row is None:
        await one(call, Z, zu, "zone")
        await one(call, SO, su, "service offering")
        await one(call, T, tu, "template")
        raise ParamError("Unable to deploy: zone, offering and template do not go together")
    return row


async def _networks(call: Call, r: Any, account_id: int, domain_id: int) -> list[dict[str, Any]]:
    """The VM's networks: `networkids`, or the account's isolated network in the zone
    (CloudStack creates the account's first one on its first deploy)."""
    ips = {str(d.get("networkid")): str(d.get("ip")) for d in (call.get("iptonetworklist") or [])}
    if call.get("networkids"):
        out = []
        async with call.service.engine.connect() as conn:
            nets = {n.uuid: n for n in (await conn.execute(select(NET).where(
                NET.c.uuid.in_(call.get("networkids")), NET.c.removed.is_(None)))).all()}
        for i, nid in enumerate(call.get("networkids")):
            n = nets.get(nid)
            if n is None:
                raise ParamError(f"Unable to find network by id {nid}")
            if n.zone_id != r.z_id:
                raise ParamError(f"Network {nid} is not in zone {r.z_uuid}")
            if n.acl_type == "Account" and n.account_id != account_id:
                raise NotAllowed(f"Network {nid} belongs to another account")
            out.append({"network": n.uuid, "ip": ips.get(nid) or (call.get("ipaddress") if i == 0 else None),
                        "own": n.acl_type == "Account"})
        return out
    async with prepared.reading(call.service.engine) as conn:
        existing = (await prepared.execute(conn, _NETWORK[r.network_type == "Basic"],
                                           {"z": r.z_id, "a": account_id})).scalar()
    if existing is None:
        if r.network_type == "Basic":
            raise ParamError(f"Zone {r.z_uuid} has no guest network to deploy in")
        existing = await _default_network(call, r, account_id, domain_id)
    return [{"network": existing, "ip": call.get("ipaddress"), "own": r.network_type != "Basic"}]


async def _default_network(call: Call, r: Any, account_id: int, domain_id: int) -> str:
    """The account's first isolated network in the zone. Its id is derived from the account
    and the zone, so concurrent first deploys create one network, not several."""
    async with call.service.engine.connect() as conn:
        off = (await conn.execute(select(NO.c.id).where(
            NO.c.name == "DefaultIsolatedNetworkOfferingWithSourceNatService"))).scalar()
        pn = (await conn.execute(select(PN.c.id).where(PN.c.zone_id == r.z_id, PN.c.removed.is_(None))
                                 .order_by(PN.c.id).limit(1))).scalar()
        acct = (await conn.execute(select(A.c.name, A.c.uuid).where(A.c.id == account_id))).one()
        uuid = str(_uuid.uuid5(NS, f"{acct.uuid}:{r.z_uuid}"))
        if (await conn.execute(select(NET.c.removed).where(NET.c.uuid == uuid))).first() is not None:
            uuid = new_uuid()  # that one was deleted: a new default network
    if off is None:
        raise ParamError("No default isolated network offering exists to create the account's network")
    cidr = ipaddress.IPv4Network(r.guest_cidr or "10.1.1.0/24", strict=False)
    values = {"name": f"{acct.name}-network", "display_text": f"{acct.name}-network", "traffic_type": "Guest",
              "guest_type": "Isolated", "state": "Allocated", "zone_id": r.z_id, "physical_network_id": pn,
              "network_offering_id": off, "account_id": account_id, "domain_id": domain_id, "acl_type": "Account",
              "broadcast_domain_type": "Vlan", "cidr": str(cidr), "netmask": str(cidr.netmask),
              "gateway": str(next(cidr.hosts())), "network_domain": r.network_domain}
    await call.service.run(call, JobTarget(EntityRef("network", uuid), "create", {"values": values}, "Network"))
    return uuid


def placement_key(call: Call, nets: list[dict[str, Any]], account_uuid: str) -> str:
    """A new VM's shard home, fixed for its life: the requested cluster's; else its default
    network's when that network is its account's own (the network hands out the VM's NICs
    and prepares its starts, so those calls stay inside one shard); else its account's."""
    if call.get("clusterid"):
        return str(call.get("clusterid"))
    if nets and nets[0].get("own"):
        return EntityRef("network", nets[0]["network"]).placement_key
    return f"account:{account_uuid}"


async def affinity_groups(call: Call, account_id: int) -> dict[str, list[Any]] | None:
    """`affinitygroupids` or `affinitygroupnames`, each a group of the VM's account."""
    ids, names = call.get("affinitygroupids"), call.get("affinitygroupnames")
    if not ids and not names:
        return None
    if ids and names:
        raise ParamError("affinitygroupids and affinitygroupnames cannot be given together")
    async with call.service.engine.connect() as conn:
        q = select(AG.c.id, AG.c.uuid, AG.c.name, AG.c.type, AG.c.account_id).where(AG.c.removed.is_(None))
        if ids:
            rows = (await conn.execute(q.where(AG.c.uuid.in_(ids)))).all()
            missing = set(ids) - {r.uuid for r in rows}
        else:
            rows = (await conn.execute(q.where(AG.c.name.in_(names), AG.c.account_id == account_id))).all()
            missing = set(names) - {r.name for r in rows}
    if missing:
        raise ParamError(f"Unable to find affinity group(s) {sorted(missing)}")
    for g in rows:
        if g.account_id != account_id:
            raise NotAllowed(f"Affinity group {g.name} belongs to another account than the VM's")
    return {"anti": [g.id for g in rows if g.type == "host anti-affinity"],
            "affinity": [g.id for g in rows if g.type == "host affinity"], "names": [g.name for g in rows]}


async def new_password(call: Call) -> tuple[str, str]:
    """(plain, encrypted with the server key) of a generated VM password."""
    n = max(6, await call.service.config_int("vm.password.length") or 6)
    alphabet = string.ascii_letters + string.digits
    plain = "".join(secrets.choice(alphabet) for _ in range(n))
    return plain, call.service.key.encrypt(plain)


@command("deployVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine",
         job_view=vm_password_view)
async def deploy_virtual_machine(call: Call) -> Accepted:
    c = call.caller
    for p in ("hostid", "clusterid", "podid", "deploymentplanner"):
        if call.get(p) and not c.is_root_admin:
            raise NotAllowed(f"Only root admins may choose {p}")
    if call.get("deploymentplanner") and call.get("deploymentplanner") not in PLANNERS:
        raise ParamError(f"Unknown deployment planner {call.get('deploymentplanner')}; use one of {sorted(PLANNERS)}")
    r = await _lookup(call)
    if r.z_state != "Enabled" and not c.is_root_admin:
        raise ParamError(f"Cannot perform this operation, Zone is currently disabled: {r.z_uuid}")
    if r.is_system or r.so_state != "Active":
        raise ParamError(f"Unable to use service offering {r.so_uuid} for a user VM")
    cpus, mhz, mib = size_of(call, r.cpu_count, r.cpu_speed_mhz, r.ram_mb, r.so_uuid)
    if r.t_state != "Active":
        raise ParamError(f"Template {r.t_uuid} is not active")
    if r.download_state not in READY:
        raise ParamError(f"Template {r.t_uuid} is not ready in zone {r.z_uuid} "
                         f"(state: {r.download_state or 'not there'})")
    account_id, domain_id = await scope.target_account(call)
    names = keypair_names(call)
    keys = await account_keys(call, account_id, names) if names else None  # before any network is made
    if not r.is_public and r.t_account != account_id and not c.is_root_admin:
        raise NotAllowed(f"Template {r.t_uuid} is private to another account")
    volumes = await _volumes(call, r)
    groups = await affinity_groups(call, account_id)
    nets = await _networks(call, r, account_id, domain_id)
    uuid = new_uuid()
    dynamic = bool(r.dynamically_scalable) and bool(r.dynamic_scaling_enabled) and \
        call.get("dynamicscalingenabled", True) is not False
    values = {"name": call.get("name") or "vm", "display_name": call.get("displayname"), "type": "User",
              "zone_id": r.z_id, "account_id": account_id, "domain_id": domain_id,
              "user_id": c.user_id if account_id == c.account_id else None, "service_offering_id": r.so_id,
              "template_id": r.t_id if r.format != "ISO" else None, "iso_id": r.t_id if r.format == "ISO" else None,
              "guest_os_id": r.os_type_id, "hypervisor_type": r.hypervisor_type or "Simulator",
              "cpu_count": cpus, "cpu_speed_mhz": mhz, "ram_mb": mib, "ha_enabled": bool(r.offer_ha),
              "user_data": call.get("userdata"), "group_name": call.get("group"), "dynamically_scalable": dynamic,
              "display": call.get("displayvm", True) is not False}
    if r.password_enabled:
        values["password"] = (await new_password(call))[1]
    startvm = call.get("startvm")
    args: dict[str, Any] = {
        "values": values, "nets": nets, "volumes": volumes, "start": True if startvm is None else bool(startvm),
        "host": call.get("hostid"), "cluster": call.get("clusterid"), "pod": call.get("podid"),
        "planner": call.get("deploymentplanner"), "root_admin": c.is_root_admin and account_id == c.account_id}
    if groups:
        args["groups"] = groups
    if keys:
        args["keys"] = keys
    acct_uuid = c.account_uuid
    if account_id != c.account_id:
        async with call.service.engine.connect() as conn:
            acct_uuid = (await conn.execute(select(A.c.uuid).where(A.c.id == account_id))).scalar_one()
    ref = EntityRef("vm", uuid, placement_key(call, nets, acct_uuid))
    return await call.service.accept(call, JobTarget(ref, "create", args, "VirtualMachine"), uuid)


async def _volumes(call: Call, r: Any) -> list[dict[str, Any]]:
    disk = None
    if call.get("diskofferingid"):
        do = await one(call, DO, call.get("diskofferingid"), "disk offering")
        size = do.disk_size_bytes if not do.customized else (call.get("size") or 0) * GiB
        if not size:
            raise ParamError(f"Disk offering {do.uuid} is customized: give size (GB)")
        disk = {"type": "DATADISK", "size": size, "disk_offering_id": do.id}
    if r.format == "ISO":
        if disk is None:
            raise ParamError("A VM deployed from an ISO needs a disk offering for its ROOT volume")
        return [{**disk, "type": "ROOT", "template_id": None}]
    root = (call.get("rootdisksize") or 0) * GiB or r.t_size or r.root_disk_size_bytes or 8 * GiB
    return [{"type": "ROOT", "size": root, "template_id": r.t_id}] + ([disk] if disk else [])


# -- lifecycle -------------------------------------------------------------------------------------


async def lifecycle(call: Call, op: str, args: dict[str, Any] | None = None, uuid: str | None = None) -> Accepted:
    row = await owned_vm(call, uuid or call.get("id"))
    return await call.service.accept(call, JobTarget(vm_ref(row), op, args or {}, "VirtualMachine"), row.uuid)


@command("startVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def start_virtual_machine(call: Call) -> Accepted:
    for p in ("hostid", "clusterid", "podid", "deploymentplanner"):
        if call.get(p) and not call.caller.is_root_admin:
            raise NotAllowed(f"Only root admins may choose {p}")
    if call.get("deploymentplanner") and call.get("deploymentplanner") not in PLANNERS:
        raise ParamError(f"Unknown deployment planner {call.get('deploymentplanner')}; use one of {sorted(PLANNERS)}")
    return await lifecycle(call, "start", {"host": call.get("hostid"), "cluster": call.get("clusterid"),
                                           "pod": call.get("podid"), "planner": call.get("deploymentplanner")})


@command("stopVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def stop_virtual_machine(call: Call) -> Accepted:
    return await lifecycle(call, "stop", {"forced": bool(call.get("forced", False))})


@command("rebootVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def reboot_virtual_machine(call: Call) -> Accepted:
    return await lifecycle(call, "reboot")


async def _user_may_expunge(call: Call) -> None:
    c = call.caller
    if c.role_type == "User" and (await call.service.config(
            "allow.user.expunge.recover.vm", [("account", c.account_id), ("domain", c.domain_id)])).lower() != "true":
        raise NotAllowed("Only administrators may expunge or recover a virtual machine "
                         "(allow.user.expunge.recover.vm is false)")


@command("destroyVirtualMachine", object_name="virtualmachine", entity_type="VirtualMachine", job_view=vm_job_view)
async def destroy_virtual_machine(call: Call) -> Accepted:
    if call.get("expunge"):
        await _user_may_expunge(call)
    return await lifecycle(call, "destroy", {"expunge": bool(call.get("expunge", False))})


@command("expungeVirtualMachine", roles=ALL, entity_type="VirtualMachine")
async def expunge_virtual_machine(call: Call) -> Accepted:
    await _user_may_expunge(call)
    return await lifecycle(call, "expunge")


@command("recoverVirtualMachine", object_name="virtualmachine", roles=ALL, entity_type="VirtualMachine")
async def recover_virtual_machine(call: Call) -> dict[str, Any]:
    await _user_may_expunge(call)
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
    c = call.caller
    hide_destroyed = c.role_type == "User" and (await call.service.config(
        "allow.user.view.destroyed.vm", [("account", c.account_id), ("domain", c.domain_id)])).lower() != "true"
    where = vm_filters(call, vis, hide_destroyed=hide_destroyed)
    async with call.service.engine.connect() as conn:
        rows, total = await vm_page(call, conn, where)
        return ListResult(await vms_out(conn, rows, admin=c.role_type != "User"), total)
