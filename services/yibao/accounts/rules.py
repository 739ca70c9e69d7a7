"""The personal account after its holder's death (issue #16 item 3): the balance becomes
inheritable and the account pays nothing dated after the death — no bill with a later service
date (the holder's own bills are refused whole; a relative's bill under family sharing may not
draw on it) and no premium paid after the death (for anyone, any year)."""

from __future__ import annotations

from datetime import date

from yibao.errors import PersonDeceased


def refuse_after_death(death_date: date | None, on: date, what: str) -> None:
    """``PERSON_DECEASED`` when the account's holder died before ``on`` (the charge's date)."""
    if death_date is not None and on > death_date:
        raise PersonDeceased(
            f"账户持有人已于 {death_date} 死亡，个人账户余额待继承，不能支付 "
            f"the account holder died on {death_date}: the account pays no {what} dated {on}; "
            "its balance is inheritable"
        )
