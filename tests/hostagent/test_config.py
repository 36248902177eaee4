"""The agent's configuration file: properties and TOML, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudplane.hostagent.config import ConfigError, load, parse_properties, server_url

HOST = "5c8e6a43-1f4b-4f57-9a53-2d1b1c0f8a11"
PEER = "0b5b0a46-8a52-4f3c-bb33-7c7ec7e0c6b1"


def test_server_urls() -> None:
    assert server_url("ws://10.0.0.5:8080/agent") == "ws://10.0.0.5:8080/agent"
    assert server_url("10.0.0.5") == "ws://10.0.0.5:8080/agent"
    assert server_url("mgmt.example:9000") == "ws://mgmt.example:9000/agent"
    assert server_url("wss://mgmt.example/") == "wss://mgmt.example/agent"
    with pytest.raises(ConfigError):
        server_url("http://mgmt.example/agent")


def test_properties_syntax() -> None:
    props = parse_properties("# comment\n! also a comment\n\nservers = ws://a:1/agent\nhost.id:abc\n")
    assert props == {"servers": "ws://a:1/agent", "host.id": "abc"}
    with pytest.raises(ConfigError, match="line 1"):
        parse_properties("no separator here")


def test_properties_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    path = tmp_path / "agent.properties"
    path.write_text(f"""
servers=10.0.0.5,ws://10.0.0.6:8080/agent
host.id={HOST}
host.token.file=token
domain.type=qemu
guest.network.device=br-guest
local.storage.path=/var/lib/cloudplane/local
migration.peers={PEER}=10.0.0.7
vxlan.device=eth1
vxlan.local.ip=10.0.1.5
vxlan.group=239.1.1.1
backoff.cap=10
tls.verify=false
""")
    cfg = load(path)
    assert cfg.servers == ("ws://10.0.0.5:8080/agent", "ws://10.0.0.6:8080/agent")
    assert cfg.host_id == HOST and cfg.token == "s3cret"
    assert cfg.domain_type == "qemu" and cfg.libvirt_uri == "qemu:///system"
    assert cfg.labels.guest == "br-guest" and cfg.labels.public == "cloudbr0"
    assert cfg.pool == "cloudplane-local" and cfg.pool_path == "/var/lib/cloudplane/local"
    assert dict(cfg.peers) == {PEER: "10.0.0.7"}
    assert cfg.vxlan is not None and cfg.vxlan.group == "239.1.1.1"
    assert cfg.backoff_cap_s == 10 and cfg.backoff_base_s == 0.5
    assert cfg.tls.verify is False
    assert cfg.stop_timeout_s == 20 and cfg.reserved_mem_mb == 1024


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f"""
servers = ["ws://10.0.0.5:8080/agent"]
[host]
id = "{HOST}"
token = "t"
[libvirt]
uri = "qemu+tcp://127.0.0.1/system"
[stop]
timeout = 5
""")
    cfg = load(path)
    assert cfg.servers == ("ws://10.0.0.5:8080/agent",)
    assert cfg.libvirt_uri == "qemu+tcp://127.0.0.1/system" and cfg.stop_timeout_s == 5


@pytest.mark.parametrize("text, message", [
    ("host.id=x\nhost.token=t\n", "servers is required"),
    (f"servers=a\nhost.id={HOST}\n", "host.token"),
    ("servers=a\nhost.id=not-a-uuid\nhost.token=t\n", "host.id must be"),
    (f"servers=a\nhost.id={HOST}\nhost.token=t\ndomain.type=xen\n", "domain.type"),
    (f"servers=a\nhost.id={HOST}\nhost.token=t\nhost.tokn=t\n", "unknown configuration keys: host.tokn"),
    (f"servers=a\nhost.id={HOST}\nhost.token=t\nvxlan.device=eth1\n", "vxlan.device needs"),
    (f"servers=a\nhost.id={HOST}\nhost.token=t\nbackoff.base=5\nbackoff.cap=1\n", "backoff"),
    (f"servers=a\nhost.id={HOST}\nhost.token=t\nstop.timeout=soon\n", "stop.timeout must be a number"),
    (f"servers=a\nhost.id={HOST}\nhost.token=t\nmigration.peers=x\n", "uuid=ip"),
])
def test_bad_configurations(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "agent.properties"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.properties")
