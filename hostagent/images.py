"""Disk image format and virtual size, read from the file header (no qemu-img needed).

A qcow2 image starts with the magic `QFI\\xfb`, and its virtual size is the big-endian
64-bit integer at offset 24. Anything else is treated as raw, whose virtual size is
its file size.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cloudplane.hostagent.spec import DiskFormat

QCOW2_MAGIC = b"QFI\xfb"


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: DiskFormat
    virtual_size: int
    file_size: int


def probe(path: Path) -> ImageInfo:
    """Blocking: call it from a thread in async code."""
    with path.open("rb") as f:
        header = f.read(32)
        file_size = os.fstat(f.fileno()).st_size
    if len(header) >= 32 and header[:4] == QCOW2_MAGIC:
        (size,) = struct.unpack(">Q", header[24:32])
        return ImageInfo(DiskFormat.QCOW2, size, file_size)
    return ImageInfo(DiskFormat.RAW, file_size, file_size)
