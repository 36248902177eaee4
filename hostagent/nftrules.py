"""Security groups as nftables JSON commands. Pure: `firewall.py` runs them.

One table, `inet cloudplane`, filtering bridged traffic at the forward hook (the
bridges have br_netfilter on, see `network.set_bridge_netfilter`, so their IPv4/IPv6
packets pass the inet hooks with conntrack):

    chain forward (hook forward, policy accept)
        ct state established,related accept
        ip  saddr vmap @vm_out / ip6 saddr vmap @vm_out6    -> jump out-<vm>-<nic>
        ip  daddr vmap @vm_in  / ip6 daddr vmap @vm_in6     -> jump in-<vm>-<nic>
    chain in-<vm>-<nic>     allow rules (accept) ... then drop          default-deny ingress
    chain out-<vm>-<nic>    empty (allow all), or allow rules (return) ... then drop

Egress allows `return` rather than accept, so traffic between two guests on this host
still meets the receiver's ingress chain. Keys of the maps are the NIC's IPs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from cloudplane.hostagent.spec import NicRules, Protocol, SecurityRule

FAMILY = "inet"
TABLE = "cloudplane"
BASE_CHAIN = "forward"
# map name -> (address type, payload protocol, payload field)
MAPS: dict[str, tuple[str, str, str]] = {
    "vm_out": ("ipv4_addr", "ip", "saddr"),
    "vm_out6": ("ipv6_addr", "ip6", "saddr"),
    "vm_in": ("ipv4_addr", "ip", "daddr"),
    "vm_in6": ("ipv6_addr", "ip6", "daddr"),
}

Command = dict[str, Any]


def in_chain(key: str) -> str:
    return f"in-{key}"


def out_chain(key: str) -> str:
    return f"out-{key}"


def _obj(kind: str, **attrs: Any) -> dict[str, Any]:
    return {kind: {"family": FAMILY, "table": TABLE, **attrs}}


def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol: str, name: str) -> dict[str, Any]:
    return {"payload": {"protocol": protocol, "field": name}}


def _rule(chain: str, exprs: list[dict[str, Any]]) -> Command:
    return {"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "expr": exprs}}}


def base_commands() -> list[Command]:
    """The table, its maps and the dispatching base chain; safe to send every time."""
    commands: list[Command] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
    for name, (addr_type, _, _) in MAPS.items():
        commands.append({"add": _obj("map", name=name, type=addr_type, map="verdict")})
    commands.append({"add": _obj("chain", name=BASE_CHAIN, type="filter", hook="forward", prio=0, policy="accept")})
    commands.append({"flush": _obj("chain", name=BASE_CHAIN)})
    established = _match({"ct": {"key": "state"}}, ["established", "related"], op="in")
    commands.append(_rule(BASE_CHAIN, [established, {"accept": None}]))
    for name, (_, protocol, direction) in MAPS.items():
        commands.append(_rule(BASE_CHAIN, [{"vmap": {"key": _payload(protocol, direction), "data": f"@{name}"}}]))
    return commands


def rule_exprs(rule: SecurityRule, *, ingress: bool) -> list[dict[str, Any]]:
    """Match expressions plus verdict for one allow rule."""
    net = rule.network
    v4 = net.version == 4
    exprs: list[dict[str, Any]] = []
    if net.prefixlen:
        peer = "saddr" if ingress else "daddr"
        prefix = {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}
        exprs.append(_match(_payload("ip" if v4 else "ip6", peer), prefix))
    else:
        exprs.append(_match({"meta": {"key": "nfproto"}}, "ipv4" if v4 else "ipv6"))
    if rule.protocol in (Protocol.TCP, Protocol.UDP):
        assert rule.port_start is not None and rule.port_end is not None  # SecurityRule guarantees it
        ports: Any = rule.port_start
        if rule.port_start != rule.port_end:
            ports = {"range": [rule.port_start, rule.port_end]}
        exprs.append(_match(_payload(rule.protocol.value, "dport"), ports))
    elif rule.protocol is Protocol.ICMP:
        icmp = "icmp" if v4 else "icmpv6"
        if rule.icmp_type == -1:
            exprs.append(_match({"meta": {"key": "l4proto"}}, icmp))
        else:
            exprs.append(_match(_payload(icmp, "type"), rule.icmp_type))
            if rule.icmp_code != -1:
                exprs.append(_match(_payload(icmp, "code"), rule.icmp_code))
    exprs.append({"accept": None} if ingress else {"return": None})
    return exprs


@dataclass
class Current:
    """What the table holds now: chain names and each map's address -> jump target."""

    exists: bool = False
    chains: set[str] = field(default_factory=set)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_listing(text: str) -> Current:
    """Read `nft -j list table inet cloudplane` output."""
    current = Current()
    for item in json.loads(text).get("nftables", []):
        if "table" in item:
            current.exists = True
        elif "chain" in item:
            current.chains.add(item["chain"]["name"])
        elif "map" in item:
            elems = current.elements.setdefault(item["map"]["name"], {})
            for key, verdict in item["map"].get("elem", []):
                target = verdict.get("jump", {}).get("target") if isinstance(verdict, dict) else None
                if isinstance(key, str) and target is not None:
                    elems[key] = target
    return current


def _map_for(address: str, ingress: bool) -> str:
    v6 = ip_address(address).version == 6
    return ("vm_in" if ingress else "vm_out") + ("6" if v6 else "")


def _drop_elements(current: Current, wanted: set[tuple[str, str]], chains: set[str]) -> list[Command]:
    """Delete elements that point at `chains` or whose (map, address) is in `wanted`."""
    commands: list[Command] = []
    for map_name, elems in sorted(current.elements.items()):
        stale = [addr for addr, target in sorted(elems.items()) if target in chains or (map_name, addr) in wanted]
        if stale:
            commands.append({"delete": _obj("element", name=map_name, elem=stale)})
    return commands


def nic_commands(rules: NicRules, current: Current) -> list[Command]:
    """Replace the NIC's chains and map entries with `rules`, in one transaction."""
    cin, cout = in_chain(rules.key), out_chain(rules.key)
    addresses = (rules.ip, *rules.extra_ips)
    wanted = {(_map_for(a, ingress), a) for a in addresses for ingress in (True, False)}
    commands = _drop_elements(current, wanted, {cin, cout})
    for chain in (cin, cout):
        commands.append({"add": _obj("chain", name=chain)})
        commands.append({"flush": _obj("chain", name=chain)})
    for rule in rules.ingress:
        commands.append(_rule(cin, rule_exprs(rule, ingress=True)))
    commands.append(_rule(cin, [{"drop": None}]))
    if rules.egress is not None:
        for rule in rules.egress:
            commands.append(_rule(cout, rule_exprs(rule, ingress=False)))
        commands.append(_rule(cout, [{"drop": None}]))
    for address in addresses:
        for ingress, chain in ((True, cin), (False, cout)):
            elem = [[address, {"jump": {"target": chain}}]]
            commands.append({"add": _obj("element", name=_map_for(address, ingress), elem=elem)})
    return commands


def removal_commands(key: str, current: Current) -> list[Command]:
    """Remove a NIC's map entries and chains (nothing for what is already gone)."""
    chains = {in_chain(key), out_chain(key)} & current.chains
    commands = _drop_elements(current, set(), {in_chain(key), out_chain(key)})
    for chain in sorted(chains):
        commands.append({"flush": _obj("chain", name=chain)})
        commands.append({"delete": _obj("chain", name=chain)})
    return commands


def nic_keys(current: Current, vm_name: str) -> set[str]:
    """Keys (`<vm>-<device id>`) of the NIC chains that belong to `vm_name`."""
    keys: set[str] = set()
    for chain in current.chains:
        for prefix in (in_chain(vm_name) + "-", out_chain(vm_name) + "-"):
            if chain.startswith(prefix) and chain[len(prefix):].isdigit():
                keys.add(f"{vm_name}-{chain[len(prefix):]}")
    return keys
