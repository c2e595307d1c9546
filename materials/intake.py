"""Receiving a scan: the body is refused as soon as it is known to be over the cap (its declared length,
else while it streams in), and its type is decided by its content, not by what the client calls it:
the first bytes must be one of the kinds a scan may be AND the kind the upload declared, so a PDF
named .jpg or a program named .png is refused before the rest of it is read."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import filetype
from starlette.requests import Request

from queue_server.api.problems import Problem

# Photos from a tablet's camera or a document camera (高拍仪), and scanned PDFs.
ALLOWED = ("image/jpeg", "image/png", "image/webp", "application/pdf")
SNIFF_BYTES = 262   # what filetype reads of a file's head


@dataclass(frozen=True)
class Received:
    data: bytes
    sha256: str
    media_type: str


def _unsupported(detail: str) -> Problem:
    return Problem(415, "Unsupported media type", detail,
                   errors=[{"field": "body", "message": f"must be one of {', '.join(ALLOWED)}"}])


def _check(head: bytes, declared: str) -> None:
    kind = filetype.guess(head)
    found = kind.mime if kind is not None else "unknown"
    if found not in ALLOWED:
        raise _unsupported(f"the content is {found}, not a scan ({', '.join(ALLOWED)})")
    if found != declared:
        raise _unsupported(f"the content is {found}, but it was sent as {declared}")


async def receive(request: Request, max_bytes: int) -> Received:
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared not in ALLOWED:
        raise _unsupported(f"send the scan as one of {', '.join(ALLOWED)} (Content-Type)")
    too_large = Problem(413, "Request too large", f"a scan is at most {max_bytes} bytes",
                        errors=[{"field": "body", "message": f"at most {max_bytes} bytes"}])
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise too_large
    data = bytearray()
    checked = False
    async for chunk in request.stream():
        if len(data) + len(chunk) > max_bytes:
            raise too_large
        data += chunk
        if not checked and len(data) >= SNIFF_BYTES:
            _check(bytes(data[:SNIFF_BYTES]), declared)
            checked = True
    if not data:
        raise Problem(422, "Invalid request", "the scan is empty", errors=[{"field": "body", "message": "empty"}])
    if not checked:
        _check(bytes(data), declared)
    body = bytes(data)
    return Received(body, hashlib.sha256(body).hexdigest(), declared)
