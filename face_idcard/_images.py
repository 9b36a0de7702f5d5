"""Check and prepare a photo before it is sent to the comparison service.

Every entry point (API, admin, Python calls) takes a photo the same way: :func:`read_upload`
reads the upload with a cap, :func:`validate_image` checks and prepares it, both held to the
limits :func:`limits_for` builds (a backend's own narrowed by the site's settings: the one place
the two meet). The work is :func:`prepare_image`, Pillow after the bounded scan of
:mod:`face_idcard._imagescan`; the rest only turns its refusals into translated
``ValidationError`` messages.

What :func:`prepare_image` guarantees about its output:

* the format was decided by decoding the bytes, never from a file name or a client's
  content type, and is one the backend takes (JPEG, PNG or BMP, as its ``formats`` say; GIF
  never);
* the whole image decodes (a truncated file is refused even if the host process set
  ``ImageFile.LOAD_TRUNCATED_IMAGES``);
* no decompression bomb was decoded: the pixel count is read from the header first;
* phone photos are turned upright (EXIF orientation), because face detection fails on
  sideways faces;
* the result fits the backend's body limit (``max_bytes``), downscaled and re-encoded as JPEG
  if needed;
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
import math
import struct
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from ._imagescan import ImageRejected, JpegSegment, Scan, scan
from .conf import face_idcard_settings

__all__ = [
    "IMAGE_MESSAGES",
    "ImageLimits",
    "ImageRejected",
    "PreparedImage",
    "check_upload_type",
    "limits_for",
    "prepare_image",
    "read_upload",
    "strip_metadata",
    "validate_image",
]

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
#: Start of scan: the segment after which entropy-coded data lies between segments.
_SOS = 0xDA

JPEG_QUALITY_STEPS = (90, 80, 70, 60)
#: Each shrink step keeps this share of the width and the height.
SHRINK_FACTOR = 0.75
#: The scale of the decode that only checks a photo sent as it is (JPEG's cheapest draft).
VERIFY_SCALE = 1 / 8

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp"}
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp"}


@dataclass(frozen=True)
class ImageLimits:
    """What the comparison service accepts, and what we accept from clients.

    A backend declares its provider's own (``Backend.base_image_limits``); the defaults here
    serve a backend that declares none. :func:`limits_for` narrows them by the site's settings.
    """

    #: The most bytes sent as the photo. By default 6 MB for a whole request body, less room
    #: for the other fields and the multipart framing.
    max_bytes: int = 6 * 1024 * 1024 - 64 * 1024
    formats: frozenset[str] = field(default_factory=lambda: frozenset({"JPEG", "PNG", "BMP"}))
    #: Shorter side in pixels, after orientation, below which no face can be found.
    min_side: int = 64
    #: The provider's smallest photo, (longer side, shorter side) in pixels, after
    #: orientation: a rule of its service such as 640 x 480, kept whatever the site's
    #: ``IMAGE_MIN_SIDE_PIXELS`` (which sets ``min_side``). (0, 0): no such rule.
    min_box: tuple[int, int] = (0, 0)
    #: Longer side beyond which the image is downscaled (not refused).
    max_side: int = 4096
    #: Refused BEFORE decoding (decompression-bomb guard), from the header's dimensions.
    #: 25 MP: a phone's full-resolution photo (24 MP) fits; decoding more costs memory and
    #: time that no face comparison needs.
    max_pixels: int = 25_000_000
    #: PNG and BMP cannot be decoded at reduced scale: the raw pixel data they declare
    #: (width x height x bytes per pixel, 16-bit samples counting double) is capped too,
    #: which bounds the decoder's time and memory. 32 MB: 11 MP of 8-bit RGB.
    max_decoded_bytes: int = 32 * 1024 * 1024
    #: Uploads larger than this are refused outright, without opening them.
    max_input_bytes: int = 15 * 1024 * 1024


def limits_for(backend_limits: ImageLimits | None = None) -> ImageLimits:
    """The limits a photo is held to: a backend's own narrowed by the site's ``FACE_IDCARD``
    image settings, the upload cap ``UPLOAD_MAX_BYTES`` included.

    The one place the two meet: every backend's ``image_limits``, the default of
    :func:`validate_image` and the API's upload cap (no backend: the generic limits) come
    from here. The backend keeps its body limit, its formats and (if smaller) its longest
    side; the site decides the rest.
    """
    base = backend_limits if backend_limits is not None else ImageLimits()
    return replace(
        base,
        min_side=int(face_idcard_settings.IMAGE_MIN_SIDE_PIXELS),
        max_side=min(base.max_side, int(face_idcard_settings.IMAGE_MAX_SIDE_PIXELS)),
        max_pixels=int(face_idcard_settings.IMAGE_MAX_PIXELS),
        max_input_bytes=int(face_idcard_settings.UPLOAD_MAX_BYTES),
    )


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


def prepare_image(data: bytes, limits: ImageLimits | None = None) -> PreparedImage:
    """Check ``data`` and return it ready to send, or raise :class:`ImageRejected`.

    The order bounds the cost of hostile input: a capped structural scan of the bytes
    (:func:`scan`) before any decoder sees them, the pixel count from the header before
    anything decodes, decoding at reduced scale when the image is to be downscaled, and a
    last check on the bytes that will be sent.
    """
    limits = limits if limits is not None else ImageLimits()
    if not data:
        raise ImageRejected("empty")
    if len(data) > limits.max_input_bytes:
        raise ImageRejected("too_large_input", f"more than {limits.max_input_bytes} bytes")

    structure = scan(data)
    if structure.format not in limits.formats:
        raise ImageRejected("format", "only " + ", ".join(sorted(limits.formats)))
    image_format = structure.format
    orientation = _inspect(data, structure, limits)
    cleaned = strip_metadata(data, image_format, structure)
    metadata_removed = cleaned != data
    width, height = structure.width, structure.height

    # Measured without the metadata: a motion photo whose video alone breaks the body limit
    # needs no re-encoding.
    fits = max(width, height) <= limits.max_side and len(cleaned) <= limits.max_bytes
    if orientation == 1 and fits and not structure.needs_conversion:
        # What will be sent, not what came in, must be whole. Checked at the decoder's
        # smallest scale: libjpeg still reads every scan (a truncation fails the same), but
        # a 12 MP photo costs 0.6 MB of pixels instead of 36 MB (bench/api.py).
        _decode(cleaned, scale=VERIFY_SCALE)
        prepared = PreparedImage(
            data=cleaned,
            format=image_format,
            width=width,
            height=height,
            content_type=_CONTENT_TYPES[image_format],
            extension=_EXTENSIONS[image_format],
            transformed=False,
            metadata_removed=metadata_removed,
        )
    else:
        target = min(1.0, limits.max_side / max(width, height))
        if len(cleaned) > limits.max_bytes:
            # Over the body limit: the bytes shrink about with the pixel count, so start
            # at the power of two below the scale that fits (the decoder's cheap draft
            # scales) rather than re-encoding the full size at every quality in turn.
            fitting = math.sqrt(limits.max_bytes / len(cleaned))
            # Never below the provider's smallest photo: the shrinking steps go on from there.
            smallest = _smallest_scale(width, height, limits)
            target = min(target, max(2.0 ** math.floor(math.log2(fitting)), smallest))
        image = _decode(cleaned, scale=target)
        if orientation != 1:
            image = image.transpose(_UPRIGHT[orientation])
        prepared = _reencode(image, limits, metadata_removed=metadata_removed)
    return _without_metadata(prepared, limits)


def _inspect(data: bytes, structure: Scan, limits: ImageLimits) -> int:
    """The header checks, then Pillow's view of the header; returns the EXIF orientation.

    Nothing is decoded here, and the scan has already capped what Pillow's header parsers
    will walk through.
    """
    if (
        structure.width * structure.height > limits.max_pixels
        or structure.decoded_bytes > limits.max_decoded_bytes
    ):
        raise ImageRejected("too_many_pixels", f"more than {limits.max_pixels} pixels")
    if min(structure.width, structure.height) < limits.min_side:
        raise ImageRejected("too_small", f"shorter side below {limits.min_side} pixels")
    if _below_box(structure.width, structure.height, limits):
        raise ImageRejected("too_small_box", "smaller than {}x{} pixels".format(*limits.min_box))
    if structure.frames > 1:
        raise ImageRejected("animated")
    try:
        with Image.open(io.BytesIO(data)) as image:
            pillow_format = "JPEG" if image.format == "MPO" else image.format
            if pillow_format != structure.format or image.size != (
                structure.width,
                structure.height,
            ):
                # Pillow reads the header differently from the scan: trust neither.
                raise ImageRejected("undecodable")
            # JPEG's EXIF is a header segment; PNG's eXIf is taken from the scan, because
            # Pillow's getexif() on a PNG decodes the whole image to look for it.
            if structure.format == "JPEG":
                return _orientation(image.getexif())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", f"more than {limits.max_pixels} pixels") from exc
    except _UNDECODABLE as exc:
        raise ImageRejected("undecodable") from exc
    if structure.exif is not None:
        exif = Image.Exif()
        try:
            exif.load(structure.exif)
        except Exception:  # a broken EXIF block must not refuse a good photo
            return 1
        return _orientation(exif)
    return 1


def _orientation(exif: Image.Exif) -> int:
    try:
        value = exif.get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not refuse a good photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def strip_metadata(data: bytes, image_format: str, structure: Scan | None = None) -> bytes:
    """``data`` without metadata and without anything after the end of the image.

    Nothing is decoded or re-encoded: whole JPEG segments and PNG chunks are left out, and
    everything kept is copied byte for byte, so the pixels decode exactly as before. A file
    with nothing to remove is returned as it is. ``data`` must be a whole image of
    ``image_format`` (as :func:`prepare_image` has checked by then); BMP has no metadata.

    ``structure`` is :func:`~face_idcard._imagescan.scan`'s result for ``data`` when the
    caller has it (the file is not scanned twice). Raises ``ValueError``
    (:class:`ImageRejected`) if the file stops before the end of the image.
    """
    if image_format not in ("JPEG", "PNG"):
        return data
    structure = structure if structure is not None else scan(data)
    if image_format == "JPEG":
        return _strip_jpeg(data, structure)
    return _strip_png(data, structure)


_APP0, _APP2, _APP14, _COM = 0xE0, 0xE2, 0xEE, 0xFE
_JFIF_ID = b"JFIF\x00"
_ICC_PROFILE_ID = b"ICC_PROFILE\x00"
_ADOBE_ID = b"Adobe"
#: A JFIF APP0 payload up to the thumbnail: identifier (5), version (2), density unit (1),
#: densities (2 + 2); then the thumbnail's width and height (1 + 1) and its RGB pixels.
_JFIF_HEADER_SIZE = 12


def _strip_jpeg(data: bytes, structure: Scan) -> bytes:
    """The JPEG rebuilt from its segments, metadata segments dropped.

    Before the first scan nothing but segments is copied: bytes between two header segments
    (which decoders skip as "extraneous") could carry a broken APP1's EXIF and GPS, so they
    are never passed on. From the first scan on, what lies between segments is entropy-coded
    image data and is kept.
    """
    segments, end = structure.segments, structure.end
    pieces = [data[:2]]  # SOI
    copied_to = 2
    in_scans = False
    for segment in segments:
        in_scans = in_scans or segment.marker == _SOS
        replacement = _jpeg_replacement(data, segment)
        if in_scans:
            if replacement is None:
                continue  # kept as it is: copied with the bytes around it
            pieces.append(data[copied_to : segment.start])
        else:
            # Header: the segment alone, never the bytes before it.
            replacement = data[segment.start : segment.end] if replacement is None else replacement
        pieces.append(replacement)
        copied_to = segment.end
    # The MPO's further pictures and a motion photo's video come after `end`.
    pieces.append(data[copied_to:end])
    return b"".join(pieces)


def _jpeg_replacement(data: bytes, segment: JpegSegment) -> bytes | None:
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


def _png_chunk_kept(kind: bytes) -> bool:
    critical = not kind[0] & 0x20  # an upper-case first letter
    return critical or kind in _PNG_ANCILLARY_KEPT


def _strip_png(data: bytes, structure: Scan) -> bytes:
    chunks, end = structure.chunks, structure.end
    pieces = [data[:8]]  # signature
    copied_to = 8
    for chunk in chunks:
        if _png_chunk_kept(chunk.kind):
            continue  # copied with its neighbours
        pieces.append(data[copied_to : chunk.start])
        copied_to = chunk.end
    pieces.append(data[copied_to:end])
    return b"".join(pieces)


#: Modes Pillow's ``reduce`` works on (others are resized after their conversion to RGB).
_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "I", "F"})


def _decode(data: bytes, scale: float = 1.0) -> Image.Image:
    """Verify, then decode every pixel from a fresh handle (``verify`` spends the first).

    With ``scale`` below 1 the image is about to be downscaled by that factor: a JPEG is
    decoded at the smallest of 1/2, 1/4, 1/8 that is still at least that large (``draft``,
    done by the decoder, far cheaper), other formats are reduced by a whole factor right
    after decoding, before any conversion copies them.
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        opened = Image.open(io.BytesIO(data))
        width, height = opened.size
        wanted = (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))
        if scale < 1 and opened.format in ("JPEG", "MPO"):
            opened.draft(opened.mode if opened.mode in ("RGB", "L") else None, wanted)
        opened.load()
        image: Image.Image = opened
        factor = min(image.size[0] // wanted[0], image.size[1] // wanted[1])
        if factor >= 2 and image.mode in _REDUCIBLE_MODES:
            image = image.reduce(factor)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels") from exc
    except _UNDECODABLE as exc:
        raise ImageRejected("undecodable") from exc
    return image


#: What Pillow reports in ``info`` for metadata it read from a file.
_PILLOW_METADATA_KEYS = frozenset({"exif", "xmp", "comment", "photoshop", "XML:com.adobe.xmp"})


def _metadata_left(data: bytes) -> bool:
    """Does ``data`` (about to be sent) still carry EXIF, XMP, a comment or text?

    Checked by two readers that do not share code: the scan (a segment or chunk that
    stripping would drop) and Pillow (what it reports in ``info`` and ``getexif``).
    """
    structure = scan(data)
    dropped = [_jpeg_replacement(data, segment) is not None for segment in structure.segments]
    dropped += [not _png_chunk_kept(chunk.kind) for chunk in structure.chunks]
    if any(dropped):
        return True
    with Image.open(io.BytesIO(data)) as image:
        if structure.format == "PNG":
            image.load()  # text chunks after IDAT are only read with the pixels
        if _PILLOW_METADATA_KEYS & set(image.info) or len(image.getexif()):
            return True
        text = getattr(image, "text", None)
        return bool(text)


def _without_metadata(prepared: PreparedImage, limits: ImageLimits) -> PreparedImage:
    """``prepared``, re-encoded from its pixels if any metadata is found in its bytes."""
    if not _metadata_left(prepared.data):
        return prepared
    image = _decode(prepared.data)
    again = _reencode(image, limits, metadata_removed=True)
    if _metadata_left(again.data):  # cannot happen with Pillow's writer; never send it
        raise ImageRejected("undecodable", "metadata could not be removed")
    return again


def _reencode(image: Image.Image, limits: ImageLimits, *, metadata_removed: bool) -> PreparedImage:
    """JPEG, no metadata, longer side at most ``max_side``, at most ``max_bytes``."""
    rgb = _to_rgb(image)
    width, height = rgb.size
    scale = min(1.0, limits.max_side / max(width, height))
    size_from_max_side = True
    while True:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if min(size) < limits.min_side or _below_box(*size, limits):
            if size_from_max_side and _below_box(*size, limits):
                raise ImageRejected(
                    "too_small_box", "smaller than {}x{} pixels".format(*limits.min_box)
                )
            if size_from_max_side:
                # So elongated that bringing the long side down leaves too short a short side.
                raise ImageRejected("too_small", f"shorter side below {limits.min_side} pixels")
            # Only reachable with limits that contradict each other (a tiny max_bytes).
            raise ImageRejected("too_large_input", f"cannot fit in {limits.max_bytes} bytes")
        # reducing_gap: a cheap box reduction first, LANCZOS over the last factor of 3 only.
        resized = (
            rgb
            if size == rgb.size
            else rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        )
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


def _smallest_scale(width: int, height: int, limits: ImageLimits) -> float:
    """The smallest scale of a ``width`` x ``height`` photo that keeps it within the limits'
    minimums (its shorter side, the provider's box)."""
    longer, shorter = max(width, height), min(width, height)
    box_long, box_short = limits.min_box
    return max(limits.min_side / shorter, box_long / longer, box_short / shorter)


def _below_box(width: int, height: int, limits: ImageLimits) -> bool:
    """Whether a photo of ``width`` x ``height`` is smaller than the provider's box."""
    longer, shorter = limits.min_box
    return max(width, height) < longer or min(width, height) < shorter


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to RGB for JPEG; transparent areas become white, not black."""
    if "transparency" in image.info and image.mode in ("1", "L", "P", "RGB"):
        # A transparent palette entry or key colour (PNG's tRNS): made an alpha channel first.
        image = image.convert("RGBA")
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and float greyscale: scale to 8 bits rather than clip to white.
        return image.convert("I").point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")


# --- Uploads: what the entry points call ---------------------------------------------------

IMAGE_MESSAGES: dict[str, Any] = {
    "image_empty": _("The image file is empty."),
    "image_too_large": _("The image file is too large: at most %(max_mb).1f MB."),
    "image_undecodable": _("The image could not be read: the file is damaged or incomplete."),
    "image_format": _("The image must be a file in one of these formats: %(formats)s."),
    "image_animated": _("Animated images are not accepted: send a single photo."),
    "image_bmp_compressed": _("Compressed BMP files are not accepted: send a JPEG or PNG photo."),
    "image_too_many_pixels": _("The image has too many pixels: at most %(max_mp).0f megapixels."),
    "image_too_small": _(
        "The image is too small: its shorter side must be at least %(min_side)d pixels."
    ),
    "image_too_small_box": _(
        "The image is too small: it must be at least %(min_long_side)d by %(min_short_side)d "
        "pixels."
    ),
}
_IMAGE_CODES = {
    "empty": "image_empty",
    "too_large_input": "image_too_large",
    "undecodable": "image_undecodable",
    "format": "image_format",
    "animated": "image_animated",
    "too_many_pixels": "image_too_many_pixels",
    "too_small": "image_too_small",
    "too_small_box": "image_too_small_box",
    "bmp_compressed": "image_bmp_compressed",
}


def check_upload_type(image: object) -> None:
    """``TypeError`` unless ``image`` is bytes or has a ``read`` method (file, UploadedFile).

    Separate from :func:`read_upload` so a caller can refuse a wrong type before any
    other work."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return
    if not callable(getattr(image, "read", None)) or isinstance(image, io.TextIOBase):
        raise TypeError(
            "image must be bytes, a binary file object or an UploadedFile, "
            f"not {type(image).__name__}"
        )


def read_upload(image: object, max_bytes: int) -> bytes:
    """The bytes of a photo given as ``bytes``, a binary file object or an ``UploadedFile``.

    Never reads more than ``max_bytes + 1`` bytes: a larger upload is refused (code
    ``image_too_large``) without being held in memory. Anything else is a ``TypeError``.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        if len(image) > max_bytes:
            raise _too_large(max_bytes)
        return bytes(image)
    if isinstance(image, UploadedFile):
        if image.size is not None and image.size > max_bytes:
            raise _too_large(max_bytes)  # known from the upload handler: nothing to read
        if image.seekable():
            image.seek(0)  # a form may already have read it
    check_upload_type(image)
    data = image.read(max_bytes + 1)  # type: ignore[attr-defined]
    if not isinstance(data, bytes):
        raise TypeError("image must be opened in binary mode: its read() returned no bytes")
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _too_large(max_bytes: int) -> ValidationError:
    return ValidationError(
        IMAGE_MESSAGES["image_too_large"],
        code="image_too_large",
        params={"max_mb": max_bytes / (1024 * 1024)},
    )


def validate_image(data: bytes, limits: ImageLimits | None = None) -> PreparedImage:
    """Check an uploaded photo and prepare it for the provider (:func:`prepare_image`), held
    to ``limits`` (default: :func:`limits_for` without a backend).

    Codes: ``image_empty``, ``image_too_large``, ``image_undecodable``, ``image_format``,
    ``image_animated``, ``image_too_many_pixels``, ``image_too_small``,
    ``image_too_small_box``.
    """
    limits = limits if limits is not None else limits_for()
    try:
        return prepare_image(data, limits)
    except ImageRejected as exc:
        code = _IMAGE_CODES[exc.reason]
        params = {
            "max_mb": limits.max_input_bytes / (1024 * 1024),
            "max_mp": limits.max_pixels / 1_000_000,
            "min_side": limits.min_side,
            "min_long_side": limits.min_box[0],
            "min_short_side": limits.min_box[1],
            "formats": ", ".join(sorted(limits.formats)),
        }
        raise ValidationError(IMAGE_MESSAGES[code], code=code, params=params) from None
