"""A Flask-Admin list of Tally's ``customers`` table, for bench_list_vs_admin.py.

What a team would set up with Flask-Admin's SQLAlchemy ``ModelView`` to get Tally's
customer list: the same columns, 50 rows a page, newest first, search over the
name, company, contact and email columns and the tax ID, filters on country,
currency and status, every column sortable. Archived customers are left out, as
in Tally's default view (``get_query`` and ``get_count_query``, as Flask-Admin's
documentation says to override them), so both lists show the same rows. Nothing
is tuned beyond that: Flask-Admin counts the matching rows for its pager, pages
with OFFSET and searches with ``ILIKE '%term%'`` on each column, as it does out of
the box. The model is a small mapping of the columns the list shows, on its own
Flask-SQLAlchemy instance (Tally's models are not imported).

The list is at ``/admin/customers/``. Under gunicorn::

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tally_bench \\
        .venv/bin/gunicorn --pythonpath benchmarks admin_panel:app
"""

from __future__ import annotations

import os
from datetime import datetime

from flask import Flask, redirect
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/tally_bench"
LIST_URL = "/admin/customers/"

db = SQLAlchemy()


class Customer(db.Model):
    """The columns of ``customers`` that the list shows, searches or filters on."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    tax_id: Mapped[str] = mapped_column(String(50))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CustomerView(ModelView):
    # The list: Tally's columns, in Tally's order (the sort=N argument counts from 0 here).
    column_list = (
        "id",
        "name",
        "company",
        "email",
        "country",
        "currency",
        "status",
        "balance_minor",
        "created_at",
    )
    column_labels = {"id": "Customer ID", "balance_minor": "Balance (minor units)"}
    column_formatters = {"id": lambda view, context, model, name: f"C-{model.id:06d}"}
    column_searchable_list = ("name", "company", "first_name", "last_name", "email", "tax_id")
    column_filters = ("country", "currency", "status")
    column_default_sort = [("created_at", True), ("id", True)]
    page_size = 50
    # flt0_country_equals=DE rather than flt0_0=DE.
    named_filter_urls = True
    # Deleting a customer is a workflow of its own in Tally, not a button on the list.
    can_delete = False

    def get_query(self):
        return super().get_query().filter(Customer.status != "archived")

    def get_count_query(self):
        return super().get_count_query().filter(Customer.status != "archived")


def create_admin_app(database_url: str) -> Flask:
    """The Flask-Admin app on ``database_url`` (``postgresql://`` goes through psycopg 3)."""
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "bench-admin")
    db.init_app(app)
    admin = Admin(app, name="Customers admin")
    admin.add_view(CustomerView(Customer, db, name="Customers", endpoint="customers"))

    @app.get("/")
    def home():
        return redirect(LIST_URL)

    return app


def __getattr__(name: str):
    # The module-level WSGI app for gunicorn (admin_panel:app), made on first use so that
    # importing this module (as the benchmark does) opens nothing.
    if name == "app":
        app = create_admin_app(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
