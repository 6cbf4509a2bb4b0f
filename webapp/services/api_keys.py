"""API keys: create (the key is shown once), look up and verify, revoke, note the last use.

A key reads ``tally_<prefix>_<secret>``: the prefix (8 random characters, stored as is and
shown in the list) finds the row; the secret (32 random bytes) is stored only as its
SHA-256, compared in constant time. A database copy therefore holds no usable key, and a
revoked key is refused at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.models.api_keys import SCOPE_LABELS, ApiKey
from webapp.models.base import utcnow
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services import audit, reference

TOKEN_PREFIX = "tally_"
NAME_MAX = 100
SCOPES = tuple(SCOPE_LABELS)
# "Last used" is written at most this often per key: not a row update per request.
TOUCH_EVERY = timedelta(minutes=1)
_TOKEN = re.compile(r"^tally_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class ApiKeyError(Exception):
    """A refused key change; the message is shown beside ``field`` when named."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the token itself, which is shown this once."""

    key: ApiKey
    token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str) -> str:
    """The key's name as stored, or ``ApiKeyError``: required, at most 100 characters."""
    name = " ".join((name or "").split())
    if reference.has_unstorable_character(name):
        raise ApiKeyError(reference.UNSTORABLE_IN_FIELD, "name")
    if not name:
        raise ApiKeyError("Enter a name that says which program uses the key.", "name")
    if len(name) > NAME_MAX:
        raise ApiKeyError(f"A key's name is at most {NAME_MAX} characters.", "name")
    return name


def create_key(session: Session, name: str, scope: str, staff_id: int | None) -> NewKey:
    """Make a key and commit; the returned token is the only copy there will ever be."""
    name = check_name(name)
    if scope not in SCOPES:
        raise ApiKeyError("Choose Read or Read and write.", "scope")
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scope=scope,
        created_by_id=staff_id,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        "api_key.created",
        f"API key {prefix}",
        f'Created API key "{name}" ({SCOPE_LABELS[scope].lower()}).',
        staff_id=staff_id,
    )
    session.commit()
    return NewKey(key, f"{TOKEN_PREFIX}{prefix}_{secret}")


def key_for_token(session: Session, token: str) -> ApiKey | None:
    """The live key ``token`` names, or None (malformed, unknown, wrong secret or revoked)."""
    match = _TOKEN.match(token or "")
    if match is None:
        return None
    prefix, secret = match.groups()
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return None if key.is_revoked else key


def touch(session: Session, key: ApiKey, now: datetime | None = None) -> bool:
    """Note that ``key`` was used; writes (and commits) only when the last note is older
    than ``TOUCH_EVERY``, so a busy key costs one write a minute. Returns whether it wrote."""
    now = now or utcnow()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return False
    written = session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(written)


def revoke(session: Session, key_id: int, staff_id: int | None) -> ApiKey:
    """Revoke a key and commit: every request with it is refused (401) from now on."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyError("This API key does not exist.")
    if key.is_revoked:
        session.rollback()
        raise ApiKeyError(f'The API key "{key.name}" is already revoked.')
    key.revoked_at = utcnow()
    key.revoked_by_id = staff_id
    audit.record(
        session,
        "api_key.revoked",
        f"API key {key.prefix}",
        f'Revoked API key "{key.name}".',
        staff_id=staff_id,
    )
    session.commit()
    return key


def keys_page(session: Session, at: PageAt = FIRST) -> Page:
    """The Settings → API keys list, newest first."""
    return keyset_page(session, select(ApiKey), Keyset((ApiKey.id,), ("id",)), at)
