"""AWS errors in words: the code and AWS's own message, for audit records and people."""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(error: BaseException) -> str:
    """``ThrottlingException``, ``UnauthorizedOperation``...; "" for anything but a ClientError."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def explain(error: BaseException) -> str:
    """``Code: Message`` for an AWS error, the error's own text (or its type) otherwise."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        return f"{error_code(error)}: {message}".rstrip(": ")
    return str(error) or type(error).__name__
