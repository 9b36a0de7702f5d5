"""How the photo of an attempt was taken, as its client says, and whether a chosen file may be
sent at all (``ONBOARDING_FILE_UPLOAD``).

The onboarding page says what it did: a frame from the camera's live view in the page
(``camera``), the ``capture="user"`` input (``capture_input``: the phone's camera app on most
phones, but a file chooser on a desktop and on some phones), or a chosen file (``file``). It is
recorded on the attempt for the reviewer, beside the liveness verdict.

What can honestly be enforced: the server refuses an attempt that says it came from a file
where the policy allows no files. It cannot tell a camera frame from a file: any client can
say ``camera`` (or say nothing, as a server-to-server client does), and a camera can film a
printed photo or a screen. The capture source is what the page did, never proof of a live
person; that proof is the provider's liveness check (``LIVENESS``, :mod:`face_idcard.services`).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _

from .conf import face_idcard_settings

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "CAPTURE_SOURCE_CHOICES",
    "CaptureSource",
    "file_upload_allowed",
    "validate_capture_source",
]


class CaptureSource(str, enum.Enum):
    #: Not said (a client that does not send it, an attempt from before the field).
    UNKNOWN = ""
    CAMERA = "camera"
    CAPTURE_INPUT = "capture_input"
    FILE = "file"


CAPTURE_SOURCE_CHOICES: list[tuple[str, StrOrPromise]] = [
    (CaptureSource.UNKNOWN.value, _("Not said")),
    (CaptureSource.CAMERA.value, _("Camera, in the page")),
    (CaptureSource.CAPTURE_INPUT.value, _("Camera app or photo picker")),
    (CaptureSource.FILE.value, _("Chosen file")),
]


def file_upload_allowed(alias: str) -> bool:
    """Whether a chosen file may be sent for an attempt on ``alias``: ``ONBOARDING_FILE_UPLOAD``
    True or False, or ``"auto"`` (the default): not where the alias's ``LIVENESS`` is
    ``require``. A value that is none of these, or an alias that cannot be read, allows no
    file (the strict reading)."""
    setting: Any = face_idcard_settings.ONBOARDING_FILE_UPLOAD
    if setting is True or setting is False:
        return setting
    if setting != "auto":
        return False
    from .backends.config import resolve

    try:
        return resolve(alias).liveness != "require"
    except ImproperlyConfigured:
        return False


def validate_capture_source(value: Any, alias: str) -> str:
    """``value`` as a capture source word for an attempt on ``alias``; a ValidationError for
    an unknown word, or for a file where the policy allows none."""
    text = "" if value is None else value
    if not isinstance(text, str) or text not in {source.value for source in CaptureSource}:
        raise ValidationError(
            _("The capture source must be camera, capture_input or file."),
            code="capture_source_invalid",
        )
    if text == CaptureSource.FILE.value and not file_upload_allowed(alias):
        raise ValidationError(
            _("This site does not accept a chosen photo file. Take a photo with the camera."),
            code="capture_file_not_allowed",
        )
    return text
