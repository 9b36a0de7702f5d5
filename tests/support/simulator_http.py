"""Requests to the simulator's legacy endpoint and the checked reading of its answers.

First written in tests/simulator/test_legacy_protocol.py; kept here so that no test module imports
from another."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from face_idcard.providers.legacy import signing
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorServer,
)

PATH = "/face/idcardcompare"


def plaintext(order: str = "abketrf", **overrides: str) -> str:
    """A signature plaintext with the fields in ``order`` (one letter per field)."""
    now = int(time.time())
    values = {
        "a": DEFAULT_APPID,
        "b": "",
        "k": DEFAULT_SECRET_ID,
        "e": str(now + 300),
        "t": str(now),
        "r": "12345",
        "u": "0",
        "f": "",
    }
    values.update(overrides)
    return "&".join(f"{name}={values[name]}" for name in order)


def authorization(text: str | None = None, key: str = DEFAULT_SECRET_KEY) -> str:
    return signing.legacy_authorization(text if text is not None else plaintext(), key)


def post_json(
    sim: SimulatorServer, body: dict[str, Any], *, auth: str | None = None
) -> requests.Response:
    return requests.post(
        sim.base_url + PATH,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={
            "Authorization": auth if auth is not None else authorization(),
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def answer(response: requests.Response) -> dict[str, Any]:
    """The JSON body, after checking the exact documented shape and HTTP 200."""
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"data", "code", "message"}
    assert set(body["data"]) == {"similarity", "session_id"}
    assert isinstance(body["data"]["similarity"], float)
    assert isinstance(body["data"]["session_id"], str) and body["data"]["session_id"]
    assert isinstance(body["code"], int)
    assert isinstance(body["message"], str)
    return dict(body)


def code_of(response: requests.Response) -> int:
    return int(answer(response)["code"])
