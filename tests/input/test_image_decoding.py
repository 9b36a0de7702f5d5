"""prepare_image's decoding as tables: the orientation a PNG's eXIf gives, what a broken
orientation means, the reduced-scale decode of JPEG (draft) and of other formats (reduce),
the verify pass, custom formats, Pillow's own bomb guard, and the power-of-two first guess
for a photo over the body limit."""

from __future__ import annotations

import dataclasses
import io
import struct

import pytest
from PIL import Image, JpegImagePlugin

from face_idcard._images import ImageLimits, ImageRejected, PreparedImage, prepare_image
from tests.support import imagefactory as factory
from tests.support.imagebytes import ENTROPY, EOI, SOS, chunk
from tests.support.imagebytes import seg as segment
from tests.support.imagebytes import sof as frame
from tests.support.spies import _spy


def _png_with_exif(orientation_payload: bytes, width: int = 200, height: int = 100) -> bytes:
    png = factory.png(width, height)
    # eXIf goes before IDAT, after IHDR (offset 8 + 25).
    return png[:33] + chunk(b"eXIf", orientation_payload) + png[33:]


def _tiff_orientation(value: int, kind: int = 3) -> bytes:
    """A big-endian TIFF header with one IFD entry: tag 0x0112, SHORT (3) or another type."""
    entry = struct.pack(">HHIHH", 0x0112, kind, 1, value, 0)
    return b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 1) + entry + b"\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("orientation", "size", "transformed"),
    [
        (1, (200, 100), False),
        (2, (200, 100), True),
        (3, (200, 100), True),
        (4, (200, 100), True),
        (5, (100, 200), True),
        (6, (100, 200), True),
        (7, (100, 200), True),
        (8, (100, 200), True),
        # Not an orientation: treated as upright, never refused.
        (0, (200, 100), False),
        (9, (200, 100), False),
        (65535, (200, 100), False),
    ],
)
def test_a_png_exif_orientation(orientation: int, size: tuple[int, int], transformed: bool) -> None:
    prepared = prepare_image(_png_with_exif(_tiff_orientation(orientation)))
    assert (prepared.width, prepared.height) == size
    assert prepared.transformed is transformed
    assert prepared.metadata_removed is True  # the eXIf chunk itself is gone


@pytest.mark.parametrize(
    "payload",
    [b"MM\x00*garbage", b"\x00" * 40, b"II*\x00\xff\xff\xff\xff", _tiff_orientation(6, kind=2)],
)
def test_a_broken_png_exif_means_upright(payload: bytes) -> None:
    prepared = prepare_image(_png_with_exif(payload))
    assert (prepared.width, prepared.height) == (200, 100)


def test_the_top_left_corner_goes_where_the_orientation_says() -> None:
    # Orientation 6: the camera was turned; the stored top-left (red) ends at the top right.
    prepared = prepare_image(_png_with_exif(_tiff_orientation(6), 200, 100))
    image = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    red = image.getpixel((image.width - 5, 5))
    assert isinstance(red, tuple) and red[0] > 150 and red[2] < 100


def _png_bad_crc() -> bytes:
    data = bytearray(factory.png(200, 100))
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + length] ^= 0xFF  # the first CRC byte
    return bytes(data)


def test_a_damaged_png_is_refused_even_when_its_pixels_would_decode() -> None:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(_png_bad_crc())
    assert caught.value.reason == "undecodable"


def test_only_the_formats_allowed_are_taken() -> None:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(factory.png(200, 100), ImageLimits(formats=frozenset({"JPEG"})))
    assert (caught.value.reason, caught.value.detail) == ("format", "only JPEG")
    assert prepare_image(factory.jpeg(200, 100), ImageLimits(formats=frozenset({"JPEG"})))


def test_pillows_own_bomb_guard_is_a_pixel_refusal_too() -> None:
    # With limits this loose only Pillow's guard (twice MAX_IMAGE_PIXELS) stands.
    loose = ImageLimits(max_pixels=10**12, max_decoded_bytes=10**13, max_side=10**6)
    header = b"\xff\xd8" + frame(20000, 20000) + SOS + ENTROPY + EOI
    with pytest.raises(ImageRejected) as caught:
        prepare_image(header, loose)
    assert caught.value.reason == "too_many_pixels"


def test_a_photo_pillow_cannot_open_is_undecodable() -> None:
    # Two colour components: the scan's structure is fine, Pillow has no mode for it.
    data = b"\xff\xd8" + frame(200, 100, components=2) + SOS + ENTROPY + EOI
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    assert caught.value.reason == "undecodable"


def test_an_app15_like_marker_beyond_the_app_range_is_structure() -> None:
    from face_idcard._images import strip_metadata

    data = b"\xff\xd8" + segment(0xF0, b"jpg extension") + frame() + SOS + ENTROPY + EOI
    assert strip_metadata(data, "JPEG") == data


@pytest.mark.parametrize(("mode", "draft_mode"), [("RGB", "RGB"), ("L", "L"), ("CMYK", None)])
def test_a_jpeg_to_downscale_is_decoded_at_the_smallest_sufficient_scale(
    monkeypatch: pytest.MonkeyPatch, mode: str, draft_mode: str | None
) -> None:
    drafts = _spy(monkeypatch, JpegImagePlugin.JpegImageFile, "draft")
    data = factory.encode(factory.picture(1601, 801, mode), "JPEG", quality=90)
    prepared = prepare_image(data, ImageLimits(max_side=400))
    # 400/1601 of the size, rounded up: 101 x 201 would be under; the draft asks at least.
    assert drafts == [(draft_mode, (400, 201))]
    assert (prepared.width, prepared.height) == (400, 200)


@pytest.mark.parametrize(
    ("mode", "reduced"),
    [("RGB", 4), ("RGBA", 4), ("L", 4), ("LA", 4), ("P", None), ("I;16", None)],
)
def test_other_formats_are_reduced_by_a_whole_factor_before_conversion(
    monkeypatch: pytest.MonkeyPatch, mode: str, reduced: int | None
) -> None:
    calls = _spy(monkeypatch, Image.Image, "reduce")
    if mode == "I;16":
        data = factory.png_16bit(1600, 800)
    else:
        data = factory.encode(factory.picture(1600, 800, mode), "PNG")
    prepared = prepare_image(data, ImageLimits(max_side=400))
    # (Pillow's reduce of a mode with alpha calls itself once more, on the box.)
    assert calls[:1] == ([] if reduced is None else [(reduced,)])
    assert (prepared.width, prepared.height) == (400, 200)


def test_a_photo_barely_over_the_scale_is_not_reduced(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch, Image.Image, "reduce")
    data = factory.encode(factory.picture(700, 400), "PNG")
    prepared = prepare_image(data, ImageLimits(max_side=400))
    assert calls == []  # a factor of 1.75: no whole factor of 2 fits
    assert (prepared.width, prepared.height) == (400, 229)


def test_a_photo_over_the_body_limit_is_first_tried_at_a_power_of_two() -> None:
    data = factory.noise_jpeg(1800, 1800)
    assert len(data) > 6 * 1024 * 1024
    prepared = prepare_image(data)
    # sqrt(limit / size) is between 1/2 and 1: decoded at half size, which fits.
    assert (prepared.width, prepared.height) == (900, 900)


def test_a_photo_that_fits_at_no_quality_is_shrunk_by_a_quarter() -> None:
    # One-pixel stripes: tiny as a PNG, expensive as a JPEG.
    image = Image.new("L", (320, 240))
    image.putdata([255 * ((x + y) % 2) for y in range(240) for x in range(320)])
    data = factory.encode(image.convert("P"), "PNG")  # a palette: must be re-encoded
    sizes = []
    for quality in (60,):
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
        sizes.append(buffer.tell())
    limit = sizes[0] - 1
    assert len(data) <= limit
    prepared = prepare_image(data, ImageLimits(max_bytes=limit))
    assert (prepared.width, prepared.height) == (240, 180)
    assert len(prepared.data) <= limit


def test_the_default_of_metadata_removed_is_false() -> None:
    prepared = PreparedImage(
        data=b"x",
        format="JPEG",
        width=1,
        height=1,
        content_type="image/jpeg",
        extension=".jpg",
        transformed=False,
    )
    assert prepared.metadata_removed is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.width = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ImageLimits().max_bytes = 1  # type: ignore[misc]


def test_an_exact_pixel_count_one_over_the_default_is_refused() -> None:
    # 4901 x 5101 = 25 000 001: one pixel over the default limit.
    limits = ImageLimits(max_side=8192)
    data = b"\xff\xd8" + frame(4901, 5101) + SOS + ENTROPY + EOI
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data, limits)
    assert caught.value.reason == "too_many_pixels"


# --- The last check on what will be sent, and the conversion to RGB ---------------------------


@pytest.mark.parametrize(
    ("data", "left"),
    [
        (factory.jpeg(200, 100), False),
        (factory.png(200, 100), False),
        (factory.encode(factory.picture(200, 100), "BMP"), False),
        (
            factory.jpeg(200, 100)[:2]
            + segment(0xE1, b"Exif\x00\x00MM\x00*")
            + factory.jpeg(200, 100)[2:],
            True,
        ),
        (factory.jpeg(200, 100)[:2] + segment(0xFE, b"comment") + factory.jpeg(200, 100)[2:], True),
        (
            factory.png(200, 100)[:33]
            + chunk(b"tEXt", b"Author\x00me")
            + factory.png(200, 100)[33:],
            True,
        ),
        # A text chunk after the image data: only read with the pixels.
        (
            factory.png(200, 100)[:-12]
            + chunk(b"tEXt", b"Author\x00me")
            + factory.png(200, 100)[-12:],
            True,
        ),
    ],
    ids=["jpeg", "png", "bmp", "jpeg-exif", "jpeg-comment", "png-text", "png-text-after-idat"],
)
def test_what_counts_as_metadata_left_in_a_file_about_to_be_sent(data: bytes, left: bool) -> None:
    from face_idcard._images import _metadata_left

    assert _metadata_left(data) is left


def _pixel(prepared: PreparedImage, xy: tuple[int, int]) -> tuple[int, ...]:
    value = Image.open(io.BytesIO(prepared.data)).convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparent_areas_become_white_not_black(mode: str) -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))  # black, fully transparent
    image.paste((200, 0, 0, 255), (0, 0, 100, 100))  # opaque red on the left
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "PA":
        image = image.convert("RGBA").convert("P", palette=Image.Palette.ADAPTIVE)
        image.info["transparency"] = image.getpixel((150, 50))
    prepared = prepare_image(factory.encode(image, "PNG"))
    assert all(channel >= 250 for channel in _pixel(prepared, (150, 50)))
    assert _pixel(prepared, (50, 50))[0] < 230 or mode == "LA"


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    grey = Image.new("I", (200, 100))
    grey.paste(65535, (0, 0, 100, 100))
    grey.paste(32768, (100, 0, 200, 100))
    prepared = prepare_image(factory.encode(grey.convert("I;16"), "PNG"))
    white, middle = _pixel(prepared, (50, 50)), _pixel(prepared, (150, 50))
    assert all(channel >= 250 for channel in white)
    assert all(120 <= channel <= 135 for channel in middle)  # 32768 / 256 = 128, not 255
