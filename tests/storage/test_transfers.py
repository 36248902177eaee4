"""uploadVolume and extractVolume through a live server: URL-based transfers,
simulated (nothing is fetched from or sent to the URLs, which are data), with
progress; an uploaded volume joins a VM like any other."""

from __future__ import annotations

from typing import Any

import cs
import pytest

from tests.storage.conftest import deploy, fixed_offering, pools_match_volumes
from tests.vms.conftest import Cloud, api_error, unique, wait_for

pytestmark = pytest.mark.ray


def test_upload_then_attach_then_extract(live_server: Any, root: cs.CloudStack, cloud: Cloud) -> None:
    offering = fixed_offering(root)
    up = root.uploadVolume(zoneid=cloud.zone, name=unique("up"), format="QCOW2", diskofferingid=offering["id"],
                           url="http://images.example.org/disks/data.qcow2")["volume"]
    assert up["state"] == "UploadOp" and up["status"].endswith("% Downloaded") and "storageid" not in up
    seen: set[str] = set()

    def uploaded() -> bool:
        v = root.listVolumes(id=up["id"])["volume"][0]
        seen.add(v["status"])
        return bool(v["state"] == "Uploaded")

    wait_for(uploaded, 30)
    assert "Download Complete" in seen and len(seen) >= 2  # it moved through progress to complete
    v = root.listVolumes(id=up["id"])["volume"][0]
    assert v["size"] == offering["disksize"] * 2**30

    for bad in ({"url": "http://127.0.0.1/d.qcow2"}, {"url": "file:///etc/passwd"}, {"format": "ISO"},
                {"url": "http://images.example.org/d.vhd"}):
        args = {"zoneid": cloud.zone, "name": "x", "format": "QCOW2", "url": "http://images.example.org/d.qcow2",
                **bad}
        assert api_error(root.uploadVolume, **args)["errorcode"] == 431, bad

    err = api_error(root.extractVolume, id=up["id"], zoneid=cloud.zone, mode="HTTP_DOWNLOAD")
    assert err["errorcode"] == 431 and "Ready" in err["errortext"]  # not on primary storage yet
    vm = deploy(root, cloud)
    att = root.attachVolume(id=up["id"], virtualmachineid=vm["id"])["volume"]
    assert att["state"] == "Ready" and att["storageid"] in cloud.pools
    pools_match_volumes(live_server)

    err = api_error(root.extractVolume, id=up["id"], zoneid=cloud.zone, mode="HTTP_DOWNLOAD")
    assert err["errorcode"] == 431 and "running VM" in err["errortext"]
    root.stopVirtualMachine(id=vm["id"])
    ex = root.extractVolume(id=up["id"], zoneid=cloud.zone, mode="HTTP_DOWNLOAD")["volume"]
    assert ex["state"] == "DOWNLOAD_URL_CREATED" and ex["url"].startswith("http://") and ex["uploadpercentage"] == 100
    assert ex["zoneid"] == cloud.zone and ex["extractMode"] == "HTTP_DOWNLOAD"
    ftp = root.extractVolume(id=up["id"], zoneid=cloud.zone, mode="FTP_UPLOAD",
                             url="ftp://backup.example.org/vols/x.qcow2")["volume"]
    assert ftp["url"] == "ftp://backup.example.org/vols/x.qcow2" and ftp["state"] == "UPLOADED"
    assert api_error(root.extractVolume, id=up["id"], zoneid=cloud.zone, mode="SCP")["errorcode"] == 431
