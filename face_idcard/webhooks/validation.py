"""What a webhook endpoint's url may be: the photo urls' rule (:func:`netpolicy.validate_url`:
http or https, no credentials, public destinations only), under its own setting
``WEBHOOK_ALLOW_PRIVATE``, with messages that speak of an endpoint."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import _netpolicy as netpolicy
from ..conf import face_idcard_settings
from .secrets import MalformedSecret, validate_secret

MESSAGES = {
    "url_scheme": _("The endpoint address must start with http:// or https://."),
    "url_length": _("The endpoint address is too long."),
    "url_not_public": _(
        "The endpoint address must point to a public internet server, not to a local or "
        "private network address."
    ),
    "url_unresolvable": _("The host name of the endpoint address could not be found."),
}
INVALID = _("Enter a valid endpoint address (no user name or password, no spaces).")


def validate_endpoint_url(value: str) -> str:
    try:
        return netpolicy.validate_url(
            value, allow_private=bool(face_idcard_settings.WEBHOOK_ALLOW_PRIVATE)
        )
    except ValidationError as exc:
        code = exc.code or "url_invalid"
        raise ValidationError(MESSAGES.get(code, INVALID), code=code) from None


def validate_signing_secret(value: str) -> str:
    try:
        return validate_secret(value.strip())
    except MalformedSecret:
        raise ValidationError(
            _("A signing secret is whsec_ followed by the Base64 of 24 to 64 random bytes."),
            code="webhook_secret",
        ) from None
