"""Every refusal class of the envelope: an HTTP 200 envelope with infcode -1 and the native code
in ``err_code`` (never a 5xx), nothing written; authentication stays the native API's."""

from __future__ import annotations

import secrets

import httpx
import orjson
import pytest

from tests.builders import make_person, register_person
from tests.fsi.helpers import BLOOD_TEST, call, envelope, fee, msgid, ok, refused, today
from yibao.auth.signing import signed_headers

pytestmark = pytest.mark.asyncio


async def _post(client: httpx.AsyncClient, headers: dict[str, str], url: str, content: bytes) -> dict[str, object]:
    r = await client.post(url, content=content, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_malformed_envelopes(client: httpx.AsyncClient, hospital: dict[str, str]) -> None:
    assert "JSON" in refused(await _post(client, hospital, "/fsi/api/1101", b"{not json"), "INVALID_ENVELOPE")
    assert "object" in refused(await _post(client, hospital, "/fsi/api/1101", b"[1, 2]"), "INVALID_ENVELOPE")
    no_input = envelope("1101", {})
    del no_input["input"]
    r = await client.post("/fsi/api/1101", json=no_input, headers=hospital)
    assert "input" in refused(r.json(), "INVALID_ENVELOPE")
    bad_id = envelope("1101", {"data": {}}, mid="H43052210020261203")
    assert "msgid" in refused(
        (await client.post("/fsi/api/1101", json=bad_id, headers=hospital)).json(), "INVALID_ENVELOPE"
    )
    other = envelope("1101", {"data": {}}, mid=msgid("H430522101"))  # another institution's msgid
    assert "msgid" in refused(
        (await client.post("/fsi/api/1101", json=other, headers=hospital)).json(), "INVALID_ENVELOPE"
    )
    foreign = {**envelope("1101", {"data": {}}), "fixmedins_code": "H430522101"}
    msg = refused((await client.post("/fsi/api/1101", json=foreign, headers=hospital)).json(), "INVALID_ENVELOPE")
    assert "fixmedins_code" in msg
    mismatch = envelope("2207", {"data": {}})
    assert "URL" in refused(
        (await client.post("/fsi/api/1101", json=mismatch, headers=hospital)).json(), "INVALID_ENVELOPE"
    )
    no_infno = {**envelope("1101", {"data": {}}), "infno": None}
    r = await client.post("/fsi/api/callService", json=no_infno, headers=hospital)
    assert "infno" in refused(r.json(), "INVALID_ENVELOPE")


async def test_unknown_infno_and_missing_nodes(client: httpx.AsyncClient, hospital: dict[str, str]) -> None:
    assert "9999" in refused(await call(client, hospital, "9999", {"data": {}}), "UNKNOWN_INFNO")
    assert "input.data" in refused(await call(client, hospital, "2207", {"mdtrtinfo": {}}), "INVALID_REQUEST")
    assert "mdtrt_id" in refused(await call(client, hospital, "2207", {"data": {"psn_no": "x"}}), "INVALID_REQUEST")
    assert "type" in refused(await call(client, hospital, "1901", {"data": {"type": "nope"}}), "INVALID_REQUEST")
    tables = ok(await call(client, hospital, "1901", {"data": {"type": "fund_pay_type"}}))
    assert {"310100", "390100", "390200", "610100"} <= {row["value"] for row in tables["list"]}


async def test_authentication_is_the_native_one(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post("/fsi/api/1101", json=envelope("1101", {"data": {}}))
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    r = await client.post(
        "/fsi/api/1101", json=envelope("1101", {"data": {}}), headers={"Authorization": "Bearer ybk_nope"}
    )
    assert r.status_code == 401
    r = await client.post("/fsi/api/1101", json=envelope("1101", {"data": {}}), headers=admin_headers)
    assert r.status_code == 401  # a staff token is not an institution


async def test_line_values_are_checked_by_the_native_contract(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    reg = {"psn_no": idn, "insutype": "390", "begntime": today(), "ipt_otp_no": f"N-{idn[-6:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    base = fee("4", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)
    too_long = {**base, "prd_days": 5000}  # the native days_supply bound (≤ 3650)
    assert "feedetl_sn 4" in refused(await call(client, hospital, "2204", {"feedetail": [too_long]}), "INVALID_REQUEST")
    huge = {**base, "cnt": 1e300, "det_item_fee_sumamt": None}
    assert "10^12" in refused(await call(client, hospital, "2204", {"feedetail": [huge]}), "INVALID_REQUEST")
    sub_fen = {**base, "pric": 20.001, "det_item_fee_sumamt": None}
    assert "decimals" in refused(await call(client, hospital, "2204", {"feedetail": [sub_fen]}), "INVALID_REQUEST")
    twice = [base, base]
    assert "twice" in refused(await call(client, hospital, "2204", {"feedetail": twice}), "INVALID_REQUEST")
    other_visit = {**base, "mdtrt_id": "another"}
    refused(
        await call(client, hospital, "2204", {"feedetail": [base, {**other_visit, "feedetl_sn": "5"}]}),
        "INVALID_REQUEST",
    )
    # nothing of the refused uploads was kept
    refused(await call(client, hospital, "2206", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}), "INVALID_REQUEST")


async def test_business_refusals_carry_the_native_code(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    stranger = await register_person(client, admin_headers)  # registered, never enrolled
    refused(
        await call(client, hospital, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "123"}}),
        "INVALID_ID_NUMBER",
    )
    reg = {"psn_no": stranger, "insutype": "390", "begntime": today(), "ipt_otp_no": f"X-{stranger[-6:]}"}
    refused(await call(client, hospital, "2201", {"data": reg}), "NOT_ENROLLED")
    refused(await call(client, hospital, "2201", {"data": {**reg, "insutype": "340"}}), "INVALID_REQUEST")
    refused(await call(client, hospital, "2206", {"data": {"psn_no": stranger, "mdtrt_id": "nope"}}), "NOT_FOUND")

    idn = await make_person(client, admin_headers, scheme="resident")
    out = ok(await call(client, hospital, "2201", {"data": {**reg, "psn_no": idn, "ipt_otp_no": f"X-{idn[-6:]}"}}))
    mdtrt_id = out["data"]["mdtrt_id"]
    refused(await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}), "INVALID_REQUEST")
    unmapped = fee("7", "XX-NOT-A-CODE", "1", "5.00", mdtrt_id=mdtrt_id, psn_no=idn)
    msg = refused(await call(client, hospital, "2204", {"feedetail": [unmapped]}), "UNKNOWN_ITEM")
    assert "feedetl_sn 7" in msg and "XX-NOT-A-CODE" in msg
    wrong_sum = {**fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn), "det_item_fee_sumamt": 25.0}
    assert "feedetl_sn 1" in refused(
        await call(client, hospital, "2204", {"feedetail": [wrong_sum]}), "INVALID_REQUEST"
    )
    ok(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
        )
    )
    msg = refused(
        await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id, "medfee_sumamt": 99.0}}),
        "INVALID_REQUEST",
    )
    assert "medfee_sumamt" in msg
    refused(await call(client, hospital, "2207", {"data": {"psn_no": stranger, "mdtrt_id": mdtrt_id}}), "INVALID_STATE")
    # nothing was settled by the refusals: the visit still previews, settles once
    ok(await call(client, hospital, "2207", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}))


async def test_replay_and_msgid_conflict(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    mid = msgid()
    body = envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": idn}}, mid=mid)
    first = await client.post("/fsi/api/1101", json=body, headers=hospital)
    again = await client.post("/fsi/api/callService", json=body, headers=hospital)
    assert first.content == again.content and again.headers.get("idempotent-replayed") == "true"
    # a refusal is an answer too: replayed as it was
    bad = envelope("2206", {"data": {"psn_no": idn, "mdtrt_id": "nope"}})
    r1 = await client.post("/fsi/api/2206", json=bad, headers=hospital)
    r2 = await client.post("/fsi/api/2206", json=bad, headers=hospital)
    assert r1.json()["err_code"] == "NOT_FOUND" and r1.content == r2.content
    # the same msgid with another request is refused and changes nothing
    other = envelope(
        "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": idn, "begntime": "2026-01-02"}}, mid=mid
    )
    conflict = (await client.post("/fsi/api/1101", json=other, headers=hospital)).json()
    assert "msgid" in refused(conflict, "IDEMPOTENCY_CONFLICT")
    third = await client.post("/fsi/api/1101", json=body, headers=hospital)
    assert third.content == first.content


async def test_visits_are_the_institutions_own(
    client: httpx.AsyncClient, hospital: dict[str, str], institution_keys: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    reg = {"psn_no": idn, "insutype": "390", "begntime": today(), "ipt_otp_no": f"O-{idn[-6:]}"}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    other = {"Authorization": f"Bearer {institution_keys['H430522101']}"}
    reply = await call(client, other, "2206", {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}, institution="H430522101")
    refused(reply, "NOT_FOUND")


async def test_signed_requests_as_natively(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    issued = await client.post("/api/v1/institutions/H430522100/keys", headers=admin_headers)
    assert issued.status_code == 201, issued.text
    key_id, key = issued.json()["key_id"], issued.json()["key"]
    idn = await make_person(client, admin_headers, scheme="resident")
    body = orjson.dumps(envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": idn}}))
    headers = {**signed_headers(key_id, key, "POST", "/fsi/api/1101", body, nonce=secrets.token_hex(12))}
    headers["Content-Type"] = "application/json"
    r = await client.post("/fsi/api/1101", content=body, headers=headers)
    assert r.status_code == 200 and ok(r.json())["baseinfo"]["psn_no"] == idn
    other = orjson.dumps(envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": idn}}))
    fresh = {**signed_headers(key_id, key, "POST", "/fsi/api/1101", body, nonce=secrets.token_hex(12))}
    r = await client.post("/fsi/api/1101", content=other, headers={**fresh, "Content-Type": "application/json"})
    assert r.status_code == 401 and "signature" in r.json()["error"]["message"]
