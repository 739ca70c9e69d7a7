"""Revocable credentials: staff access tokens follow their account at once, bootstrap tokens
expire, are listed and revoked and give way to admin accounts, key ids reveal nothing of the
key, and a signed request's nonce is remembered whether Redis is up or not."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from click.testing import CliRunner
from redis.asyncio import Redis
from sqlalchemy import func, select, text, update

from yibao.auth import nonces
from yibao.auth.orm import RequestNonceRow, StaffTokenRow, StaffUserRow
from yibao.auth.signing import signed_headers
from yibao.db.statements import SessionDb

PASSWORD = "a-long-password-1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _account(client, admin_headers, role: str, prefix: str) -> str:  # type: ignore[no-untyped-def]
    name = f"{prefix}.{secrets.token_hex(3)}"
    r = await client.post(
        "/api/v1/staff",
        headers=admin_headers,
        json={"username": name, "display_name": name, "role": role, "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    return name


async def _token(client, username: str, password: str = PASSWORD) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


async def _two_admins(client, admin_headers) -> tuple[tuple[str, dict[str, str]], tuple[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Two admin accounts with a token each: the bootstrap token makes the first (and stops
    working then), the first makes the second."""
    first = await _account(client, admin_headers, "admin", "adm")
    first_token = await _token(client, first)
    second = await _account(client, first_token, "admin", "adm")
    return (first, first_token), (second, await _token(client, second))


@pytest_asyncio.fixture
async def no_admin_accounts_afterwards(sessionmaker) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """Tests here create admin accounts; while one is active, bootstrap tokens (the other tests'
    admin_headers) are refused. Whatever happens, none is left active."""
    try:
        yield
    finally:
        async with sessionmaker() as s, s.begin():
            await s.execute(update(StaffUserRow).where(StaffUserRow.role == "admin").values(active=False))


# ------------------------------------------------------------------ staff access tokens
async def test_a_deactivated_admins_token_is_refused_at_the_next_request(
    client, admin_headers, no_admin_accounts_afterwards
) -> None:
    # given two admin accounts, each logged in, and the first one's token in use
    (first, first_token), (_, second_token) = await _two_admins(client, admin_headers)
    assert (await client.get("/api/v1/staff", headers=first_token)).status_code == 200
    # when the second deactivates the first
    r = await client.patch(f"/api/v1/staff/{first}", headers=second_token, json={"active": False})
    assert r.status_code == 200, r.text
    # then the first one's token is refused at its very next request, for reads and for issuing keys
    listed = await client.get("/api/v1/staff", headers=first_token)
    issued = await client.post("/api/v1/institutions/H430522200/keys", headers=first_token)
    assert (listed.status_code, issued.status_code) == (401, 401), (listed.text, issued.text)
    assert listed.json()["error"]["code"] == "UNAUTHENTICATED"
    # and reactivating the account does not revive that token (a new login is needed)
    r = await client.patch(f"/api/v1/staff/{first}", headers=second_token, json={"active": True})
    assert r.status_code == 200
    assert (await client.get("/api/v1/staff", headers=first_token)).status_code == 401
    assert (await client.get("/api/v1/staff", headers=await _token(client, first))).status_code == 200


async def test_a_demoted_admins_token_is_refused_at_the_next_request(
    client, admin_headers, no_admin_accounts_afterwards
) -> None:
    # given two admins, logged in
    (first, first_token), (_, second_token) = await _two_admins(client, admin_headers)
    # when the first is demoted to clerk
    r = await client.patch(f"/api/v1/staff/{first}", headers=second_token, json={"role": "clerk"})
    assert r.status_code == 200 and r.json()["role"] == "clerk"
    # then the old token is refused everywhere (not merely re-roled); a new login is a clerk's
    assert (await client.post("/api/v1/institutions/H430522200/keys", headers=first_token)).status_code == 401
    assert (await client.get("/api/v1/jobs", headers=first_token)).status_code == 401
    clerk = await _token(client, first)
    assert (await client.get("/api/v1/jobs", headers=clerk)).status_code == 200
    assert (await client.get("/api/v1/staff", headers=clerk)).status_code == 403


async def test_password_change_reset_and_logout_revoke_the_tokens(client, admin_headers) -> None:
    name = await _account(client, admin_headers, "inspector", "insp")
    # a password change: the token that made it, and any other, stop working
    token, other = await _token(client, name), await _token(client, name)
    r = await client.post(
        "/api/v1/auth/password",
        headers=token,
        json={"current_password": PASSWORD, "new_password": "another-long-pw-2"},
    )
    assert r.status_code == 204
    assert [(await client.get("/api/v1/jobs", headers=t)).status_code for t in (token, other)] == [401, 401]
    # an admin's password reset: the same
    token = await _token(client, name, "another-long-pw-2")
    r = await client.patch(f"/api/v1/staff/{name}", headers=admin_headers, json={"password": "third-long-pw-3"})
    assert r.status_code == 200
    assert (await client.get("/api/v1/jobs", headers=token)).status_code == 401
    # logout: every token of the account
    token, other = await _token(client, name, "third-long-pw-3"), await _token(client, name, "third-long-pw-3")
    assert (await client.post("/api/v1/auth/logout", headers=token)).status_code == 204
    assert [(await client.get("/api/v1/jobs", headers=t)).status_code for t in (token, other)] == [401, 401]
    assert (await client.get("/api/v1/jobs", headers=await _token(client, name, "third-long-pw-3"))).status_code == 200


# ------------------------------------------------------------------ bootstrap tokens
async def _bootstrap(sessionmaker, role: str = "admin", hours: int | None = None) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import issue_staff_token

    async with sessionmaker() as s, s.begin():
        issued = await issue_staff_token(s, role, f"bootstrap-{secrets.token_hex(3)}", hours)
    return issued.id, bearer(issued.secret)


async def test_bootstrap_tokens_expire_after_24_hours_by_default(client, sessionmaker) -> None:
    # given a bootstrap token issued now
    token_id, token = await _bootstrap(sessionmaker)
    async with sessionmaker() as s:
        row = await s.get(StaffTokenRow, token_id)
        assert row is not None and row.expires_at - row.created_at == timedelta(hours=24)
    assert (await client.get("/api/v1/jobs", headers=token)).status_code == 200
    # when its expiry passes (moved into the past: the database's clock decides)
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(StaffTokenRow)
            .where(StaffTokenRow.id == token_id)
            .values(expires_at=func.now() - timedelta(seconds=1))
        )
    # then it is refused, saying why
    r = await client.get("/api/v1/jobs", headers=token)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


async def test_bootstrap_tokens_are_listed_and_revoked_through_the_api(client, admin_headers, sessionmaker) -> None:
    # given a clerk's bootstrap token in use
    token_id, token = await _bootstrap(sessionmaker, "clerk")
    assert (await client.get("/api/v1/jobs", headers=token)).status_code == 200
    # when an admin lists the tokens, then revokes that one
    listed = await client.get("/api/v1/staff-tokens", headers=admin_headers)
    revoked = await client.post(f"/api/v1/staff-tokens/{token_id}/revoke", headers=admin_headers)
    again = await client.post(f"/api/v1/staff-tokens/{token_id}/revoke", headers=admin_headers)
    # then the listing shows it (no secret) and the revocation takes effect at the next request
    assert listed.status_code == 200
    mine = next(t for t in listed.json() if t["id"] == token_id)
    assert mine["status"] == "active" and mine["role"] == "clerk" and "secret" not in mine and "token" not in mine
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_CANCELLED"
    assert (await client.get("/api/v1/jobs", headers=token)).status_code == 401
    assert (await client.post("/api/v1/staff-tokens/999999999/revoke", headers=admin_headers)).status_code == 404
    assert (await client.get("/api/v1/staff-tokens", headers=token)).status_code == 401


async def test_bootstrap_tokens_stop_once_an_admin_account_exists_unless_renewed(
    client, admin_headers, sessionmaker, no_admin_accounts_afterwards
) -> None:
    from yibao.auth.tokens import renew_staff_token

    # given two bootstrap tokens, one of them renewed on purpose (a service account)
    _, plain = await _bootstrap(sessionmaker)
    kept_id, kept = await _bootstrap(sessionmaker, "finance")
    async with sessionmaker() as s, s.begin():
        await renew_staff_token(s, kept_id, 48)
    assert (await client.get("/api/v1/jobs", headers=plain)).status_code == 200
    # when the first admin account is created (with a bootstrap token, as on a first start)
    admin = await _account(client, admin_headers, "admin", "first-admin")
    # then the plain bootstrap token is refused, saying why; the renewed one still works
    r = await client.get("/api/v1/jobs", headers=plain)
    assert r.status_code == 401 and "admin account" in r.json()["error"]["message"]
    assert (await client.get("/api/v1/jobs", headers=kept)).status_code == 200
    # and the admin account sees them so
    listed = (await client.get("/api/v1/staff-tokens", headers=await _token(client, admin))).json()
    assert next(t for t in listed if t["id"] == kept_id)["status"] == "active"
    assert {t["status"] for t in listed} >= {"superseded", "active"}


def _cli(settings, args: list[str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Run the ``yibao`` command line against this run's database."""
    from tools.cli import main
    from yibao.config import get_settings

    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(
            main, args, env={"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
        )
    finally:
        get_settings.cache_clear()
    return done.exit_code, done.output


async def test_cli_creates_lists_revokes_and_renews_bootstrap_tokens(client, settings) -> None:
    import asyncio

    # given a token made by `yibao tokens create`, its id on the first line and the secret on the last
    code, out = await asyncio.to_thread(_cli, settings, ["tokens", "create", "--role", "clerk", "--name", "cli-t"])
    assert code == 0, out
    token_id, secret = int(out.split()[2]), out.strip().splitlines()[-1]
    assert secret.startswith("ybs_")
    assert (await client.get("/api/v1/jobs", headers=bearer(secret))).status_code == 200
    # when it is listed, renewed and revoked from the command line
    code, listed = await asyncio.to_thread(_cli, settings, ["tokens", "list"])
    assert code == 0 and any(line.split()[:2] == [str(token_id), "active"] for line in listed.splitlines()), listed
    assert secret not in listed
    code, out = await asyncio.to_thread(_cli, settings, ["tokens", "renew", str(token_id), "--hours", "2"])
    assert code == 0 and "renewed" in out, out
    code, out = await asyncio.to_thread(_cli, settings, ["tokens", "revoke", str(token_id)])
    assert code == 0 and "revoked" in out, out
    # then it is refused, and revoking it again is a clear error (exit 1), not a traceback
    assert (await client.get("/api/v1/jobs", headers=bearer(secret))).status_code == 401
    code, out = await asyncio.to_thread(_cli, settings, ["tokens", "revoke", str(token_id)])
    assert code == 1 and "already revoked" in out, out


# ------------------------------------------------------------------ institution key ids
async def test_a_key_id_reveals_nothing_of_the_key(client, admin_headers, sessionmaker) -> None:
    # given a fresh key
    r = await client.post("/api/v1/institutions/H430522200/keys", headers=admin_headers)
    assert r.status_code == 201
    key_id, key = r.json()["key_id"], r.json()["key"]
    # then its id shares nothing with the secret, and is what the audit log and the listing show
    assert key_id.startswith("kid_") and len(key_id) == 16
    assert key_id[4:] not in key and key[4:12] not in key_id
    listed = (await client.get("/api/v1/institutions/H430522200/keys", headers=admin_headers)).json()
    assert key_id in [k["key_id"] for k in listed]
    async with sessionmaker() as s:
        logged = await s.scalar(
            text(
                "SELECT detail->>'key_id' FROM audit_log WHERE action = 'institution_key.issued' "
                "ORDER BY id DESC LIMIT 1"
            )
        )
    assert logged == key_id
    # and a request signed with (id, key) is accepted
    path = "/api/v1/settlements?limit=1"
    headers = signed_headers(key_id, key, "GET", path, b"", nonce=secrets.token_hex(12))
    assert (await client.get(path, headers=headers)).status_code == 200


# ------------------------------------------------------------------ nonces
@pytest.fixture
def redis_down(app):  # type: ignore[no-untyped-def]
    """Swap the API's Redis client for one that cannot connect; give the real one back after."""
    runtime = app.state.runtime
    real = runtime.redis

    def down() -> None:
        runtime.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)

    def up() -> None:
        runtime.redis = real

    try:
        yield down, up
    finally:
        runtime.redis = real


async def test_a_nonce_is_never_accepted_twice_whether_redis_is_up_or_down(client, admin_headers, redis_down) -> None:
    down, up = redis_down
    r = await client.post("/api/v1/institutions/H430522101/keys", headers=admin_headers)
    key_id, key = r.json()["key_id"], r.json()["key"]
    path = "/api/v1/settlements?limit=1"

    def signed(nonce: str) -> dict[str, str]:
        return signed_headers(key_id, key, "GET", path, b"", nonce=nonce)

    # a request while Redis is up, replayed during an outage
    first = signed(secrets.token_hex(12))
    assert (await client.get(path, headers=first)).status_code == 200
    down()
    replay = await client.get(path, headers=first)
    assert replay.status_code == 401 and "nonce" in replay.json()["error"]["message"], replay.text
    # a request during the outage, replayed once Redis is back
    second = signed(secrets.token_hex(12))
    assert (await client.get(path, headers=second)).status_code == 200
    up()
    replay = await client.get(path, headers=second)
    assert replay.status_code == 401 and "nonce" in replay.json()["error"]["message"], replay.text


async def test_nonces_older_than_the_window_are_pruned(sessionmaker, settings) -> None:
    # given one nonce seen just now and one seen longer ago than the window (2 × skew + margin)
    keep = nonces.keep_seconds(settings.signature_max_skew_seconds)
    old, fresh = secrets.token_hex(12), secrets.token_hex(12)
    async with sessionmaker() as s, s.begin():
        s.add(RequestNonceRow(key_id="kid_prune", nonce=fresh))
        s.add(RequestNonceRow(key_id="kid_prune", nonce=old, seen_at=func.now() - timedelta(seconds=keep + 5)))
    # when pruned
    async with sessionmaker() as s, s.begin():
        gone = await nonces.prune(SessionDb(s), settings.signature_max_skew_seconds)
    # then the old one is gone, the fresh one kept
    async with sessionmaker() as s:
        left = set((await s.scalars(select(RequestNonceRow.nonce).where(RequestNonceRow.key_id == "kid_prune"))).all())
    assert gone >= 1 and left == {fresh}


async def test_yibao_up_reuses_its_bootstrap_token_while_it_is_valid(
    client, admin_headers, settings, tmp_path, monkeypatch, no_admin_accounts_afterwards
) -> None:
    """``yibao up`` used to mint another never-expiring admin token at every start."""
    import asyncio

    from tools.supervise import _bootstrap_token
    from yibao.config import get_settings

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STATE_DIR", str(tmp_path))

    def start() -> str:
        get_settings.cache_clear()
        try:
            return _bootstrap_token()
        finally:
            get_settings.cache_clear()

    # given a first start, then a second
    first = await asyncio.to_thread(start)
    second = await asyncio.to_thread(start)
    token = first.split()[-1]
    # then both print the same, working token, kept privately in the state directory
    assert token.startswith("ybs_") and second.split()[-1] == token, (first, second)
    assert (tmp_path / "bootstrap-token").stat().st_mode & 0o777 == 0o600
    assert (await client.get("/api/v1/jobs", headers=bearer(token))).status_code == 200
    # and once it no longer works (revoked), the next start issues a new one
    listed = (await client.get("/api/v1/staff-tokens", headers=admin_headers)).json()
    token_id = next(t["id"] for t in listed if t["name"] == "bootstrap" and t["status"] == "active")
    assert (await client.post(f"/api/v1/staff-tokens/{token_id}/revoke", headers=admin_headers)).status_code == 200
    third = (await asyncio.to_thread(start)).split()[-1]
    assert third.startswith("ybs_") and third != token
    # and once an admin account exists, it issues none and says how to log in
    await _account(client, admin_headers, "admin", "up-admin")
    assert "log in" in await asyncio.to_thread(start)


async def test_yibao_up_reuses_its_institution_key_while_it_is_active(
    client, admin_headers, settings, tmp_path, monkeypatch
) -> None:
    """``yibao up`` used to issue another institution key at every start."""
    import asyncio

    from tools.supervise import _institution_key
    from yibao.config import get_settings

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STATE_DIR", str(tmp_path))

    def start() -> str:
        get_settings.cache_clear()
        try:
            return _institution_key("H430522100")
        finally:
            get_settings.cache_clear()

    # given a first start, then a second
    first = await asyncio.to_thread(start)
    second = await asyncio.to_thread(start)
    key = first.split()[-1]
    # then both print the same, working key, kept privately in the state directory
    assert key.startswith("ybk_") and second.split()[-1] == key and "issued earlier" in second, (first, second)
    assert (tmp_path / "institution-key-H430522100").stat().st_mode & 0o777 == 0o600
    assert (await client.get("/api/v1/settlements", headers=bearer(key))).status_code == 200
    # and once it is revoked, the next start issues a new one
    key_id = first.split("key id ")[1].split(")")[0]
    r = await client.post(f"/api/v1/institutions/H430522100/keys/{key_id}/revoke", headers=admin_headers)
    assert r.status_code == 200, r.text
    third = (await asyncio.to_thread(start)).split()[-1]
    assert third.startswith("ybk_") and third != key
