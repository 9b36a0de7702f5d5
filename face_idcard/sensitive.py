"""Personal information as values that do not show themselves, and tracebacks that forget it.

Crash reports are where personal information leaks without anybody logging it: Django's
technical 500 page, ``AdminEmailHandler(include_html=True)`` and error trackers that collect
frame locals all ``repr`` every local of every frame. Two tools, both free of Django (the
provider clients use them too):

* :class:`Sensitive` carries an ID number, a name, a url or an image through our code with a
  masked ``repr`` and ``str``; :meth:`Sensitive.reveal` hands out the value where it is
  needed (the request to the provider, the encryption, the hash). It refuses to be pickled,
  so it can never travel in a Celery message or a cache.
* :func:`forget_locals_on_error` wraps the entry points (``submit``, ``run``, ``reveal_pii``,
  a backend's ``verify``, the client's ``compare``): when an exception leaves one, the locals
  of every frame it passed through below the entry point are cleared (``frame.clear()``)
  before it travels on. The report keeps the exception, its text and every file and line;
  it loses those frames' local variables, which is the point: somewhere deep down (the
  validators, the encryption, the HTTP send) the clear value has to exist.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Generic, NoReturn, ParamSpec, TypeVar

from ._masking import MASK_CHAR, mask_id_number, mask_name

__all__ = ["Sensitive", "SensitiveBytes", "forget_locals_on_error"]

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def _hidden(value: object) -> str:
    return MASK_CHAR * 3


class Sensitive(Generic[T]):
    """A value whose ``repr`` and ``str`` are masked; :meth:`reveal` gives it back."""

    __slots__ = ("_mask", "_value")

    def __init__(self, value: T, mask: Callable[[T], str] = _hidden) -> None:
        self._value = value
        self._mask = mask

    @classmethod
    def id_number(cls, value: str) -> Sensitive[str]:
        return Sensitive(value, mask_id_number)

    @classmethod
    def name(cls, value: str) -> Sensitive[str]:
        return Sensitive(value, mask_name)

    def reveal(self) -> T:
        """The value itself: only where it must be used (never into a log or a message)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._mask(self._value)}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("personal information is never pickled")


class SensitiveBytes(Sensitive[bytes]):
    """An image: its ``repr`` says only how long it is."""

    __slots__ = ()

    def __init__(self, value: bytes) -> None:
        super().__init__(value, lambda data: f"{len(data)} bytes")


def _forget(tb: TracebackType | None) -> None:
    # The first frame is the one still running (the wrapper): frame.clear() refuses it, and
    # traceback.clear_frames() skips it.
    traceback.clear_frames(tb)


def _forget_chain(exc: BaseException) -> None:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        _forget(item.__traceback__)
        pending += [item.__cause__, item.__context__]


def forget_locals_on_error(func: Callable[P, R]) -> Callable[P, R]:
    """Clear the locals of the frames below ``func`` (and ``func``'s own) when an exception
    leaves it; the wrapper drops its own arguments before re-raising."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            _forget_chain(exc)
            del args, kwargs
            raise

    return wrapper
