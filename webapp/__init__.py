"""Tally: the application factory."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from flask import Flask, jsonify, make_response, redirect, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from webapp import compression, rate_limits, read_only, security_headers, static_files
from webapp.config import load_config
from webapp.extensions import csrf, db, jobs, login_manager, mail, migrate

# Endpoints reachable without signing in; everything else needs a staff login.
PUBLIC_ENDPOINTS = frozenset({"auth.sign_in", "static", "health"})
PUBLIC_BLUEPRINTS: set[str] = set()
# The customer area's blueprints: never a staff login; their routes check the customer
# session themselves (webapp.customer_auth.customer_required).
CUSTOMER_BLUEPRINTS = frozenset({"customer_auth", "customer_area"})
# The JSON API: never a staff login; an API key (webapp.blueprints.api.auth) instead.
API_BLUEPRINTS = frozenset({"api"})


class IdConverter(IntegerConverter):
    """``<int:…>`` limited to an INTEGER id's range (0 … 2**31 - 1), so a huge id is a 404."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config from the environment (plus overrides), extensions, routes."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("TALLY_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    app.config.from_mapping(load_config(app.instance_path))
    if config:
        app.config.from_mapping(config)
    # Flask signs the session cookie with SECRET_KEY and still reads one signed with a
    # key in SECRET_KEY_FALLBACKS; Flask-WTF takes one key, or a list (newest last) that
    # signs with the newest and accepts any, so forms opened before a rotation submit.
    app.config.setdefault(
        "WTF_CSRF_SECRET_KEY",
        [*(app.config.get("SECRET_KEY_FALLBACKS") or []), app.config["SECRET_KEY"]],
    )

    # Templates are found in templates/ (pages) and partials/ (shared pieces).
    app.jinja_loader.searchpath.append(os.path.join(app.root_path, "partials"))
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    if app.config["PROXY_FIX"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    # Ids in URLs beyond what an id column holds are "not found", not a database error.
    app.url_map.converters["int"] = IdConverter

    # First, so that its after_request hook runs last, on the finished response.
    compression.init_app(app)
    static_files.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    jobs.init_app(app)
    _init_login(app)
    _register_connection_settings(app)
    read_only.init_app(app)
    security_headers.init_app(app)

    from webapp.services import history, receivables

    history.install()
    receivables.install()

    from webapp import models  # noqa: F401  (registers tables with the metadata)
    from webapp.blueprints.account_access import routes as account_access
    from webapp.blueprints.api import routes as api
    from webapp.blueprints.api_keys import routes as api_keys
    from webapp.blueprints.audit import routes as audit
    from webapp.blueprints.auth import routes as auth
    from webapp.blueprints.billing import routes as billing
    from webapp.blueprints.bulk import routes as bulk
    from webapp.blueprints.customer_area import routes as customer_area
    from webapp.blueprints.customer_auth import routes as customer_auth
    from webapp.blueprints.customers import routes as customers
    from webapp.blueprints.deletion import routes as deletion
    from webapp.blueprints.email_verification import routes as email_verification
    from webapp.blueprints.emails import routes as emails
    from webapp.blueprints.exports import routes as exports
    from webapp.blueprints.imports import routes as imports
    from webapp.blueprints.notes import routes as notes
    from webapp.blueprints.onboarding import routes as onboarding
    from webapp.blueprints.payment_links import routes as payment_links
    from webapp.blueprints.personal_data import routes as personal_data
    from webapp.blueprints.public import routes as public
    from webapp.blueprints.receivables import routes as receivables
    from webapp.blueprints.records import routes as records
    from webapp.blueprints.reminders import routes as reminders
    from webapp.blueprints.sales import routes as sales
    from webapp.blueprints.settings import routes as settings
    from webapp.blueprints.staff import routes as staff
    from webapp.blueprints.statements import routes as statements
    from webapp.blueprints.subscriptions import routes as subscriptions
    from webapp.blueprints.tags import routes as tags
    from webapp.blueprints.tickets import routes as tickets
    from webapp.blueprints.work import routes as work
    from webapp.template_helpers import register_template_helpers

    app.register_blueprint(auth.bp)
    app.register_blueprint(customers.bp)
    app.register_blueprint(billing.bp)
    app.register_blueprint(emails.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(payment_links.bp)
    app.register_blueprint(reminders.bp)
    app.register_blueprint(statements.bp)
    app.register_blueprint(notes.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(subscriptions.bp)
    app.register_blueprint(sales.bp)
    app.register_blueprint(receivables.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(tags.bp)
    app.register_blueprint(bulk.bp)
    app.register_blueprint(tickets.bp)
    app.register_blueprint(work.bp)
    app.register_blueprint(deletion.bp)
    app.register_blueprint(personal_data.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(onboarding.bp)
    app.register_blueprint(account_access.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(customer_auth.bp)
    app.register_blueprint(customer_area.bp)
    app.register_blueprint(email_verification.bp)
    PUBLIC_BLUEPRINTS.update({"public", "email_verification"})
    limiter = rate_limits.init_app(app)
    rate_limits.limit_public_pages(limiter, public.bp)
    rate_limits.limit_public_pages(limiter, email_verification.bp)
    app.register_blueprint(api_keys.bp)
    api.init_app(app, limiter)
    register_template_helpers(app)

    from webapp.cli import register_cli

    register_cli(app)

    @app.get("/health")
    def health():
        """Liveness and database check for load balancers; no sign-in needed."""
        from sqlalchemy import text

        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")

    @app.get("/")
    def index():
        """The home page is the customer list, with the query kept (``/?q=ada``)."""
        query = urlencode(list(request.args.items(multi=True)))
        return redirect(url_for("customers.index") + (f"?{query}" if query else ""))

    @app.before_request
    def refuse_unstorable_characters():
        """A NUL in the path, query or client address is a 422 page: PostgreSQL cannot store it.
        The public payment page hashes its token and answers for itself."""
        from webapp.services.reference import has_unstorable_character

        if request.blueprint in PUBLIC_BLUEPRINTS:
            return None
        sent = [request.path, request.remote_addr]
        sent += [text for key, value in request.args.items(multi=True) for text in (key, value)]
        if not any(has_unstorable_character(text) for text in sent):
            return None
        return _unstorable_request_page()

    @app.before_request
    def require_sign_in():
        """Every route needs a signed-in staff member unless it is listed as public or is
        the customer area's (which asks for a customer session instead, never a staff one)."""
        from flask_login import current_user

        if request.endpoint is None:
            return None
        if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
            return None
        if request.blueprint in CUSTOMER_BLUEPRINTS or request.blueprint in API_BLUEPRINTS:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        sent_from = "this site" if _in_customer_area() else "Tally"
        return _error_page(
            400,
            "Form expired",
            f"This form has expired or was not sent from {sent_from}. "
            "Reload the page and try again.",
        )

    @app.errorhandler(403)
    def forbidden(error):
        return _error_page(
            403, "Admins only", "Only an admin can do this. Ask an admin if it needs doing."
        )

    @app.errorhandler(404)
    def not_found(error):
        return _error_page(404, "Not found", "There is nothing at this address.")

    return app


def _in_customer_area() -> bool:
    return request.blueprint in CUSTOMER_BLUEPRINTS or request.path.startswith("/account/")


def _error_page(status: int, title: str, message: str):
    """An error page in the customer area's own layout under /account (a customer sees
    nothing of the panel, and is led back to their account), else in the panel's."""
    from webapp.blueprints.api.problems import is_api_request, problem
    from webapp.rendering import render_page

    if is_api_request():  # /api/…: problem+json, never a page
        return problem(status, message)
    if _in_customer_area():
        context = {
            "layout": "account/base.html",
            "back_url": url_for("customer_area.home"),
            "back_label": "Back to your account",
        }
    else:
        context = {"back_url": url_for("customers.index"), "back_label": "Back to customers"}
    return render_page("errors/error.html", status=status, title=title, message=message, **context)


def _unstorable_request_page():
    """422 for a NUL in the address: htmx gets the message alone, a page load gets a page."""
    from jinja2_fragments.flask import render_block

    from webapp.blueprints.api.problems import is_api_request, problem
    from webapp.rendering import is_htmx_partial, render_page
    from webapp.services.reference import UNSTORABLE_IN_ADDRESS

    if is_api_request():
        return problem(422, UNSTORABLE_IN_ADDRESS)
    context = {"title": "Invisible character in the address", "message": UNSTORABLE_IN_ADDRESS}
    if is_htmx_partial():
        response = make_response(render_block("errors/error.html", "error", **context), 422)
        response.vary.add("HX-Request")
        return response
    return render_page("errors/error.html", status=422, **context)


def _init_login(app: Flask) -> None:
    from flask import make_response

    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_staff(session_id: str):
        """The signed-in member, or None when the session is gone or the account deactivated."""
        from webapp.services import staff_sessions

        policy = staff_sessions.policy_from_config(app.config)
        return staff_sessions.staff_for_session(db.session, session_id, policy)

    @login_manager.unauthorized_handler
    def unauthorized():
        """Pages redirect to sign-in; htmx gets HX-Redirect, so the whole window goes there."""
        if request.headers.get("HX-Request") == "true":
            current = request.headers.get("HX-Current-URL", "")
            from urllib.parse import urlsplit

            parts = urlsplit(current)
            next_path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = make_response("", 401)
            response.headers["HX-Redirect"] = url_for("auth.sign_in", next=next_path or None)
            return response
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))


def _connection_settings(dbapi_connection, _record) -> None:
    """SQLite: foreign keys on, WAL for concurrent readers, and wait rather than fail on a
    lock. PostgreSQL: plan every statement for its own values. psycopg prepares a
    statement run five times on a connection, and PostgreSQL may then settle on one
    generic plan for all values: the list's "Paid in full" filter (balance = 0, half the
    table) got the plan of a rare balance and took 500 ms instead of 10. And no parallel
    workers: Tally's queries read a page or a capped count through an index, and starting
    workers costs more than they save (a tag filter's first page at 1,000,000 customers:
    44 ms with two workers, 13 ms without)."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
    elif module.startswith("psycopg"):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_connection.commit()


def _register_connection_settings(app: Flask) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _connection_settings):
        event.listen(Engine, "connect", _connection_settings)
