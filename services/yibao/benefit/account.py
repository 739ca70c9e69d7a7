"""Step 6–7: personal account, then cash (DOMAIN.md §4.6–4.7).

Why the account comes last: it only pays the person's own part (what no fund paid), up to
its balance; the caller decides whose account (the patient's or a bound relative's) and
whether the person asked for it, and passes ``None`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from yibao.benefit import explain
from yibao.benefit.inputs import AccountState, Explanation
from yibao.money import ZERO, Fen


@dataclass(frozen=True)
class AccountOutcome:
    account: Fen
    cash: Fen
    explanations: tuple[Explanation, ...]


def pay_personal_part(account: AccountState | None, personal_part: Fen) -> AccountOutcome:
    """Split the personal part into account and cash; personal_part = account + cash."""
    notes: list[Explanation] = []
    paid = ZERO
    if account is not None:
        balance = Fen(max(0, account.balance))
        paid = Fen(min(balance, personal_part))
        whose = "patient's own account" if account.holder_is_patient else "family sharing: bound relative's account"
        rule = (
            "employee.personal_account"
            if account.holder_is_patient
            else "employee.personal_account.family_sharing_relations"
        )
        notes.append(
            explain.entry(
                "personal_account",
                rule,
                f"{whose}: min(balance {explain.yuan(balance)}, personal part "
                f"{explain.yuan(personal_part)}) = {explain.yuan(paid)}",
            )
        )
    cash = Fen(personal_part - paid)
    notes.append(
        explain.entry(
            "cash",
            "settlement.cash",
            f"personal part {explain.yuan(personal_part)} − account {explain.yuan(paid)} = {explain.yuan(cash)}",
        )
    )
    return AccountOutcome(account=paid, cash=cash, explanations=tuple(notes))
