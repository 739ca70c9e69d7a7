"""Special groups as policy data (issue #16 item 1, DOMAIN §8): the default policy ships seed
001's groups, a region's policy may give a group another amount, and a code that is no group
of the region's policy is refused with the valid ones.

Quotes (``GET /premiums/due``) write nothing; each test tags its own people, and the region with
its own amounts is this module's alone (4397xx, loaded through the product's policy loader).
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import httpx
import pytest

from tests.builders import register_person
from yibao.config import REPO_ROOT
from yibao.policy.params import PolicyParams

DEFAULT_DOC: dict[str, Any] = json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text("utf-8"))
_regions = itertools.count(1)


async def tag(client: httpx.AsyncClient, admin: dict[str, str], idn: str, group: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/persons/{idn}/groups", json={"group": group, "valid_from": "2025-09-01"}, headers=admin
    )


async def tagged(client: httpx.AsyncClient, admin: dict[str, str], *groups: str, region: str = "430522") -> str:
    idn = await register_person(client, admin, region=region)
    for g in groups:
        r = await tag(client, admin, idn, g)
        assert r.status_code == 201, r.text
    return idn


async def quote(client: httpx.AsyncClient, admin: dict[str, str], idn: str, paid_on: str) -> dict[str, Any]:
    r = await client.get(
        "/api/v1/premiums/due", params={"id_number": idn, "year": 2026, "paid_on": paid_on}, headers=admin
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def groups_only(doc: dict[str, Any]) -> dict[str, Any]:
    """A policy whose groups live in ``groups`` alone (the older group sections removed)."""
    doc = copy.deepcopy(doc)
    res = doc["resident"]
    del res["subsidy"]
    del res["waiting"]["exempt_groups"]
    del res["critical_illness"]["poor_groups"]
    del doc["medical_assistance"]
    return doc


@pytest.mark.parametrize(
    "group, due, subsidy_group",
    [
        ("de_facto_orphan", "0.00", "de_facto_orphan"),  # seed 001: fully subsidised
        ("special_care", "0.00", "special_care"),
        ("disability_3_4", "0.00", "disability_3_4"),
        ("sudden_hardship", "240.00", "sudden_hardship"),  # fixed 160.00
        ("low_income", "240.00", "low_income"),
        ("stable_poverty_exit", "400.00", None),  # no subsidy
        ("min_living", "240.00", "min_living"),  # one of today's six, unchanged
    ],
)
async def test_the_default_policy_ships_seed_001_groups(client, admin_headers, group, due, subsidy_group) -> None:
    # given: a resident of the home region tagged from 2025-09-01 (a quote reads the groups of the payment day)
    idn = await tagged(client, admin_headers, group)
    # when: the 2026 premium is quoted in the window
    q = await quote(client, admin_headers, idn, "2025-10-15")
    # then
    assert (q["due"], q["subsidy_group"]) == (due, subsidy_group)


async def test_subsidised_groups_skip_the_wait_and_the_unsubsidised_do_not(client, admin_headers) -> None:
    # given: one 事实无人抚养儿童, one 稳定脱贫户
    exempt = await tagged(client, admin_headers, "de_facto_orphan")
    waits = await tagged(client, admin_headers, "stable_poverty_exit")
    # when: both are quoted for a payment outside the window
    a = await quote(client, admin_headers, exempt, "2026-03-10")
    b = await quote(client, admin_headers, waits, "2026-03-10")
    # then: the subsidised group is covered from the payment, the other waits 3 months
    assert (a["coverage_start"], a["coverage_reason"]) == ("2026-03-10", "SPECIAL_GROUP")
    assert (b["coverage_start"], b["coverage_reason"]) == ("2026-06-10", "WAITING_OUTSIDE_WINDOW")


async def test_a_region_policy_gives_a_group_another_amount(client, admin_headers, sessionmaker) -> None:
    # given: a region whose policy (groups section only) subsidises 城乡低保户 with 200.00
    from yibao.reference.loader import load_policy

    region = f"4397{next(_regions):02d}"
    doc = groups_only(DEFAULT_DOC)
    doc.update(region=region, version=f"{region}-2026-groups-test")
    doc.pop("monitoring", None)
    for g in doc["groups"]:
        if g["code"] == "min_living":
            g["amount"] = "200.00"
    async with sessionmaker() as s, s.begin():
        assert await load_policy(s, doc)
    # and: one 低保 resident there, one 低保 and 农村低收入 (160.00) — the largest subsidy applies
    one = await tagged(client, admin_headers, "min_living", region=region)
    both = await tagged(client, admin_headers, "low_income", "min_living", region=region)
    home = await tagged(client, admin_headers, "min_living")
    # when
    q1, q2, q3 = [await quote(client, admin_headers, i, "2025-10-15") for i in (one, both, home)]
    # then
    assert (q1["subsidy"], q1["due"]) == ("200.00", "200.00")
    assert (q2["subsidy"], q2["due"], q2["subsidy_group"]) == ("200.00", "200.00", "min_living")
    assert (q3["subsidy"], q3["due"]) == ("160.00", "240.00")  # the home region keeps its 160.00


async def test_an_unknown_group_is_refused_with_the_valid_ones(client, admin_headers) -> None:
    # given
    idn = await register_person(client, admin_headers)
    # when
    r = await tag(client, admin_headers, idn, "vip")
    # then
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_GROUP", r.text
    message = r.json()["error"]["message"]
    assert "vip" in message and "min_living 城乡低保户" in message and "stable_poverty_exit" in message


# ---------------------------------------------------------------- the policy document


def test_the_groups_section_drives_subsidy_waiting_tilt_and_assistance() -> None:
    p = PolicyParams.parse(DEFAULT_DOC)
    assert len(p.groups) == 13 and p.groups["low_income"].name == "农村低收入人口 / 其他城市特殊困难群体"
    assert "de_facto_orphan" in p.premium.subsidy.full_groups
    assert "stable_poverty_exit" not in p.premium.waiting.exempt_groups
    assert p.resident.critical_illness is not None
    assert "sudden_hardship" in p.resident.critical_illness.poor_groups
    assert "low_income" not in p.resident.critical_illness.poor_groups
    assert p.assistance["low_income"].annual_limit == 6_000_000
    assert "special_care" not in p.assistance


def test_a_groups_only_policy_reads_the_same_as_the_default() -> None:
    full, lean = PolicyParams.parse(DEFAULT_DOC), PolicyParams.parse(groups_only(DEFAULT_DOC))
    assert (lean.groups, lean.premium, lean.assistance) == (full.groups, full.premium, full.assistance)
    assert lean.resident.critical_illness == full.resident.critical_illness


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda d: d["groups"][0].update(subsidy="half"), "subsidy must be one of"),
        (lambda d: d["groups"].append(dict(d["groups"][0])), "appears twice"),
        (lambda d: d["groups"][0].update(code="Bad Code"), "group code"),
        (lambda d: d["groups"][7].update(amount="0.00"), "positive amount"),
        (lambda d: d["groups"][0].update(amount="10.00"), "only a fixed subsidy"),
        (lambda d: d["groups"][7].update(amount="200.00"), "resident.subsidy.fixed[min_living] contradicts"),
        (lambda d: d["groups"][0].update(assistance=None), "medical_assistance.groups[destitute] contradicts"),
    ],
)
def test_a_bad_or_contradictory_groups_section_is_refused(change, complaint) -> None:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(DEFAULT_DOC)
    change(doc)
    with pytest.raises(ValueError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        PolicyParams.parse(doc)


# ---------------------------------------------------------------- ending a tag (核减)


async def test_an_ended_tag_no_longer_subsidises_the_next_quote(client, admin_headers) -> None:
    # given: a 低保 resident tagged from 2025-09-01, quoted 240.00 in the window
    idn = await tagged(client, admin_headers, "min_living")
    assert (await quote(client, admin_headers, idn, "2025-10-15"))["due"] == "240.00"
    (tag_row,) = (await client.get(f"/api/v1/persons/{idn}/groups", headers=admin_headers)).json()
    # when: civil affairs ends the tag on 2025-09-30
    r = await client.patch(
        f"/api/v1/persons/{idn}/groups/{tag_row['id']}", json={"valid_to": "2025-09-30"}, headers=admin_headers
    )
    # then: the tag is ended, the quote no longer subsidised, the change audited with before and after
    assert r.status_code == 200 and r.json()["valid_to"] == "2025-09-30", r.text
    assert (await quote(client, admin_headers, idn, "2025-10-15"))["due"] == "400.00"
    h = (await client.get(f"/api/v1/persons/{idn}/history", headers=admin_headers)).json()["entries"]
    assert h[-1]["action"] == "person.group_ended"
    assert (h[-1]["detail"]["before"], h[-1]["detail"]["after"]) == ({"valid_to": None}, {"valid_to": "2025-09-30"})


async def test_ending_a_tag_refuses_what_cannot_be(client, admin_headers) -> None:
    # given: two people, one tagged
    idn = await tagged(client, admin_headers, "marginal")
    other = await register_person(client, admin_headers)
    (tag_row,) = (await client.get(f"/api/v1/persons/{idn}/groups", headers=admin_headers)).json()
    url = f"/api/v1/persons/{idn}/groups/{tag_row['id']}"
    # then: an end before the start, another person's tag, an unknown tag
    r = await client.patch(url, json={"valid_to": "2025-08-31"}, headers=admin_headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST", r.text
    r = await client.patch(
        f"/api/v1/persons/{other}/groups/{tag_row['id']}", json={"valid_to": "2025-12-31"}, headers=admin_headers
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", r.text
    r = await client.patch(f"/api/v1/persons/{idn}/groups/0", json={"valid_to": "2025-12-31"}, headers=admin_headers)
    assert r.status_code == 400, r.text
    got = (await client.get(f"/api/v1/persons/{idn}/groups", headers=admin_headers)).json()
    assert got[0]["valid_to"] is None
