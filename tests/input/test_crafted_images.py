"""Hostile images cost little: the capped scan refuses crafted structure before Pillow opens
the file, pixels are checked from the header first, modes are converted, and no metadata
reaches the output. The hand-written scan is fuzzed."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from face_idcard import _images as images
from face_idcard._images import ImageLimits, ImageRejected, prepare_image
from face_idcard._imagescan import scan
from tests.support import imagefactory as factory


@pytest.mark.parametrize(
    ("make", "reason", "detail"),
    [
        (factory.jpeg_with_fill_before_sos, "undecodable", "fill bytes"),
        (factory.jpeg_with_fill_in_scan, "undecodable", "more image data than pixels"),
        (factory.jpeg_with_stuffing, "undecodable", "more image data than pixels"),
        (factory.jpeg_with_empty_app_segments, "undecodable", "too many segments"),
        (factory.png_with_chunks, "undecodable", "too many chunks"),
        (lambda: factory.png_with_chunks(before_idat=False), "undecodable", "too many chunks"),
        (factory.rle8_bmp, "bmp_compressed", ""),
        (lambda: factory.png_header_bomb(13000, 13000), "too_many_pixels", ""),
        (lambda: factory.png_header_bomb(4000, 4000, 16, 2), "too_many_pixels", ""),
        (factory.jpeg_with_marker_trick_before_app1, "undecodable", "invalid marker"),
    ],
)
def test_crafted_structure_is_refused_before_pillow_opens_it(
    make: Callable[[], bytes], reason: str, detail: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make()

    def no_pillow(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow opened a file the scan should have refused")

    monkeypatch.setattr(images.Image, "open", no_pillow)
    started = time.process_time()
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    assert time.process_time() - started < 0.5
    assert caught.value.reason == reason
    assert detail in caught.value.detail


def test_the_marker_trick_keeps_no_gps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code: accepted, with the GPS EXIF still in the output."""
    data = factory.jpeg_with_marker_trick_before_app1()
    try:
        prepared = prepare_image(data)
    except ImageRejected:
        return
    assert b"Exif" not in prepared.data


def test_pixels_are_checked_before_exif_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    monkeypatch.setattr(Image.Image, "getexif", lambda self: read.append(1) or Image.Exif())
    with pytest.raises(ImageRejected):
        prepare_image(factory.png_header_bomb(13000, 13000, 8, 6))
    assert read == []


@pytest.mark.parametrize(
    "make",
    [
        factory.png_16bit,
        lambda: factory.png(mode="P"),
        lambda: factory.png(mode="RGBA"),
        lambda: factory.encode(factory.picture().convert("CMYK"), "JPEG"),
        lambda: (
            factory.encode(factory.picture(), "BMP", bitmap_format="bmp")
            if False
            else factory.encode(factory.picture().convert("P"), "BMP")
        ),
    ],
    ids=["png16", "palette", "alpha", "cmyk", "bmp8"],
)
def test_modes_a_provider_may_refuse_become_8bit_rgb(make: Callable[[], bytes]) -> None:
    prepared = prepare_image(make())
    decoded = Image.open(io.BytesIO(prepared.data))
    assert (prepared.format, decoded.mode) == ("JPEG", "RGB")


def test_downscaling_a_jpeg_decodes_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    drafts: list[object] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Any, mode: str | None, size: tuple[int, int] | None) -> Any:
        drafts.append(size)
        return real(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    prepared = prepare_image(factory.jpeg(2400, 1600), ImageLimits(max_side=300))
    assert drafts == [(300, 200)]
    assert (prepared.width, prepared.height) == (300, 200)


def test_metadata_left_in_the_output_is_reencoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """If stripping ever missed something, the output check re-encodes."""
    monkeypatch.setattr(images, "strip_metadata", lambda data, image_format, structure: data)
    data = factory.exif_jpeg(orientation=1)
    prepared = prepare_image(data)
    assert b"Exif" not in prepared.data
    assert not Image.open(io.BytesIO(prepared.data)).getexif()


SEEDS = [
    factory.jpeg(80, 80),
    factory.png(80, 80),
    factory.bmp(80, 80),
    factory.metadata_jpeg(80, 80),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.binary(min_size=0, max_size=8)), max_size=6
    ),
    cut=st.integers(0, 10_000),
)
def test_fuzzed_files_raise_nothing_but_image_rejected(
    seed: bytes, edits: list[tuple[int, bytes]], cut: int
) -> None:
    data = bytearray(seed)
    for position, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + len(replacement)] = replacement
    if cut % 3 == 0:
        data = data[: cut % (len(data) + 1)]
    try:
        prepared = prepare_image(bytes(data), ImageLimits(min_side=8))
    except ImageRejected:
        return
    assert b"Exif" not in prepared.data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300).map(lambda tail: b"\xff\xd8\xff" + tail))
def test_fuzzed_scan_raises_nothing_but_image_rejected(data: bytes) -> None:
    for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"BM"):
        with contextlib.suppress(ImageRejected):
            scan(prefix + data)


def test_bytes_between_header_segments_are_not_passed_on() -> None:
    """A broken APP1 marker leaves its EXIF (GPS included) as "extraneous" bytes between two
    header segments: decoders skip them, and the rebuilt JPEG must not carry them on.
    (Found by the fuzz test above.)"""
    seed = factory.metadata_jpeg(80, 80)
    app1 = seed.index(b"\xff\xe1")
    assert seed[app1 + 4 : app1 + 8] == b"Exif"
    broken = seed[:app1] + b"~@" + seed[app1 + 2 :]
    prepared = prepare_image(broken, ImageLimits(min_side=8))
    assert b"Exif" not in prepared.data
    assert len(prepared.data) < len(broken) - 100  # the whole gap is gone, not just the tag
    assert Image.open(io.BytesIO(prepared.data)).size == (80, 80)
