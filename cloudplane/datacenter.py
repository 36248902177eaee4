"""`cloudplane deploy-datacenter FILE.cfg`: build a data centre from a Marvin
config (JSON with `#` comment lines) through the API, in the order Marvin's
deployDataCenter issues its calls, printing progress as it goes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudplane.apiclient import ApiClient


def load_config(path: Path) -> dict[str, Any]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    return json.loads(text)  # type: ignore[no-any-return]


def _first(resp: dict[str, Any], key: str) -> dict[str, Any]:
    v = resp[key]
    return v[0] if isinstance(v, list) else v  # type: ignore[no-any-return]


class Deployer:
    def __init__(self, api: ApiClient, say: Callable[[str], None] = print, host_timeout_s: float = 120.0) -> None:
        self.api, self.say, self.host_timeout_s = api, say, host_timeout_s
        self.created: dict[str, list[str]] = {"zones": [], "hosts": []}

    async def _do(self, command: str, **params: Any) -> dict[str, Any]:
        """A call that waits for its async job: ApiClient.do, or an adapter's own call that does so."""
        fn = getattr(self.api, "do", None) or self.api.call
        return await fn(command, **params)  # type: ignore[no-any-return]

    async def deploy(self, cfg: dict[str, Any]) -> dict[str, list[str]]:
        for g in cfg.get("globalConfig", []):
            await self._do("updateConfiguration", name=g["name"], value=str(g["value"]))
        if cfg.get("globalConfig"):
            self.say(f"  {len(cfg['globalConfig'])} global settings updated")
        for zone in cfg.get("zones", []):
            await self.zone(zone)
        return self.created

    async def zone(self, z: dict[str, Any]) -> None:
        t0 = time.monotonic()
        basic = z.get("networktype", "Advanced").lower() == "basic"
        params = {"name": z["name"], "dns1": z.get("dns1"), "dns2": z.get("dns2"), "internaldns1": z.get("internaldns1"),
                  "internaldns2": z.get("internaldns2"), "networktype": z.get("networktype", "Advanced"),
                  "guestcidraddress": z.get("guestcidraddress"), "domain": z.get("domain"),
                  "securitygroupenabled": z.get("securitygroupenabled")}
        zone = _first(await self._do("createZone", **{k: v for k, v in params.items() if v is not None}), "zone")
        zid = zone["id"]
        self.created["zones"].append(zid)
        self.say(f"zone {z['name']} ({zid})")
        for pn in z.get("physical_networks", []):
            await self.physical_network(zid, pn, basic)
        sg = str(z.get("securitygroupenabled", "false")).lower() == "true"
        guest_net = None
        if basic or sg:
            # As Marvin does: a shared guest network (with security groups where enabled).
            guest_net = await self.shared_network(zid, z, basic, sg)
        for pod in z.get("pods", []):
            await self.pod(zid, pod, basic, guest_net)
        ranges = list(z.get("ipranges", []))
        if sg and not basic and ranges:
            ranges = ranges[:-1]  # the last one went into the shared network itself
        for r in ranges:
            await self._do("createVlanIpRange", zoneid=zid, forvirtualnetwork=not (basic or sg),
                                vlan=r.get("vlan", "untagged"), gateway=r["gateway"], netmask=r["netmask"],
                                startip=r["startip"], endip=r["endip"], networkid=guest_net)
        if ranges:
            self.say(f"  {len(ranges)} IP ranges")
        for s in z.get("secondaryStorages", []):
            await self._do("addImageStore", url=s["url"], provider=s.get("provider", "NFS"), zoneid=zid,
                                name=s.get("name"))
        self.say(f"  {len(z.get('secondaryStorages', []))} image stores")
        await self._do("updateZone", id=zid, allocationstate="Enabled")
        self.say(f"  zone {z['name']} Enabled in {time.monotonic() - t0:.1f}s")

    async def shared_network(self, zid: str, z: dict[str, Any], basic: bool, sg: bool) -> str:
        name = "DefaultSharedNetworkOfferingWithSGService" if sg else "DefaultSharedNetworkOffering"
        offering = (await self._do("listNetworkOfferings", name=name))["networkoffering"][0]["id"]
        params: dict[str, Any] = {"zoneid": zid, "networkofferingid": offering}
        if basic:
            params.update(name="guestNetworkForBasicZone", displaytext="guestNetworkForBasicZone")
        else:
            r = z["ipranges"][-1]
            params.update(name="Shared SG enabled network", displaytext="Shared SG enabled network",
                          startip=r["startip"], endip=r["endip"], gateway=r["gateway"], netmask=r["netmask"],
                          vlan=r.get("vlan"))
        net = _first(await self._do("createNetwork", **params), "network")
        self.say(f"  shared guest network {params['name']}")
        return str(net["id"])

    async def physical_network(self, zid: str, pn: dict[str, Any], basic: bool) -> None:
        # Marvin creates it with its name and isolation methods; the VLAN range comes with the update.
        net = _first(await self._do("createPhysicalNetwork", name=pn["name"], zoneid=zid,
                                         isolationmethods=pn.get("isolationmethods")), "physicalnetwork")
        nid = net["id"]
        for tt in pn.get("traffictypes", []):
            await self._do("addTrafficType", physicalnetworkid=nid, traffictype=tt["typ"],
                                kvmnetworklabel=tt.get("kvm"), simulatorlabel=tt.get("simulator"))
        for prov in pn.get("providers", []):
            await self.provider(nid, prov["name"])
        await self._do("updatePhysicalNetwork", id=nid, state="Enabled",
                            vlan=None if basic else pn.get("vlan"))
        self.say(f"  physical network {pn['name']}: {len(pn.get('traffictypes', []))} traffic types, "
                 f"{len(pn.get('providers', []))} providers")

    async def provider(self, nid: str, name: str) -> None:
        listed = await self._do("listNetworkServiceProviders", name=name, physicalnetworkid=nid)
        nsps = listed.get("networkserviceprovider", [])
        if not nsps:
            nsp = _first(await self._do("addNetworkServiceProvider", name=name, physicalnetworkid=nid),
                         "networkserviceprovider")
        else:
            nsp = nsps[0]
        if name in ("VirtualRouter", "VpcVirtualRouter"):
            for el in (await self._do("listVirtualRouterElements", nspid=nsp["id"])).get("virtualrouterelement", []):
                await self._do("configureVirtualRouterElement", id=el["id"], enabled=True)
        elif name == "InternalLbVm":
            for el in (await self._do("listInternalLoadBalancerElements", nspid=nsp["id"])).get(
                    "internalloadbalancerelement", []):
                await self._do("configureInternalLoadBalancerElement", id=el["id"], enabled=True)
        await self._do("updateNetworkServiceProvider", id=nsp["id"], state="Enabled")

    async def pod(self, zid: str, p: dict[str, Any], basic: bool, guest_net: str | None = None) -> None:
        pod = _first(await self._do("createPod", name=p["name"], zoneid=zid, gateway=p["gateway"],
                                         netmask=p["netmask"], startip=p["startip"], endip=p.get("endip")), "pod")
        pid = pod["id"]
        if basic:
            for r in p.get("guestIpRanges", []):
                await self._do("createVlanIpRange", podid=pid, zoneid=zid, forvirtualnetwork=False,
                                    gateway=r["gateway"], netmask=r["netmask"], startip=r["startip"], endip=r["endip"],
                                    networkid=guest_net)
        for c in p.get("clusters", []):
            await self.cluster(zid, pid, c)
        self.say(f"  pod {p['name']}: {len(p.get('clusters', []))} clusters")

    async def cluster(self, zid: str, pid: str, c: dict[str, Any]) -> None:
        cl = _first(await self._do("addCluster", clustername=c["clustername"], clustertype=c.get("clustertype",
                    "CloudManaged"), hypervisor=c.get("hypervisor", "Simulator"), zoneid=zid, podid=pid), "cluster")
        cid = cl["id"]
        hosts = []
        for h in c.get("hosts", []):
            host = _first(await self._do("addHost", zoneid=zid, podid=pid, clusterid=cid,
                                              hypervisor=c.get("hypervisor", "Simulator"), url=h["url"],
                                              username=h.get("username"), password=h.get("password")), "host")
            hosts.append(host["id"])
        self.created["hosts"] += hosts
        await self.wait_hosts_up(hosts)
        for ps in c.get("primaryStorages", []):
            await self._do("createStoragePool", name=ps["name"], url=ps["url"], zoneid=zid, podid=pid,
                                clusterid=cid, scope=ps.get("scope"), tags=ps.get("tags"))
        self.say(f"    cluster {c['clustername']}: {len(hosts)} hosts Up, "
                 f"{len(c.get('primaryStorages', []))} primary storage pools")

    async def wait_hosts_up(self, ids: list[str]) -> None:
        deadline = time.monotonic() + self.host_timeout_s
        pending = set(ids)
        while pending:
            for hid in list(pending):
                h = (await self._do("listHosts", id=hid)).get("host", [])
                if h and h[0]["state"] == "Up":
                    pending.discard(hid)
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"hosts not Up after {self.host_timeout_s}s: {sorted(pending)}")
                await asyncio.sleep(0.2)


async def deploy_file(path: Path, api: ApiClient, say: Callable[[str], None] = print) -> dict[str, list[str]]:
    return await Deployer(api, say).deploy(load_config(path))
