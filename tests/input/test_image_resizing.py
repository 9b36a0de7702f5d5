"""prepare_image at the edges of its decisions, as tables: the whole factor a PNG is reduced
by before conversion, the first guess for a photo over the body limit, the smallest sizes,
the quality at exactly the body limit, two contradictory limits, which bytes of a JPEG pass
between its scans, what counts as metadata left, and transparency in every mode that has it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageDraw

from face_idcard import _images as images
from face_idcard._images import ImageLimits, ImageRejected, prepare_image, strip_metadata
from tests.support import imagefactory as factory
from tests.support.imagebytes import ENTROPY, EOI, SOS, chunk
from tests.support.imagebytes import seg as segment
from tests.support.imagebytes import sof as frame
from tests.support.spies import _spy


def _reason(data: bytes, limits: ImageLimits | None = None) -> str:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data, limits)
    return caught.value.reason


# --- Reduced decoding: the largest whole factor that still gives at least the target size ----


@pytest.mark.parametrize(
    ("size", "limits", "factor", "out"),
    [
        ((800, 400), ImageLimits(max_side=400), 2, (400, 200)),  # exactly half
        ((1000, 400), ImageLimits(max_side=400), 2, (400, 160)),  # 2.5: two, not three
        ((400, 800), ImageLimits(max_side=200), 4, (100, 200)),  # portrait: both sides count
        ((800, 1600), ImageLimits(max_side=400), 4, (200, 400)),
        # A side of one pixel: it never rounds to zero.
        ((2, 200), ImageLimits(min_side=1, max_side=100), 2, (1, 100)),
        ((200, 2), ImageLimits(min_side=1, max_side=100), 2, (100, 1)),
    ],
)
def test_a_png_is_reduced_by_the_largest_whole_factor(
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
    limits: ImageLimits,
    factor: int,
    out: tuple[int, int],
) -> None:
    calls = _spy(monkeypatch, Image.Image, "reduce")
    prepared = prepare_image(factory.encode(factory.picture(*size), "PNG"), limits)
    assert calls == [(factor,)]
    assert (prepared.width, prepared.height) == out


def test_a_cmyk_jpeg_below_the_smallest_draft_is_reduced_before_conversion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _spy(monkeypatch, Image.Image, "reduce")
    data = factory.encode(factory.picture(1600, 800, "CMYK"), "JPEG", quality=90)
    # 1/16: the decoder's draft stops at 1/8 (200 x 100), a reduction by 2 does the rest.
    prepared = prepare_image(data, ImageLimits(max_side=100, min_side=32))
    assert calls == [(2,)]
    assert (prepared.width, prepared.height) == (100, 50)


@pytest.mark.parametrize(
    ("share", "out"),
    [
        (0.7, (300, 300)),  # sqrt(0.7) = 0.84: half the size first
        (0.2, (150, 150)),  # sqrt(0.2) = 0.45: a quarter
    ],
)
def test_a_png_over_the_body_limit_is_first_tried_at_a_power_of_two(
    share: float, out: tuple[int, int]
) -> None:
    data = factory.encode(factory.noise_image(600, 600), "PNG")
    prepared = prepare_image(data, ImageLimits(max_bytes=int(len(data) * share)))
    assert (prepared.width, prepared.height) == out


def test_a_jpeg_far_over_the_body_limit_is_drafted_at_the_power_of_two_below() -> None:
    data = factory.noise_jpeg(800, 800)
    # sqrt(1/5) = 0.45: a quarter (the decoder's 1/4 draft), not an eighth.
    prepared = prepare_image(data, ImageLimits(max_bytes=len(data) // 5))
    assert (prepared.width, prepared.height) == (200, 200)


# --- Sizes and limits after the downscale ------------------------------------------------------


def test_a_downscale_that_lands_exactly_on_the_shortest_side_is_taken() -> None:
    prepared = prepare_image(factory.png(256, 128), ImageLimits(max_side=128))
    assert (prepared.width, prepared.height) == (128, 64)
    assert _reason(factory.png(256, 126), ImageLimits(max_side=128)) == "too_small"


def test_limits_that_no_jpeg_can_meet_are_a_size_refusal() -> None:
    # One-bit noise: small as a PNG, large as any JPEG. Half its bytes: decoded at half size
    # (64 x 64, the shortest side allowed), which fits at no quality; the next step is smaller.
    data = factory.encode(factory.noise_image(128, 128).convert("1"), "PNG")
    assert _reason(data, ImageLimits(max_bytes=len(data) // 2)) == "too_large_input"


def _lines() -> bytes:
    image = Image.new("RGB", (320, 240))
    draw = ImageDraw.Draw(image)
    for x in range(0, 320, 8):
        draw.line([(x, 0), (320 - x, 240)], fill=(x % 256, x * 3 % 256, 255 - x % 256), width=3)
    return factory.encode(image.convert("P"), "PNG")


@pytest.mark.parametrize("quality", [80, 70])
def test_a_jpeg_of_exactly_the_body_limit_fits(quality: int) -> None:
    source = _lines()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(source)).convert("RGB").save(
        buffer, format="JPEG", quality=quality, optimize=True
    )
    prepared = prepare_image(source, ImageLimits(max_bytes=buffer.tell()))
    assert prepared.data == buffer.getvalue()


def test_an_animation_of_two_frames_is_refused() -> None:
    assert _reason(factory.animated_png(200, 100, frames=2)) == "animated"


def test_pillows_bomb_guard_names_our_limit() -> None:
    limits = ImageLimits(max_pixels=10**12, max_decoded_bytes=10**12, max_side=1 << 20)
    with pytest.raises(ImageRejected) as caught:
        prepare_image(factory.huge_png_header(20000, 20000), limits)
    assert str(caught.value) == f"too_many_pixels: more than {10**12} pixels"


# --- A broken PNG eXIf, metadata left ----------------------------------------------------------


@pytest.mark.parametrize("payload", [b"garbage!", b"\x00" * 40])
def test_an_exif_that_does_not_load_means_upright(payload: bytes) -> None:
    png = factory.png(200, 100)
    prepared = prepare_image(png[:33] + chunk(b"eXIf", payload) + png[33:])
    assert (prepared.width, prepared.height, prepared.transformed) == (200, 100, False)
    assert prepared.data == png


@pytest.mark.parametrize(
    "data",
    [
        factory.jpeg(200, 100)[:2] + segment(0xE3, b"vendor notes") + factory.jpeg(200, 100)[2:],
        factory.png(200, 100)[:33] + chunk(b"prVt", b"private") + factory.png(200, 100)[33:],
    ],
    ids=["jpeg-app3", "png-private-chunk"],
)
def test_metadata_only_the_scan_sees_counts_as_left(data: bytes) -> None:
    # Pillow reports neither an unknown APPn nor a private chunk in `info`.
    from face_idcard._images import _metadata_left

    assert _metadata_left(data) is True


def test_the_output_check_reencoding_says_metadata_was_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(images, "strip_metadata", lambda data, image_format, structure: data)
    prepared = prepare_image(factory.exif_jpeg(orientation=1))
    assert (prepared.metadata_removed, prepared.transformed) == (True, True)


# --- Between the scans of a JPEG -------------------------------------------------------------


def test_after_the_first_scan_only_metadata_segments_leave() -> None:
    dht = segment(0xC4, b"\x00" + bytes(16))
    stray = b"\x01\x02"  # between a table and the next scan: copied as it is
    data = b"\xff\xd8" + frame() + SOS + ENTROPY + dht + stray + SOS + b"\x22" + EOI
    late = segment(0xFE, b"late comment")
    with_comment = b"\xff\xd8" + frame() + SOS + ENTROPY + late + dht + stray + SOS + b"\x22" + EOI
    assert strip_metadata(data, "JPEG") == data
    assert strip_metadata(with_comment, "JPEG") == data


# --- Transparency becomes white in every mode that has it --------------------------------------


def _keyed(mode: str, key: Any, colour: Any) -> bytes:
    """A PNG whose right half has the transparent key colour, its left half another."""
    image = Image.new(mode, (200, 100), key)
    image.paste(colour, (0, 0, 100, 100))
    return factory.encode(image, "PNG", transparency=key)


@pytest.mark.parametrize(
    ("mode", "key", "colour"),
    # Mode 1 has only black and white: black is the transparent one, the other half is white.
    [("1", 0, 1), ("L", 0, 200), ("RGB", (0, 0, 0), (200, 0, 0)), ("P", 0, 1)],
)
def test_a_transparent_key_colour_becomes_white(mode: str, key: Any, colour: Any) -> None:
    prepared = prepare_image(_keyed(mode, key, colour))
    image = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    right, left = image.getpixel((150, 50)), image.getpixel((50, 50))
    assert isinstance(right, tuple) and isinstance(left, tuple)
    assert all(channel >= 250 for channel in right)
    assert all(channel >= 250 for channel in left) is (mode == "1")
