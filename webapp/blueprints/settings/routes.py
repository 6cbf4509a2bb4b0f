"""Settings (admins): tax classes and legal entities, each a list with Add, Edit and Delete.

Forms open in the modal with htmx and are pages of their own without JavaScript; a
delete is confirmed on the server and refused while anything still uses the setting.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, request, url_for

from webapp.blueprints import editing
from webapp.blueprints.access import require_admin
from webapp.blueprints.settings.forms import (
    LegalEntityForm,
    OnboardingTemplateForm,
    ReminderStepForm,
    TaxClassForm,
)
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.settings import LegalEntity, TaxClass
from webapp.rendering import done, is_htmx_partial, render_form, render_page
from webapp.services import onboarding, reminders, versions
from webapp.services import settings as settings_service
from webapp.services.reference import format_tax_rate
from webapp.services.settings import SettingsError

bp = Blueprint("settings", __name__, url_prefix="/settings")
# A tax class's rate changes what every customer in it is charged, and a legal entity
# is the seller on invoices: admins only, like Staff and Audit.
bp.before_request(require_admin)

FORM_BLOCKS = ("modal", "form")
LIST_BLOCKS = ("settings_list",)


def _get_or_404(model, row_id: int):
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    return row


def _saved(message: str, list_endpoint: str):
    """htmx: close the modal, refresh the list, say what happened; a plain form: 303 to the list."""
    return done("settingsChanged", to=url_for(list_endpoint), message=message)


def _refused(form, refusal: SettingsError) -> None:
    """Put a service's refusal beside its field (or, without one, above the form)."""
    field = getattr(form, refusal.field, None) if refusal.field else None
    if field is not None:
        field.errors = [*field.errors, str(refusal)]
    else:
        form.form_errors.append(str(refusal))


def _form(template: str, form, status: int | None = None, **context):
    return render_form(template, form, blocks=FORM_BLOCKS, status=status, **context)


@bp.get("")
def index():
    """Settings start with the tax classes."""
    return redirect(url_for("settings.tax_classes"))


# -- tax classes ---------------------------------------------------------------------


@bp.get("/tax-classes")
def tax_classes():
    """Every tax class with its rate; Add, Edit and Delete."""
    return render_page(
        "settings/tax_classes.html",
        blocks=LIST_BLOCKS,
        tax_classes=settings_service.tax_classes(db.session),
    )


@bp.route("/tax-classes/new", methods=["GET", "POST"])
def new_tax_class():
    """Add tax class: a name and a rate."""
    form = TaxClassForm()
    if form.validate_on_submit():
        try:
            tax_class = settings_service.create_tax_class(db.session, form.name.data, form.rate_bp)
        except SettingsError as refusal:
            _refused(form, refusal)
        else:
            return _saved(f"Tax class {tax_class.label} added.", "settings.tax_classes")
    return _form(
        "settings/tax_class_form.html",
        form,
        tax_class=None,
        title="Add tax class",
        submit="Add tax class",
    )


@bp.route("/tax-classes/<int:tax_class_id>/edit", methods=["GET", "POST"])
def edit_tax_class(tax_class_id: int):
    """Edit tax class; a new rate applies to its customers at once, issued invoices keep theirs."""
    tax_class = _get_or_404(TaxClass, tax_class_id)
    form = TaxClassForm.for_tax_class(tax_class)
    editing.open_at(form, tax_class)
    status = None
    if form.validate_on_submit():
        try:
            moved = settings_service.update_tax_class(
                db.session, tax_class, form.name.data, form.rate_bp, opened=editing.opened(form)
            )
        except versions.EditConflict as conflict:
            form.form_errors.append(editing.reopen(form, "tax class", conflict))
            status = editing.CONFLICT_STATUS
        except SettingsError as refusal:
            _refused(form, refusal)
        else:
            message = f"Tax class {tax_class.label} saved."
            if moved:
                customers = "1 customer is" if moved == 1 else f"{moved:,} customers are"
                message += f" {customers} now taxed at {format_tax_rate(form.rate_bp)} %."
            return _saved(message, "settings.tax_classes")
    return _form(
        "settings/tax_class_form.html",
        form,
        status,
        tax_class=tax_class,
        title="Edit tax class",
        submit="Save changes",
    )


@bp.route("/tax-classes/<int:tax_class_id>/delete", methods=["GET", "POST"])
def delete_tax_class(tax_class_id: int):
    """Delete tax class, confirmed on the server; refused while customers are in it."""
    tax_class = _get_or_404(TaxClass, tax_class_id)
    name = tax_class.label
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            settings_service.delete_tax_class(db.session, tax_class)
        except SettingsError as refusal:
            return _delete_page(form, "tax class", name, tax_class_id, str(refusal))
        return _saved(f"Tax class {name} deleted.", "settings.tax_classes")
    refusal = settings_service.tax_class_delete_refusal(db.session, tax_class)
    return _delete_page(form, "tax class", name, tax_class_id, refusal)


# -- legal entities ------------------------------------------------------------------


@bp.get("/legal-entities")
def legal_entities():
    """Every legal entity: name, country, tax ID, currency and how it numbers documents."""
    return render_page(
        "settings/legal_entities.html",
        blocks=LIST_BLOCKS,
        legal_entities=settings_service.legal_entities(db.session),
        document_number=settings_service.document_number,
    )


@bp.route("/legal-entities/new", methods=["GET", "POST"])
def new_legal_entity():
    """Add legal entity."""
    form = LegalEntityForm()
    if form.validate_on_submit():
        try:
            entity = settings_service.create_legal_entity(db.session, form.entity_fields())
        except SettingsError as refusal:
            _refused(form, refusal)
        else:
            return _saved(f"Legal entity {entity.name} added.", "settings.legal_entities")
    return _form(
        "settings/legal_entity_form.html",
        form,
        entity=None,
        title="Add legal entity",
        submit="Add legal entity",
    )


@bp.route("/legal-entities/<int:entity_id>/edit", methods=["GET", "POST"])
def edit_legal_entity(entity_id: int):
    """Edit legal entity."""
    entity = _get_or_404(LegalEntity, entity_id)
    form = LegalEntityForm(obj=entity)
    editing.open_at(form, entity)
    status = None
    if form.validate_on_submit():
        try:
            settings_service.update_legal_entity(
                db.session, entity, form.entity_fields(), opened=editing.opened(form)
            )
        except versions.EditConflict as conflict:
            form.form_errors.append(editing.reopen(form, "legal entity", conflict))
            status = editing.CONFLICT_STATUS
        except SettingsError as refusal:
            _refused(form, refusal)
        else:
            return _saved(f"Legal entity {entity.name} saved.", "settings.legal_entities")
    return _form(
        "settings/legal_entity_form.html",
        form,
        status,
        entity=entity,
        title="Edit legal entity",
        submit="Save changes",
    )


@bp.route("/legal-entities/<int:entity_id>/delete", methods=["GET", "POST"])
def delete_legal_entity(entity_id: int):
    """Delete legal entity, confirmed; refused while it bills customers or issued a document."""
    entity = _get_or_404(LegalEntity, entity_id)
    name = entity.name
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            settings_service.delete_legal_entity(db.session, entity)
        except SettingsError as refusal:
            return _delete_page(form, "legal entity", name, entity_id, str(refusal))
        return _saved(f"Legal entity {name} deleted.", "settings.legal_entities")
    refusal = settings_service.legal_entity_delete_refusal(db.session, entity)
    return _delete_page(form, "legal entity", name, entity_id, refusal)


@bp.route("/legal-entities/<int:entity_id>/onboarding-email", methods=["GET", "POST"])
def onboarding_email(entity_id: int):
    """The entity's onboarding email: subject and text with placeholders, and a preview
    (the Preview button shows the text as typed, for a sample customer, without saving).
    An unknown placeholder is refused beside its field (422)."""
    entity = _get_or_404(LegalEntity, entity_id)
    form = OnboardingTemplateForm(obj=entity)
    previewing = "preview" in request.form
    preview = None
    if form.validate_on_submit():
        if previewing:
            preview = onboarding.render_onboarding(
                onboarding.sample_customer(entity),
                entity,
                subject=form.onboarding_subject.data,
                body=form.onboarding_body.data,
            )
        else:
            try:
                onboarding.save_template(
                    db.session, entity, form.onboarding_subject.data, form.onboarding_body.data
                )
            except onboarding.OnboardingError as refusal:
                _refused(form, refusal)
            else:
                return done(
                    "settingsChanged",
                    to=url_for("settings.legal_entities"),
                    message=f"Onboarding email of {entity.name} saved.",
                    open_page=True,
                )
    elif not form.is_submitted():
        preview = onboarding.render_onboarding(onboarding.sample_customer(entity), entity)
    return render_form(
        "settings/onboarding_email.html",
        form,
        blocks=("form",),
        status=200 if previewing and preview is not None else None,
        entity=entity,
        preview=preview,
        placeholders=onboarding.PLACEHOLDERS,
    )


@bp.route("/legal-entities/<int:entity_id>/reminders", methods=["GET", "POST"])
def reminder_schedule(entity_id: int):
    """The entity's payment-reminder schedule: its steps, each with Remove, and Add step
    (so many days before, on or after the due date; with the PDF or the payment link). A
    refused step is answered beside its field (422)."""
    entity = _get_or_404(LegalEntity, entity_id)
    form = ReminderStepForm()
    if form.validate_on_submit():
        try:
            offset = reminders.parse_offset(form.days.data, form.when.data)
            reminders.add_step(db.session, entity, offset, form.attach.data)
        except reminders.ReminderError as refusal:
            _refused(form, refusal)
        else:
            return _schedule_changed(entity, f"Step added: {reminders.step_label(offset).lower()}.")
    return render_form(
        "settings/reminders.html",
        form,
        blocks=("schedule",),
        entity=entity,
        steps=reminders.steps(db.session, entity.id),
        step_label=reminders.step_label,
    )


@bp.post("/legal-entities/<int:entity_id>/reminders/<int:step_id>/remove")
def remove_reminder_step(entity_id: int, step_id: int):
    """Remove a step from the schedule (reminders already sent for it stay recorded)."""
    entity = _get_or_404(LegalEntity, entity_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        offset = reminders.remove_step(db.session, entity, step_id)
    except reminders.ReminderError as refusal:
        return _schedule_changed(entity, str(refusal), level="warning")
    return _schedule_changed(entity, f"Step removed: {reminders.step_label(offset).lower()}.")


def _schedule_changed(entity: LegalEntity, message: str, level: str = "success"):
    """htmx: the schedule again (with an empty Add step form) and the message; without JS:
    a flash and 303 back to the page."""
    if not is_htmx_partial():
        flash(message, level)
        return redirect(url_for("settings.reminder_schedule", entity_id=entity.id), code=303)
    response = render_page(
        "settings/reminders.html",
        blocks=("schedule",),
        form=ReminderStepForm(formdata=None),
        entity=entity,
        steps=reminders.steps(db.session, entity.id),
        step_label=reminders.step_label,
    )
    text = message if level == "success" else {"text": message, "level": level}
    response.headers["HX-Trigger"] = json.dumps({"showMessage": text})
    return response


DELETE_ROUTES = {
    "tax class": ("settings.delete_tax_class", "tax_class_id", "settings.tax_classes"),
    "legal entity": ("settings.delete_legal_entity", "entity_id", "settings.legal_entities"),
}


def _delete_page(form, thing: str, name: str, row_id: int, refusal: str | None):
    """The confirmation; with a refusal it says why and offers only Back (422 after a Confirm)."""
    endpoint, id_name, list_endpoint = DELETE_ROUTES[thing]
    return render_form(
        "settings/delete.html",
        form,
        blocks=FORM_BLOCKS,
        status=None if refusal else 200,  # a Confirm only comes back when refused
        thing=thing,
        name=name,
        action=url_for(endpoint, **{id_name: row_id}),
        back=url_for(list_endpoint),
        refusal=refusal,
    )
