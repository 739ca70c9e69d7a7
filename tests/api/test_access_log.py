"""One structured access-log line per request, with a request id the caller sees."""

from __future__ import annotations

import json
import logging

import pytest

from tests.builders import make_person


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "yibao.access"]


async def test_each_request_logs_one_line_with_its_route_template_and_id(client, admin_headers, caplog) -> None:  # type: ignore[no-untyped-def]
    idn = await make_person(client, admin_headers)
    with caplog.at_level(logging.INFO, logger="yibao.access"):
        r = await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)
    assert r.status_code == 200
    (line,) = _lines(caplog)
    # the template, never the ID number in the path
    assert line["route"] == "/api/v1/persons/{id_number}"
    assert line["method"] == "GET" and line["status"] == 200 and isinstance(line["ms"], float)
    assert line["request_id"] == r.headers["X-Request-ID"]
    assert idn not in caplog.text


async def test_a_callers_own_request_id_is_kept_and_an_unrouted_path_is_masked(client, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="yibao.access"):
        r = await client.get("/nowhere/430522199001011234", headers={"X-Request-ID": "his-0001-abcdef"})
        hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert r.status_code == 404 and r.headers["X-Request-ID"] == "his-0001-abcdef"
    missing, ok = _lines(caplog)
    assert missing["route"] != "/nowhere/430522199001011234" and "430522199001011234" not in caplog.text
    assert missing["caller"] == "anonymous" and missing["status"] == 404
    # an id that is not tame is replaced, not echoed
    assert (
        hostile.headers["X-Request-ID"] != "bad id\nwith newline"
        and ok["request_id"] == hostile.headers["X-Request-ID"]
    )


async def test_the_line_names_the_caller_kind_and_id(client, admin_headers, hospital, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="yibao.access"):
        await client.get("/api/v1/settlements", headers=hospital)
        await client.get("/api/v1/staff", headers=admin_headers)
    institution, staff = _lines(caplog)
    assert institution["caller"] == "institution:H430522100"
    assert str(staff["caller"]).startswith("staff:")


async def test_a_credential_of_the_wrong_kind_is_named(client, admin_headers, hospital) -> None:  # type: ignore[no-untyped-def]
    # an admin token on the settle endpoint
    r = await client.post("/api/v1/settlements/preview", json={}, headers=admin_headers)
    assert r.status_code == 401
    assert "this endpoint needs an institution key; 工作人员令牌 a staff token was sent" in r.json()["error"]["message"]
    # an institution key on a staff endpoint and on the member app
    staff_only = await client.get("/api/v1/staff", headers=hospital)
    assert (
        staff_only.status_code == 401 and "needs a staff token; 机构密钥 an institution key was sent" in staff_only.text
    )
    member_only = await client.get("/api/v1/me", headers=hospital)
    assert member_only.status_code == 401 and "needs a member token" in member_only.text
