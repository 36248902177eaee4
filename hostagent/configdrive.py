"""Config drive images carrying a VM's user data and SSH keys.

The image is an ISO 9660 filesystem (Rock Ridge + Joliet) labelled `config-2`, the
OpenStack config-drive layout that cloud-init's ConfigDrive datasource reads and that
CloudStack's own config drives use:

    openstack/latest/meta_data.json     uuid, name, hostname, public_keys (key-0, ...)
    openstack/latest/user_data          the user data, as given (when there is some)
    cloudstack/userdata/user_data.txt   the same bytes, CloudStack's path
    cloudstack/metadata/public-keys.txt the SSH keys, one a line (when there are some)

It is built with `genisoimage` (Debian package `genisoimage`); `mkisofs` or
`xorrisofs` (package `xorriso`) are accepted as drop-in alternatives. Without any
of them `build` raises ToolMissing rather than starting a VM without its user data.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path

from cloudplane.hostagent.errors import AgentError, ToolMissing
from cloudplane.hostagent.proc import run
from cloudplane.hostagent.spec import VmSpec

LABEL = "config-2"
ISO_TOOLS = ("genisoimage", "mkisofs", "xorrisofs")


def files(spec: VmSpec) -> dict[str, bytes]:
    """Relative path -> content of every file on the drive."""
    if not spec.needs_config_drive:
        raise ValueError(f"{spec.name} has no user data and no SSH keys")
    meta: dict[str, object] = {"uuid": spec.uuid, "name": spec.name, "launch_index": 0,
                               "hostname": spec.hostname or spec.name}
    out: dict[str, bytes] = {}
    if spec.public_keys:
        meta["public_keys"] = {f"key-{i}": key for i, key in enumerate(spec.public_keys)}
        out["cloudstack/metadata/public-keys.txt"] = "\n".join(spec.public_keys).encode() + b"\n"
    if spec.user_data is not None:
        out["openstack/latest/user_data"] = spec.user_data
        out["cloudstack/userdata/user_data.txt"] = spec.user_data
    out["openstack/latest/meta_data.json"] = json.dumps(meta, sort_keys=True).encode()
    return out


def iso_tool() -> str | None:
    """The first ISO builder found on PATH, or None."""
    for tool in ISO_TOOLS:
        path = shutil.which(tool)
        if path is not None:
            return path
    return None


def image_path(directory: Path, vm_name: str) -> Path:
    return directory / f"{vm_name}-configdrive.iso"


def _stage(content: dict[str, bytes], staging: Path) -> None:
    for rel, data in content.items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


async def build(spec: VmSpec, directory: Path) -> Path:
    """Write `spec`'s config drive into `directory` (atomically) and return its path."""
    tool = iso_tool()
    if tool is None:
        raise ToolMissing(f"building a config drive needs one of {', '.join(ISO_TOOLS)} (Debian package genisoimage)")
    out = image_path(directory, spec.name)
    content = files(spec)
    with tempfile.TemporaryDirectory(prefix="cp-configdrive-") as tmp:
        staging = Path(tmp) / "root"
        await asyncio.to_thread(_stage, content, staging)
        partial = Path(tmp) / "drive.iso"
        argv = [tool, "-quiet", "-o", str(partial), "-V", LABEL, "-input-charset", "utf-8", "-J", "-R", str(staging)]
        result = await run(argv, timeout_s=60.0)
        if not result.ok:
            raise AgentError(f"config drive for {spec.name}: {result.describe()}")
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, partial, out.with_suffix(".tmp"))
        await asyncio.to_thread(os.replace, out.with_suffix(".tmp"), out)
    return out


async def remove(directory: Path, vm_name: str) -> None:
    await asyncio.to_thread(image_path(directory, vm_name).unlink, missing_ok=True)
