"""A capped structural scan of JPEG, PNG and BMP bytes, run before any decoder sees them.

Pillow's own header parsers are unbounded on crafted input (a million empty chunks before
IDAT, megabytes of fill bytes before a marker, a million empty APPn segments: seconds of CPU
each), and a decoder's work must be bounded by the pixel count the header declares. One pass
over the file, whose result (:class:`Scan`) the caller reuses: the format, dimensions and
what the pixels need (conversion), the segment or chunk offsets for cutting out metadata,
and where the image ends. Runs of fill and stuffing bytes are skipped by regular expressions
(in C), never byte by byte; the number of segments, chunks and scans is capped.

No Pillow, no Django: pure bytes. The only exception it raises is :class:`ImageRejected`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ImageRejected", "JpegSegment", "PngChunk", "Scan", "scan"]


class ImageRejected(ValueError):
    """The image cannot be used. ``reason`` is a stable code:

    ``empty``, ``too_large_input``, ``undecodable``, ``format``, ``animated``,
    ``too_many_pixels``, ``too_small``, ``too_small_box`` (under the provider's smallest
    photo), ``bmp_compressed``.

    The text carries the reason and our limits only, never anything read from the image.
    """

    REASONS = frozenset(
        {
            "empty",
            "too_large_input",
            "undecodable",
            "format",
            "animated",
            "too_many_pixels",
            "too_small",
            "too_small_box",
            "bmp_compressed",
        }
    )

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown ImageRejected reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[str, str]]:
        return (type(self), (self.reason, self.detail))


#: More marker segments than this (tables, APPn, scans...) before the end of a JPEG: refused.
#: Camera files have about 10 to 20, progressive ones about 40.
MAX_JPEG_SEGMENTS = 512
#: Progressive JPEGs have about 10 scans; each scan costs the decoder a pass over the image.
MAX_JPEG_SCANS = 64
#: Consecutive FF fill bytes allowed before a marker (the standard allows any number;
#: writers use none or a few).
MAX_FILL_BYTES = 64
#: PNG chunks other than IDAT: real files have a handful.
MAX_PNG_ANCILLARY_CHUNKS = 256
#: IDAT chunks: writers split the data into chunks of 8 KB or more; 40 000 covers 300 MB.
MAX_PNG_IDAT_CHUNKS = 40_000
#: Compressed image data allowed per decoded pixel, plus a fixed allowance: more means data
#: the decoder would have to wade through without producing pixels (fill, stuffing, junk).
#: JPEG at quality 100 without subsampling, on noise, takes about 7 bytes a pixel.
MAX_JPEG_BYTES_PER_PIXEL = 12
MAX_DATA_SLACK = 256 * 1024

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Signatures of formats recognised only to be refused by name.
_OTHER_FORMATS = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
)
#: Where the entropy-coded data after SOS ends: an FF that is not stuffing (FF 00), a
#: restart marker (FF D0..D7) or fill (FF FF).
_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_FILL = re.compile(rb"\xff+")
#: SOF markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SOS, _EOI, _SOI, _TEM = 0xDA, 0xD9, 0xD8, 0x01
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: BMP compressions whose pixels are stored plain (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS).
#: RLE4/RLE8 are decoded by Pillow in Python (seconds for a crafted file), JPEG/PNG inside a
#: BMP would bypass every check above.
_BMP_PLAIN = frozenset({0, 3, 6})


@dataclass(frozen=True)
class JpegSegment:
    """A JPEG marker segment by its offsets in the file."""

    marker: int  # the byte after FF: 0xE1 for APP1, 0xDA for SOS...
    start: int  # the first FF, fill bytes included
    payload_start: int  # after the length field
    end: int  # after the payload; for SOS, after the entropy-coded data that follows it


@dataclass(frozen=True)
class PngChunk:
    kind: bytes  # the four-letter type
    start: int  # the length field
    end: int  # after the CRC


@dataclass(frozen=True)
class Scan:
    """What the scan found. ``end``: the offset just past the image (EOI, IEND; for BMP the
    file's end); what follows (a motion photo's video, an MPO's further pictures) is not
    part of the image."""

    format: str
    width: int
    height: int
    end: int
    #: The pixels are in a form a provider may refuse: CMYK, 12- or 16-bit, palette, alpha.
    needs_conversion: bool
    frames: int = 1
    segments: tuple[JpegSegment, ...] = ()
    chunks: tuple[PngChunk, ...] = ()
    #: A PNG's eXIf payload (JPEG EXIF is read by Pillow from the header).
    exif: bytes | None = None
    #: Bytes the decoder must produce for the full-size pixels (for PNG and BMP, which
    #: cannot be decoded at reduced scale; 0 for JPEG, which can).
    decoded_bytes: int = 0


def scan(data: bytes) -> Scan:
    """Scan ``data``; raise :class:`ImageRejected` (``format``, ``undecodable``,
    ``bmp_compressed``) for anything but a whole, plausible JPEG, PNG or BMP."""
    if data[:3] == b"\xff\xd8\xff":
        return _scan_jpeg(data)
    if data[:8] == _PNG_SIGNATURE:
        return _scan_png(data)
    if data[:2] == b"BM":
        return _scan_bmp(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise ImageRejected("format", "WEBP")
    if data[4:8] == b"ftyp":  # HEIC, AVIF
        raise ImageRejected("format", "ISO media")
    for signature, name in _OTHER_FORMATS:
        if data.startswith(signature):
            raise ImageRejected("format", name)
    raise ImageRejected("undecodable")


def _truncated() -> ImageRejected:
    return ImageRejected("undecodable", "the file is truncated")


def _malformed(what: str) -> ImageRejected:
    return ImageRejected("undecodable", what)


def _scan_jpeg(data: bytes) -> Scan:
    segments: list[JpegSegment] = []
    size = len(data)
    position = 2  # after SOI
    frame: tuple[int, int, int, int] | None = None  # precision, height, width, components
    scans = 0
    entropy_bytes = 0
    while True:
        if len(segments) >= MAX_JPEG_SEGMENTS:
            raise _malformed("too many segments")
        # Bytes between segments that belong to none (stray bytes some writers leave) are
        # skipped in one find; whoever copies the file keeps them.
        marker_start = data.find(b"\xff", position)
        if marker_start < 0:
            raise _truncated()
        fill = _FILL.match(data, marker_start)
        assert fill is not None
        if fill.end() - marker_start > MAX_FILL_BYTES + 1:
            raise _malformed("fill bytes")
        position = fill.end()
        if position >= size:
            raise _truncated()
        marker = data[position]
        position += 1
        if marker == _EOI:
            break
        if marker == _TEM or 0xD0 <= marker <= 0xD7:  # no length field
            segments.append(JpegSegment(marker, marker_start, position, position))
            continue
        if marker < 0xC0 or marker == _SOI:
            # FF 00 and the reserved markers carry no length a decoder agrees on: the old
            # trick "FF 00 + two bytes" before an APP1 hid its EXIF from the stripping.
            raise _malformed("invalid marker")
        if position + 2 > size:
            raise _truncated()
        length = int.from_bytes(data[position : position + 2], "big")
        if length < 2:
            raise _malformed("segment length")
        payload_start = position + 2
        end = position + length
        if end > size:
            raise _truncated()
        if marker in _SOF_MARKERS:
            if frame is not None or length < 8:
                raise _malformed("frame header")  # a second frame: hierarchical, or junk
            header = data[payload_start : payload_start + 6]
            frame = (
                header[0],
                int.from_bytes(header[1:3], "big"),
                int.from_bytes(header[3:5], "big"),
                header[5],
            )
        elif marker == _SOS:
            scans += 1
            if frame is None or scans > MAX_JPEG_SCANS:
                raise _malformed("scans")
            found = _ENTROPY_END.search(data, end)
            if found is None:
                raise _truncated()
            entropy_bytes += found.start() - end
            end = found.start()
        segments.append(JpegSegment(marker, marker_start, payload_start, end))
        position = end
    if frame is None or scans == 0:
        raise _malformed("no frame or no scan")
    precision, height, width, components = frame
    if not width or not height:
        raise _malformed("dimensions")  # height 0 (DNL): not supported by Pillow either
    if entropy_bytes > width * height * MAX_JPEG_BYTES_PER_PIXEL + MAX_DATA_SLACK:
        raise _malformed("more image data than pixels")
    return Scan(
        format="JPEG",
        width=width,
        height=height,
        end=position,
        needs_conversion=components not in (1, 3) or precision != 8,
        segments=tuple(segments),
    )


def _scan_png(data: bytes) -> Scan:
    chunks: list[PngChunk] = []
    size = len(data)
    position = 8
    ancillary = idat_chunks = idat_bytes = 0
    frames, transparent, exif, end = 1, False, None, -1
    while position + 12 <= size:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        chunk = PngChunk(kind, position, position + 12 + length)
        if length > 0x7FFFFFFF:
            raise _malformed("chunk length")
        if chunk.end > size:
            raise _truncated()
        if not chunks and (kind != b"IHDR" or length != 13):
            raise _malformed("no IHDR")
        payload = position + 8
        if kind == b"IDAT":
            idat_chunks += 1
            idat_bytes += length
            if idat_chunks > MAX_PNG_IDAT_CHUNKS:
                raise _malformed("too many chunks")
        elif kind != b"IEND":
            ancillary += 1
            if ancillary > MAX_PNG_ANCILLARY_CHUNKS:
                raise _malformed("too many chunks")
            if kind == b"acTL" and length >= 4:
                frames = int.from_bytes(data[payload : payload + 4], "big")
            elif kind == b"tRNS":
                transparent = True
            elif kind == b"eXIf" and exif is None:
                exif = data[payload : payload + length]
        chunks.append(chunk)
        position = chunk.end
        if kind == b"IEND":
            end = position
            break
    if end < 0:
        raise _truncated()
    ihdr = data[16:29]
    width = int.from_bytes(ihdr[0:4], "big")
    height = int.from_bytes(ihdr[4:8], "big")
    depth, colour, interlace = ihdr[8], ihdr[9], ihdr[12]
    channels = _PNG_CHANNELS.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16) or not width or not height:
        raise _malformed("header")
    if width > 0x7FFFFFFF or height > 0x7FFFFFFF or idat_chunks == 0:
        raise _malformed("header")
    raw_bytes = height * (1 + (width * channels * depth + 7) // 8)
    if interlace:
        raw_bytes += raw_bytes // 4 + 7 * height  # the seven passes' extra filter bytes
    # Deflate never grows data by more than a few bytes per 16 KB block.
    if idat_bytes > raw_bytes + raw_bytes // 100 + MAX_DATA_SLACK:
        raise _malformed("more image data than pixels")
    return Scan(
        format="PNG",
        width=width,
        height=height,
        end=end,
        needs_conversion=depth != 8 or colour in (3, 4, 6) or transparent,
        frames=max(frames, 1),
        chunks=tuple(chunks),
        exif=exif,
        decoded_bytes=raw_bytes,
    )


def _scan_bmp(data: bytes) -> Scan:
    if len(data) < 26:
        raise _truncated()
    header_size = int.from_bytes(data[14:18], "little")
    offset = int.from_bytes(data[10:14], "little")
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width = int.from_bytes(data[18:20], "little")
        height = int.from_bytes(data[20:22], "little")
        bits = int.from_bytes(data[24:26], "little")
        compression = 0
    elif 40 <= header_size <= 124 and len(data) >= 34:
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = abs(int.from_bytes(data[22:26], "little", signed=True))  # < 0: top-down
        bits = int.from_bytes(data[28:30], "little")
        compression = int.from_bytes(data[30:34], "little")
    else:
        raise _malformed("header")
    if compression not in _BMP_PLAIN:
        raise ImageRejected("bmp_compressed")
    if width <= 0 or height <= 0 or bits not in (1, 4, 8, 16, 24, 32):
        raise _malformed("header")
    row = (width * bits + 31) // 32 * 4
    declared = int.from_bytes(data[2:6], "little")  # bfSize; some writers leave it at 0
    if declared > len(data) or offset + row * height > len(data):
        raise _truncated()
    return Scan(
        format="BMP",
        width=width,
        height=height,
        end=len(data),
        needs_conversion=bits != 24,
        decoded_bytes=row * height,
    )
