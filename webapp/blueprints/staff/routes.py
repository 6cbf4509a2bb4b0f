"""The Staff page (admins): add staff, change a role, deactivate and reactivate.

Add staff and the confirmations open in the modal with htmx and are pages of their
own without JavaScript. Each row changes its role with a small form that posts
straight away (like a ticket's status); a refused change comes back as the role form
with the message beside the field. The rules (never yourself, never the last active
admin) are services.staff's, and each change writes an audit line there.
"""

from __future__ import annotations

from flask import Blueprint, abort, url_for
from flask_login import current_user

from webapp.blueprints.access import require_admin
from webapp.blueprints.staff.forms import StaffForm, StaffRoleForm
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.staff import Staff
from webapp.rendering import done, render_form, render_page
from webapp.services import staff as staff_service
from webapp.services.staff import StaffError

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(require_admin)

LIST_BLOCKS = ("staff_list",)
FORM_BLOCKS = ("modal", "form")


def _staff_or_404(staff_id: int) -> Staff:
    member = staff_service.get_staff(db.session, staff_id)
    if member is None:
        abort(404)
    return member


def _changed(message: str):
    """htmx: close the modal, refresh the list, say what happened; a plain form: 303 to Staff."""
    return done("staffChanged", to=url_for("staff.index"), message=message)


@bp.get("")
def index():
    """Every staff account: name, email, role (with Change), active or not, created."""
    return render_page(
        "staff/index.html",
        blocks=LIST_BLOCKS,
        members=staff_service.staff_list(db.session),
        role_labels=staff_service.ROLE_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Add staff: name, email, role and a first password; the account can sign in at once."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            member = staff_service.create_staff(
                db.session, form.email.data, form.name.data, form.role.data, form.password.data
            )
        except StaffError as refusal:
            db.session.rollback()
            field = getattr(form, refusal.field, None) if refusal.field else None
            if field is not None:
                field.errors = [*field.errors, str(refusal)]
            else:
                form.form_errors.append(str(refusal))
        else:
            label = staff_service.role_label(member.role).lower()
            return _changed(f"{member.name} ({member.email}) added as {label}.")
    return render_form("staff/form.html", form, blocks=FORM_BLOCKS)


@bp.route("/<int:staff_id>/role", methods=["GET", "POST"])
def change_role(staff_id: int):
    """Set the role chosen in a staff row; a refusal changes nothing and returns this form (422)."""
    member = _staff_or_404(staff_id)
    form = StaffRoleForm()
    if not form.is_submitted():
        form.role.data = member.role
    if form.validate_on_submit():
        name, old_role = member.name, member.role
        try:
            changed = staff_service.change_role(
                db.session, member.id, form.role.data, by=current_user.id
            )
        except StaffError as refusal:
            db.session.rollback()
            form.role.errors = [*form.role.errors, str(refusal)]
        else:
            new_label = staff_service.role_label(form.role.data).lower()
            if changed:
                old_label = staff_service.role_label(old_role).lower()
                message = f"{name} is now an {new_label} (was {old_label})."
            else:
                message = f"{name} is already an {new_label}; nothing changed."
            return _changed(message)
    return render_form("staff/role.html", form, blocks=FORM_BLOCKS, member=member)


@bp.route("/<int:staff_id>/deactivate", methods=["GET", "POST"])
def deactivate(staff_id: int):
    """Deactivate, confirmed; sessions end. Refused (no button) for yourself or the last admin."""
    member = _staff_or_404(staff_id)
    refusal = staff_service.deactivation_refusal(db.session, member, current_user.id)
    return _confirmed_change(
        member,
        "deactivate",
        refusal,
        staff_service.deactivate,
        "is deactivated and signed out everywhere.",
    )


@bp.route("/<int:staff_id>/reactivate", methods=["GET", "POST"])
def reactivate(staff_id: int):
    """Reactivate (the old password works again); the row posts here, GET confirms (no JS)."""
    member = _staff_or_404(staff_id)
    refusal = staff_service.reactivation_refusal(member)
    return _confirmed_change(
        member, "reactivate", refusal, staff_service.reactivate, "is active again and can sign in."
    )


def _confirmed_change(member: Staff, action: str, refusal: str | None, change, outcome: str):
    """Confirm ``action``; on Confirm (unless refused) run ``change`` and say "<name> <outcome>"."""
    form = ConfirmForm()
    if refusal is None and form.validate_on_submit():
        name = member.name
        try:
            change(db.session, member.id, by=current_user.id)
        except StaffError as error:
            db.session.rollback()
            refusal = str(error)
        else:
            return _changed(f"{name} {outcome}")
    return _confirmation(form, member, action, refusal)


def _confirmation(form: ConfirmForm, member: Staff, action: str, refusal: str | None):
    return render_form(
        "staff/confirm.html",
        form,
        blocks=FORM_BLOCKS,
        member=member,
        action=action,
        refusal=refusal,
    )
