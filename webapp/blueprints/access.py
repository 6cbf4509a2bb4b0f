"""Who may use a route: admin-only routes and blueprints."""

from functools import wraps

from flask import abort
from flask_login import current_user


def require_admin() -> None:
    """403 unless the signed-in member is an admin (a before_request, or first thing in a route)."""
    if not getattr(current_user, "is_admin", False):
        abort(403)


def admin_only(view):
    """A route only admins may use; agents get 403 (and never see a link to it)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        require_admin()
        return view(*args, **kwargs)

    # Lets tests find every admin-only route (tests/test_roles.py) without a list.
    guarded.admin_only = True
    return guarded
