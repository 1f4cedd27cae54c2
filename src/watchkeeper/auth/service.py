"""Login, token refresh with reuse detection, logout, and per-request credential checks.

Why one module of ~700 lines: login, refresh, logout and user changes must drop the very
cache entries the per-request checks read, and one `AuthService` keeps that invalidation next
to the caches it empties.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from watchkeeper.auth import passwords, rbac, restrictions, tokens, users
from watchkeeper.auth.principal import Principal
from watchkeeper.auth.two_factor import Enrolment, TwoFactor
from watchkeeper.clock import Clock
from watchkeeper.config import Settings
from watchkeeper.db.tables import ApiKey, Membership, RefreshToken, Tenant, User, new_id
from watchkeeper.notify.crypto import SecretBox
from watchkeeper.tenancy.scope import SessionFactory


class AuthError(Exception):
    """Authentication failed; the message is safe to show to the caller."""


class LockedOutError(AuthError):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {int(retry_after) + 1} s")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    tenant_id: str
    tenant_name: str
    role: str
    password_change_required: bool
    restriction: str | None = None


@dataclass(frozen=True)
class Challenge:
    """The password was right; a second factor is needed (`POST /auth/login/2fa`)."""

    challenge_token: str
    expires_in: int


class LoginThrottle:
    """Failed logins in a sliding window, counted three ways, each with its own threshold:
    per (username, address), per username from any address (a botnet rotating addresses),
    and per address for any username (one host spraying many usernames).

    Kept in memory: each replica counts its own attempts (documented in docs/operations.md).
    At most `max_keys` keys per dimension are kept; past that the oldest are forgotten.
    """

    def __init__(
        self,
        clock: Clock,
        max_failures: int,
        window_seconds: int,
        *,
        user_max_failures: int | None = None,
        address_max_failures: int | None = None,
        max_keys: int = 100_000,
    ) -> None:
        self._clock = clock
        self._window = window_seconds
        self._limits = (max_failures, user_max_failures, address_max_failures)
        self._max_keys = max_keys
        self._failures: tuple[dict[object, list[float]], ...] = ({}, {}, {})
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> tuple[object, object, object]:
        return (username, address), username, address

    def check(self, username: str, address: str) -> None:
        now = self._clock.time()
        with self._lock:
            for table, key, limit in zip(
                self._failures, self._keys(username, address), self._limits, strict=True
            ):
                if limit is None or key not in table:
                    continue
                recent = [t for t in table[key] if now - t < self._window]
                if recent:
                    table[key] = recent
                else:
                    del table[key]
                if len(recent) >= limit:
                    raise LockedOutError(self._window - (now - recent[-limit]))

    def failed(self, username: str, address: str) -> None:
        now = self._clock.time()
        with self._lock:
            for table, key, limit in zip(
                self._failures, self._keys(username, address), self._limits, strict=True
            ):
                if limit is None:
                    continue
                if key not in table and len(table) >= self._max_keys:
                    table.pop(next(iter(table)))  # the longest-known key
                times = table.setdefault(key, [])
                times.append(now)
                del times[:-limit]  # only the last `limit` failures decide a lockout

    def succeeded(self, username: str, address: str) -> None:
        """The right password from this address: its own count starts again; the username's
        and the address's counts stand (a success must not reset a spray across users)."""
        with self._lock:
            self._failures[0].pop((username, address), None)


class _TtlCache:
    """A small cache of credential checks so the hot path does not hit the database."""

    def __init__(self, clock: Clock, ttl: float, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._items: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> object | None:
        item = self._items.get(key)
        if item is None or item[0] <= self._clock.time():  # at most `ttl` old
            return None
        return item[1]

    def put(self, key: str, value: object) -> None:
        with self._lock:
            if len(self._items) >= self._max:
                self._items.clear()
            self._items[key] = (self._clock.time() + self._ttl, value)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


def _throttle(settings: Settings, clock: Clock) -> LoginThrottle:
    return LoginThrottle(
        clock,
        settings.auth.login_max_failures,
        settings.auth.login_lockout_seconds,
        user_max_failures=settings.security.login_user_max_failures
        or 2 * settings.auth.login_max_failures,
        address_max_failures=settings.security.login_address_max_failures
        or 3 * settings.auth.login_max_failures,
    )


def _box(settings: Settings) -> SecretBox | None:
    """TOTP secrets are encrypted at rest like channel secrets, when a key is configured."""
    if settings.encryption_key is None:
        return None
    return SecretBox.from_encoded(settings.encryption_key.get_secret_value())


class AuthService:
    """Everything about credentials. One instance per app; thread-safe."""

    # How long (on the injected clock) a credential check may be answered from memory: a
    # user's state (session generation, disabled, super-admin, roles), a session's revocation,
    # an API key. A change made through this process (logout, logout-all, password, disable,
    # role, membership, key revocation) drops the entry at once, so it applies on the next
    # request; one made elsewhere (another replica, the CLI) applies within this many seconds.
    CACHE_SECONDS = 2.0

    def __init__(self, settings: Settings, sessions: SessionFactory, clock: Clock) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.throttle = _throttle(settings, clock)
        _configure_hashing(settings)
        self._sessions_cache = _TtlCache(clock, self.CACHE_SECONDS)
        self._keys_cache = _TtlCache(clock, self.CACHE_SECONDS)
        self._users_cache = _TtlCache(clock, self.CACHE_SECONDS)
        self._fresh_only: dict[str, float] = {}
        self._lock = threading.Lock()
        self._verified: dict[str, tokens.AccessClaims] = {}
        self.two_factor = TwoFactor(clock, _box(settings))

    def reconfigure(self, settings: Settings) -> None:
        """New settings (perhaps a new signing secret): forget every cached verification."""
        self.settings = settings
        self._verified = {}
        self.throttle = _throttle(settings, self.clock)
        self.two_factor = TwoFactor(self.clock, _box(settings))
        _configure_hashing(settings)

    @property
    def _secret(self) -> str:
        return self.settings.jwt_secret_key.get_secret_value()

    def _now(self) -> datetime:
        return self.clock.now()

    # --- login, refresh, logout -------------------------------------------------------

    def login(
        self, username: str, password: str, tenant: str | None, address: str
    ) -> TokenPair | Challenge:
        """Tokens, or a challenge for the second factor when the user has 2FA enabled."""
        self.throttle.check(username, address)
        with self.sessions.system("login") as db:
            user = db.scalar(select(User).where(User.username == username))
            ok = passwords.verify_password(
                user.password_hash if user else passwords.DUMMY_HASH, password
            )
            if user is None or not ok or user.disabled:
                self.throttle.failed(username, address)
                raise AuthError("invalid username or password")
            membership = self._membership(db, user, tenant)
            if self.two_factor.enabled(db, user.id):
                # The throttle's count stands until the second factor is right too.
                return Challenge(
                    challenge_token=tokens.issue_challenge_token(
                        self._secret,
                        user_id=user.id,
                        tenant_id=membership[1].id,
                        now=self.clock.time(),
                        ttl_seconds=self.settings.security.two_factor_challenge_seconds,
                    ),
                    expires_in=self.settings.security.two_factor_challenge_seconds,
                )
            self.throttle.succeeded(username, address)
            return self._issue(db, user, membership, family_id=new_id())

    def login_second_factor(self, challenge: str, code: str, address: str) -> TokenPair:
        """A challenge from `login` plus a TOTP code or a recovery code: the tokens."""
        claims = tokens.decode_challenge_token(self._secret, challenge, now=self.clock.time())
        with self.sessions.system("login 2fa") as db:
            user = db.get(User, claims.user_id)
            if user is None or user.disabled:
                raise AuthError("user is disabled")
            self.throttle.check(user.username, address)
            if not self.two_factor.verify(db, user.id, code):
                self.throttle.failed(user.username, address)
                raise AuthError("invalid or already used two-factor code")
            membership = self._membership(db, user, claims.tenant_id)
            self.throttle.succeeded(user.username, address)
            return self._issue(db, user, membership, family_id=new_id())

    def _restriction(
        self, db: Session, user: User, member: Membership, tenant: Tenant
    ) -> str | None:
        if user.password_change_required:
            return restrictions.PASSWORD_CHANGE_REQUIRED
        admin = member.role == "admin" or user.is_superadmin
        if tenant.require_admin_2fa and admin and not self.two_factor.enabled(db, user.id):
            return restrictions.TWO_FACTOR_SETUP_REQUIRED
        return None

    # --- 2FA enrolment (the caller is authenticated) ------------------------------------

    def two_factor_setup(self, user_id: str) -> Enrolment:
        with self.sessions.system("2fa setup") as db:
            return self.two_factor.setup(db, self._user(db, user_id))

    def two_factor_enable(self, user_id: str, code: str) -> list[str]:
        with self.sessions.system("2fa enable") as db:
            return self.two_factor.enable(db, self._user(db, user_id), code)

    def two_factor_disable(self, user_id: str, password: str, code: str, address: str) -> None:
        """Both the password and a current code (or a recovery code): a stolen session alone
        cannot remove the second factor."""
        with self.sessions.system("2fa disable") as db:
            user = self._user(db, user_id)
            self.throttle.check(user.username, address)
            if not passwords.verify_password(
                user.password_hash, password
            ) or not self.two_factor.verify(db, user.id, code):
                self.throttle.failed(user.username, address)
                raise AuthError("password or two-factor code is wrong")
            self.two_factor.remove(db, user.id)

    def two_factor_status(self, user_id: str) -> tuple[bool, int]:
        """(enabled, unused recovery codes)."""
        with self.sessions.system("2fa status") as db:
            if not self.two_factor.enabled(db, user_id):
                return False, 0
            return True, self.two_factor.recovery_codes_left(db, user_id)

    @staticmethod
    def _user(db: Session, user_id: str) -> User:
        user = db.get(User, user_id)
        if user is None or user.disabled:
            raise AuthError("user is disabled")
        return user

    def _membership(self, db: Session, user: User, tenant: str | None) -> tuple[Membership, Tenant]:
        query = (
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user.id, Tenant.disabled.is_(False))
            .order_by(Tenant.name)
        )
        if tenant is not None:
            query = query.where((Tenant.name == tenant) | (Tenant.id == tenant))
        rows = db.execute(query).all()
        if not rows:
            raise AuthError(
                f"user is not a member of tenant {tenant!r}"
                if tenant
                else "user belongs to no tenant"
            )
        if tenant is None and len(rows) > 1:
            names = ", ".join(r[1].name for r in rows)
            raise AuthError(f"user belongs to several tenants ({names}); give `tenant`")
        return rows[0][0], rows[0][1]

    def _issue(
        self, db: Session, user: User, membership: tuple[Membership, Tenant], family_id: str
    ) -> TokenPair:
        member, tenant = membership
        cached = self._users_cache.get(user.id)
        if isinstance(cached, UserState) and cached.roles.get(tenant.id) != member.role:
            # The membership just read supersedes the cached one: a user added to a tenant
            # a moment ago would otherwise log in and then be refused by every request.
            self._users_cache.drop(user.id)
        now = self._now()
        restriction = self._restriction(db, user, member, tenant)
        refresh = tokens.new_refresh_token()
        db.add(
            RefreshToken(
                family_id=family_id,
                user_id=user.id,
                tenant_id=tenant.id,
                token_hash=tokens.sha256_hex(refresh),
                user_version=user.token_version or 0,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.auth.refresh_token_ttl_seconds),
            )
        )
        access = tokens.issue_access_token(
            self._secret,
            user_id=user.id,
            username=user.username,
            tenant_id=tenant.id,
            role=member.role,
            session_id=family_id,
            superadmin=user.is_superadmin,
            now=self.clock.time(),
            ttl_seconds=self.settings.auth.access_token_ttl_seconds,
            restriction=restriction,
            token_version=user.token_version or 0,
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self.settings.auth.access_token_ttl_seconds,
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            role=member.role,
            password_change_required=user.password_change_required,
            restriction=restriction,
        )

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent; presenting a spent token revokes the family."""
        now = self._now()
        reused = False
        with self.sessions.system("refresh") as db:
            row = db.scalar(
                select(RefreshToken).where(
                    RefreshToken.token_hash == tokens.sha256_hex(refresh_token)
                )
            )
            if row is None:
                raise AuthError("unknown refresh token")
            if row.revoked_at is not None:
                raise AuthError("refresh token has been revoked")
            if row.used_at is not None:
                # Committed before the error is raised: the revocation must stick.
                self._revoke_family(db, row.family_id, now)
                reused = True
            else:
                if row.expires_at <= now:
                    raise AuthError("refresh token has expired")
                row.used_at = now
                user = db.get(User, row.user_id)
                if user is None or user.disabled:
                    raise AuthError("user is disabled")
                if row.user_version != (user.token_version or 0):
                    raise AuthError(SESSION_ENDED)
                membership = self._membership(db, user, row.tenant_id)
                return self._issue(db, user, membership, family_id=row.family_id)
        assert reused
        raise AuthError("refresh token was already used; every session of this login is revoked")

    def _revoke_family(self, db: Session, family_id: str, now: datetime) -> None:
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self._sessions_cache.drop(family_id)

    def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            return
        with self.sessions.system("logout") as db:
            self._revoke_family(db, principal.session_id, self._now())

    def logout_all(self, principal: Principal) -> None:
        """End every session of the calling user, in every tenant, this one included."""
        if principal.kind != "user":
            raise AuthError("API keys have no sessions; revoke the key instead")
        with self.sessions.system("logout everywhere") as db:
            user = db.get(User, principal.id)
            if user is not None:
                self._end_sessions(db, user)
        self.forget_user(principal.id)

    def change_password(self, user_id: str, current: str, new: str) -> None:
        """Change the caller's own password; every session of the user ends, this one too
        (the client logs in again with the new password)."""
        with self.sessions.system("change password") as db:
            user = db.get(User, user_id)
            if user is None or not passwords.verify_password(user.password_hash, current):
                raise AuthError("current password is wrong")
            user.password_hash = passwords.hash_password(new)
            user.password_change_required = False
            self._end_sessions(db, user)
        self.forget_user(user_id)

    def _end_sessions(self, db: Session, user: User) -> None:
        """Bump the session generation and revoke the user's refresh tokens (all tenants)."""
        users.end_sessions(user)
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        self._sessions_cache = _TtlCache(self.clock, self.CACHE_SECONDS)

    def forget_user(self, user_id: str) -> None:
        """A change to the user is being committed: drop their cached state, and keep it out
        of the cache for CACHE_SECONDS so a request racing the commit cannot cache the old
        state again. Sessions are dropped too (a membership removal revokes some)."""
        with self._lock:
            if len(self._fresh_only) >= 10_000:
                self._fresh_only.clear()
            self._fresh_only[user_id] = self.clock.time() + self.CACHE_SECONDS
        self._users_cache.drop(user_id)
        self._sessions_cache = _TtlCache(self.clock, self.CACHE_SECONDS)

    # --- per-request checks ----------------------------------------------------------

    def cached(self, credential: str) -> Principal | None:
        """The principal for a credential if it can be checked without I/O, else None.

        JWTs whose session and user state are cached and API keys seen in the last seconds
        are answered here, on the event loop; everything else goes to `authenticate` in a
        thread.
        """
        if credential.startswith(tokens.API_KEY_PREFIX):
            hit = self._keys_cache.get(tokens.sha256_hex(credential))
            if not isinstance(hit, _KeyEntry):
                return None
            if hit.owner is not None:
                owner = self._users_cache.get(hit.owner)
                if owner is None:
                    return None
                _check_key_owner(owner)
            return hit.principal
        claims = self._claims(credential)
        active = self._sessions_cache.get(claims.session_id)
        if active is None:
            return None
        if not active:
            raise tokens.InvalidTokenError("session has been logged out")
        state = self._users_cache.get(claims.user_id)
        if state is None:
            return None
        return self._user_principal(
            claims.user_id,
            claims.tenant_id,
            claims.session_id,
            claims.token_version,
            state,
            claims.restriction,
        )

    def _claims(self, token: str) -> tokens.AccessClaims:
        """Verified claims of a token; a token verified before is not parsed again, but its
        expiry is checked on every call."""
        hit = self._verified.get(token)
        if hit is None:
            hit = tokens.decode_access_token(self._secret, token, now=self.clock.time())
            if len(self._verified) >= 10_000:
                self._verified.clear()
            self._verified[token] = hit
        elif hit.expires_at <= self.clock.time():
            raise tokens.InvalidTokenError("token has expired")
        return hit

    def _user_principal(
        self,
        user_id: str,
        tenant_id: str,
        session_id: str,
        token_version: int,
        state: object,
        restriction: str | None = None,
    ) -> Principal:
        """The caller as they are now: role and super-admin come from the user's current state,
        not from the token, which only names the user, tenant, session and generation."""
        if not isinstance(state, UserState):
            raise tokens.InvalidTokenError("user no longer exists")
        if state.disabled:
            raise tokens.InvalidTokenError("user is disabled")
        if state.token_version != token_version:
            raise tokens.InvalidTokenError(SESSION_ENDED)
        role = state.roles.get(tenant_id)
        if role is None:
            raise tokens.InvalidTokenError("user is no longer a member of this tenant")
        return Principal(
            kind="user",
            id=user_id,
            name=state.username,
            tenant_id=tenant_id,
            permissions=rbac.permissions_for_role(role, superadmin=state.superadmin),
            role=role,
            superadmin=state.superadmin,
            session_id=session_id,
            token_version=token_version,
            restriction=restriction,
        )

    def authenticate(self, credential: str) -> Principal:
        """A bearer credential (JWT or API key) to a Principal; raises InvalidTokenError."""
        if credential.startswith(tokens.API_KEY_PREFIX):
            return self._api_key(credential)
        claims = self._claims(credential)
        if not self._session_active(claims.session_id):
            raise tokens.InvalidTokenError("session has been logged out")
        return self._user_principal(
            claims.user_id,
            claims.tenant_id,
            claims.session_id,
            claims.token_version,
            self._user_state(claims.user_id),
            claims.restriction,
        )

    def revalidate(self, principal: Principal, credential: str) -> Principal:
        """Whether an authenticated principal still holds (a long-lived stream asks this):
        raises InvalidTokenError once its session, generation, membership or key is revoked
        or its user disabled. The access token's expiry is not re-checked: it was valid when
        the stream was opened, and revocation, not age, ends a stream."""
        if principal.kind == "apikey":
            return self._api_key(credential)
        if principal.session_id is None or not self._session_active(principal.session_id):
            raise tokens.InvalidTokenError("session has been logged out")
        return self._user_principal(
            principal.id,
            principal.tenant_id,
            principal.session_id,
            principal.token_version,
            self._user_state(principal.id),
            principal.restriction,
        )

    def revalidated_from_cache(self, principal: Principal, credential: str) -> bool:
        """`revalidate` without I/O: True if the cache says the principal still holds, False
        if only `revalidate` (in a thread) can tell; raises InvalidTokenError if revoked."""
        if principal.kind == "apikey":
            return self.cached(credential) is not None
        if principal.session_id is None:
            raise tokens.InvalidTokenError("session has been logged out")
        active = self._sessions_cache.get(principal.session_id)
        state = self._users_cache.get(principal.id)
        if active is None or state is None:
            return False
        if not active:
            raise tokens.InvalidTokenError("session has been logged out")
        self._user_principal(
            principal.id, principal.tenant_id, principal.session_id, principal.token_version, state
        )
        return True

    def _session_active(self, family_id: str) -> bool:
        cached = self._sessions_cache.get(family_id)
        if cached is not None:
            return bool(cached)
        with self.sessions.system("session check") as db:
            revoked = db.scalar(
                select(RefreshToken.id)
                .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
                .limit(1)
            )
        active = revoked is None
        self._sessions_cache.put(family_id, active)
        return active

    def _user_state(self, user_id: str) -> UserState | None:
        """The user's current state, from the cache (at most CACHE_SECONDS old) or the database."""
        cached = self._users_cache.get(user_id)
        if isinstance(cached, UserState):
            return cached
        with self.sessions.system("user state check") as db:
            user = db.get(User, user_id)
            if user is None:
                return None
            roles = db.execute(
                select(Membership.tenant_id, Membership.role)
                .join(Tenant, Tenant.id == Membership.tenant_id)
                .where(Membership.user_id == user_id, Tenant.disabled.is_(False))
            ).all()
            state = UserState(
                username=user.username,
                token_version=user.token_version or 0,
                disabled=user.disabled,
                superadmin=user.is_superadmin,
                roles={tenant_id: role for tenant_id, role in roles},
            )
        with self._lock:
            fresh_only = self._fresh_only.get(user_id)
            if fresh_only is not None and fresh_only <= self.clock.time():
                del self._fresh_only[user_id]
                fresh_only = None
        if fresh_only is None:
            self._users_cache.put(user_id, state)
        return state

    def _api_key(self, key: str) -> Principal:
        prefix, secret = tokens.split_api_key(key)
        digest = tokens.sha256_hex(key)
        cached = self._keys_cache.get(digest)
        if isinstance(cached, _KeyEntry):
            if cached.owner is not None:
                _check_key_owner(self._user_state(cached.owner))
            return cached.principal
        now = self._now()
        with self.sessions.system("api key check") as db:
            row = db.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if row is None or not tokens.secret_matches(secret, row.secret_hash):
                raise tokens.InvalidTokenError("unknown API key")
            if row.revoked_at is not None:
                raise tokens.InvalidTokenError("API key has been revoked")
            if row.expires_at is not None and row.expires_at <= now:
                raise tokens.InvalidTokenError("API key has expired")
            principal = Principal(
                kind="apikey",
                id=row.id,
                name=row.name,
                tenant_id=row.tenant_id,
                permissions=rbac.permissions_for_scopes(list(row.scopes)),
                scopes=tuple(row.scopes),
            )
            owner = row.created_by
        if owner is not None:
            _check_key_owner(self._user_state(owner))
        self._keys_cache.put(digest, _KeyEntry(principal, owner))
        return principal

    def forget_sessions(self, family_ids: list[str]) -> None:
        """Drop cached session state in this process at once, after a revocation."""
        for family_id in family_ids:
            self._sessions_cache.drop(family_id)

    def forget_api_keys(self) -> None:
        """Drop cached keys in this process at once, after a revocation."""
        self._keys_cache = _TtlCache(self.clock, self.CACHE_SECONDS)


SESSION_ENDED = "session has ended (password, access or sessions of the user changed); log in again"


@dataclass(frozen=True)
class UserState:
    """What a request needs to know about its user, read fresh or from the short cache."""

    username: str
    token_version: int
    disabled: bool
    superadmin: bool
    roles: Mapping[str, str]  # tenant id -> role, enabled tenants only


@dataclass(frozen=True)
class _KeyEntry:
    principal: Principal
    owner: str | None  # the user who created the key (None: the CLI, or another key)


def _check_key_owner(owner: object) -> None:
    """An API key stops working while the user who created it is disabled. A key whose
    creator is not a user (the CLI, another key) or no longer exists has no owner to check."""
    if isinstance(owner, UserState) and owner.disabled:
        raise tokens.InvalidTokenError("API key's owner is disabled")


def _configure_hashing(settings: Settings) -> None:
    passwords.configure(
        settings.security.password_hash_concurrency, settings.security.password_hash_queue
    )
