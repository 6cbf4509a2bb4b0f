"""Finding the panel's pages and forms the way a browser would, for tests that must
cover every route: a customer with one of everything, every URL in the URL map built
with real ids, and the forms on the pages parsed from their HTML (fields, defaults)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from sqlalchemy import select

from webapp.blueprints.customers.tabs import TABS
from webapp.blueprints.records.routes import KINDS
from webapp.models.api_keys import ApiKey
from webapp.models.billing import CreditNote, Invoice
from webapp.models.bulk import BulkAction
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Tag, Ticket
from webapp.models.email import Email
from webapp.models.export import Export
from webapp.models.imports import CustomerImport
from webapp.models.notes import Note
from webapp.models.reminders import ReminderStep
from webapp.models.settings import LegalEntity, TaxClass
from webapp.models.subscriptions import Subscription
from webapp.services import settings
from webapp.services.billing import INVOICE_ACTIONS

# Input types a person types text into (an <input> without a type is text too).
TEXT_INPUTS = {"text", "email", "search", "tel", "url", "password"}

RECORD_MODELS = {
    "contacts": Contact,
    "addresses": Address,
    "activities": Activity,
    "tickets": Ticket,
    "sales": Sale,
    "aliases": Alias,
    "subscriptions": Subscription,
}

# What each "new" form needs typed in beyond the defaults it shows (selects, radios,
# dates and the customer's currency and country are filled in already).
REQUIRED_TEXT = {
    "customers.new": {"name": "Grace Hopper", "email": "grace@example.com", "country": "US"},
    "records.new:contacts": {"name": "Carl Contact", "email": "carl@example.com"},
    "records.new:addresses": {"line1": "1 Harbour Road", "city": "Leeds"},
    "records.new:activities": {"title": "Quarterly call", "due_at": "2030-01-02T10:00"},
    "records.new:tickets": {"subject": "Invoice question", "description": "Asked by phone."},
    "records.new:sales": {"description": "Onboarding workshop", "amount": "100.00"},
    "records.new:aliases": {"label": "Stripe", "value": "cus_0001"},
    "records.new:subscriptions": {"plan_name": "Pro", "amount": "49.00"},
    "billing.new_entry": {"amount": "10.00", "description": "Top-up"},
    "billing.new_charge": {"amount": "25.00", "description": "Workshop"},
    "billing.new_invoice": {
        "lines-0-description": "Consulting",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "150.00",
    },
    "notes.create": {"body": "Called about the invoice."},
    "api_keys.create": {"name": "Shop sync"},
    "tags.create": {"tag": "vip"},
    "bulk.confirm": {"tag_name": "vip", "new_status": "suspended"},
    "settings.reminder_schedule": {"days": "5"},
    "settings.new_tax_class": {"name": "Reduced", "rate": "7"},
    "settings.new_legal_entity": {"name": "Acme GmbH", "number_prefix": "ACME"},
    "staff.new": {
        "name": "Nina New",
        "email": "nina@example.com",
        "password": "a long enough password",
    },
}


@dataclass
class Field:
    tag: str  # input, textarea, select
    type: str  # input type; "textarea", "select"
    name: str
    id: str
    value: str = ""
    checked: bool = False  # radios and checkboxes

    @property
    def is_text(self) -> bool:
        return self.type == "textarea" or (self.tag == "input" and self.type in TEXT_INPUTS)


@dataclass
class Form:
    action: str
    method: str
    id: str
    hx_target: str
    fields: list[Field] = field(default_factory=list)

    @property
    def text_fields(self) -> list[Field]:
        return [f for f in self.fields if f.is_text]

    def data(self, **typed: str) -> dict[str, str]:
        """What the browser sends with the defaults shown, ``typed`` typed over them."""
        sent: dict[str, str] = {}
        for f in self.fields:
            if f.type in ("radio", "checkbox") and not f.checked:
                continue
            if f.type == "radio" and f.name in sent:
                continue
            sent.setdefault(f.name, f.value)
        return {**sent, **typed}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(
                action=a.get("action", ""),
                method=a.get("method", "get").lower(),
                id=a.get("id", ""),
                hx_target=a.get("hx-target", ""),
            )
            self.forms.append(self._form)
        if self._form is None or (tag != "option" and "name" not in a):
            return
        if tag == "input" and a.get("type", "text") not in ("submit", "button", "image"):
            self._form.fields.append(
                Field(
                    "input",
                    a.get("type", "text"),
                    a["name"],
                    a.get("id", ""),
                    a.get("value", "on" if a.get("type") == "checkbox" else ""),
                    "checked" in a,
                )
            )
        elif tag == "textarea":
            self._textarea = Field("textarea", "textarea", a["name"], a.get("id", ""))
            self._form.fields.append(self._textarea)
        elif tag == "select":
            self._select = Field("select", "select", a["name"], a.get("id", ""))
            self._options = []
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            # The selected option, or the first, as a browser sends it.
            chosen = [value for value, selected in self._options if selected]
            self._select.value = (chosen or [value for value, _ in self._options] or [""])[0]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A textarea's first line break belongs to the markup.
            self._textarea.value = self._textarea.value.removeprefix("\n")
            self._textarea = None


def forms_in(html: str) -> list[Form]:
    """Every <form> in ``html`` with its named fields and what they show."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def error_beside(html: str, field_id: str) -> str | None:
    """The message shown beside the field with ``field_id``, or None."""
    found = re.search(
        rf'<small id="{re.escape(field_id)}-error" class="field-error">([^<]*)</small>', html
    )
    return found.group(1) if found else None


@dataclass
class World:
    """A customer with one of everything, and the ids that URLs take."""

    customer_id: int
    visible_id: str
    ids: dict[str, int]
    record_ids: dict[str, int]


def submit(client, page_url: str, action: str, key: str, **typed):
    """Open ``page_url`` as ``client``, fill in the form that posts to ``action`` with
    its defaults, REQUIRED_TEXT[key] and ``typed``, and send it."""
    forms = [f for f in forms_in(client.get(page_url).get_data(as_text=True)) if f.action == action]
    assert forms, f"no form posting to {action} on {page_url}"
    data = forms[0].data(**{**REQUIRED_TEXT.get(key, {}), **typed})
    return client.post(action, data)


def build_world(db, admin_client, make_customer, make_staff) -> World:
    """Through the panel, as an admin: a customer with every kind of record (the
    subscription cancelled), a note, a tag, an invoice and a credit note (and their
    emails), a draft invoice, a payment link, an export;
    besides, a second tax class and legal entity and a second staff member."""
    customer = make_customer()
    cid = customer.id
    base = f"/customers/{cid}"
    for kind in KINDS:
        url = f"{base}/{kind}/new"
        response = submit(admin_client, url, url, f"records.new:{kind}")
        assert response.status_code == 303, (kind, response.status_code)
    for page, action, key, typed in [
        (f"{base}/notes", f"{base}/notes/", "notes.create", {}),
        (base, f"{base}/tags", "tags.create", {}),
        (f"{base}/charges/new", f"{base}/charges/new", "billing.new_charge", {}),
        (f"{base}/charges/new", f"{base}/charges/new", "billing.new_charge", {"amount": "-5"}),
        (f"{base}/invoices/new", f"{base}/invoices/new", "billing.new_invoice", {}),
        (f"{base}/billing", f"{base}/payment-link/", "payment_links.generate", {}),
        ("/customers", "/exports/", "exports.start", {}),
        ("/settings/api-keys", "/settings/api-keys", "api_keys.create", {}),
    ]:
        response = submit(admin_client, page, action, key, **typed)
        assert response.status_code in (201, 202, 303), (action, response.status_code)
    # Customers -> Import: an uploaded file waiting for its mapping.
    uploaded = admin_client.post(
        "/customers/import/",
        {"file": (io.BytesIO(b"Name,Email,Country\nAcme,acme@example.com,DE\n"), "customers.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303, uploaded.status_code
    # Cancelled, so that Delete customer is offered (an active subscription stops it).
    sub_id = db.session.scalar(select(Subscription.id))
    cancel = f"{base}/subscriptions/{sub_id}/cancel"
    assert submit(admin_client, cancel, cancel, "subscriptions.cancel").status_code == 303
    settings.create_tax_class(db.session, "Zero-rated", 0)
    settings.create_legal_entity(
        db.session, {"name": "Other Ltd", "default_currency": "GBP", "number_prefix": "OTH"}
    )
    other = make_staff(email="tess@example.com", name="Tess Target")
    # A bulk action run as a background job (its progress page).
    db.session.add(
        BulkAction(
            staff_id=other.id,
            action="tag_add",
            tag_name="vip",
            customer_ids=f"[{cid}]",
        )
    )
    db.session.commit()
    db.session.expire_all()

    def first(model, *where):
        found = db.session.scalar(select(model.id).where(*where).order_by(model.id.desc()))
        assert found is not None, model
        return found

    ids = {
        "customer_id": cid,
        "activity_id": first(Activity),
        "note_id": first(Note),
        "tag_id": first(Tag),
        "email_id": first(Email),
        "sale_id": first(Sale),
        "subscription_id": first(Subscription),
        "ticket_id": first(Ticket),
        "invoice_id": first(Invoice, Invoice.status != "draft"),
        "draft_id": first(Invoice, Invoice.status == "draft"),
        "credit_note_id": first(CreditNote),
        "entity_id": first(LegalEntity),
        "tax_class_id": first(TaxClass),
        "staff_id": other.id,
        "export_id": first(Export),
        "import_id": first(CustomerImport),
        "key_id": first(ApiKey),
        "step_id": first(ReminderStep),
        "bulk_id": first(BulkAction),
    }
    record_ids = {kind: first(model) for kind, model in RECORD_MODELS.items()}
    db.session.commit()
    return World(cid, customer.customer_id, ids, record_ids)


# Endpoints left out of the crawl: files, the public payment page, the health check.
NOT_PAGES = {
    "static",
    "public.pay",
    "email_verification.confirm",
    "health",
    "exports.download",
    "imports.rejected",
    "emails.body",
    "billing.invoice_pdf",
    "billing.credit_note_pdf",
    "statements.pdf",
    "receivables.download",
}


# The customer area's blueprints: a door of their own (a customer session, never a staff
# one), so not pages of the panel's crawl. tests/test_customer_routes.py covers every
# route of theirs: the customer session, CSRF, the security headers.
CUSTOMER_AREA_BLUEPRINTS = ("customer_auth", "customer_area")


def is_customer_area(rule) -> bool:
    """Whether ``rule`` belongs to the customer area (see CUSTOMER_AREA_BLUEPRINTS)."""
    return rule.endpoint.partition(".")[0] in CUSTOMER_AREA_BLUEPRINTS


# Public pages opened by a link's token (the payment page, Verify email): not the
# panel's either; tests/test_security_headers.py and their own tests open them.
PUBLIC_BLUEPRINTS = ("public", "email_verification")


# The JSON API (/api/v1): programs' door, with an API key instead of a staff session and
# JSON instead of pages; tests/test_api.py and tests/test_api_schema.py cover its routes.
API_BLUEPRINTS = ("api",)


def is_api(rule) -> bool:
    return rule.endpoint.partition(".")[0] in API_BLUEPRINTS


# Pages that are only pages with a query: Customers -> With the customers (each action,
# the world's customer ticked) opens its confirmation.
PAGE_QUERIES = {
    "bulk.confirm": [
        lambda world, action=action: {"action": action, "ids": world.customer_id}
        for action in ("tag_add", "tag_remove", "status", "export", "delete")
    ],
}


def urls_of(app, rule, world: World, method: str) -> list[str]:
    """Every URL of ``rule`` with real ids: each record kind, customer tab and invoice
    action it takes. None for a customer-area, public or API route (not the panel's)."""
    if (
        is_customer_area(rule)
        or is_api(rule)
        or rule.endpoint.partition(".")[0] in PUBLIC_BLUEPRINTS
    ):
        return []
    adapter = app.url_map.bind("localhost")
    choices: list[dict] = [{}]
    for name in sorted(rule.arguments):
        if name == "kind":
            kinds = [
                kind
                for kind, record_kind in KINDS.items()
                if not (rule.endpoint == "records.edit" and not record_kind.editable)
                and not (rule.endpoint == "records.delete" and not record_kind.deletable)
            ]
            choices = [{**c, "kind": kind} for c in choices for kind in kinds]
        elif name == "record_id":
            continue  # follows the kind
        elif name == "tab":
            choices = [{**c, "tab": tab} for c in choices for tab in TABS if tab != "profile"]
        elif name == "action":
            choices = [{**c, "action": action} for c in choices for action in INVOICE_ACTIONS]
        else:
            assert name in world.ids, f"{rule.endpoint} takes {name}: add a row to the world"
            choices = [{**c, name: world.ids[name]} for c in choices]
    if method == "GET" and rule.endpoint in PAGE_QUERIES:
        choices = [{**c, **query(world)} for c in choices for query in PAGE_QUERIES[rule.endpoint]]
    urls = []
    for values in choices:
        if "record_id" in rule.arguments:
            values = {**values, "record_id": world.record_ids[values["kind"]]}
        urls.append(adapter.build(rule.endpoint, values, method=method))
    return urls


def endpoint_key(rule, url: str) -> str:
    """``records.new:contacts`` for a record route, the endpoint for any other."""
    if rule.endpoint.startswith("records."):
        kind = url.split("/")[3]
        return f"{rule.endpoint}:{kind}"
    return rule.endpoint


def page_urls(app, world: World) -> list[tuple[str, str]]:
    """(endpoint, url) of every page a signed-in person can open."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.endpoint):
        if "GET" in rule.methods and rule.endpoint not in NOT_PAGES:
            found += [(rule.endpoint, url) for url in urls_of(app, rule, world, "GET")]
    return found
