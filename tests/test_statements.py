"""Statement of account, the service: per currency opening + the period's entries = closing
against the ledger (also as a Hypothesis property), the days at the edges of a period,
several currencies, the invoices open at the end of a period and their days overdue, and
which periods are refused."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from webapp.models.billing import CustomerBalance, EntryKind, LedgerEntry
from webapp.services import statements
from webapp.services.billing import capture_one_time_charge, change_invoice_status
from webapp.services.ledger import post_entry
from webapp.services.statements import Period, StatementError

START = date(2026, 3, 1)
END = date(2026, 3, 31)
MARCH = Period(START, END)


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second, micro))


def post(db, customer, amount: int, when: datetime, currency: str = "EUR", text: str = "") -> int:
    """Post a charge (< 0) or credit (> 0) through the ledger, then date it ``when``."""
    posted = post_entry(
        db.session,
        customer.id,
        kind=EntryKind.CHARGE if amount < 0 else EntryKind.CREDIT,
        amount_minor=amount,
        currency=currency,
        description=text or f"{'Charge' if amount < 0 else 'Credit'} {amount}",
        actor_id=None,
        key=None,
    )
    entry_id = posted.entry.id
    dated = update(LedgerEntry).where(LedgerEntry.id == entry_id).values(created_at=when)
    db.session.execute(dated)
    db.session.commit()
    return entry_id


def ledger_sum(db, customer, currency: str, before: datetime) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.customer_id == customer.id,
            LedgerEntry.currency == currency,
            LedgerEntry.created_at < before,
        )
    )


def by_currency(statement) -> dict:
    return {account.currency: account for account in statement.currencies}


@pytest.fixture
def customer(euro_customer):
    return euro_customer


# -- opening, entries, closing ----------------------------------------------------------


def test_opening_entries_and_closing_per_currency_agree_with_the_ledger(db, customer):
    post(db, customer, -10_000, at(date(2026, 1, 10)), text="January work")
    post(db, customer, 4_000, at(date(2026, 2, 27)), text="Part payment")
    post(db, customer, 2_500, at(date(2026, 2, 1)), "USD", "Dollar credit")
    post(db, customer, -1_500, at(date(2026, 3, 5)), text="March work")
    post(db, customer, 6_000, at(date(2026, 3, 20)), text="Payment")
    post(db, customer, -700, at(date(2026, 3, 12)), "JPY", "Yen charge")
    post(db, customer, -9_999, at(date(2026, 4, 2)), text="April work")  # after the period

    statement = statements.statement_for(db.session, customer, MARCH, made_on=date(2026, 4, 5))

    # The billing currency first, then by code; each with a balance or an entry.
    assert [account.currency for account in statement.currencies] == ["EUR", "JPY", "USD"]
    accounts = by_currency(statement)
    euro = accounts["EUR"]
    assert euro.opening_minor == -6_000
    assert [(e.description, e.amount_minor, e.balance_after_minor) for e in euro.entries] == [
        ("March work", -1_500, -7_500),
        ("Payment", 6_000, -1_500),
    ]
    assert euro.closing_minor == -1_500
    assert (euro.charges_minor, euro.credits_minor) == (-1_500, 6_000)
    assert accounts["USD"].opening_minor == 2_500 and accounts["USD"].entries == ()
    assert accounts["USD"].closing_minor == 2_500
    assert accounts["JPY"].opening_minor == 0 and accounts["JPY"].closing_minor == -700

    after = MARCH.ends_before
    for currency, account in accounts.items():
        assert account.opening_minor + sum(e.amount_minor for e in account.entries) == (
            account.closing_minor
        )
        assert account.opening_minor == ledger_sum(db, customer, currency, MARCH.starts_at)
        assert account.closing_minor == ledger_sum(db, customer, currency, after)
    assert statement.made_on == date(2026, 4, 5)
    assert statement.customer_name == "Euro Customer" and statement.billing_currency == "EUR"


def test_a_period_ending_today_closes_on_the_kept_balances(db, customer):
    today = statements.today()
    post(db, customer, -2_000, datetime.combine(today, time.min))
    post(db, customer, 500, datetime.combine(today - timedelta(days=200), time(8)), "GBP")
    post(db, customer, -300, datetime.combine(today - timedelta(days=3), time(8)), "GBP")
    statement = statements.statement_for(db.session, customer, statements.default_period())
    kept = dict(
        db.session.execute(
            select(CustomerBalance.currency, CustomerBalance.balance_minor).where(
                CustomerBalance.customer_id == customer.id
            )
        ).all()
    )
    assert {a.currency: a.closing_minor for a in statement.currencies} == kept
    assert by_currency(statement)["GBP"].opening_minor == 500


def test_entries_on_the_edges_of_the_period(db, customer):
    before = post(db, customer, -1, at(START - timedelta(days=1), 23, 59, 59, 999_999))
    first = post(db, customer, -10, datetime.combine(START, time.min))
    last = post(db, customer, -100, at(END, 23, 59, 59, 999_999))
    after = post(db, customer, -1_000, datetime.combine(END + timedelta(days=1), time.min))
    account = by_currency(statements.statement_for(db.session, customer, MARCH))["EUR"]
    assert [entry.entry_id for entry in account.entries] == [first, last]
    assert account.opening_minor == -1
    assert account.closing_minor == -111
    assert {before, after}.isdisjoint(entry.entry_id for entry in account.entries)
    # A one-day period holds that day's entries only.
    one_day = Period(START, START)
    account = by_currency(statements.statement_for(db.session, customer, one_day))["EUR"]
    assert [entry.entry_id for entry in account.entries] == [first]
    assert (account.opening_minor, account.closing_minor) == (-1, -11)


def test_entries_of_the_same_moment_keep_the_order_they_were_posted_in(db, customer):
    moment = at(date(2026, 3, 10))
    ids = [post(db, customer, amount, moment) for amount in (-300, 200, -100)]
    account = by_currency(statements.statement_for(db.session, customer, MARCH))["EUR"]
    assert [entry.entry_id for entry in account.entries] == ids
    assert [entry.balance_after_minor for entry in account.entries] == [-300, -100, -200]


def test_which_currencies_a_statement_shows(db, customer):
    # Settled before the period and quiet in it: nothing to state in USD.
    post(db, customer, -500, at(date(2026, 1, 5)), "USD")
    post(db, customer, 500, at(date(2026, 1, 6)), "USD")
    # Back to zero within the period: its entries show.
    post(db, customer, -800, at(date(2026, 3, 2)), "GBP")
    post(db, customer, 800, at(date(2026, 3, 3)), "GBP")
    # Only after the period: not in it.
    post(db, customer, -100, at(date(2026, 4, 3)), "CHF")
    statement = statements.statement_for(db.session, customer, MARCH)
    assert [account.currency for account in statement.currencies] == ["GBP"]
    gbp = statement.currencies[0]
    assert (gbp.opening_minor, gbp.closing_minor, len(gbp.entries)) == (0, 0, 2)


def test_a_customer_without_entries_has_an_empty_statement(db, customer):
    statement = statements.statement_for(db.session, customer, MARCH)
    assert statement.is_empty and statement.currencies == () and statement.open_invoices == ()


def test_entries_name_their_invoice_or_credit_note(db, customer):
    invoice = capture(db, customer, 10_000, date(2026, 3, 2)).invoice
    note = capture(db, customer, -2_000, date(2026, 3, 3)).credit_note
    db.session.execute(update(LedgerEntry).values(created_at=at(date(2026, 3, 3))))
    db.session.commit()
    account = by_currency(statements.statement_for(db.session, customer, MARCH))["EUR"]
    assert [entry.document for entry in account.entries] == [invoice.number, note.number]
    assert account.entries[0].invoice_id == invoice.id
    assert account.entries[1].credit_note_id == note.id


def test_another_customers_entries_stay_out(db, customer, make_customer):
    other = make_customer(name="Someone Else", email="else@example.com", currency="EUR")
    post(db, other, -5_000, at(date(2026, 3, 10)))
    post(db, other, -5_000, at(date(2026, 1, 10)))
    capture(db, other, 1_000, date(2026, 3, 1))
    post(db, customer, -100, at(date(2026, 3, 10)))
    statement = statements.statement_for(db.session, customer, MARCH)
    account = by_currency(statement)["EUR"]
    assert (account.opening_minor, account.closing_minor, len(account.entries)) == (0, -100, 1)
    assert statement.open_invoices == ()


# -- open invoices and days overdue ------------------------------------------------------


def capture(db, customer, net: int, issued: date):
    """Capture one time charge issued on ``issued`` (euro_customer: 19 % tax, Net 14)."""
    return capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=net,
        currency="EUR",
        description="Workshop" if net > 0 else "Goodwill",
        actor_id=None,
        key=None,
        today=issued,
    )


def settle(db, invoice_id: int, action: str, when: datetime) -> None:
    """Mark as paid / Void / Refund, with the entries it writes dated ``when``."""
    before = db.session.scalar(select(func.max(LedgerEntry.id))) or 0
    change_invoice_status(db.session, invoice_id, action, None)
    db.session.execute(update(LedgerEntry).where(LedgerEntry.id > before).values(created_at=when))
    db.session.commit()


def open_on(db, customer, day: date) -> list[tuple[str, date, int]]:
    statement = statements.statement_for(db.session, customer, Period(START, day))
    return [(i.number, i.due_date, i.days_overdue) for i in statement.open_invoices]


def test_days_overdue_count_from_the_due_date_to_the_end_of_the_period(db, customer):
    invoice = capture(db, customer, 10_000, date(2026, 3, 1)).invoice  # due 2026-03-15
    assert invoice.due_date == date(2026, 3, 15)
    assert open_on(db, customer, date(2026, 3, 1)) == [(invoice.number, invoice.due_date, 0)]
    assert open_on(db, customer, date(2026, 3, 15)) == [(invoice.number, invoice.due_date, 0)]
    assert open_on(db, customer, date(2026, 3, 16)) == [(invoice.number, invoice.due_date, 1)]
    assert open_on(db, customer, date(2026, 4, 14)) == [(invoice.number, invoice.due_date, 30)]
    (found,) = statements.statement_for(db.session, customer, MARCH).open_invoices
    assert (found.total_minor, found.currency, found.issue_date) == (11_900, "EUR", START)


def test_an_invoice_is_open_from_its_issue_date_until_it_is_settled(db, customer):
    paid = capture(db, customer, 1_000, date(2026, 3, 2)).invoice
    voided = capture(db, customer, 2_000, date(2026, 3, 3)).invoice
    refunded = capture(db, customer, 3_000, date(2026, 3, 4)).invoice
    later = capture(db, customer, 4_000, date(2026, 3, 25)).invoice
    settle(db, paid.id, "pay", at(date(2026, 3, 20), 9))
    settle(db, voided.id, "void", at(date(2026, 3, 21), 9))
    settle(db, refunded.id, "pay", at(date(2026, 3, 22), 9))
    settle(db, refunded.id, "refund", at(date(2026, 3, 28), 9))

    def numbers(day: date) -> list[str]:
        return [number for number, _due, _days in open_on(db, customer, day)]

    assert numbers(date(2026, 3, 1)) == []
    assert numbers(date(2026, 3, 19)) == [paid.number, voided.number, refunded.number]
    # Paid on the 20th: not open at the end of that day.
    assert numbers(date(2026, 3, 20)) == [voided.number, refunded.number]
    assert numbers(date(2026, 3, 22)) == []
    assert numbers(date(2026, 3, 25)) == [later.number]
    # A refund after the payment does not open the invoice again.
    assert numbers(date(2026, 3, 31)) == [later.number]


def test_open_invoices_are_listed_by_due_date(db, customer, make_customer):
    # A Net 30 invoice issued first falls due after a Net 14 one issued a week later.
    customer.payment_terms_days = 30
    db.session.commit()
    slow = capture(db, customer, 1_000, date(2026, 3, 1)).invoice  # due 03-31
    customer.payment_terms_days = 14
    db.session.commit()
    quick = capture(db, customer, 1_000, date(2026, 3, 8)).invoice  # due 03-22
    assert [n for n, _d, _o in open_on(db, customer, END)] == [quick.number, slow.number]
    assert [o for _n, _d, o in open_on(db, customer, END)] == [9, 0]


def test_open_invoice_totals_per_currency(db, customer):
    capture(db, customer, 1_000, date(2026, 3, 1))
    capture(db, customer, 2_000, date(2026, 3, 2))
    capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=500,
        currency="USD",
        description="Dollar work",
        actor_id=None,
        key=None,
        today=date(2026, 3, 3),
    )
    statement = statements.statement_for(db.session, customer, MARCH)
    assert statement.open_totals() == [(3_570, "EUR"), (595, "USD")]


def test_days_overdue():
    assert statements.days_overdue(date(2026, 3, 15), date(2026, 3, 14)) == 0
    assert statements.days_overdue(date(2026, 3, 15), date(2026, 3, 15)) == 0
    assert statements.days_overdue(date(2026, 3, 15), date(2026, 3, 16)) == 1
    assert statements.days_overdue(date(2026, 2, 15), date(2026, 3, 15)) == 28


# -- the period ---------------------------------------------------------------------


def test_the_default_period_is_the_last_90_days_ending_today():
    period = statements.default_period(date(2026, 3, 31))
    assert period == Period(date(2026, 1, 1), date(2026, 3, 31))
    assert period.days == 90
    assert statements.default_period().end == statements.today()


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "from", statements.FROM_AFTER_TO),
        (date(2026, 3, 1), date(2026, 4, 1), "to", "A statement cannot end after today"),
        (date(2025, 3, 30), date(2026, 3, 31), "from", statements.TOO_LONG),
    ],
)
def test_periods_refused_name_their_field(start, end, field, message):
    with pytest.raises(StatementError) as refused:
        statements.period_between(start, end, on=date(2026, 3, 31))
    assert refused.value.field == field
    assert refused.value.message.startswith(message)


def test_periods_accepted():
    today = date(2026, 3, 31)
    assert statements.period_between(today, today, on=today).days == 1
    year = statements.period_between(date(2025, 3, 31), today, on=today)
    assert year.days == statements.MAX_DAYS == 366


# -- the property ---------------------------------------------------------------------

BASE = datetime(2026, 1, 1)
DAYS = 12
CURRENCIES = ("EUR", "USD", "JPY")

# Moments over a few days, so that periods often start or end where entries are: many
# exactly at midnight (the first instant of a day) or the microsecond before it.
moments = st.one_of(
    st.integers(0, DAYS).map(lambda day: BASE + timedelta(days=day)),
    st.integers(1, DAYS).map(lambda day: BASE + timedelta(days=day, microseconds=-1)),
    st.integers(0, DAYS * 24 * 60 * 60 - 1).map(lambda seconds: BASE + timedelta(seconds=seconds)),
)
entries = st.lists(
    st.tuples(
        st.sampled_from(CURRENCIES),
        st.integers(-(10**9), 10**9).filter(bool),
        moments,
    ),
    max_size=25,
)


def test_opening_plus_entries_is_closing_for_any_ledger_and_period(db, customer):
    """For any entries and any period, each currency shown agrees with the ledger: opening =
    every entry before the first day, the entries listed = exactly those of the period in
    posting order with a running balance, closing = opening + them = every entry up to the
    end of the last day; a currency left out has nothing to state."""

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(rows=entries, first=st.integers(0, DAYS - 1), length=st.integers(1, DAYS))
    def check(rows, first, length):
        db.session.execute(delete(LedgerEntry).where(LedgerEntry.customer_id == customer.id))
        db.session.add_all(
            LedgerEntry(
                customer_id=customer.id,
                currency=currency,
                amount_minor=amount,
                kind="charge" if amount < 0 else "credit",
                description="Property",
                created_at=when,
            )
            for currency, amount, when in rows
        )
        db.session.commit()
        start = BASE.date() + timedelta(days=first)
        period = Period(start, start + timedelta(days=length - 1))
        statement = statements.statement_for(db.session, customer, period)
        accounts = by_currency(statement)
        inside = sorted(
            db.session.execute(
                select(LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.currency).where(
                    LedgerEntry.customer_id == customer.id,
                    LedgerEntry.created_at >= period.starts_at,
                    LedgerEntry.created_at < period.ends_before,
                )
            ).all(),
            key=lambda row: (row.created_at, row.id),
        )
        for currency in CURRENCIES:
            opening = ledger_sum(db, customer, currency, period.starts_at)
            closing = ledger_sum(db, customer, currency, period.ends_before)
            listed = [row.id for row in inside if row.currency == currency]
            account = accounts.get(currency)
            if account is None:
                assert (opening, closing, listed) == (0, 0, [])
                continue
            assert account.opening_minor == opening
            assert account.closing_minor == closing
            assert [entry.entry_id for entry in account.entries] == listed
            running = opening
            for entry in account.entries:
                running += entry.amount_minor
                assert entry.balance_after_minor == running
            assert running == closing
        assert [a.currency for a in statement.currencies] == sorted(
            accounts, key=lambda code: (code != "EUR", code)
        )

    try:
        check()
    finally:
        db.session.rollback()
        db.session.execute(delete(LedgerEntry).where(LedgerEntry.customer_id == customer.id))
        db.session.commit()
