"""What a PDF copy says: a ``Sheet`` (seller, buyer, dates, lines, totals, sections,
notes), text only, every amount already formatted by the caller.

Kept apart from ``services.pdf``, which lays a sheet out with fpdf2: building a sheet
needs no PDF library, so a process loads fpdf2 (about 20 MB with fontTools and Pillow)
only when it renders its first PDF, and a worker that never does (a CSV import) never
loads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Party:
    """A seller or a buyer: the name in bold, then one line each (address, tax ID …)."""

    name: str
    lines: Sequence[str] = ()


@dataclass(frozen=True)
class Column:
    heading: str
    numeric: bool = False  # right-aligned, as wide as its widest cell
    fit: bool = False  # left-aligned, as wide as its widest cell, never wrapped (a date)

    @property
    def sized_to_content(self) -> bool:
        return self.numeric or self.fit


@dataclass(frozen=True)
class Total:
    label: str
    value: str
    strong: bool = False


@dataclass(frozen=True)
class Section:
    """A table of its own after the sheet's lines and totals, under a heading, with its
    totals under it; ``empty_text`` stands in for a table without rows."""

    heading: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[str]]
    totals: Sequence[Total] = ()
    empty_text: str = ""

    def texts(self) -> list[str]:
        found = [self.heading, self.empty_text, *(column.heading for column in self.columns)]
        for row in self.rows:
            found += list(row)
        for total in self.totals:
            found += [total.label, total.value]
        return found


@dataclass(frozen=True)
class Sheet:
    """Everything a PDF copy shows, formatted. ``issued`` dates the file itself."""

    title: str
    number: str
    seller: Party
    buyer_heading: str
    buyer: Party
    dates: Sequence[tuple[str, str]]
    columns: Sequence[Column]
    rows: Sequence[Sequence[str]]
    totals: Sequence[Total]
    issued: datetime
    notes: Sequence[str] = ()
    footer_text: str = ""
    language: str = "en"
    # Tables after the lines and totals; a sheet without columns has only these.
    sections: Sequence[Section] = ()

    def texts(self) -> list[str]:
        """Every string the PDF will draw (to know which fonts it needs)."""
        found = [self.title, self.number, self.buyer_heading, self.footer_text, *self.notes]
        for party in (self.seller, self.buyer):
            found += [party.name, *party.lines]
        for label, value in self.dates:
            found += [label, value]
        found += [column.heading for column in self.columns]
        for row in self.rows:
            found += list(row)
        for total in self.totals:
            found += [total.label, total.value]
        for section in self.sections:
            found += section.texts()
        return found


# -- fonts --------------------------------------------------------------------------

# Unicode blocks nearly every document stays within: Latin (with its extensions),
# Greek, Cyrillic, punctuation, currency and letter-like symbols, arrows, maths.
