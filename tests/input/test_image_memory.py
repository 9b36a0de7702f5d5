"""How much a photo that is sent as it is costs to check (bench/api.py measures the RSS).

A 12 MP phone photo that fits the limits is not re-encoded, only checked for wholeness; a
full-scale decode for that costs 36 MB of pixels, six times the upload, in every web worker
that receives one. The check decodes at the JPEG decoder's smallest scale instead.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageFile

from face_idcard import _images as images
from face_idcard._images import ImageRejected, prepare_image
from tests.support import imagefactory as factory


@pytest.fixture
def decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    real_decode = images._decode

    def spy(data: bytes, scale: float = 1.0) -> Image.Image:
        image = real_decode(data, scale)
        sizes.append(image.size)
        return image

    monkeypatch.setattr(images, "_decode", spy)
    return sizes


def test_a_photo_sent_as_it_is_is_checked_at_reduced_scale(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    data = factory.noise_jpeg(2400, 1800, quality=60)
    prepared = prepare_image(data)
    assert prepared.data == data and not prepared.transformed  # the path under test
    assert decoded_sizes and max(w * h for w, h in decoded_sizes) <= (2400 * 1800) // 64


@pytest.mark.parametrize("progressive", [False, True])
def test_the_reduced_scale_check_still_refuses_a_truncated_photo(
    progressive: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    # Pillow cannot write progressive noise at this size: a picture for that variant.
    data = (
        factory.jpeg(1600, 1200, progressive=True)
        if progressive
        else factory.noise_jpeg(1600, 1200, quality=70)
    )
    assert prepare_image(data).data == data
    for cut in (len(data) - 2, len(data) - 600, len(data) // 2):
        with pytest.raises(ImageRejected) as caught:
            prepare_image(data[:cut])
        assert caught.value.reason == "undecodable"
