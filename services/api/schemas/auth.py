from __future__ import annotations

from datetime import datetime

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
    locked_until: datetime | None
    created_at: datetime


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class KeyRead(BaseModel):
    key_id: str = Field(description="first 12 characters of the key; X-Yibao-Key of signed requests")
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(BaseModel):
    institution_code: str
    key_id: str
    key: str = Field(description="shown once: store it in the HIS configuration")
