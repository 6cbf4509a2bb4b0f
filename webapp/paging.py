"""Keyset paging: pages of an ordered select that stay as fast at row 500,000 as at row 1.

A page never says "skip N rows". Its Next link carries the last row's sort key
(``?after=``) and its Previous link the first row's (``?before=``); the next page
is the rows past that key, read straight from the (key, id) index. A bookmarked
or reloaded URL therefore shows the rows after the same boundary, and a row
added or deleted elsewhere in the meantime neither repeats a row nor skips one.

The key is a tuple of columns ending in a unique one (the id), all in the same
direction, so ``(a, id) < (x, 42)`` is one row-value comparison that PostgreSQL
and SQLite both answer from a composite index. The cursor is that tuple as
URL-safe base64 of JSON: opaque enough to keep out of sight, plain enough to
read when debugging. A cursor that does not decode, or holds the wrong types,
is ignored: the first page is shown, like any other unknown query argument.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

PER_PAGE = 50
MAX_CURSOR = 1_000  # characters: far more than any key needs


@dataclass
class Page:
    """One page of rows and the query arguments of its neighbours (empty: none there)."""

    rows: list
    next_args: dict[str, str] = field(default_factory=dict)
    prev_args: dict[str, str] = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return bool(self.next_args)

    @property
    def has_prev(self) -> bool:
        return bool(self.prev_args)


@dataclass(frozen=True)
class PageAt:
    """Which page a request asks for: after a cursor, before one, or (neither) the first."""

    after: str = ""
    before: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> PageAt:
        after = args.get("after", "")[:MAX_CURSOR]
        return cls(after=after, before="" if after else args.get("before", "")[:MAX_CURSOR])


FIRST = PageAt()


@dataclass(frozen=True)
class Keyset:
    """The order of a paged list: ``columns`` (the last one unique), all ascending or all
    descending, and how to read their values off a row (attribute names, in order)."""

    columns: Sequence
    names: Sequence[str]
    descending: bool = True

    def order(self) -> list:
        return [column.desc() if self.descending else column.asc() for column in self.columns]

    def reverse_order(self) -> list:
        return [column.asc() if self.descending else column.desc() for column in self.columns]

    def past(self, key: tuple):
        """Rows after ``key`` in this order."""
        row, boundary = tuple_(*self.columns), tuple_(*key)
        return row < boundary if self.descending else row > boundary

    def before(self, key: tuple):
        """Rows before ``key`` in this order."""
        row, boundary = tuple_(*self.columns), tuple_(*key)
        return row > boundary if self.descending else row < boundary

    def key_of(self, row) -> tuple:
        return tuple(getattr(row, name) for name in self.names)

    def cursor_of(self, row) -> str:
        return encode_cursor(self.key_of(row))

    def decode(self, cursor: str) -> tuple | None:
        """The key in ``cursor``, typed like the columns, or None when it is not one."""
        return decode_cursor(cursor, [_python_type(column) for column in self.columns])


def _python_type(column) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:  # pragma: no cover - every key column has a plain type
        return str


def encode_cursor(key: Sequence) -> str:
    values = [value.isoformat() if isinstance(value, date) else value for value in key]
    raw = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, types: Sequence[type]) -> tuple | None:
    if not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(types):
        return None
    key = []
    for value, kind in zip(values, types, strict=True):
        typed = _typed(value, kind)
        if typed is None:
            return None
        key.append(typed)
    return tuple(key)


def _typed(value, kind: type):
    try:
        if kind is datetime and isinstance(value, str):
            return datetime.fromisoformat(value)
        if kind is date and isinstance(value, str):
            return date.fromisoformat(value)
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value if abs(value) < 2**63 else None
        if kind is str and isinstance(value, str):
            return value if "\x00" not in value else None
    except ValueError:
        return None
    return None


def _keyset_args(direction: str, keyset: Keyset, row) -> dict[str, str]:
    return {direction: keyset.cursor_of(row)}


def keyset_page(
    session: Session,
    statement: Select,
    keyset: Keyset,
    at: PageAt = FIRST,
    per_page: int = PER_PAGE,
    fetch: Callable | None = None,
) -> Page:
    """The page of ``statement`` (filtered, not ordered) that ``at`` asks for. A Previous
    page that comes up short (rows deleted, or the start reached) is the first page, so
    every page but the last is full. ``fetch(session, statement)`` returns the rows; by
    default ORM objects (``session.scalars``)."""
    fetch = fetch or (lambda s, st: s.scalars(st).all())
    if at.before and (key := keyset.decode(at.before)) is not None:
        backwards = statement.where(keyset.before(key)).order_by(*keyset.reverse_order())
        rows = list(fetch(session, backwards.limit(per_page + 1)))
        if len(rows) > per_page:
            rows = rows[:per_page][::-1]
            later = statement.where(keyset.past(keyset.key_of(rows[-1])))
            more = session.scalar(select(later.with_only_columns(keyset.columns[-1]).exists()))
            return Page(
                rows,
                next_args=_keyset_args("after", keyset, rows[-1]) if more else {},
                prev_args=_keyset_args("before", keyset, rows[0]),
            )
        return keyset_page(session, statement, keyset, per_page=per_page, fetch=fetch)
    first = True
    if at.after and (key := keyset.decode(at.after)) is not None:
        statement = statement.where(keyset.past(key))
        first = False
    rows = list(fetch(session, statement.order_by(*keyset.order()).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return Page(
        rows,
        next_args=_keyset_args("after", keyset, rows[-1]) if more else {},
        prev_args=_keyset_args("before", keyset, rows[0]) if rows and not first else {},
    )


# Offset paging, for the one short list whose order is computed (a customer's activities:
# upcoming first, see services.activities) and cannot be a keyset. Clamped: an absurd
# ?page= must not become an absurd OFFSET.
MAX_PAGE = 1_000


def page_of(session: Session, statement, number: int) -> Page:
    """Page ``number`` (1-based) of an ordered select of ORM rows."""
    number = min(max(number, 1), MAX_PAGE)
    rows = session.scalars(statement.offset((number - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return Page(
        list(rows[:PER_PAGE]),
        next_args={"page": str(number + 1)} if len(rows) > PER_PAGE else {},
        prev_args={"page": str(number - 1)} if number > 1 else {},
    )
