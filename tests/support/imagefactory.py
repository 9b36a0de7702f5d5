"""Synthetic test images, made by code: no real faces, nothing downloaded.

Every function returns the encoded bytes. Colours are flat blocks so that a test can tell where
a region ended up after a rotation without depending on the encoder's exact output.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

RED = (220, 20, 20)
BLUE = (20, 20, 220)
GPS_IFD_TAG = 0x8825
ORIENTATION_TAG = 0x0112


def picture(width: int = 320, height: int = 240, mode: str = "RGB") -> Image.Image:
    """Blue, with a red block in the top-left quarter (the corner tells the orientation)."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    return image if mode == "RGB" else image.convert(mode)


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def jpeg(width: int = 320, height: int = 240, **options: object) -> bytes:
    return encode(picture(width, height), "JPEG", quality=90, **options)


def enlarged(photo: bytes, size: tuple[int, int]) -> bytes:
    """``photo`` (any format Pillow reads) resized to ``size`` as a JPEG: the same picture at a
    provider's minimum size (the simulator's fingerprint does not depend on the size)."""
    with Image.open(io.BytesIO(photo)) as image:
        return encode(image.convert("RGB").resize(size), "JPEG", quality=90)


def png(width: int = 320, height: int = 240, mode: str = "RGB") -> bytes:
    return encode(picture(width, height, mode), "PNG")


def bmp(width: int = 320, height: int = 240) -> bytes:
    return encode(picture(width, height), "BMP")


def gif(width: int = 320, height: int = 240) -> bytes:
    """A single-frame GIF (the kind one might rename to .jpg)."""
    return encode(picture(width, height, "P"), "GIF")


def webp(width: int = 320, height: int = 240) -> bytes:
    return encode(picture(width, height), "WEBP")


def tiff(width: int = 320, height: int = 240) -> bytes:
    return encode(picture(width, height), "TIFF")


def mpo(width: int = 320, height: int = 240) -> bytes:
    """A multi-picture JPEG, as some phone cameras write (a JPEG plus pictures after it)."""
    second = Image.new("RGB", (width // 2, height // 2), (90, 90, 90))
    return encode(picture(width, height), "MPO", save_all=True, append_images=[second])


def animated_gif(width: int = 320, height: int = 240, frames: int = 3) -> bytes:
    images = [Image.new("P", (width, height), i * 40) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=100)


def animated_png(width: int = 320, height: int = 240, frames: int = 3) -> bytes:
    """An APNG: Pillow reports format PNG with n_frames > 1."""
    images = [Image.new("RGB", (width, height), (i * 60, 40, 200 - i * 60)) for i in range(frames)]
    return encode(images[0], "PNG", save_all=True, append_images=images[1:], duration=100)


def truncated_jpeg(width: int = 640, height: int = 480) -> bytes:
    """A noisy JPEG cut in the middle of its image data (noise so there is data to cut)."""
    data = noise_jpeg(width, height, quality=85)
    return data[: len(data) * 2 // 3]


def truncated_png(width: int = 640, height: int = 480) -> bytes:
    data = encode(noise_image(width, height), "PNG")
    return data[: len(data) * 2 // 3]


def noise_image(width: int, height: int, seed: int = 1234) -> Image.Image:
    return Image.frombytes(
        "RGB", (width, height), random.Random(seed).randbytes(width * height * 3)
    )


def noise_jpeg(width: int, height: int, quality: int = 95, **options: object) -> bytes:
    """Random noise defeats JPEG compression: about 2.4 bytes a pixel at quality 95."""
    return encode(noise_image(width, height), "JPEG", quality=quality, subsampling=0, **options)


def exif_jpeg(
    width: int = 400, height: int = 200, orientation: int | None = 6, gps: bool = True
) -> bytes:
    """A JPEG whose EXIF says how the camera was held and, optionally, where it was."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        gps_ifd = exif.get_ifd(GPS_IFD_TAG)
        gps_ifd[1] = "N"  # GPSLatitudeRef
        gps_ifd[2] = (39.0, 54.0, 27.0)  # GPSLatitude
        gps_ifd[3] = "E"  # GPSLongitudeRef
        gps_ifd[4] = (116.0, 23.0, 17.0)  # GPSLongitude
    return encode(picture(width, height), "JPEG", quality=90, exif=exif.tobytes())


def huge_png_header(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of width x height, written by hand so making it costs no pixels.

    All-zero rows compress to almost nothing: 20000 x 20000 comes to a few tens of KB.
    """
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte "none", then the bits
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row) for _ in range(height)]
    idat = b"".join(chunks) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


# --- Metadata ------------------------------------------------------------------------------

#: Words planted in metadata so a test can search the output for them.
SECRET_COMMENT = b"taken at Zhongguancun, serial 12345"
SECRET_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b"<rdf:Description>planted-xmp-secret</rdf:Description></rdf:RDF></x:xmpmeta>"
)
SECRET_TEXT = "planted-png-secret"


def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PlantedCamera"  # Make
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber (in the main IFD: Pillow writes it there)
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    gps_ifd = exif.get_ifd(GPS_IFD_TAG)
    gps_ifd[1] = "N"
    gps_ifd[2] = (39.0, 54.0, 27.0)
    gps_ifd[3] = "E"
    gps_ifd[4] = (116.0, 23.0, 17.0)
    return exif


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def insert_jpeg_segments(data: bytes, *segments: bytes) -> bytes:
    """``data`` with ``segments`` written right after its first segment (JFIF or Adobe)."""
    first_end = 4 + int.from_bytes(data[4:6], "big")
    return data[:first_end] + b"".join(segments) + data[first_end:]


def metadata_jpeg(
    width: int = 320, height: int = 240, icc_profile: bytes | None = None, **options: object
) -> bytes:
    """A noisy JPEG carrying what phones and editors write: EXIF with GPS and a serial number,
    XMP, a comment, an ICC profile, plus IPTC (APP13), a vendor APP segment, a JFXX thumbnail
    extension and a FlashPix APP2."""
    data = encode(
        noise_image(width, height),
        "JPEG",
        quality=90,
        exif=gps_exif().tobytes(),
        xmp=SECRET_XMP,
        comment=SECRET_COMMENT,
        icc_profile=icc_profile if icc_profile is not None else srgb_profile(),
        **options,
    )
    return insert_jpeg_segments(
        data,
        jpeg_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0cplanted-iptc"),
        jpeg_segment(0xE3, b"Vendor\x00planted-vendor-note"),
        jpeg_segment(0xE0, b"JFXX\x00\x13" + b"\x01" * 40),  # JFIF extension: a thumbnail
        jpeg_segment(0xE2, b"FPXR\x00planted-flashpix"),
    )


def jfif_thumbnail_jpeg(width: int = 320, height: int = 240) -> bytes:
    """A JPEG whose JFIF header carries a 2 x 2 RGB thumbnail, and a 300 dpi density."""
    data = jpeg(width, height)
    assert data[6:11] == b"JFIF\x00"
    thumbnail = bytes([200, 10, 10] * 4)
    header = b"JFIF\x00\x01\x02\x01" + (300).to_bytes(2, "big") * 2 + b"\x02\x02"
    app0_end = 4 + int.from_bytes(data[4:6], "big")
    return data[:2] + jpeg_segment(0xE0, header + thumbnail) + data[app0_end:]


def metadata_png(width: int = 320, height: int = 240) -> bytes:
    """A PNG with text chunks (plain, compressed, international), EXIF, a timestamp and a
    private chunk, and with the chunks that matter for colour: iCCP, gAMA... (pHYs too)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET_TEXT)
    info.add_text("Author", SECRET_TEXT, zip=True)
    info.add_itxt("Description", SECRET_TEXT, lang="zh", tkey="描述")
    info.add(b"tIME", bytes.fromhex("07EA0B18050A2A"))
    info.add(b"prVt", SECRET_TEXT.encode())
    info.add(b"gAMA", (45455).to_bytes(4, "big"))
    return encode(
        noise_image(width, height),
        "PNG",
        pnginfo=info,
        exif=gps_exif().tobytes(),
        icc_profile=srgb_profile(),
        dpi=(300, 300),
    )


# --- Crafted input (hostile files; small to make, costly for a naive reader) --------------------


def jpeg_with_fill_before_sos(fill: int = 2_000_000) -> bytes:
    """FF fill bytes (legal in the standard, in any number) before the SOS marker."""
    data = jpeg()
    sos = data.index(b"\xff\xda")
    return data[:sos] + b"\xff" * fill + data[sos:]


def jpeg_with_fill_in_scan(fill: int = 2_000_000) -> bytes:
    """Fill bytes between the entropy-coded data and EOI."""
    data = jpeg()
    return data[:-2] + b"\xff" * fill + data[-2:]


def jpeg_with_stuffing(pairs: int = 1_000_000) -> bytes:
    """``FF 00`` (a stuffed data byte) repeated at the end of the scan."""
    data = jpeg()
    return data[:-2] + b"\xff\x00" * pairs + data[-2:]


def jpeg_with_empty_app_segments(count: int = 1_000_000) -> bytes:
    return insert_jpeg_segments(jpeg(), b"\xff\xe5\x00\x02" * count)


def jpeg_with_marker_trick_before_app1() -> bytes:
    """``FF 00`` and two bytes before an APP1 with GPS EXIF: a reader that takes FF 00 for
    a segment with a length skips the APP1 and keeps it."""
    exif = b"Exif\x00\x00" + gps_exif().tobytes()
    app1 = jpeg_segment(0xE1, exif)
    return insert_jpeg_segments(jpeg(), b"\xff\x00" + (len(app1) + 2).to_bytes(2, "big") + app1)


def png_with_chunks(count: int = 1_000_000, before_idat: bool = True) -> bytes:
    data = png()
    empty = _chunk(b"prVt", b"")
    at = data.index(b"IDAT") - 4 if before_idat else data.index(b"IEND") - 4
    return data[:at] + empty * count + data[at:]


def _zeros_zlib(length: int, chunk: int = 1 << 20) -> bytes:
    """A zlib stream of ``length`` zero bytes without compressing them all: after a full flush
    the deflate state restarts, so every full chunk compresses to the same piece; the Adler-32
    of n zeros is (n mod 65521) << 16 | 1. A 13000 x 13000 bomb costs 0.05 s, not 10 s (the
    mutation runner builds it once per mutant)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(length, chunk)
    tail = compressor.compress(bytes(rest)) + compressor.flush()
    adler = (length % 65521) << 16 | 1
    return b"\x78\xda" + piece * full + tail + adler.to_bytes(4, "big")


def png_header_bomb(width: int, height: int, depth: int = 8, colour: int = 6) -> bytes:
    """A PNG declaring width x height whose IDAT is a tiny all-zero deflate stream: costs
    nothing to make, width x height x channels bytes to decode (every row: filter 0, zeros)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row_length = 1 + (width * channels * depth + 7) // 8
    idat = _zeros_zlib(row_length * height)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def png_16bit(width: int = 320, height: int = 240) -> bytes:
    image = picture(width, height, "L").convert("I").point(lambda value: value * 256)
    return encode(image.convert("I;16"), "PNG")


def rle8_bmp(width: int = 4000, height: int = 4000) -> bytes:
    """An 8-bit RLE BMP: runs of 255 pixels, two bytes each."""
    rows = []
    for _ in range(height):
        row = bytearray()
        left = width
        while left:
            run = min(255, left)
            row += bytes([run, 1])
            left -= run
        rows.append(bytes(row) + b"\x00\x00")  # end of line
    pixels = b"".join(rows) + b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0
    )
    return (
        b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + palette + pixels
    )
