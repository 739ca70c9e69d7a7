"""GB 11643 resident ID numbers: normalising, checksum, birth date, gender, masking.

Why derive instead of asking: the ID carries the birth date and gender, and a typed-in
birth date that disagrees with it is a classic source of age-restriction fraud.

Why normalise first: one person, one number. A keyboard, a phone or a copy-paste writes the same
number in fullwidth digits (``４３０５…``), Arabic-Indic or other scripts' digits, or with a
lower-case ``x``; compared as typed, each spelling was a new person. :func:`normalise` is the one
place an ID's spelling is decided, and :func:`parse` (every lookup, every registration, every
path an ID arrives by) goes through it before any check or storage.
"""

from __future__ import annotations

import operator
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from yibao.errors import InvalidIdNumber

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


_DIGIT = {str(d): d for d in range(10)}


def check_char(first17: str) -> str:
    """The 18th character for the first 17 digits (ISO 7064 MOD 11-2). Called for every row of a
    100,000-row feed, hence ``map`` over a digit table rather than a generator of ``int()``."""
    if len(first17) != len(_WEIGHTS):
        raise ValueError(f"17 digits expected, not {len(first17)}")
    try:
        return _CHECK[sum(map(operator.mul, map(_DIGIT.__getitem__, first17), _WEIGHTS)) % 11]
    except KeyError:
        raise ValueError(f"not a digit in {first17!r}") from None


@dataclass(frozen=True)
class ParsedId:
    id_number: str
    region: str
    birth_date: date
    gender: Literal["M", "F"]


_MALFORMED = "身份证号须为18位 ID number must be 17 digits and a digit or X"
#: longer input is no ID however it is spelled (18 characters, some white space around them)
_LONGEST = 64


def normalise(raw: str) -> str:
    """The one spelling of an ID number: Unicode NFKC (fullwidth ``４`` → ``4``, ``ｘ`` → ``x``),
    surrounding white space dropped, every decimal digit of any script as its ASCII digit, ``x`` as
    ``X``. Anything else (a letter, a zero-width space, a combining mark) is ``InvalidIdNumber``:
    nothing is silently dropped, so two different inputs never become one number by accident."""
    if len(raw or "") > _LONGEST:
        raise InvalidIdNumber(_MALFORMED)
    if raw.isascii():  # the usual spelling: NFKC changes no ASCII text, only digits and x/X may stay
        plain = raw.strip()
        if plain.rstrip("xX").isdigit() or not plain:
            return plain.replace("x", "X")
    out = []
    for ch in unicodedata.normalize("NFKC", raw or "").strip():
        if ch in "xX":
            out.append("X")
            continue
        digit = unicodedata.decimal(ch, None)
        if digit is None:
            raise InvalidIdNumber(_MALFORMED)
        out.append(str(digit))
    return "".join(out)


def parse(raw: str) -> ParsedId:
    """Normalise, validate and decode an 18-character ID; raises ``InvalidIdNumber`` with the reason."""
    value = normalise(raw)
    if len(value) != 18 or "X" in value[:17]:
        raise InvalidIdNumber(_MALFORMED)
    if check_char(value[:17]) != value[17]:
        raise InvalidIdNumber("身份证号校验位错误 ID number checksum does not match")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber("身份证号出生日期无效 ID number has an invalid birth date") from exc
    if born.year < 1880:
        raise InvalidIdNumber("身份证号出生日期无效 ID number has an invalid birth date")
    gender: Literal["M", "F"] = "M" if int(value[16]) % 2 == 1 else "F"
    return ParsedId(id_number=value, region=value[:6], birth_date=born, gender=gender)


def mask(id_number: str) -> str:
    """Keep the region+birth year prefix and the last two: ``4305221990******35``."""
    if len(id_number) != 18:
        return "*" * len(id_number)
    return id_number[:10] + "******" + id_number[16:]


def make(first17: str) -> str:
    """Complete 17 digits with their check character (builders and simulators use it)."""
    return first17 + check_char(first17)
