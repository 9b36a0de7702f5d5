"""Spies on library methods (Pillow's decoders), for tests that check what was called.

First written in tests/input/test_image_decoding.py; kept here so that no test module imports
from another."""

from __future__ import annotations

from typing import Any

import pytest


def _spy(monkeypatch: pytest.MonkeyPatch, cls: Any, name: str) -> list[object]:
    calls: list[object] = []
    real = getattr(cls, name)

    def spy(self: Any, *args: Any) -> Any:
        calls.append(args)
        return real(self, *args)

    monkeypatch.setattr(cls, name, spy)
    return calls
