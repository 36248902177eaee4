"""The nftables commands, without running nft (test_firewall.py runs them)."""

from __future__ import annotations

import json

from cloudplane.hostagent import nftrules
from cloudplane.hostagent.spec import NicRules, Protocol, SecurityRule


def rules(**kwargs: object) -> NicRules:
    return NicRules("i-2-10-VM", 0, "02:00:00:00:00:01", "10.1.1.10", **kwargs)  # type: ignore[arg-type]


def _adds(commands: list[nftrules.Command], kind: str) -> list[dict[str, object]]:
    return [c["add"][kind] for c in commands if "add" in c and kind in c["add"]]


def test_base_commands() -> None:
    commands = nftrules.base_commands()
    (chain,) = _adds(commands, "chain")
    assert (chain["name"], chain["hook"], chain["policy"]) == ("forward", "forward", "accept")
    assert {m["name"] for m in _adds(commands, "map")} == {"vm_in", "vm_in6", "vm_out", "vm_out6"}
    assert {"flush": {"chain": {"family": "inet", "table": "cloudplane", "name": "forward"}}} in commands
    base_rules = _adds(commands, "rule")
    assert base_rules[0]["expr"][0]["match"]["left"] == {"ct": {"key": "state"}}  # type: ignore[index]
    # egress dispatch comes before ingress dispatch
    vmaps = [r["expr"][0]["vmap"]["data"] for r in base_rules[1:]]  # type: ignore[index]
    assert vmaps == ["@vm_out", "@vm_out6", "@vm_in", "@vm_in6"]


def test_rule_exprs() -> None:
    tcp = nftrules.rule_exprs(SecurityRule(Protocol.TCP, "10.0.0.0/8", 8000, 8080), ingress=True)
    assert tcp == [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": {"range": [8000, 8080]}}},
        {"accept": None},
    ]
    udp = nftrules.rule_exprs(SecurityRule(Protocol.UDP, "0.0.0.0/0", 53), ingress=False)
    assert udp[0] == {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}
    assert udp[1]["match"]["right"] == 53 and udp[-1] == {"return": None}
    icmp6 = nftrules.rule_exprs(SecurityRule(Protocol.ICMP, "2001:db8::/32", icmp_type=128, icmp_code=0), ingress=True)
    assert icmp6[0]["match"]["left"] == {"payload": {"protocol": "ip6", "field": "saddr"}}
    assert icmp6[1]["match"]["left"] == {"payload": {"protocol": "icmpv6", "field": "type"}}
    assert icmp6[2]["match"]["right"] == 0
    any_icmp = nftrules.rule_exprs(SecurityRule(Protocol.ICMP), ingress=True)
    assert any_icmp[1] == {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}
    assert len(nftrules.rule_exprs(SecurityRule(Protocol.ALL, "10.1.0.0/16"), ingress=True)) == 2


def test_nic_commands_fresh() -> None:
    commands = nftrules.nic_commands(rules(ingress=[SecurityRule(Protocol.TCP, port_start=22)]), nftrules.Current())
    assert {c["name"] for c in _adds(commands, "chain")} == {"in-i-2-10-VM-0", "out-i-2-10-VM-0"}
    by_chain: dict[str, list[object]] = {}
    for rule in _adds(commands, "rule"):
        by_chain.setdefault(str(rule["chain"]), []).append(rule["expr"])
    assert by_chain["in-i-2-10-VM-0"][-1] == [{"drop": None}]  # default deny ingress
    assert "out-i-2-10-VM-0" not in by_chain  # allow-all egress: an empty chain
    elements = {(e["name"], json.dumps(e["elem"])) for e in _adds(commands, "element")}
    assert elements == {
        ("vm_in", json.dumps([["10.1.1.10", {"jump": {"target": "in-i-2-10-VM-0"}}]])),
        ("vm_out", json.dumps([["10.1.1.10", {"jump": {"target": "out-i-2-10-VM-0"}}]])),
    }
    assert not [c for c in commands if "delete" in c]


def test_nic_commands_replace_stale_entries() -> None:
    current = nftrules.Current(
        exists=True,
        chains={"forward", "in-i-2-10-VM-0", "out-i-2-10-VM-0", "in-i-2-11-VM-0"},
        elements={"vm_in": {"10.1.1.9": "in-i-2-10-VM-0", "10.1.1.10": "in-i-2-11-VM-0", "10.1.1.11": "in-i-2-11-VM-0"},
                  "vm_out": {"10.1.1.9": "out-i-2-10-VM-0"}},
    )
    commands = nftrules.nic_commands(rules(egress=[], extra_ips=["2001:db8::10"]), current)
    deletes = [c["delete"]["element"] for c in commands if "delete" in c]
    # the NIC's old address and the address it takes over from another NIC
    assert deletes == [
        {"family": "inet", "table": "cloudplane", "name": "vm_in", "elem": ["10.1.1.10", "10.1.1.9"]},
        {"family": "inet", "table": "cloudplane", "name": "vm_out", "elem": ["10.1.1.9"]},
    ]
    out_rules = [r["expr"] for r in _adds(commands, "rule") if r["chain"] == "out-i-2-10-VM-0"]
    assert out_rules == [[{"drop": None}]]  # egress=[]: deny all outbound
    assert {e["name"] for e in _adds(commands, "element")} == {"vm_in", "vm_out", "vm_in6", "vm_out6"}


def test_removal_and_keys() -> None:
    current = nftrules.Current(
        exists=True,
        chains={"forward", "in-vm-0", "out-vm-0", "in-vm-1", "out-vm-1", "in-vm-1-0", "out-vm-1-0"},
        elements={"vm_in": {"10.0.0.1": "in-vm-0", "10.0.0.2": "in-vm-1-0"}},
    )
    assert nftrules.nic_keys(current, "vm") == {"vm-0", "vm-1"}
    assert nftrules.nic_keys(current, "vm-1") == {"vm-1-0"}
    commands = nftrules.removal_commands("vm-0", current)
    element = {"family": "inet", "table": "cloudplane", "name": "vm_in", "elem": ["10.0.0.1"]}
    assert commands[0] == {"delete": {"element": element}}
    assert [list(c) for c in commands[1:]] == [["flush"], ["delete"], ["flush"], ["delete"]]
    assert nftrules.removal_commands("gone-0", current) == []


def test_parse_listing() -> None:
    listing = {"nftables": [
        {"metainfo": {"json_schema_version": 1}},
        {"table": {"family": "inet", "name": "cloudplane"}},
        {"map": {"name": "vm_in", "type": "ipv4_addr", "map": "verdict",
                 "elem": [["10.0.0.2", {"jump": {"target": "in-x-0"}}]]}},
        {"map": {"name": "vm_out", "type": "ipv4_addr", "map": "verdict"}},
        {"chain": {"name": "forward"}}, {"chain": {"name": "in-x-0"}},
        {"rule": {"chain": "in-x-0", "expr": [{"drop": None}]}},
    ]}
    current = nftrules.parse_listing(json.dumps(listing))
    assert current.exists and current.chains == {"forward", "in-x-0"}
    assert current.elements == {"vm_in": {"10.0.0.2": "in-x-0"}, "vm_out": {}}
    assert not nftrules.parse_listing('{"nftables": []}').exists
