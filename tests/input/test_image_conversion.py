"""The conversion of a photo's pixels to 8-bit RGB and the downscale before re-encoding, to the
exact value: 16-bit grey divided by 256 (not clipped, not by 257), a PNG transparency key that
changes nothing where the mode has no transparency to flatten, and the resize's cheap box
reduction before LANCZOS over the last factor of 3."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from face_idcard._images import ImageLimits, _to_rgb, prepare_image
from tests.support import imagefactory as factory


@pytest.mark.parametrize(
    ("sample", "channel"),
    [(0, 0), (256, 1), (511, 1), (32768, 128), (51200, 200), (65280, 255), (65535, 255)],
)
def test_a_sixteen_bit_grey_sample_is_divided_by_256(sample: int, channel: int) -> None:
    grey = Image.new("I", (4, 4), sample).convert("I;16")
    assert _to_rgb(grey).getpixel((0, 0)) == (channel, channel, channel)


def _pixel(data: bytes, xy: tuple[int, int]) -> object:
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel(xy)


def test_a_sixteen_bit_grey_png_with_a_transparency_key_is_scaled_not_whitened() -> None:
    # tRNS names one grey value as transparent; none of the pixels has it. Only palettes and
    # 1, L and RGB images have their key made an alpha channel; 16-bit grey is scaled.
    grey = Image.new("I", (200, 100))
    grey.paste(51200, (0, 0, 100, 100))
    grey.paste(32768, (100, 0, 200, 100))
    data = factory.encode(grey.convert("I;16"), "PNG", transparency=1234)
    assert Image.open(io.BytesIO(data)).info["transparency"] == 1234
    prepared = prepare_image(data)
    assert _pixel(prepared.data, (50, 50)) == (200, 200, 200)
    assert _pixel(prepared.data, (150, 50)) == (128, 128, 128)


def test_a_downscale_by_six_is_box_reduced_by_two_then_resampled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A palette is not reduced while decoding; the resize to a sixth reduces by whole factors
    # up to the last factor of 3 (reducing_gap=3), so by 2, and resamples the rest.
    factors: list[object] = []
    real = Image.Image.reduce

    def spy(self: Image.Image, factor: Any, box: Any = None) -> Image.Image:
        factors.append(factor)
        return real(self, factor, box=box)

    monkeypatch.setattr(Image.Image, "reduce", spy)
    data = factory.encode(factory.picture(1200, 600, "P"), "PNG")
    prepared = prepare_image(data, ImageLimits(max_side=200))
    assert (prepared.width, prepared.height) == (200, 100)
    assert factors == [(2, 2)]
