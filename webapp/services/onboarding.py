"""The onboarding email: each legal entity's own text, with a few placeholders.

A template is plain text written in Settings. ``{customer_name}`` and the other names in
``PLACEHOLDERS`` are replaced by the customer's values; ``{{`` and ``}}`` are literal
braces. The text is never given to ``str.format`` (which would let ``{customer.__class__}``
reach into objects): it is split with ``string.Formatter().parse`` and each placeholder
is looked up by its exact name, so anything else (an unknown name, an attribute, an
index, a conversion or a format spec) is refused when the template is saved.

The HTML part escapes the template text and every value; links become ``<a>`` elements.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.models.settings import LegalEntity
from webapp.services import history
from webapp.services.guard import lock_editable
from webapp.services.mailer import queue_email
from webapp.urls import external_url

SUBJECT_MAX = 300
BODY_MAX = 5000

PLACEHOLDERS = {
    "customer_name": "The customer's name",
    "company": "The customer's company (empty if none)",
    "customer_id": "The customer ID, e.g. C-000042",
    "legal_entity": "This legal entity's name",
    "sign_in_url": "The address of the customer's sign-in page",
}
# Placeholders whose value is a link: the HTML part makes them clickable.
LINK_PLACEHOLDERS = frozenset({"sign_in_url"})


class OnboardingError(Exception):
    """A template or a send refused; the message is shown beside ``field`` if named."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Piece:
    """A part of a parsed template: literal text, or the name of a placeholder."""

    text: str = ""
    placeholder: str | None = None


def _known_list() -> str:
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def parse_template(text: str, field: str = "onboarding_body") -> list[Piece]:
    """The template as literal pieces and placeholders; raises ``OnboardingError`` naming
    the first thing that is not a known placeholder."""
    pieces: list[Piece] = []
    try:
        parsed = list(string.Formatter().parse(text or ""))
    except ValueError:
        raise OnboardingError(
            "A brace is not closed or not opened: write placeholders as {customer_name}, "
            "and a literal brace as {{ or }}.",
            field,
        ) from None
    for literal, name, spec, conversion in parsed:
        if literal:
            pieces.append(Piece(text=literal))
        if name is None:
            continue
        written = (
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if name not in PLACEHOLDERS or spec or conversion:
            raise OnboardingError(
                f"Unknown placeholder {written}. The placeholders are {_known_list()}.", field
            )
        pieces.append(Piece(placeholder=name))
    return pieces


def check_template(subject: str, body: str) -> tuple[str, str]:
    """The subject and body, checked (length, placeholders) and tidied; raises OnboardingError."""
    subject = " ".join((subject or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    if not subject:
        raise OnboardingError("Enter the subject of the onboarding email.", "onboarding_subject")
    if len(subject) > SUBJECT_MAX:
        raise OnboardingError(
            f"A subject can be at most {SUBJECT_MAX} characters.", "onboarding_subject"
        )
    if not body:
        raise OnboardingError("Enter the text of the onboarding email.", "onboarding_body")
    if len(body) > BODY_MAX:
        raise OnboardingError(
            f"The text can be at most {BODY_MAX:,} characters.", "onboarding_body"
        )
    parse_template(subject, "onboarding_subject")
    parse_template(body, "onboarding_body")
    return subject, body


def sign_in_url() -> str:
    """The customer area's sign-in page on PUBLIC_BASE_URL."""
    return external_url("customer_auth.sign_in")


def placeholder_values(customer: Customer, entity: LegalEntity) -> dict[str, str]:
    """What each placeholder stands for, for this customer."""
    return {
        "customer_name": customer.name,
        "company": customer.company,
        "customer_id": customer.customer_id,
        "legal_entity": entity.name,
        "sign_in_url": sign_in_url(),
    }


def render_text(template: str, values: dict[str, str], field: str = "onboarding_body") -> str:
    """The template as plain text (the subject, the text part)."""
    return "".join(
        piece.text if piece.placeholder is None else values[piece.placeholder]
        for piece in parse_template(template, field)
    )


def _link(url: str) -> Markup:
    return Markup('<a href="{0}">{0}</a>').format(url)


def render_html(template: str, values: dict[str, str]) -> list[Markup]:
    """The body as HTML paragraphs (a blank line starts one, a line break is ``<br>``);
    the text and every value escaped, link placeholders as links."""
    parts = []
    for piece in parse_template(template):
        if piece.placeholder is None:
            parts.append(escape(piece.text))
        elif piece.placeholder in LINK_PLACEHOLDERS:
            parts.append(_link(values[piece.placeholder]))
        else:
            parts.append(escape(values[piece.placeholder]))
    html = Markup("").join(parts)
    paragraphs = []
    for paragraph in html.split("\n\n"):
        lines = [line for line in paragraph.strip("\n").split("\n")]
        if any(line.strip() for line in lines):
            paragraphs.append(Markup("<br>\n").join(Markup(line) for line in lines))
    return paragraphs


@dataclass(frozen=True)
class RenderedOnboarding:
    subject: str
    text: str
    paragraphs: list[Markup]


def render_onboarding(
    customer: Customer, entity: LegalEntity, *, subject: str | None = None, body: str | None = None
) -> RenderedOnboarding:
    """The entity's onboarding email for ``customer`` (or ``subject``/``body`` as typed,
    for the preview in Settings)."""
    values = placeholder_values(customer, entity)
    subject = entity.onboarding_subject if subject is None else subject
    body = entity.onboarding_body if body is None else body
    return RenderedOnboarding(
        subject=" ".join(render_text(subject, values, "onboarding_subject").split()),
        text=render_text(body, values),
        paragraphs=render_html(body, values),
    )


def sample_customer(entity: LegalEntity) -> Customer:
    """A made-up customer for the preview in Settings (never added to the session)."""
    return Customer(id=42, name="Ada Lovelace", company="Analytical Engines Ltd", email="")


def send_onboarding(
    session: Session,
    customer: Customer,
    *,
    actor: int | None,
    extra_link: str | None = None,
    extra_link_label: str = "Get started",
    name: str = "Onboarding email",
    recipient: str | None = None,
    commit: bool = True,
) -> Email:
    """Queue the customer's legal entity's onboarding email to the customer's address and
    record it (Emails tab, its delivery state as any email's) with the history line
    "Onboarding email sent". ``actor`` is the staff id (None: the system).

    ``extra_link`` (e.g. an invite's link) is added below the text as a button labelled
    ``extra_link_label``; ``name`` is what the Emails tab calls it; ``recipient``, if
    given, the address it goes to instead of the customer's (an invite: the account's).
    The link is stored in the recorded email as given, so pass a link whose secret may
    sit in the database, or a placeholder your own code fills in when the job sends it
    (as invite, payment and verification links are).

    With ``commit`` (the default) the customer is locked and re-read first and the email
    is committed; a customer without an address raises ``OnboardingError`` (field "email")
    after a rollback, and a cleared or deleted one ``guard.CustomerCleared`` /
    ``CustomerGone``. With ``commit=False`` it joins the caller's transaction (an invite
    being sent): nothing is locked, committed or rolled back, and the refusal is raised
    for the caller to handle."""
    if commit:
        customer = lock_editable(session, customer.id)
    if not customer.email:
        if commit:
            session.rollback()
        raise OnboardingError(
            f"{customer.name} has no email address: add one (Edit customer) first.", "email"
        )
    entity = customer.legal_entity or session.get(LegalEntity, customer.legal_entity_id)
    rendered = render_onboarding(customer, entity)
    recipient = recipient or customer.email
    email = queue_email(
        session,
        kind="onboarding",
        name=name,
        recipient=recipient,
        subject=rendered.subject,
        template="onboarding",
        customer_id=customer.id,
        staff_id=actor,
        seller_name=entity.name,
        body_text=rendered.text,
        paragraphs=rendered.paragraphs,
        extra_link=extra_link,
        extra_link_label=extra_link_label,
    )
    history.record(
        session,
        customer.id,
        "email.onboarding",
        "Onboarding email sent",
        staff_id=actor,
        field="recipient",
        new=recipient,
        personal=True,
    )
    if commit:
        session.commit()
    return email


def save_template(session: Session, entity: LegalEntity, subject: str, body: str) -> LegalEntity:
    """Set the entity's onboarding subject and text (checked: ``check_template``) and commit.
    Raises ``OnboardingError`` beside the field at fault; nothing written."""
    subject, body = check_template(subject, body)
    entity.onboarding_subject = subject
    entity.onboarding_body = body
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise OnboardingError(
            "Someone else saved this legal entity at the same moment; nothing was saved. "
            "Check it and try again."
        ) from None
    return entity
