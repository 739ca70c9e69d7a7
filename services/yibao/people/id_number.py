"""GB 11643 resident ID numbers: checksum, birth date, gender, masking.

Why derive instead of asking: the ID carries the birth date and gender, and a typed-in
birth date that disagrees with it is a classic source of age-restriction fraud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from yibao.errors import InvalidIdNumber

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_char(first17: str) -> str:
    """The 18th character for the first 17 digits (ISO 7064 MOD 11-2)."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class ParsedId:
    id_number: str
    region: str
    birth_date: date
    gender: Literal["M", "F"]


def parse(raw: str) -> ParsedId:
    """Validate and decode an 18-character ID; raises ``InvalidIdNumber`` with the reason."""
    value = (raw or "").strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidIdNumber("身份证号须为18位 ID number must be 17 digits and a digit or X")
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
