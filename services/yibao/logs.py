"""Logging that never prints a full resident ID number or a secret."""

from __future__ import annotations

import logging
import re

from yibao.people.id_number import mask

_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_SECRET = re.compile(r"\b(ybk|ybs)_[A-Za-z0-9_\-]{8,}")


def scrub(text: str) -> str:
    text = _ID.sub(lambda m: mask(m.group(0)), text)
    return _SECRET.sub(lambda m: m.group(1) + "_***", text)


class ScrubFilter(logging.Filter):
    """Masks ID numbers and credentials in every record, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubFilter())


def scrub_existing_handlers() -> None:
    """For processes whose logging someone else set up (the Dramatiq CLI)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubFilter())
