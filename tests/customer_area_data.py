"""Two customers with money, documents and contacts, for the customer area's tests: the
one signed in ("Olive Owner") and another ("Nora Neighbour") whose ids every customer
area URL is tried with."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.models.billing import EntryKind
from webapp.services import billing, contacts, drafts, ledger
from webapp.services.drafts import DraftLine


@dataclass
class AreaData:
    """The ids a test needs of one customer."""

    customer_id: int
    invoice_id: int
    paid_invoice_id: int
    draft_id: int
    credit_note_id: int
    contact_id: int
    other_contact_id: int


def charge(session, customer_id: int, amount: int, currency: str, text: str):
    """Capture one time charge (an invoice; negative: a credit note), as staff do."""
    return billing.capture_one_time_charge(
        session,
        customer_id,
        amount_minor=amount,
        currency=currency,
        description=text,
        actor_id=None,
        key=None,
    )


def fill(session, customer, tag: str) -> AreaData:
    """Two invoices (one paid), a credit note, a draft, a payment in USD and two contacts."""
    invoice = charge(session, customer.id, 12_000, "EUR", f"{tag} consulting").invoice
    paid = charge(session, customer.id, 5_000, "EUR", f"{tag} support plan").invoice
    billing.change_invoice_status(session, paid.id, "pay", None)
    note = charge(session, customer.id, -1_500, "EUR", f"{tag} goodwill credit").credit_note
    ledger.post_entry(
        session,
        customer.id,
        kind=EntryKind.CREDIT,
        amount_minor=2_500,
        currency="USD",
        description=f"{tag} prepayment",
        actor_id=None,
        key=None,
    )
    draft = drafts.start_draft(
        session,
        customer.id,
        currency="EUR",
        lines=[DraftLine(f"{tag} draft line", 1, 9_900)],
        actor_id=None,
        key=None,
    ).invoice
    first = contacts.add(
        session,
        customer,
        None,
        {"name": f"{tag} Primary", "email": f"{tag.lower()}@example.com", "wants_billing": True},
    )
    second = contacts.add(
        session, customer, None, {"name": f"{tag} Second", "email": f"{tag.lower()}2@example.com"}
    )
    return AreaData(customer.id, invoice.id, paid.id, draft.id, note.id, first.id, second.id)
