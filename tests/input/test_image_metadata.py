"""images.strip_metadata as tables of hand-built files: which JPEG segments and PNG chunks
leave, which stay byte for byte, what happens to the bytes between segments and after the
image. Nothing is decoded (the files need not even hold real pixels)."""

from __future__ import annotations

import io
import zlib
from typing import Any

import pytest
from PIL import Image, ImageDraw, JpegImagePlugin

from face_idcard._images import ImageLimits, ImageRejected, prepare_image, strip_metadata
from tests.support import imagefactory as factory
from tests.support.imagebytes import ENTROPY, EOI, IDAT, IEND, SIGNATURE, SOS, chunk, ihdr
from tests.support.imagebytes import seg as segment
from tests.support.imagebytes import sof as frame

SOI = b"\xff\xd8"
DQT = segment(0xDB, b"\x00" + bytes(range(64)))
DHT = segment(0xC4, b"\x00" + bytes(16) + b"")
JFIF = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48"  # the 12-byte header, thumbnail size next


def _jpeg(*header: bytes, between_scans: bytes = b"", after: bytes = b"") -> bytes:
    return SOI + b"".join(header) + frame() + SOS + ENTROPY + between_scans + EOI + after


def _kept_jpeg(*header: bytes) -> bytes:
    return SOI + b"".join(header) + frame() + SOS + ENTROPY + EOI


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        (segment(0xFE, b"a comment"), False),  # COM
        (segment(0xE1, b"Exif\x00\x00MM\x00*GPS"), False),  # APP1 EXIF
        (segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"), False),  # XMP
        (segment(0xED, b"Photoshop 3.0\x008BIM"), False),  # APP13 IPTC
        (segment(0xE2, b"MPF\x00II*\x00"), False),  # APP2 MPF
        (segment(0xE2, b"FPXR\x00\x00"), False),  # APP2 FlashPix
        (segment(0xE2, b"ICC_PROFILE\x00\x01\x01profile"), True),  # APP2 ICC: kept
        (segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01"), True),  # APP14 Adobe: kept
        (segment(0xEE, b"Other\x00"), False),
        (segment(0xE2, b"icc_profile\x00"), False),  # the identifier is case-sensitive
        (segment(0xE0, b"JFXX\x00\x10thumbnail"), False),  # APP0 that is no JFIF
        (segment(0xE0, JFIF + b"\x00\x00"), True),  # JFIF without a thumbnail: as it is
        (segment(0xE0, JFIF), True),  # a short JFIF: left alone
        (segment(0xE3, b"vendor"), False),
        (segment(0xEF, b"vendor"), False),  # APP15, the last APPn
        (segment(0xE5, b""), False),
        (DQT, True),  # image structure
        (DHT, True),
        (segment(0xDD, b"\x00\x10"), True),  # DRI
    ],
)
def test_a_jpeg_header_segment(extra: bytes, kept: bool) -> None:
    data = _jpeg(DQT, extra)
    expected = data if kept else _kept_jpeg(DQT)
    assert strip_metadata(data, "JPEG") == expected


@pytest.mark.parametrize(
    "thumbnail", [b"\x01\x01\x00\x00\x00", b"\x02\x01" + bytes(6), b"\x00\x00\x00"]
)
def test_a_jfif_thumbnail_is_cut_out(thumbnail: bytes) -> None:
    data = _jpeg(segment(0xE0, JFIF + thumbnail), DQT)
    # The same JFIF header with a 0 x 0 thumbnail: the segment is 16 bytes long.
    assert strip_metadata(data, "JPEG") == _kept_jpeg(b"\xff\xe0\x00\x10" + JFIF + b"\x00\x00", DQT)


def test_bytes_between_header_segments_never_pass() -> None:
    # Decoders skip them as extraneous; a broken APP1 could hide EXIF there.
    stray = b"Exif\x00\x00GPS 31.2N 121.5E"
    for where in (1, 2, 3):  # after each segment (a file starts with a marker)
        header = [DQT, segment(0xE1, b"Exif\x00\x00"), DHT]
        header.insert(where, stray)
        data = _jpeg(*header)
        assert strip_metadata(data, "JPEG") == _kept_jpeg(DQT, DHT)
    # Also after a table segment and before the frame (SOS, not a table, opens the scans).
    data = SOI + DQT + stray + DHT + stray + frame() + SOS + ENTROPY + EOI
    assert strip_metadata(data, "JPEG") == _kept_jpeg(DQT, DHT)


def test_between_scans_everything_is_image_data_but_metadata_segments() -> None:
    second_scan = SOS + b"\x22\x33"
    comment = segment(0xFE, b"late comment")
    data = SOI + DQT + frame() + SOS + ENTROPY + comment + DHT + second_scan + EOI
    assert strip_metadata(data, "JPEG") == (
        SOI + DQT + frame() + SOS + ENTROPY + DHT + second_scan + EOI
    )


@pytest.mark.parametrize("after", [b"", b"\x00\x00ftypmp42 motion photo", SOI + b"second"])
def test_nothing_after_the_end_of_the_jpeg(after: bytes) -> None:
    data = _jpeg(DQT, after=after)
    assert strip_metadata(data, "JPEG") == _kept_jpeg(DQT)


def test_a_jpeg_without_metadata_comes_out_as_it_went_in() -> None:
    data = _jpeg(segment(0xE0, JFIF + b"\x00\x00"), DQT, DHT)
    assert strip_metadata(data, "JPEG") == data


# --- PNG -------------------------------------------------------------------------------------

KEPT = [
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"cICP",
    b"mDCv",
    b"cLLi",
    b"sBIT",
    b"bKGD",
    b"pHYs",
    b"acTL",
    b"fcTL",
    b"fdAT",
]
DROPPED = [b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"prVt", b"vpAg", b"hIST", b"sPLT"]


@pytest.mark.parametrize("kind", KEPT)
def test_png_chunks_that_change_the_picture_stay(kind: bytes) -> None:
    data = SIGNATURE + ihdr() + chunk(kind, b"\x00\x01\x02\x03") + IDAT + IEND
    assert strip_metadata(data, "PNG") == data


@pytest.mark.parametrize("kind", DROPPED)
def test_png_text_exif_and_unknown_chunks_go(kind: bytes) -> None:
    for position in ("before", "after"):
        extra = chunk(kind, b"Author\x00someone")
        if position == "before":
            data = SIGNATURE + ihdr() + extra + IDAT + IEND
        else:
            data = SIGNATURE + ihdr() + IDAT + extra + IEND
        assert strip_metadata(data, "PNG") == SIGNATURE + ihdr() + IDAT + IEND


def test_critical_png_chunks_stay_even_unknown_ones() -> None:
    # An upper-case first letter: critical; a decoder must know it, so it is not ours to drop.
    data = SIGNATURE + ihdr() + chunk(b"PLTE", b"\x00" * 6) + chunk(b"XyZw", b"") + IDAT + IEND
    assert strip_metadata(data, "PNG") == data


def test_nothing_after_the_end_of_the_png() -> None:
    data = SIGNATURE + ihdr() + IDAT + IEND
    assert strip_metadata(data + b"appended", "PNG") == data


@pytest.mark.parametrize("image_format", ["BMP", "GIF", "WEBP"])
def test_other_formats_are_returned_as_they_are(image_format: str) -> None:
    data = b"BM not even a bitmap \x00\x01"
    assert strip_metadata(data, image_format) is data


# --- Re-encoding: the qualities tried, best first ---------------------------------------------


def _lines_picture() -> bytes:
    """A palette PNG (so it must be re-encoded as RGB JPEG) whose JPEG size falls clearly
    with the quality, and whose own size is below the budgets used (no downscale first)."""
    image = Image.new("RGB", (320, 240))
    draw = ImageDraw.Draw(image)
    for x in range(0, 320, 8):
        draw.line([(x, 0), (320 - x, 240)], fill=(x % 256, x * 3 % 256, 255 - x % 256), width=3)
    buffer = io.BytesIO()
    image.convert("P").save(buffer, format="PNG")
    return buffer.getvalue()


def _encoded(data: bytes, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(
        buffer, format="JPEG", quality=quality, optimize=True
    )
    return buffer.getvalue()


@pytest.mark.parametrize(("budget", "quality"), [(None, 90), (90, 80), (80, 70), (70, 60)])
def test_the_best_quality_that_fits_the_body_limit(budget: int | None, quality: int) -> None:
    source = _lines_picture()
    sizes = {q: len(_encoded(source, q)) for q in (90, 80, 70, 60)}
    assert sizes[90] > sizes[80] > sizes[70] > sizes[60]
    # Just under what the quality above needs: it does not fit, this one does.
    max_bytes = 6 * 1024 * 1024 if budget is None else sizes[budget] - 1
    assert len(source) <= max_bytes  # fits as it is: re-encoded at full size, not shrunk first
    prepared = prepare_image(source, ImageLimits(max_bytes=max_bytes))
    assert prepared.data == _encoded(source, quality)
    assert (prepared.width, prepared.height, prepared.transformed) == (320, 240, True)


# --- The default limits, at their edges ------------------------------------------------------
# As documented on ImageLimits (literals: a changed default must fail here).
MAX_BYTES = 6 * 1024 * 1024 - 64 * 1024
MAX_INPUT_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 25_000_000
MAX_DECODED_BYTES = 32 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096


def _reason(data: bytes) -> str:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    return caught.value.reason


def test_the_input_size_limit() -> None:
    # Refused unopened above the limit; at the limit the bytes are looked at (and are junk).
    assert _reason(b"\x00" * (MAX_INPUT_BYTES + 1)) == "too_large_input"
    assert _reason(b"\x00" * MAX_INPUT_BYTES) == "undecodable"


def test_the_pixel_limit_from_the_header() -> None:
    # Hand-built JPEGs of grey blocks (corrupt data decodes to grey): at the limit it is
    # checked at an eighth of its size and sent as it is (the long side allowed here, the
    # pixel limit the default); over it, nothing is decoded.
    limits = ImageLimits(max_side=8192)
    assert 5000 * 5000 == MAX_PIXELS
    assert prepare_image(jpeg_header(5000, 5000), limits).transformed is False
    for width, height in ((5000, 5001), (5001, 5000)):
        with pytest.raises(ImageRejected) as caught:
            prepare_image(jpeg_header(width, height), limits)
        assert caught.value.reason == "too_many_pixels"


def test_the_decoded_bytes_limit_from_the_header() -> None:
    # RGB, 8 bits: 2048 rows of 1 + 3 x 5461 bytes is exactly 32 MB (11 Mpx, under the pixel
    # limit); one pixel wider is over it.
    idat = chunk(b"IDAT", zlib.compress(bytes(1000)))
    at = SIGNATURE + ihdr(5461, 2048, 8, 2) + idat + IEND
    assert 2048 * (1 + 3 * 5461) == MAX_DECODED_BYTES
    assert _reason(at) == "undecodable"  # passed the check, then the data runs out
    over = SIGNATURE + ihdr(5462, 2048, 8, 2) + idat + IEND
    assert _reason(over) == "too_many_pixels"


def test_the_shortest_side() -> None:
    assert prepare_image(factory.jpeg(MIN_SIDE * 2, MIN_SIDE)).height == MIN_SIDE
    assert _reason(factory.jpeg(MIN_SIDE * 2, MIN_SIDE - 1)) == "too_small"
    assert _reason(factory.jpeg(MIN_SIDE - 1, MIN_SIDE * 2)) == "too_small"


def test_the_longest_side() -> None:
    at = prepare_image(factory.jpeg(MAX_SIDE, MIN_SIDE))
    assert (at.width, at.transformed) == (MAX_SIDE, False)
    over = prepare_image(factory.jpeg(MAX_SIDE + 4, MIN_SIDE * 2))
    assert (over.width, over.height, over.transformed) == (MAX_SIDE, MIN_SIDE * 2, True)


def test_the_body_limit_counts_only_what_is_sent() -> None:
    # A JPEG padded with ICC profile segments (kept: they change the colours) up to exactly
    # the body limit is sent as it is; one byte more and it is re-encoded.
    base = factory.jpeg(320, 240)
    for extra, transformed in ((0, False), (1, True)):
        data = _padded_with_icc(base, MAX_BYTES + extra)
        assert len(data) == MAX_BYTES + extra
        prepared = prepare_image(data)
        assert prepared.transformed is transformed
        if not transformed:
            assert prepared.data == data
        assert len(prepared.data) <= MAX_BYTES


def _padded_with_icc(jpeg: bytes, size: int) -> bytes:
    pieces, missing = [], size - len(jpeg)
    number = 0
    while missing > 0:
        # A segment costs its payload + 4 (marker and length) + 14 (the ICC header).
        payload = min(missing - 18, 65533 - 14)
        if payload < 0:  # pragma: no cover - sizes above never leave less than 18
            raise AssertionError(missing)
        number += 1
        pieces.append(bytes([number % 256, 1]) + bytes(payload))
        missing -= payload + 18
    icc = b"".join(segment(0xE2, b"ICC_PROFILE\x00" + piece) for piece in pieces)
    return jpeg[:2] + icc + jpeg[2:]


def test_the_check_of_a_photo_sent_as_it_is_decodes_at_an_eighth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drafts: list[object] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Any, mode: str | None, size: tuple[int, int] | None) -> Any:
        drafts.append(size)
        return real(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    prepared = prepare_image(factory.jpeg(800, 640))
    assert prepared.transformed is False
    assert drafts == [(100, 80)]


def jpeg_header(width: int, height: int) -> bytes:
    return SOI + DQT + frame(width, height) + SOS + ENTROPY + EOI
