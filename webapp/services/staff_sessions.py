"""Staff sessions kept on the server.

Signing in makes a ``staff_sessions`` row with a random id (256 bits from
``secrets``); the session cookie carries the id and the table only its SHA-256.
Every request looks the row up: no row, an inactive account, or a session idle
for longer than the idle timeout or older than its lifetime is signed out. So
Sign out, a password change, a role change and a deactivation end sessions by
deleting rows, and a copy of the cookie taken before dies with them.

``last_seen_at`` is written at most once a minute (``TOUCH_EVERY``), so page views
stay reads; the idle timeout is therefore exact to within that minute. Expired rows
are deleted at each sign-in and by the sweeper.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.staff import Staff, StaffSession

TOUCH_EVERY = timedelta(minutes=1)
# Longer than any id this module hands out (43 characters); anything longer is not one.
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lasts: ``idle`` without a request, ``lifetime`` at most."""

    idle: timedelta = timedelta(hours=8)
    lifetime: timedelta = timedelta(hours=24)


def policy_from_config(config: Mapping) -> SessionPolicy:
    """The policy the settings ask for (SESSION_IDLE_MINUTES, SESSION_LIFETIME_HOURS)."""
    return SessionPolicy(
        idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        lifetime=timedelta(hours=config["SESSION_LIFETIME_HOURS"]),
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expired(policy: SessionPolicy, now: datetime):
    """The condition of a row past its idle timeout or its lifetime."""
    return or_(
        StaffSession.last_seen_at <= now - policy.idle,
        StaffSession.created_at <= now - policy.lifetime,
    )


def start_session(
    session: Session, staff: Staff, policy: SessionPolicy, now: datetime | None = None
) -> str:
    """Commit a new session for ``staff`` (expired ones go); returns its id, set on ``staff``."""
    now = now or utcnow()
    remove_expired(session, policy, now)
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(id_hash=_hash(token), staff_id=staff.id, created_at=now, last_seen_at=now)
    )
    session.commit()
    staff.session_token = token
    return token


def staff_for_session(
    session: Session, token: str | None, policy: SessionPolicy, now: datetime | None = None
) -> Staff | None:
    """The active member whose live session has this id, or None; expires or touches it too."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    id_hash = _hash(token)
    found = session.execute(
        select(StaffSession.created_at, StaffSession.last_seen_at, Staff)
        .join(Staff, Staff.id == StaffSession.staff_id)
        .where(StaffSession.id_hash == id_hash)
    ).first()
    if found is None:
        return None
    created_at, last_seen_at, staff = found
    now = now or utcnow()
    if last_seen_at <= now - policy.idle or created_at <= now - policy.lifetime:
        session.execute(delete(StaffSession).where(StaffSession.id_hash == id_hash))
        session.commit()
        return None
    if not staff.active:
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        # A statement, not the ORM: a session deleted meanwhile simply updates no row.
        session.execute(
            update(StaffSession).where(StaffSession.id_hash == id_hash).values(last_seen_at=now)
        )
        session.commit()
    staff.session_token = token
    return staff


def end_session(session: Session, token: str | None) -> None:
    """Sign out: delete this session (committed). An unknown id does nothing."""
    if token and len(token) <= MAX_TOKEN_LENGTH:
        session.execute(delete(StaffSession).where(StaffSession.id_hash == _hash(token)))
        session.commit()


def end_all_sessions(session: Session, staff_id: int) -> int:
    """Delete the account's sessions in the caller's transaction (it commits); returns how many."""
    return session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id)).rowcount


def remove_expired(session: Session, policy: SessionPolicy, now: datetime | None = None) -> int:
    """Delete expired sessions (idle or too old) in the caller's transaction; returns how many."""
    now = now or utcnow()
    return session.execute(delete(StaffSession).where(_expired(policy, now))).rowcount
