"""Realistic settlement requests, pre-serialized once so the load generator only sends bytes.

Why templates with a placeholder: every request must carry a unique ``Idempotency-Key``,
``visit_no`` and trace codes, but re-encoding JSON per request would make the load
generator compete with the API for the same two cores. Each template holds the fixed
bytes of one bill with ``PLACEHOLDER`` where the unique part goes; sending is then one
``bytes.replace`` with a same-length token (so ``Content-Length`` stays right).

The mix follows how a county pooling region looks: mostly outpatient and pharmacy
visits with a few lines, fewer chronic-outpatient visits, and inpatient stays whose
daily bed and nursing lines make the long bills (up to 30 lines). Items respect the
catalogue's gender/age/level restrictions and price caps most of the time, so the
server does the full three-tier calculation rather than short-cutting to self-pay.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG_CSV = REPO_ROOT / "data" / "reference" / "catalog.csv"

#: Same length as a token (see :func:`token`): replaced per request.
PLACEHOLDER = b"@@@@@@@@@@@@"
TOKEN_LENGTH = len(PLACEHOLDER)
SETTLE_PATH = "/api/v1/settlements"

#: Bill mixes by visit type. ``rx`` (the default): a pharmacy bill in ten of a hundred is dispensed
#: on an e-prescription (``pharmacy_rx``: two in three for a recognised disease, so paid under its
#: chronic tier, 双通道; the rest pooled for employees); ``no_rx``: the mix before prescriptions, for
#: comparing CPU per bill in one run (``run.py --compare-mix``).
MIXES = {
    "rx": {"outpatient": 45, "pharmacy": 15, "pharmacy_rx": 10, "chronic_outpatient": 15, "inpatient": 15},
    "no_rx": {"outpatient": 45, "pharmacy": 25, "chronic_outpatient": 15, "inpatient": 15},
}
VISIT_WEIGHTS = MIXES["rx"]
#: the hospital that issues the seeded prescriptions (``seed.issue_prescriptions``)
RX_ISSUER = "H430522100"

#: Items a visit type plausibly bills (filtered per person and institution below).
VISIT_ITEMS = {
    "pharmacy": ["D-AMOX-250", "D-METF-500", "D-ATOR-20", "D-INSG-300", "D-TAMS-02", "D-PEDC-10", "D-VITC-100"],
    "outpatient": ["S-BLRT", "S-CTHD", "S-MRI", "S-PSA", "S-HPV", "S-ACUP", "D-AMOX-250", "D-PEDC-10", "D-VITC-100"],
    "chronic_outpatient": ["D-METF-500", "D-ATOR-20", "D-INSG-300", "D-TAMS-02", "S-BLRT", "S-HDLY"],
    "inpatient": ["D-CEFT-1G", "S-APPX", "S-CTHD", "S-MRI", "M-STNT", "M-LENS", "S-BLRT", "S-VIPW", "D-AMOX-250"],
}
OUTPATIENT_DIAGNOSES = ["J06.9", "K29.7", "M54.5", "R51", "L30.9"]
#: the disease of a chronic bill comes from its diagnosis (DM, HTN, ESRD, CHD); seed.py recognises them
CHRONIC_DIAGNOSES = ["E11.9", "I10", "N18.5", "I25.1"]
#: a prescription's diagnosis and the drugs it may list: hypertension and diabetes (recognised for
#: every seeded person: 双通道), and a cold (an employee's outpatient pooling)
RX_CASES = [
    ("I10", ["D-AMLO-5", "D-ATOR-20"]),
    ("E11.9", ["D-METF-500", "D-INSG-300", "D-ATOR-20"]),
    ("J06.9", ["D-AMOX-250"]),
]
#: (main diagnosis, procedure or None) pairs from the DIP groups.
INPATIENT_CASES = [
    ("J18.9", None),
    ("K35.8", "47.0901"),
    ("I63.9", None),
    ("I25.1", "36.0601"),
    ("H25.9", "13.4100"),
    ("E11.9", None),
]

FIRST_DAY = date(2026, 1, 5)
LAST_DAY = date(2026, 11, 20)


@dataclass(frozen=True)
class Item:
    """The catalogue columns a realistic bill needs to stay within the rules."""

    code: str
    kind: str
    price_cap: Decimal | None
    gender: str | None
    min_age: int | None
    max_age: int | None
    min_level: int | None
    max_days_supply: int | None
    max_units_per_day: Decimal | None
    trace_required: bool


@dataclass(frozen=True)
class Person:
    id_number: str
    gender: str
    birth_date: date
    scheme: str
    has_account: bool


@dataclass(frozen=True)
class Institution:
    code: str
    type: str
    level: int
    region: str
    key: str


@dataclass(frozen=True)
class Template:
    """One bill, serialized: ``raw`` is the whole HTTP/1.1 request, the rest feeds httpx."""

    raw: bytes
    body: bytes
    auth: str
    idempotency_key: bytes
    #: a ``pharmacy_rx`` bill's prescription (``rx_id`` holds ``PLACEHOLDER``, so each send names
    #: its own, issued beforehand by ``seed.issue_prescriptions``); None for every other bill
    prescription: dict[str, Any] | None = None


def _opt(value: str) -> str | None:
    return value.strip() or None


def load_catalogue(path: Path = CATALOG_CSV) -> dict[str, Item]:
    """Read the same catalog.csv the server loads, so prices track the reference data."""
    items: dict[str, Item] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            cap, units = _opt(r["price_cap"]), _opt(r["max_units_per_day"])
            items[r["code"]] = Item(
                code=r["code"],
                kind=r["kind"],
                price_cap=Decimal(cap) if cap else None,
                gender=_opt(r["gender"]),
                min_age=int(r["min_age"]) if _opt(r["min_age"]) else None,
                max_age=int(r["max_age"]) if _opt(r["max_age"]) else None,
                min_level=int(r["min_level"]) if _opt(r["min_level"]) else None,
                max_days_supply=int(r["max_days_supply"]) if _opt(r["max_days_supply"]) else None,
                max_units_per_day=Decimal(units) if units else None,
                trace_required=r["trace_required"].strip().lower() == "true",
            )
    return items


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def allowed(item: Item, person: Person, level: int, on: date) -> bool:
    """True when the item breaks none of the catalogue's restrictions for this visit."""
    age = age_on(person.birth_date, on)
    return not (
        (item.gender is not None and item.gender != person.gender)
        or (item.min_age is not None and age < item.min_age)
        or (item.max_age is not None and age > item.max_age)
        or (item.min_level is not None and level < item.min_level)
    )


def price(rng: random.Random, item: Item) -> str:
    """Near the cap, ~5% just above it (over-cap self-pay); uncapped class C items vary."""
    if item.price_cap is None:
        return f"{rng.uniform(20, 200):.2f}"
    factor = 1.05 if rng.random() < 0.05 else rng.uniform(0.8, 1.0)
    return f"{max(Decimal('0.01'), item.price_cap * Decimal(str(round(factor, 4)))):.2f}"


class TraceCodes:
    """Unique-per-request traceability codes: template number, running number, placeholder."""

    def __init__(self, template_no: int) -> None:
        self._prefix = f"T{template_no:06d}"
        self._n = 0

    def take(self, count: int) -> list[str]:
        codes = []
        for _ in range(count):
            self._n += 1
            codes.append(f"{self._prefix}{self._n:03d}{PLACEHOLDER.decode()}")
        return codes


def _line(
    rng: random.Random,
    item: Item,
    no: int,
    day: date,
    quantity: int,
    traces: TraceCodes,
    *,
    supply: bool,
) -> dict[str, Any]:
    days_supply = None
    if supply and item.kind == "drug" and item.max_days_supply is not None:
        days_supply = min(item.max_days_supply, rng.choice((7, 14, 28, 30)))
    return {
        "line_no": no,
        "item_code": item.code,
        "quantity": str(quantity),
        "unit_price": price(rng, item),
        "service_date": day.isoformat(),
        "days_supply": days_supply,
        "trace_codes": traces.take(quantity) if item.trace_required else [],
    }


def _ambulatory_lines(
    rng: random.Random,
    catalogue: dict[str, Item],
    visit_type: str,
    person: Person,
    level: int,
    day: date,
    traces: TraceCodes,
) -> list[dict[str, Any]]:
    """Pharmacy 1–4, outpatient 1–8, chronic 1–10 lines, each a catalogue item allowed here."""
    pool = [catalogue[c] for c in VISIT_ITEMS[visit_type] if allowed(catalogue[c], person, level, day)] or [
        catalogue["S-BLRT"]
    ]
    count = {"pharmacy": rng.randint(1, 4), "outpatient": rng.randint(1, 8), "chronic_outpatient": rng.randint(1, 10)}[
        visit_type
    ]
    lines: list[dict[str, Any]] = []
    billed: set[str] = set()
    for _ in range(count):
        item = rng.choice(pool)
        if item.max_units_per_day is not None and item.code in billed:
            continue  # a second acupuncture or dialysis the same day is an abuse signal, not a bill
        billed.add(item.code)
        quantity = rng.randint(1, 3) if item.kind == "drug" else 1
        lines.append(_line(rng, item, len(lines) + 1, day, quantity, traces, supply=True))
    return lines


def _inpatient_lines(
    rng: random.Random,
    catalogue: dict[str, Item],
    person: Person,
    level: int,
    admitted: date,
    discharged: date,
    traces: TraceCodes,
) -> list[dict[str, Any]]:
    """A bed and a nursing line per day, then procedures, drugs and tests: 8–30 lines."""
    days = [admitted + timedelta(days=i) for i in range(max(1, (discharged - admitted).days))]
    lines: list[dict[str, Any]] = []
    for day in days:
        for code in ("S-BED-2", "S-NURS-1"):
            lines.append(_line(rng, catalogue[code], len(lines) + 1, day, 1, traces, supply=False))
    pool = [catalogue[c] for c in VISIT_ITEMS["inpatient"] if allowed(catalogue[c], person, level, discharged)]
    while len(lines) < 8 or (len(lines) < 30 and rng.random() < 0.5):
        item = rng.choice(pool)
        day = rng.choice(days)
        quantity = 2 if item.code == "D-CEFT-1G" else 1
        lines.append(_line(rng, item, len(lines) + 1, day, quantity, traces, supply=False))
    return lines[:30]


def service_day(rng: random.Random, today: date) -> date:
    last = min(LAST_DAY, today - timedelta(days=1))
    return FIRST_DAY + timedelta(days=rng.randint(0, max(0, (last - FIRST_DAY).days)))


def pick_institution(rng: random.Random, visit_type: str, institutions: list[Institution]) -> Institution:
    """Pharmacy bills at pharmacies; inpatient only at level ≥ 1 hospitals; county hospitals
    busiest (the suspended one is not in ``institutions``: it would only produce 403s)."""
    if visit_type in ("pharmacy", "pharmacy_rx"):
        fits = [i for i in institutions if i.type == "pharmacy"]
    elif visit_type == "inpatient":
        fits = [i for i in institutions if i.type == "hospital" and i.level >= 1]
    else:
        fits = [i for i in institutions if i.type in ("hospital", "village_clinic")]
    weights = [1 if i.region != "430522" else 4 if i.level == 2 else 2 for i in fits]
    return rng.choices(fits, weights)[0]


def make_bill(
    rng: random.Random,
    catalogue: dict[str, Item],
    person: Person,
    visit_type: str,
    institution: Institution,
    template_no: int,
    today: date,
) -> dict[str, Any]:
    """One request body of the settlement contract (amounts as 2-decimal JSON strings)."""
    traces = TraceCodes(template_no)
    day = service_day(rng, today)
    bill: dict[str, Any] = {
        "id_number": person.id_number,
        "visit_no": f"V{template_no:06d}{PLACEHOLDER.decode()}",
        "visit_type": visit_type,
        "service_date": day.isoformat(),
        "use_personal_account": person.has_account and rng.random() < 0.8,
    }
    if visit_type == "inpatient":
        admitted = max(FIRST_DAY, day - timedelta(days=rng.randint(1, 14)))
        diagnosis, procedure = rng.choice(INPATIENT_CASES)
        bill |= {
            "admitted_on": admitted.isoformat(),
            "discharged_on": day.isoformat(),
            "diagnoses": [diagnosis],
            "procedures": [procedure] if procedure else [],
            "lines": _inpatient_lines(rng, catalogue, person, institution.level, admitted, day, traces),
        }
    elif visit_type == "pharmacy_rx":
        diagnosis, drugs = rng.choice(RX_CASES)
        lines = [
            _line(rng, catalogue[code], no, day, rng.randint(1, 3), traces, supply=True)
            for no, code in enumerate(rng.sample(drugs, rng.randint(1, len(drugs))), start=1)
        ]
        bill |= {
            "visit_type": "pharmacy",
            "prescription_id": f"RXB{template_no:06d}{PLACEHOLDER.decode()}",
            "diagnoses": [diagnosis],
            "lines": lines,
        }
    else:
        pool = CHRONIC_DIAGNOSES if visit_type == "chronic_outpatient" else OUTPATIENT_DIAGNOSES
        bill |= {
            "diagnoses": [rng.choice(pool)],
            "lines": _ambulatory_lines(rng, catalogue, visit_type, person, institution.level, day, traces),
        }
    return bill


def _prescription(bill: dict[str, Any]) -> dict[str, Any]:
    """What the hospital prescribed for a ``pharmacy_rx`` bill: its lines' items and quantities."""
    return {
        "rx_id": bill["prescription_id"],
        "id_number": bill["id_number"],
        "diagnoses": bill["diagnoses"],
        "service_date": bill["service_date"],
        "items": [
            {"item_code": ln["item_code"], "quantity": ln["quantity"], "days_supply": ln["days_supply"]}
            for ln in bill["lines"]
        ],
    }


def http_request(host: str, port: int, institution: Institution, key: bytes, body: bytes) -> bytes:
    """The full HTTP/1.1 keep-alive request, ready for ``writer.write``."""
    head = (
        f"POST {SETTLE_PATH} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {institution.key}\r\n"
        f"Idempotency-Key: {key.decode()}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def build_templates(
    persons: list[Person],
    institutions: list[Institution],
    count: int,
    seed: int,
    host: str,
    port: int,
    today: date,
    mix: str = "rx",
) -> list[Template]:
    """``count`` distinct bills over the sampled persons, mixed visit types (``MIXES[mix]``) and
    institutions."""
    rng = random.Random(seed)
    catalogue = load_catalogue()
    visit_types, weights = list(MIXES[mix]), list(MIXES[mix].values())
    templates = []
    for n in range(count):
        person = persons[n % len(persons)]
        visit_type = rng.choices(visit_types, weights)[0]
        institution = pick_institution(rng, visit_type, institutions)
        bill = make_bill(rng, catalogue, person, visit_type, institution, n, today)
        body = orjson.dumps(bill)
        key = f"bench-{n:06d}-".encode() + PLACEHOLDER
        templates.append(
            Template(
                raw=http_request(host, port, institution, key, body),
                body=body,
                auth=f"Bearer {institution.key}",
                idempotency_key=key,
                prescription=_prescription(bill) if "prescription_id" in bill else None,
            )
        )
    rng.shuffle(templates)
    return templates


def token(salt: str, phase: str, counter: int) -> bytes:
    """``salt`` (3 chars, per run) + phase letter + 8 hex digits = ``TOKEN_LENGTH`` bytes."""
    value = f"{salt}{phase}{counter:08x}".encode()
    assert len(value) == TOKEN_LENGTH
    return value
