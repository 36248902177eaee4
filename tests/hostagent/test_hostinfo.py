from __future__ import annotations

from cloudplane.hostagent.hostinfo import host_capacity, version_string

CAPS = """<capabilities><host><cpu><arch>x86_64</arch></cpu>
<topology><cells num='1'><cell id='0'><cpus num='4'>
  <cpu id='0'/><cpu id='1'/><cpu id='2'/><cpu id='3'/>
</cpus></cell></cells></topology></host></capabilities>"""


def test_version_string() -> None:
    assert version_string(9000000) == "9.0.0"
    assert version_string(7002017) == "7.2.17"


def test_host_capacity() -> None:
    cap = host_capacity(["x86_64", 24000, 4, 2445, 1, 1, 2, 2], CAPS, 7002000, 10**12)
    assert (cap.cpu_sockets, cap.cpu_cores, cap.cpus, cap.cpu_mhz) == (1, 2, 4, 2445)
    assert (cap.memory_bytes, cap.hypervisor_version, cap.local_storage_bytes, cap.arch) == (
        24000 * 2**20, "7.2.0", 10**12, "x86_64")
    # no topology in the capabilities: fall back to getInfo's CPU count
    bare = host_capacity(["x86_64", 1024, 6, 1000, 1, 1, 6, 1], "<capabilities/>", 1, 0)
    assert (bare.cpus, bare.arch) == (6, "unknown")
