"""prepare_image's header checks refuse before anything decodes: a JPEG whose frame Pillow reads
differently from the scan (a second frame hidden in an extension segment, which Pillow's
marker walk steps into and the scan skips by its length), a header Pillow cannot open at all,
and an EXIF orientation that cannot be read where the host turns warnings into errors."""

from __future__ import annotations

import struct
import warnings

import pytest

from face_idcard import _images as images
from face_idcard._images import ImageRejected, prepare_image
from face_idcard._imagescan import scan
from tests.support import imagefactory as factory
from tests.support.imagebytes import ENTROPY, EOI, SOS, chunk
from tests.support.imagebytes import seg as segment
from tests.support.imagebytes import sof as frame


def _decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes handed to the decoder from now on."""
    calls: list[bytes] = []
    real = images._decode

    def spy(data: bytes, scale: float = 1.0) -> object:
        calls.append(data)
        return real(data, scale)

    monkeypatch.setattr(images, "_decode", spy)
    return calls


def _with_hidden_frame(width: int, height: int) -> bytes:
    """A real 200 x 100 JPEG with a JPG0 (FF F0) segment after its frame that holds another
    frame: the scan skips the segment by its length, Pillow (no handler for JPGn) walks into
    it and takes the last frame it meets."""
    data = factory.jpeg(200, 100)
    frame_end = next(s.end for s in scan(data).segments if s.marker == 0xC0)
    return data[:frame_end] + segment(0xF0, frame(width, height)) + data[frame_end:]


@pytest.mark.parametrize(("width", "height"), [(4000, 3000), (200, 101), (201, 100)])
def test_a_frame_pillow_reads_differently_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch, width: int, height: int
) -> None:
    data = _with_hidden_frame(width, height)
    structure = scan(data)
    assert (structure.format, structure.width, structure.height) == ("JPEG", 200, 100)
    decodes = _decodes(monkeypatch)
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    assert (caught.value.reason, caught.value.detail) == ("undecodable", "")
    assert decodes == []


def test_a_header_pillow_cannot_open_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two colour components: the scan's structure is fine, Pillow has no mode for it.
    data = b"\xff\xd8" + frame(200, 100, components=2) + SOS + ENTROPY + EOI
    decodes = _decodes(monkeypatch)
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data)
    assert (caught.value.reason, caught.value.detail) == ("undecodable", "")
    assert decodes == []


def _orientation_entries(*values: int) -> bytes:
    """A big-endian TIFF with one orientation entry (SHORT) of ``values``, inline."""
    packed = struct.pack(f">{len(values)}H", *values).ljust(4, b"\x00")
    entry = struct.pack(">HHI", 0x0112, 3, len(values)) + packed
    return b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 1) + entry + b"\x00\x00\x00\x00"


def test_an_orientation_that_warns_is_upright_where_warnings_are_errors() -> None:
    # Two entries where one is expected: Pillow warns while reading the value (and takes the
    # first, 6, otherwise). A host running with warnings as errors gets an exception there;
    # the photo is then taken upright, as with any EXIF that cannot be read.
    png = factory.png(200, 100)
    data = png[:33] + chunk(b"eXIf", _orientation_entries(6, 6)) + png[33:]
    with pytest.warns(UserWarning, match="too many entries"):
        assert prepare_image(data).width == 100  # turned: orientation 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepared = prepare_image(data)
    assert (prepared.width, prepared.height, prepared.transformed) == (200, 100, False)
    assert prepared.data == png  # only the eXIf chunk left
