from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(
        None, max_length=63, description="tenant name; needed when the user belongs to several"
    )


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    tenant: str
    role: str
    password_change_required: bool


class Me(BaseModel):
    kind: str
    id: str
    name: str
    tenant_id: str
    tenant: str
    role: str | None
    scopes: list[str]
    superadmin: bool
    permissions: list[str]
    password_change_required: bool = False
