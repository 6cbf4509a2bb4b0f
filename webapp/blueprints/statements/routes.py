"""Statement of account on the customer page: the page for a period, and Email statement."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_or_404
from webapp.blueprints.customers.routes import refuse_unless_editable
from webapp.blueprints.statements.forms import StatementPeriodForm
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.read_only import read_only
from webapp.rendering import done, download, render_page
from webapp.services import mailer, statement_emails, statement_pdf, statements
from webapp.services.contacts import billing_recipients
from webapp.services.statements import Period

bp = Blueprint("statements", __name__, url_prefix="/customers/<int:customer_id>")

TEMPLATE = "statements/show.html"
BLOCKS = ("statement",)


def read_period(form: StatementPeriodForm) -> Period | None:
    """The period the form asks for, or None with the reason beside its field."""
    if not form.validate():
        return None
    try:
        return statements.period_between(form.start.data, form.end.data)
    except statements.StatementError as refusal:
        form.field_named(refusal.field).errors.append(refusal.message)
        return None


def statement_url(customer_id: int, period: Period, endpoint: str = "statements.show") -> str:
    return url_for(
        endpoint,
        customer_id=customer_id,
        **{"from": period.start.isoformat(), "to": period.end.isoformat()},
    )


def _page(customer: Customer, form: StatementPeriodForm, period: Period | None, status: int):
    statement = (
        statements.statement_for(db.session, customer, period) if period is not None else None
    )
    return render_page(
        TEMPLATE,
        blocks=BLOCKS,
        status=status,
        customer=customer,
        form=form,
        statement=statement,
        recipients=billing_recipients(db.session, customer),
    )


def asked_period() -> tuple[StatementPeriodForm, Period | None]:
    """The period of ?from=…&to=… (the last 90 days without either), with its form."""
    if "from" not in request.args and "to" not in request.args:
        period = statements.default_period()
        form = StatementPeriodForm(
            formdata=None, meta={"csrf": False}, start=period.start, end=period.end
        )
        return form, period
    form = StatementPeriodForm(formdata=request.args, meta={"csrf": False})
    return form, read_period(form)


@bp.get("/statement")
@read_only
def show(customer_id: int):
    """The statement for ?from=…&to=… (the last 90 days without them); bad dates: 422 with
    the reason beside each field. htmx (a new period) gets the ``statement`` block."""
    customer = customer_or_404(customer_id)
    form, period = asked_period()
    return _page(customer, form, period, 200 if period is not None else 422)


@bp.get("/statement.pdf")
@read_only
def pdf(customer_id: int):
    """The statement for ?from=…&to=… as a PDF file to download; bad dates: the page, 422,
    with the reason beside each field."""
    customer = customer_or_404(customer_id)
    form, period = asked_period()
    if period is None:
        return _page(customer, form, None, 422)
    return download(statement_pdf.pdf_of(statements.statement_for(db.session, customer, period)))


@bp.post("/statement/email")
def email(customer_id: int):
    """Email statement: to the customer and every contact who wants billing emails, each
    a recorded email (the Emails tab) sent by the job."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "billing")
    form = StatementPeriodForm()
    period = read_period(form)
    if period is None:
        return _page(customer, form, None, 422)
    to = statement_url(customer.id, period)
    try:
        sent = statement_emails.email_statement(db.session, customer.id, period, current_user.id)
    except statements.StatementError as refusal:
        return done({}, to=to, message=refusal.message, level="error", close_modal=False)
    recipients = ", ".join(email.recipient for email in sent)
    if not mailer.mail_configured():
        message = (
            f"The statement email to {recipients} is recorded in the Emails tab; no mail "
            "server is configured, so it is not delivered."
        )
    else:
        message = f"The statement is on its way to {recipients}."
    return done({}, to=to, message=message, close_modal=False)
