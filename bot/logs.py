"""Logging set-up with a filter that keeps tokens, signing secrets and AWS keys out of logs,
and every record on one line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Slack tokens (xoxb-, xoxp-, xapp-, xoxe-...), AWS access key ids and secret-looking values.
TOKEN_PATTERNS = [
    re.compile(r"xox[abpers]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    # response_urls (hooks.slack.com/commands/… or /actions/…; the stand-in's /response/…)
    # let whoever holds them answer as the bot for half an hour.
    re.compile(r"https?://[^\s'\"/]+/(?:commands|actions|response)/[^\s'\",]+"),
    re.compile(
        r"(?i)(aws_secret_access_key|signing_secret|client_secret)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",]+"
    ),
]
REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Rewrites every record so that known secret values and token shapes never get out."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in TOKEN_PATTERNS:
            text = pattern.sub(
                lambda m: (m.group(1) + m.group(2) + REDACTED) if m.lastindex else REDACTED, text
            )
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        # A CR or LF from outside (a request body, a user's text) must not start a line of
        # its own: it could forge a log line. Tracebacks keep their lines.
        record.msg = self.redact(message).replace("\r", "\\r").replace("\n", "\\n")
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = ()) -> RedactSecrets:
    """Logs to stderr through the redacting filter; returns the filter."""
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "urllib3", "werkzeug", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "Task queue depth is N" on every burst: noise that costs the ack path time.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return redactor
