"""Pages of a customer's tab rows (entries, invoices, emails …), newest first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

PER_PAGE = 50
# Deeper pages are clamped: an absurd ?page= must not become an absurd OFFSET.
MAX_PAGE = 100_000


@dataclass
class Page:
    """One page of rows, newest first, and whether older rows exist."""

    rows: list
    number: int
    has_next: bool


def page_of(session: Session, statement, number: int) -> Page:
    """Page ``number`` (1-based, clamped) of an ordered select of ORM rows."""
    number = min(max(number, 1), MAX_PAGE)
    rows = session.scalars(statement.offset((number - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return Page(list(rows[:PER_PAGE]), number, len(rows) > PER_PAGE)
