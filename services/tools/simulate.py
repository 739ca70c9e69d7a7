"""``yibao simulate``: drive a running API the way a day of HIS and POS traffic would.

Why over HTTP and not through the core: the point is to exercise the whole path an
integrator uses (auth, validation, idempotency, locking, the JSON contract) under
concurrency, and to check on every answer the identities the fund relies on. Everything
random comes from ``random.Random(seed)`` so a run can be repeated; only the run tag
(in visit numbers, idempotency keys and traceability codes) is fresh, so a second run
against the same database does not collide with the first.

Money is integer fen throughout (prices, targets, sums); it becomes a yuan string only
on the wire (``to_wire``) and is read back with ``yuan_to_fen``: no float touches it.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
from httpx_retries import Retry, RetryTransport
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from yibao.money import to_wire, yuan_to_fen
from yibao.people.id_number import make
from yibao.values import CatalogueItem

T = TypeVar("T")

YEAR = 2026
REGION = "430522"
CITY_REGION = "430100"
COVERAGE_START = date(YEAR, 1, 1)
FIRST_DAY = date(YEAR, 1, 5)
LAST_DAY = date(YEAR, 11, 20)
API = "/api/v1"


# ---------------------------------------------------------------- reference data


@dataclass(frozen=True)
class Site:
    """A designated institution the simulator settles at."""

    code: str
    level: int
    region: str


VILLAGE = Site("H430522001", 0, REGION)
TOWNSHIP = Site("H430522010", 1, REGION)
COUNTY = (Site("H430522100", 2, REGION), Site("H430522101", 2, REGION))
CITY = Site("H430100300", 3, CITY_REGION)
PHARMACY = Site("P430522500", 0, REGION)
SITES = (VILLAGE, TOWNSHIP, *COUNTY, CITY, PHARMACY)

#: Items without a cap (class C): the usual shelf price in fen (the catalogue has no price for them).
LIST_PRICES: dict[str, int] = {"D-VITC-100": 3580}
UNKNOWN_ITEM = "S-NOPE-999"

GROUP_WEIGHTS = {
    "min_living": 30,
    "poverty_monitoring": 20,
    "marginal": 15,
    "destitute": 15,
    "severe_disability": 10,
    "orphan": 10,
}
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何罗高林曾谢邓唐"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅"


# ---------------------------------------------------------------- small helpers


def random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Shelf:
    """What the simulator prices and traces by: the reference catalogue the API settles against
    (``data/reference/catalog.csv``, read by the product's loader), not a copy of it."""

    caps: Mapping[str, int]  # price cap in fen, for the items that have one
    traced: frozenset[str]  # drugs whose boxes carry a traceability code: one code per box sold

    @classmethod
    def of(cls, catalogue: Mapping[str, CatalogueItem]) -> Shelf:
        caps = {code: int(item.price_cap) for code, item in catalogue.items() if item.price_cap is not None}
        return cls(caps, frozenset(code for code, item in catalogue.items() if item.trace_required))

    def unit_price(self, rng: random.Random, item: str) -> int:
        """Fen per unit: mostly at or a little below the cap, sometimes above it.

        Above-cap prices are deliberate: they show the over-cap self-pay in the split.
        """
        cap = self.caps.get(item)
        if cap is None:
            return LIST_PRICES.get(item, 1000)
        roll = rng.random()
        if roll < 0.07:
            return cap * rng.randint(105, 130) // 100
        if roll < 0.30:
            return cap
        return cap * rng.randint(80, 99) // 100


async def drain(
    items: Iterable[T], work: Callable[[T], Awaitable[None]], concurrency: int, done: Callable[[], None] = lambda: None
) -> None:
    """Run ``work`` over ``items`` with at most ``concurrency`` in flight, calling ``done`` after each.

    Workers share one iterator: taking the next item never awaits, so each item runs once.
    """
    it = iter(items)

    async def worker() -> None:
        for item in it:
            await work(item)
            done()

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))


def patient_transport(limits: httpx.Limits, inner: httpx.AsyncBaseTransport | None = None) -> RetryTransport:
    """A transport that honours the server's rate limit: a 429 means nothing was done, so wait the
    ``Retry-After`` it names and send again (POSTs included). Nothing else is retried: every
    other answer, and every transport error, is what the report is for."""
    retry = Retry(
        total=20,
        allowed_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        status_forcelist=[429],
        retry_on_exceptions=[],
        respect_retry_after_header=True,
        backoff_factor=0.5,
    )
    return RetryTransport(transport=inner or httpx.AsyncHTTPTransport(limits=limits), retry=retry)


def progress_bar(enabled: bool) -> Progress:
    """Progress on stderr, so the report on stdout stays clean for a pipe."""
    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class SetupFailed(RuntimeError):
    """The admin API refused a setup step: nothing sensible can follow."""


def expect_status(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise SetupFailed(
            f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


def error_code(status: int, body: Any) -> str:
    """The contract's ``{"error": {"code": ...}}``, or the bare status if the body has none."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "code" in error:
        return str(error["code"])
    return f"HTTP_{status}"


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# ---------------------------------------------------------------- people


@dataclass
class PersonPlan:
    """Who a person is, decided up front so the population depends on the seed only."""

    index: int
    birth: date
    gender: str
    name: str
    scheme: str
    retiree: bool
    groups: tuple[str, ...]
    account_fen: int
    continuous_years: int
    zero_claim_credit_fen: int
    filed: bool


@dataclass
class Person:
    """A registered, enrolled person as the bill generator needs them."""

    index: int
    id_number: str
    birth: date
    gender: str
    scheme: str
    groups: tuple[str, ...]
    filed: bool
    account_fen: int
    payer: str | None = None  # a bound relative's ID whose account may pay (family sharing)


def candidate_id(rng: random.Random, birth: date, gender: str) -> str:
    """A valid GB 11643 ID for the birth date; the 17th digit's parity carries the gender."""
    parity = (1 if gender == "M" else 0) + 2 * rng.randrange(5)
    return make(f"{REGION}{birth:%Y%m%d}{rng.randrange(100):02d}{parity}")


def plan_person(rng: random.Random, index: int) -> PersonPlan:
    """~10% residents in special groups, ~35% employees (a quarter retired), the rest residents."""
    roll = rng.random()
    groups: tuple[str, ...] = ()
    if roll < 0.10:
        scheme = "resident"
        first = rng.choices(list(GROUP_WEIGHTS), weights=list(GROUP_WEIGHTS.values()))[0]
        groups = (first, "severe_disability") if first == "destitute" and rng.random() < 0.3 else (first,)
    elif roll < 0.45:
        scheme = "employee"
    else:
        scheme = "resident"
    retiree = scheme == "employee" and rng.random() < 0.25
    if retiree:
        birth = random_day(rng, date(1945, 1, 1), date(1965, 12, 31))
    elif scheme == "employee":
        birth = random_day(rng, date(1962, 1, 1), date(2004, 12, 31))
    elif "orphan" in groups:
        birth = random_day(rng, date(2009, 1, 1), date(2022, 12, 31))
    else:
        birth = random_day(rng, date(1938, 1, 1), date(2024, 6, 30))
    name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
    return PersonPlan(
        index=index,
        birth=birth,
        gender=rng.choice("MF"),
        name=name,
        scheme=scheme,
        retiree=retiree,
        groups=groups,
        account_fen=rng.randint(20_000, 300_000) if scheme == "employee" else 0,
        continuous_years=rng.randint(0, 12),
        zero_claim_credit_fen=rng.choice((0, 0, 0, 300_000, 600_000)) if scheme == "resident" else 0,
        filed=rng.random() < 0.05,
    )


class Registrar:
    """Registers planned people through the admin API.

    Why a class: the ID numbers taken so far (this run and, via 409, earlier runs) and
    the admin client are shared by every concurrent registration.
    """

    def __init__(self, client: httpx.AsyncClient, admin_token: str, seed: int) -> None:
        self.client = client
        self.headers = bearer(admin_token)
        self.seed = seed
        self.taken: set[str] = set()

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(API + path, json=body, headers=self.headers)

    async def register(self, plan: PersonPlan) -> Person:
        id_number = await self._create(plan)
        for group in plan.groups:
            body = {"group": group, "valid_from": COVERAGE_START.isoformat()}
            expect_status(await self.post(f"/persons/{id_number}/groups", body), 201)
        expect_status(await self.post("/enrolments", self._enrolment(plan, id_number)), 201)
        if plan.account_fen:
            credit = {"amount": to_wire(plan.account_fen), "reference": f"SIM-INIT-{id_number}-{YEAR}"}
            expect_status(await self.post(f"/accounts/{id_number}/credits", credit), 201)
        if plan.filed:
            filing = {
                "id_number": id_number,
                "to_region": CITY_REGION,
                "valid_from": COVERAGE_START.isoformat(),
                "valid_to": f"{YEAR}-12-31",
            }
            expect_status(await self.post("/filings", filing), 201)
        return Person(
            index=plan.index,
            id_number=id_number,
            birth=plan.birth,
            gender=plan.gender,
            scheme=plan.scheme,
            groups=plan.groups,
            filed=plan.filed,
            account_fen=plan.account_fen,
        )

    async def _create(self, plan: PersonPlan) -> str:
        """Register under a fresh ID; on 409 DUPLICATE (an earlier run) draw another one."""
        for attempt in range(50):
            rng = random.Random(f"{self.seed}:{plan.index}:{attempt}")
            id_number = candidate_id(rng, plan.birth, plan.gender)
            if id_number in self.taken:
                continue
            self.taken.add(id_number)
            body = {"id_number": id_number, "name": plan.name, "region": REGION}
            response = await self.post("/persons", body)
            if response.status_code == 409 and error_code(409, json_of(response)) == "DUPLICATE":
                continue
            expect_status(response, 201)
            return id_number
        raise SetupFailed(f"no free ID number for person {plan.index} born {plan.birth}")

    @staticmethod
    def _enrolment(plan: PersonPlan, id_number: str) -> dict[str, Any]:
        return {
            "id_number": id_number,
            "scheme": plan.scheme,
            "year": YEAR,
            "coverage_start": COVERAGE_START.isoformat(),
            "retiree": plan.retiree,
            "continuous_years": plan.continuous_years,
            "zero_claim_credit": to_wire(plan.zero_claim_credit_fen),
        }

    async def bind(self, holder: Person, relative: Person) -> None:
        body = {
            "holder_id_number": holder.id_number,
            "relative_id_number": relative.id_number,
            "relation": relation(holder, relative),
        }
        expect_status(await self.post("/family-bindings", body), 201)
        relative.payer = holder.id_number


def relation(holder: Person, relative: Person) -> str:
    """Spouse, parent or child, from the age gap (a binding only needs to be plausible)."""
    gap = (relative.birth - holder.birth).days // 365
    if gap >= 18:
        return "child"
    if gap <= -18:
        return "parent"
    return "spouse"


def family_pairs(rng: random.Random, people: list[Person]) -> list[tuple[Person, Person]]:
    """A few employees with an account bind a resident relative (~4% of people)."""
    holders = [p for p in people if p.scheme == "employee" and p.account_fen]
    relatives = [p for p in people if p.scheme == "resident"]
    if not holders or not relatives:
        return []
    wanted = min(len(relatives), max(1, len(people) // 25))
    return [(rng.choice(holders), r) for r in rng.sample(relatives, wanted)]


async def issue_keys(client: httpx.AsyncClient, admin_token: str) -> dict[str, str]:
    """One institution key per site, as each HIS/POS would be provisioned."""
    keys: dict[str, str] = {}
    for site in SITES:
        response = await client.post(f"{API}/institutions/{site.code}/keys", headers=bearer(admin_token))
        keys[site.code] = str(expect_status(response, 201)["key"])
    return keys


async def register_people(
    client: httpx.AsyncClient,
    admin_token: str,
    rng: random.Random,
    count: int,
    concurrency: int,
    seed: int,
    done: Callable[[], None] = lambda: None,
) -> list[Person]:
    plans = [plan_person(rng, i) for i in range(count)]
    registrar = Registrar(client, admin_token, seed)
    people: list[Person] = []

    async def one(plan: PersonPlan) -> None:
        people.append(await registrar.register(plan))

    await drain(plans, one, concurrency, done)
    people.sort(key=lambda p: p.index)  # completion order varies; the bills must not
    for holder, relative in family_pairs(rng, people):
        await registrar.bind(holder, relative)
    return people


# ---------------------------------------------------------------- bills


class TraceCodes:
    """20-digit traceability codes, unique in this run (run tag + counter)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.counter = 0

    def take(self, count: int) -> list[str]:
        codes = [f"{self.tag}{self.counter + i:010d}" for i in range(count)]
        self.counter += count
        return codes


class FeeLines:
    """The fee lines of one bill: numbered, priced, with a trace code for every box."""

    def __init__(self, rng: random.Random, codes: TraceCodes, shelf: Shelf) -> None:
        self.rng = rng
        self.codes = codes
        self.shelf = shelf
        self.lines: list[dict[str, Any]] = []
        self.total_fen = 0

    def add(self, item: str, qty: int, day: date, *, days_supply: int | None = None, price: int | None = None) -> None:
        unit = price if price is not None else self.shelf.unit_price(self.rng, item)
        line: dict[str, Any] = {
            "line_no": len(self.lines) + 1,
            "item_code": item,
            "quantity": str(qty),
            "unit_price": to_wire(unit),
            "service_date": day.isoformat(),
        }
        if days_supply is not None:
            line["days_supply"] = days_supply
        if item in self.shelf.traced:
            line["trace_codes"] = self.codes.take(qty)
        self.lines.append(line)
        self.total_fen += qty * unit


@dataclass
class Scenario:
    """One bill as an HIS/POS would send it, what should happen, and what follows it."""

    number: int
    site: Site
    body: dict[str, Any]
    key: str
    expect: str = "settled"  # or the error code a deliberate refusal must get
    follow_up: str | None = None  # "retry" (sequential), "twin" (concurrent retry), "cancel"


@dataclass
class BillFactory:
    """Builds realistic bills from the seed: who, where, when, which lines."""

    rng: random.Random
    people: list[Person]
    tag: str
    shelf: Shelf
    codes: TraceCodes = field(init=False)

    def __post_init__(self) -> None:
        self.codes = TraceCodes(self.tag)

    def lines(self) -> FeeLines:
        return FeeLines(self.rng, self.codes, self.shelf)

    def body(
        self, number: int, person: Person, visit_type: str, day: date, fees: FeeLines, **extra: Any
    ) -> dict[str, Any]:
        prefix = {"outpatient": "MZ", "chronic_outpatient": "MB", "inpatient": "ZY", "pharmacy": "LS"}
        return {
            "id_number": person.id_number,
            "visit_no": f"{prefix[visit_type]}{self.tag}{number:06d}",
            "visit_type": visit_type,
            "service_date": day.isoformat(),
            "lines": fees.lines,
            **self.account(person),
            **extra,
        }

    def account(self, person: Person) -> dict[str, Any]:
        """Employees mostly pay from their account; a bound relative sometimes pays instead."""
        if person.scheme == "employee" and self.rng.random() < 0.8:
            return {"use_personal_account": True}
        if person.payer is not None and self.rng.random() < 0.6:
            return {"use_personal_account": True, "account_payer_id_number": person.payer}
        return {}

    def scenario(self, number: int) -> Scenario:
        """Mostly outpatient at village/township clinics, then pharmacy, chronic, ~10% inpatient."""
        person = self.rng.choice(self.people)
        day = random_day(self.rng, FIRST_DAY, LAST_DAY)
        roll = self.rng.random()
        if roll < 0.55:
            site, body = self.outpatient(number, person, day)
        elif roll < 0.75:
            site, body = self.pharmacy(number, person, day)
        elif roll < 0.90:
            # the chronic tier needs a recognition valid on the service date (DOMAIN §9); one is
            # valid from its approval, and the simulated days are past: the gate must refuse them
            site, body = self.chronic(number, person, day)
            key = f"{site.code}-{self.tag}-{number:06d}"
            return Scenario(number, site, body, key=key, expect="CHRONIC_NOT_RECOGNISED")
        else:
            site, body = self.inpatient(number, person, day)
        return Scenario(number, site, body, key=f"{site.code}-{self.tag}-{number:06d}")

    def outpatient(self, number: int, person: Person, day: date) -> tuple[Site, dict[str, Any]]:
        site = self.rng.choices((VILLAGE, TOWNSHIP, *COUNTY), weights=(45, 40, 8, 7))[0]
        fees = self.lines()
        for item in self.rng.choices(("S-BLRT", "S-ACUP", "D-AMOX-250"), k=self.rng.randint(1, 4)):
            if item == "D-AMOX-250":
                fees.add(item, self.rng.randint(1, 2), day, days_supply=self.rng.randint(3, 7))
            else:
                fees.add(item, 1, day)
        diagnosis = "M54.5" if any(ln["item_code"] == "S-ACUP" for ln in fees.lines) else "J06.9"
        return site, self.body(number, person, "outpatient", day, fees, diagnoses=[diagnosis])

    def pharmacy(self, number: int, person: Person, day: date) -> tuple[Site, dict[str, Any]]:
        age = age_on(person.birth, day)
        on_offer = ["D-AMOX-250", "D-METF-500", "D-ATOR-20", "D-VITC-100"]
        if age <= 14:
            on_offer = ["D-PEDC-10", "D-AMOX-250", "D-VITC-100"]
        elif person.gender == "M" and age >= 50:
            on_offer.append("D-TAMS-02")
        fees = self.lines()
        for item in self.rng.sample(on_offer, self.rng.randint(1, min(3, len(on_offer)))):
            fees.add(item, self.rng.randint(1, 3), day, days_supply=7 if item in self.shelf.traced else None)
        return PHARMACY, self.body(number, person, "pharmacy", day, fees)

    def chronic(self, number: int, person: Person, day: date) -> tuple[Site, dict[str, Any]]:
        """Diabetes follow-up at levels 1–2, or a dialysis session at level ≥ 2."""
        fees = self.lines()
        if self.rng.random() < 0.25:
            site = self.rng.choice((*COUNTY, CITY) if person.filed else COUNTY)
            fees.add("S-HDLY", 1, day)
            return site, self.body(number, person, "chronic_outpatient", day, fees, diagnoses=["N18.5"])
        site = self.rng.choice((TOWNSHIP, *COUNTY))
        fees.add("D-METF-500", self.rng.randint(1, 3), day, days_supply=self.rng.choice((30, 60, 84)))
        if self.rng.random() < 0.4:
            fees.add("D-INSG-300", self.rng.randint(1, 2), day, days_supply=30)
        if self.rng.random() < 0.3:
            fees.add("D-ATOR-20", 1, day, days_supply=28)
        return site, self.body(number, person, "chronic_outpatient", day, fees, diagnoses=["E11.9"])

    def inpatient(self, number: int, person: Person, day: date) -> tuple[Site, dict[str, Any]]:
        """A 3–20 day stay at level 2/3: bed, nursing, CT, antibiotics, maybe surgery/stent."""
        site = CITY if self.rng.random() < (0.5 if person.filed else 0.1) else self.rng.choice(COUNTY)
        days = self.rng.randint(3, 20)
        discharged = max(day, COVERAGE_START + timedelta(days=days + 1))
        admitted = discharged - timedelta(days=days)
        fees = self.lines()
        fees.add("S-BED-2", days, admitted)
        fees.add("S-NURS-1", days, admitted)
        fees.add("S-CTHD", 1, admitted + timedelta(days=1))
        fees.add("D-CEFT-1G", 2 * min(days, 7), admitted + timedelta(days=1))
        diagnoses, procedures = self.treatment(fees, admitted)
        if self.rng.random() < 0.15:
            self.fill_to(fees, self.rng.randint(20_000, 150_000) * 100, admitted + timedelta(days=2))
        body = self.body(
            number,
            person,
            "inpatient",
            discharged,
            fees,
            diagnoses=diagnoses,
            procedures=procedures,
            admitted_on=admitted.isoformat(),
            discharged_on=discharged.isoformat(),
        )
        return site, body

    def treatment(self, fees: FeeLines, admitted: date) -> tuple[list[str], list[str]]:
        """Diagnosis and procedure that match a DIP group, with the lines they imply."""
        roll = self.rng.random()
        surgery_day = admitted + timedelta(days=1)
        if roll < 0.25:
            fees.add("S-APPX", 1, surgery_day)
            return ["K35.8"], ["47.0901"]
        if roll < 0.40:
            fees.add("M-STNT", self.rng.randint(1, 2), surgery_day)
            return ["I25.1"], ["36.0601"]
        if roll < 0.50:
            fees.add("S-MRI", 1, surgery_day)
            return ["I63.9"], []
        return ["J18.9"], []

    def fill_to(self, fees: FeeLines, target_fen: int, day: date) -> None:
        """Add high-cost lines (imaging, stents, lenses) until the bill reaches the target.

        Why: only bills of tens of thousands of yuan push a year's self-pay over the
        critical-illness threshold, which is the tier this exercises.
        """
        for item in ("S-MRI", "M-STNT", "M-LENS"):
            remaining = target_fen - fees.total_fen
            if remaining <= 0:
                return
            price = self.shelf.unit_price(self.rng, item)
            share = remaining // 3 if item != "M-LENS" else remaining
            fees.add(item, max(1, -(-share // price)), day, price=price)

    def unknown_item(self, number: int) -> Scenario:
        """A clinic sends a local code missing from the catalogue: UNKNOWN_ITEM."""
        person = self.rng.choice(self.people)
        site, body = self.outpatient(number, person, random_day(self.rng, FIRST_DAY, LAST_DAY))
        body["lines"].append(
            {
                "line_no": len(body["lines"]) + 1,
                "item_code": UNKNOWN_ITEM,
                "quantity": "1",
                "unit_price": "15.00",
                "service_date": body["service_date"],
            }
        )
        key = f"{site.code}-{self.tag}-{number:06d}"
        return Scenario(number, site, body, key=key, expect="UNKNOWN_ITEM")

    def resold_box(self, number: int, settled: SettledBill) -> Scenario:
        """The same drug box sold again at the pharmacy: TRACE_CODE_ALREADY_SETTLED."""
        person = next(p for p in self.people if p.id_number == settled.id_number)
        fees = self.lines()
        fees.add("D-AMOX-250", 1, settled.service_date, days_supply=5)
        fees.lines[0]["trace_codes"] = [settled.trace_code]
        body = self.body(number, person, "pharmacy", settled.service_date, fees)
        key = f"{PHARMACY.code}-{self.tag}-{number:06d}"
        return Scenario(number, PHARMACY, body, key=key, expect="TRACE_CODE_ALREADY_SETTLED")


def rare_count(bills: int) -> int:
    """How many of each deliberate refusal: ~0.5% of the bills, at least one in a real run."""
    return max(1, bills // 200) if bills >= 20 else 0


def plan_bills(factory: BillFactory, count: int) -> list[Scenario]:
    """``count`` bills; a few deliberate refusals, HIS retries and cancels at fixed rates."""
    unknown = set(factory.rng.sample(range(count), rare_count(count)))
    scenarios = [factory.unknown_item(i) if i in unknown else factory.scenario(i) for i in range(count)]
    plain = [s for s in scenarios if s.expect == "settled"]
    chosen = factory.rng.sample(plain, min(len(plain), count // 50 + count // 100 + count * 3 // 100))
    retries, twins = count // 50, count // 100
    for i, scenario in enumerate(chosen):
        scenario.follow_up = "retry" if i < retries else "twin" if i < retries + twins else "cancel"
    return scenarios


# ---------------------------------------------------------------- checking answers


TOTAL_PARTS = (
    "total",
    "full_self_pay",
    "over_cap_self_pay",
    "pre_self_pay",
    "policy_range",
    "deductible",
    "basic_fund",
    "critical_illness",
    "medical_assistance",
    "fund_total",
    "personal_part",
    "personal_account",
    "cash",
)
SUMMED = ("total", "basic_fund", "critical_illness", "medical_assistance", "personal_account", "cash")


def totals_fen(body: dict[str, Any]) -> dict[str, int]:
    return {k: int(yuan_to_fen(body["totals"][k])) for k in TOTAL_PARTS}


def identity_breaks(body: dict[str, Any]) -> list[str]:
    """Which of the identities of DOMAIN.md §4 this answer breaks (must be none)."""
    t = totals_fen(body)
    checks = {
        "total = fund_total + personal_part": t["total"] == t["fund_total"] + t["personal_part"],
        "fund_total = basic + critical + assistance": t["fund_total"]
        == t["basic_fund"] + t["critical_illness"] + t["medical_assistance"],
        "total = full + over_cap + pre + policy_range": t["total"]
        == t["full_self_pay"] + t["over_cap_self_pay"] + t["pre_self_pay"] + t["policy_range"],
        "personal_part = account + cash": t["personal_part"] == t["personal_account"] + t["cash"],
        "no negative part": min(t.values()) >= 0,
        "lines add up to total": sum(int(yuan_to_fen(ln["amount"])) for ln in body["lines"]) == t["total"],
    }
    return [name for name, ok in checks.items() if not ok]


@dataclass(frozen=True)
class SettledBill:
    """What a later scenario needs of a bill that stayed settled."""

    settlement_id: str
    id_number: str
    service_date: date
    trace_code: str


@dataclass
class Tally:
    """Everything the report says, filled in as answers arrive."""

    outcomes: Counter[str] = field(default_factory=Counter)
    visit_types: Counter[str] = field(default_factory=Counter)
    open_totals: dict[str, dict[str, int]] = field(default_factory=dict)
    traced: dict[str, SettledBill] = field(default_factory=dict)
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    replay_mismatches: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    requests: int = 0

    def check(self, scenario: Scenario, body: dict[str, Any]) -> bool:
        """Record every broken identity; False when the body is not a settlement at all."""
        self.checked += 1
        try:
            broken = identity_breaks(body)
        except (KeyError, TypeError, ValueError) as exc:
            broken = [f"malformed settlement body ({exc!r})"]
        for name in broken:
            self.violations.append(f"bill {scenario.number} {body.get('settlement_id')}: {name}")
        return not any(name.startswith("malformed") for name in broken)

    def unexpected_answer(self, scenario: Scenario, got: str, detail: str) -> None:
        self.unexpected.append(
            f"bill {scenario.number} ({scenario.body['visit_type']} at {scenario.site.code}): "
            f"expected {scenario.expect}, got {got}: {detail[:300]}"
        )


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    replayed: bool
    text: str


class Driver:
    """Sends scenarios as the institutions' systems would and records what came back."""

    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str], tally: Tally) -> None:
        self.client = client
        self.keys = keys
        self.tally = tally

    async def post(self, site: Site, path: str, **kwargs: Any) -> Reply:
        headers = {**bearer(self.keys[site.code]), **kwargs.pop("headers", {})}
        self.tally.requests += 1
        response = await self.client.post(API + path, headers=headers, **kwargs)
        body = json_of(response)
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return Reply(response.status_code, body if isinstance(body, dict) else {}, replayed, response.text)

    async def settle(self, scenario: Scenario) -> Reply:
        headers = {"Idempotency-Key": scenario.key}
        return await self.post(scenario.site, "/settlements", json=scenario.body, headers=headers)

    async def run(self, scenario: Scenario) -> None:
        """One scenario; a transport failure is recorded, not raised, so the run goes on."""
        try:
            await self._run(scenario)
        except httpx.HTTPError as exc:
            self.tally.outcomes["transport error"] += 1
            self.tally.unexpected_answer(scenario, "transport error", repr(exc))

    async def _run(self, scenario: Scenario) -> None:
        if scenario.follow_up == "twin":
            await self._twin(scenario)
            return
        first = await self.settle(scenario)
        self.record(scenario, first)
        if first.status != 201:
            return
        if scenario.follow_up == "retry":
            again = await self.settle(scenario)
            self.record(scenario, again)
            self.compare(scenario, first, again)
        elif scenario.follow_up == "cancel":
            await self.cancel(scenario, first.body["settlement_id"])

    async def _twin(self, scenario: Scenario) -> None:
        """An HIS that times out and resends at once: both answers must be the same bill."""
        one, two = await asyncio.gather(self.settle(scenario), self.settle(scenario))
        self.record(scenario, one)
        self.record(scenario, two)
        if one.status == two.status == 201:
            self.compare(scenario, one, two)
            if one.replayed == two.replayed:
                self.tally.replay_mismatches.append(
                    f"bill {scenario.number}: concurrent twins both replayed={one.replayed}"
                )

    def compare(self, scenario: Scenario, first: Reply, again: Reply) -> None:
        if first.body != again.body:
            self.tally.replay_mismatches.append(f"bill {scenario.number}: retry body differs from the first answer")
        if not again.replayed and not first.replayed:
            self.tally.replay_mismatches.append(f"bill {scenario.number}: retry not marked replayed")

    async def cancel(self, scenario: Scenario, settlement_id: str) -> None:
        reply = await self.post(scenario.site, f"/settlements/{settlement_id}/cancel")
        if reply.status >= 500:
            self.server_error(scenario, reply)
            return
        if reply.status != 200:
            self.tally.outcomes[f"cancel refused {error_code(reply.status, reply.body)}"] += 1
            self.tally.unexpected_answer(scenario, f"cancel {reply.status}", reply.text)
            return
        self.tally.check(scenario, reply.body)
        self.tally.outcomes["cancelled"] += 1
        self.tally.open_totals.pop(settlement_id, None)
        self.tally.traced.pop(settlement_id, None)

    def record(self, scenario: Scenario, reply: Reply) -> None:
        if reply.status >= 500:
            self.server_error(scenario, reply)
        elif reply.status == 201:
            self.accepted(scenario, reply)
        else:
            code = error_code(reply.status, reply.body)
            self.tally.outcomes[f"refused {code}"] += 1
            if code != scenario.expect:
                self.tally.unexpected_answer(scenario, code, reply.text)

    def accepted(self, scenario: Scenario, reply: Reply) -> None:
        if not self.tally.check(scenario, reply.body):
            self.tally.outcomes["malformed answer"] += 1
            return
        if scenario.expect != "settled":
            self.tally.unexpected_answer(scenario, "settled", reply.text)
        if reply.replayed:
            self.tally.outcomes["replayed"] += 1
            return
        self.tally.outcomes["settled"] += 1
        self.tally.visit_types[scenario.body["visit_type"]] += 1
        settlement_id = str(reply.body["settlement_id"])
        self.tally.open_totals[settlement_id] = totals_fen(reply.body)
        codes = [c for ln in scenario.body["lines"] for c in ln.get("trace_codes", [])]
        if codes:
            self.tally.traced[settlement_id] = SettledBill(
                settlement_id,
                scenario.body["id_number"],
                date.fromisoformat(scenario.body["service_date"]),
                codes[0],
            )

    def server_error(self, scenario: Scenario, reply: Reply) -> None:
        self.tally.outcomes[f"server error {reply.status}"] += 1
        self.tally.server_errors.append(f"bill {scenario.number}: {reply.status} {reply.text[:300]}")


# ---------------------------------------------------------------- the run and its report


async def run(
    base_url: str,
    admin_token: str,
    persons: int,
    bills: int,
    concurrency: int,
    seed: int,
    catalogue: Mapping[str, CatalogueItem],
    *,
    show_progress: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """Set up institutions and people, post the bills priced from ``catalogue``, and return the
    report lines. ``transport``: another way to reach the API (tests), still rate-limit patient."""
    rng = random.Random(seed)
    tag = f"{secrets.randbelow(10**10):010d}"
    limits = httpx.Limits(max_connections=2 * concurrency + 4, max_keepalive_connections=2 * concurrency + 4)
    patient = patient_transport(limits, transport)
    with progress_bar(show_progress) as bar:
        async with httpx.AsyncClient(base_url=base_url, timeout=60.0, transport=patient) as client:
            setup_started = time.perf_counter()
            keys = await issue_keys(client, admin_token)
            registering = bar.add_task("registering people", total=persons)
            people = await register_people(
                client, admin_token, rng, persons, concurrency, seed, lambda: bar.advance(registering)
            )
            setup_seconds = time.perf_counter() - setup_started
            if not people:
                return ["no people registered: nothing to simulate (use --persons ≥ 1)"]

            factory = BillFactory(rng, people, tag, Shelf.of(catalogue))
            resold = rare_count(bills)
            scenarios = plan_bills(factory, bills - resold)
            tally = Tally()
            driver = Driver(client, keys, tally)
            posting = bar.add_task("posting bills", total=bills)
            started = time.perf_counter()
            await drain(scenarios, driver.run, concurrency, lambda: bar.advance(posting))
            # only now are the boxes surely settled (and not cancelled): resell a few of them
            sources = sorted(tally.traced.values(), key=lambda s: s.settlement_id)
            reused = [factory.resold_box(bills - resold + i, s) for i, s in enumerate(sources[:resold])]
            await drain(reused, driver.run, concurrency, lambda: bar.advance(posting))
            elapsed = time.perf_counter() - started

    return report(people, setup_seconds, len(scenarios) + len(reused), concurrency, elapsed, tally, seed)


def report(
    people: list[Person],
    setup_seconds: float,
    posted: int,
    concurrency: int,
    elapsed: float,
    tally: Tally,
    seed: int,
) -> list[str]:
    """Counts by outcome, throughput, and the money sums an operator can reconcile against."""
    schemes = Counter(p.scheme for p in people)
    lines = [
        f"simulate (seed {seed}): {len(people)} people — {schemes['resident']} resident, "
        f"{schemes['employee']} employee, {sum(1 for p in people if p.groups)} in special groups, "
        f"{sum(1 for p in people if p.filed)} filed to {CITY_REGION}, "
        f"{sum(1 for p in people if p.payer)} family bindings — set up in {setup_seconds:.1f} s",
        f"bills: {posted} posted ({tally.requests} requests incl. retries and cancels), "
        f"concurrency {concurrency}, {elapsed:.1f} s, {posted / elapsed if elapsed else 0:.1f} bills/s",
        "outcomes:",
    ]
    order = ["settled", "replayed", "cancelled"]
    for name in order + sorted(k for k in tally.outcomes if k not in order):
        lines.append(f"  {name:<40}{tally.outcomes[name]:>8}")
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(tally.visit_types.items()))
    lines.append(f"settled by visit type: {by_type or '-'}")
    lines.append(f"sums over {len(tally.open_totals)} settled, not cancelled bills (yuan):")
    for part in SUMMED:
        amount = sum(t[part] for t in tally.open_totals.values())
        lines.append(f"  {part:<24}{to_wire(amount):>20}")
    lines.append(
        f"identity violations: {len(tally.violations)} (checked {tally.checked} answers); "
        f"replay mismatches: {len(tally.replay_mismatches)}; "
        f"unexpected outcomes: {len(tally.unexpected)}; server errors: {len(tally.server_errors)}"
    )
    for problem in (tally.violations + tally.replay_mismatches + tally.unexpected + tally.server_errors)[:20]:
        lines.append(f"  ! {problem}")
    return lines
