"""One person, one ID (#14.3): an ID number is normalised (Unicode NFKC, every decimal digit to its
ASCII digit, a lower-case x to X) before any check, lookup or storage, so the fullwidth or
Arabic-Indic spelling of a registered number is the same person everywhere an ID arrives."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.builders import idem, line, make_bill, make_person, new_id_number, register_person
from yibao.errors import InvalidIdNumber
from yibao.people.id_number import normalise, parse

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


def spellings(idn: str) -> list[str]:
    """Other ways a keyboard, a phone or a copy-paste writes the same number."""
    return [
        idn.translate(FULLWIDTH),
        idn.translate(ARABIC_INDIC),
        idn.translate(DEVANAGARI),
        idn[:9].translate(FULLWIDTH) + idn[9:],  # mixed
    ]


# ---------------------------------------------------------------- the normaliser


def test_normalise_maps_every_decimal_digit_and_x() -> None:
    assert normalise("４３０５２２１９９００１０１１２３5") == "430522199001011235"
    assert normalise("٤٣٠٥٢٢١٩٩٠٠١٠١١٢٣٥") == "430522199001011235"
    assert normalise(" 11010519491231002x ") == "11010519491231002X"
    assert normalise("11010519491231002ｘ") == "11010519491231002X"


@pytest.mark.parametrize(
    "raw",
    [
        "4305221990010112３5\u200b",  # a zero-width space
        "430522199001011235\u0301",  # a combining accent
        "43052219900101123５5",  # 19 characters
        "⑷30522199001011235",  # NFKC makes "(4)": not a digit
        "43052219900101123Y",
        "",
    ],
)
def test_anything_else_is_not_an_id_number(raw: str) -> None:
    with pytest.raises(InvalidIdNumber):
        parse(raw)


def test_superscripts_are_digits_after_nfkc_but_the_checksum_still_decides() -> None:
    idn = "430522199001011235"
    assert parse(idn.replace("1", "¹")).id_number == idn


# ---------------------------------------------------------------- through the API


@pytest.mark.parametrize("which", range(4), ids=["fullwidth", "arabic-indic", "devanagari", "mixed"])
async def test_the_same_number_spelled_otherwise_is_the_same_person(client, admin_headers, which: int) -> None:
    # given: a registered person
    idn = await register_person(client, admin_headers)
    other = spellings(idn)[which]
    # when: a clerk registers the same number spelled otherwise
    r = await client.post(
        "/api/v1/persons", json={"id_number": other, "name": "再登记", "region": "430522"}, headers=admin_headers
    )
    # then: refused as the same person, and the spelling finds the one person
    assert r.status_code == 409 and code(r) == "DUPLICATE", r.text
    found = await client.get(f"/api/v1/persons/{other}", headers=admin_headers)
    assert found.status_code == 200 and found.json()["id_number"] == idn, found.text


async def test_a_fullwidth_id_is_stored_in_ascii(client, admin_headers) -> None:
    idn = new_id_number()
    r = await client.post(
        "/api/v1/persons",
        json={"id_number": idn.translate(FULLWIDTH), "name": "全角", "region": "430522"},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["id_number"] == idn, r.text
    assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).status_code == 200


async def test_every_path_an_id_arrives_by_normalises_it(client, admin_headers, hospital) -> None:
    """Enrolment, group tag, account credit, filing, family binding, premium payment, settlement
    (patient and account payer), preview: the fullwidth spelling reaches the registered person."""
    # given: an employee with an account and a spouse, both registered in ASCII
    holder = await make_person(client, admin_headers, scheme="employee", account="100.00")
    spouse = await register_person(client, admin_headers)
    wide, spouse_wide = holder.translate(FULLWIDTH), spouse.translate(FULLWIDTH)
    # when / then: every path takes the fullwidth spelling as the same person
    r = await client.post(
        "/api/v1/enrolments",
        json={"id_number": spouse_wide, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["id_number"] == spouse, r.text
    r = await client.post(
        f"/api/v1/persons/{spouse_wide}/groups",
        json={"group": "marginal", "valid_from": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["id_number"] == spouse, r.text
    r = await client.post(
        f"/api/v1/accounts/{wide}/credits",
        json={"amount": "1.00", "reference": secrets.token_hex(6)},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["id_number"] == holder, r.text
    r = await client.post(
        "/api/v1/filings",
        json={"id_number": wide, "to_region": "430100", "valid_from": "2026-02-01", "valid_to": "2026-02-28"},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["id_number"] == holder, r.text
    r = await client.post(
        "/api/v1/family-bindings",
        json={"holder_id_number": wide, "relative_id_number": spouse_wide, "relation": "spouse"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["holder_id_number"], r.json()["relative_id_number"]) == (holder, spouse)
    r = await client.post(
        "/api/v1/premiums/payments",
        json={
            "id_number": spouse_wide,
            "year": 2026,
            "channel": "bank",
            "reference": secrets.token_hex(8),
            "amount": "240.00",
            "paid_on": "2025-10-15",
        },
        headers=admin_headers,
    )  # whatever the premium rules answer, it is about the registered spouse
    assert r.status_code not in (400, 404) or r.json()["error"]["code"] not in ("INVALID_ID_NUMBER", "PERSON_NOT_FOUND")
    bill = make_bill(spouse_wide, [line("S-BLRT", "1", "20.00")], use_personal_account=True)
    bill["account_payer_id_number"] = wide
    preview = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    assert preview.status_code == 200, preview.text
    settled = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert settled.status_code == 201, settled.text
    assert settled.json()["totals"]["personal_account"] == preview.json()["totals"]["personal_account"] != "0.00"
    assert settled.json()["id_number"] == spouse[:10] + "******" + spouse[16:]


async def test_an_employer_line_with_a_fullwidth_id_is_the_registered_person(client, admin_headers) -> None:
    from yibao.employers.credit_code import make as make_code

    # given: a registered person and an employer
    idn = await register_person(client, admin_headers)
    employer = make_code(f"91430522MA4L{secrets.randbelow(10**5):05d}")
    r = await client.post(
        "/api/v1/employers", json={"code": employer, "name": "全角测试厂", "region": "430522"}, headers=admin_headers
    )
    assert r.status_code in (200, 201), r.text
    # when: a month posted with the fullwidth spelling
    r = await client.post(
        f"/api/v1/employers/{employer}/contributions",
        json={"month": "2026-02", "lines": [{"id_number": idn.translate(FULLWIDTH), "base": "5000.00"}]},
        headers=admin_headers,
    )
    # then: the registered person's line
    assert r.status_code == 201, r.text
    assert [ln["id_number"] for ln in r.json()["lines"]] == [idn]
