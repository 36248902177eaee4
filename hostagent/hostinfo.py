"""Host capacity from what libvirt reports. Pure: the driver fetches, this interprets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from cloudplane.hostagent.spec import HostCapacity

# Pool types whose storage is on this host (counted as local storage). netfs, iscsi,
# rbd, gluster and friends are shared primary storage and reported by the pool itself.
LOCAL_POOL_TYPES = frozenset({"dir", "fs", "logical", "disk", "zfs"})


def version_string(version: int) -> str:
    """libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release."""
    return f"{version // 1_000_000}.{version // 1_000 % 1_000}.{version % 1_000}"


def host_capacity(
    info: Sequence[Any],
    capabilities_xml: str,
    hypervisor_version: int,
    local_storage_bytes: int,
) -> HostCapacity:
    """Combine `virConnectGetInfo` (model, memory MiB, cpus, mhz, nodes, sockets per
    node, cores per socket, threads per core) with the capabilities XML."""
    memory_mib, cpus, mhz, nodes, sockets, cores = (int(info[i]) for i in range(1, 7))
    caps = ET.fromstring(capabilities_xml)
    arch = caps.findtext("host/cpu/arch", default="unknown")
    topology_cpus = caps.findall("host/topology/cells/cell/cpus/cpu")
    total_sockets = max(nodes, 1) * max(sockets, 1)
    return HostCapacity(
        cpu_sockets=total_sockets,
        cpu_cores=total_sockets * max(cores, 1),
        cpus=len(topology_cpus) or cpus,
        cpu_mhz=mhz,
        memory_bytes=memory_mib * 2**20,
        hypervisor_version=version_string(hypervisor_version),
        local_storage_bytes=local_storage_bytes,
        arch=arch,
    )
