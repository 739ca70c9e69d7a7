"""Logging that never prints a full resident ID number or a credential.

One scrubber, applied twice over so nothing slips past it:

* every log record is scrubbed when it is made (a record factory), whoever logs it and
  whichever handler prints it, including handlers set up later (uvicorn's, Dramatiq's);
* ``ScrubFilter`` sits on every handler that exists when ``install`` runs (and can be named
  in a ``dictConfig``), for records made by code that bypasses the factory.

Scrubbed are the message (format and arguments), the traceback (``exc_text``) and the stack
(``stack_info``). Masked: every credential format the product issues (institution keys
``ybk_``, bootstrap staff tokens ``ybs_``, member tokens ``ybm_``, activation codes ``yba_``,
JWTs: staff access tokens and member QR codes), whatever follows ``Bearer``, a value assigned
to a ``*SECRET*``/``password`` name, and 18-character ID numbers (as the product masks them:
``4305221990******35``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from yibao.people.id_number import mask

#: 18-character resident ID numbers, not inside a longer run of letters or digits (a hex digest)
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
#: the product's prefixed credentials: institution keys, bootstrap staff tokens, member tokens, activation codes
PREFIXED = re.compile(r"\b(ybk|ybs|ybm|yba)_[A-Za-z0-9_\-]{6,}")
#: JWTs: staff access tokens and member QR codes (header.payload.signature)
JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{6,}(?:\.[A-Za-z0-9_\-]*){0,2}")
#: whatever a caller sent as a bearer credential
BEARER = re.compile(r"\b(Bearer\s+)[^\s\"',;]+", re.IGNORECASE)
#: a secret setting or a password written as name=value / name: value
ASSIGNED = re.compile(r"\b(\w*(?:secret|password)\w*[\"']?\s*[=:]\s*[\"']?)[^\s\"',;}]+", re.IGNORECASE)


def scrub(text: str) -> str:
    text = BEARER.sub(lambda m: m.group(1) + "***", text)
    text = ASSIGNED.sub(lambda m: m.group(1) + "***", text)
    text = PREFIXED.sub(lambda m: m.group(1) + "_***", text)
    text = JWT.sub("eyJ***", text)
    return ID_NUMBER.sub(lambda m: mask(m.group(0)), text)


_exceptions = logging.Formatter()


def scrub_record(record: logging.LogRecord) -> None:
    """Mask the record's message, traceback and stack in place (idempotent)."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format: let the handler report it as logging does
        return
    cleaned = scrub(message)
    if cleaned != message:
        _scrub_message(record, cleaned)
    if record.exc_info and not record.exc_text:
        record.exc_text = _exceptions.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def _scrub_message(record: logging.LogRecord, cleaned: str) -> None:
    """Keep the arguments when scrubbing them one by one is enough (uvicorn's access formatter
    unpacks them); otherwise the message becomes the scrubbed text."""
    if isinstance(record.args, tuple) and record.args:
        original = record.msg, record.args
        record.msg = scrub(str(record.msg))
        record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        try:
            if record.getMessage() == cleaned:
                return
        except Exception:
            pass
        record.msg, record.args = original
    record.msg, record.args = cleaned, None


class ScrubFilter(logging.Filter):
    """Masks ID numbers and credentials in every record, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_FILTER = ScrubFilter()
_installed_factory: Callable[..., logging.LogRecord] | None = None


def _scrubbing_factory(base: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        scrub_record(record)
        return record

    return make


def install() -> None:
    """Scrub every record from now on, and put the filter on every handler there is now
    (the root's, uvicorn's, Dramatiq's …). Safe to call more than once."""
    global _installed_factory
    if logging.getLogRecordFactory() is not _installed_factory:
        _installed_factory = _scrubbing_factory(logging.getLogRecordFactory())
        logging.setLogRecordFactory(_installed_factory)
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, ScrubFilter) for f in handler.filters):
                handler.addFilter(_FILTER)


def configure(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install()


def scrub_existing_handlers() -> None:
    """For processes whose logging someone else set up (the Dramatiq CLI)."""
    install()
