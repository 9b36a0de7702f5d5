"""Edges of face_idcard.sensitive (issue 17): the default mask and the whole exception chain."""

from __future__ import annotations

import pytest

from face_idcard.sensitive import Sensitive, forget_locals_on_error

SECRET = "110105194912310029"


@pytest.mark.parametrize("value", [SECRET, "", "x", b"raw", 12345])
def test_the_default_mask_is_three_stars_whatever_the_value(value: object) -> None:
    hidden = Sensitive(value)
    assert repr(hidden) == str(hidden) == f"{hidden}" == "<Sensitive ***>"


def _frames_locals(exc: BaseException) -> list[dict[str, object]]:
    found = []
    tb = exc.__traceback__
    while tb is not None:
        found.append(dict(tb.tb_frame.f_locals))
        tb = tb.tb_next
    return found


def _inner(secret: str) -> None:
    raise KeyError("lookup failed")


def _outer(secret: str) -> None:
    try:
        _inner(secret)
    except KeyError as exc:
        raise RuntimeError("wrapped") from exc


@pytest.mark.parametrize("chained", ["cause", "context"])
def test_locals_are_forgotten_along_the_whole_chain(chained: str) -> None:
    def context_only(secret: str) -> None:
        try:
            _inner(secret)
        except KeyError:
            raise RuntimeError("while handling") from None

    target = _outer if chained == "cause" else context_only
    with pytest.raises(RuntimeError) as raised:
        forget_locals_on_error(target)(SECRET)
    exc = raised.value
    linked = exc.__cause__ if chained == "cause" else exc.__context__
    assert isinstance(linked, KeyError)
    for item in (exc, linked):
        for frame_locals in _frames_locals(item)[1:]:
            assert SECRET not in frame_locals.values()


def test_an_exception_chained_to_itself_is_handled_once() -> None:
    def loop(secret: str) -> None:
        exc = ValueError("cycle")
        exc.__context__ = exc
        raise exc

    with pytest.raises(ValueError, match="cycle"):
        forget_locals_on_error(loop)(SECRET)
