"""Login, refresh, logout (this session or all of them), password, me."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from watchkeeper.api.deps import Context, CurrentPrincipal
from watchkeeper.api.schemas.auth import (
    LoginRequest,
    Me,
    PasswordChange,
    RefreshRequest,
    SecondFactorLogin,
    TokenResponse,
    TwoFactorChallenge,
)
from watchkeeper.auth.service import AuthError, Challenge, TokenPair
from watchkeeper.auth.tokens import InvalidTokenError
from watchkeeper.db.tables import Tenant, User
from watchkeeper.observability.metrics import LOGINS

router = APIRouter(prefix="/auth", tags=["auth"])


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        tenant=pair.tenant_name,
        role=pair.role,
        password_change_required=pair.password_change_required,
        restriction=pair.restriction,
    )


def _logged_in(request: Request, pair: TokenPair) -> TokenResponse:
    """A login's last step, whichever factor ended it: counted, audited under its tenant."""
    LOGINS.labels("success").inc()
    request.state.audit_tenant_id = pair.tenant_id
    return _tokens(pair)


def client_ip(request: Request) -> str:
    """The caller's address as the request middleware resolved it (trusted proxies applied)."""
    address = request.scope.get("state", {}).get("client_ip")
    if address:
        return str(address)
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    response_model=TokenResponse | TwoFactorChallenge,
    summary="Log in; get an access and a refresh token (or a 2FA challenge)",
)
async def login(
    body: LoginRequest, request: Request, context: Context
) -> TokenResponse | TwoFactorChallenge:
    address = client_ip(request)
    request.state.audit_actor_name = body.username
    try:
        result = await run_in_threadpool(
            context.auth.login, body.username, body.password, body.tenant, address
        )
    except AuthError:
        LOGINS.labels("failure").inc()
        raise
    if isinstance(result, Challenge):
        LOGINS.labels("second_factor").inc()
        return TwoFactorChallenge(
            challenge_token=result.challenge_token, expires_in=result.expires_in
        )
    return _logged_in(request, result)


@router.post(
    "/login/2fa",
    response_model=TokenResponse,
    summary="Second login step: the challenge and a TOTP or recovery code; get the tokens",
)
async def login_second_factor(
    body: SecondFactorLogin, request: Request, context: Context
) -> TokenResponse:
    try:
        pair = await run_in_threadpool(
            context.auth.login_second_factor, body.challenge_token, body.code, client_ip(request)
        )
    except (AuthError, InvalidTokenError):
        LOGINS.labels("failure").inc()
        raise
    return _logged_in(request, pair)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    summary="Rotate the refresh token; get a new access token",
)
async def refresh(body: RefreshRequest, request: Request, context: Context) -> TokenResponse:
    pair = await run_in_threadpool(context.auth.refresh, body.refresh_token)
    request.state.audit_tenant_id = pair.tenant_id
    return _tokens(pair)


@router.post(
    "/logout", status_code=204, summary="Revoke this login's session (all its refresh tokens)"
)
async def logout(principal: CurrentPrincipal, context: Context) -> Response:
    await run_in_threadpool(context.auth.logout, principal)
    return Response(status_code=204)


@router.post(
    "/logout-all",
    status_code=204,
    summary="End every session of the caller, in every tenant (this one too)",
)
async def logout_all(principal: CurrentPrincipal, context: Context) -> Response:
    await run_in_threadpool(context.auth.logout_all, principal)
    return Response(status_code=204)


@router.post(
    "/password",
    status_code=204,
    summary="Change your own password; every session ends, log in again",
)
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, context: Context
) -> Response:
    if principal.kind != "user":
        raise AuthError("API keys have no password")
    await run_in_threadpool(
        context.auth.change_password, principal.id, body.current_password, body.new_password
    )
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="Who am I, in which tenant, with which permissions")
def me(principal: CurrentPrincipal, context: Context) -> Me:
    with context.sessions.system("me") as db:
        tenant = db.get(Tenant, principal.tenant_id)
        user = (
            db.scalar(select(User).where(User.id == principal.id))
            if principal.kind == "user"
            else None
        )
    return Me(
        kind=principal.kind,
        id=principal.id,
        name=user.username if user else principal.name,
        tenant_id=principal.tenant_id,
        tenant=tenant.name if tenant else "",
        role=principal.role,
        scopes=list(principal.scopes),
        superadmin=principal.superadmin,
        permissions=sorted(principal.permissions),
        password_change_required=bool(user and user.password_change_required),
        restriction=principal.restriction,
    )
