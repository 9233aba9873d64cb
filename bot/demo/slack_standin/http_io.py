"""The stand-in's HTTP plumbing: answers, request bodies, form and multipart parameters."""

from __future__ import annotations

import email.parser
import email.policy
import json
import mimetypes
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    """One HTTP answer of the stand-in."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def json_response(
    data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    return Response(status, json.dumps(data).encode(), headers=tuple(headers))


def text_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str | None, str, bytes]]:
    """Parse multipart/form-data into (field name, filename, content type, data) tuples."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: list[tuple[str, str | None, str, bytes]] = []
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True)  # bytes, or None for a nested multipart
        data = payload if isinstance(payload, bytes) else b""
        parts.append((str(name), part.get_filename(), part.get_content_type(), data))
    return parts


def sniff_mimetype(name: str, data: bytes, declared: str | None = None) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:5] == b"<?xml" and b"<svg" in data[:500] or data.lstrip()[:4] == b"<svg":
        return "image/svg+xml"
    guessed = mimetypes.guess_type(name)[0]
    if guessed:
        return guessed
    if declared and declared != "application/octet-stream":
        return declared
    return "application/octet-stream"


def read_body(environ: dict) -> bytes:
    """The request body, read once (kept in the environ for a second reader)."""
    if "_body" in environ:
        return environ["_body"]
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = stream.read(length) if stream is not None and length > 0 else b""
    environ["_body"] = body
    return body


def parse_params(environ: dict, body: bytes) -> dict[str, Any]:
    """Query string + body (form, JSON or multipart fields) as one dict."""
    params: dict[str, Any] = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
    ctype = environ.get("CONTENT_TYPE", "")
    if body:
        if "json" in ctype:
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("JSON body must be an object")
            params.update(data)
        elif ctype.startswith("multipart/form-data"):
            for name, filename, _ct, data in parse_multipart(body, ctype):
                params[name] = data if filename else data.decode("utf-8", "replace")
        else:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params
