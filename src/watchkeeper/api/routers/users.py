"""Users of the caller's tenant and their roles; global account changes are limited
(auth/users.py says who may change what)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from watchkeeper.api.deps import Context, CurrentPrincipal, TenantDB, require
from watchkeeper.api.errors import ApiError
from watchkeeper.api.schemas.directory import UserCreate, UserPublic, UserUpdate
from watchkeeper.auth import users
from watchkeeper.db.tables import Membership, User

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _public(user: User, membership: Membership) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        email=user.email,
        role=membership.role,
        disabled=user.disabled,
        created_at=user.created_at,
    )


@router.get("", response_model=list[UserPublic], dependencies=[Depends(require("users:read"))])
def list_users(db: TenantDB) -> list[UserPublic]:
    return [_public(u, m) for u, m in users.list_members(db)]


@router.post(
    "", response_model=UserPublic, status_code=201, dependencies=[Depends(require("users:write"))]
)
def add_user(body: UserCreate, db: TenantDB, context: Context) -> UserPublic:
    user, membership = users.add_user(
        db,
        username=body.username,
        password=body.password,
        role=body.role.value,
        email=body.email,
        now=context.clock.now(),
    )
    return _public(user, membership)


@router.get("/{user_id}", response_model=UserPublic, dependencies=[Depends(require("users:read"))])
def get_user(user_id: str, db: TenantDB) -> UserPublic:
    return _public(*users.get_member(db, user_id))


@router.patch(
    "/{user_id}", response_model=UserPublic, dependencies=[Depends(require("users:write"))]
)
def update_user(
    user_id: str, body: UserUpdate, db: TenantDB, context: Context, principal: CurrentPrincipal
) -> UserPublic:
    account = users.AccountChange(
        disabled=body.disabled, email=body.email, password=body.password, superadmin=body.superadmin
    )
    try:
        user, membership = users.update_member(
            db,
            user_id,
            role=body.role.value if body.role else None,
            account=account,
            actor_superadmin=principal.superadmin,
            sessions=context.sessions,
        )
    except users.AccountChangeRefused as exc:
        raise ApiError(403, str(exc)) from None
    context.auth.forget_user(user.id)
    return _public(user, membership)


@router.delete("/{user_id}", status_code=204, dependencies=[Depends(require("users:write"))])
def remove_user(user_id: str, db: TenantDB, context: Context) -> Response:
    user = users.remove_member(db, user_id, now=context.clock.now())
    context.auth.forget_user(user.id)
    return Response(status_code=204)
