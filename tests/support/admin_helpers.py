"""Attempts and users for the admin tests (real submits and runs through the simulator)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.factories import finished_attempt
from tests.support.users import user_with

IMAGE = imagefactory.jpeg(320, 240)
NAME = "张三丰"
CHANGELIST = "/admin/face_idcard/verificationattempt/"
QUEUE = "/admin/face_idcard/attemptawaitingreview/"
ID_SEARCH = CHANGELIST + "search-id-number/"

#: Every permission a reviewer of the console may hold.
ALL = ("view_verificationattempt", "view_pii", "review", "rerun", "redact")


def finished(number: str = magic.REVIEW, **kwargs: Any) -> VerificationAttempt:
    return finished_attempt(number, idcard_name=NAME, image=IMAGE, **kwargs)


def client_for(username: str, *codenames: str) -> tuple[Client, Any]:
    user = user_with(username, *codenames)
    client = Client()
    client.force_login(user)
    return client, user


def change_url(attempt: VerificationAttempt) -> str:
    return f"{CHANGELIST}{attempt.pk}/change/"


def action(client: Client, name: str, *attempts: VerificationAttempt, **fields: str) -> Any:
    """POST an admin action (the confirmation page; ``confirm="yes"`` performs it)."""
    data: dict[str, Any] = {"action": name, "_selected_action": [str(a.pk) for a in attempts]}
    data.update(fields)
    return client.post(CHANGELIST, data)
