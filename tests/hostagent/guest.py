"""A tiny Linux guest for real-QEMU tests: Debian's kernel and a busybox initramfs.

The kernel comes from Debian's `linux-image-<version>-amd64` package, fetched
once with `apt-get download` and unpacked with `dpkg-deb` into a cache directory
(`$CLOUDPLANE_TEST_CACHE`, default ~/.cache/cloudplane-tests); only the kernel
and the two modules the guest loads are kept.

The initramfs (built per test session, ~1 MB) holds static busybox and an /init
that prints `BOOT-OK` on the serial console, then `alive <n>` every second, and
powers off when the ACPI power button is pressed (it loads `evdev` and `button`
and waits for an event on the "Power Button" input device), so a graceful
StopCommand can be told apart from a hard power-off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BOOT_MARK = "BOOT-OK"
POWER_MARK = "POWER-BUTTON"
MODULES = ("kernel/drivers/input/evdev.ko", "kernel/drivers/acpi/button.ko")
CMDLINE = "console=ttyS0 quiet panic=-1"

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
exec 0</dev/console 1>/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
insmod /lib/evdev.ko
insmod /lib/button.ko
for e in /sys/class/input/event*; do
    if grep -q "Power Button" "$e/device/name" 2>/dev/null; then
        n=/dev/input/${{e##*/}}  # evdev reads whole events: 24 bytes at least
        (while [ ! -e $n ]; do sleep 0.2; done
         dd if=$n of=/dev/null bs=24 count=1 2>/dev/null && echo {POWER_MARK} && poweroff -f) &
    fi
done
echo {BOOT_MARK}
i=0
while true; do i=$((i+1)); echo "alive $i"; sleep 1; done
"""


@dataclass(frozen=True)
class TinyGuest:
    kernel: Path
    initrd: Path
    cmdline: str = CMDLINE


def cache_dir() -> Path:
    return Path(os.environ.get("CLOUDPLANE_TEST_CACHE") or Path.home() / ".cache" / "cloudplane-tests")


def skip_reason() -> str | None:
    for tool, package in (("apt-get", "apt"), ("apt-cache", "apt"), ("dpkg-deb", "dpkg"),
                          ("cpio", "cpio"), ("busybox", "busybox-static")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    return None


def _kernel_package() -> str | None:
    """The versioned package behind Debian's `linux-image-amd64` meta-package."""
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True,
                         check=False).stdout
    found = re.search(r"Depends:\s*(linux-image-\S+-amd64)", out)
    return found.group(1) if found else None


def _download(package: str, work: Path) -> Path:
    """`apt-get download`, once more after `apt-get update` if the lists are stale."""
    for attempt in range(2):
        done = subprocess.run(["apt-get", "download", "-q", package], cwd=work, capture_output=True, text=True)
        debs = list(work.glob("*.deb"))
        if done.returncode == 0 and debs:
            return debs[0]
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
    raise RuntimeError(f"apt-get download {package} failed: {done.stderr.strip()[-500:]}")


def _fetch_kernel(dest: Path) -> tuple[Path, list[Path]]:
    package = _kernel_package()
    if package is None:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        package = _kernel_package()
    if package is None:
        raise RuntimeError("apt knows no linux-image-amd64 package")
    version = package.removeprefix("linux-image-")
    kdir = dest / version
    kernel = kdir / f"vmlinuz-{version}"
    modules = [kdir / Path(m).name for m in MODULES]
    if kernel.exists() and all(m.exists() for m in modules):
        return kernel, modules
    work = dest / f"download-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        deb = _download(package, work)
        unpacked = work / "x"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        kdir.mkdir(parents=True, exist_ok=True)
        sources = [unpacked / "lib" / "modules" / version / m for m in MODULES]
        # Each file appears whole (copy, then rename), the kernel last: another test run
        # sharing the cache either sees a complete set or downloads its own.
        for source, target in [*zip(sources, modules, strict=True), (unpacked / "boot" / kernel.name, kernel)]:
            partial = work / f"{target.name}.partial"
            shutil.copy(source, partial)
            partial.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return kernel, modules


def _initramfs(dest: Path, modules: list[Path]) -> Path:
    stage = dest / "initramfs"
    for sub in ("bin", "lib", "dev", "proc", "sys"):
        (stage / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("busybox") or "/bin/busybox", stage / "bin" / "busybox")
    for module in modules:
        shutil.copy(module, stage / "lib" / module.name)
    init = stage / "init"
    init.write_text(INIT)
    init.chmod(0o755)
    files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))
    image = dest / "initramfs.cpio"
    with image.open("wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input="\n".join(files).encode(), cwd=stage,
                       stdout=out, check=True)
    shutil.rmtree(stage)
    return image


def build(dest: Path) -> TinyGuest:
    """Kernel (cached across runs) and a fresh initramfs in `dest`."""
    kernel, modules = _fetch_kernel(cache_dir() / "kernel")
    dest.mkdir(parents=True, exist_ok=True)
    return TinyGuest(kernel, _initramfs(dest, modules))
