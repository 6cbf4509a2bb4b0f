"""Customer sessions kept on the server, as staff sessions are (services.staff_sessions).

Signing in to the customer area makes a ``customer_sessions`` row with a random id (256
bits); the ``tally_customer`` cookie carries the id and the table only its SHA-256. Every
request looks the row up: no row, a disabled account, a customer gone, or a session idle
longer than the idle timeout or older than its lifetime is signed out. The same
SESSION_IDLE_MINUTES and SESSION_LIFETIME_HOURS as the panel's apply. Sign out, a
password change and Disable access end sessions by deleting rows.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer_account import CustomerAccount, CustomerSession
from webapp.services.staff_sessions import MAX_TOKEN_LENGTH, TOUCH_EVERY, SessionPolicy


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, account: CustomerAccount, policy: SessionPolicy, now: datetime | None = None
) -> str:
    """Commit a new session for ``account`` (expired ones go); returns its id for the cookie."""
    now = now or utcnow()
    remove_expired(session, policy, now)
    token = secrets.token_urlsafe(32)
    session.add(
        CustomerSession(
            id_hash=_hash(token), account_id=account.id, created_at=now, last_seen_at=now
        )
    )
    session.commit()
    return token


def account_for_session(
    session: Session, token: str | None, policy: SessionPolicy, now: datetime | None = None
) -> CustomerAccount | None:
    """The enabled account whose live session has this id, or None; expires or touches it."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    id_hash = _hash(token)
    found = session.execute(
        select(CustomerSession.created_at, CustomerSession.last_seen_at, CustomerAccount)
        .join(CustomerAccount, CustomerAccount.id == CustomerSession.account_id)
        .where(CustomerSession.id_hash == id_hash)
    ).first()
    if found is None:
        return None
    created_at, last_seen_at, account = found
    now = now or utcnow()
    if last_seen_at <= now - policy.idle or created_at <= now - policy.lifetime:
        session.execute(delete(CustomerSession).where(CustomerSession.id_hash == id_hash))
        session.commit()
        return None
    if account.disabled_at is not None or account.password_hash is None:
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        session.execute(
            update(CustomerSession)
            .where(CustomerSession.id_hash == id_hash)
            .values(last_seen_at=now)
        )
        session.commit()
    return account


def end_session(session: Session, token: str | None) -> None:
    """Sign out: delete this session (committed). An unknown id does nothing."""
    if token and len(token) <= MAX_TOKEN_LENGTH:
        session.execute(delete(CustomerSession).where(CustomerSession.id_hash == _hash(token)))
        session.commit()


def end_all_sessions(session: Session, account_id: int) -> int:
    """Delete the account's sessions in the caller's transaction (it commits); returns how many."""
    return session.execute(
        delete(CustomerSession).where(CustomerSession.account_id == account_id)
    ).rowcount


def remove_expired(session: Session, policy: SessionPolicy, now: datetime | None = None) -> int:
    """Delete expired customer sessions in the caller's transaction; returns how many."""
    now = now or utcnow()
    return session.execute(
        delete(CustomerSession).where(
            or_(
                CustomerSession.last_seen_at <= now - policy.idle,
                CustomerSession.created_at <= now - policy.lifetime,
            )
        )
    ).rowcount
