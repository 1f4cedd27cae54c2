"""Tenants, users and API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.auth.rbac import Role, Scope


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63)
    display_name: str = Field("", max_length=200)


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    display_name: str
    disabled: bool
    created_at: datetime
    require_admin_2fa: bool = False


class TenantSecurity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_admin_2fa: bool = Field(
        description="admins of the tenant must log in with a second factor (TOTP)"
    )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = Role.VIEWER
    email: str | None = Field(None, max_length=254)


class UserUpdate(BaseModel):
    """`role` is this tenant's; the other fields change the global account, which only a
    super-admin may do, or this tenant's admin when the account is exclusive to the tenant."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    email: str | None = Field(None, max_length=254)
    password: str | None = Field(
        None, min_length=1, max_length=1024, description="reset; the user must change it"
    )
    superadmin: bool | None = Field(None, description="super-admins only")


class UserPublic(BaseModel):
    id: str
    username: str
    email: str | None
    role: str
    disabled: bool
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: datetime | None = None


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the full key; shown only in this response")
