"""Tags: labels staff put on customers ("VIP", "key account"); the customer list
filters by them. A tag is one row per folded name, so "VIP" and "vip" are the same
tag, shown as it was first typed. A tag no customer carries any more stays in the
list of tags, ready to be used again."""

from __future__ import annotations

import re

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models.crm import Tag, customer_tags
from webapp.models.customer import Customer
from webapp.services import history
from webapp.services.guard import lock_editable
from webapp.services.reference import fold_text

NAME_MAX = 50
# How many tags the list filter and the Add tag suggestions offer at most.
TAG_LIST_LIMIT = 500
_NAME = re.compile(r"^[\w\- ]+$")


class TagError(Exception):
    """A tag could not be added or removed; the message is shown beside the field."""


def tag_key(name: str) -> str:
    """The folded form tags are matched by: case, accents and repeated spaces ignored."""
    return fold_text(" ".join(name.split()))


def clean_tag_name(name: str) -> tuple[str, str]:
    """The name to store (trimmed, single spaces) and its key, or ``TagError``."""
    name = " ".join((name or "").split())
    if not name:
        raise TagError("Enter a tag.")
    if len(name) > NAME_MAX:
        raise TagError(f"A tag can be at most {NAME_MAX} characters.")
    if not _NAME.match(name):
        raise TagError("A tag may contain only letters, digits, spaces, - and _.")
    key = tag_key(name)
    if len(key) > NAME_MAX:  # folding can lengthen a name ("ß" becomes "ss")
        raise TagError(f"A tag can be at most {NAME_MAX} characters.")
    return name, key


def _has_tag(session: Session, customer_id: int, tag_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    customer_tags.c.customer_id == customer_id, customer_tags.c.tag_id == tag_id
                )
            )
        )
    )


def _insert(session: Session, table):
    """INSERT … ON CONFLICT DO NOTHING for this database."""
    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


def add_tag(session: Session, customer: Customer, name: str) -> Tag:
    """Put a tag (existing by folded name, or new) on a customer and commit. Two staff creating
    one tag at once share it: the insert skips a key just added, then both read it."""
    name, key = clean_tag_name(name)
    lock_editable(session, customer.id)
    tag = session.scalar(select(Tag).where(Tag.key == key))
    if tag is not None and _has_tag(session, customer.id, tag.id):
        message = f"{customer.name} already has the tag {tag.name}."
        session.rollback()  # let go of the customer's lock
        raise TagError(message)
    if tag is None:
        session.execute(
            _insert(session, Tag)
            .values(name=name, key=key)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        tag = session.scalar(select(Tag).where(Tag.key == key))
    # A double click that got here twice adds the tag once.
    try:
        added = session.execute(
            _insert(session, customer_tags)
            .values(customer_id=customer.id, tag_id=tag.id)
            .on_conflict_do_nothing(index_elements=["customer_id", "tag_id"])
            # Without this an INSERT's rowcount may read -1 (psycopg).
            .execution_options(preserve_rowcount=True)
        ).rowcount
        if added:  # the second of a double click adds nothing and records nothing
            history.record(session, customer.id, "record.tag.added", "Tag added", new=tag.name)
        session.commit()
    except IntegrityError:  # only the customer's foreign key is left to fail
        session.rollback()
        raise TagError("This customer no longer exists.") from None
    return tag


def remove_tag(session: Session, customer: Customer, tag: Tag) -> None:
    """Take a tag off a customer and commit. The tag itself stays for other customers."""
    removed = session.execute(
        delete(customer_tags).where(
            customer_tags.c.customer_id == customer.id, customer_tags.c.tag_id == tag.id
        )
    )
    if removed.rowcount == 0:
        session.rollback()
        raise TagError(f"{customer.name} does not have the tag {tag.name}.")
    history.record(session, customer.id, "record.tag.removed", "Tag removed", old=tag.name)
    session.commit()


def get_tag(session: Session, tag_id: int) -> Tag | None:
    """The tag with this id, if there is one."""
    return session.get(Tag, tag_id)


def tags_of(session: Session, customer_id: int) -> list[Tag]:
    """A customer's tags in alphabetical order (of the folded name)."""
    return list(
        session.scalars(
            select(Tag)
            .join(customer_tags, customer_tags.c.tag_id == Tag.id)
            .where(customer_tags.c.customer_id == customer_id)
            .order_by(Tag.key)
        )
    )


def all_tags(session: Session, selected_key: str = "") -> list[Tag]:
    """Tags to choose from, alphabetical, at most ``TAG_LIST_LIMIT``, always with ``selected_key``'s
    (so a filter on it survives another filter's change)."""
    tags = list(session.scalars(select(Tag).order_by(Tag.key).limit(TAG_LIST_LIMIT)))
    if selected_key and all(tag.key != selected_key for tag in tags):
        selected = session.scalar(select(Tag).where(Tag.key == selected_key))
        if selected is not None:
            tags.append(selected)
    return tags


def tag_id_for_key(session: Session, key: str) -> int | None:
    """The id of the tag with this folded name, if there is one."""
    return session.scalar(select(Tag.id).where(Tag.key == key)) if key else None
