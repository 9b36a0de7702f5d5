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
