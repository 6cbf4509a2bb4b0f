"""Idempotency-Key for the JSON API, as Stripe has it: a POST or PATCH sent again with the
same key (per API key, within 24 hours) gets the first response back, and does nothing
more.

``begin`` claims the key in its own committed row before the work starts, so two copies
of a request racing each other cannot both run: the second finds the claim and is told
the first is still in progress (409). ``finish`` keeps a success (2xx) for replay; after
a refusal (4xx) or a failure the claim is dropped, so the corrected request may be sent
again under the same key. The same key with another method, path or body is refused
(422): it is a client's mistake, never taken for a replay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models.api_keys import IdempotencyRecord
from webapp.models.base import utcnow

KEEP_FOR = timedelta(hours=24)
# A claim whose request never finished (the process died) is given up after this.
ABANDONED_AFTER = timedelta(minutes=5)
KEY_MAX = 255


class IdempotencyError(Exception):
    """The key cannot be used for this request: ``status`` 409 (in progress) or 422."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


KEY_REFUSED = (
    f"An Idempotency-Key is 1 to {KEY_MAX} visible ASCII characters (a UUID is a good choice)."
)
IN_PROGRESS = (
    "A request with this Idempotency-Key is still in progress: wait for its answer, then "
    "send it again to get the same response."
)
OTHER_REQUEST = (
    "This Idempotency-Key was used for a different request (method, path or body) in the "
    "last 24 hours: use a new key for a new request."
)


@dataclass(frozen=True)
class Replay:
    status: int
    body: str
    location: str


@dataclass(frozen=True)
class Claim:
    record_id: int


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX or not all(33 <= ord(c) < 127 for c in key):
        raise IdempotencyError(KEY_REFUSED, 422)
    return key


def begin(session: Session, api_key_id: int, key: str, fingerprint: str) -> Replay | Claim:
    """Claim ``key`` for this request, or return the first response to replay. Raises
    ``IdempotencyError`` when it is in progress (409) or was used for another request (422)."""
    check_key(key)
    now = utcnow()
    # Expired records of this API key go first, so the key may be used afresh.
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id,
            IdempotencyRecord.created_at < now - KEEP_FOR,
        )
    )
    found = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
        )
    )
    if found is not None:
        if found.request_hash != fingerprint:
            session.rollback()
            raise IdempotencyError(OTHER_REQUEST, 422)
        if found.status is not None:
            replay = Replay(found.status, found.body, found.location)
            session.rollback()
            return replay
        if now - found.created_at < ABANDONED_AFTER:
            session.rollback()
            raise IdempotencyError(IN_PROGRESS, 409)
        session.delete(found)
        session.flush()
    record = IdempotencyRecord(
        api_key_id=api_key_id, key=key, request_hash=fingerprint, body="", location=""
    )
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        # Another copy of the request claimed it a moment ago.
        session.rollback()
        raise IdempotencyError(IN_PROGRESS, 409) from None
    return Claim(record.id)


def finish(session: Session, claim: Claim, status: int, body: str, location: str = "") -> None:
    """Keep a success for replay; drop the claim after a refusal or failure."""
    session.rollback()  # whatever the request left open (a refused service's session)
    record = session.get(IdempotencyRecord, claim.record_id)
    if record is None:
        return
    if 200 <= status < 300:
        record.status, record.body, record.location = status, body, location
    else:
        session.delete(record)
    session.commit()
