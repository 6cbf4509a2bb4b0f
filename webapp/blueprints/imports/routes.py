"""Customers → Import (admins): upload a CSV file, check the column mapping, see the dry run,
run the import and watch it, cancel it, download the rejected rows."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from webapp.blueprints.access import require_admin
from webapp.blueprints.imports.forms import UploadForm, mapping_form
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.imports import CustomerImport, ImportStatus
from webapp.rendering import done, render_form, render_page
from webapp.services import imports as import_service

bp = Blueprint("imports", __name__, url_prefix="/customers/import")
bp.before_request(require_admin)

PROGRESS_BLOCKS = ("import_progress",)


def _import_or_404(import_id: int) -> CustomerImport:
    customer_import = db.session.get(CustomerImport, import_id)
    if customer_import is None:
        abort(404)
    return customer_import


@bp.route("/", methods=["GET", "POST"])
def upload():
    """Upload a CSV file; its columns are mapped at once and the mapping page opens."""
    form = UploadForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        limit = current_app.config["IMPORT_MAX_BYTES"]
        data = upload_file.stream.read(limit + 1)
        try:
            customer_import = import_service.upload(
                db.session, current_user, upload_file.filename, data
            )
        except import_service.ImportFileError as refusal:
            form.file.errors = [str(refusal)]
        else:
            return redirect(url_for("imports.mapping", import_id=customer_import.id), code=303)
    recent = db.session.scalars(
        db.select(CustomerImport).order_by(CustomerImport.id.desc()).limit(10)
    ).all()
    return render_form("imports/upload.html", form=form, blocks=("form",), recent=recent)


@bp.route("/<int:import_id>/mapping", methods=["GET", "POST"])
def mapping(import_id: int):
    """The columns with sample values, the field each goes to, and the match rule; saving it
    starts the dry run."""
    customer_import = _import_or_404(import_id)
    if customer_import.status not in (ImportStatus.MAPPING, ImportStatus.CHECKED):
        return redirect(url_for("imports.show", import_id=import_id), code=303)
    headers = import_service.headers_of(customer_import)
    form = mapping_form(
        headers,
        import_service.mapping_of(customer_import),
        customer_import.match_by,
        formdata=request.form if request.method == "POST" else None,
    )
    if form.validate_on_submit():
        chosen = [getattr(form, name).data or "" for name in form.column_names]
        errors = import_service.start_dry_run(
            db.session, customer_import, chosen, form.match_by.data
        )
        if not errors:
            return done(
                "importChecked",
                to=url_for("imports.show", import_id=import_id),
                message="Dry run started: nothing is written until you import.",
                open_page=True,
            )
        if "match_by" in errors:
            form.match_by.errors = [errors["match_by"]]
        if "mapping" in errors:
            form.form_errors.append(errors["mapping"])
    return render_form(
        "imports/mapping.html",
        form=form,
        blocks=("form",),
        customer_import=customer_import,
        columns=import_service.columns(customer_import),
        preset=import_service.PRESET_LABELS.get(customer_import.preset, ""),
    )


@bp.get("/<int:import_id>")
def show(import_id: int):
    """The dry run's result, or the import's progress and result; htmx polls the progress
    block while a job works on it."""
    customer_import = _import_or_404(import_id)
    phase = (
        import_service.CHECK
        if customer_import.status in (ImportStatus.CHECKING, ImportStatus.CHECKED)
        else import_service.IMPORT
    )
    return render_page(
        "imports/show.html",
        blocks=PROGRESS_BLOCKS,
        customer_import=customer_import,
        problems=import_service.problems(
            db.session, customer_import, phase, import_service.LISTED_PROBLEMS
        ),
        field_label=import_service.field_label,
        form=ConfirmForm(),
    )


@bp.post("/<int:import_id>/start")
def start(import_id: int):
    """Import the rows the dry run accepted (rows are checked again as they are written)."""
    return _step(import_id, import_service.start_import, "importStarted", "Import started.")


@bp.post("/<int:import_id>/cancel")
def cancel(import_id: int):
    """Stop the import after the chunk it is writing; what it wrote stays."""
    return _step(
        import_id,
        import_service.cancel,
        "importCancelled",
        "Cancelling: the import stops after the rows it is writing now.",
    )


def _step(import_id: int, action, event: str, message: str):
    """Start or cancel (CSRFProtect has checked the token): the import's page with
    ``message``, or 409 with the reason when the import is not in the state for it."""
    customer_import = _import_or_404(import_id)
    try:
        action(db.session, customer_import)
    except import_service.ImportRefused as refusal:
        return _refused(customer_import, str(refusal))
    return done(
        event, to=url_for("imports.show", import_id=import_id), message=message, open_page=True
    )


def _refused(customer_import: CustomerImport, message: str):
    return render_page("errors/error.html", status=409, title="Cannot do this now", message=message)


@bp.get("/<int:import_id>/rejected.csv")
def rejected(import_id: int):
    """The rows the import refused: the file's columns, "row" and "reason"."""
    customer_import = _import_or_404(import_id)
    try:
        pieces = import_service.rejected_rows_csv(db.session, customer_import)
    except import_service.ImportRefused as refusal:
        return render_page(
            "errors/error.html", status=410, title="Cannot download", message=str(refusal)
        )
    stem = customer_import.file_name.rsplit(".", 1)[0] or "customers"
    response = Response(stream_with_context(pieces), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"rejected-{import_id}.csv\"; filename*=UTF-8''rejected-"
        f"{import_id}-{_ascii(stem)}.csv"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _ascii(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in text)
