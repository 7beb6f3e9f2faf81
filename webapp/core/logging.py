"""Keep secrets out of the logs, whatever a library decides to print."""
from __future__ import annotations

import logging
import re

# Query or form parameters and headers that carry credentials in Meta's and our own traffic.
_SECRET_PARAMS = re.compile(
    r"(?i)\b(access_token|client_secret|fb_exchange_token|input_token|appsecret_proof|code|password|"
    r"hub\.verify_token)=([^&\s\"']+)"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._\-|]+")


def redact(text: str) -> str:
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=[redacted]", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} [redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction(logger: logging.Logger) -> None:
    """Filter on the logger and on each of its handlers (records from child loggers skip logger filters)."""
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
