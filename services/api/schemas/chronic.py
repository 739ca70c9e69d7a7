"""Chronic disease recognitions (门慢门特认定): requests and answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict
from yibao.chronic.service import Application, Evidence

EXAMPLE_APPLICATION: dict[str, Any] = {
    "id_number": "430522199001011235",
    "disease": "HTN",
    "diagnosis": "I10",
    "evidence": [
        {"sha256": "9f" * 32, "name": "门诊病历-20261120.pdf", "type": "medical_record"},
        {"sha256": "3a" * 32, "name": "血压监测记录.jpg", "type": "test_report"},
    ],
}


class EvidenceIn(Strict):
    """A reference to a scanned document held by the document store (the file itself is not sent)."""

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["medical_record", "test_report", "discharge_summary", "prescription", "id_card", "other"]


class RecognitionCreate(Strict):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE_APPLICATION]}}

    id_number: Annotated[str, Field(min_length=1, max_length=18)]
    disease: Annotated[str, Field(min_length=1, max_length=20, description="a code of the policy's `chronic_diseases`")]
    diagnosis: Annotated[
        str, Field(min_length=1, max_length=20, description="ICD-10, under one of the disease's prefixes")
    ]
    evidence: Annotated[list[EvidenceIn], Field(min_length=1, max_length=50)]
    designated_institution: Annotated[str | None, Field(min_length=1, max_length=20)] = None

    def to_command(self) -> Application:
        return Application(
            id_number=self.id_number,
            disease=self.disease,
            diagnosis=self.diagnosis,
            evidence=tuple(Evidence(e.sha256, e.name, e.type) for e in self.evidence),
            designated_institution=self.designated_institution,
        )


class MemberRecognitionCreate(Strict):
    """The member's own application in the app (the person is the token's)."""

    disease: Annotated[str, Field(min_length=1, max_length=20, examples=["DM"])]
    diagnosis: Annotated[str, Field(min_length=1, max_length=20, examples=["E11.9"])]
    evidence: Annotated[list[EvidenceIn], Field(min_length=1, max_length=50)]
    designated_institution: Annotated[str | None, Field(min_length=1, max_length=20)] = None

    def to_command(self) -> Application:
        return Application(
            id_number="",
            disease=self.disease,
            diagnosis=self.diagnosis,
            evidence=tuple(Evidence(e.sha256, e.name, e.type) for e in self.evidence),
            designated_institution=self.designated_institution,
        )


class Reason(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=500, examples=["复审不符合条件 not eligible at re-review"])]


class RecognitionRead(BaseModel):
    id: str
    id_number: str  # masked
    region: str
    disease: str
    disease_name: str | None
    diagnosis: str
    evidence: list[dict[str, str]]
    designated_institution: str | None
    status: Literal["applied", "first_reviewed", "approved", "rejected", "revoked", "expired"]
    filed_by: str
    filed_at: str
    first_reviewed_by: str | None
    first_reviewed_at: str | None
    approved_by: str | None
    approved_at: str | None
    valid_from: str | None
    valid_to: str | None
    closed_by: str | None
    closed_at: str | None
    reason: str | None


class RecognitionPage(BaseModel):
    items: list[RecognitionRead]
