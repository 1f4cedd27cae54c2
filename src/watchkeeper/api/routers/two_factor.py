"""Two-factor enrolment of the caller: setup, enable (with a first code), disable, status.

The second login step itself is `POST /auth/login/2fa` in `auth.py`, next to the first.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from watchkeeper.api.deps import Context, CurrentPrincipal
from watchkeeper.api.routers.auth import client_ip
from watchkeeper.api.schemas.auth import (
    TwoFactorCode,
    TwoFactorDisable,
    TwoFactorEnabled,
    TwoFactorSetup,
    TwoFactorStatus,
)
from watchkeeper.auth.principal import Principal
from watchkeeper.auth.service import AuthError

router = APIRouter(prefix="/auth/2fa", tags=["auth"])


def _user_id(principal: Principal) -> str:
    if principal.kind != "user":
        raise AuthError("API keys have no second factor")
    return principal.id


@router.get("", response_model=TwoFactorStatus, summary="Is two-factor login on for me?")
async def status(principal: CurrentPrincipal, context: Context) -> TwoFactorStatus:
    enabled, left = await run_in_threadpool(context.auth.two_factor_status, _user_id(principal))
    return TwoFactorStatus(enabled=enabled, recovery_codes_left=left)


@router.post(
    "/setup",
    response_model=TwoFactorSetup,
    summary="Start enrolment: a new TOTP secret and its otpauth:// URI",
)
async def setup(principal: CurrentPrincipal, context: Context) -> TwoFactorSetup:
    enrolment = await run_in_threadpool(context.auth.two_factor_setup, _user_id(principal))
    return TwoFactorSetup(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post(
    "/enable",
    response_model=TwoFactorEnabled,
    summary="Confirm enrolment with a valid code; get one-time recovery codes",
)
async def enable(
    body: TwoFactorCode, principal: CurrentPrincipal, context: Context
) -> TwoFactorEnabled:
    codes = await run_in_threadpool(context.auth.two_factor_enable, _user_id(principal), body.code)
    return TwoFactorEnabled(recovery_codes=codes)


@router.post(
    "/disable",
    status_code=204,
    summary="Turn two-factor login off (needs the password and a current code)",
)
async def disable(
    body: TwoFactorDisable, request: Request, principal: CurrentPrincipal, context: Context
) -> Response:
    await run_in_threadpool(
        context.auth.two_factor_disable,
        _user_id(principal),
        body.password,
        body.code,
        client_ip(request),
    )
    return Response(status_code=204)
