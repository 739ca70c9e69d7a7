from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Day, MoneyIn, MoneyOut, PositiveMoney, Strict
from yibao.money import to_wire

if TYPE_CHECKING:
    from yibao.accounts.orm import InheritanceClosingRow
    from yibao.accounts.service import Credited, Inheritance
    from yibao.enrolment.orm import EnrolmentRow
    from yibao.people.orm import FilingRow, PersonRow
    from yibao.people.service import PersonChange

IdNumber = Annotated[str, Field(min_length=1, max_length=18, examples=["430522199001011235"])]
Region = Annotated[str, Field(pattern=r"^\d{6}$", examples=["430522"])]
#: a group code of the person's region policy (``groups`` section; an unknown one is UNKNOWN_GROUP)
Group = Annotated[str, Field(min_length=1, max_length=30, examples=["min_living"])]


class PersonCreate(Strict):
    #: the example a clerk sees first: a living person (a death is usually reported later)
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"id_number": "430522199001011235", "name": "张三", "region": "430522"}]},
    )

    id_number: IdNumber
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["张三"])]
    region: Region
    death_date: Day | None = Field(default=None, description="only for someone registered already deceased")


class PersonRead(BaseModel):
    id_number: str = Field(description="full ID: staff only")
    name: str
    region: str
    birth_date: date
    gender: Literal["M", "F"]
    death_date: date | None

    @classmethod
    def of(cls, p: PersonRow) -> PersonRead:
        return cls(
            id_number=p.id_number,
            name=p.name,
            region=p.region,
            birth_date=p.birth_date,
            gender=cast(Literal["M", "F"], p.gender),
            death_date=p.death_date,
        )


class PersonPatch(Strict):
    """Only the fields given change; ``death_date: null`` clears a recorded death (with a reason)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"death_date": "2026-11-01", "reason": "公安死亡信息比对 public-security death registry"},
                {"name": "张三丰", "region": "430100"},
                {"death_date": None, "reason": "误报死亡，家属持身份证到柜台核实 reported in error"},
            ]
        },
    )

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    region: Region | None = None
    death_date: Day | None = Field(default=None, description="set, correct, or clear (null) the death date")
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="why; required to correct or clear a recorded death date"
    )


class SettledAfterDeathRead(BaseModel):
    settlement_id: str
    institution_code: str
    service_date: date


class FieldChange(BaseModel):
    before: str | None
    after: str | None


class PersonChangeRead(BaseModel):
    person: PersonRead
    changes: dict[str, FieldChange] = Field(description="only the fields that changed (empty: nothing did)")
    settled_after_death: list[SettledAfterDeathRead] = Field(
        description="bills already settled for a service date after the death date"
    )
    suspects_raised: int = Field(description="claims_after_death suspects this change raised at once")

    @classmethod
    def of(cls, c: PersonChange) -> PersonChangeRead:
        def s(v: object) -> str | None:
            return None if v is None else str(v)

        return cls(
            person=PersonRead.of(c.person),
            changes={k: FieldChange(before=s(b), after=s(a)) for k, (b, a) in c.changes.items()},
            settled_after_death=[
                SettledAfterDeathRead(
                    settlement_id=x.settlement_id, institution_code=x.institution_code, service_date=x.service_date
                )
                for x in c.settled_after_death
            ],
            suspects_raised=c.suspects_raised,
        )


class HistoryEntryRead(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class PersonHistoryRead(BaseModel):
    id_number: str
    entries: list[HistoryEntryRead]


class DeathRowIn(Strict):
    id_number: Annotated[str, Field(max_length=30, examples=["430522199001011235"])]
    name: Annotated[str, Field(max_length=100, examples=["张三"])] = ""
    death_date: Annotated[str, Field(max_length=20, examples=["2026-11-01"], description="YYYY-MM-DD")]


class DeathBatch(Strict):
    """A death registry batch as JSON: each row is classified, a bad value never refuses the file."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "source": "公安 2026-11",
                    "rows": [{"id_number": "430522199001011235", "name": "张三", "death_date": "2026-11-01"}],
                }
            ]
        },
    )

    source: Annotated[str, Field(min_length=1, max_length=100, examples=["公安 2026-11"])]
    rows: Annotated[list[DeathRowIn], Field(min_length=1, max_length=100_000)]


class PersonListed(BaseModel):
    id_number: str = Field(description="full for clerks (and admin), masked for other roles")
    name: str
    region: str
    birth_date: date
    gender: Literal["M", "F"]
    death_date: date | None
    groups: list[str] = Field(description="special groups held today")


class PersonPage(BaseModel):
    items: list[PersonListed]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class GroupCreate(Strict):
    group: Group
    valid_from: Day = Field(examples=["2026-01-01"])
    valid_to: Day | None = None


class GroupRead(BaseModel):
    id: int | None = Field(default=None, description="the tag's id (end it with PATCH …/groups/{id})")
    id_number: str
    group: str
    valid_from: date
    valid_to: date | None


class GroupEnd(Strict):
    valid_to: Day = Field(examples=["2026-11-30"], description="the last day the person holds the group (核减)")


class EnrolmentCreate(Strict):
    id_number: IdNumber
    scheme: Literal["resident", "employee"]
    year: Annotated[int, Field(ge=2000, le=2100, examples=[2026])]
    coverage_start: Day = Field(examples=["2026-01-01"])
    retiree: bool = False
    continuous_years: Annotated[int, Field(ge=0, le=100)] = 0
    zero_claim_credit: MoneyIn = Field(default="0.00")  # type: ignore[assignment]


class EnrolmentRead(BaseModel):
    id_number: str
    scheme: str
    year: int
    coverage_start: date
    retiree: bool
    continuous_years: int
    zero_claim_credit: MoneyOut

    @classmethod
    def of(cls, id_number: str, row: EnrolmentRow) -> EnrolmentRead:
        return cls(
            id_number=id_number,
            scheme=row.scheme,
            year=row.year,
            coverage_start=row.coverage_start,
            retiree=row.retiree,
            continuous_years=row.continuous_years,
            zero_claim_credit=to_wire(row.zero_claim_credit),
        )


class CreditCreate(Strict):
    amount: PositiveMoney
    reference: Annotated[str, Field(min_length=1, max_length=100, examples=["EMP-202603-0001"])]


class CreditRead(BaseModel):
    id_number: str
    amount: MoneyOut
    reference: str
    balance: MoneyOut = Field(description="balance after this credit")
    created: bool = Field(description="false when the reference was already credited (a retry)")

    @classmethod
    def of(cls, c: Credited) -> CreditRead:
        return cls(
            id_number=c.person.id_number,
            amount=to_wire(c.movement.amount),
            reference=c.movement.reference,
            balance=to_wire(c.balance),
            created=c.created,
        )


class FilingCreate(Strict):
    id_number: IdNumber
    to_region: Region
    valid_from: Day
    valid_to: Day | None = None


class FilingRead(BaseModel):
    id_number: str
    to_region: str
    valid_from: date
    valid_to: date | None
    status: str

    @classmethod
    def of(cls, id_number: str, row: FilingRow) -> FilingRead:
        return cls(
            id_number=id_number,
            to_region=row.to_region,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            status=row.status,
        )


class BindingCreate(Strict):
    holder_id_number: IdNumber
    relative_id_number: IdNumber
    relation: Literal["spouse", "parent", "child"]


class BindingRead(BaseModel):
    holder_id_number: str
    relative_id_number: str
    relation: str


class InheritanceRead(BaseModel):
    """A personal account's inheritable balance (the holder's death makes it so)."""

    id_number: str
    death_date: date | None = Field(description="the holder's death date; null while alive")
    balance: MoneyOut = Field(description="the account's balance now")
    inheritable: MoneyOut = Field(description="the whole balance once the holder has died, else 0.00")

    @classmethod
    def of(cls, i: Inheritance) -> InheritanceRead:
        return cls(
            id_number=i.person.id_number,
            death_date=i.person.death_date,
            balance=to_wire(i.balance),
            inheritable=to_wire(i.inheritable),
        )


class InheritanceClosingRead(BaseModel):
    """A closing of a deceased holder's account to the heirs (maker-checker)."""

    closing_id: int
    id_number: str
    amount: MoneyOut = Field(description="the balance asked for, moved out on approval")
    status: Literal["pending", "closed"]
    made_by: str
    approved_by: str | None

    @classmethod
    def of(cls, id_number: str, row: InheritanceClosingRow) -> InheritanceClosingRead:
        return cls(
            closing_id=row.id,
            id_number=id_number,
            amount=to_wire(row.amount),
            status=cast(Literal["pending", "closed"], row.status),
            made_by=row.made_by,
            approved_by=row.approved_by,
        )
