"""How the API reads request bodies: JSON and multipart only, sizes capped before and while
reading, duplicate fields refused, one file part only (``image``).

The upload limit is ``UPLOAD_MAX_BYTES``, read through :func:`face_idcard._images.limits_for` as
the services read it. A body announced larger (``Content-Length``) is refused before a byte of
it is read; a file that grows past the limit while streaming (a lying or absent length) is
refused at the chunk that crosses it.
Files go to a temporary file past Django's ``FILE_UPLOAD_MAX_MEMORY_SIZE``, never whole into
memory while they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import IO, Any

from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers
from rest_framework.request import Request

from .._images import limits_for
from .errors import PayloadTooLarge

#: Room for the multipart boundaries, headers and text fields around the photo.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
#: A JSON request has only short text fields (the photo comes by url): 64 KB is plenty.
JSON_MAX_BYTES = 64 * 1024


def upload_max_bytes() -> int:
    """The site's upload cap, from the one place that builds the image limits."""
    return limits_for().max_input_bytes


def body_limit(content_type: str) -> int:
    if content_type.lower().startswith("multipart/"):
        return upload_max_bytes() + MULTIPART_OVERHEAD_BYTES
    return JSON_MAX_BYTES


def check_content_length(request: HttpRequest | Request) -> None:
    """:class:`PayloadTooLarge` when the announced body is over the limit (nothing read yet)."""
    announced = request.META.get("CONTENT_LENGTH") or ""
    try:
        length = int(announced) if announced else 0
    except ValueError:
        raise exceptions.ParseError() from None
    if length < 0:
        raise exceptions.ParseError()
    if length > body_limit(str(request.META.get("CONTENT_TYPE") or "")):
        raise PayloadTooLarge()


#: The one file part the API takes.
FILE_FIELD = "image"


class CappedUploadHandler(FileUploadHandler):
    """First of the upload handlers: refuses a file part not named ``image`` and a second
    file part before reading a byte of them (400), passes each chunk on, and stops the upload
    with 413 as soon as the file is over the limit (whatever ``Content-Length`` said)."""

    def __init__(self, request: HttpRequest | None = None, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = upload_max_bytes() if max_bytes is None else max_bytes
        self.received = 0
        self.files = 0

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != FILE_FIELD:
            raise exceptions.ParseError(
                _("Only one file is accepted: the photo, in the field image."),
                code="unexpected_file",
            )
        self.files += 1
        if self.files > 1:
            raise exceptions.ParseError(
                _("A field appears more than once."), code="duplicate_field"
            )
        super().new_file(field_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise PayloadTooLarge()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def install_upload_handlers(request: HttpRequest) -> None:
    """Capped, then Django's memory (small files) and temporary-file handlers."""
    request.upload_handlers = [
        CappedUploadHandler(request),
        MemoryFileUploadHandler(request),
        TemporaryFileUploadHandler(request),
    ]


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _value in pairs]
    if len(names) != len(set(names)):
        raise exceptions.ParseError(_("A field appears more than once."), code="duplicate_field")
    return dict(pairs)


class StrictJSONParser(parsers.JSONParser):
    """A JSON object, with no key twice, no NaN or Infinity."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return {}
        try:
            data = json.loads(
                stream.read().decode("utf-8"),
                object_pairs_hook=_refuse_duplicates,
                parse_constant=_refuse_constant,
            )
        except exceptions.ParseError:
            raise
        except (ValueError, RecursionError):
            raise exceptions.ParseError() from None
        if not isinstance(data, dict):
            raise exceptions.ParseError(
                _("The request body must be a JSON object."), code="not_object"
            )
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def refuse_duplicate_form_fields(data: Any) -> None:
    """A multipart field sent twice is refused: which one would count is a guess."""
    getlist = getattr(data, "getlist", None)
    lists = getattr(data, "lists", None)
    if getlist is None or lists is None:
        return
    for _name, values in lists():
        if len(values) > 1:
            raise exceptions.ParseError(
                _("A field appears more than once."), code="duplicate_field"
            )


def refuse_undeclared_query(query: Any, declared: Collection[str]) -> None:
    """400 for a query parameter the operation does not declare (the schema lists each
    operation's), or one sent twice: a misspelt filter must not silently list everything."""
    errors: dict[str, list[exceptions.ErrorDetail]] = {}
    for name, values in query.lists():
        if name not in declared:
            message, code = _("This query parameter is not accepted here."), "unknown_parameter"
        elif len(values) > 1:
            message, code = _("A field appears more than once."), "duplicate_field"
        else:
            continue
        errors[name] = [exceptions.ErrorDetail(str(message), code=code)]
    if errors:
        raise exceptions.ValidationError(errors)
