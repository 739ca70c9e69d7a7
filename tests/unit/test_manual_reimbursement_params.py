"""Policy ``manual_reimbursement``: tiers as data, and the older single key still read."""

from __future__ import annotations

import json

import pytest

from yibao.config import REPO_ROOT
from yibao.money import Fen
from yibao.policy.params import ManualReimbursementParams, PolicyParams


def test_the_2026_policy_tiers_below_10000_one_from_10000_two_from_50000_three() -> None:
    doc = json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text(encoding="utf-8"))
    params = PolicyParams.parse(doc).manual_reimbursement
    assert [params.approvals_for(Fen(f)) for f in (0, 999_999, 1_000_000, 4_999_999, 5_000_000)] == [1, 1, 2, 2, 3]
    assert (params.due_working_days, params.claim_limit_years, params.admin_step) == (5, 2, 3)
    # the older key says the same as the section's second tier
    assert params.approval_tiers[1].from_amount == Fen(1_000_000)


def test_a_policy_with_only_the_older_key_has_two_tiers() -> None:
    params = ManualReimbursementParams.parse({"manual_reimbursement_second_approval_from": "8000.00"})
    assert [params.approvals_for(Fen(f)) for f in (799_999, 800_000, 9_000_000)] == [1, 2, 2]


def test_tiers_are_sorted_and_must_need_an_approval() -> None:
    params = ManualReimbursementParams.parse(
        {
            "manual_reimbursement": {
                "approval_tiers": [{"from": "100.00", "approvals": 2}, {"from": "0", "approvals": 1}]
            }
        }
    )
    assert [params.approvals_for(Fen(f)) for f in (9_999, 10_000)] == [1, 2]
    with pytest.raises(ValueError):
        ManualReimbursementParams.parse({"manual_reimbursement": {"approval_tiers": [{"from": "0", "approvals": 0}]}})
