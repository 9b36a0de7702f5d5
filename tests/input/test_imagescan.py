"""imagescan as tables of hand-built files: what the scan reads from a JPEG, PNG or BMP (size,
what the pixels need, offsets, where the image ends) and every refusal at its limit and one
past it. Pure bytes, no decoder: each case costs microseconds."""

from __future__ import annotations

import pickle
import struct

import pytest

from face_idcard._images import ImageLimits, prepare_image
from face_idcard._imagescan import ImageRejected, scan
from tests.support.imagebytes import ENTROPY, EOI, IDAT, IEND, SIGNATURE, SOS, chunk, ihdr, seg, sof

# The caps as documented (literals, not the module's names: a changed cap must fail here).
MAX_JPEG_SEGMENTS = 512
MAX_JPEG_SCANS = 64
MAX_FILL_BYTES = 64
MAX_PNG_ANCILLARY_CHUNKS = 256
MAX_PNG_IDAT_CHUNKS = 40_000
MAX_JPEG_BYTES_PER_PIXEL = 12
MAX_DATA_SLACK = 256 * 1024

# --- JPEG ------------------------------------------------------------------------------------


def jpeg(
    *middle: bytes, frame: bytes | None = None, entropy: bytes = ENTROPY, after: bytes = b""
) -> bytes:
    frame = sof() if frame is None else frame
    return b"\xff\xd8" + b"".join(middle) + frame + SOS + entropy + EOI + after


def rejected(data: bytes) -> tuple[str, str]:
    with pytest.raises(ImageRejected) as caught:
        scan(data)
    return caught.value.reason, caught.value.detail


def test_a_plain_jpeg() -> None:
    app0 = seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    data = jpeg(app0, after=b"trailing video")
    result = scan(data)
    assert (result.format, result.width, result.height) == ("JPEG", 16, 8)
    assert result.end == len(data) - len(b"trailing video")
    assert not result.needs_conversion
    assert (result.frames, result.chunks, result.exif, result.decoded_bytes) == (1, (), None, 0)
    assert [s.marker for s in result.segments] == [0xE0, 0xC0, 0xDA]
    app, frame, sos = result.segments
    assert (app.start, app.payload_start, app.end) == (2, 6, 2 + len(app0))
    assert (frame.start, frame.payload_start) == (app.end, app.end + 4)
    # The scan's segment runs to the end of its entropy-coded data.
    assert sos.end == len(data) - len(b"trailing video") - 2


@pytest.mark.parametrize(
    ("components", "precision", "conversion"),
    [(3, 8, False), (1, 8, False), (4, 8, True), (2, 8, True), (3, 12, True), (1, 16, True)],
)
def test_what_a_jpeg_frame_needs(components: int, precision: int, conversion: bool) -> None:
    data = jpeg(frame=sof(components=components, precision=precision))
    assert scan(data).needs_conversion is conversion


FRAMES = [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF]
NOT_FRAMES = [0xC4, 0xC8, 0xCC]  # DHT, JPG, DAC


@pytest.mark.parametrize("marker", FRAMES)
def test_every_sof_marker_is_a_frame_and_only_one_is_allowed(marker: int) -> None:
    assert scan(jpeg(frame=sof(40, 30, marker=marker))).width == 40
    assert rejected(jpeg(sof(), frame=sof(marker=marker))) == ("undecodable", "frame header")


@pytest.mark.parametrize("marker", NOT_FRAMES)
def test_tables_between_the_frame_and_the_scan_are_no_frame(marker: int) -> None:
    data = b"\xff\xd8" + sof(40, 30) + seg(marker, b"\x00" * 20) + SOS + ENTROPY + EOI
    assert (scan(data).width, scan(data).height) == (40, 30)


def test_markers_without_a_length() -> None:
    data = jpeg(b"\xff\x01", b"\xff\xd0", b"\xff\xd7")
    assert [s.marker for s in scan(data).segments][:3] == [0x01, 0xD0, 0xD7]
    assert all(s.payload_start == s.end == s.start + 2 for s in scan(data).segments[:3])


@pytest.mark.parametrize("marker", [0x00, 0x02, 0xBF, 0xD8])
def test_markers_no_decoder_agrees_on_are_refused(marker: int) -> None:
    data = jpeg(bytes([0xFF, marker]) + b"\x00\x04" + seg(0xE1, b"Exif\x00\x00"))
    assert rejected(data) == ("undecodable", "invalid marker")


def test_fill_bytes_up_to_the_cap() -> None:
    limit = MAX_FILL_BYTES
    ok = jpeg(b"\xff" * limit + seg(0xE1, b"x"))
    assert scan(ok).segments[0].start == 2
    assert rejected(jpeg(b"\xff" * (limit + 1) + seg(0xE1, b"x"))) == (
        "undecodable",
        "fill bytes",
    )


def test_segments_up_to_the_cap() -> None:
    cap = MAX_JPEG_SEGMENTS
    # The frame and the scan are segments too; reaching the cap before EOI is refused.
    assert len(scan(jpeg(*[seg(0xE1)] * (cap - 3))).segments) == cap - 1
    assert rejected(jpeg(*[seg(0xE1)] * (cap - 2))) == ("undecodable", "too many segments")


def test_scans_up_to_the_cap() -> None:
    cap = MAX_JPEG_SCANS
    scans = (SOS + ENTROPY) * cap
    ok = b"\xff\xd8" + sof() + scans + EOI
    assert sum(s.marker == 0xDA for s in scan(ok).segments) == cap
    over = b"\xff\xd8" + sof() + scans + SOS + ENTROPY + EOI
    assert rejected(over) == ("undecodable", "scans")


def test_entropy_coded_data_up_to_the_cap() -> None:
    cap = 16 * 8 * MAX_JPEG_BYTES_PER_PIXEL + MAX_DATA_SLACK
    assert scan(jpeg(entropy=b"\x00" * cap)).width == 16
    assert rejected(jpeg(entropy=b"\x00" * (cap + 1))) == (
        "undecodable",
        "more image data than pixels",
    )


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\xff\xd8" + SOS + ENTROPY + EOI, "scans"),  # a scan before the frame
        (b"\xff\xd8" + sof() + EOI, "no frame or no scan"),
        (b"\xff\xd8" + seg(0xE1, b"x") + EOI, "no frame or no scan"),
        (jpeg(frame=sof(0, 8)), "dimensions"),
        (jpeg(frame=sof(16, 0)), "dimensions"),
        (jpeg(b"\xff\xe1\x00\x01"), "segment length"),
        (jpeg(b"\xff\xe1\x00\x00"), "segment length"),
        (jpeg(frame=seg(0xC0, b"\x08\x00\x08\x00")), "frame header"),  # length 6 < 8
        (jpeg(frame=seg(0xC0, b"\x08\x00\x08\x00\x10")), "frame header"),  # length 7
        # The same faults in a segment that ends the file: the fault is named, not the end.
        (b"\xff\xd8\xff\xe1\x00\x01", "segment length"),
        (b"\xff\xd8" + SOS, "scans"),
        (b"\xff\xd8" + seg(0xC0, b"\x08\x00\x08\x00"), "frame header"),
    ],
)
def test_malformed_jpegs(data: bytes, detail: str) -> None:
    assert rejected(data) == ("undecodable", detail)


def test_the_shortest_frame_header_is_read() -> None:
    # Length 8: precision, height, width, component count, no component table.
    data = jpeg(frame=seg(0xC0, b"\x08\x00\x08\x00\x10\x03"))
    assert (scan(data).width, scan(data).height) == (16, 8)


@pytest.mark.parametrize(
    "cut",
    [
        3,  # FF D8 FF: a marker's first byte, then nothing
        4,  # the marker, no length
        5,  # half a length
        10,  # inside a payload
    ],
)
def test_a_truncated_jpeg_header(cut: int) -> None:
    data = jpeg(seg(0xE1, b"0123456789"))
    assert rejected(data[:cut]) == ("undecodable", "the file is truncated")


@pytest.mark.parametrize(
    "data",
    [
        jpeg()[:-2],  # no EOI: entropy runs to the end
        jpeg()[:-1],
        b"\xff\xd8" + sof() + SOS,  # no entropy-coded data, nothing after
        b"\xff\xd8" + sof() + b"\x00\x00",  # stray bytes, no further marker
        b"\xff\xd8" + sof() + b"\xff\xff",  # fill to the end
    ],
)
def test_a_truncated_jpeg_body(data: bytes) -> None:
    assert rejected(data) == ("undecodable", "the file is truncated")


# --- PNG -------------------------------------------------------------------------------------


def png(*middle: bytes, header: bytes | None = None, after: bytes = b"") -> bytes:
    header = ihdr() if header is None else header
    return SIGNATURE + header + b"".join(middle or (IDAT,)) + IEND + after


def test_a_plain_png() -> None:
    data = png(chunk(b"tEXt", b"Author\x00me"), IDAT, after=b"junk")
    result = scan(data)
    assert (result.format, result.width, result.height) == ("PNG", 20, 10)
    assert result.end == len(data) - 4
    assert [c.kind for c in result.chunks] == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    assert result.chunks[0].start == 8 and result.chunks[0].end == 8 + 25
    assert result.chunks[-1].end == result.end
    assert (result.needs_conversion, result.frames, result.exif) == (False, 1, None)
    assert result.decoded_bytes == 10 * (1 + 20 * 3)


@pytest.mark.parametrize(
    ("colour", "depth", "row_bytes", "conversion"),
    [
        (0, 1, 3, True),  # grey: 20 pixels of 1 bit, rounded up
        (0, 2, 5, True),
        (0, 4, 10, True),
        (0, 8, 20, False),
        (0, 16, 40, True),
        (2, 8, 60, False),  # RGB
        (2, 16, 120, True),
        (3, 1, 3, True),  # palette
        (3, 8, 20, True),
        (4, 8, 40, True),  # grey and alpha
        (4, 16, 80, True),
        (6, 8, 80, True),  # RGBA
        (6, 16, 160, True),
    ],
)
def test_what_a_png_header_declares(
    colour: int, depth: int, row_bytes: int, conversion: bool
) -> None:
    result = scan(png(header=ihdr(20, 10, depth, colour)))
    assert result.decoded_bytes == 10 * (1 + row_bytes)
    assert result.needs_conversion is conversion


def test_an_interlaced_png_counts_the_passes_filter_bytes() -> None:
    plain = 10 * (1 + 60)
    assert scan(png(header=ihdr(interlace=1))).decoded_bytes == plain + plain // 4 + 7 * 10


@pytest.mark.parametrize(
    ("colour", "depth"),
    [(1, 8), (5, 8), (7, 8), (2, 0), (2, 3), (2, 5), (2, 9), (2, 17), (2, 32)],
)
def test_an_impossible_png_header_is_refused(colour: int, depth: int) -> None:
    assert rejected(png(header=ihdr(20, 10, depth, colour))) == ("undecodable", "header")


@pytest.mark.parametrize(
    "header",
    [
        ihdr(0, 10),
        ihdr(20, 0),
        ihdr(0x80000000, 10),
        ihdr(20, 0x80000000),
    ],
)
def test_png_dimensions_out_of_range(header: bytes) -> None:
    assert rejected(png(header=header)) == ("undecodable", "header")


@pytest.mark.parametrize(
    ("width", "height"), [(0x7FFFFFFF, 1), (1, 0x7FFFFFFF), (0x1000000, 1), (1, 0x1000000)]
)
def test_the_largest_png_dimensions_are_read(width: int, height: int) -> None:
    # The PNG specification: each dimension is a 4-byte integer of at most 2**31 - 1.
    result = scan(png(header=ihdr(width, height)))
    assert (result.width, result.height) == (width, height)


def test_a_png_without_image_data_is_refused() -> None:
    assert rejected(png(chunk(b"tEXt", b"a\x00b"))) == ("undecodable", "header")


def test_transparency_and_an_animation_and_exif() -> None:
    exif = b"MM\x00*\x00\x00\x00\x08\x00\x00"
    data = png(
        chunk(b"acTL", b"\x00\x00\x00\x02\x00\x00\x00\x00"),
        chunk(b"tRNS", b"\x00\x01\x00\x02\x00\x03"),
        chunk(b"eXIf", exif),
        chunk(b"eXIf", b"II*\x00second"),
        IDAT,
    )
    result = scan(data)
    assert (result.frames, result.needs_conversion, result.exif) == (2, True, exif)


@pytest.mark.parametrize(
    ("actl", "frames"),
    [
        (b"\x00\x00\x00\x00\x00\x00\x00\x00", 1),  # zero frames counts as one
        (b"\x00\x00\x00\x01", 1),
        (b"\x00\x00\x00\x03", 3),  # exactly the frame count, no play count
        (b"\x00\x00\x03", 1),  # too short to hold a count: ignored
    ],
)
def test_the_frame_count(actl: bytes, frames: int) -> None:
    assert scan(png(chunk(b"acTL", actl), IDAT)).frames == frames


def test_ancillary_chunks_up_to_the_cap() -> None:
    cap = MAX_PNG_ANCILLARY_CHUNKS
    text = chunk(b"tEXt", b"k\x00v")
    # IHDR counts: every chunk but IDAT and IEND.
    assert len(scan(png(*[text] * (cap - 1), IDAT)).chunks) == cap + 2
    assert rejected(png(*[text] * cap, IDAT)) == ("undecodable", "too many chunks")


def test_idat_chunks_up_to_the_cap() -> None:
    cap = MAX_PNG_IDAT_CHUNKS
    empty = chunk(b"IDAT")
    header = ihdr(4000, 4000)
    assert len(scan(png(*[empty] * cap, header=header)).chunks) == cap + 2
    assert rejected(png(*[empty] * (cap + 1), header=header)) == (
        "undecodable",
        "too many chunks",
    )


@pytest.mark.parametrize(
    ("header", "raw"),
    [
        (ihdr(), 10 * (1 + 60)),  # 20 x 10 RGB
        (ihdr(1000, 100, 8, 0), 100 * (1 + 1000)),  # 1000 x 100 grey: 1% of it is 1001 bytes
    ],
)
def test_image_data_up_to_the_cap(header: bytes, raw: int) -> None:
    cap = raw + raw // 100 + MAX_DATA_SLACK
    assert scan(png(chunk(b"IDAT", bytes(cap)), header=header)).decoded_bytes == raw
    over = png(chunk(b"IDAT", bytes(cap - 10)), chunk(b"IDAT", bytes(11)), header=header)
    assert rejected(over) == ("undecodable", "more image data than pixels")


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (SIGNATURE + chunk(b"tEXt", bytes(13)) + IDAT + IEND, "no IHDR"),
        (SIGNATURE + chunk(b"IHDR", bytes(14)) + IDAT + IEND, "no IHDR"),
        (SIGNATURE + chunk(b"IHDR", bytes(12)) + IDAT + IEND, "no IHDR"),
        (SIGNATURE + ihdr() + b"\x80\x00\x00\x00IDAT" + bytes(8) + IEND, "chunk length"),
        (SIGNATURE + ihdr() + b"\xff\xff\xff\xffIDAT" + bytes(8) + IEND, "chunk length"),
        (png()[:-12], "the file is truncated"),  # no IEND
        (png()[:-1], "the file is truncated"),
        (SIGNATURE + ihdr() + chunk(b"IDAT", bytes(100))[:50], "the file is truncated"),
        (SIGNATURE + ihdr()[:20], "the file is truncated"),
        # An IEND that declares more bytes than the file has left.
        (SIGNATURE + ihdr() + IDAT + b"\x00\x00\x00\x04IEND" + bytes(4), "the file is truncated"),
    ],
)
def test_malformed_pngs(data: bytes, detail: str) -> None:
    assert rejected(data) == ("undecodable", detail)


def test_a_chunk_of_the_largest_length_is_only_truncated() -> None:
    data = SIGNATURE + ihdr() + b"\x7f\xff\xff\xffIDAT" + bytes(8) + IEND
    assert rejected(data) == ("undecodable", "the file is truncated")


# --- BMP -------------------------------------------------------------------------------------


def bmp(
    width: int = 10,
    height: int = 4,
    bits: int = 24,
    *,
    compression: int = 0,
    header_size: int = 40,
    declared: int | None = None,
    missing: int = 0,
) -> bytes:
    row = (width * bits + 31) // 32 * 4
    offset = 14 + header_size
    pixels = bytes(max(0, row * abs(height) - missing))
    if header_size == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        info = struct.pack("<IiiHHI", header_size, width, height, 1, bits, compression)
        info = (info + bytes(max(0, header_size - len(info))))[: max(header_size, 20)]
    size = offset + len(pixels)
    file_header = b"BM" + struct.pack("<IHHI", size if declared is None else declared, 0, 0, offset)
    return file_header + info + pixels


@pytest.mark.parametrize(
    ("bits", "row", "conversion"),
    [(1, 4, True), (4, 8, True), (8, 12, True), (16, 20, True), (24, 32, False), (32, 40, True)],
)
def test_what_a_bmp_header_declares(bits: int, row: int, conversion: bool) -> None:
    result = scan(bmp(10, 4, bits))
    assert (result.format, result.width, result.height) == ("BMP", 10, 4)
    assert result.decoded_bytes == 4 * row
    assert result.needs_conversion is conversion
    assert result.end == len(bmp(10, 4, bits))


@pytest.mark.parametrize("header_size", [12, 40, 52, 56, 108, 124])
def test_every_bmp_header_size(header_size: int) -> None:
    result = scan(bmp(10, 4, header_size=header_size))
    assert (result.width, result.height, result.decoded_bytes) == (10, 4, 4 * 32)


def test_a_top_down_bmp() -> None:
    assert scan(bmp(10, -4)).height == 4


@pytest.mark.parametrize("compression", [0, 3, 6])
def test_plain_bmp_compressions(compression: int) -> None:
    assert scan(bmp(compression=compression)).width == 10


@pytest.mark.parametrize("compression", [1, 2, 4, 5, 7])
def test_compressed_bmps_are_refused(compression: int) -> None:
    assert rejected(bmp(compression=compression))[0] == "bmp_compressed"


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (bmp(header_size=39), "undecodable", "header"),
        (bmp(header_size=125), "undecodable", "header"),
        (bmp(header_size=16), "undecodable", "header"),
        (bmp()[:30], "undecodable", "header"),  # a 40-byte header cut short
        (bmp()[:26], "undecodable", "header"),
        (bmp()[:33], "undecodable", "header"),
        # Cut after the compression field: the header is read, the pixels are missing.
        (bmp()[:34], "undecodable", "the file is truncated"),
        (bmp(101, 2, missing=1), "undecodable", "the file is truncated"),
        (bmp()[:25], "undecodable", "the file is truncated"),
        (bmp(0, 4), "undecodable", "header"),
        (bmp(-10, 4), "undecodable", "header"),
        (bmp(10, 0), "undecodable", "header"),
        (bmp(10, 4, 2), "undecodable", "header"),
        (bmp(10, 4, 0), "undecodable", "header"),
        (bmp(10, 4, 48), "undecodable", "header"),
        (bmp(missing=1), "undecodable", "the file is truncated"),
        (bmp(declared=len(bmp()) + 1), "undecodable", "the file is truncated"),
    ],
)
def test_malformed_bmps(data: bytes, reason: str, detail: str) -> None:
    assert rejected(data) == (reason, detail)


@pytest.mark.parametrize(
    ("width", "bits", "row"),
    # Each row of pixels is padded to a multiple of 4 bytes.
    [(1, 1, 4), (1, 24, 4), (31, 1, 4), (33, 1, 8), (100, 24, 300), (101, 24, 304), (65, 32, 260)],
)
def test_a_bmp_row_is_padded_to_four_bytes(width: int, bits: int, row: int) -> None:
    result = scan(bmp(width, 3, bits))
    assert (result.width, result.height, result.decoded_bytes) == (width, 3, 3 * row)


def test_the_smallest_bmp_is_one_pixel() -> None:
    assert (scan(bmp(1, 1)).width, scan(bmp(1, 1)).height) == (1, 1)
    assert (scan(bmp(1, -1)).width, scan(bmp(1, -1)).height) == (1, 1)


def test_fields_the_scan_does_not_need_are_not_read() -> None:
    # The reserved words of the file header (application-specific) and biSizeImage, which
    # most writers fill in, right after the compression field.
    data = bytearray(bmp())
    data[6:10] = b"\x01\x02\x03\x04"
    data[34:38] = (4 * 32).to_bytes(4, "little")
    assert scan(bytes(data)).width == 10
    # An OS/2 file: the pixels start right after the bit count.
    os2 = bytearray(bmp(header_size=12))
    os2[26:] = b"\xff" * (len(os2) - 26)
    assert (scan(bytes(os2)).width, scan(bytes(os2)).needs_conversion) == (10, False)


def test_a_bmp_may_declare_no_size_or_its_exact_size() -> None:
    assert scan(bmp(declared=0)).width == 10
    assert scan(bmp(declared=len(bmp()))).width == 10


def test_the_shortest_bmp_header_is_read() -> None:
    # 26 bytes: an OS/2 header with no pixels, for a 0 x 0 image: refused, but as a header.
    data = bmp(header_size=12)[:26]
    assert len(data) == 26
    assert rejected(data) == ("undecodable", "the file is truncated")


# --- Formats and the exception ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "format", "WEBP"),
        (b"\x00\x00\x00\x18ftypheic", "format", "ISO media"),
        (b"\x00\x00\x00\x18ftypavif", "format", "ISO media"),
        (b"GIF87a" + bytes(20), "format", "GIF"),
        (b"GIF89a" + bytes(20), "format", "GIF"),
        (b"II*\x00" + bytes(20), "format", "TIFF"),
        (b"MM\x00*" + bytes(20), "format", "TIFF"),
        (b"\x00\x00\x01\x00" + bytes(20), "format", "ICO"),
        (b"8BPS" + bytes(20), "format", "PSD"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "format", "JPEG2000"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "undecodable", ""),
        (b"\xff\xd8\x00\x00", "undecodable", ""),  # SOI without a marker after it
        (b"\x89PNG\r\n\x1a", "undecodable", ""),
        (b"B", "undecodable", ""),
        (b"", "undecodable", ""),
        (b"hello world", "undecodable", ""),
    ],
)
def test_formats_by_signature(data: bytes, reason: str, detail: str) -> None:
    assert rejected(data) == (reason, detail)


@pytest.mark.parametrize("reason", sorted(ImageRejected.REASONS))
def test_every_reason_and_its_text(reason: str) -> None:
    plain = ImageRejected(reason)
    assert (plain.reason, plain.detail, str(plain)) == (reason, "", reason)
    detailed = ImageRejected(reason, "limit 64")
    assert str(detailed) == f"{reason}: limit 64"
    again = pickle.loads(pickle.dumps(detailed))
    assert (type(again), again.reason, again.detail) == (ImageRejected, reason, "limit 64")


#: One input for each way prepare_image refuses a photo, with the reason it gives. Every one is
#: refused before any decoder runs (the scan and the header checks).
REFUSALS = [
    (b"", "empty"),
    (b"\xff\xd8\xff" + bytes(ImageLimits().max_input_bytes), "too_large_input"),
    (b"hello world", "undecodable"),
    (b"GIF89a" + bytes(20), "format"),
    (
        png(chunk(b"acTL", b"\x00\x00\x00\x02\x00\x00\x00\x00"), IDAT, header=ihdr(100, 100)),
        "animated",
    ),
    (png(header=ihdr(10_000, 10_000)), "too_many_pixels"),
    (png(header=ihdr(100, 63)), "too_small"),
    (png(header=ihdr(600, 600)), "too_small_box"),
    (bmp(compression=1), "bmp_compressed"),
]
#: A refusal that needs a provider's rule (the default limits have none).
LIMITS_FOR = {"too_small_box": ImageLimits(min_box=(640, 480))}


@pytest.mark.parametrize(("data", "reason"), REFUSALS)
def test_each_refusal_and_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data, LIMITS_FOR.get(reason))
    assert type(caught.value) is ImageRejected and caught.value.reason == reason


def test_the_reasons_are_those_prepare_image_gives() -> None:
    # No reason that no input can produce, none produced that the class does not list.
    assert ImageRejected.REASONS == {reason for _data, reason in REFUSALS}


@pytest.mark.parametrize("reason", ["", "unknown", "Format", "too_large"])
def test_an_unknown_reason_is_a_programming_error(reason: str) -> None:
    with pytest.raises(ValueError, match="unknown ImageRejected reason") as caught:
        ImageRejected(reason)
    assert not isinstance(caught.value, ImageRejected)


def test_what_the_scan_returns_is_frozen() -> None:
    result = scan(jpeg())
    for value, name in [(result, "width"), (result.segments[0], "end")]:
        with pytest.raises(AttributeError):
            setattr(value, name, 0)
    with pytest.raises(AttributeError):
        scan(png()).chunks[0].end = 0  # type: ignore[misc]
