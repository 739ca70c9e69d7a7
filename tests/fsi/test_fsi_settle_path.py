"""2207's writes ride on the native settle's statement (``Alongside``); on a native replay (the
settle's key ``fsi:<msgid>`` already settled the same bill) they run alone: the visit is marked
with the first settlement and the reply journaled, nothing is settled twice."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import make_person
from tests.fsi.helpers import BLOOD_TEST, call, d, envelope, fee, msgid, ok, today

pytestmark = pytest.mark.asyncio


async def test_a_native_replay_still_marks_the_visit_and_journals_the_reply(
    client: httpx.AsyncClient, hospital: dict[str, str], admin_headers: dict[str, str]
) -> None:
    idn = await make_person(client, admin_headers, scheme="resident")
    visit_no = f"NR-{idn[-8:]}"
    reg = {"psn_no": idn, "insutype": "390", "begntime": today(), "ipt_otp_no": visit_no}
    mdtrt_id = ok(await call(client, hospital, "2201", {"data": reg}))["data"]["mdtrt_id"]
    ok(
        await call(
            client, hospital, "2204", {"feedetail": [fee("1", BLOOD_TEST, "1", "20.00", mdtrt_id=mdtrt_id, psn_no=idn)]}
        )
    )

    # the very bill the visit makes, settled natively under the key 2207 will use
    mid = msgid()
    bill = {
        "id_number": idn,
        "visit_no": visit_no,
        "visit_type": "outpatient",
        "service_date": today(),
        "use_personal_account": False,
        "lines": [
            {"line_no": 1, "item_code": "S-BLRT", "quantity": "1", "unit_price": "20.00", "service_date": today()}
        ],
    }
    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, "Idempotency-Key": f"fsi:{mid}"})
    assert r.status_code == 201, r.text
    first = r.json()["settlement_id"]

    node = {"data": {"psn_no": idn, "mdtrt_id": mdtrt_id}}
    r1 = await client.post("/fsi/api/2207", json=envelope("2207", node, mid=mid), headers=hospital)
    s = ok(r1.json())["setlinfo"]
    assert s["setl_id"] == first and d(s["medfee_sumamt"]) == d("20.00")  # the native settlement, not a second
    r2 = await client.post("/fsi/api/2207", json=envelope("2207", node, mid=mid), headers=hospital)
    assert r2.content == r1.content  # journaled
    # the visit is marked settled by that settlement: its 2208 cancels it, and the visit is open again
    cancel = {"data": {"setl_id": first, "mdtrt_id": mdtrt_id, "psn_no": idn}}
    assert d(ok(await call(client, hospital, "2208", cancel))["setlinfo"]["medfee_sumamt"]) == d("-20.00")
    again = ok(await call(client, hospital, "2207", node))["setlinfo"]
    assert again["setl_id"] != first
