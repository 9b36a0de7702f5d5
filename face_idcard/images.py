"""Check and prepare a photo before it is sent to the comparison service.

One function, :func:`prepare_image`, used by every entry point (API, admin, Python calls) through
:func:`face_idcard.validators.validate_image`. It is pure Pillow with no Django import so the
provider client and the simulator may use it too.

What it guarantees about its output:

* the format was decided by decoding the bytes, never from a file name or a client's
  content type, and is one the legacy API takes (JPEG, PNG, BMP; GIF is refused);
* the whole image decodes (a truncated file is refused even if the host process set
  ``ImageFile.LOAD_TRUNCATED_IMAGES``);
* no decompression bomb was decoded: the pixel count is read from the header first;
* phone photos are turned upright (EXIF orientation), because face detection fails on
  sideways faces, and re-encoded without any metadata (EXIF may carry GPS coordinates);
* the result fits the legacy API's body limit, downscaled and re-encoded as JPEG if needed.

Input that is already fine is passed through byte for byte.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

#: EXIF tag 0x0112: how the camera was held. 1 means upright, 2..8 need a transpose.
EXIF_ORIENTATION_TAG = 0x0112

#: JPEG qualities tried, best first, before the image is shrunk further.
JPEG_QUALITY_STEPS = (90, 80, 70, 60)
#: Each shrink step keeps this share of the width and the height.
SHRINK_FACTOR = 0.75

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp"}
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp"}


@dataclass(frozen=True)
class ImageLimits:
    """What the comparison service accepts, and what we accept from clients."""

    # The legacy API allows 6 MB for the WHOLE request body; leave room for the other fields
    # and the multipart framing.
    max_bytes: int = 6 * 1024 * 1024 - 64 * 1024
    formats: frozenset[str] = field(default_factory=lambda: frozenset({"JPEG", "PNG", "BMP"}))
    #: Shorter side in pixels, after orientation, below which no face can be found.
    min_side: int = 64
    #: Longer side beyond which the image is downscaled (not refused).
    max_side: int = 4096
    #: Refused BEFORE decoding (decompression-bomb guard).
    max_pixels: int = 40_000_000
    #: Uploads larger than this are refused outright, without opening them.
    max_input_bytes: int = 15 * 1024 * 1024


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send. ``transformed`` is True if it was rotated, scaled or re-encoded."""

    data: bytes
    format: str
    width: int
    height: int
    content_type: str
    #: With the leading dot, like ``mimetypes.guess_extension``: ``.jpg``, ``.png``, ``.bmp``.
    extension: str
    transformed: bool

    def __repr__(self) -> str:
        # Never the bytes: a repr ends up in logs and tracebacks, and this is a face.
        return (
            f"PreparedImage(format={self.format!r}, width={self.width}, height={self.height}, "
            f"size={len(self.data)} bytes, transformed={self.transformed})"
        )


class ImageRejected(ValueError):
    """The image cannot be used. ``reason`` is a stable code:

    ``empty``, ``too_large_input``, ``undecodable``, ``format``, ``animated``,
    ``too_many_pixels``, ``too_small``.

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


def prepare_image(data: bytes, limits: ImageLimits | None = None) -> PreparedImage:
    """Check ``data`` and return it ready to send, or raise :class:`ImageRejected`."""
    limits = limits if limits is not None else ImageLimits()
    if not data:
        raise ImageRejected("empty")
    if len(data) > limits.max_input_bytes:
        raise ImageRejected("too_large_input", f"more than {limits.max_input_bytes} bytes")

    image_format, width, height, orientation = _inspect(data, limits)
    image = _decode(data)
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
        width, height = image.size

    fits = max(width, height) <= limits.max_side and len(data) <= limits.max_bytes
    if orientation == 1 and fits:
        return PreparedImage(
            data=data,
            format=image_format,
            width=width,
            height=height,
            content_type=_CONTENT_TYPES[image_format],
            extension=_EXTENSIONS[image_format],
            transformed=False,
        )
    return _reencode(image, limits)


def _inspect(data: bytes, limits: ImageLimits) -> tuple[str, int, int, int]:
    """Read the header only: format, size, orientation. Nothing is decoded here."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or ""
            width, height = image.size
            if image_format == "MPO":
                # Many phone cameras write MPO: a plain JPEG with extra pictures (depth map,
                # preview) after its end marker. Every JPEG decoder reads it as the JPEG it is,
                # and its extra frames are not an animation.
                image_format, frames = "JPEG", 1
            elif image_format in limits.formats:
                # Only now: counting frames walks the whole file for some formats (GIF, TIFF).
                frames = getattr(image, "n_frames", 1)
            else:
                frames = 1
            orientation = _orientation(image) if image_format in limits.formats else 1
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fired while reading the header (its limit is far above ours
        # unless the host lowered it, or turned its warning into an error).
        raise ImageRejected("too_many_pixels", f"more than {limits.max_pixels} pixels") from exc
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        struct.error,
        EOFError,
    ) as exc:
        raise ImageRejected("undecodable") from exc

    if image_format not in limits.formats:
        raise ImageRejected("format", "only " + ", ".join(sorted(limits.formats)))
    if frames > 1:
        raise ImageRejected("animated")
    if width * height > limits.max_pixels:
        raise ImageRejected("too_many_pixels", f"more than {limits.max_pixels} pixels")
    if min(width, height) < limits.min_side:  # a rotation does not change the shorter side
        raise ImageRejected("too_small", f"shorter side below {limits.min_side} pixels")
    if _looks_truncated(data, image_format):
        raise ImageRejected("undecodable", "the file is truncated")
    return image_format, width, height, orientation


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not refuse a good photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _looks_truncated(data: bytes, image_format: str) -> bool:
    """A structural end-of-file check that does not depend on Pillow's global settings.

    With ``ImageFile.LOAD_TRUNCATED_IMAGES`` set (a host project may do that), Pillow pads a
    truncated file with grey and reports success; these checks still catch it. Bytes after
    the end of the image are allowed: phones append videos ("motion photos") and extra
    pictures there.
    """
    if image_format == "JPEG":
        return not _jpeg_reaches_end(data)
    if image_format == "PNG":
        return not _png_reaches_end(data)
    if image_format == "BMP" and len(data) >= 6:
        # bfSize, the declared file size; some writers leave it at 0.
        declared = int.from_bytes(data[2:6], "little")
        return declared > len(data)
    return False


def _jpeg_reaches_end(data: bytes) -> bool:
    """Walk the JPEG's segments from SOI; True if the end-of-image marker is reached."""
    size = len(data)
    position = 2  # after SOI (FF D8), which Pillow has already matched
    while position < size:
        marker_start = data.find(b"\xff", position)
        if marker_start < 0:
            return False
        position = marker_start
        while position < size and data[position] == 0xFF:  # FF fill bytes before a marker
            position += 1
        if position >= size:
            return False
        marker = data[position]
        position += 1
        if marker == 0xD9:  # EOI
            return True
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length field
            continue
        if position + 2 > size:
            return False
        position += int.from_bytes(data[position : position + 2], "big")
        if position > size:
            return False
        if marker == 0xDA:  # SOS: entropy-coded data follows, up to the next real marker
            position = _end_of_entropy_data(data, position)
            if position < 0:
                return False
    return False


def _end_of_entropy_data(data: bytes, position: int) -> int:
    """Index of the first marker after entropy-coded data, or -1 if the data just stops."""
    while True:
        index = data.find(b"\xff", position)
        if index < 0 or index + 1 >= len(data):
            return -1
        following = data[index + 1]
        # FF 00 is a stuffed FF, FF D0..D7 a restart marker, FF FF fill: all part of the scan.
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position = index + 1
            continue
        return index


def _png_reaches_end(data: bytes) -> bool:
    """Walk the PNG's chunks; True if the IEND chunk is there in full."""
    position = 8  # after the signature
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        position += 12 + length  # length, type, payload, CRC
        if kind == b"IEND":
            return position <= len(data)
    return False


def _decode(data: bytes) -> Image.Image:
    """Verify, then decode every pixel from a fresh handle (``verify`` spends the first)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels") from exc
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        struct.error,
        EOFError,
    ) as exc:
        raise ImageRejected("undecodable") from exc
    return image


def _reencode(image: Image.Image, limits: ImageLimits) -> PreparedImage:
    """JPEG, no metadata, longer side at most ``max_side``, at most ``max_bytes``."""
    rgb = _to_rgb(image)
    width, height = rgb.size
    scale = min(1.0, limits.max_side / max(width, height))
    size_from_max_side = True
    while True:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if min(size) < limits.min_side:
            if size_from_max_side:
                # So elongated that bringing the long side down leaves too short a short side.
                raise ImageRejected("too_small", f"shorter side below {limits.min_side} pixels")
            # Only reachable with limits that contradict each other (a tiny max_bytes).
            raise ImageRejected("too_large_input", f"cannot fit in {limits.max_bytes} bytes")
        resized = rgb if size == rgb.size else rgb.resize(size, Image.Resampling.LANCZOS)
        for quality in JPEG_QUALITY_STEPS:
            buffer = io.BytesIO()
            # No exif=, icc_profile= or comment=: Pillow then writes no metadata at all.
            resized.save(buffer, format="JPEG", quality=quality, optimize=True)
            if buffer.tell() <= limits.max_bytes:
                return PreparedImage(
                    data=buffer.getvalue(),
                    format="JPEG",
                    width=size[0],
                    height=size[1],
                    content_type=_CONTENT_TYPES["JPEG"],
                    extension=_EXTENSIONS["JPEG"],
                    transformed=True,
                )
        scale *= SHRINK_FACTOR
        size_from_max_side = False


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to RGB for JPEG; transparent areas become white, not black."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and float greyscale: scale to 8 bits rather than clip to white.
        return image.convert("I").point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")
