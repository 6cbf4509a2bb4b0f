"""The statement of account as a PDF, laid out by the shared engine (``services.pdf``,
the bundled fonts, the same header, tables and footer as invoices).

``sheet_of`` turns the read model (``statements.statement_for``) into the text the PDF
shows, with the page's words and the app's money and date formatting: the seller and the
customer, the period, a summary per currency, each currency's entries from the opening
to the closing balance, and the invoices open at the end of the period. The download
route and the email job both call ``pdf_of``; a statement email gets its PDF when the
job sends it (``attachments_for``), made from the ledger as it stood for that period.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy.orm import Session

from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.services.document_pdf import PDF_TYPE, Attachment, DocumentPdfError
from webapp.services.money import due_phrase, format_money
from webapp.services.pdf_sheet import Column, Party, Section, Sheet, Total
from webapp.services.statements import (
    EMAIL_KIND,
    CurrencyStatement,
    Statement,
    period_named,
    statement_for,
)

TITLE = "Statement of account"
NOTHING_TO_STATE = "No balance and no entries in this period."
SIGNS = "Charges are negative amounts, payments and credits positive; a negative balance is owed."


def _date(value: date) -> str:
    return value.strftime("%Y-%m-%d")  # as the page writes dates


def sheet_of(statement: Statement) -> Sheet:
    """What the statement's PDF shows: what its page shows, in the same words and order."""
    period = statement.period
    seller = statement.seller
    seller_lines = [line.strip() for line in seller.address.splitlines() if line.strip()]
    if seller.tax_id:
        seller_lines.append(f"Tax ID / VAT number: {seller.tax_id}")
    buyer_lines = [statement.company] if statement.company else []
    buyer_lines += statement.address_lines
    if statement.tax_id:
        buyer_lines.append(f"Tax ID / VAT number: {statement.tax_id}")
    buyer_lines.append(f"Customer ID: {statement.customer_code}")

    sections = []
    if statement.is_empty:
        sections.append(Section("Summary", (), (), empty_text=NOTHING_TO_STATE))
    else:
        sections.append(_summary(statement))
        sections += [_entries(statement, account) for account in statement.currencies]
    sections.append(_open_invoices(statement))
    return Sheet(
        title=TITLE,
        number=f"{_date(period.start)} to {_date(period.end)}",
        seller=Party(seller.name, seller_lines),
        buyer_heading="Statement for",
        buyer=Party(statement.customer_name, buyer_lines),
        dates=[
            ("From", _date(period.start)),
            ("To", _date(period.end)),
            ("Days", str(period.days)),
            ("Made on", _date(statement.made_on)),
        ],
        columns=(),
        rows=(),
        totals=(),
        sections=sections,
        notes=() if statement.is_empty else (SIGNS,),
        footer_text=statement.footer_text,
        issued=datetime.combine(statement.made_on, time()),
    )


def _summary(statement: Statement) -> Section:
    rows = [
        [
            account.currency,
            format_money(account.opening_minor, account.currency),
            format_money(account.charges_minor, account.currency),
            format_money(account.credits_minor, account.currency),
            format_money(account.closing_minor, account.currency),
        ]
        for account in statement.currencies
    ]
    totals = [
        Total(
            f"On {_date(statement.period.end)}, {account.currency}",
            due_phrase(account.closing_minor, account.currency),
        )
        for account in statement.currencies
    ]
    return Section(
        "Summary",
        (
            Column("Currency"),
            Column("Opening balance", numeric=True),
            Column("Charges", numeric=True),
            Column("Payments and credits", numeric=True),
            Column("Closing balance", numeric=True),
        ),
        rows,
        totals,
    )


def _entries(statement: Statement, account: CurrencyStatement) -> Section:
    currency, period = account.currency, statement.period
    opening = format_money(account.opening_minor, currency)
    rows = [[_date(period.start), "Opening balance", "", opening]]
    for entry in account.entries:
        text = entry.description
        if entry.document and entry.document not in text:  # not "Payment of INV-1 (INV-1)"
            text = f"{text} ({entry.document})"
        rows.append(
            [
                _date(entry.posted_at.date()),
                text,
                format_money(entry.amount_minor, currency),
                format_money(entry.balance_after_minor, currency),
            ]
        )
    if not account.entries:
        rows.append(["", "No entries in this period.", "", ""])
    closing = format_money(account.closing_minor, currency)
    return Section(
        f"Entries in {currency}",
        (
            Column("Date", fit=True),
            Column("Description"),
            Column("Amount", numeric=True),
            Column("Balance", numeric=True),
        ),
        rows,
        (Total(f"Closing balance on {_date(period.end)}", closing, strong=True),),
    )


def _open_invoices(statement: Statement) -> Section:
    end = _date(statement.period.end)
    rows = [
        [
            invoice.number,
            _date(invoice.issue_date),
            _date(invoice.due_date),
            format_money(invoice.total_minor, invoice.currency),
            str(invoice.days_overdue) if invoice.days_overdue else "Not due",
        ]
        for invoice in statement.open_invoices
    ]
    totals = [
        Total(f"Open in {currency}", format_money(total, currency), strong=True)
        for total, currency in statement.open_totals()
    ]
    return Section(
        f"Open invoices on {end}",
        (
            Column("Invoice"),  # takes the width the dates and amounts leave
            Column("Issue date", fit=True),
            Column("Due date", fit=True),
            Column("Amount", numeric=True),
            Column("Days overdue", numeric=True),
        ),
        rows,
        totals,
        empty_text=f"No invoice was open on {end}.",
    )


def pdf_filename(statement: Statement) -> str:
    """Statement-C-000001-2026-03-01-to-2026-03-31.pdf."""
    period = statement.period
    return f"Statement-{statement.customer_code}-{period.start}-to-{period.end}.pdf"


def pdf_of(statement: Statement) -> Attachment:
    """The statement as a PDF file, with its name."""
    from webapp.services.pdf import render  # fpdf2 loads with the first PDF (pdf_sheet)

    return Attachment(pdf_filename(statement), PDF_TYPE, render(sheet_of(statement)))


def attachments_for(session: Session, email: Email) -> list[Attachment]:
    """A statement email's PDF, made when the job sends it: the statement of the period
    the email is named after, made on the day the email was written (as its text was).
    Any other email: nothing."""
    if email.kind != EMAIL_KIND or email.customer_id is None:
        return []
    period = period_named(email.name)
    customer = session.get(Customer, email.customer_id)
    if period is None or customer is None:
        raise DocumentPdfError(f"{email.name} names no statement, so no PDF can be attached.")
    statement = statement_for(session, customer, period, made_on=email.created_at.date())
    return [pdf_of(statement)]
