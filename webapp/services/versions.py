"""Two people editing one row: the second save must not silently undo the first.

Every row staff edit in a form (a customer, its contacts, addresses, external IDs,
activities, tickets and sales, tax classes and legal entities) has a ``version`` that
each save bumps (``models.base.Versioned``). An edit form is opened at a version and
also carries what it showed then (``seen``: each compared column's stored value, as
text). On save, the service compares under the customer's lock, with the row read
afresh:

- the same version: nobody saved in between, the save goes through;
- another version: each column whose value now differs from what the form showed was
  changed by someone else. If this person typed exactly that new value, or nothing
  shown on the form changed (a posting moved the balance, a tag was added), the save
  goes through; otherwise it is refused with ``EditConflict``, naming each such field
  with its value now, so the form comes back (409) at the current version. A field
  this person left as it was shown takes the other person's value in the form
  (``Changed.refreshed``), so saving again cannot undo their change by accident; a
  field both changed keeps what this person typed: saving it again is a deliberate
  choice.

Why carry the values shown rather than read the history: history lines hold readable
text (labels, formatted money) and Clear personal data blanks their values, while the
stored value is exact and the form had it anyway.

A service called without ``opened`` (a job, the command line, a form posted without
its version) does not compare: those callers read and write in one go.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from webapp.models.settings import TaxClass
from webapp.services import history
from webapp.services.reference import country_name, format_tax_rate


@dataclass(frozen=True)
class Opened:
    """An edit form's opening state: the row's version and values shown (None if unreadable)."""

    version: int
    seen: dict[str, str] | None = None


@dataclass(frozen=True)
class Changed:
    """A field someone else changed since the form was opened, and its value now, readable."""

    field: str
    now: str
    # This person left the field as shown: the form takes the value now (``value``,
    # as stored) instead of keeping the old one.
    refreshed: bool = False
    value: Any = None


class EditConflict(Exception):
    """Saved by someone else meanwhile; ``changes`` names fields, ``version``/``seen`` reopen."""

    def __init__(self, changes: list[Changed], version: int, seen: str) -> None:
        super().__init__(", ".join(change.field for change in changes))
        self.changes = changes
        self.version = version
        self.seen = seen


def as_text(value: Any) -> str:
    """A stored value as compared: exact, and the same whichever way it was read."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def columns_of(row: Any) -> set[str]:
    """The names of the row's mapped columns."""
    return {attribute.key for attribute in inspect(type(row)).column_attrs}


def seen_token(row: Any, names: Iterable[str]) -> str:
    """What an edit form shows of ``row``, for its hidden ``seen`` field."""
    return json.dumps({name: as_text(getattr(row, name)) for name in names}, sort_keys=True)


def opened(version: Any, seen: Any) -> Opened | None:
    """The form's hidden fields read back; None without a version. A non-number version reads as 0,
    so the save is checked against the values instead of waved through."""
    text = str(version or "").strip()
    if not text:
        return None
    number = int(text) if text.isdigit() and len(text) < 10 else 0
    try:
        values = json.loads(seen) if seen else None
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in values.items()
    ):
        values = None
    return Opened(number, values)


def readable(session: Session, row: Any, name: str, value: Any) -> str:
    """A value as the page shows it: as in the history, a country by name, a rate as a percent."""
    if isinstance(row, TaxClass) and name == "rate_bp":
        return f"{format_tax_rate(value)} %"
    if name == "country" and value:
        return country_name(value)
    return history.shown_value(session, row, name, value)


def check(
    session: Session,
    row: Any,
    opened: Opened | None,
    typed: Mapping[str, Any],
    shown=readable,
) -> None:
    """Raise ``EditConflict`` (rolled back, freeing the lock) if someone else changed ``row`` since
    ``opened``. Call with the row read under the lock, before applying; ``shown`` formats values."""
    if opened is None or opened.version == row.version:
        return
    columns = columns_of(row)
    names = [
        name for name in (opened.seen if opened.seen is not None else typed) if name in columns
    ]
    changes = []
    for name in names:
        now = getattr(row, name)
        if opened.seen is not None and opened.seen.get(name) == as_text(now):
            continue  # as the form showed it
        if name in typed and as_text(typed[name]) == as_text(now):
            continue  # this person typed what it is now: nothing is lost
        untouched = (
            opened.seen is not None
            and name in typed
            and as_text(typed[name]) == opened.seen.get(name)
        )
        changes.append(Changed(name, shown(session, row, name, now), untouched, now))
    if not changes:
        return
    conflict = EditConflict(changes, row.version, seen_token(row, names))
    session.rollback()
    raise conflict
