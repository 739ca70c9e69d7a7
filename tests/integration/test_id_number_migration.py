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
def before_0010() -> Iterator[str]:
    """A database of its own at the revision before this one."""
    url = f"{BASE_PG}/yibao_migr0010_{secrets.token_hex(4)}"
    asyncio.run(admin.create_database(url))
    try:
        admin.upgrade(url, "0010-1")  # Alembic's relative form: the revision just before 0010
        yield url
    finally:
        asyncio.run(admin.drop_database(url))


def _previous(revision: str) -> str:
    """The revision a migration follows (the chain is relinked as branches land)."""
    from alembic.script import ScriptDirectory

    from yibao.db.admin import alembic_config

    down = ScriptDirectory.from_config(alembic_config(BASE_PG)).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


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


def test_a_number_spelled_otherwise_is_stored_in_ascii(before_0010: str) -> None:
    # given: two people registered before 0010, one in fullwidth, one in Arabic-Indic digits
    a, b = make("43052219900101001"), make("43052219900101002")
    pa, pb = _person(before_0010, a.translate(FULLWIDTH)), _person(before_0010, b.translate(ARABIC_INDIC))
    plain = _person(before_0010, make("43052219900101003"))
    # when
    admin.upgrade(before_0010, "0010")
    # then: each stored in the one spelling, the plain one untouched
    stored = {r["id"]: r["id_number"] for r in _sql(before_0010, "SELECT id, id_number FROM persons")}
    assert stored == {pa: a, pb: b, plain: make("43052219900101003")}
    admin.downgrade(before_0010, "0010-1")  # a working downgrade (changes nothing)
    assert {r["id"]: r["id_number"] for r in _sql(before_0010, "SELECT id, id_number FROM persons")} == stored


def test_two_records_of_one_number_stop_the_upgrade_and_are_named(before_0010: str) -> None:
    # given: the same number registered three times (ASCII, fullwidth, Arabic-Indic) and once more
    # a number twice, both spelled otherwise
    n, m = make("43052219800517001"), make("43052219800517002")
    first, second, third = (
        _person(before_0010, n),
        _person(before_0010, n.translate(FULLWIDTH)),
        _person(before_0010, n.translate(ARABIC_INDIC)),
    )
    fourth, fifth = _person(before_0010, m.translate(FULLWIDTH)), _person(before_0010, m.translate(ARABIC_INDIC))
    # when
    with pytest.raises(RuntimeError) as raised:
        admin.upgrade(before_0010, "0010")
    # then: every group named by person id and masked number, nothing changed, still before 0010
    message = str(raised.value)
    assert f"{n[:10]}******{n[16:]}: persons.id {first}, {second}, {third}" in message
    assert f"{m[:10]}******{m[16:]}: persons.id {fourth}, {fifth}" in message
    assert n not in message and m not in message  # full numbers are not logged
    assert _sql(before_0010, "SELECT version_num FROM alembic_version")[0]["version_num"] == _previous("0010")
    assert _sql(before_0010, "SELECT id_number FROM persons WHERE id = $1", second)[0]["id_number"] == n.translate(
        FULLWIDTH
    )
    # and once a clerk resolved them (here: the extra records removed), the upgrade goes through
    _sql(before_0010, "DELETE FROM persons WHERE id = ANY($1::bigint[])", [second, third, fifth])
    admin.upgrade(before_0010, "0010")
    stored = {r["id"]: r["id_number"] for r in _sql(before_0010, "SELECT id, id_number FROM persons")}
    assert stored == {first: n, fourth: m}
