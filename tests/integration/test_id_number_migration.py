"""Migration 0010 (one spelling per ID number): stored numbers written otherwise are normalised
when no one else holds the number, and the upgrade stops, naming the people, when two records
are one number spelled twice (a clerk decides which is the person; nothing is merged)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

from tests.conftest import BASE_PG
from yibao.db import admin
from yibao.people.id_number import make

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
def at_0008() -> Iterator[str]:
    """A database of its own at the revision before this one."""
    url = f"{BASE_PG}/yibao_migr0010_{secrets.token_hex(4)}"
    asyncio.run(admin.create_database(url))
    try:
        admin.upgrade(url, "0008")
        yield url
    finally:
        asyncio.run(admin.drop_database(url))


def _sql(url: str, statement: str, *args: object) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


def _person(url: str, stored: str) -> int:
    rows = _sql(
        url,
        "INSERT INTO persons (id_number, name, region, birth_date, gender) "
        "VALUES ($1, 'x', '430522', '1990-01-01', 'M') RETURNING id",
        stored,
    )
    return int(rows[0]["id"])


def test_a_number_spelled_otherwise_is_stored_in_ascii(at_0008: str) -> None:
    # given: two people registered before 0010, one in fullwidth, one in Arabic-Indic digits
    a, b = make("43052219900101001"), make("43052219900101002")
    pa, pb = _person(at_0008, a.translate(FULLWIDTH)), _person(at_0008, b.translate(ARABIC_INDIC))
    plain = _person(at_0008, make("43052219900101003"))
    # when
    admin.upgrade(at_0008, "0010")
    # then: each stored in the one spelling, the plain one untouched
    stored = {r["id"]: r["id_number"] for r in _sql(at_0008, "SELECT id, id_number FROM persons")}
    assert stored == {pa: a, pb: b, plain: make("43052219900101003")}
    admin.downgrade(at_0008, "0008")  # a working downgrade (changes nothing)
    assert {r["id"]: r["id_number"] for r in _sql(at_0008, "SELECT id, id_number FROM persons")} == stored


def test_two_records_of_one_number_stop_the_upgrade_and_are_named(at_0008: str) -> None:
    # given: the same number registered three times (ASCII, fullwidth, Arabic-Indic) and once more
    # a number twice, both spelled otherwise
    n, m = make("43052219800517001"), make("43052219800517002")
    first, second, third = (
        _person(at_0008, n),
        _person(at_0008, n.translate(FULLWIDTH)),
        _person(at_0008, n.translate(ARABIC_INDIC)),
    )
    fourth, fifth = _person(at_0008, m.translate(FULLWIDTH)), _person(at_0008, m.translate(ARABIC_INDIC))
    # when
    with pytest.raises(RuntimeError) as raised:
        admin.upgrade(at_0008, "0010")
    # then: every group named by person id and masked number, nothing changed, still at 0008
    message = str(raised.value)
    assert f"{n[:10]}******{n[16:]}: persons.id {first}, {second}, {third}" in message
    assert f"{m[:10]}******{m[16:]}: persons.id {fourth}, {fifth}" in message
    assert n not in message and m not in message  # full numbers are not logged
    assert _sql(at_0008, "SELECT version_num FROM alembic_version")[0]["version_num"] == "0008"
    assert _sql(at_0008, "SELECT id_number FROM persons WHERE id = $1", second)[0]["id_number"] == n.translate(
        FULLWIDTH
    )
    # and once a clerk resolved them (here: the extra records removed), the upgrade goes through
    _sql(at_0008, "DELETE FROM persons WHERE id = ANY($1::bigint[])", [second, third, fifth])
    admin.upgrade(at_0008, "0010")
    stored = {r["id"]: r["id_number"] for r in _sql(at_0008, "SELECT id, id_number FROM persons")}
    assert stored == {first: n, fourth: m}
