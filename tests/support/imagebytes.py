"""Hand-built JPEG and PNG bytes (segments, frames, chunks) for the image tables.

First written in tests/input/test_imagescan.py; kept here so that no test module imports
from another."""

from __future__ import annotations

import struct
import zlib


def seg(marker: int, payload: bytes = b"") -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def sof(
    width: int = 16, height: int = 8, *, marker: int = 0xC0, precision: int = 8, components: int = 3
) -> bytes:
    comps = b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    return seg(
        marker, bytes([precision]) + struct.pack(">HH", height, width) + bytes([components]) + comps
    )


SOS = seg(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")


ENTROPY = b"\x12\x34\xff\x00\x56\xff\xd0\x78"  # stuffing and a restart marker stay inside


EOI = b"\xff\xd9"


def chunk(kind: bytes, payload: bytes = b"") -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def ihdr(
    width: int = 20, height: int = 10, depth: int = 8, colour: int = 2, interlace: int = 0
) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


SIGNATURE = b"\x89PNG\r\n\x1a\n"


IDAT = chunk(b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01")


IEND = chunk(b"IEND")
