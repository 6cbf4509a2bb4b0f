"""Notes on a customer: add, list newest first, delete. Plain text only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.notes import Note
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services.guard import lock_editable
from webapp.services.records import customer_record, plain_text

MAX_LENGTH = 5000


class NoteError(Exception):
    """A note that cannot be written or removed; the message says why."""


def add_note(session: Session, customer_id: int, staff_id: int | None, body: str) -> Note:
    """Send: a new note, kept exactly as typed (trimmed); shown escaped everywhere."""
    # Browsers send line breaks as CRLF from a plain form and LF through htmx: store
    # one form, and count the limit on it.
    text = plain_text(body)
    if not text:
        raise NoteError("Write the note first.")
    if len(text) > MAX_LENGTH:
        raise NoteError(f"A note can be at most {MAX_LENGTH:,} characters.")
    lock_editable(session, customer_id)
    note = Note(customer_id=customer_id, staff_id=staff_id, body=text)
    session.add(note)
    session.commit()
    return note


def customer_note(session: Session, customer_id: int, note_id: int) -> Note | None:
    return customer_record(session, Note, customer_id, note_id)


def delete_note(session: Session, customer_id: int, note_id: int) -> None:
    note = customer_note(session, customer_id, note_id)
    if note is None:
        raise NoteError("That note was already deleted.")
    session.delete(note)
    session.commit()


def notes_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """A customer's notes, newest first."""
    statement = select(Note).where(Note.customer_id == customer_id)
    return keyset_page(session, statement, Keyset((Note.id,), ("id",)), at)
