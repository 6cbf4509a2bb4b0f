"""Settings → API keys (admins only): create a key, shown once; the list; Revoke."""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from webapp.blueprints.access import require_admin
from webapp.blueprints.api_keys.forms import ApiKeyForm
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.api_keys import ApiKey
from webapp.paging import PageAt
from webapp.rendering import done, render_form, render_page
from webapp.services import api_keys

bp = Blueprint("api_keys", __name__, url_prefix="/settings/api-keys")
# A key acts for Tally with no person signed in: admins only, like the rest of Settings.
bp.before_request(require_admin)


def _page(form: ApiKeyForm, status: int = 200, new_key: api_keys.NewKey | None = None):
    page = api_keys.keys_page(db.session, PageAt.from_args(request.args))
    return render_page(
        "api_keys/index.html",
        blocks=("api_keys_list",),
        status=status,
        form=form,
        keys=page.rows,
        page=page,
        new_key=new_key,
    )


@bp.get("")
def index():
    """Every API key, newest first, with the Create API key form."""
    return _page(ApiKeyForm())


@bp.post("")
def create():
    """Create API key: the page again, showing the new key this once (never stored)."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        made = api_keys.create_key(db.session, form.name.data, form.scope.data, current_user.id)
    except api_keys.ApiKeyError as refusal:
        field = getattr(form, refusal.field or "", None)
        if field is not None:
            field.errors = [*field.errors, str(refusal)]
        else:
            form.form_errors.append(str(refusal))
        return _page(form, status=422)
    response = _page(ApiKeyForm(formdata=None), status=201, new_key=made)
    # The key is on this page only: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:key_id>/revoke", methods=["GET", "POST"])
def revoke(key_id: int):
    """Revoke, confirmed on the server: programs using the key are refused from now on."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        abort(404)
    form = ConfirmForm()
    refusal = None
    if key.is_revoked:
        refusal = f'The API key "{key.name}" is already revoked.'
    elif form.validate_on_submit():
        try:
            api_keys.revoke(db.session, key.id, current_user.id)
        except api_keys.ApiKeyError as error:
            refusal = str(error)
        else:
            return done(
                "apiKeysChanged",
                to=url_for("api_keys.index"),
                message=f'API key "{key.name}" revoked: requests with it are refused.',
            )
    return render_form(
        "api_keys/revoke.html",
        form,
        key=key,
        refusal=refusal,
        action=url_for("api_keys.revoke", key_id=key.id),
        back=url_for("api_keys.index"),
    )
