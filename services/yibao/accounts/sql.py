"""The personal-account SQL of the settle and cancel statements: the account's part, written once.

``yibao.accounts`` is the one module that moves ``personal_accounts`` and ``account_movements``.
The settle path cannot call a service function for its debit without a round trip of its own
(the debit is one CTE of the single statement that records a settlement), so the statements of
``yibao.bill_settlement.sql`` take the account's locks and fragments from here instead of
writing these tables themselves.

Rules the fragments keep, as ``service.debit`` / ``service.reverse`` do: the row is locked
(``LOCK``, in the caller's fixed order: person-year first, then the account) before it moves;
a debit never takes the balance below 0 (the caller computed it from the locked balance, and
the ``balance_nonneg`` check refuses anything else); every move of the balance has its movement.
"""

from __future__ import annotations

from yibao.db.statements import Statement

#: the balance as committed (a preview locks nothing)
BALANCE = Statement("SELECT balance FROM personal_accounts WHERE person_id = :person_id")
#: lock the account row and read its balance
LOCK = Statement("SELECT balance FROM personal_accounts WHERE person_id = :person_id FOR UPDATE")
#: a person's balance as a scalar subquery of a host statement (``{person}``: the host's person
#: id expression); NULL without an account
BALANCE_OF = "(SELECT balance FROM personal_accounts WHERE person_id = {person})"

#: The settlement's account debit and its movement, as two CTEs of the settle statement.
#: The host statement has a CTE ``settlement`` returning the new settlement's ``id``, and the
#: parameters ``:account_debit`` (fen, ≥ 0; 0 moves nothing) and ``:account_payer_person_id``.
SETTLEMENT_DEBIT = """debited AS (
        UPDATE personal_accounts SET balance = balance - :account_debit, updated_at = now()
        WHERE person_id = :account_payer_person_id AND :account_debit <> 0
        RETURNING person_id
    ), movement AS (
        INSERT INTO account_movements (person_id, amount, kind, reference, settlement_id)
        SELECT debited.person_id, -:account_debit, 'settlement', 'settlement:' || settlement.id, settlement.id
        FROM debited, settlement
    )"""

#: The cancel's reversal of that debit and its movement, as two CTEs of the cancel statement.
#: The host statement has a CTE ``cancelled`` returning the cancelled settlement's ``id``,
#: ``account_payer_person_id`` and ``personal_account`` (what the account paid; 0 moves nothing).
SETTLEMENT_REVERSAL = """refunded AS (
        UPDATE personal_accounts a SET balance = a.balance + c.personal_account, updated_at = now()
        FROM cancelled c
        WHERE a.person_id = c.account_payer_person_id AND c.personal_account <> 0
        RETURNING a.person_id, c.id AS settlement_id, c.personal_account AS amount
    ), refund_movement AS (
        INSERT INTO account_movements (person_id, amount, kind, reference, settlement_id)
        SELECT person_id, amount, 'cancel', 'cancel:' || settlement_id, settlement_id
        FROM refunded
    )"""
