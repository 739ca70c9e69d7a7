"""Staff accounts (argon2 + short-lived tokens), signed institution requests, key revocation,
rate limits."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import orjson
import pytest

from api.ratelimit import RateLimiter
from tests.builders import idem, make_bill, make_person
from yibao import clock
from yibao.auth import signing
from yibao.auth.orm import LoginThrottleRow
from yibao.auth.signing import signed_headers
from yibao.errors import RateLimited


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """Move the business clock (``yibao.clock``); the wall clock comes back afterwards, even on failure."""
    at = [datetime.now(UTC)]
    clock.set_clock(lambda: at[0])
    try:
        yield at
    finally:
        clock.set_clock(None)


async def _create_staff(client, admin_headers, username: str, role: str, password: str = "a-long-password-1") -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        "/api/v1/staff",
        headers=admin_headers,
        json={"username": username, "display_name": username, "role": role, "password": password},
    )
    assert r.status_code == 201, r.text


async def _login(client, username: str, password: str = "a-long-password-1"):  # type: ignore[no-untyped-def]
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_staff_login_gives_a_role_checked_short_lived_token(client, admin_headers, settings) -> None:
    name = f"fin.{secrets.token_hex(3)}"
    await _create_staff(client, admin_headers, name, "finance")
    r = await _login(client, name)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["expires_in"] == 15 * 60 and r.json()["role"] == "finance"
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/jobs", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/staff", headers=headers)).status_code == 403  # admin only

    expired = jwt.encode(
        {"iss": "yibao", "sub": "1", "name": name, "role": "finance", "exp": 1},
        settings.master_secret(),
        algorithm="HS256",
    )
    r = await client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_failed_logins_slow_down_the_pair_without_telling_whether_the_user_exists(
    client, admin_headers, frozen
) -> None:
    # given an account, and a username nobody has (the clock stands still: the waits are exact)
    name = f"clerk.{secrets.token_hex(3)}"
    await _create_staff(client, admin_headers, name, "clerk")
    ghost = f"ghost.{secrets.token_hex(3)}"
    # when both get five wrong passwords, then a sixth attempt (the account's with the right password)
    real = [await _login(client, name, "wrong-password!") for _ in range(5)]
    unknown = [await _login(client, ghost, "wrong-password!") for _ in range(5)]
    real_next, unknown_next = await _login(client, name), await _login(client, ghost, "wrong-password!")
    # then every refusal reads the same, and both pairs are now slowed down alike (429, Retry-After)
    assert {(r.status_code, r.json()["error"]["message"]) for r in real + unknown} == {
        (401, "用户名或密码错误 wrong username or password")
    }
    for r in (real_next, unknown_next):
        assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED", r.text
        assert r.headers["Retry-After"] == "1"
    assert real_next.json()["error"]["message"] == unknown_next.json()["error"]["message"]


async def _throttle(sessionmaker, username: str) -> tuple[int, datetime | None] | None:  # type: ignore[no-untyped-def]
    """(failures counted, blocked until) of this username from the test client's address."""
    async with sessionmaker() as s:
        row = await s.get(LoginThrottleRow, (username, "127.0.0.1"))
    return (row.failures, row.blocked_until) if row else None


async def test_failed_login_counter_resets_after_a_successful_login(client, admin_headers, sessionmaker) -> None:
    # given: four wrong passwords, one short of the back-off (staff_max_failed_logins = 5)
    name = f"clerk.{secrets.token_hex(3)}"
    await _create_staff(client, admin_headers, name, "clerk")
    first = [(await _login(client, name, "wrong-password!")).status_code for _ in range(4)]
    counted = await _throttle(sessionmaker, name)
    # when: the right password, then four wrong ones again (8 in all, but never 5 in a row)
    ok = await _login(client, name)
    after_ok = await _throttle(sessionmaker, name)
    second = [(await _login(client, name, "wrong-password!")).status_code for _ in range(4)]
    # then: the count restarted, so nothing is slowed down and the right password works
    assert first == second == [401, 401, 401, 401]
    assert counted == (4, None)
    assert ok.status_code == 200 and after_ok is None, ok.text
    assert await _throttle(sessionmaker, name) == (4, None)
    assert (await _login(client, name)).status_code == 200


async def test_the_back_off_doubles_and_ends(client, admin_headers, sessionmaker, frozen) -> None:
    # given: five wrong passwords at t0 (staff_max_failed_logins = 5, back-off 1 s doubling)
    name = f"clerk.{secrets.token_hex(3)}"
    await _create_staff(client, admin_headers, name, "clerk")
    t0 = datetime.now(UTC).replace(microsecond=0)
    frozen[0] = t0
    assert [(await _login(client, name, "wrong-password!")).status_code for _ in range(5)] == [401] * 5
    assert await _throttle(sessionmaker, name) == (5, t0 + timedelta(seconds=1))
    # when: wrong again once each wait is over (the 6th, 7th, 8th failures)
    waits = []
    for _ in range(3):
        _, until = await _throttle(sessionmaker, name)  # type: ignore[misc]
        frozen[0] = until
        assert (await _login(client, name, "wrong-password!")).status_code == 401
        waits.append(((await _throttle(sessionmaker, name))[1] - until).total_seconds())  # type: ignore[index]
    # then: each wait doubles; during one even the right password waits; after it, it works
    assert waits == [2.0, 4.0, 8.0]
    _, until = await _throttle(sessionmaker, name)  # type: ignore[misc]
    frozen[0] = until - timedelta(seconds=1)
    still = await _login(client, name)
    frozen[0] = until
    free = await _login(client, name)
    assert still.status_code == 429 and still.headers["Retry-After"] == "1"
    assert free.status_code == 200, free.text
    assert await _throttle(sessionmaker, name) is None


def test_the_back_off_is_capped(settings) -> None:  # type: ignore[no-untyped-def]
    from yibao.auth.staff import backoff_seconds

    assert [backoff_seconds(settings, f) for f in (1, 4, 5, 6, 7, 14, 15, 50, 10**6)] == [
        0,
        0,
        1,
        2,
        4,
        512,
        900,
        900,
        900,
    ]


async def test_a_strangers_failures_do_not_lock_the_user_out_from_elsewhere(app, client, admin_headers, frozen) -> None:
    # given an account, and a stranger at another address who fails with its username until slowed down
    name = f"clerk.{secrets.token_hex(3)}"
    await _create_staff(client, admin_headers, name, "clerk")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as stranger:
        tries = [(await _login(stranger, name, "guess-guess-guess")).status_code for _ in range(8)]
    # then the stranger waits, and the user, from their own address, logs in at once
    assert tries == [401] * 5 + [429] * 3
    assert (await _login(client, name)).status_code == 200


async def test_password_change_and_deactivation(client, admin_headers) -> None:
    name = f"insp.{secrets.token_hex(3)}"
    await _create_staff(client, admin_headers, name, "inspector")
    token = (await _login(client, name)).json()["access_token"]
    r = await client.post(
        "/api/v1/auth/password",
        headers={"Authorization": f"Bearer {token}"},
        json={"current_password": "a-long-password-1", "new_password": "another-long-pw-2"},
    )
    assert r.status_code == 204
    assert (await _login(client, name)).status_code == 401
    assert (await _login(client, name, "another-long-pw-2")).status_code == 200
    r = await client.patch(f"/api/v1/staff/{name}", headers=admin_headers, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await _login(client, name, "another-long-pw-2")).status_code == 401
    r = await client.post(
        "/api/v1/staff",
        headers=admin_headers,
        json={"username": "x.short", "display_name": "x", "role": "clerk", "password": "short"},
    )
    assert r.status_code == 400


def _signed(key: tuple[str, str], method: str, path: str, body: bytes, **kw) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key_id, secret = key
    return {
        **signed_headers(key_id, secret, method, path, body, nonce=secrets.token_hex(12), **kw),
        "Content-Type": "application/json",
    }


async def _new_key(client, admin_headers, code: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(key id, secret) of a fresh key of ``code``."""
    r = await client.post(f"/api/v1/institutions/{code}/keys", headers=admin_headers)
    assert r.status_code == 201, r.text
    return r.json()["key_id"], r.json()["key"]


async def test_signed_settlement_and_replay_refused(client, admin_headers) -> None:
    key = await _new_key(client, admin_headers, "H430522100")
    idn = await make_person(client, admin_headers)
    body = orjson.dumps(make_bill(idn))
    headers = {**_signed(key, "POST", "/api/v1/settlements", body), **idem()}
    r = await client.post("/api/v1/settlements", content=body, headers=headers)
    assert r.status_code == 201, r.text

    replay = await client.post("/api/v1/settlements", content=body, headers=headers)
    assert replay.status_code == 401 and "nonce" in replay.json()["error"]["message"]

    tampered = json.loads(body)
    tampered["visit_no"] = "V-other"
    r = await client.post(
        "/api/v1/settlements",
        content=orjson.dumps(tampered),
        headers={**_signed(key, "POST", "/api/v1/settlements", body), **idem()},
    )
    assert r.status_code == 401 and "signature" in r.json()["error"]["message"]

    stale = _signed(key, "GET", "/api/v1/settlements?limit=1", b"", now=datetime.now(UTC).timestamp() - 600)
    r = await client.get("/api/v1/settlements?limit=1", headers=stale)
    assert r.status_code == 401 and "Timestamp" in r.json()["error"]["message"]

    ok = await client.get(
        "/api/v1/settlements?limit=1", headers=_signed(key, "GET", "/api/v1/settlements?limit=1", b"")
    )
    assert ok.status_code == 200 and len(ok.json()["items"]) == 1


def test_timestamp_freshness_is_inclusive_at_the_skew() -> None:
    assert signing.fresh("1000", 300, now=1300.0) and signing.fresh("1000", 300, now=700.0)
    assert not signing.fresh("1000", 300, now=1301.0) and not signing.fresh("1000", 300, now=699.0)
    assert not signing.fresh("not-a-number", 300, now=1000.0)


async def test_signature_skew_at_the_edge_is_accepted_one_second_past_refused(
    app, client, admin_headers, frozen
) -> None:
    """The server reads the injectable clock, frozen on a whole second: the edge is then exact,
    whatever the test machine's speed."""
    # given: server time pinned; the allowed skew is 300 s (signature_max_skew_seconds)
    skew = app.state.runtime.settings.signature_max_skew_seconds
    assert skew == 300
    server_now = float(int(time.time()))
    frozen[0] = datetime.fromtimestamp(server_now, UTC)
    key = await _new_key(client, admin_headers, "H430522100")
    path = "/api/v1/settlements?limit=1"
    # when: one request per timestamp, each with its own nonce
    answers = {
        offset: await client.get(path, headers=_signed(key, "GET", path, b"", now=server_now + offset))
        for offset in (-skew, -skew - 1, skew, skew + 1)
    }
    # then: exactly 300 s behind or ahead is accepted, 301 s is refused as stale / from the future
    assert {o: r.status_code for o, r in answers.items()} == {-300: 200, -301: 401, 300: 200, 301: 401}
    for offset in (-301, 301):
        assert answers[offset].json()["error"]["code"] == "UNAUTHENTICATED"
        assert "Timestamp" in answers[offset].json()["error"]["message"]


async def test_server_can_require_signatures(app, client, admin_headers) -> None:
    runtime = app.state.runtime
    key = await _new_key(client, admin_headers, "H430522101")
    runtime.settings.require_signed_institution_requests = True
    try:
        r = await client.get("/api/v1/settlements", headers={"Authorization": f"Bearer {key[1]}"})
        assert r.status_code == 401 and "signed" in r.json()["error"]["message"]
        r = await client.get("/api/v1/settlements", headers=_signed(key, "GET", "/api/v1/settlements", b""))
        assert r.status_code == 200
    finally:
        runtime.settings.require_signed_institution_requests = False


async def test_revoked_key_stops_working(client, admin_headers) -> None:
    key_id, key = await _new_key(client, admin_headers, "H430522200")
    assert (await client.get("/api/v1/settlements", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    keys = (await client.get("/api/v1/institutions/H430522200/keys", headers=admin_headers)).json()
    assert key_id in [k["key_id"] for k in keys]
    r = await client.post(f"/api/v1/institutions/H430522200/keys/{key_id}/revoke", headers=admin_headers)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert (await client.get("/api/v1/settlements", headers={"Authorization": f"Bearer {key}"})).status_code == 401
    signed = _signed((key_id, key), "GET", "/api/v1/settlements", b"")
    assert (await client.get("/api/v1/settlements", headers=signed)).status_code == 401


@pytest.fixture
def tight_limits(app, settings):  # type: ignore[no-untyped-def]
    runtime = app.state.runtime
    original = runtime.limiter
    runtime.limiter = RateLimiter(
        settings.model_copy(
            update={"rate_limit_institution": "3/minute", "broker_namespace": f"rl-{secrets.token_hex(4)}"}
        )
    )
    yield
    runtime.limiter = original


async def test_rate_limit_is_one_window_for_all_api_processes(settings) -> None:  # type: ignore[no-untyped-def]
    """Two processes' limiters count one caller together in Redis, though each counts locally
    between syncs: a burst through both passes the limit's worth, not twice it."""
    tight = settings.model_copy(
        update={"rate_limit_institution": "40/minute", "broker_namespace": f"rl-{secrets.token_hex(4)}"}
    )
    processes = [RateLimiter(tight), RateLimiter(tight)]
    passed = 0
    for n in range(120):
        try:
            await processes[n % 2].check("institution", "H430522001")
            passed += 1
        except RateLimited as exc:
            assert exc.details["retry_after"] >= 1
    assert passed == 40


async def test_rate_limit_answers_429_with_retry_after(client, hospital, tight_limits) -> None:
    statuses = [(await client.get("/api/v1/settlements?limit=1", headers=hospital)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = await client.get("/api/v1/settlements?limit=1", headers=hospital)
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
