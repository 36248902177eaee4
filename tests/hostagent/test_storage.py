"""Storage pools and volumes through LibvirtDriver, against libvirt's test driver, and
the pure pieces (pool/volume XML, image probing)."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cloudplane.hostagent import images
from cloudplane.hostagent.errors import InvalidState, NotFound, Unsupported
from cloudplane.hostagent.spec import DiskFormat
from cloudplane.hostagent.storagexml import parse_pool, pool_dir_xml, pool_netfs_xml, volume_xml

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (the project's `agent` extra)")

from cloudplane.hostagent.driver import LibvirtDriver  # noqa: E402

NODE_XML = "<node><memory>4194304</memory></node>"


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    node = tmp_path / "node.xml"
    node.write_text(NODE_XML)
    async with await LibvirtDriver.open(f"test://{node}") as drv:
        yield drv


async def test_dir_pool_is_idempotent_and_checked(driver: LibvirtDriver) -> None:
    await driver.create_pool_dir("local", "/var/lib/cloudplane/local")
    await driver.create_pool_dir("local", "/var/lib/cloudplane/local")
    with pytest.raises(InvalidState, match="exists as dir on /var/lib/cloudplane/local"):
        await driver.create_pool_dir("local", "/elsewhere")
    assert (await driver.capacity()).local_storage_bytes > 0
    await driver.delete_pool("local")
    await driver.delete_pool("local")  # already gone
    assert (await driver.capacity()).local_storage_bytes == 0


async def test_netfs_pool_definition(driver: LibvirtDriver) -> None:
    # The test driver defines and "starts" it without mounting anything.
    await driver.create_pool_netfs("nfs1", "10.1.1.5", "/export/primary", "/mnt/nfs1")
    with pytest.raises(InvalidState):
        await driver.create_pool_dir("nfs1", "/mnt/nfs1")
    await driver.delete_pool("nfs1")


async def test_volumes(driver: LibvirtDriver) -> None:
    await driver.create_pool_dir("local", "/var/lib/cloudplane/local")
    path = await driver.create_volume("local", "tmpl.qcow2", 2**30, DiskFormat.QCOW2)
    assert path == "/var/lib/cloudplane/local/tmpl.qcow2"
    assert await driver.create_volume("local", "tmpl.qcow2", 2**30, DiskFormat.QCOW2) == path  # idempotent
    with pytest.raises(InvalidState, match="exists with 1073741824 bytes"):
        await driver.create_volume("local", "tmpl.qcow2", 2**31, DiskFormat.QCOW2)
    root = await driver.create_volume("local", "root-1.qcow2", 2**31, DiskFormat.QCOW2, backing=path)
    assert root.endswith("root-1.qcow2")
    await driver.delete_volume("local", "root-1.qcow2")
    await driver.delete_volume("local", "root-1.qcow2")  # already gone
    with pytest.raises(NotFound):
        await driver.create_volume("nopool", "x.raw", 1024, DiskFormat.RAW)


async def test_copy_template_through_the_upload_stream(driver: LibvirtDriver, tmp_path: Path) -> None:
    await driver.create_pool_dir("local", "/var/lib/cloudplane/local")
    template = tmp_path / "tmpl.qcow2"
    template.write_bytes(b"QFI\xfb" + bytes(20) + struct.pack(">Q", 2**30) + bytes(100))
    # The test driver has no virStorageVolUpload: the error is mapped and the volume
    # created for the copy is removed again.
    with pytest.raises(Unsupported, match="copy .*tmpl.qcow2 to local/t1"):
        await driver.copy_template(str(template), "local", "t1")
    await driver.create_volume("local", "t1", 2**30, DiskFormat.QCOW2)  # the name is free again
    with pytest.raises(NotFound, match="template /nonexistent"):
        await driver.copy_template("/nonexistent/x.qcow2", "local", "t2")


def test_pool_xml() -> None:
    d = ET.fromstring(pool_dir_xml("local", "/var/lib/cp"))
    assert (d.get("type"), d.findtext("name"), d.findtext("target/path")) == ("dir", "local", "/var/lib/cp")
    n = ET.fromstring(pool_netfs_xml("nfs1", "10.1.1.5", "/export", "/mnt/nfs1"))
    assert n.get("type") == "netfs"
    host, src_dir, fmt = n.find("source/host"), n.find("source/dir"), n.find("source/format")
    assert host is not None and host.get("name") == "10.1.1.5"
    assert src_dir is not None and src_dir.get("path") == "/export"
    assert fmt is not None and fmt.get("type") == "nfs"
    assert parse_pool(pool_netfs_xml("nfs1", "h", "/e", "/m")).target_path == "/m"
    bad_pools: list[Callable[[], str]] = [
        lambda: pool_dir_xml("a/b", "/x"), lambda: pool_dir_xml("a", "rel"),
        lambda: pool_netfs_xml("a", "", "/e", "/m"), lambda: pool_netfs_xml("a", "h", "e", "/m"),
    ]
    for bad in bad_pools:
        with pytest.raises(ValueError):
            bad()


def test_volume_xml() -> None:
    v = ET.fromstring(volume_xml("root.qcow2", 10 * 2**30, DiskFormat.QCOW2, backing="/p/tmpl.qcow2"))
    assert v.findtext("capacity") == str(10 * 2**30)
    fmt = v.find("target/format")
    assert fmt is not None and fmt.get("type") == "qcow2"
    assert v.findtext("backingStore/path") == "/p/tmpl.qcow2"
    assert ET.fromstring(volume_xml("d.raw", 1, DiskFormat.RAW)).find("backingStore") is None
    with pytest.raises(ValueError):
        volume_xml("d.raw", 1, DiskFormat.RAW, backing="/p/t")
    with pytest.raises(ValueError):
        volume_xml("d.raw", 0, DiskFormat.RAW)


def test_image_probe(tmp_path: Path) -> None:
    qcow = tmp_path / "a.qcow2"
    qcow.write_bytes(b"QFI\xfb" + bytes(20) + struct.pack(">Q", 5 * 2**30) + bytes(200))
    assert images.probe(qcow) == images.ImageInfo(DiskFormat.QCOW2, 5 * 2**30, 232)
    raw = tmp_path / "b.raw"
    raw.write_bytes(bytes(4096))
    assert images.probe(raw) == images.ImageInfo(DiskFormat.RAW, 4096, 4096)
