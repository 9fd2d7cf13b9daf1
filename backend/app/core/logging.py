"""Structured JSON logs (structlog over the standard library) with secrets masked.

Every line carries the request id. Keys that name a secret are replaced, and anything in a
message that looks like a card number (13–19 digits passing the Luhn check) is masked, so a
careless log call cannot leak a password, token, PAN, CVV or TOTP secret.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from flask import g, has_request_context
from structlog.typing import EventDict, Processor, WrappedLogger

SENSITIVE_KEYS = re.compile(
    r"(pass(word)?|secret|token|authorization|cookie|pan|cvv|cvc|pin|otp|totp|"
    r"document_number|credentials?|api_key|private_key)",
    re.IGNORECASE,
)
_PAN_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9\-_.=]+", re.IGNORECASE)
REDACTED = "[REDACTED]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_text(text: str) -> str:
    """Mask PAN-looking numbers and bearer tokens inside free text."""

    def _pan(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"
        return match.group(0)

    return _BEARER.sub(r"\1" + REDACTED, _PAN_CANDIDATE.sub(_pan, text))


def mask_value(key: str, value: Any) -> Any:
    if isinstance(key, str) and SENSITIVE_KEYS.search(key):
        return REDACTED
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value("", v) for v in value]
    return value


def _mask_processor(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    return {
        key: (
            mask_text(value)
            if key == "event" and isinstance(value, str)
            else mask_value(key, value)
        )
        for key, value in event_dict.items()
    }


def _request_id_processor(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    if has_request_context():
        event_dict.setdefault("request_id", getattr(g, "request_id", None))
    return event_dict


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route stdlib and structlog records through one JSON renderer with masking."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _request_id_processor,
        structlog.stdlib.ExtraAdder(),
    ]
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _mask_processor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("flowlet")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "flowlet"]
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
