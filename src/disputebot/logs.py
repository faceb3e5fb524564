"""Logging that cannot print a secret: every record is scrubbed of the configured secrets.

Records also carry what is being handled: the Telegram handler binds the update and chat ids
for the duration of an update, the service binds the case id once it files one
(``log_context`` / ``bind_case``). ``ContextFilter`` copies them onto every record; the text
format appends ``update=… case=…``, the JSON format writes one object per line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

# Bot tokens look like "123456789:AA…"; hide them even if the settings never named them.
_TOKEN = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b")
REDACTED = "[redacted]"

LogFormat = Literal["text", "json"]
CONTEXT_FIELDS = ("update_id", "case_id", "chat_id")

LogId = str | int

_update_id: ContextVar[LogId | None] = ContextVar("disputebot_update_id", default=None)
_case_id: ContextVar[LogId | None] = ContextVar("disputebot_case_id", default=None)
_chat_id: ContextVar[LogId | None] = ContextVar("disputebot_chat_id", default=None)
_VARS = {"update_id": _update_id, "case_id": _case_id, "chat_id": _chat_id}


@contextmanager
def log_context(**ids: LogId | None) -> Iterator[None]:
    """Bind ``update_id``, ``chat_id`` or ``case_id`` (``None`` clears one) until the block
    ends; then restore what was bound before."""
    unknown = set(ids) - set(_VARS)
    if unknown:
        raise TypeError(f"unknown log context fields: {', '.join(sorted(unknown))}")
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind_case(case_id: str | None) -> None:
    """Name the case the current update is about, for the rest of the enclosing context."""
    _case_id.set(case_id)


def current_context() -> dict[str, LogId | None]:
    return {name: var.get() for name, var in _VARS.items()}


class ContextFilter(logging.Filter):
    """Copies the bound ids onto every record (``record.update_id`` and so on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_context().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.scrub(value))
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message update=… case=…`` (the ids only when bound)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        for label, name in (("update", "update_id"), ("case", "case_id")):
            value = getattr(record, name, None)
            if value is not None:
                line += f" {label}={value}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, and ``exc`` if any.

    Exception text comes from ``record.exc_text``, which ``RedactingFilter`` has scrubbed.
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for name in CONTEXT_FIELDS:
            entry[name] = getattr(record, name, None)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def make_handler(
    secrets: Iterable[str], log_format: LogFormat = "text", stream: Any = None
) -> logging.Handler:
    """A stderr handler (or ``stream``) that binds the context and redacts, in either format."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(secrets))
    return handler


def setup_logging(level: str, secrets: Iterable[str], log_format: LogFormat = "text") -> None:
    handler = make_handler(secrets, log_format)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every migration step at INFO; its warnings still show.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
