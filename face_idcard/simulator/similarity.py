"""A deterministic perceptual similarity score. It is NOT face recognition.

The score says how much two images look alike at very low resolution, nothing about who is in
them: two photos of one person taken on different days score low, and a photo of a print of
the registered portrait scores high. It exists so that a simulator answers the same way every
time, high for the registered photo and its near copies, low for anything else. Never random.

How: each image is decoded at reduced size (JPEG ``draft`` mode decodes at 1/2..1/8 scale, so
a large photo costs little) and boxed down to an 8x8 colour thumbnail; the fingerprint is that
thumbnail with each channel's mean removed (so brightening does not count). Two fingerprints
are compared by their correlation coefficient, which ignores contrast changes, and the
correlation is mapped to 0..100 by a piecewise-linear curve (:data:`SCORE_CURVE`) tuned on the
synthetic portraits: re-encoding, resizing, brightening or a ~5% crop stay above 90 (a 5%
crop shifts the thumbnail by less than half a cell), other portraits stay below 40.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

#: Side of the colour thumbnail a fingerprint is made of.
THUMBNAIL_SIDE = 8
#: Standard deviation of the thumbnail's levels (0..255) under which we say there is nothing to
#: recognise (a blank or nearly uniform image): the simulator answers "no face" for it.
NO_FACE_CONTRAST = 4.0
#: Images above this many pixels are refused before decoding (decompression bombs).
MAX_PIXELS = 50_000_000

#: (correlation, score) knots, linear in between: near copies measure >= 0.89 on the demo
#: portraits, two different portraits <= 0.55.
SCORE_CURVE: tuple[tuple[float, float], ...] = (
    (-1.0, 0.0),
    (0.0, 5.0),
    (0.65, 40.0),
    (0.87, 90.0),
    (1.0, 100.0),
)


class UnsupportedImageFormat(ValueError):
    """A format the service refuses (GIF)."""


class UndecodableImage(ValueError):
    """The bytes are not an image Pillow can decode."""


@dataclass(frozen=True)
class Fingerprint:
    """What the simulator keeps of an image: a tiny mean-removed thumbnail, never the photo."""

    levels: tuple[float, ...]
    contrast: float

    @property
    def looks_blank(self) -> bool:
        return self.contrast < NO_FACE_CONTRAST


#: Leading bytes of the formats a protocol may restrict itself to.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


def sniff_format(data: bytes) -> str | None:
    """``"JPEG"``, ``"PNG"`` or ``"GIF"`` from the leading bytes, None for anything else."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def is_gif(data: bytes) -> bool:
    return sniff_format(data) == "GIF"


def fingerprint(data: bytes) -> Fingerprint:
    """Decode ``data`` (JPEG, PNG, BMP, WebP …) and compute its fingerprint.

    Raises :class:`UnsupportedImageFormat` for GIF and :class:`UndecodableImage` for anything
    Pillow cannot read. Exception texts never include the image.
    """
    if is_gif(data):
        raise UnsupportedImageFormat("GIF images are not accepted")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "GIF":
                raise UnsupportedImageFormat("GIF images are not accepted")
            if image.width * image.height > MAX_PIXELS:
                raise UndecodableImage("image has too many pixels")
            # JPEG only (a no-op elsewhere): decode at the smallest scale still >= 32 px.
            image.draft("RGB", (THUMBNAIL_SIDE * 4, THUMBNAIL_SIDE * 4))
            side = (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
            thumbnail = image.convert("RGB").resize(side, Image.Resampling.BOX)
    except (UnsupportedImageFormat, UndecodableImage):
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise UndecodableImage("image could not be decoded") from exc
    return _fingerprint_of_rgb(thumbnail.tobytes())


def _fingerprint_of_rgb(raw: bytes) -> Fingerprint:
    levels: list[float] = []
    for channel in range(3):
        values = raw[channel::3]
        mean = sum(values) / len(values)
        levels.extend(value - mean for value in values)
    contrast = math.sqrt(sum(level * level for level in levels) / len(levels))
    return Fingerprint(levels=tuple(levels), contrast=contrast)


def correlation(a: Fingerprint, b: Fingerprint) -> float:
    """Pearson correlation of two fingerprints (0.0 if either is flat)."""
    norm = math.sqrt(sum(x * x for x in a.levels) * sum(y * y for y in b.levels))
    if norm == 0.0:
        return 0.0
    return sum(x * y for x, y in zip(a.levels, b.levels, strict=True)) / norm


def score(a: Fingerprint, b: Fingerprint) -> float:
    """Similarity 0..100 between two fingerprints, rounded to two decimals."""
    r = max(-1.0, min(1.0, correlation(a, b)))
    for (x0, y0), (x1, y1) in itertools.pairwise(SCORE_CURVE):
        if r <= x1:
            return round(y0 + (y1 - y0) * (r - x0) / (x1 - x0), 2)
    return 100.0
