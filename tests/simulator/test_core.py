"""The simulator's parts without HTTP: similarity, registry, magic numbers, faults, multipart."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageEnhance
from stdnum.cn import ric

from face_idcard.simulator import SimulatorConfig, SimulatorServer, magic, similarity
from face_idcard.simulator.faults import LatencySpec, parse_error_rate, parse_latency
from face_idcard.simulator.multipart import MultipartError, parse_form_data
from face_idcard.simulator.portraits import draw_portrait
from face_idcard.simulator.registry import (
    Person,
    Registry,
    RegistryError,
    demo_people,
    load,
    mask_idcard,
)

PEOPLE = demo_people()
FIXED_MAGIC = [
    magic.MATCH,
    magic.NO_MATCH,
    magic.REVIEW,
    magic.NAME_MISMATCH,
    magic.NO_FACE,
    magic.RATE_LIMITED,
    magic.INTERNAL_ERROR,
    magic.SERVICE_UNAVAILABLE,
    magic.ARREARS,
    magic.HANG,
    magic.BAD_GATEWAY,
    magic.DROP,
]


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def near_copies(photo: bytes) -> dict[str, bytes]:
    image = Image.open(io.BytesIO(photo)).convert("RGB")
    w, h = image.size
    return {
        "re-encoded q40": jpeg(image, 40),
        "png": png(image),
        "half size": jpeg(image.resize((w // 2, h // 2))),
        "double size": jpeg(image.resize((w * 2, h * 2))),
        "cropped 5% corner": jpeg(image.crop((w * 5 // 100, h * 5 // 100, w, h))),
        "cropped 5% centred": jpeg(image.crop((w // 40, h // 40, w - w // 40, h - h // 40))),
        "brightened 20%": jpeg(ImageEnhance.Brightness(image).enhance(1.2)),
        "contrast -20%": jpeg(ImageEnhance.Contrast(image).enhance(0.8)),
    }


# --- similarity -------------------------------------------------------------------------------


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: repr(p))
def test_near_copies_score_above_90(person: Person) -> None:
    registered = similarity.fingerprint(person.photo_bytes)
    assert similarity.score(registered, registered) == 100.0
    for label, data in near_copies(person.photo_bytes).items():
        value = similarity.score(similarity.fingerprint(data), registered)
        assert value > 90, label


def test_other_people_score_below_40() -> None:
    prints = [similarity.fingerprint(p.photo_bytes) for p in PEOPLE]
    for i, a in enumerate(prints):
        for b in prints[i + 1 :]:
            assert similarity.score(a, b) < 40
            assert similarity.score(a, b) == similarity.score(b, a)


def test_other_portraits_and_unrelated_images_score_below_40() -> None:
    registered = similarity.fingerprint(PEOPLE[0].photo_bytes)
    rng = random.Random(5)
    noise = Image.frombytes("RGB", (64, 64), bytes(rng.randrange(256) for _ in range(64 * 64 * 3)))
    gradient = Image.linear_gradient("L").convert("RGB")
    for image in [draw_portrait(seed) for seed in (101, 202, 303)] + [noise, gradient]:
        assert similarity.score(similarity.fingerprint(jpeg(image)), registered) < 40


def test_score_is_deterministic() -> None:
    data = near_copies(PEOPLE[1].photo_bytes)["cropped 5% corner"]
    scores = {
        similarity.score(
            similarity.fingerprint(data), similarity.fingerprint(PEOPLE[1].photo_bytes)
        )
        for _ in range(3)
    }
    assert len(scores) == 1


def test_blank_image_looks_blank_and_portraits_do_not() -> None:
    assert similarity.fingerprint(jpeg(Image.new("RGB", (100, 100), (90, 90, 90)))).looks_blank
    assert not similarity.fingerprint(PEOPLE[0].photo_bytes).looks_blank


def test_gif_and_garbage_are_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="GIF")
    with pytest.raises(similarity.UnsupportedImageFormat):
        similarity.fingerprint(buffer.getvalue())
    with pytest.raises(similarity.UndecodableImage):
        similarity.fingerprint(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(similarity.UndecodableImage):
        similarity.fingerprint(b"")


# --- magic numbers ----------------------------------------------------------------------------


def test_magic_numbers_are_valid_distinct_and_documented() -> None:
    assert len(set(FIXED_MAGIC)) == len(FIXED_MAGIC)
    doc = magic.__doc__ or ""
    for number in FIXED_MAGIC:
        assert len(number) == 18 and ric.is_valid(number)
        assert number in doc
    registered = {p.idcard_number for p in PEOPLE}
    assert not registered & set(FIXED_MAGIC)


def test_flaky_and_slow_numbers_round_trip() -> None:
    for n in (0, 1, 7, 999):
        number = magic.flaky(n)
        assert ric.is_valid(number)
        assert magic.lookup(number) == magic.MagicNumber(magic.Behaviour.FLAKY, n)
    assert magic.flaky(3, variant=99) != magic.flaky(3)
    assert magic.lookup(magic.flaky(3, variant=99)) == magic.MagicNumber(magic.Behaviour.FLAKY, 3)
    for ms in (0, 1, 1500, 60_000):
        number = magic.slow(ms)
        assert ric.is_valid(number)
        assert magic.lookup(number) == magic.MagicNumber(magic.Behaviour.SLOW, ms)
    assert magic.lookup("11010519491231002X") is None  # same address code as slow(), older date
    assert magic.lookup(PEOPLE[0].idcard_number) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: magic.flaky(-1),
        lambda: magic.flaky(1000),
        lambda: magic.flaky(1, variant=100),
        lambda: magic.slow(60_001),
        lambda: magic.slow(-5),
    ],
)
def test_magic_parameters_out_of_range(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


# --- registry ---------------------------------------------------------------------------------


def test_demo_people_are_valid_and_their_repr_shows_nothing_personal() -> None:
    assert len(PEOPLE) >= 3
    for person in PEOPLE:
        assert ric.is_valid(person.idcard_number)
        assert person.photo_bytes[:2] == b"\xff\xd8"  # JPEG
        assert person.idcard_number not in repr(person) and person.idcard_name not in repr(person)
    assert mask_idcard("110101190001010014") == "1101**********0014"


def test_reprs_show_nothing_personal() -> None:
    from face_idcard.simulator.core import SimulatorCore, VerificationInput

    person = PEOPLE[0]
    request = VerificationInput(person.idcard_number, person.idcard_name, person.photo_bytes)
    verdict = SimulatorCore(SimulatorConfig()).verify(request)
    assert verdict.similarity == 100.0
    with_url = VerificationInput(person.idcard_number, person.idcard_name, url="http://x/y")
    text = repr(request) + repr(verdict) + str(request) + str(verdict) + repr(with_url)
    assert person.idcard_number not in text and person.idcard_name not in text
    assert "http://x/y" not in text


def test_registry_from_a_json_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(PEOPLE[0].photo_bytes)
    entries = [
        {"idcard_number": PEOPLE[0].idcard_number, "idcard_name": "赵六", "photo": "a.jpg"},
        {
            "idcard_number": PEOPLE[1].idcard_number.lower(),
            "idcard_name": "钱七",
            "photo_base64": base64.b64encode(PEOPLE[1].photo_bytes).decode(),
        },
    ]
    path = tmp_path / "people.json"
    path.write_text(json.dumps({"people": entries}, ensure_ascii=False), encoding="utf-8")
    registry = load(path)
    assert len(registry) == 2
    person = registry.get(PEOPLE[0].idcard_number)
    assert person is not None and person.idcard_name == "赵六"
    assert registry.get(PEOPLE[1].idcard_number) is not None


def test_registry_from_a_directory(tmp_path: Path) -> None:
    (tmp_path / f"{PEOPLE[2].idcard_number}_孙八.jpg").write_bytes(PEOPLE[2].photo_bytes)
    registry = load(tmp_path)
    person = registry.get(PEOPLE[2].idcard_number)
    assert person is not None and person.idcard_name == "孙八"


def test_registry_errors_do_not_reveal_the_number(tmp_path: Path) -> None:
    bad_number = "110110199909090909"
    path = tmp_path / "people.json"
    path.write_text(
        json.dumps([{"idcard_number": bad_number, "idcard_name": "张三", "photo_base64": ""}]),
        encoding="utf-8",
    )
    with pytest.raises(RegistryError) as caught:
        load(path)
    assert bad_number not in str(caught.value) and "张三" not in str(caught.value)
    with pytest.raises(RegistryError):
        Registry(
            [Person(PEOPLE[0].idcard_number, "a", b"x"), Person(PEOPLE[0].idcard_number, "b", b"y")]
        )
    with pytest.raises(RegistryError):
        load(tmp_path / "missing.json")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / f"{PEOPLE[0].idcard_number}_张三.jpg").write_bytes(b"not a photo")
    with pytest.raises(RegistryError):
        load(broken)


def test_simulator_answers_from_a_custom_registry(tmp_path: Path) -> None:
    import requests

    from face_idcard.providers.legacy import signing
    from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    (tmp_path / f"{PEOPLE[2].idcard_number}_孙八.jpg").write_bytes(PEOPLE[2].photo_bytes)
    with SimulatorServer(SimulatorConfig(registry=tmp_path)) as sim:
        auth = signing.sign_legacy(
            appid=DEFAULT_APPID, secret_id=DEFAULT_SECRET_ID, secret_key=DEFAULT_SECRET_KEY
        )
        codes = []
        for number, name in (
            (PEOPLE[2].idcard_number, "孙八"),
            (PEOPLE[0].idcard_number, PEOPLE[0].idcard_name),
        ):
            files: dict[str, Any] = {
                "appid": (None, DEFAULT_APPID),
                "idcard_number": (None, number),
                "idcard_name": (None, name),
                "image": ("a.jpg", PEOPLE[2].photo_bytes, "image/jpeg"),
            }
            response = requests.post(
                sim.base_url + "/face/idcardcompare",
                files=files,
                headers={"Authorization": auth},
                timeout=10,
            )
            codes.append(response.json()["code"])
    # The demo person is not in this registry: -4009 (no registered photo).
    assert codes == [0, -4009]


# --- faults -----------------------------------------------------------------------------------


def test_parse_latency() -> None:
    assert parse_latency(50) == LatencySpec("fixed", 50.0)
    assert parse_latency("75") == LatencySpec("fixed", 75.0)
    assert parse_latency("normal:50,10") == LatencySpec("normal", 50.0, 10.0)
    assert parse_latency("uniform:10,90") == LatencySpec("uniform", 10.0, 90.0)
    assert parse_latency("exponential:40") == LatencySpec("exponential", 40.0)
    rng = random.Random(1)
    samples = [parse_latency("uniform:10,90").sample_ms(rng) for _ in range(200)]
    assert min(samples) >= 10 and max(samples) <= 90
    assert all(parse_latency("normal:5,50").sample_ms(rng) >= 0 for _ in range(200))
    for bad in ("normal:50", "uniform:1,2,3", "weibull:1", "-5", "fast"):
        with pytest.raises(ValueError):
            parse_latency(bad)


def test_parse_error_rate() -> None:
    assert parse_error_rate("transient=0.1") == ("transient", 0.1)
    assert parse_error_rate("drop=1") == ("drop", 1.0)
    for bad in ("transient", "nonsense=0.1", "transient=1.5", "transient=-0.1"):
        with pytest.raises(ValueError):
            parse_error_rate(bad)


# --- multipart --------------------------------------------------------------------------------


def test_multipart_reader_accepts_both_part_forms() -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="appid";\r\n\r\n1000000001\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="idcard_name"; filename="idcard_name"\r\n\r\n'
        + "张三".encode()
        + b'\r\n--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\r\n\x00\xff\xd9\r\n--XyZ--\r\n"
    )
    fields = parse_form_data(body, 'multipart/form-data; boundary="XyZ"')
    assert fields == {
        "appid": b"1000000001",
        "idcard_name": "张三".encode(),
        "image": b"\xff\xd8\r\n\x00\xff\xd9",
    }


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--XyZ\r\nno header block", "multipart/form-data; boundary=XyZ"),
        (
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
            "multipart/form-data; boundary=XyZ",
        ),
        (
            b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n",
            "multipart/form-data; boundary=XyZ",
        ),
        (b"anything", "multipart/form-data"),
    ],
    ids=["no-headers", "no-name", "not-terminated", "no-boundary"],
)
def test_multipart_reader_refuses_malformed_bodies(body: bytes, content_type: str) -> None:
    with pytest.raises(MultipartError):
        parse_form_data(body, content_type)
