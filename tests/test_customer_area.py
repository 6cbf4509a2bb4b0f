"""The customer area's read services and the email preferences a customer may change:
always one customer's own data, never another's, never a draft."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.customer_area_data import AreaData, fill
from webapp.models.billing import EntryKind
from webapp.models.contacts import Contact
from webapp.models.history import CustomerEvent
from webapp.paging import PER_PAGE, PageAt
from webapp.services import customer_area, ledger
from webapp.services.statements import Period


@pytest.fixture
def owner(make_customer, db):
    return make_customer(name="Olive Owner", email="olive@example.com", currency="EUR")


@pytest.fixture
def neighbour(make_customer, db):
    return make_customer(name="Nora Neighbour", email="nora@example.com", currency="EUR")


@pytest.fixture
def mine(db, owner) -> AreaData:
    return fill(db.session, owner, "Olive")


@pytest.fixture
def theirs(db, neighbour) -> AreaData:
    return fill(db.session, neighbour, "Nora")


def test_balances_per_currency_billing_currency_first(db, owner, mine, theirs):
    balances = customer_area.balances_of(db.session, owner)
    # -120.00 -50.00 +50.00 (paid) +15.00 (credit note) in EUR (with tax at the customer's
    # rate); +25.00 in USD.
    currencies = [currency for _, currency in balances.currencies]
    assert currencies == ["EUR", "USD"]
    eur = dict((c, a) for a, c in balances.currencies)["EUR"]
    assert eur < 0
    assert balances.owed == ((-eur, "EUR"),)
    assert (2_500, "USD") in balances.outstanding
    assert not balances.paid_in_full


def test_a_customer_with_no_money_is_paid_in_full(db, owner):
    balances = customer_area.balances_of(db.session, owner)
    assert balances.currencies == ()
    assert balances.paid_in_full and balances.owed == ()


def test_history_is_the_customers_own_entries_newest_first(db, owner, mine, theirs):
    page = customer_area.history_page(db.session, owner.id)
    descriptions = [entry.description for entry in page.rows]
    assert all(entry.customer_id == owner.id for entry in page.rows)
    assert not any("Nora" in text for text in descriptions)
    assert descriptions[0] == "Olive prepayment"
    keys = [(entry.created_at, entry.id) for entry in page.rows]
    assert keys == sorted(keys, reverse=True)


def test_history_pages_by_keyset_as_the_panel_does(db, owner):
    for number in range(PER_PAGE + 3):
        ledger.post_entry(
            db.session,
            owner.id,
            kind=EntryKind.CHARGE,
            amount_minor=-(100 + number),
            currency="EUR",
            description=f"Item {number}",
            actor_id=None,
            key=None,
        )
    first = customer_area.history_page(db.session, owner.id, PageAt())
    assert len(first.rows) == PER_PAGE and first.has_next and not first.has_prev
    assert first.rows[0].description == f"Item {PER_PAGE + 2}"
    second = customer_area.history_page(db.session, owner.id, PageAt.from_args(first.next_args))
    assert [entry.description for entry in second.rows] == ["Item 2", "Item 1", "Item 0"]
    assert second.has_prev and not second.has_next


def test_invoices_leave_out_drafts_and_other_customers(db, owner, mine, theirs):
    page = customer_area.invoices_page(db.session, owner.id)
    ids = [invoice.id for invoice in page.rows]
    assert set(ids) == {mine.invoice_id, mine.paid_invoice_id}
    assert mine.draft_id not in ids
    assert ids == sorted(ids, reverse=True)  # same day: newest (highest id) first


def test_credit_notes_are_the_customers_own(db, owner, mine, theirs):
    page = customer_area.credit_notes_page(db.session, owner.id)
    assert [note.id for note in page.rows] == [mine.credit_note_id]


def test_one_document_only_if_it_is_the_customers(db, owner, mine, theirs):
    assert customer_area.invoice_of(db.session, owner.id, mine.invoice_id).id == mine.invoice_id
    assert customer_area.invoice_of(db.session, owner.id, theirs.invoice_id) is None
    assert customer_area.invoice_of(db.session, owner.id, mine.draft_id) is None
    assert customer_area.invoice_of(db.session, owner.id, 10**9) is None
    note = customer_area.credit_note_of(db.session, owner.id, mine.credit_note_id)
    assert note.id == mine.credit_note_id
    assert customer_area.credit_note_of(db.session, owner.id, theirs.credit_note_id) is None
    # An invoice id is not a credit note id of the customer's, and the other way round.
    assert customer_area.credit_note_of(db.session, owner.id, 10**9) is None


def test_statement_is_the_panels_statement(db, owner, mine, theirs):
    today = date.today()
    statement = customer_area.statement_of(
        db.session, owner, Period(today - timedelta(days=89), today)
    )
    assert statement.customer_id == owner.id
    assert [account.currency for account in statement.currencies] == ["EUR", "USD"]
    assert [invoice.invoice_id for invoice in statement.open_invoices] == [mine.invoice_id]
    descriptions = [e.description for a in statement.currencies for e in a.entries]
    assert not any("Nora" in text for text in descriptions)


def test_contacts_are_the_customers_own(db, owner, mine, theirs):
    listed = customer_area.contacts_of(db.session, owner.id)
    assert [contact.id for contact in listed] == [mine.contact_id, mine.other_contact_id]
    assert customer_area.contact_of(db.session, owner.id, mine.contact_id).name == "Olive Primary"
    assert customer_area.contact_of(db.session, owner.id, theirs.contact_id) is None


def events(db, customer_id) -> list[CustomerEvent]:
    db.session.expire_all()
    return db.session.scalars(
        select(CustomerEvent)
        .where(CustomerEvent.customer_id == customer_id)
        .order_by(CustomerEvent.id)
    ).all()


def test_setting_email_preferences_saves_and_records_one_line(db, owner, mine, theirs):
    before = len(events(db, owner.id))
    version = db.session.get(Contact, mine.contact_id).version
    contact = customer_area.set_email_preferences(
        db.session,
        owner.id,
        mine.contact_id,
        {"wants_billing": False, "wants_updates": True, "wants_legal": True},
    )
    db.session.expire_all()
    saved = db.session.get(Contact, mine.contact_id)
    assert (saved.wants_billing, saved.wants_updates, saved.wants_legal) == (False, True, True)
    assert saved.version == version + 1
    assert contact.id == mine.contact_id
    added = events(db, owner.id)[before:]
    assert [event.summary for event in added] == ["Email preferences changed by the customer"]
    assert added[0].staff_id is None
    assert added[0].old_value == "Olive Primary: Billing"
    assert added[0].new_value == "Olive Primary: Updates, Legal"


def test_unchanged_preferences_record_nothing(db, owner, mine):
    before = len(events(db, owner.id))
    customer_area.set_email_preferences(
        db.session,
        owner.id,
        mine.contact_id,
        {"wants_billing": True, "wants_updates": False, "wants_legal": False},
    )
    assert len(events(db, owner.id)) == before


def test_another_customers_contact_is_left_alone(db, owner, neighbour, mine, theirs):
    before = len(events(db, neighbour.id))
    result = customer_area.set_email_preferences(
        db.session, owner.id, theirs.contact_id, {"wants_billing": False, "wants_legal": True}
    )
    assert result is None
    db.session.expire_all()
    contact = db.session.get(Contact, theirs.contact_id)
    assert (contact.wants_billing, contact.wants_legal) == (True, False)
    assert len(events(db, neighbour.id)) == before
