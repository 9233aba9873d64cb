"""AWS errors in words: the code and AWS's own message, for audit records and people.

What people see names the code and, for a refusal, the missing permission; never a principal's
ARN, an account id or AWS's encoded authorization message. Those go to the log, in full.
"""

from __future__ import annotations

import logging
import re

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

AUTHORIZATION_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "AuthFailure",
    }
)
_PERMISSION = re.compile(r"perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)")
_ARN = re.compile(r"arn:aws[a-z-]*:[^\s,;'\"]*")
_ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
_ENCODED = re.compile(r"\s*Encoded authorization failure message:.*", re.DOTALL)


def error_code(error: BaseException) -> str:
    """``ThrottlingException``, ``UnauthorizedOperation``...; "" for anything but a ClientError."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def explain(error: BaseException) -> str:
    """``Code: Message`` for an AWS error, the error's own text (or its type) otherwise.

    A refusal reads ``Code: costbot's AWS role lacks ec2:StopInstances``; ARNs and account ids
    in any message are left out of the text, and the whole message is logged instead.
    """
    if not isinstance(error, ClientError):
        return str(error) or type(error).__name__
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    shown = _for_people(code, message)
    if shown != message:
        logger.warning("AWS error %s: %s", code, message)
    return f"{code}: {shown}".rstrip(": ")


def aws_words(message: str) -> str:
    """Words AWS wrote outside an error (an endpoint's ``FailureReason``, a status reason),
    fit for people: ARNs and account ids left out, the whole text logged instead."""
    shown = _for_people("", message)
    if shown != message:
        logger.warning("AWS said: %s", message)
    return shown


def _for_people(code: str, message: str) -> str:
    if code in AUTHORIZATION_CODES:
        permission = _PERMISSION.search(message)
        if permission:
            return f"costbot's AWS role lacks {permission.group(1)}"
        return "costbot's AWS role lacks a permission this call needs"
    message = _ENCODED.sub("", message)
    return _ACCOUNT_ID.sub("[account]", _ARN.sub("[arn]", message))
