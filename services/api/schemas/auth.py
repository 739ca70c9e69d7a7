from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=60, examples=["finance.li"])
    password: str = Field(min_length=1, max_length=200, examples=["correct horse battery"])


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds", examples=[900])
    role: str


class StaffCreate(Strict):
    username: str = Field(min_length=2, max_length=60, pattern=r"^[A-Za-z0-9._-]+$", examples=["finance.li"])
    display_name: str = Field(min_length=1, max_length=100, examples=["李会计"])
    role: str = Field(
        examples=["finance"], description="clerk, first_reviewer, second_reviewer, inspector, finance, admin"
    )
    password: str = Field(min_length=10, max_length=200, description="initial password, 10+ characters")


class StaffUpdate(Strict):
    role: str | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200, description="reset the password")


class StaffRead(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class KeyRead(BaseModel):
    key_id: str = Field(
        description="X-Yibao-Key of signed requests: random, independent of the secret (keys issued before "
        "this version keep their old id, the key's first 12 characters)",
        examples=["kid_3f9a0c27d41e"],
    )
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(BaseModel):
    institution_code: str
    key_id: str = Field(description="X-Yibao-Key of signed requests", examples=["kid_3f9a0c27d41e"])
    key: str = Field(description="shown once: store it in the HIS configuration")


class StaffTokenRead(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime
    expires_at: datetime
    renewed_at: datetime | None = Field(description="renewed on purpose: kept although an admin account exists")
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked", "superseded"] = Field(
        description="superseded: an active admin account exists and the token was never renewed, so it is refused"
    )
