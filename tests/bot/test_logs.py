"""Tokens, signing secrets and AWS keys never reach the logs."""

import logging

from bot.logs import RedactSecrets


def _emit(redactor, message, *args):
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)
    redactor.filter(record)
    return record.getMessage()


def test_known_secrets_and_token_shapes_are_redacted():
    redactor = RedactSecrets(["my-signing-secret-123"])
    line = _emit(
        redactor,
        "token=%s secret=%s key=%s app=%s",
        "xoxb-123-456-abcdef",
        "my-signing-secret-123",
        "AKIAABCDEFGHIJKLMNOP",
        "xapp-1-A0-99-zz",
    )
    assert "xoxb-123" not in line
    assert "my-signing-secret-123" not in line
    assert "AKIAABCDEFGHIJKLMNOP" not in line
    assert "xapp-1" not in line
    assert line.count("[redacted]") == 4


def test_secret_assignments_in_text_are_redacted():
    line = _emit(RedactSecrets(), "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG")
    assert "wJalrXUtnFEMI" not in line and "aws_secret_access_key" in line


def test_exception_text_is_redacted():
    redactor = RedactSecrets(["hunter22-secret"])
    try:
        raise RuntimeError("failed with hunter22-secret")
    except RuntimeError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    redactor.filter(record)
    assert "hunter22-secret" not in record.exc_text


def test_response_urls_are_redacted():
    url = "https://hooks.slack.com/commands/T0001/123456/AbCdEfGhIjKl"
    line = _emit(RedactSecrets(), "Sending a request - url: %s, body: {}", url)
    assert "AbCdEfGhIjKl" not in line and "[redacted]" in line
    line = _emit(RedactSecrets(), "url: http://127.0.0.1:5000/response/VP5-XKZ, body: {}")
    assert "VP5-XKZ" not in line
