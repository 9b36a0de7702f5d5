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
  sideways faces;
* the result fits the legacy API's body limit, downscaled and re-encoded as JPEG if needed;
* it carries no metadata: no EXIF (GPS coordinates, camera serial numbers, embedded
  thumbnails), no XMP, IPTC or comments, no PNG text chunks, and nothing after the end of the
  image (motion photos append a video there, MPO files more pictures). Data minimisation under
  PIPL: the provider gets, and we store, the picture and nothing else.

Re-encoding loses quality, so it happens only for a rotation or to fit the limits. Otherwise the
metadata is cut out of the file as it is: JPEG segments and PNG chunks are dropped whole, and
what is kept (the compressed image data, quantisation and Huffman tables, the colour profile)
is copied byte for byte, so the pixels decode exactly as before. A file that carries no
metadata comes out byte for byte as it went in.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

#: EXIF tag 0x0112: how the camera was held. 1 means upright, 2..8 need a transpose.
EXIF_ORIENTATION_TAG = 0x0112
#: The transpose that shows a picture stored with each EXIF orientation upright, as a viewer
#: does (the same table as ``PIL.ImageOps.exif_transpose``). Applied by hand because the
#: EXIF block is already gone from the bytes that are decoded.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

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
    """An image ready to send, without metadata.

    ``transformed`` is about pixels: True if the image was rotated, scaled or re-encoded (so
    it is no longer exactly what the user sent). ``metadata_removed`` is about the rest: True
    if the input carried metadata or data after the image's end that the output does not.
    Both may be True; when only ``metadata_removed`` is, the pixels are exactly the input's.
    """

    data: bytes
    format: str
    width: int
    height: int
    content_type: str
    #: With the leading dot, like ``mimetypes.guess_extension``: ``.jpg``, ``.png``, ``.bmp``.
    extension: str
    transformed: bool
    metadata_removed: bool = False

    def __repr__(self) -> str:
        # Never the bytes: a repr ends up in logs and tracebacks, and this is a face.
        return (
            f"PreparedImage(format={self.format!r}, width={self.width}, height={self.height}, "
            f"size={len(self.data)} bytes, transformed={self.transformed}, "
            f"metadata_removed={self.metadata_removed})"
        )


#: What Pillow raises for bytes that are not a whole image of a format it knows.
_UNDECODABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError)


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
    cleaned = strip_metadata(data, image_format)
    metadata_removed = cleaned != data
    # Decode what will be sent, not what came in: that is the file that must be whole.
    image = _decode(cleaned)
    if orientation != 1:
        image = image.transpose(_UPRIGHT[orientation])
        width, height = image.size

    # Measured without the metadata: a motion photo whose video alone breaks the body limit
    # needs no re-encoding.
    fits = max(width, height) <= limits.max_side and len(cleaned) <= limits.max_bytes
    if orientation == 1 and fits:
        return PreparedImage(
            data=cleaned,
            format=image_format,
            width=width,
            height=height,
            content_type=_CONTENT_TYPES[image_format],
            extension=_EXTENSIONS[image_format],
            transformed=False,
            metadata_removed=metadata_removed,
        )
    return _reencode(image, limits, metadata_removed=metadata_removed)


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
    except _UNDECODABLE as exc:
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
    return _walk_jpeg(data)[1] >= 0


def _png_reaches_end(data: bytes) -> bool:
    return _walk_png(data)[1] >= 0


@dataclass(frozen=True)
class _JpegSegment:
    """A JPEG marker segment by its offsets in the file."""

    marker: int  # the byte after FF: 0xE1 for APP1, 0xDA for SOS...
    start: int  # the first FF, fill bytes included
    payload_start: int  # after the length field
    end: int  # after the payload; for SOS, after the entropy-coded data that follows it


@dataclass(frozen=True)
class _PngChunk:
    kind: bytes  # the four-letter type
    start: int  # the length field
    end: int  # after the CRC


def _walk_jpeg(data: bytes) -> tuple[list[_JpegSegment], int]:
    """The segments between SOI and EOI, and the offset just past EOI (-1 if never reached).

    Bytes between segments that belong to none (stray bytes some writers leave) are not
    listed; whoever copies the file keeps them.
    """
    segments: list[_JpegSegment] = []
    size = len(data)
    position = 2  # after SOI (FF D8), which Pillow has already matched
    while position < size:
        marker_start = data.find(b"\xff", position)
        if marker_start < 0:
            return segments, -1
        position = marker_start
        while position < size and data[position] == 0xFF:  # FF fill bytes before a marker
            position += 1
        if position >= size:
            return segments, -1
        marker = data[position]
        position += 1
        if marker == 0xD9:  # EOI
            return segments, position
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length field
            segments.append(_JpegSegment(marker, marker_start, position, position))
            continue
        if position + 2 > size:
            return segments, -1
        payload_start = position + 2
        position += int.from_bytes(data[position : position + 2], "big")
        if position > size:
            return segments, -1
        if marker == 0xDA:  # SOS: entropy-coded data follows, up to the next real marker
            position = _end_of_entropy_data(data, position)
            if position < 0:
                return segments, -1
        segments.append(_JpegSegment(marker, marker_start, payload_start, position))
    return segments, -1


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


def _walk_png(data: bytes) -> tuple[list[_PngChunk], int]:
    """The chunks up to and including IEND, and the offset just past IEND (-1 if cut short)."""
    chunks: list[_PngChunk] = []
    position = 8  # after the signature
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        chunk = _PngChunk(kind, position, position + 12 + length)  # length, type, data, CRC
        if chunk.end > len(data):
            return chunks, -1
        chunks.append(chunk)
        position = chunk.end
        if kind == b"IEND":
            return chunks, position
    return chunks, -1


def strip_metadata(data: bytes, image_format: str) -> bytes:
    """``data`` without metadata and without anything after the end of the image.

    Nothing is decoded or re-encoded: whole JPEG segments and PNG chunks are left out, and
    everything kept is copied byte for byte, so the pixels decode exactly as before. A file
    with nothing to remove is returned as it is. ``data`` must be a whole image of
    ``image_format`` (as :func:`prepare_image` has checked by then); BMP has no metadata.

    Raises ``ValueError`` if the file stops before the end of the image.
    """
    if image_format == "JPEG":
        return _strip_jpeg(data)
    if image_format == "PNG":
        return _strip_png(data)
    return data


_APP0, _APP2, _APP14, _COM = 0xE0, 0xE2, 0xEE, 0xFE
_JFIF_ID = b"JFIF\x00"
_ICC_PROFILE_ID = b"ICC_PROFILE\x00"
_ADOBE_ID = b"Adobe"
#: A JFIF APP0 payload up to the thumbnail: identifier (5), version (2), density unit (1),
#: densities (2 + 2); then the thumbnail's width and height (1 + 1) and its RGB pixels.
_JFIF_HEADER_SIZE = 12


def _strip_jpeg(data: bytes) -> bytes:
    segments, end = _walk_jpeg(data)
    if end < 0:
        raise ValueError("the JPEG stops before its end marker")
    pieces = [data[:2]]  # SOI
    copied_to = 2
    for segment in segments:
        replacement = _jpeg_replacement(data, segment)
        if replacement is None:
            continue  # kept as it is: copied with the bytes around it
        pieces.append(data[copied_to : segment.start])
        pieces.append(replacement)
        copied_to = segment.end
    # The MPO's further pictures and a motion photo's video come after `end`.
    pieces.append(data[copied_to:end])
    return b"".join(pieces)


def _jpeg_replacement(data: bytes, segment: _JpegSegment) -> bytes | None:
    """None to keep this segment as it is, else what to write instead (``b""`` to drop it).

    Application segments (APPn) and comments hold metadata: EXIF with GPS and serial numbers
    and a thumbnail in APP1, XMP in APP1, IPTC in APP13, MPF (the index of an MPO's further
    pictures) and FlashPix in APP2, vendors' notes elsewhere. Three are kept because the
    picture's look depends on them: JFIF (APP0: colour space, pixel density), the ICC colour
    profile (APP2) and Adobe (APP14: tells the decoder whether to convert YCbCr/YCCK colour).
    Every other segment is image structure and is kept.
    """
    marker = segment.marker
    if marker == _COM:
        return b""
    if not 0xE0 <= marker <= 0xEF:
        return None
    payload = data[segment.payload_start : segment.end]
    if marker == _APP0 and payload.startswith(_JFIF_ID):
        return _jfif_without_thumbnail(payload)
    if (marker == _APP2 and payload.startswith(_ICC_PROFILE_ID)) or (
        marker == _APP14 and payload.startswith(_ADOBE_ID)
    ):
        return None
    return b""


def _jfif_without_thumbnail(payload: bytes) -> bytes | None:
    """None if the JFIF segment has no thumbnail, else the segment without it.

    The thumbnail is a small copy of the picture, and not always of the same picture: editors
    that crop a photo have been known to leave the uncropped thumbnail behind.
    """
    if len(payload) <= _JFIF_HEADER_SIZE + 2:
        return None  # no thumbnail (or a short, odd header: left alone)
    trimmed = payload[:_JFIF_HEADER_SIZE] + b"\x00\x00"  # thumbnail 0 x 0
    return b"\xff\xe0" + (len(trimmed) + 2).to_bytes(2, "big") + trimmed


#: PNG chunks other than the critical ones (IHDR, PLTE, IDAT, IEND) that are kept: those that
#: change how the pixels are read or shown. Every other ancillary chunk goes: text (tEXt, zTXt,
#: iTXt: author, software, comments, often full XMP), eXIf, tIME, and any private or unknown
#: chunk, which decoders ignore by the PNG specification, so leaving it out cannot change
#: the picture.
_PNG_ANCILLARY_KEPT = frozenset(
    {
        b"tRNS",  # transparency
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"iCCP",
        b"cICP",
        b"mDCv",
        b"cLLi",  # colour space and profile, gamma, HDR
        b"sBIT",  # significant bits per sample
        b"bKGD",  # background colour
        b"pHYs",  # pixel density (aspect ratio)
        b"acTL",
        b"fcTL",
        b"fdAT",  # APNG control: a one-frame APNG is accepted and must stay the same
    }
)


def _strip_png(data: bytes) -> bytes:
    chunks, end = _walk_png(data)
    if end < 0:
        raise ValueError("the PNG stops before its IEND chunk")
    pieces = [data[:8]]  # signature
    copied_to = 8
    for chunk in chunks:
        critical = not chunk.kind[0] & 0x20  # an upper-case first letter
        if critical or chunk.kind in _PNG_ANCILLARY_KEPT:
            continue  # copied with its neighbours
        pieces.append(data[copied_to : chunk.start])
        copied_to = chunk.end
    pieces.append(data[copied_to:end])
    return b"".join(pieces)


def _decode(data: bytes) -> Image.Image:
    """Verify, then decode every pixel from a fresh handle (``verify`` spends the first)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels") from exc
    except _UNDECODABLE as exc:
        raise ImageRejected("undecodable") from exc
    return image


def _reencode(image: Image.Image, limits: ImageLimits, *, metadata_removed: bool) -> PreparedImage:
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
                    metadata_removed=metadata_removed,
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
