from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cloudplane.hostagent import configdrive
from cloudplane.hostagent.errors import ToolMissing
from cloudplane.hostagent.spec import VmSpec

USER_DATA = b"#cloud-config\nhostname: web-1\n"


def spec(user_data: bytes | None = USER_DATA) -> VmSpec:
    return VmSpec("i-2-10-VM", "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e", 1, 1000, 256, user_data=user_data)


def test_files() -> None:
    files = configdrive.files(spec())
    assert files["openstack/latest/user_data"] == USER_DATA
    assert files["cloudstack/userdata/user_data.txt"] == USER_DATA
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["uuid"] == "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e" and meta["hostname"] == "i-2-10-VM"
    with pytest.raises(ValueError):
        configdrive.files(spec(None))


def test_ssh_keys_alone_make_a_drive() -> None:
    keys = ("ssh-ed25519 AAAA a@x", "ssh-rsa BBBB b@y")
    files = configdrive.files(VmSpec("i-2-10-VM", "6f1c9a7e-2b1d-4c1e-9d55-0b8f2a1c3d4e", 1, 1000, 256,
                                     public_keys=keys, hostname="web-1"))
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["public_keys"] == {"key-0": keys[0], "key-1": keys[1]} and meta["hostname"] == "web-1"
    assert files["cloudstack/metadata/public-keys.txt"] == b"ssh-ed25519 AAAA a@x\nssh-rsa BBBB b@y\n"
    assert "openstack/latest/user_data" not in files


def _volume_label(iso: Path) -> str:
    """The ISO 9660 primary volume descriptor sits in sector 16; its volume id at bytes 40..72."""
    with iso.open("rb") as f:
        f.seek(16 * 2048)
        pvd = f.read(2048)
    assert pvd[1:6] == b"CD001"
    return pvd[40:72].decode("ascii").strip()


async def test_build(tmp_path: Path) -> None:
    if configdrive.iso_tool() is None:
        pytest.skip("no ISO builder installed (Debian package genisoimage)")
    image = await configdrive.build(spec(), tmp_path / "drives")
    assert image == tmp_path / "drives" / "i-2-10-VM-configdrive.iso"
    assert _volume_label(image) == "config-2"
    if shutil.which("isoinfo") is not None:  # ships with genisoimage
        listing = subprocess.run(["isoinfo", "-R", "-f", "-i", str(image)], capture_output=True, check=True).stdout
        assert b"/openstack/latest/user_data" in listing.splitlines()
        content = subprocess.run(["isoinfo", "-R", "-x", "/openstack/latest/user_data", "-i", str(image)],
                                 capture_output=True, check=True).stdout
        assert content == USER_DATA
    await configdrive.build(spec(b"again"), tmp_path / "drives")  # rebuilt in place
    await configdrive.remove(tmp_path / "drives", "i-2-10-VM")
    assert not image.exists()
    await configdrive.remove(tmp_path / "drives", "i-2-10-VM")


async def test_missing_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(ToolMissing, match="genisoimage"):
        await configdrive.build(spec(), tmp_path)
