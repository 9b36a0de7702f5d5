"""face_idcard._images.prepare_image: format, integrity, bombs, orientation, size, metadata."""

from __future__ import annotations

import contextlib
import io
import pickle
import random
import time
from collections.abc import Callable

import pytest
from PIL import Image, ImageFile, ImageOps

from face_idcard._images import (
    ImageLimits,
    ImageRejected,
    PreparedImage,
    prepare_image,
    strip_metadata,
)
from tests.support import imagefactory as factory

LIMITS = ImageLimits()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def same_pixels(first: bytes, second: bytes) -> bool:
    one, other = decode(first), decode(second)
    return (one.mode, one.size, one.tobytes()) == (other.mode, other.size, other.tobytes())


def jpeg_header_markers(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, first bytes of the payload) for each segment before the first scan.

    Deliberately naive (no fill bytes, stops at SOS): enough for files Pillow wrote.
    """
    assert data[:2] == b"\xff\xd8"
    markers, position = [], 2
    while True:
        assert data[position] == 0xFF
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        markers.append((marker, data[position + 4 : position + 4 + min(length - 2, 12)]))
        if marker == 0xDA:
            return markers
        position += 2 + length


def png_chunk_types(data: bytes) -> list[bytes]:
    kinds, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kinds.append(data[position + 4 : position + 8])
        position += 12 + length
    return kinds


def near(pixel: object, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple), pixel  # getpixel gives a number for one-band images
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.parametrize(
    ("make", "image_format", "content_type", "extension"),
    [
        (factory.jpeg, "JPEG", "image/jpeg", ".jpg"),
        (factory.png, "PNG", "image/png", ".png"),
        (factory.bmp, "BMP", "image/bmp", ".bmp"),
    ],
)
def test_good_image_passes_through_byte_for_byte(
    make: Callable[[], bytes], image_format: str, content_type: str, extension: str
) -> None:
    # Pillow writes no metadata unless asked: nothing to remove, nothing changed.
    data = make()
    prepared = prepare_image(data)
    assert prepared.data == data
    assert prepared.transformed is False
    assert prepared.metadata_removed is False
    assert (prepared.format, prepared.content_type, prepared.extension) == (
        image_format,
        content_type,
        extension,
    )
    assert (prepared.width, prepared.height) == (320, 240)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: b"", "empty"),
        (lambda: b"not an image at all", "undecodable"),
        (factory.truncated_jpeg, "undecodable"),
        (factory.truncated_png, "undecodable"),
        (factory.gif, "format"),
        (factory.animated_gif, "format"),  # GIF is refused as a format, animated or not
        (factory.webp, "format"),
        (factory.tiff, "format"),
        (factory.animated_png, "animated"),
        (lambda: factory.png(10, 10), "too_small"),
        (lambda: factory.jpeg(600, 63), "too_small"),
    ],
    ids=[
        "empty",
        "garbage",
        "truncated-jpeg",
        "truncated-png",
        "gif",
        "animated-gif",
        "webp",
        "tiff",
        "apng",
        "tiny-10x10",
        "shorter-side-63",
    ],
)
def test_refused(make: Callable[[], bytes], reason: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(make())
    assert caught.value.reason == reason


def test_multi_picture_jpeg_is_a_jpeg_and_only_its_first_picture_is_kept() -> None:
    data = factory.mpo()
    assert Image.open(io.BytesIO(data)).format == "MPO"  # Pillow's view of it
    prepared = prepare_image(data)
    assert (prepared.format, prepared.content_type, prepared.transformed) == (
        "JPEG",
        "image/jpeg",
        False,
    )
    assert prepared.metadata_removed is True
    # A plain JPEG now: no MPF index, no second picture, the first one's pixels unchanged.
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.format == "JPEG"
        assert getattr(image, "n_frames", 1) == 1
    assert b"MPF\x00" not in prepared.data
    assert prepared.data.count(b"\xff\xd8") == 1  # one start-of-image marker
    assert prepared.data.endswith(b"\xff\xd9")
    assert len(prepared.data) < len(data)
    assert same_pixels(prepared.data, data)  # Pillow decodes an MPO's first picture


def test_format_is_decided_by_content_not_name() -> None:
    # A GIF renamed .jpg or sent as image/jpeg is still a GIF: the function never sees the
    # name or the client's content type, only the bytes.
    gif_bytes = factory.gif()
    assert gif_bytes.startswith(b"GIF8")
    with pytest.raises(ImageRejected) as caught:
        prepare_image(gif_bytes)
    assert caught.value.reason == "format"


@pytest.mark.parametrize("make", [factory.truncated_jpeg, factory.truncated_png])
def test_truncation_caught_even_if_host_allows_truncated_images(
    make: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host project may set this global; Pillow then pads truncated files with grey.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageRejected) as caught:
        prepare_image(make())
    assert caught.value.reason == "undecodable"


@pytest.mark.parametrize(
    "data",
    [
        factory.jpeg(progressive=True),
        factory.noise_jpeg(200, 150, quality=80, restart_marker_rows=1),
        factory.noise_jpeg(200, 150, quality=80, progressive=True),
    ],
    ids=["progressive", "restart-markers", "noise-progressive"],
)
def test_jpeg_variants_pass_and_their_truncations_do_not(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert prepare_image(data).data == data
    for cut in (len(data) - 2, len(data) * 3 // 4, len(data) // 2):
        with pytest.raises(ImageRejected) as caught:
            prepare_image(data[:cut])
        assert caught.value.reason == "undecodable"


MOTION_PHOTO_VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\xff\xda\x00\x08" + bytes(range(256)) * 40


def test_bytes_after_the_end_of_the_image_are_accepted_and_dropped() -> None:
    # Motion photos carry a video after the JPEG's end marker; the trailer may hold any bytes,
    # markers included. The provider needs none of it, and a video is more personal data.
    jpeg = factory.jpeg()
    prepared = prepare_image(jpeg + MOTION_PHOTO_VIDEO)
    assert prepared.data == jpeg
    assert (prepared.transformed, prepared.metadata_removed) == (False, True)
    png = factory.png()
    prepared = prepare_image(png + bytes(range(256)) * 40)
    assert prepared.data == png
    assert (prepared.transformed, prepared.metadata_removed) == (False, True)


def test_motion_photo_over_the_body_limit_only_because_of_its_video_is_not_reencoded() -> None:
    jpeg = factory.jpeg()
    limits = ImageLimits(max_bytes=len(jpeg) + 100)
    prepared = prepare_image(jpeg + MOTION_PHOTO_VIDEO * 10, limits)
    assert prepared.data == jpeg
    assert prepared.transformed is False


def test_prepare_image_does_not_change_pillow_globals() -> None:
    before = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)
    for data in (factory.jpeg(), factory.truncated_jpeg(), factory.huge_png_header(9000, 9000)):
        with contextlib.suppress(ImageRejected):
            prepare_image(data)
    assert (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS) == before


def test_decompression_bomb_refused_quickly() -> None:
    data = factory.huge_png_header(20000, 20000)
    assert len(data) < 200_000  # the point of a bomb: tiny file, 400 million pixels
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    elapsed = time.perf_counter() - started
    assert caught.value.reason == "too_many_pixels"
    # Decoding 400 Mpx (1.2 GB as RGB) would take many seconds; reading a header takes ms.
    assert elapsed < 0.5


def test_pixel_limit_is_ours_not_only_pillows() -> None:
    # 7000 x 6000 = 42 Mpx: under Pillow's own bomb threshold (~89 Mpx), over our 40 Mpx.
    data = factory.huge_png_header(7000, 6000)
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    assert caught.value.reason == "too_many_pixels"


def test_pixel_limit_boundary() -> None:
    data = factory.huge_png_header(3000, 2000)
    assert prepare_image(data, ImageLimits(max_pixels=6_000_000)).width == 3000
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data, ImageLimits(max_pixels=5_999_999))
    assert caught.value.reason == "too_many_pixels"


def test_large_jpeg_is_recompressed_under_the_body_limit() -> None:
    data = factory.noise_jpeg(1800, 1800)
    assert len(data) > 7 * 1024 * 1024 > LIMITS.max_bytes
    prepared = prepare_image(data)
    assert prepared.transformed is True
    assert prepared.format == "JPEG"
    assert len(prepared.data) <= LIMITS.max_bytes
    image = decode(prepared.data)
    assert image.format == "JPEG"
    assert image.size == (prepared.width, prepared.height)


def test_tight_byte_limit_shrinks_the_image() -> None:
    # Quality alone cannot bring noise under 100 KB at this size: the image must shrink.
    limits = ImageLimits(max_bytes=100_000)
    prepared = prepare_image(factory.noise_jpeg(800, 600, quality=90), limits)
    assert len(prepared.data) <= 100_000
    assert prepared.width < 800
    # Aspect ratio kept (within rounding).
    assert abs(prepared.width / prepared.height - 800 / 600) < 0.01
    assert decode(prepared.data).size == (prepared.width, prepared.height)


def test_long_side_is_downscaled_keeping_aspect() -> None:
    limits = ImageLimits(max_side=500)
    prepared = prepare_image(factory.png(1000, 400), limits)
    assert (prepared.width, prepared.height) == (500, 200)
    assert prepared.format == "JPEG"
    assert decode(prepared.data).size == (500, 200)


def test_elongated_image_too_thin_after_downscale_is_too_small() -> None:
    # 5000 x 100: fitting the long side into 4096 leaves a short side of 82; with a minimum
    # of 90 that is too small (refused as such, not as "too large").
    with pytest.raises(ImageRejected) as caught:
        prepare_image(factory.png(5000, 100), ImageLimits(min_side=90))
    assert caught.value.reason == "too_small"
    prepared = prepare_image(factory.png(5000, 100), ImageLimits(min_side=80))
    assert (prepared.width, prepared.height) == (4096, 82)


def test_exif_orientation_applied_and_metadata_stripped() -> None:
    # Stored 400 x 200 with the red block top-left; orientation 6 means "rotate 90° clockwise
    # to display", which carries the stored top-left corner to the top-right.
    data = factory.exif_jpeg(400, 200, orientation=6, gps=True)
    original_exif = Image.open(io.BytesIO(data)).getexif()
    assert original_exif.get_ifd(factory.GPS_IFD_TAG)  # the fixture really has GPS

    prepared = prepare_image(data)
    assert prepared.transformed is True
    assert (prepared.width, prepared.height) == (200, 400)
    image = decode(prepared.data).convert("RGB")
    assert image.size == (200, 400)
    assert near(image.getpixel((150, 50)), factory.RED)  # top-right: red
    assert near(image.getpixel((50, 50)), factory.BLUE)  # top-left: blue
    assert near(image.getpixel((150, 350)), factory.BLUE)

    exif = image.getexif()
    assert not exif.get_ifd(factory.GPS_IFD_TAG)
    assert factory.ORIENTATION_TAG not in exif
    assert b"Exif" not in prepared.data[:2048]


def test_upright_photo_with_exif_keeps_its_pixels_and_loses_its_exif() -> None:
    data = factory.exif_jpeg(400, 200, orientation=1, gps=True)
    assert decode(data).getexif().get_ifd(factory.GPS_IFD_TAG)
    prepared = prepare_image(data)
    assert (prepared.transformed, prepared.metadata_removed) == (False, True)
    assert (prepared.width, prepared.height) == (400, 200)
    assert same_pixels(prepared.data, data)
    assert not decode(prepared.data).getexif()
    assert b"Exif" not in prepared.data


@pytest.mark.parametrize("orientation", range(2, 9))
def test_every_exif_orientation_is_turned_like_pillow_does(orientation: int) -> None:
    # Pillow's exif_transpose is the reference: prepare_image applies the same table by hand
    # (the EXIF block is gone from the bytes it decodes).
    data = factory.exif_jpeg(400, 200, orientation=orientation, gps=True)
    expected = ImageOps.exif_transpose(decode(data))
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == expected.size
    assert prepared.transformed is True and prepared.metadata_removed is True
    image = decode(prepared.data).convert("RGB")
    width, height = expected.size
    for x, y in [
        (width // 4, height // 4),
        (3 * width // 4, height // 4),
        (width // 4, 3 * height // 4),
        (3 * width // 4, 3 * height // 4),
    ]:
        expected_pixel = expected.getpixel((x, y))
        assert isinstance(expected_pixel, tuple)
        assert near(image.getpixel((x, y)), expected_pixel[:3])
    assert not image.getexif()


def test_jpeg_metadata_removed_without_reencoding() -> None:
    profile = factory.srgb_profile()
    data = factory.metadata_jpeg(icc_profile=profile)
    original = decode(data)
    assert original.getexif().get_ifd(factory.GPS_IFD_TAG)  # the fixture carries it all
    assert {"exif", "xmp", "comment", "photoshop", "flashpix", "icc_profile"} <= set(original.info)

    prepared = prepare_image(data)
    assert (prepared.transformed, prepared.metadata_removed) == (False, True)
    assert (prepared.format, prepared.width, prepared.height) == ("JPEG", 320, 240)
    assert len(prepared.data) < len(data)
    assert same_pixels(prepared.data, data)

    image = decode(prepared.data)
    assert not image.getexif()
    assert not {"exif", "xmp", "comment", "photoshop", "flashpix"} & set(image.info)
    assert image.info["icc_profile"] == profile
    for planted in (
        b"Exif\x00\x00",
        b"http://ns.adobe.com/xap/1.0/",
        b"planted-xmp-secret",
        factory.SECRET_COMMENT,
        b"PlantedCamera",
        b"SERIAL-0042",
        b"planted-iptc",
        b"planted-vendor-note",
        b"planted-flashpix",
        b"JFXX",
    ):
        assert planted not in prepared.data, planted
    # Exactly JFIF and the ICC profile are left before the image structure...
    markers = jpeg_header_markers(prepared.data)
    application = [(marker, payload[:5]) for marker, payload in markers if marker >= 0xE0]
    assert application == [(0xE0, b"JFIF\x00"), (0xE2, b"ICC_P")]
    # ...and everything from the first quantisation table on is the input's, byte for byte.
    tables_from = prepared.data.index(b"\xff\xdb")
    assert data.endswith(prepared.data[tables_from:])


def test_icc_profile_split_over_several_segments_is_kept_whole() -> None:
    # JPEG segments hold at most 64 KB: a larger profile is written in numbered pieces.
    # Pillow does not check the profile's contents, so random bytes serve.
    profile = random.Random(7).randbytes(150_000)
    data = factory.metadata_jpeg(icc_profile=profile)
    prepared = prepare_image(data)
    assert decode(prepared.data).info["icc_profile"] == profile
    assert same_pixels(prepared.data, data)
    assert b"Exif\x00\x00" not in prepared.data


def test_cmyk_jpeg_is_converted_to_rgb_with_its_colours() -> None:
    # A provider may refuse CMYK; Adobe's APP14 tells the decoder how the channels are
    # stored (without it CMYK inverts), so the colours must survive the conversion.
    data = factory.encode(
        factory.picture().convert("CMYK"), "JPEG", exif=factory.gps_exif().tobytes()
    )
    assert decode(data).mode == "CMYK"
    prepared = prepare_image(data)
    assert (prepared.metadata_removed, prepared.transformed) == (True, True)
    decoded = decode(prepared.data)
    assert decoded.mode == "RGB"
    assert near(decoded.getpixel((20, 20)), factory.RED)
    assert near(decoded.getpixel((300, 200)), factory.BLUE)
    assert b"Exif" not in prepared.data


def test_jfif_thumbnail_removed_density_kept() -> None:
    data = factory.jfif_thumbnail_jpeg()
    prepared = prepare_image(data)
    assert prepared.metadata_removed is True
    assert len(prepared.data) == len(data) - 12  # the 2 x 2 RGB thumbnail
    app0 = jpeg_header_markers(prepared.data)[0]
    assert app0[0] == 0xE0
    assert app0[1] == b"JFIF\x00\x01\x02\x01\x01\x2c\x01\x2c"  # version 1.2, 300 dpi
    assert prepared.data[4:6] == (16).to_bytes(2, "big")  # no thumbnail bytes follow
    assert decode(prepared.data).info["dpi"] == decode(data).info["dpi"]
    assert same_pixels(prepared.data, data)


def test_png_metadata_removed_colour_chunks_kept() -> None:
    data = factory.metadata_png() + b"trailing" * 100
    before = png_chunk_types(factory.metadata_png())
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"prVt"} <= set(before)

    prepared = prepare_image(data)
    assert (prepared.format, prepared.transformed, prepared.metadata_removed) == (
        "PNG",
        False,
        True,
    )
    after = png_chunk_types(prepared.data)
    assert after == [
        kind
        for kind in before
        if kind not in {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"prVt"}
    ]
    assert {b"IHDR", b"iCCP", b"gAMA", b"pHYs", b"IDAT", b"IEND"} <= set(after)
    assert prepared.data.endswith(b"IEND\xaeB`\x82")  # nothing after IEND
    assert factory.SECRET_TEXT.encode() not in prepared.data
    assert b"SERIAL-0042" not in prepared.data
    assert same_pixels(prepared.data, data)
    image = decode(prepared.data)
    assert image.info["icc_profile"] == decode(data).info["icc_profile"]
    assert not image.getexif()
    assert image.text == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("make", "image_format"),
    [
        (factory.metadata_jpeg, "JPEG"),
        (lambda: factory.metadata_jpeg(progressive=True), "JPEG"),
        (lambda: factory.metadata_jpeg(restart_marker_rows=1), "JPEG"),
        (factory.jfif_thumbnail_jpeg, "JPEG"),
        (factory.mpo, "JPEG"),
        (factory.metadata_png, "PNG"),
    ],
    ids=["jpeg", "progressive", "restart-markers", "jfif-thumbnail", "mpo", "png"],
)
def test_stripped_output_is_whole_and_stripping_it_again_changes_nothing(
    make: Callable[[], bytes], image_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    stripped = prepare_image(make()).data
    assert strip_metadata(stripped, image_format) == stripped
    again = prepare_image(stripped)
    assert again.data == stripped
    assert again.metadata_removed is False
    # The structural truncation check still works on the output.
    for cut in (len(stripped) - 2, len(stripped) // 2):
        with pytest.raises(ImageRejected) as caught:
            prepare_image(stripped[:cut])
        assert caught.value.reason == "undecodable"


def test_truncated_photo_with_metadata_is_still_refused() -> None:
    data = factory.metadata_jpeg()
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data[: len(data) * 3 // 4])
    assert caught.value.reason == "undecodable"
    with pytest.raises(ValueError, match="truncated"):
        strip_metadata(data[: len(data) * 3 // 4], "JPEG")


def test_bmp_is_passed_through() -> None:
    data = factory.bmp()
    assert strip_metadata(data, "BMP") is data


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "I;16"])
def test_modes_are_converted_for_jpeg(mode: str) -> None:
    image = factory.picture(600, 300, mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = image.convert("I").point(lambda value: value * 256).convert("I;16")
    data = factory.encode(image, "PNG")
    prepared = prepare_image(data, ImageLimits(max_side=300))
    assert prepared.format == "JPEG"
    decoded = decode(prepared.data)
    assert decoded.mode == "RGB"
    assert decoded.size == (300, 150)
    # The red/blue split survives conversion (as two distinct shades in greyscale modes).
    top_left, bottom_right = decoded.getpixel((20, 20)), decoded.getpixel((280, 130))
    assert isinstance(top_left, tuple) and isinstance(bottom_right, tuple)
    assert sum(abs(a - b) for a, b in zip(top_left, bottom_right, strict=True)) > 30
    assert max(bottom_right) > 10  # not clipped to black


def test_transparent_areas_become_white() -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    data = factory.encode(image, "PNG")
    prepared = prepare_image(data, ImageLimits(max_side=100))
    assert near(decode(prepared.data).convert("RGB").getpixel((50, 50)), (255, 255, 255), 5)


def test_input_over_the_upload_limit_refused_without_decoding() -> None:
    limits = ImageLimits(max_input_bytes=1000)
    with pytest.raises(ImageRejected) as caught:
        prepare_image(b"\xff\xd8" + b"\x00" * 2000, limits)
    assert caught.value.reason == "too_large_input"


def test_texts_and_reprs_carry_no_image_data() -> None:
    data = factory.jpeg()
    prepared = prepare_image(data)
    text = repr(prepared)
    assert "JPEG" in text and str(len(data)) in text and "metadata_removed=False" in text
    assert "\\x" not in text and "b'" not in text and len(text) < 200

    with pytest.raises(ImageRejected) as caught:
        prepare_image(factory.png(10, 10))
    message = str(caught.value)
    assert message.startswith("too_small")
    assert "10" not in message.replace(str(LIMITS.min_side), "")


def test_image_rejected_pickles_with_reason() -> None:
    error = ImageRejected("format", "only JPEG")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, ImageRejected)
    assert (copy.reason, str(copy)) == ("format", str(error))


def test_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        ImageRejected("blurry")


def test_prepared_image_is_frozen() -> None:
    prepared = prepare_image(factory.png())
    assert isinstance(prepared, PreparedImage)
    with pytest.raises(AttributeError):
        prepared.width = 1  # type: ignore[misc]
