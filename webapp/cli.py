"""Command-line interface: ``flask --app wsgi staff create``, ``demo-data`` …"""

from __future__ import annotations

import secrets
import time

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from webapp.extensions import db
from webapp.jobqueue import QUEUE_NAMES

staff_cli = AppGroup("staff", help="Manage staff accounts.")


@staff_cli.command("create")
@click.option("--email", required=True, help="Sign-in email.")
@click.option("--name", required=True, help="Name shown in the panel.")
@click.option("--role", type=click.Choice(["admin", "agent"]), default="agent", show_default=True)
@click.option("--password", help="Prompted for (hidden) when left out.")
def create_staff_command(email: str, name: str, role: str, password: str | None) -> None:
    """Add a staff account."""
    from webapp.services.staff import StaffError, create_staff

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = create_staff(db.session, email, name, role, password)
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {staff.role} {staff.email}.")


@staff_cli.command("set-password")
@click.option("--email", required=True, help="Sign-in email of the account.")
def set_password_command(email: str) -> None:
    """Set a staff account's password (prompted, hidden, twice); all its sessions are signed out."""
    from webapp.services.staff import StaffError, set_password

    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        staff = set_password(db.session, email, password)
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password of {staff.email} changed; its sessions are signed out.")


@staff_cli.command("ensure-admin")
@click.option("--email", default="admin@example.com", show_default=True)
def ensure_admin_command(email: str) -> None:
    """With no staff account yet, make an admin with a random password and print it once."""
    from webapp.services.staff import create_staff, staff_count

    if staff_count(db.session):
        click.echo(
            "Sign in with your staff account (add more with `flask --app wsgi staff create`)."
        )
        return
    password = secrets.token_urlsafe(12)
    create_staff(db.session, email, "Administrator", "admin", password)
    click.echo("First run: created the admin account")
    click.echo(f"    email:    {email}")
    click.echo(f"    password: {password}")
    click.echo("Keep it somewhere safe; it is not shown again.")


@click.command("demo-data")
@click.option(
    "--customers",
    "count",
    type=click.IntRange(1, 10_000_000),
    default=1000,
    show_default=True,
    help="How many customers to add.",
)
@click.option("--seed", type=int, default=None, help="Random seed, for repeatable data.")
def demo_data_command(count: int, seed: int | None) -> None:
    """Fill the database with realistic customers."""
    from webapp.demo_data import insert_demo_customers

    started = time.perf_counter()
    with click.progressbar(length=count, label="Adding customers") as bar:
        insert_demo_customers(db.session, count, seed=seed, progress=bar.update)
    click.echo(f"Added {count:,} customers in {time.perf_counter() - started:.1f} s.")


ledger_cli = AppGroup("ledger", help="Check the ledger.")


@ledger_cli.command("check")
def ledger_check_command() -> None:
    """Recompute every balance from the entries; exit 1 naming the customers that differ."""
    from webapp.models.customer import format_customer_id
    from webapp.services.ledger import check_balances
    from webapp.services.money import format_money

    mismatches = check_balances(db.session)
    if not mismatches:
        click.echo("Every balance agrees with its entries.")
        return
    for mismatch in mismatches:
        click.echo(
            f"{format_customer_id(mismatch.customer_id)} {mismatch.currency}: balance says "
            f"{format_money(mismatch.kept_minor, mismatch.currency)}, entries add up to "
            f"{format_money(mismatch.derived_minor, mismatch.currency)}",
            err=True,
        )
    raise click.exceptions.Exit(1)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(QUEUE_NAMES),
    help="Take jobs only from this queue (repeatable). Default: tally (emails), then "
    "tally-exports.",
)
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker for REDIS_URL: emails, exports and the sweeper.

    Run as many as the load needs; they share the queues. A worker runs one job at a
    time, so keep one on `--queue tally` if long exports must never delay emails.
    """
    from flask import current_app

    from jobs.worker import run_worker

    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set. Without Redis, jobs run inside the web server and no "
            "worker is needed; set REDIS_URL to run them in workers."
        )
    run_worker(app, burst=burst, queues=queues or QUEUE_NAMES)


jobs_cli = AppGroup("jobs", help="Background work: emails and exports.")


@jobs_cli.command("sweep")
def sweep_command() -> None:
    """Re-enqueue waiting emails and exports; delete expired export files and staff sessions.
    Workers do this every JOBS_SWEEP_SECONDS; run it by hand after an outage."""
    from jobs.maintenance import sweep
    from webapp.extensions import jobs

    # Without Redis the jobs run here and now: a background thread would die with
    # this command.
    with jobs.run_in_process():
        result = sweep()
    click.echo(
        f"Enqueued {result.emails} email(s) and {result.exports} export(s); "
        f"deleted {result.expired_files} expired export file(s) and "
        f"{result.expired_sessions} expired staff session(s)."
    )


@jobs_cli.command("reminders")
def reminders_command() -> None:
    """Send the payment reminders due now. Workers (or the web server without Redis) do this
    every REMINDERS_EVERY_SECONDS; a step is never sent twice, so running it again is safe."""
    from webapp.extensions import db, jobs
    from webapp.services.reminders import send_due_reminders

    with jobs.run_in_process():
        run = send_due_reminders(db.session)
    click.echo(f"Sent {run.reminders} reminder(s) in {run.emails} email(s).")


def register_cli(app: Flask) -> None:
    app.cli.add_command(staff_cli)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_cli)
