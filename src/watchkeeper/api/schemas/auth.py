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
    restriction: str | None = Field(
        None,
        description="set while this login may only change its password or enrol in 2FA",
    )


class TwoFactorChallenge(BaseModel):
    """`POST /auth/login` for a user with two-factor login: send the challenge and a code to
    `POST /auth/login/2fa` to get the tokens."""

    two_factor_required: bool = True
    challenge_token: str
    expires_in: int


class SecondFactorLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_token: str = Field(min_length=1, max_length=2048)
    code: str = Field(
        min_length=6, max_length=32, description="a 6-digit TOTP code or a recovery code"
    )


class TwoFactorSetup(BaseModel):
    secret: str = Field(description="base32 TOTP secret, for manual entry")
    otpauth_uri: str = Field(description="otpauth:// URI, for a QR code")


class TwoFactorCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=6, max_length=32)


class TwoFactorEnabled(BaseModel):
    recovery_codes: list[str] = Field(description="one-time codes; shown only now")


class TwoFactorDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=6, max_length=32, description="a TOTP code or a recovery code")


class TwoFactorStatus(BaseModel):
    enabled: bool
    recovery_codes_left: int


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
    restriction: str | None = None
