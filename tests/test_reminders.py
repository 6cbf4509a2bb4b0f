"""Payment reminders: the schedule, the job at fixed times (a controllable clock, no
sleeps), never twice, stopping when paid or voided, Do not remind, the emails with their
recipients, PDF or payment link, and what the Emails tab and History show."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from jobs.reminders import send_reminders
from webapp.extensions import jobs
from webapp.models.base import utcnow
from webapp.models.billing import Invoice
from webapp.models.contacts import Contact
from webapp.models.customer import Customer, CustomerStatus
from webapp.models.email import Email, EmailStatus
from webapp.models.history import CustomerEvent
from webapp.models.payment_links import PaymentLink
from webapp.models.reminders import DEFAULT_SCHEDULE, ReminderStep, SentReminder
from webapp.models.settings import LegalEntity
from webapp.services import payment_links, reminders, settings
from webapp.services.billing import capture_one_time_charge, change_invoice_status
from webapp.services.reminders import due_step, send_due_reminders

ISSUED = date(2026, 3, 2)  # a Monday
TERMS = 14
DUE = ISSUED + timedelta(days=TERMS)  # 2026-03-16


def at(day: date, hour: int = 9) -> datetime:
    """A fixed "now" (naive UTC, as stored) on ``day``."""
    return datetime.combine(day, time(hour))


def on(offset: int) -> datetime:
    """Now, ``offset`` days from the due date."""
    return at(DUE + timedelta(days=offset))


# -- helpers and fixtures -------------------------------------------------------------


def schedule(db, entity: LegalEntity, *steps: tuple[int, str]) -> None:
    """Replace the entity's schedule with ``steps`` (offset, "pdf" | "link")."""
    entity = db.session.get(LegalEntity, entity.id)
    entity.reminder_steps = []
    db.session.flush()
    entity.reminder_steps = [ReminderStep(offset_days=o, attach=a) for o, a in steps]
    db.session.commit()


@pytest.fixture
def entity(db):
    found = settings.default_legal_entity(db.session)
    db.session.commit()
    return found


@pytest.fixture
def customer(db, make_customer, entity):
    made = make_customer(
        name="Euro Customer",
        email="euro@example.com",
        country="DE",
        currency="EUR",
        tax_rate_bp=1900,
        payment_terms_days=TERMS,
    )
    db.session.add(
        Contact(
            customer_id=made.id, name="Bill Payer", email="bills@example.com", wants_billing=True
        )
    )
    db.session.add(Contact(customer_id=made.id, name="Not Billing", email="other@example.com"))
    db.session.commit()
    return made


def invoice_for(db, customer, minor: int = 10_000, description: str = "Workshop") -> Invoice:
    charge = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=minor,
        currency="EUR",
        description=description,
        actor_id=None,
        key=None,
        today=ISSUED,
    )
    return db.session.get(Invoice, charge.invoice.id)


def reminder_emails(db, customer_id: int | None = None) -> list[Email]:
    db.session.expire_all()
    statement = select(Email).where(Email.kind == "reminder").order_by(Email.id)
    if customer_id is not None:
        statement = statement.where(Email.customer_id == customer_id)
    return list(db.session.scalars(statement))


def sent_steps(db) -> list[tuple[int, int]]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(SentReminder.invoice_id, SentReminder.offset_days).order_by(SentReminder.id)
        ).all()
    )


# -- the schedule's timing, as a pure rule ----------------------------------------------

STEPS = [reminders.Step(-3, "pdf"), reminders.Step(0, "link"), reminders.Step(7, "link")]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (DUE - timedelta(days=4), None),  # before the first step
        (DUE - timedelta(days=3), -3),  # its day
        (DUE - timedelta(days=1), -3),  # still within the grace window
        (DUE, 0),  # on the due date: the latest step wins
        (DUE + timedelta(days=3), 0),  # 3 days late: still sent (grace 3)
        (DUE + timedelta(days=4), None),  # 4 days late: stale, skipped for good
        (DUE + timedelta(days=7), 7),
        (DUE + timedelta(days=30), None),  # long after the last step
    ],
)
def test_the_step_due_is_the_latest_whose_day_has_come_within_the_grace_window(today, expected):
    step = due_step(STEPS, ISSUED, DUE, today, grace_days=3)
    assert (step.offset_days if step else None) == expected


def test_no_step_falls_on_or_before_the_day_of_issue():
    # Issued on its due date (Net 0): the steps before it and on it were never due.
    assert due_step(STEPS, DUE, DUE, DUE, grace_days=3) is None
    assert due_step(STEPS, DUE, DUE, DUE + timedelta(days=7), grace_days=3).offset_days == 7


# -- the job ------------------------------------------------------------------------


def test_a_new_legal_entity_gets_the_default_schedule(db, entity):
    assert [(s.offset_days, s.attach) for s in entity.reminder_steps] == [
        (offset, attach.value) for offset, attach in DEFAULT_SCHEDULE
    ]
    made = settings.create_legal_entity(
        db.session, {"name": "Second Ltd", "default_currency": "EUR", "number_prefix": "SEC"}
    )
    assert [s.offset_days for s in made.reminder_steps] == [-3, 0, 7, 14]


def test_steps_are_sent_before_on_and_after_the_due_date_each_once(db, entity, customer):
    schedule(db, entity, (-3, "pdf"), (0, "pdf"), (7, "link"))
    invoice = invoice_for(db, customer)

    assert send_due_reminders(db.session, on(-4)).reminders == 0
    assert reminder_emails(db) == []

    run = send_due_reminders(db.session, on(-3))
    assert (run.reminders, run.emails) == (1, 2)
    first = reminder_emails(db)
    assert {e.recipient for e in first} == {"euro@example.com", "bills@example.com"}
    assert {e.subject for e in first} == {f"Reminder: invoice {invoice.number} is due in 3 days"}
    # Again the same day, and the day after: nothing new.
    assert send_due_reminders(db.session, on(-3)).reminders == 0
    assert send_due_reminders(db.session, on(-2)).reminders == 0

    assert send_due_reminders(db.session, on(0)).reminders == 1
    assert reminder_emails(db)[-1].subject == f"Reminder: invoice {invoice.number} is due today"
    assert send_due_reminders(db.session, on(7)).reminders == 1
    assert reminder_emails(db)[-1].subject == (
        f"Reminder: invoice {invoice.number} is overdue by 7 days"
    )
    assert send_due_reminders(db.session, on(8)).reminders == 0
    assert sent_steps(db) == [(invoice.id, -3), (invoice.id, 0), (invoice.id, 7)]
    assert len(reminder_emails(db)) == 6


def test_a_stale_backlog_is_not_sent_only_the_step_that_fits_the_day(db, entity, customer):
    schedule(db, entity, (-3, "pdf"), (0, "pdf"), (7, "pdf"), (14, "pdf"))
    invoice = invoice_for(db, customer)
    # The job did not run from before the due date until 8 days after it: one reminder,
    # the 7-day one, saying how overdue the invoice is now.
    run = send_due_reminders(db.session, on(8))
    assert run.reminders == 1
    assert sent_steps(db) == [(invoice.id, 7)]
    assert reminder_emails(db)[0].subject.endswith("is overdue by 8 days")
    # Nothing at all once even the latest step is more than the grace window old.
    assert send_due_reminders(db.session, on(14 + 4)).reminders == 0
    assert sent_steps(db) == [(invoice.id, 7)]


def test_running_the_job_twice_sends_once_and_a_racing_insert_is_refused(db, entity, customer):
    schedule(db, entity, (0, "pdf"))
    invoice = invoice_for(db, customer)
    assert send_reminders_at(db, on(0)) == 1
    assert send_reminders_at(db, on(0)) == 0
    assert len(reminder_emails(db)) == 2
    # A second job that read "not sent yet" before the first committed inserts the
    # same step: the database refuses it.
    db.session.add(
        SentReminder(
            invoice_id=invoice.id,
            customer_id=customer.id,
            offset_days=0,
            attach="pdf",
            recipients=2,
            sent_on=DUE,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert sent_steps(db) == [(invoice.id, 0)]


def send_reminders_at(db, now: datetime) -> int:
    return send_due_reminders(db.session, now).reminders


def test_a_racing_job_that_lost_rolls_back_its_emails(db, entity, customer, monkeypatch):
    """The job's own path: it read "not sent" (here: the check is skipped), another job
    committed the step meanwhile, so its insert fails and nothing of it is written."""
    schedule(db, entity, (0, "pdf"))
    invoice = invoice_for(db, customer)
    db.session.add(
        SentReminder(
            invoice_id=invoice.id,
            customer_id=customer.id,
            offset_days=0,
            attach="pdf",
            recipients=2,
            sent_on=DUE,
        )
    )
    db.session.commit()
    run = reminders.ReminderRun()
    reminders._send_one(db.session, invoice.id, 0, "pdf", on(0), run)
    assert (run.reminders, run.raced) == (0, 1)
    assert reminder_emails(db) == []


@pytest.mark.parametrize("action", ["pay", "void"])
def test_reminders_stop_when_the_invoice_is_paid_or_voided(db, entity, customer, action):
    schedule(db, entity, (-3, "pdf"), (7, "pdf"))
    invoice = invoice_for(db, customer)
    assert send_reminders_at(db, on(-3)) == 1
    change_invoice_status(db.session, invoice.id, action, None)
    assert send_reminders_at(db, on(7)) == 0
    assert sent_steps(db) == [(invoice.id, -3)]


def test_a_waiting_reminder_of_a_just_paid_invoice_is_cancelled_not_sent(
    db, entity, customer, monkeypatch
):
    schedule(db, entity, (0, "pdf"))
    invoice = invoice_for(db, customer)
    # Hold the emails back (as a busy queue would), pay, then let the job send them.
    held: list = []
    monkeypatch.setattr(
        type(jobs.backend()), "enqueue", lambda self, name, args: held.append((name, args))
    )
    assert send_reminders_at(db, on(0)) == 1
    monkeypatch.undo()
    change_invoice_status(db.session, invoice.id, "pay", None)
    from jobs.emails import send_email

    for name, args in held:
        if name == "jobs.emails.send_email":
            send_email(*args)
    emails = reminder_emails(db)
    assert len(emails) == 2
    assert {e.status for e in emails} == {EmailStatus.CANCELLED}
    assert emails[0].last_error == f"Not sent: invoice {invoice.number} is paid now."


def test_do_not_remind_pauses_and_resuming_continues_with_the_step_of_the_day(db, entity, customer):
    schedule(db, entity, (-3, "pdf"), (0, "pdf"), (7, "pdf"), (14, "pdf"))
    invoice = invoice_for(db, customer)
    assert reminders.set_do_not_remind(db.session, customer.id, True, None) is True
    assert reminders.set_do_not_remind(db.session, customer.id, True, None) is False
    for offset in (-3, 0, 1):
        assert send_reminders_at(db, on(offset)) == 0
    assert reminders.set_do_not_remind(db.session, customer.id, False, None) is True
    # Resumed 2 days after the due date: the on-the-day step is still within the grace
    # window, the one 3 days before is not sent late.
    assert send_reminders_at(db, on(2)) == 1
    assert send_reminders_at(db, on(7)) == 1
    assert sent_steps(db) == [(invoice.id, 0), (invoice.id, 7)]
    kinds = list(
        db.session.scalars(
            select(CustomerEvent.kind)
            .where(CustomerEvent.kind.like("reminder.%"))
            .order_by(CustomerEvent.id)
        )
    )
    assert kinds == ["reminder.paused", "reminder.resumed", "reminder.sent", "reminder.sent"]


def test_archived_and_cleared_customers_get_no_reminders(db, entity, customer):
    schedule(db, entity, (0, "pdf"))
    invoice_for(db, customer)
    db.session.get(Customer, customer.id).status = CustomerStatus.ARCHIVED
    db.session.commit()
    assert send_reminders_at(db, on(0)) == 0
    db.session.get(Customer, customer.id).status = CustomerStatus.SUSPENDED
    db.session.commit()
    assert send_reminders_at(db, on(0)) == 1  # suspended customers still owe


def test_the_payment_link_step_uses_the_live_link_or_makes_one(db, entity, customer):
    schedule(db, entity, (0, "link"), (7, "link"))
    invoice_for(db, customer)
    assert send_reminders_at(db, on(0)) == 1
    links = list(db.session.scalars(select(PaymentLink)))
    assert len(links) == 1 and links[0].revoked_at is None
    emails = reminder_emails(db)
    assert {e.payment_link_id for e in emails} == {links[0].id}
    assert "[[payment-link]]" in emails[0].text_body  # the live link is never stored
    # The next step reuses the same live link rather than replacing it.
    assert send_reminders_at(db, on(7)) == 1
    assert db.session.scalar(select(func.count()).select_from(PaymentLink)) == 1


def test_the_job_through_the_queue(db, entity, customer):
    schedule(db, entity, (0, "pdf"))
    invoice = invoice_for(db, customer)
    # The queue runs the job in-process (JOBS_INLINE=sync) on the real clock: make the
    # invoice due today.
    today = utcnow().date()
    db.session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id)
        .values(issue_date=today - timedelta(days=TERMS), due_date=today)
    )
    db.session.commit()
    jobs.enqueue(reminders.SEND_REMINDERS_JOB)
    assert len(reminder_emails(db)) == 2
    assert send_reminders() == 0  # the job itself, again: nothing new


# -- the schedule editor (Settings → Legal entities → Reminders) -------------------------


def schedule_url(entity) -> str:
    return f"/settings/legal-entities/{entity.id}/reminders"


def offsets(db, entity) -> list[tuple[int, str]]:
    db.session.expire_all()
    return [(s.offset_days, s.attach) for s in reminders.steps(db.session, entity.id)]


def test_the_schedule_page_lists_the_steps_and_is_linked_from_the_entities(admin_client, entity):
    listing = admin_client.get("/settings/legal-entities").get_data(as_text=True)
    assert f'href="{schedule_url(entity)}"' in listing
    page = admin_client.get(schedule_url(entity))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Payment reminders of {entity.name}" in html
    for label in ("3 days before the due date", "On the due date", "14 days after the due date"):
        assert label in html
    assert '<label for="days">Days</label>' in html


def test_agents_cannot_edit_the_schedule(staff_client, entity, db):
    assert staff_client.get(schedule_url(entity)).status_code == 403
    response = staff_client.post(schedule_url(entity), {"days": "5", "when": "after"})
    assert response.status_code == 403
    assert (5, "link") not in offsets(db, entity)


def test_add_a_step_without_js_and_with_htmx(admin_client, entity, db):
    response = admin_client.post(
        schedule_url(entity), {"days": "30", "when": "after", "attach": "pdf"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(schedule_url(entity))
    assert (30, "pdf") in offsets(db, entity)
    page = admin_client.get(schedule_url(entity)).get_data(as_text=True)
    assert "Step added: 30 days after the due date." in page

    response = admin_client.post(
        schedule_url(entity),
        {"days": "1", "when": "before", "attach": "link"},
        htmx_target="schedule",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="schedule"')
    assert "1 day before the due date" in html
    assert "Step added" in response.headers["HX-Trigger"]
    assert (-1, "link") in offsets(db, entity)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"days": "", "when": "after"}, "Enter a number of days."),
        ({"days": "two", "when": "after"}, "Enter a whole number of days, e.g. 7."),
        ({"days": "400", "when": "after"}, "Enter between 1 and 365 days after the due date."),
        ({"days": "61", "when": "before"}, "Enter between 1 and 60 days before the due date."),
        ({"days": "7", "when": "after"}, "The schedule already has a step 7 days after the due"),
        ({"days": "", "when": "on"}, "The schedule already has a step on the due date."),
        ({"days": "5", "when": "someday"}, "Choose before, on or after the due date."),
        ({"days": "5", "when": "after", "attach": "fax"}, "Choose the invoice PDF or the payment"),
    ],
)
def test_a_refused_step_is_a_422_beside_its_field_and_nothing_changes(
    admin_client, entity, db, form, message
):
    before = offsets(db, entity)
    response = admin_client.post(schedule_url(entity), {"attach": "pdf", **form})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert offsets(db, entity) == before
    fragment = admin_client.post(
        schedule_url(entity), {"attach": "pdf", **form}, htmx_target="schedule"
    )
    assert fragment.status_code == 422
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="schedule"')


def test_remove_a_step(admin_client, entity, db):
    step = next(s for s in reminders.steps(db.session, entity.id) if s.offset_days == 0)
    url = f"{schedule_url(entity)}/{step.id}/remove"
    assert admin_client.post(url, csrf=False).status_code == 400  # no CSRF token
    assert (0, "link") in offsets(db, entity)
    response = admin_client.post(url)
    assert response.status_code == 303
    assert [o for o, _ in offsets(db, entity)] == [-3, 7, 14]
    again = admin_client.post(url, htmx_target="schedule")
    assert "no longer in the schedule" in again.headers["HX-Trigger"]


# -- Do not remind on the Billing tab ----------------------------------------------------


def test_do_not_remind_on_the_billing_tab_without_js(staff_client, customer, db):
    billing = f"/customers/{customer.id}/billing"
    html = staff_client.get(billing).get_data(as_text=True)
    assert "Payment reminders" in html
    assert "3 days before the due date (invoice pdf)" in html.lower()
    assert ">Do not remind</button>" in html

    toggle = f"/customers/{customer.id}/reminders/"
    assert staff_client.post(toggle, {"do_not_remind": "1"}, csrf=False).status_code == 400
    response = staff_client.post(toggle, {"do_not_remind": "1"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(billing)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).do_not_remind is True
    html = staff_client.get(billing).get_data(as_text=True)
    assert "no payment reminders go to Euro Customer" in html
    assert ">Resume reminders</button>" in html
    assert "status-do-not-remind" in html  # the header says so on every tab

    response = staff_client.post(toggle, {"do_not_remind": "0"}, htmx_target="customer")
    assert response.status_code == 204
    assert "Payment reminders resumed." in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).do_not_remind is False
    history_page = staff_client.get(f"/customers/{customer.id}/history?group=reminder")
    text = history_page.get_data(as_text=True)
    assert "Do not remind: payment reminders paused." in text
    assert "Payment reminders resumed." in text


def test_the_reminder_shows_in_the_emails_tab_history_and_billing_tab(
    staff_client, db, entity, customer
):
    schedule(db, entity, (7, "pdf"))
    invoice = invoice_for(db, customer)
    assert send_reminders_at(db, on(7)) == 1
    emails = staff_client.get(f"/customers/{customer.id}/emails").get_data(as_text=True)
    assert emails.count(f"Reminder for invoice {invoice.number}") == 2
    history_page = staff_client.get(f"/customers/{customer.id}/history").get_data(as_text=True)
    assert f"Reminder sent: invoice {invoice.number} is overdue by 7 days" in history_page
    billing = staff_client.get(f"/customers/{customer.id}/billing").get_data(as_text=True)
    assert "Reminders sent" in billing
    assert "7 days after the due date, invoice PDF, 2 emails" in billing


# -- delivery to a real SMTP server -----------------------------------------------------


def reminders_delivered(smtp) -> list:
    return [m for m in smtp.messages if m["Subject"].startswith("Reminder:")]


def test_a_pdf_step_is_delivered_with_the_invoice_pdf(smtp_app, db, entity, customer, smtp):
    schedule(db, entity, (-3, "pdf"))
    invoice = invoice_for(db, customer)
    assert send_reminders_at(db, on(-3)) == 1
    delivered = reminders_delivered(smtp)
    assert sorted(m["X-Envelope-To"] for m in delivered) == [
        "bills@example.com",
        "euro@example.com",
    ]
    message = delivered[0]
    assert message["Subject"] == f"Reminder: invoice {invoice.number} is due in 3 days"
    attachments = [(p.get_filename(), p.get_content_type()) for p in message.iter_attachments()]
    assert attachments == [(f"Invoice-{invoice.number}.pdf", "application/pdf")]
    text = message.get_body(("plain",)).get_content()
    assert "€119.00" in text and "due in 3 days" in text and "2026-03-16" in text
    assert {e.status for e in reminder_emails(db)} == {EmailStatus.SENT}


def test_a_link_step_is_delivered_with_the_live_payment_link(smtp_app, db, entity, customer, smtp):
    schedule(db, entity, (7, "link"))
    invoice = invoice_for(db, customer)
    assert send_reminders_at(db, on(7)) == 1
    delivered = reminders_delivered(smtp)
    assert len(delivered) == 2
    message = delivered[0]
    assert message["Subject"] == f"Reminder: invoice {invoice.number} is overdue by 7 days"
    assert list(message.iter_attachments()) == []
    link = db.session.scalars(select(PaymentLink)).one()
    url = payment_links.link_url(link)
    assert url in message.get_body(("plain",)).get_content()
    assert f'href="{url}"' in message.get_body(("html",)).get_content()
    # The page behind it opens.
    response = smtp_app.test_client().get(url.removeprefix(smtp_app.config["PUBLIC_BASE_URL"]))
    assert response.status_code == 200
    assert "Euro Customer" in response.get_data(as_text=True)


def test_delete_customer_takes_the_reminders_sent_with_it(db, entity, customer):
    from webapp.services.deletion import delete_customer, uncovered_tables

    assert uncovered_tables() == set()
    schedule(db, entity, (0, "pdf"))
    invoice_for(db, customer)
    assert send_reminders_at(db, on(0)) == 1
    delete_customer(db.session, customer.id, customer.customer_id)
    assert sent_steps(db) == []


def test_an_invoice_that_fails_does_not_hold_up_the_others(
    db, entity, customer, make_customer, monkeypatch
):
    schedule(db, entity, (0, "pdf"))
    other = make_customer(name="Other", email="other@example.org", currency="EUR", country="DE")
    other.payment_terms_days = TERMS
    db.session.commit()
    first = invoice_for(db, customer)
    second = invoice_for(db, other)
    real = reminders.billing_recipients

    def broken(session, who):
        if who.id == customer.id:
            raise RuntimeError("no recipients today")
        return real(session, who)

    monkeypatch.setattr(reminders, "billing_recipients", broken)
    run = send_due_reminders(db.session, on(0))
    assert (run.reminders, run.failed) == (1, 1)
    assert sent_steps(db) == [(second.id, 0)]
    monkeypatch.undo()
    assert send_reminders_at(db, on(1)) == 1  # the next run sends it, within the grace window
    assert sorted(sent_steps(db)) == sorted([(second.id, 0), (first.id, 0)])
