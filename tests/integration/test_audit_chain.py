"""The audit chain verifies when untouched and names the first edited, removed or forged entry.

The application cannot change the log (a trigger refuses UPDATE, DELETE and TRUNCATE), so every
tampering here is done as an attacker with DDL rights would: in a transaction that disables the
trigger, edits rows and is rolled back. ``verify`` reads the tampered rows through that same
session, and the shared log of the run stays intact for every other test."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.audit import anchors, chain
from yibao.audit.orm import AuditRow


async def _append(sessionmaker, n: int, tag: str, detail: dict[str, Any] | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        async with sessionmaker() as s, s.begin():
            row = await audit.record(
                s,
                audit.Actor("staff", "alice"),
                "test.action",
                ("thing", f"{tag}-{i}"),
                detail if detail is not None else {"i": i, "note": "审核"},
            )
            ids.append(row.id)
    return ids


async def _verify(sessionmaker, **kw: Any) -> audit.Verification:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await audit.verify(s, **kw)


@asynccontextmanager
async def attacker(sessionmaker) -> AsyncIterator[AsyncSession]:  # type: ignore[no-untyped-def]
    """A session of someone with DDL rights on the database (but not the server's secrets):
    the table's triggers are off inside it, and everything it did is rolled back afterwards."""
    async with sessionmaker() as s:
        await s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        try:
            yield s
        finally:
            await s.rollback()


def _unkeyed_hash(prev_hash: str, row: AuditRow) -> str:
    """What the log used before it was keyed: anyone can compute it."""
    canonical = orjson.dumps(
        [
            prev_hash,
            row.at.astimezone(UTC).isoformat(),
            row.actor_kind,
            row.actor,
            row.action,
            row.subject_type,
            row.subject_id,
            row.detail,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


async def test_an_untouched_chain_verifies(sessionmaker) -> None:
    # given five more entries
    before = (await _verify(sessionmaker)).checked
    await _append(sessionmaker, 5, "plain")
    # then the whole chain verifies, five entries longer
    done = await _verify(sessionmaker)
    assert done.broken is None and done.checked == before + 5


@pytest.mark.parametrize(
    "detail",
    [
        {"x": 1e16},
        {"x": 1e20},
        {"x": -1.5e300, "y": 5e-324, "z": 0.1 + 0.2},
        {"x": 2**70, "y": -(2**64), "z": 1.0, "w": -0.0},
        {"params": {"nested": [1e16, {"b": 1e17, "a": 12345678901234567890.0}], "ok": True, "none": None}},
    ],
    ids=["1e16", "1e20", "extremes", "big-ints", "nested"],
)
async def test_numbers_the_json_column_rewrites_still_verify(sessionmaker, detail: dict[str, Any]) -> None:
    """JSONB keeps a number's value, not its spelling: 1e16 comes back as the integer
    10000000000000000, 1e20 as an integer beyond 64 bits. Nothing was edited, so the chain
    must verify (and verify must not crash)."""
    # given an entry whose detail carries such numbers
    before = (await _verify(sessionmaker)).checked
    await _append(sessionmaker, 1, "numbers", detail)
    # then the chain verifies, one entry longer
    done = await _verify(sessionmaker)
    assert done.broken is None and done.checked == before + 1, done.broken


async def test_a_job_with_a_large_float_parameter_keeps_the_chain_intact(client, admin_headers, sessionmaker) -> None:
    """The issue's reproduction: a job parameter ``1e16`` once made ``yibao audit verify`` report
    the request's audit entry as edited."""
    # given a job request carrying 1e16 in its params (accepted or refused, whatever the kind's rules)
    body = b'{"kind": "monthly_reconcile", "params": {"submission_id": "none-1e16", "x": 1e16}}'
    r = await client.post("/api/v1/jobs", content=body, headers={**admin_headers, "Content-Type": "application/json"})
    assert r.status_code < 500, r.text
    # then the chain verifies
    assert (await _verify(sessionmaker)).broken is None


async def test_the_application_cannot_update_delete_or_truncate_the_log(sessionmaker) -> None:
    # given an entry
    [entry] = await _append(sessionmaker, 1, "append-only")
    statements = {
        "update": update(AuditRow).where(AuditRow.id == entry).values(actor="mallory"),
        "delete": delete(AuditRow).where(AuditRow.id == entry),
        "truncate": text("TRUNCATE audit_log"),
    }
    for name, statement in statements.items():
        # when the application's own connection tries to change it
        async with sessionmaker() as s:
            try:
                with pytest.raises(DBAPIError, match="append-only"):
                    await s.execute(statement)
            finally:
                await s.rollback()
        # then the database refuses, and the entry is as it was
        async with sessionmaker() as s:
            assert await s.scalar(select(AuditRow.actor).where(AuditRow.id == entry)) == "alice", name


async def test_an_edited_entry_is_named(sessionmaker) -> None:
    # given five entries
    ids = await _append(sessionmaker, 5, "edit")
    async with attacker(sessionmaker) as s:
        # when the third is edited
        await s.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(actor="mallory"))
        broken = (await audit.verify(s)).broken
        # then verify names it as edited
        assert broken is not None and broken.entry_id == ids[2] and "edited" in broken.reason
    assert (await _verify(sessionmaker)).broken is None


async def test_a_removed_entry_breaks_the_next_link(sessionmaker) -> None:
    # given five entries
    ids = await _append(sessionmaker, 5, "remove")
    async with attacker(sessionmaker) as s:
        # when the fourth is deleted
        await s.execute(delete(AuditRow).where(AuditRow.id == ids[3]))
        broken = (await audit.verify(s)).broken
        # then the fifth, whose predecessor vanished, is named
        assert broken is not None and broken.entry_id == ids[4] and "removed" in broken.reason
    assert (await _verify(sessionmaker)).broken is None


async def _rechain(s: AsyncSession, first: int, make_hash: Any, until: int | None = None, **values: Any) -> None:
    """Rewrite every entry from ``first`` on (before ``until``) so each links to its (new) predecessor."""
    prev = await s.scalar(select(AuditRow.hash).where(AuditRow.id < first).order_by(AuditRow.id.desc()).limit(1))
    prev = prev or "0" * 64
    rows = select(AuditRow).where(AuditRow.id >= first, AuditRow.id < (until or 2**62)).order_by(AuditRow.id)
    for row in (await s.scalars(rows)).all():
        new_hash = make_hash(prev, row)
        await s.execute(update(AuditRow).where(AuditRow.id == row.id).values(prev_hash=prev, hash=new_hash, **values))
        prev = new_hash
    s.expire_all()


async def _has_column(s: AsyncSession, column: str) -> bool:
    found = await s.scalar(
        text("SELECT 1 FROM information_schema.columns WHERE table_name = 'audit_log' AND column_name = :c"),
        {"c": column},
    )
    return found is not None


async def test_a_forged_entry_is_named_although_every_later_hash_was_recomputed(sessionmaker) -> None:
    """Someone who can write the table but does not hold the server's audit secret edits an
    entry and recomputes every later link, unkeyed (and, where the log knows formats, marks
    the rewritten rows as the old unkeyed format): verify still names the edited entry."""
    # given five entries
    ids = await _append(sessionmaker, 5, "forge")
    async with attacker(sessionmaker) as s:
        # when the third entry's detail is rewritten and the chain re-linked from there on
        await s.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(detail={"i": 2, "note": "改过"}))
        s.expire_all()
        legacy = {"hash_version": 1} if await _has_column(s, "hash_version") else {}
        await _rechain(s, ids[2], _unkeyed_hash, **legacy)
        broken = (await audit.verify(s)).broken
        # then verify names the third entry
        assert broken is not None and broken.entry_id == ids[2], broken
    assert (await _verify(sessionmaker)).broken is None


async def test_concurrent_appends_never_fork(sessionmaker) -> None:
    # given the chain as it stands
    before = (await _verify(sessionmaker)).checked
    # when six writers append three entries each at the same time
    written = await asyncio.gather(*(_append(sessionmaker, 3, f"c{k}") for k in range(6)))
    # then all 18 are in one unbroken chain, and no two entries share a predecessor
    done = await _verify(sessionmaker)
    checked, broken = done.checked, done.broken
    async with sessionmaker() as s:
        prevs = (await s.scalars(select(AuditRow.prev_hash))).all()
    assert broken is None and checked == before + 18
    assert len({i for ids in written for i in ids}) == 18
    assert len(prevs) == len(set(prevs))


async def test_a_forged_entry_in_the_keyed_format_is_named(sessionmaker) -> None:
    """The same forgery, keeping the keyed format but with a key other than the server's."""
    ids = await _append(sessionmaker, 3, "forge-keyed")
    wrong_key = b"not-the-server-audit-key-but-32-bytes-long"

    def hmac_with_wrong_key(prev: str, row: AuditRow) -> str:
        return chain.keyed_hash(
            wrong_key,
            prev,
            row.at,
            audit.Actor(row.actor_kind, row.actor),
            row.action,
            (row.subject_type, row.subject_id),
            row.detail,
        )

    async with attacker(sessionmaker) as s:
        await s.execute(update(AuditRow).where(AuditRow.id == ids[1]).values(actor="mallory"))
        s.expire_all()
        await _rechain(s, ids[1], hmac_with_wrong_key)
        broken = (await audit.verify(s)).broken
        assert broken is not None and broken.entry_id == ids[1] and "audit key" in broken.reason


@pytest.mark.parametrize(
    "edit",
    [
        {"detail": text("'[1, 2]'::jsonb")},
        {"detail": text("'{\"x\": 1e400}'::jsonb")},
        {"detail": text("'\"just a string\"'::jsonb")},
        {"hash_version": 7},
    ],
    ids=["array", "huge-number", "scalar", "unknown-format"],
)
async def test_verify_never_crashes_on_what_it_reads(sessionmaker, edit: dict[str, Any]) -> None:
    # given an entry rewritten into something the application never writes
    [entry] = await _append(sessionmaker, 1, "odd")
    async with attacker(sessionmaker) as s:
        await s.execute(update(AuditRow).where(AuditRow.id == entry).values(**edit))
        s.expire_all()
        # then verify answers, naming that entry
        broken = (await audit.verify(s)).broken
        assert broken is not None and broken.entry_id == entry, broken


async def _anchor(sessionmaker, key: bytes) -> anchors.Anchor:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await anchors.take(s, key)


async def test_a_removed_tail_is_found_by_an_anchor(sessionmaker, settings) -> None:
    """Deleting the newest entries leaves a shorter chain that is valid link by link: only a head
    recorded outside the database (an anchor) shows that entries are missing."""
    # given three entries, the head anchored, then two more
    key = settings.audit_key()
    ids = await _append(sessionmaker, 3, "tail")
    anchor = await _anchor(sessionmaker, key)
    assert anchor.entry_id == ids[-1]
    await _append(sessionmaker, 2, "tail-after")
    assert (await _verify(sessionmaker, anchors=[anchor])).broken is None
    async with attacker(sessionmaker) as s:
        # when the last three entries (the anchored one among them) are deleted
        await s.execute(delete(AuditRow).where(AuditRow.id >= ids[-1]))
        # then the remaining chain is valid link by link, but the anchor names the missing entry
        assert (await audit.verify(s)).broken is None
        broken = (await audit.verify(s, anchors=[anchor])).broken
        assert broken is not None and broken.entry_id == ids[-1] and "truncated" in broken.reason


async def test_an_anchor_not_signed_with_the_audit_key_is_refused(sessionmaker, settings) -> None:
    anchor = await _anchor(sessionmaker, settings.audit_key())
    forged = anchors.Anchor(anchor.entry_id + 1000, anchor.hash, anchor.at, anchor.mac)
    broken = (await _verify(sessionmaker, anchors=[forged])).broken
    assert broken is not None and "not signed" in broken.reason


def test_anchors_round_trip_through_their_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = b"k" * 32
    written = [anchors.sign(key, n, "ab" * 32, datetime(2026, 12, 3, 1, n, tzinfo=UTC)) for n in (1, 2)]
    for anchor in written:
        anchors.append(tmp_path / "a" / "anchors.jsonl", anchor)
    assert anchors.read(tmp_path / "a" / "anchors.jsonl") == written
    assert all(anchors.signed_by(key, a) for a in written)
    (tmp_path / "bad.jsonl").write_text("not an anchor\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        anchors.read(tmp_path / "bad.jsonl")


async def test_entries_from_before_the_keyed_chain_verify_and_are_sealed(settings) -> None:  # type: ignore[no-untyped-def]
    """A database upgraded from 0008: its entries (unkeyed, one of them with the 1e16 job
    parameter that once broke verify) verify by the old rule; the first keyed entry seals them."""
    import json
    import secrets as pysecrets

    import asyncpg

    from tests.conftest import BASE_PG
    from yibao.db import admin
    from yibao.db.engine import make_engine, make_sessionmaker

    url = f"{BASE_PG}/yibao_legacy_{pysecrets.token_hex(4)}"
    await admin.create_database(url)
    try:
        await asyncio.to_thread(admin.upgrade, url, "0008")
        # given three entries written the old way (the hash over the float as sent, JSONB keeping its value)
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            prev = "0" * 64
            for i, detail in enumerate([{"kind": "daily_settle", "params": {"x": 1e16}}, {"i": 1}, {"n": 2**40}]):
                at = datetime(2026, 11, 30, 8, i, tzinfo=UTC)
                fields = [prev, at.isoformat(), "staff", "li", "job.requested", "job_run", str(i), detail]
                digest = hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()
                await conn.execute(
                    "INSERT INTO audit_log (at, actor_kind, actor, action, subject_type, subject_id, detail,"
                    " prev_hash, hash) VALUES ($1, 'staff', 'li', 'job.requested', 'job_run', $2, $3::jsonb, $4, $5)",
                    at,
                    str(i),
                    json.dumps(detail),
                    prev,
                    digest,
                )
                prev = digest
        finally:
            await conn.close()
        await asyncio.to_thread(admin.upgrade, url, "head")
        engine = make_engine(settings.model_copy(update={"database_url": url}), pool_size=1)
        sessions = make_sessionmaker(engine)
        key = settings.audit_key()
        try:
            # then they verify, counted as the old format
            async with sessions() as s:
                done = await audit.verify(s, key=key)
            assert (done.checked, done.legacy, done.broken) == (3, 3, None), done
            # and after one keyed entry, which seals them
            async with sessions() as s, s.begin():
                await audit.record(s, audit.Actor("staff", "li"), "test.action", ("thing", "x"), {"y": 1e16}, key=key)
            async with sessions() as s:
                done = await audit.verify(s, key=key)
            assert (done.checked, done.legacy, done.broken) == (4, 3, None), done
            # when an old entry is edited and the old entries re-linked by the old (public) rule
            async with attacker(sessions) as s:
                first = await s.scalar(select(func.min(AuditRow.id)))
                await s.execute(update(AuditRow).where(AuditRow.id == first + 1).values(actor="mallory"))
                s.expire_all()
                keyed = await s.scalar(select(AuditRow.id).where(AuditRow.hash_version == 2))
                await _rechain(s, first, _unkeyed_hash, until=keyed)
                # then the keyed entry no longer links to them: the rewrite is found at the seal
                broken = (await audit.verify(s, key=key)).broken
                assert broken is not None and broken.entry_id == keyed, broken
        finally:
            await engine.dispose()
    finally:
        await admin.drop_database(url)


async def test_cli_verify_and_anchor(settings, sessionmaker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from tools.cli import main
    from yibao.config import get_settings

    def cli(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        try:
            done = CliRunner().invoke(main, list(args), env={"DATABASE_URL": settings.database_url})
        finally:
            get_settings.cache_clear()
        return done.exit_code, done.output

    anchor_file = tmp_path / "anchors.jsonl"
    await _append(sessionmaker, 1, "cli")
    # an anchor written and printed, then checked by verify
    code, out = await asyncio.to_thread(cli, "audit", "anchor", "--file", str(anchor_file))
    assert code == 0 and out.strip().splitlines()[-1] == anchor_file.read_text().strip(), out
    code, out = await asyncio.to_thread(cli, "audit", "verify", "--anchors", str(anchor_file))
    assert code == 0 and "audit chain intact" in out and "1 anchors checked" in out, out
    # a damaged anchor file is a clear error, not a traceback
    anchor_file.write_text("garbage\n")
    code, out = await asyncio.to_thread(cli, "audit", "verify", "--anchors", str(anchor_file))
    assert code == 1 and "not an audit anchor" in out, out


async def test_the_scheduler_anchors_the_head_and_survives_an_unwritable_file(
    sessionmaker, settings, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from settlement.schedule import anchor_audit_chain
    from yibao.config import get_settings

    [entry] = await _append(sessionmaker, 1, "nightly")
    target = tmp_path / "anchors.jsonl"
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a directory should be")
    try:
        monkeypatch.setenv("AUDIT_ANCHOR_FILE", str(target))
        get_settings.cache_clear()
        assert await anchor_audit_chain(sessionmaker) == entry
        [anchor] = anchors.read(target)
        assert anchor.entry_id == entry and anchors.signed_by(settings.audit_key(), anchor)
        assert (await _verify(sessionmaker, anchors=[anchor])).broken is None
        monkeypatch.setenv("AUDIT_ANCHOR_FILE", str(blocked / "anchors.jsonl"))
        get_settings.cache_clear()
        assert await anchor_audit_chain(sessionmaker) == -1  # logged, not raised
    finally:
        get_settings.cache_clear()
