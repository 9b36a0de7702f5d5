"""A small, strict multipart/form-data reader for the simulator (no cgi, no email parser).

Accepts text fields as plain parts (``name="appid"``) and as file-like parts
(``name="appid"; filename="appid"`` with no Content-Type), as Tencent's own Python SDK sends
them, and a trailing ``;`` after the disposition as in the API page's example.
"""

from __future__ import annotations

import re

__all__ = ["MultipartError", "boundary_of", "parse_form_data"]

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


def _params(header_value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in _PARAM.findall(header_value):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key.lower()] = value
    return params


def boundary_of(content_type: str) -> str:
    boundary = _params(content_type).get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise MultipartError("multipart body without a usable boundary")
    return boundary


def parse_form_data(body: bytes, content_type: str) -> dict[str, bytes]:
    """Field name -> raw bytes of its value (the first part wins if a name repeats)."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise MultipartError("multipart body without parts")
    fields: dict[str, bytes] = {}
    closed = False
    # chunks[0] is the preamble; a chunk starting with b"--" is the close delimiter.
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            closed = True
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
            if not sep:
                raise MultipartError("multipart part without a header block")
        # The part ends with the line break that precedes the next delimiter.
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        name = _part_name(head)
        if name is None:
            raise MultipartError("multipart part without a form-data name")
        fields.setdefault(name, content)
    if not closed:
        raise MultipartError("multipart body is not terminated")
    return fields


def _part_name(head: bytes) -> str | None:
    for line in head.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "content-disposition":
            return _params(value).get("name")
    return None
