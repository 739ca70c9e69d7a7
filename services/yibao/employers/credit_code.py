"""Unified social credit codes (统一社会信用代码, GB 32100-2015): charset and check character.

Why check here: the code is the employer's key for every monthly posting and for the
personal-account credit references; a mistyped code would register a second employer whose
postings never meet the first one's, so a wrong check character is refused at the door.
"""

from __future__ import annotations

from yibao.errors import InvalidRequest

#: 31 characters: digits and capitals without I, O, Z, S, V
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_char(first17: str) -> str:
    """The 18th character for the first 17 (MOD 31)."""
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def parse(raw: str) -> str:
    """The normalised code (upper case); raises ``InvalidRequest`` saying what is wrong."""
    value = (raw or "").strip().upper()
    if len(value) != 18 or any(c not in CHARSET for c in value):
        raise InvalidRequest(
            "统一社会信用代码须为18位（数字及除I/O/Z/S/V外的大写字母） unified social credit code must be "
            "18 characters from 0-9 and A-Y without I, O, Z, S, V"
        )
    if check_char(value[:17]) != value[17]:
        raise InvalidRequest("统一社会信用代码校验位错误 unified social credit code check character does not match")
    return value


def make(first17: str) -> str:
    """Complete 17 characters with their check character (tests and the simulator use it)."""
    return first17 + check_char(first17)
