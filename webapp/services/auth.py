"""Signing in, with failed attempts throttled per account and per client address.

After ``max_failures`` consecutive failures for an account (or a larger
number from one address) further attempts are refused for ``lock_minutes``,
even with the right password, and the message says when to try again. A
successful sign-in clears both counters. Counters live in the database so
every worker process sees the same numbers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from webapp.models.base import utcnow
from webapp.models.staff import SignInThrottle, Staff
from webapp.services.staff import (
    find_staff_by_email,
    hash_password,
    password_hash_method,
    password_matches,
)


class SignInError(Exception):
    """Sign-in refused; the message is safe to show."""


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    lock_minutes: int = 15


def throttle_keys(email: str, address: str, scope: str = "") -> list[tuple[str, str]]:
    """The throttle counters a sign-in attempt counts against: the account and the address.
    ``scope`` keeps another door's counters apart (the customer area uses "customer-")."""
    return [
        ("account", f"{scope}account:{email.strip().lower()}"),
        ("address", f"{scope}address:{address}"),
    ]


def _locked_minutes(session: Session, key: str) -> int | None:
    row = session.get(SignInThrottle, key)
    if row is None or row.locked_until is None:
        return None
    remaining = row.locked_until - utcnow()
    if remaining.total_seconds() <= 0:
        return None
    return max(1, int(remaining.total_seconds() // 60) + (remaining.total_seconds() % 60 > 0))


def _record_failure(session: Session, key: str, limit: int, lock_minutes: int) -> None:
    row = session.get(SignInThrottle, key)
    if row is None:
        row = SignInThrottle(key=key, failures=0)
        session.add(row)
    if row.locked_until is not None and row.locked_until <= utcnow():
        row.failures, row.locked_until = 0, None
    row.failures += 1
    row.last_failure_at = utcnow()
    if row.failures >= limit:
        row.locked_until = utcnow() + timedelta(minutes=lock_minutes)


def refuse_if_locked(session: Session, keys: list[tuple[str, str]]) -> None:
    """Raise ``SignInError`` (saying when to try again) while any of ``keys`` is locked."""
    for _kind, key in keys:
        minutes = _locked_minutes(session, key)
        if minutes is not None:
            raise SignInError(
                "Too many failed sign-in attempts. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )


def record_failed_sign_in(
    session: Session, keys: list[tuple[str, str]], policy: ThrottlePolicy
) -> None:
    """Count one failure against each of ``keys``, locking those at their limit; commits."""
    limits = {
        "account": policy.max_failures_per_account,
        "address": policy.max_failures_per_address,
    }
    for kind, key in keys:
        _record_failure(session, key, limits[kind], policy.lock_minutes)
    session.commit()


def clear_failed_sign_ins(session: Session, keys: list[tuple[str, str]]) -> None:
    """A successful sign-in: forget the failures counted against ``keys``; commits."""
    for _kind, key in keys:
        row = session.get(SignInThrottle, key)
        if row is not None:
            session.delete(row)
    session.commit()


def authenticate(
    session: Session, email: str, password: str, address: str, policy: ThrottlePolicy
) -> Staff:
    """Return the staff member for valid credentials or raise ``SignInError``."""
    keys = throttle_keys(email, address)
    refuse_if_locked(session, keys)

    staff = find_staff_by_email(session, email) if email.strip() else None
    valid = password_matches(staff, password) if staff else dummy_password_check(password)
    if staff is None or not valid or not staff.active:
        record_failed_sign_in(session, keys, policy)
        if staff is not None and valid and not staff.active:
            raise SignInError("This account has been deactivated. Ask an admin.")
        raise SignInError("Email or password is not right.")

    clear_failed_sign_ins(session, keys)
    return staff


def policy_from_config(config) -> ThrottlePolicy:
    """The throttle the settings ask for (SIGN_IN_MAX_FAILURES…, SIGN_IN_LOCK_MINUTES)."""
    return ThrottlePolicy(
        max_failures_per_account=config["SIGN_IN_MAX_FAILURES_PER_ACCOUNT"],
        max_failures_per_address=config["SIGN_IN_MAX_FAILURES_PER_ADDRESS"],
        lock_minutes=config["SIGN_IN_LOCK_MINUTES"],
    )


@cache
def _dummy_hash(method: str | None) -> str:
    """A hash of a random password, made once per hash method (``method`` keys the cache)."""
    return hash_password(secrets.token_hex(16))


def dummy_password_check(password: str) -> bool:
    """Spend the same time on an unknown email, so timing does not reveal which exist."""
    check_password_hash(_dummy_hash(password_hash_method()), password)
    return False
