"""libvirt storage pool and volume XML. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from cloudplane.hostagent.spec import DiskFormat


def _to_string(element: ET.Element) -> str:
    ET.indent(element)
    return ET.tostring(element, encoding="unicode")


def _pool(kind: str, name: str, path: str) -> tuple[ET.Element, ET.Element]:
    if not name or "/" in name:
        raise ValueError(f"bad pool name {name!r}")
    if not path.startswith("/"):
        raise ValueError(f"pool {name}: target path must be absolute, got {path!r}")
    root = ET.Element("pool", {"type": kind})
    ET.SubElement(root, "name").text = name
    source = ET.SubElement(root, "source")
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "path").text = path
    return root, source


def pool_dir_xml(name: str, path: str) -> str:
    """A directory pool: local primary storage."""
    root, _ = _pool("dir", name, path)
    return _to_string(root)


def pool_netfs_xml(name: str, host: str, export: str, path: str) -> str:
    """An NFS pool: `host:export` mounted on `path` (shared primary storage)."""
    if not host or not export.startswith("/"):
        raise ValueError(f"pool {name}: need an NFS host and an absolute export, got {host!r}:{export!r}")
    root, source = _pool("netfs", name, path)
    ET.SubElement(source, "host", {"name": host})
    ET.SubElement(source, "dir", {"path": export})
    ET.SubElement(source, "format", {"type": "nfs"})
    return _to_string(root)


def volume_xml(
    name: str,
    size_bytes: int,
    fmt: DiskFormat,
    backing: str | None = None,
    backing_format: DiskFormat = DiskFormat.QCOW2,
) -> str:
    """A volume of `size_bytes` virtual size; a qcow2 volume may be an overlay on `backing`."""
    if not name or "/" in name:
        raise ValueError(f"bad volume name {name!r}")
    if size_bytes <= 0:
        raise ValueError(f"volume {name}: size must be positive, got {size_bytes}")
    if backing is not None and fmt is not DiskFormat.QCOW2:
        raise ValueError(f"volume {name}: only qcow2 volumes can have a backing file")
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", {"unit": "bytes"}).text = str(size_bytes)
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", {"type": fmt.value})
    if backing is not None:
        store = ET.SubElement(root, "backingStore")
        ET.SubElement(store, "path").text = backing
        ET.SubElement(store, "format", {"type": backing_format.value})
    return _to_string(root)


@dataclass(frozen=True, slots=True)
class PoolInfo:
    name: str
    type: str
    target_path: str


def parse_pool(xml: str) -> PoolInfo:
    root = ET.fromstring(xml)
    return PoolInfo(
        name=root.findtext("name", default=""),
        type=root.get("type", ""),
        target_path=root.findtext("target/path", default=""),
    )
