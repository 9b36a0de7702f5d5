"""Pieces shared by the service modules: the selfie storage, signals, enqueueing
(through the dispatcher a site or :mod:`face_idcard.tasks` plugs in, :mod:`.dispatch`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO, Any, cast
from uuid import UUID, uuid4

from django.core.files.base import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.dispatch import Signal

from .. import crypto
from ..conf import face_idcard_settings
from ..models import VerificationAttempt
from . import dispatch

logger = logging.getLogger("face_idcard.services")


def current_selfie_storage_alias() -> str:
    """The STORAGES alias new selfies go to (``SELFIE_STORAGE``)."""
    return str(face_idcard_settings.SELFIE_STORAGE)


def selfie_storage(alias: str = "") -> Storage:
    """The storage ``alias`` (an attempt's ``selfie_storage``); "" is the current setting."""
    return storages[alias or current_selfie_storage_alias()]


def save_selfie(data: bytes, attempt_id: object) -> str:
    """Encrypt ``data`` (bound to ``attempt_id``) and store it under a random name in the
    current selfie storage; return the stored name (record :func:`current_selfie_storage_alias`
    beside it)."""
    folder = str(face_idcard_settings.SELFIE_UPLOAD_TO).strip("/")
    name = f"{folder}/{uuid4().hex}.bin" if folder else f"{uuid4().hex}.bin"
    # Encrypted while the storage reads it, a chunk at a time: never the whole token in
    # memory, and no temporary file (writing the token twice cost more than encrypting it).
    stream = cast(IO[bytes], crypto.EncryptedStream(data, attempt_id=attempt_id))
    return selfie_storage().save(name, _SealedFile(stream, name=name))


class _SealedFile(File):  # type: ignore[type-arg]
    """A sealed selfie for a storage's ``save``: ``chunks()`` (what FileSystemStorage and
    most storages write from) gives the stream's own pieces, where ``File.chunks`` would
    copy each through ``read()`` twice; ``read()`` works as ever for storages that read."""

    def chunks(self, chunk_size: int | None = None) -> Any:
        stream = cast(crypto.EncryptedStream, self.file)
        stream.seek(0)
        return stream.pieces()


def load_selfie(name: str, alias: str, attempt_id: object) -> bytes:
    """The selfie stored as ``name`` in ``alias`` ("": the current storage), which must be
    ``attempt_id``'s (:class:`crypto.CiphertextMismatch` otherwise)."""
    with selfie_storage(alias).open(name, "rb") as handle:
        encrypted = handle.read()
    return crypto.decrypt_bytes(encrypted, attempt_id=attempt_id)


def delete_selfie(name: str, alias: str = "") -> None:
    if name:
        selfie_storage(alias).delete(name)


def send_after_commit(signal: Signal, attempt: VerificationAttempt, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits; a failing receiver is logged,
    never allowed to undo or break the pipeline."""

    def send() -> None:
        for receiver, response in signal.send_robust(
            sender=VerificationAttempt, attempt=attempt, **kwargs
        ):
            if isinstance(response, Exception):
                logger.error(
                    "attempt %s: signal receiver %r raised %s",
                    attempt.pk,
                    getattr(receiver, "__qualname__", receiver),
                    type(response).__name__,
                )

    transaction.on_commit(send)


def enqueue(attempt_id: UUID, countdown: float | None = None) -> str | None:
    """Hand ``attempt_id`` to the dispatcher (:mod:`.dispatch`): the id is all that travels;
    ``countdown`` delays it (a reserved rate-limit slot).

    Returns None once handed over, else the class name of the error that prevented it.
    """
    try:
        dispatch.get_dispatcher().dispatch(
            attempt_id, None if countdown is None else max(0.0, countdown)
        )
    except Exception as exc:
        # The row is committed and queued: the sweeper publishes again after
        # QUEUED_STALE_SECONDS, so a broker outage delays the attempt but never loses it.
        logger.error("attempt %s: could not publish the task (%s)", attempt_id, type(exc).__name__)
        return type(exc).__name__
    return None


def enqueue_on_commit(
    attempt_id: UUID,
    countdown: float | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> None:
    """:func:`enqueue` once the current transaction commits; ``on_failure(error_class)`` is
    called if the publish fails (a failure of the hook itself is logged, never raised)."""

    def publish() -> None:
        error = enqueue(attempt_id, countdown)
        if error is not None and on_failure is not None:
            try:
                on_failure(error)
            except Exception as exc:
                logger.error(
                    "attempt %s: could not record the failed publish (%s)",
                    attempt_id,
                    type(exc).__name__,
                )

    transaction.on_commit(publish)
