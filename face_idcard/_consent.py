"""What the person consented to, and when: the consent record every submission carries.

PIPL asks for consent before a face is compared; ``submit`` refuses a submission without a
consent time, and :func:`validate_consent_time` refuses one that cannot be the moment consent
was given (a naive time, or one in the future beyond the clock skew a client may have). The
consent a minor needs from a guardian is decided with the birth date, in
:func:`face_idcard._identity.check_minimum_age`.

The consent covers a notice (:class:`~face_idcard.models.ConsentNotice`): a version, its full
text in each language with the text's SHA-256, the company the face goes to for each backend
alias (each backend class declares its ``recipient`` and ``recipient_name``) and that it
travels over the Internet. An attempt records its notice's version and hash, and the
recipients and the Internet transfer it covered; an attempt is never sent to a recipient its
consent does not name (refused by ``submit``, and by the pipeline before any provider call).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.signals import setting_changed
from django.db import IntegrityError, router, transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from .conf import face_idcard_settings

__all__ = [
    "CONSENT_MESSAGES",
    "NOTICE_MESSAGES",
    "covers",
    "current_notice",
    "notice_for_version",
    "notice_of",
    "require_coverage",
    "text_sha256",
    "validate_consent_time",
]

CONSENT_MESSAGES: dict[str, Any] = {
    "consent_type": _("The consent time must be a date and time."),
    "consent_naive": _("The consent time must include its time zone."),
    "consent_future": _("The consent time is in the future."),
}


def validate_consent_time(value: object, *, now: datetime | None = None) -> datetime:
    """An aware ``datetime`` not later than now plus ``CONSENT_CLOCK_SKEW_SECONDS``.

    Codes: ``consent_type``, ``consent_naive``, ``consent_future``. A naive time is refused
    rather than guessed: in which zone it was meant is exactly what is unknown.
    """
    if not isinstance(value, datetime):
        raise ValidationError(CONSENT_MESSAGES["consent_type"], code="consent_type")
    if timezone.is_naive(value):
        raise ValidationError(CONSENT_MESSAGES["consent_naive"], code="consent_naive")
    skew = timedelta(seconds=float(face_idcard_settings.CONSENT_CLOCK_SKEW_SECONDS))
    if value > (now or timezone.now()) + skew:
        raise ValidationError(CONSENT_MESSAGES["consent_future"], code="consent_future")
    return value


# --- The privacy notice, and what a consent covers -----------------------------------------

#: The languages each notice is written down in: the app's own (English and the zh-hans
#: catalogue). The page shows the one of the request, else English.
NOTICE_LANGUAGES = ("zh-hans", "en")
FALLBACK_LANGUAGE = "en"

#: The notice the person reads before consenting. It names every company the face may go to
#: and, when a backend sends it there over the Internet, says so (the 2025 measures: face
#: information leaves the device only with a consent that covers that transmission).
NOTICE_OVER_INTERNET = _(
    "To confirm that you are the holder of the ID card, we send your photo, ID card number and "
    "name over the Internet to %(recipients)s for comparison with the photo on record for your "
    "ID card. This is sensitive personal information: it is used only for this "
    "verification, stored encrypted, and deleted after the retention period. You can withdraw "
    "your consent and ask for deletion at any time."
)
NOTICE_LOCAL = _(
    "To confirm that you are the holder of the ID card, we send your photo, ID card number and "
    "name to %(recipients)s for comparison with the photo on record for your ID card. This is "
    "sensitive personal information: it is used only for this verification, "
    "stored encrypted, and deleted after the retention period. You can withdraw your consent "
    "and ask for deletion at any time."
)
#: Between the recipients' names, by language ("A Cloud, B Cloud" in English; "A云、B云" in
#: Chinese).
LIST_SEPARATORS = {"zh-hans": "、"}

NOTICE_MESSAGES: dict[str, Any] = {
    "notice_version_unknown": _("This privacy notice version is not known."),
    "consent_recipient_not_named": _(
        "The privacy notice you accepted does not name the company this verification would "
        "send your photo to, so it cannot be sent. Your consent must be asked again with a "
        "notice that names it."
    ),
    # For staff: a re-run goes to today's default backend.
    "rerun_recipient_not_named": _(
        "The person's consent does not name the company the default backend now sends to: "
        "this attempt cannot be re-run there."
    ),
}

logger = logging.getLogger("face_idcard.consent")


@dataclass(frozen=True)
class NoticeDraft:
    """The notice the current settings make: what a :class:`ConsentNotice` row holds."""

    version: str
    texts: dict[str, str]
    sha256: str
    recipients: dict[str, str]
    recipient_names: dict[str, dict[str, str]]
    over_internet: bool


def text_sha256(texts: Mapping[str, str]) -> str:
    """The SHA-256 of a notice's full text: its texts by language as canonical JSON (keys
    sorted, UTF-8, no spaces). Anyone holding the texts recomputes it with
    ``hashlib.sha256(json.dumps(texts, sort_keys=True, ensure_ascii=False,
    separators=(",", ":")).encode()).hexdigest()``."""
    canonical = json.dumps(dict(texts), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def configured_versions() -> list[str]:
    """``NOTICE_ACCEPTED_VERSIONS``, else ``[NOTICE_CURRENT_VERSION]`` when set, else [] (the API's enum)."""
    versions = [str(v) for v in face_idcard_settings.NOTICE_ACCEPTED_VERSIONS or []]
    if not versions and face_idcard_settings.NOTICE_CURRENT_VERSION:
        versions = [str(face_idcard_settings.NOTICE_CURRENT_VERSION)]
    return versions


_lock = threading.Lock()
_drafts: dict[str, NoticeDraft] = {}
#: Notices known to be stored, by (database alias, version, hash): their rows never change.
_stored: dict[tuple[str, str, str], Any] = {}


def current_draft() -> NoticeDraft:
    """The notice of the current settings (cached until ``FACE_IDCARD`` changes): the version
    the page shows (the first of :func:`configured_versions`), or, when the site sets none,
    ``auto-`` and the start of the text's hash, so that a change of recipients is a new
    version by itself."""
    draft = _drafts.get("current")
    if draft is None:
        draft = _compose()
        with _lock:
            _drafts["current"] = draft
    return draft


def _compose() -> NoticeDraft:
    # Imported here: the backends import this package's settings, never the other way round.
    from .backends import backend_class
    from .backends.config import configured, resolve

    try:
        aliases = sorted(configured())
    except ImproperlyConfigured:  # BACKENDS is not a dict: a system check Error; none named
        aliases = []
    classes: dict[str, Any] = {}
    for alias in aliases:
        try:
            classes[alias] = backend_class(resolve(alias).backend)
        except ImproperlyConfigured:
            continue  # no attempt can be sent there either (BackendUnavailable)
    recipients = {alias: cls.recipient_identity() for alias, cls in classes.items()}
    over_internet = any(cls.sends_over_internet for cls in classes.values())
    by_identity = {cls.recipient_identity(): cls for cls in classes.values()}
    texts: dict[str, str] = {}
    names: dict[str, dict[str, str]] = {}
    for language in NOTICE_LANGUAGES:
        with translation.override(language):
            names[language] = {
                identity: cls.recipient_display_name()
                for identity, cls in sorted(by_identity.items())
            }
            listed = LIST_SEPARATORS.get(language, ", ").join(names[language].values())
            template = NOTICE_OVER_INTERNET if over_internet else NOTICE_LOCAL
            texts[language] = str(template) % {"recipients": listed}
    sha256 = text_sha256(texts)
    versions = configured_versions()
    return NoticeDraft(
        version=versions[0] if versions else f"auto-{sha256[:12]}",
        texts=texts,
        sha256=sha256,
        recipients=recipients,
        recipient_names=names,
        over_internet=over_internet,
    )


def current_notice() -> Any:
    """The :class:`~face_idcard.models.ConsentNotice` the page shows now, stored on first use.

    A version is written down once: when the settings later make another text under the same
    version (a backend of another company added), the stored text stays what the version
    means, the new recipient is not covered by it (:func:`require_coverage` refuses), and a
    warning asks for a new ``NOTICE_CURRENT_VERSION``, so that people are asked to consent again."""
    from .models import ConsentNotice

    draft = current_draft()
    using = router.db_for_write(ConsentNotice)
    key = (using, draft.version, draft.sha256)
    row = _stored.get(key)
    if row is not None:
        return row
    row = ConsentNotice.objects.using(using).filter(version=draft.version).first()
    if row is None:
        row = ConsentNotice(
            version=draft.version,
            texts=draft.texts,
            sha256=draft.sha256,
            recipients=draft.recipients,
            recipient_names=draft.recipient_names,
            over_internet=draft.over_internet,
        )
        try:
            with transaction.atomic(using=using):
                row.save(using=using, force_insert=True)
        except IntegrityError:  # stored meanwhile by another process
            row = ConsentNotice.objects.using(using).get(version=draft.version)
    if row.sha256 != draft.sha256:
        logger.warning(
            "privacy notice %r was first shown with another text (recipients %s); it keeps "
            "that text. Set a new NOTICE_CURRENT_VERSION to ask for consent to the current one.",
            row.version,
            ", ".join(sorted(set(row.recipients.values()))) or "none",
        )

    _remember(key, row, using)
    return row


def _remember(key: tuple[str, str, str], row: Any, using: str) -> None:
    """Remember a stored notice, only when its row is surely committed (read or written in
    autocommit): a caller's transaction that rolls back would take a row it wrote along."""
    if not transaction.get_connection(using).in_atomic_block:
        with _lock:
            _stored[key] = row


def notice_for_version(version: str | None) -> Any:
    """The stored notice a submission's consent refers to: the current one for ``None``, ""
    or its version, else an earlier version this site showed; ``ValidationError``
    (``notice_version_unknown``) for a version whose text it does not hold."""
    from .models import ConsentNotice

    if not version or version == current_draft().version:
        return current_notice()
    using = router.db_for_write(ConsentNotice)
    key = (using, version, "")
    row = _stored.get(key)
    if row is None:
        row = ConsentNotice.objects.using(using).filter(version=version).first()
        if row is None:
            raise ValidationError(
                NOTICE_MESSAGES["notice_version_unknown"], code="notice_version_unknown"
            )
        _remember(key, row, using)
    return row


def covers(recipients: Mapping[str, str] | None, over_internet: bool | None, backend: Any) -> bool:
    """Whether a consent naming ``recipients`` (by alias) and ``over_internet`` covers sending
    the face through ``backend`` (a Backend instance or class): its recipient is one the
    consent names, and, if it sends over the Internet, the consent says so. ``None``: an
    attempt made before consent records existed, which is not held to one."""
    if recipients is None:
        return True
    if backend.recipient_identity() not in set(recipients.values()):
        return False
    return bool(over_internet) or not backend.sends_over_internet


def require_coverage(notice: Any, backend: Any) -> dict[str, Any]:
    """The consent fields of a new attempt whose consent is ``notice``, sent through
    ``backend``; ``ValidationError`` (``consent_recipient_not_named``) when the notice does
    not name where the face would go."""
    if not covers(notice.recipients, notice.over_internet, backend):
        raise ValidationError(
            NOTICE_MESSAGES["consent_recipient_not_named"], code="consent_recipient_not_named"
        )
    return {
        "notice_version": notice.version,
        "notice_sha256": notice.sha256,
        "consent_recipients": dict(notice.recipients),
        "consent_over_internet": notice.over_internet,
    }


def notice_of(attempt: Any) -> Any:
    """The notice an attempt's consent refers to, or None (an attempt made before notices
    were stored)."""
    from .models import ConsentNotice

    if not attempt.notice_sha256:
        return None
    row = (
        ConsentNotice.objects.using(router.db_for_read(ConsentNotice))
        .filter(version=attempt.notice_version, sha256=attempt.notice_sha256)
        .first()
    )
    return row


def _in_language(by_language: Mapping[str, Any], language: str | None, empty: Any) -> Any:
    """The entry of ``language`` (default: the active one), else of its base language (``zh``
    for ``zh-hant``), else English, else the first."""
    language = (language or translation.get_language() or FALLBACK_LANGUAGE).lower()
    for candidate in (language, language.split("-")[0], FALLBACK_LANGUAGE):
        for code, value in by_language.items():
            if code.lower() == candidate or code.lower().split("-")[0] == candidate:
                return value
    return next(iter(by_language.values()), empty)


def text_in(notice: Any, language: str | None = None) -> str:
    """The notice's full text in ``language`` (default: the active one)."""
    return str(_in_language(notice.texts, language, ""))


def recipient_names_in(notice: Any, language: str | None = None) -> list[str]:
    """The names of the notice's recipients as its text in ``language`` gives them."""
    names: Mapping[str, str] = _in_language(notice.recipient_names or {}, language, {})
    return list(names.values())


def describe(notice: Any) -> dict[str, Any]:
    """A notice as the API and the admin show it (no personal information in it)."""
    return {
        "version": notice.version,
        "sha256": notice.sha256,
        "texts": dict(notice.texts),
        "recipients": dict(notice.recipients),
        "recipient_names": {lang: dict(names) for lang, names in notice.recipient_names.items()},
        "over_internet": notice.over_internet,
        "first_used_at": notice.created_at,
    }


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in ("FACE_IDCARD", "DATABASES", "DATABASE_ROUTERS"):
        with _lock:
            _drafts.clear()
            _stored.clear()
