"""Staff who sign in: enrolment, sign-in with a password and a second factor, sessions,
lockout, and what admins do to accounts (decision 0027).

Every step is a command in the caller's transaction and leaves its audit row. A refused
sign-in raises after its attempt and audit rows are queued: the caller answers the
person and still commits, so failures count and stay on record.

Secrets never stored in clear: the session id and the enrolment token are 256 random
bits kept as SHA-256 hashes (as bearer tokens are), the password as argon2id, the TOTP
secret encrypted (``TotpVault``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import Actor, Role
from service.audit import chain as audit
from service.auth.models import SignInAttempt, StaffSession, User
from service.auth.passwords import check_new_password, hash_password, needs_rehash
from service.auth.passwords import password_matches as _password_matches
from service.auth.service import checked_user_fields
from service.auth.totp import (
    TotpVault,
    accepted_step,
    code_was_used,
    new_totp_secret,
    normalized_code,
)
from service.context import CommandContext
from service.errors import DomainError, FieldError, Invalid, NotFound, Unauthorized
from service.limits import (
    ENROLMENT_LINK_VALIDITY,
    FAILURES_LOCKING_A_LOGIN,
    FAILURES_LOCKING_AN_ADDRESS,
    SECOND_FACTOR_STEP_TIMEOUT,
    SESSION_ABSOLUTE_TIMEOUT,
    SESSION_IDLE_TIMEOUT,
    SIGN_IN_LOCKOUT,
    SIGN_IN_RECORDS_KEPT,
)

LOGIN_SHAPE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")  # as ck_users_login_shape
# Roles whose sign-in always takes a second factor (等保 2.0: privileged users).
SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.REVIEWER})
SIGN_IN_LOCK = 7101003  # advisory lock class: one sign-in decision per login at a time
STAFF_ROLES_WHO_SIGN_IN = frozenset({Role.ADMIN, Role.INSPECTOR, Role.REVIEWER})


class EnrolmentLinkExpired(DomainError):
    title = "Enrolment link expired"


class SignInRefused(Unauthorized):
    """Wrong login, password or code; ``field`` is where the person should look."""

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail, errors=[FieldError(field, detail)])
        self.field = field


class LockedOut(DomainError):
    title = "Too many failed sign-ins"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many failed sign-ins: try again after {until.isoformat()}")
        self.until = until


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalized_login(login: str) -> str:
    return login.strip().lower()


def second_factor_required(user: User) -> bool:
    return user.role in SECOND_FACTOR_ROLES or user.totp_required


def has_second_factor(user: User) -> bool:
    return user.enrolled_at is not None and user.totp_secret_ciphertext is not None


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, region_code=user.region_code)


def _as(ctx: CommandContext, user: User) -> CommandContext:
    """The context of a command the user does themselves (their sign-in, their enrolment)."""
    return dataclasses.replace(ctx, actor=actor_of(user), memo={})


# --- enrolment -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrolment:
    user: User
    token: str  # in clear only here, for the link; stored as its hash
    expires_at: datetime

    def link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/staff/enrol/{self.token}"


def _issue_enrolment(user: User, ctx: CommandContext, vault: TotpVault) -> Enrolment:
    """A fresh one-time token and a fresh TOTP secret, shown when the link is opened."""
    token = secrets.token_urlsafe(32)
    user.enrolment_token_hash = _sha256(token)
    user.enrolment_expires_at = ctx.now() + ENROLMENT_LINK_VALIDITY
    user.totp_secret_ciphertext = vault.encrypt(new_totp_secret())
    user.totp_last_step = None
    user.password_hash = None
    user.enrolled_at = None
    return Enrolment(user, token, user.enrolment_expires_at)


def check_login(login: str) -> str:
    login = normalized_login(login)
    if not LOGIN_SHAPE.match(login):
        raise Invalid.field(
            "login",
            "2 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return login


async def create_staff_user(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    name: str,
    role: Role,
    login: str,
    vault: TotpVault,
    region_code: str | None = None,
    second_factor_required: bool = False,
) -> Enrolment:
    """A member of staff who signs in (no bearer token), with their one-time enrolment link."""
    ctx.actor.require_role(Role.ADMIN)
    if role not in STAFF_ROLES_WHO_SIGN_IN:
        raise Invalid.field("role", f"role {role.value} uses a bearer token and cannot sign in")
    name, region_code = checked_user_fields(name, role, region_code)
    login = check_login(login)
    taken = await session.scalar(sa.select(sa.func.count()).where(col(User.login) == login))
    if taken:
        raise Invalid.field("login", f"{login} is already taken")
    user = User(
        name=name,
        role=role.value,
        region_code=region_code,
        login=login,
        totp_required=second_factor_required,
    )
    enrolment = _issue_enrolment(user, ctx, vault)
    await audit.record_creation(
        session, ctx, user, action="user.create", target_type="user", target_id=user.id
    )
    await audit.record(
        session, ctx, action="staff.enrolment.issue", target_type="user", target_id=user.id
    )
    return enrolment


async def user_enrolling(session: AsyncSession, token: str, now: datetime) -> User:
    """The user an enrolment link belongs to; NotFound once used or replaced, expired after
    72 hours."""
    user = await session.scalar(
        sa.select(User).where(
            col(User.enrolment_token_hash) == _sha256(token), col(User.active).is_(True)
        )
    )
    if user is None or user.enrolment_expires_at is None:
        raise NotFound("this enrolment link is not valid: it was used or replaced")
    if now >= user.enrolment_expires_at:
        raise EnrolmentLinkExpired(
            "this enrolment link has expired (links are valid for 72 hours): "
            "ask an administrator for a new one"
        )
    return user


def enrolling_secret(user: User, vault: TotpVault) -> str:
    """The TOTP secret the enrolment page shows, to be added to an authenticator app."""
    assert user.totp_secret_ciphertext is not None
    secret = vault.decrypt(user.totp_secret_ciphertext)
    if secret is None:  # the service secret changed since the link was issued
        raise NotFound("this enrolment link is not valid any more: ask for a new one")
    return secret


async def complete_enrolment(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    token: str,
    password: str,
    password_again: str,
    code: str,
    vault: TotpVault,
) -> User:
    """Set the password and, with a valid code, the second factor; the link is then spent.

    A code is required where the role or the user's flag requires a second factor; an
    inspector who leaves it empty signs in with the password alone."""
    user = await user_enrolling(session, token, ctx.now())
    check_new_password(password, password_again, user.login)
    secret = enrolling_secret(user, vault)
    step = None
    if code.strip() or second_factor_required(user):
        digits = normalized_code(code)
        if digits is None:
            raise Invalid.field("code", "enter the 6-digit code your authenticator app shows")
        step = accepted_step(secret, digits, ctx.now(), None)
        if step is None:
            raise Invalid.field(
                "code",
                "this code is not the one your app shows now: check the secret was added "
                "correctly and the phone's clock is right",
            )
    user.password_hash = await hash_password(password)
    user.totp_secret_ciphertext = user.totp_secret_ciphertext if step is not None else None
    user.totp_last_step = step
    user.enrolment_token_hash = None
    user.enrolment_expires_at = None
    user.enrolled_at = ctx.now()
    session.add(user)
    await audit.record(
        session,
        _as(ctx, user),
        action="staff.enrolment.complete",
        target_type="user",
        target_id=user.id,
        after={"second_factor": step is not None},
    )
    return user


# --- what admins do --------------------------------------------------------------------


async def _user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


async def end_sessions_of(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, reason: str
) -> None:
    await session.execute(
        sa.update(StaffSession)
        .where(col(StaffSession.user_id) == user_id, col(StaffSession.ended_at).is_(None))
        .values(ended_at=now, end_reason=reason)
    )


async def reset_enrolment(
    session: AsyncSession, ctx: CommandContext, *, user_id: uuid.UUID, vault: TotpVault
) -> Enrolment:
    """A lost phone or a forgotten password: a new link; the old password, second factor
    and every open session stop working now."""
    ctx.actor.require_role(Role.ADMIN)
    user = await _user(session, user_id)
    if user.login is None:
        raise Invalid.field("user_id", "this user is a machine client with a bearer token")
    enrolment = _issue_enrolment(user, ctx, vault)
    session.add(user)
    await end_sessions_of(session, user.id, ctx.now(), "reset")
    await audit.record(
        session, ctx, action="staff.enrolment.reset", target_type="user", target_id=user.id
    )
    return enrolment


async def set_disabled(
    session: AsyncSession, ctx: CommandContext, *, user_id: uuid.UUID, disabled: bool
) -> User:
    """Disable (every session ends, sign-in and bearer token refused) or enable again."""
    ctx.actor.require_role(Role.ADMIN)
    user = await _user(session, user_id)
    if disabled and user.id == ctx.actor.user_id:
        raise Invalid.field("user_id", "an administrator cannot disable their own account")
    user.active = not disabled
    session.add(user)
    if disabled:
        await end_sessions_of(session, user.id, ctx.now(), "disabled")
    await audit.record(
        session,
        ctx,
        action="user.disable" if disabled else "user.enable",
        target_type="user",
        target_id=user.id,
    )
    return user


async def set_second_factor_required(
    session: AsyncSession, ctx: CommandContext, *, user_id: uuid.UUID, required: bool
) -> User:
    """Require (or stop requiring) a second factor of an inspector. A user required to
    have one who has none cannot sign in until their enrolment is reset."""
    ctx.actor.require_role(Role.ADMIN)
    user = await _user(session, user_id)
    user.totp_required = required
    session.add(user)
    await audit.record(
        session,
        ctx,
        action="user.second_factor_required" if required else "user.second_factor_optional",
        target_type="user",
        target_id=user.id,
    )
    return user


# --- lockout ---------------------------------------------------------------------------


def lock_end(failures: list[datetime], threshold: int) -> datetime | None:
    """When the lock made by these failures (oldest first) ends: SIGN_IN_LOCKOUT after the
    latest failure that was the ``threshold``-th within SIGN_IN_LOCKOUT; None if none was."""
    end = None
    for index in range(threshold - 1, len(failures)):
        if failures[index] - failures[index - threshold + 1] < SIGN_IN_LOCKOUT:
            end = failures[index] + SIGN_IN_LOCKOUT
    return end


async def _failures(
    session: AsyncSession, now: datetime, *, login: str | None = None, address: str | None = None
) -> list[datetime]:
    """Failures of a login (since its last success: the person got in) or from an address
    (whatever succeeded since: an attacker may hold one account), oldest first, recent
    enough to matter for a lock in force now."""
    since = now - 2 * SIGN_IN_LOCKOUT
    if login is not None:
        key = col(SignInAttempt.login) == login
        last_success = await session.scalar(
            sa.select(sa.func.max(SignInAttempt.attempted_at)).where(
                key, col(SignInAttempt.outcome) == "success"
            )
        )
        since = max(since, last_success) if last_success else since
    else:
        key = col(SignInAttempt.address) == address
    rows = await session.scalars(
        sa.select(col(SignInAttempt.attempted_at))
        .where(
            key,
            col(SignInAttempt.outcome) == "failure",
            col(SignInAttempt.attempted_at) > since,
        )
        .order_by(col(SignInAttempt.attempted_at))
    )
    return list(rows)


async def locked_until(
    session: AsyncSession, login: str, address: str | None, now: datetime
) -> datetime | None:
    """When the lock on this login, or on this address, ends; None when neither is locked."""
    ends = [lock_end(await _failures(session, now, login=login), FAILURES_LOCKING_A_LOGIN)]
    if address is not None:
        by_address = await _failures(session, now, address=address)
        ends.append(lock_end(by_address, FAILURES_LOCKING_AN_ADDRESS))
    in_force = [end for end in ends if end is not None and end > now]
    return max(in_force) if in_force else None


async def _attempt(
    session: AsyncSession, login: str, address: str | None, now: datetime, outcome: str
) -> None:
    session.add(SignInAttempt(login=login[:64], address=address, attempted_at=now, outcome=outcome))
    await session.flush()


async def _refuse_while_locked(
    session: AsyncSession, ctx: CommandContext, login: str, address: str | None
) -> None:
    now = ctx.now()
    until = await locked_until(session, login, address, now)
    if until is None:
        return
    await _attempt(session, login, address, now, "locked")
    await audit.record(
        session,
        ctx,
        action="staff.sign_in.refused_locked",
        target_type="login",
        target_id=login[:64],
        after={"address": address, "until": until},
    )
    raise LockedOut(until)


async def _fail(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    login: str,
    address: str | None,
    action: str,
    user: User | None,
    refusal: SignInRefused,
) -> SignInRefused:
    """Record a failed attempt (and the lockout it starts, if it does); return the refusal."""
    now = ctx.now()
    await _attempt(session, login, address, now, "failure")
    target_type, target_id = ("user", user.id) if user else ("login", login[:64])
    await audit.record(
        session,
        ctx,
        action=action,
        target_type=target_type,
        target_id=target_id,
        after={"address": address},
    )
    until = await locked_until(session, login, address, now)
    if until is not None:
        await audit.record(
            session,
            ctx,
            action="staff.lockout",
            target_type=target_type,
            target_id=target_id,
            after={"address": address, "until": until},
        )
    return refusal


async def _lock_login(session: AsyncSession, login: str) -> None:
    """One sign-in decision per login at a time, so parallel guesses cannot all slip
    under the lockout count."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(SIGN_IN_LOCK, sa.func.hashtext(login)))
    )


# --- signing in ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the token goes into the cookie and nowhere else."""

    token: str
    user: User
    second_factor_pending: bool
    csrf_token: str


async def _open_session(
    session: AsyncSession, user: User, now: datetime, address: str | None, *, pending: bool
) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            session_hash=_sha256(token),
            user_id=user.id,
            second_factor_pending=pending,
            created_at=now,
            last_seen_at=now,
            address=address,
            csrf_token=csrf_token,
        )
    )
    await session.flush()
    return NewSession(token, user, pending, csrf_token)


WRONG_PASSWORD = "the login name or the password is wrong"


async def sign_in_with_password(
    session: AsyncSession, ctx: CommandContext, *, login: str, password: str, address: str | None
) -> NewSession:
    """The first step. Where a second factor is due, the session opened only lets the
    person enter their code (``second_factor_pending``)."""
    login = normalized_login(login)[:64]  # no login is longer; attempts store as many
    errors = [
        FieldError(name, "is required")
        for name, value in (("login", login), ("password", password))
        if not value
    ]
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    await _lock_login(session, login[:64])
    await _refuse_while_locked(session, ctx, login, address)
    user = await session.scalar(
        sa.select(User).where(col(User.login) == login, col(User.active).is_(True))
    )
    stored = user.password_hash if user is not None else None
    if user is None or not await _password_matches(stored, password):
        raise await _fail(
            session, ctx, login=login, address=address, action="staff.sign_in.password_failed",
            user=user, refusal=SignInRefused(WRONG_PASSWORD, "password"),
        )  # fmt: skip
    assert stored is not None
    if needs_rehash(stored):
        user.password_hash = await hash_password(password)
        session.add(user)
    now = ctx.now()
    if second_factor_required(user) and not has_second_factor(user):
        raise await _fail(
            session, ctx, login=login, address=address,
            action="staff.sign_in.second_factor_missing", user=user,
            refusal=SignInRefused(
                "your account needs a second factor that is not set up: ask an administrator "
                "to reset your enrolment", "login",
            ),
        )  # fmt: skip
    if has_second_factor(user):
        return await _open_session(session, user, now, address, pending=True)
    return await _signed_in(session, ctx, user, address, second_factor=False)


async def _signed_in(
    session: AsyncSession,
    ctx: CommandContext,
    user: User,
    address: str | None,
    *,
    second_factor: bool,
) -> NewSession:
    assert user.login is not None
    now = ctx.now()
    await _attempt(session, user.login, address, now, "success")
    opened = await _open_session(session, user, now, address, pending=False)
    await audit.record(
        session,
        _as(ctx, user),
        action="staff.sign_in",
        target_type="user",
        target_id=user.id,
        after={"address": address, "second_factor": second_factor},
    )
    return opened


async def sign_in_with_code(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    pending_token: str,
    code: str,
    address: str | None,
    vault: TotpVault,
) -> NewSession:
    """The second step: a valid, unused TOTP code turns the pending session into a new one
    (a new id, so whoever saw the pending cookie holds nothing)."""
    found = await open_session(session, pending_token, ctx.now(), pending=True)
    if found is None:
        raise SignInRefused("the sign-in took too long or was not started: start again", "code")
    pending, user = found
    assert user.login is not None
    assert user.totp_secret_ciphertext is not None
    await _lock_login(session, user.login)
    try:
        await _refuse_while_locked(session, ctx, user.login, address)
    except LockedOut:
        await _end(session, pending, ctx.now(), "second_factor")
        raise
    digits = normalized_code(code)
    if digits is None:
        raise Invalid.field("code", "enter the 6-digit code your authenticator app shows")
    secret = vault.decrypt(user.totp_secret_ciphertext)
    now = ctx.now()
    step = accepted_step(secret, digits, now, user.totp_last_step) if secret else None
    if step is None:
        replayed = secret is not None and code_was_used(secret, digits, now, user.totp_last_step)
        message = (
            "this code was already used: wait for the next one your app shows"
            if replayed
            else "the code is wrong: enter the one your authenticator app shows now"
        )
        action = "staff.sign_in.code_replayed" if replayed else "staff.sign_in.code_failed"
        raise await _fail(
            session, ctx, login=user.login, address=address, action=action, user=user,
            refusal=SignInRefused(message, "code"),
        )  # fmt: skip
    user.totp_last_step = step
    session.add(user)
    await _end(session, pending, now, "second_factor")
    return await _signed_in(session, ctx, user, address, second_factor=True)


# --- sessions --------------------------------------------------------------------------


async def _end(
    session: AsyncSession, staff_session: StaffSession, now: datetime, reason: str
) -> None:
    staff_session.ended_at = now
    staff_session.end_reason = reason
    session.add(staff_session)
    await session.flush()


def _expiry(staff_session: StaffSession, now: datetime) -> str | None:
    """Why a session is over at this moment ("idle", "absolute"), or None if it is not."""
    if staff_session.second_factor_pending:
        return (
            "second_factor" if now - staff_session.created_at > SECOND_FACTOR_STEP_TIMEOUT else None
        )
    if now - staff_session.created_at > SESSION_ABSOLUTE_TIMEOUT:
        return "absolute"
    if now - staff_session.last_seen_at > SESSION_IDLE_TIMEOUT:
        return "idle"
    return None


async def open_session(
    session: AsyncSession, token: str, now: datetime, *, pending: bool = False
) -> tuple[StaffSession, User] | None:
    """The open session a cookie names and its user, or None: unknown, ended, expired, of
    a disabled user, or not in the step asked for (signed in, or waiting for a code).

    A session found expired is ended now; one in use is marked seen now."""
    row = (
        await session.execute(
            sa.select(StaffSession, User)
            .join(User, col(User.id) == col(StaffSession.user_id))
            .where(
                col(StaffSession.session_hash) == _sha256(token),
                col(StaffSession.ended_at).is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.second_factor_pending != pending or not user.active:
        return None
    reason = _expiry(staff_session, now)
    if reason is not None:
        await _end(session, staff_session, now, reason)
        return None
    if not pending:
        staff_session.last_seen_at = now
        session.add(staff_session)
    return staff_session, user


async def csrf_token_of(session: AsyncSession, token: str, now: datetime) -> str | None:
    """The CSRF token of the open session a cookie names (signed in or waiting for a code)."""
    staff_session = await session.scalar(
        sa.select(StaffSession).where(
            col(StaffSession.session_hash) == _sha256(token), col(StaffSession.ended_at).is_(None)
        )
    )
    if staff_session is None or _expiry(staff_session, now) is not None:
        return None
    return staff_session.csrf_token


async def sign_out(session: AsyncSession, ctx: CommandContext, token: str) -> None:
    """End the session the cookie names; its cookie is refused from now on."""
    found = await open_session(session, token, ctx.now())
    if found is None:
        return
    staff_session, user = found
    await _end(session, staff_session, ctx.now(), "sign_out")
    await audit.record(
        session, _as(ctx, user), action="staff.sign_out", target_type="user", target_id=user.id
    )


async def purge_sign_in_records(session: AsyncSession, ctx: CommandContext) -> int:
    """Delete sign-in attempts and sessions older than ``SIGN_IN_RECORDS_KEPT``: no lockout
    or session check reads them any more, and they hold client addresses. The daily job."""
    cutoff = ctx.now() - SIGN_IN_RECORDS_KEPT
    attempts = await session.execute(
        sa.delete(SignInAttempt).where(col(SignInAttempt.attempted_at) < cutoff)
    )
    sessions = await session.execute(
        sa.delete(StaffSession).where(col(StaffSession.created_at) < cutoff)
    )
    return int(attempts.rowcount or 0) + int(sessions.rowcount or 0)  # type: ignore[attr-defined]
