"""The admin's link to a selfie: issued by the audited reveal (a POST), not audited again.

The reveal records who saw the selfie and hands the page a link whose only part is a token:
the attempt id signed with a timestamp (:class:`django.core.signing.TimestampSigner`) under a
salt made of the viewer's user id and a random secret kept in the viewer's session. So the
link works for ``ADMIN_SELFIE_LINK_SECONDS`` only, for one attempt, for that user in that
session: another user, another session (a logout ends it), a changed or forged token, or an
expired one is refused. Loading the image is then a plain GET that writes nothing; what the
audit trail needs was written by the POST that issued the link.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.core import signing
from django.http import HttpRequest

from ..conf import face_idcard_settings

#: Separates these signatures from every other use of SECRET_KEY.
SALT = "face_idcard.admin.selfie-link"
#: Where the viewer's session keeps the random part of the salt.
SESSION_KEY = "face_idcard_selfie_link_secret"


def _signer(user_pk: object, session_secret: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"{SALT}:{user_pk}:{session_secret}")


def issue(request: HttpRequest, attempt_pk: uuid.UUID) -> str:
    """A token for ``attempt_pk``'s selfie, good for the requesting user in this session."""
    session_secret = request.session.get(SESSION_KEY)
    if not session_secret:
        session_secret = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = session_secret
    return _signer(request.user.pk, session_secret).sign(str(attempt_pk))


def attempt_pk(request: HttpRequest, token: str) -> uuid.UUID | None:
    """The attempt a valid token names; ``None`` for any token this user and session did not
    receive within ``ADMIN_SELFIE_LINK_SECONDS``."""
    session_secret = request.session.get(SESSION_KEY)
    if not session_secret or not request.user.pk:
        return None
    try:
        value = _signer(request.user.pk, session_secret).unsign(
            token, max_age=timedelta(seconds=float(face_idcard_settings.ADMIN_SELFIE_LINK_SECONDS))
        )
        return uuid.UUID(value)
    except (signing.BadSignature, ValueError):  # SignatureExpired is a BadSignature
        return None
