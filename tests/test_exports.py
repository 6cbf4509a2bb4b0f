"""Customer exports: starting one over HTTP, the CSV it writes, the ready email, who may
download it, the list, stale and expired exports, and the in-process job thread."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from jobs.maintenance import sweep
from tests.conftest import PASSWORD, csrf_token_from, make_app, sign_in
from tests.waiting import wait_for
from webapp.extensions import db as _db
from webapp.models.base import utcnow
from webapp.models.billing import EntryKind
from webapp.models.email import Email, EmailStatus
from webapp.models.export import Export, ExportStatus
from webapp.services import exports as export_service
from webapp.services.billing import capture_one_time_charge
from webapp.services.exports import job as export_job
from webapp.services.ledger import post_entry

# -- helpers and fixtures -------------------------------------------------------------


@pytest.fixture(autouse=True)
def export_dir(app, tmp_path) -> Path:
    """Each test writes its files to its own directory (export ids restart per test)."""
    path = tmp_path / "exports"
    app.config["EXPORT_DIR"] = str(path)
    return path


def count_exports(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Export))


def fresh(db, export_id: int) -> Export:
    db.session.expire_all()
    return db.session.get(Export, export_id)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header, records = rows[0], rows[1:]
    return header, [dict(zip(header, record, strict=True)) for record in records]


def add_export(db, staff, **fields) -> Export:
    """An export row written directly (no job), in the state a test needs."""
    export = Export(staff_id=staff.id, **fields)
    db.session.add(export)
    db.session.flush()
    export.file_name = f"customers-{export.id}.csv"
    db.session.commit()
    return export


def finished_export(db, staff, export_dir: Path, content: bytes = b"Customer ID\r\n") -> Export:
    finished = utcnow() - timedelta(hours=1)
    export = add_export(
        db,
        staff,
        status=ExportStatus.DONE,
        rows_total=3,
        rows_done=3,
        attempts=1,
        created_at=finished - timedelta(minutes=1),
        finished_at=finished,
        expires_at=finished + timedelta(days=7),
        size_bytes=len(content),
    )
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / export.file_name).write_bytes(content)
    return export


def signed_in_client(app, make_staff, email, name, role="agent"):
    staff = make_staff(email=email, name=name, role=role)
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    return client, staff


@pytest.fixture
def three_customers(make_customer):
    return [
        make_customer(name="Ada Lovelace", email="ada@example.com"),
        make_customer(name="Grace Hopper", email="grace@example.com", country="US", currency="USD"),
        make_customer(name="Alan Turing", email="alan@example.com"),
    ]


# -- starting an export -----------------------------------------------------------------


def test_a_plain_post_starts_an_export_and_goes_to_its_page(
    staff_client, db, three_customers, export_dir
):
    response = staff_client.post("/exports/")
    assert response.status_code == 303
    export = db.session.scalar(select(Export))
    assert response.headers["Location"] == f"/exports/{export.id}"
    # The sync job queue ran it right after the commit.
    export = fresh(db, export.id)
    assert export.status == ExportStatus.DONE
    assert (export.rows_done, export.rows_total, export.attempts) == (3, 3, 1)
    assert export.staff_id == staff_client.staff.id
    path = export_dir / export.file_name
    assert path.is_file() and export.size_bytes == path.stat().st_size > 0
    assert not list(export_dir.glob("*.part*"))
    assert export.expires_at - export.finished_at == timedelta(days=7)
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Export ready:" in page and "3 customers" in page
    assert f'href="/exports/{export.id}/download"' in page


def test_an_htmx_post_answers_with_the_progress_block(staff_client, db, three_customers):
    response = staff_client.post("/exports/", htmx_target="export_progress")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="export_progress"')
    assert "Export ready:" in html and "3 customers" in html
    assert 'hx-trigger="every 1s"' not in html  # done already: nothing to poll
    assert count_exports(db) == 1


@pytest.mark.parametrize("status", [ExportStatus.QUEUED, ExportStatus.RUNNING])
def test_a_second_click_returns_the_export_under_way(staff_client, db, status):
    under_way = add_export(
        db, staff_client.staff, status=status, heartbeat_at=utcnow(), rows_total=10, rows_done=4
    )
    response = staff_client.post("/exports/")
    assert response.headers["Location"] == f"/exports/{under_way.id}"
    fragment = staff_client.post("/exports/", htmx_target="export_progress")
    assert f'hx-get="/exports/{under_way.id}"' in fragment.get_data(as_text=True)
    assert count_exports(db) == 1
    assert fresh(db, under_way.id).status == status  # not run a second time


def test_a_stale_or_someone_elses_export_does_not_block_a_new_one(
    staff_client, db, make_staff, three_customers
):
    other = make_staff(email="other@example.com", name="Olga Other")
    add_export(db, other, status=ExportStatus.RUNNING, heartbeat_at=utcnow())
    dead = add_export(
        db,
        staff_client.staff,
        status=ExportStatus.RUNNING,
        heartbeat_at=utcnow() - timedelta(hours=1),
    )
    response = staff_client.post("/exports/")
    new = db.session.scalar(select(Export).order_by(Export.id.desc()))
    assert new.id != dead.id
    assert response.headers["Location"] == f"/exports/{new.id}"
    assert fresh(db, new.id).status == ExportStatus.DONE
    assert count_exports(db) == 3


def test_starting_an_export_needs_csrf_and_a_sign_in(app, staff_client, db):
    assert staff_client.post("/exports/", csrf=False).status_code == 400
    assert count_exports(db) == 0
    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    response = anonymous.post("/exports/", data={"csrf_token": token})
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/sign-in")
    assert count_exports(db) == 0


# -- the CSV -----------------------------------------------------------------------------


HOSTILE_NAMES = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tX", "\rY"]


def test_the_csv_holds_every_customer_once_with_formulas_neutralised(
    db, make_staff, make_customer, export_dir
):
    staff = make_staff()
    plain = make_customer(
        name="Zoë Ærøskøbing-Müller",
        email="zoe@example.com",
        company='Smith, "Bob" & Co',
        footnotes="First line\nsecond, line\r\nthird",
        city="Łódź",
        phone="+44 20 7946 0958",
        tax_rate_bp=2000,
    )
    hostile = [
        make_customer(name=name, email=f"h{n}@example.com") for n, name in enumerate(HOSTILE_NAMES)
    ]
    debtor = make_customer(name="Dee Btor", email="dee@example.com", currency="EUR")
    for currency, amount in (("EUR", -17850), ("USD", -1000), ("GBP", 500)):
        post_entry(
            db.session,
            debtor.id,
            kind=EntryKind.CHARGE if amount < 0 else EntryKind.CREDIT,
            amount_minor=amount,
            currency=currency,
            description="x",
            actor_id=None,
            key=None,
        )
    export, started = export_service.start_export(db.session, staff)
    assert started
    export = fresh(db, export.id)
    assert export.status == ExportStatus.DONE and export.rows_done == 2 + len(HOSTILE_NAMES)

    path = export_dir / export.file_name
    header, rows = read_csv(path)
    for heading in ("Customer ID", "Name", "Email", "Balance", "Other balances"):
        assert heading in header, heading
    assert header[0] == "Customer ID" and header[-1] == "Other balances"
    ids = [row["Customer ID"] for row in rows]
    expected = [c.customer_id for c in (plain, *hostile, debtor)]
    assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))
    by_id = {row["Customer ID"]: row for row in rows}

    # Text that a spreadsheet would run as a formula keeps a leading apostrophe.
    for customer, name in zip(hostile, HOSTILE_NAMES, strict=True):
        assert by_id[customer.customer_id]["Name"] == "'" + name
    assert by_id[plain.customer_id]["Phone"] == "'+44 20 7946 0958"

    # Quotes, commas, newlines and accents come back exactly (RFC 4180, UTF-8).
    zoe = by_id[plain.customer_id]
    assert zoe["Name"] == "Zoë Ærøskøbing-Müller"
    assert zoe["Company"] == 'Smith, "Bob" & Co'
    assert zoe["Footnotes"] == "First line\nsecond, line\r\nthird"
    assert zoe["City"] == "Łódź"
    assert (zoe["Email"], zoe["Balance"], zoe["Other balances"]) == ("zoe@example.com", "0.00", "")
    assert zoe["Tax rate %"] in ("20", "20.00")

    # The numeric balance is a number, not neutralised text; other currencies beside it.
    dee = by_id[debtor.customer_id]
    assert dee["Balance"] == "-178.50"
    assert dee["Currency"] == "EUR"
    assert dee["Other balances"] == "GBP 5.00; USD -10.00"

    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfCustomer ID,Name,")  # a BOM so Excel reads UTF-8
    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")
    assert b"\n" not in lines[0] and lines[0].endswith(b"Other balances")
    assert b'"Smith, ""Bob"" & Co"' in raw
    assert "Zoë".encode() in raw
    assert raw.count(b"\r\n") == len(rows) + 2  # a CRLF per record, one inside the footnotes


def test_export_in_batches_reports_progress_and_writes_every_row(
    app, db, make_staff, make_customer, export_dir
):
    app.config["EXPORT_BATCH_SIZE"] = 2
    staff = make_staff()
    customers = [make_customer(name=f"Customer {n}", email=f"c{n}@example.com") for n in range(5)]
    export, _ = export_service.start_export(db.session, staff)
    export = fresh(db, export.id)
    assert (export.status, export.rows_done, export.rows_total) == ("done", 5, 5)
    _, rows = read_csv(export_dir / export.file_name)
    assert [row["Customer ID"] for row in rows] == [c.customer_id for c in customers]


def test_an_export_of_no_customers_is_just_the_header(db, make_staff, export_dir):
    export, _ = export_service.start_export(db.session, make_staff())
    export = fresh(db, export.id)
    assert (export.status, export.rows_done) == (ExportStatus.DONE, 0)
    header, rows = read_csv(export_dir / export.file_name)
    assert header == export_service.HEADINGS and rows == []


def test_the_requester_is_emailed_a_download_link(app, db, make_staff, three_customers):
    staff = make_staff(email="requester@example.com", name="Rita Requester")
    export, _ = export_service.start_export(db.session, staff)
    email = db.session.scalar(select(Email).where(Email.kind == "export_ready"))
    assert email is not None
    assert (email.recipient, email.staff_id, email.customer_id) == (
        "requester@example.com",
        staff.id,
        None,
    )
    assert email.subject == "Your customer export is ready"
    link = f"{app.config['PUBLIC_BASE_URL']}/exports/{export.id}/download"
    assert link in email.text_body and f'href="{link}"' in email.html_body
    assert "Rita Requester" in email.text_body and "3 customers" in email.text_body
    assert email.status == EmailStatus.NOT_SENT  # no mail server in the tests' app
    assert db.session.scalar(select(func.count()).select_from(Email)) == 1


def test_the_ready_email_reaches_the_requester_over_smtp(
    app, database_url, instance_dir, smtp, tmp_path
):
    mail_app = make_app(
        database_url, instance_dir, EXPORT_DIR=str(tmp_path / "smtp-exports"), **smtp.config()
    )
    with mail_app.app_context():
        from webapp.services.staff import create_staff

        staff = create_staff(_db.session, "rita@example.com", "Rita", "agent", PASSWORD)
        export, _ = export_service.start_export(_db.session, staff)
        export_id = export.id
        _db.session.remove()
        _db.engine.dispose()
    [message] = smtp.to("rita@example.com")
    assert message["Subject"] == "Your customer export is ready"
    text = message.get_body(("plain",)).get_content()
    assert f"/exports/{export_id}/download" in text


# -- downloading -------------------------------------------------------------------------


def test_the_requester_downloads_the_csv(staff_client, db, three_customers, export_dir):
    staff_client.post("/exports/")
    export = db.session.scalar(select(Export))
    response = staff_client.get(f"/exports/{export.id}/download")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"tally-customers-{export.finished_at:%Y-%m-%d-%H%M}.csv" in disposition
    assert "no-store" in response.headers["Cache-Control"]
    assert response.data == (export_dir / export.file_name).read_bytes()


def test_only_the_requester_or_an_admin_may_download(app, staff_client, db, make_staff, export_dir):
    export = finished_export(db, staff_client.staff, export_dir, b"\xef\xbb\xbfCustomer ID\r\n")
    url = f"/exports/{export.id}/download"
    agent, _ = signed_in_client(app, make_staff, "other@example.com", "Olga Other")
    refused = agent.get(url)
    assert refused.status_code == 403
    assert "Only the staff member who started this export" in refused.get_data(as_text=True)
    admin, _ = signed_in_client(app, make_staff, "boss@example.com", "Bea Boss", role="admin")
    allowed = admin.get(url)
    assert allowed.status_code == 200 and allowed.data == b"\xef\xbb\xbfCustomer ID\r\n"


def test_download_needs_a_sign_in(client, db, make_staff, export_dir):
    export = finished_export(db, make_staff(), export_dir)
    response = client.get(f"/exports/{export.id}/download")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/sign-in")


def test_an_expired_export_is_gone(staff_client, db, export_dir):
    export = finished_export(db, staff_client.staff, export_dir)
    export.expires_at = datetime(2026, 1, 2, 3, 4)
    db.session.commit()
    response = staff_client.get(f"/exports/{export.id}/download")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "This export expired on 2026-01-02 03:04 UTC" in html
    assert "Start a new export" in html


@pytest.mark.parametrize("status", [ExportStatus.QUEUED, ExportStatus.RUNNING])
def test_an_unfinished_export_cannot_be_downloaded_yet(staff_client, db, status):
    export = add_export(db, staff_client.staff, status=status, heartbeat_at=utcnow())
    response = staff_client.get(f"/exports/{export.id}/download")
    assert response.status_code == 409
    assert "This export has not finished yet." in response.get_data(as_text=True)


def test_another_agent_is_refused_a_running_export_with_403(app, staff_client, db, make_staff):
    export = add_export(db, staff_client.staff, status=ExportStatus.RUNNING, heartbeat_at=utcnow())
    agent, _ = signed_in_client(app, make_staff, "other@example.com", "Olga Other")
    # Not yours comes first: another agent is not told how far someone's export is.
    response = agent.get(f"/exports/{export.id}/download")
    assert response.status_code == 403
    assert "Only the staff member who started this export" in response.get_data(as_text=True)


def test_a_failed_export_or_a_missing_file_is_gone(staff_client, db, export_dir):
    failed = add_export(db, staff_client.staff, status=ExportStatus.FAILED, last_error="boom")
    response = staff_client.get(f"/exports/{failed.id}/download")
    assert response.status_code == 410
    assert "This export failed, so there is no file." in response.get_data(as_text=True)
    done = finished_export(db, staff_client.staff, export_dir)
    (export_dir / done.file_name).unlink()
    response = staff_client.get(f"/exports/{done.id}/download")
    assert response.status_code == 410
    assert "The file of this export is missing." in response.get_data(as_text=True)


def test_an_unknown_export_is_not_found(staff_client):
    assert staff_client.get("/exports/999").status_code == 404
    assert staff_client.get("/exports/999/download").status_code == 404


# -- the list and the progress block ---------------------------------------------------------


def test_the_exports_page_lists_who_when_rows_status_and_expiry(
    app, staff_client, db, make_staff, export_dir
):
    olga = make_staff(email="olga@example.com", name="Olga Other")
    mine = finished_export(db, staff_client.staff, export_dir)
    mine.created_at = datetime(2026, 1, 30, 10, 15)
    mine.rows_done = 1234
    mine.expires_at = utcnow() + timedelta(days=6)
    theirs = finished_export(db, olga, export_dir)
    add_export(
        db,
        olga,
        status=ExportStatus.RUNNING,
        heartbeat_at=utcnow(),
        rows_total=5000,
        rows_done=2000,
    )
    add_export(
        db,
        staff_client.staff,
        status=ExportStatus.FAILED,
        last_error="The export failed: disk full",
    )
    db.session.commit()
    html = staff_client.get("/exports/").get_data(as_text=True)
    for text in (
        "Alex Agent",
        "Olga Other",
        "2026-01-30 10:15 UTC",
        "1,234",
        "2,000 of 5,000",
        "Ready",
        "Running",
        "Failed",
        "The export failed: disk full",
        f"{mine.expires_at:%Y-%m-%d %H:%M} UTC",
    ):
        assert text in html, text
    assert f'href="/exports/{mine.id}/download"' in html
    assert f'href="/exports/{theirs.id}/download"' not in html
    assert "Olga Other or an admin" in html
    assert html.count("Download CSV") == 1

    admin, _ = signed_in_client(app, make_staff, "boss@example.com", "Bea Boss", role="admin")
    admin_html = admin.get("/exports/").get_data(as_text=True)
    assert f'href="/exports/{mine.id}/download"' in admin_html
    assert f'href="/exports/{theirs.id}/download"' in admin_html


def test_no_exports_yet(staff_client):
    html = staff_client.get("/exports/").get_data(as_text=True)
    assert "No exports yet." in html


def test_the_progress_block_polls_while_running_and_stops_when_done(staff_client, db, export_dir):
    export = add_export(
        db,
        staff_client.staff,
        status=ExportStatus.RUNNING,
        heartbeat_at=utcnow(),
        rows_total=5000,
        rows_done=2000,
    )
    url = f"/exports/{export.id}"
    running = staff_client.get(url, htmx_target="export_progress")
    html = running.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<section id="export_progress"')
    assert 'hx-trigger="every 1s"' in html and f'hx-get="{url}"' in html
    assert "2,000 of 5,000 (40 %)" in html
    assert "HX-Request" in running.headers["Vary"]
    assert "<html" in staff_client.get(url).get_data(as_text=True)

    export = fresh(db, export.id)
    export.status = ExportStatus.DONE
    export.rows_done = 5000
    export.finished_at = utcnow()
    export.expires_at = utcnow() + timedelta(days=7)
    db.session.commit()
    (export_dir).mkdir(parents=True, exist_ok=True)
    (export_dir / export.file_name).write_bytes(b"x")
    done = staff_client.get(url, htmx_target="export_progress").get_data(as_text=True)
    assert "hx-trigger" not in done and "hx-get" not in done
    assert "Export ready:" in done and "5,000 customers" in done


def test_a_failed_export_shows_why(staff_client, db):
    export = add_export(
        db, staff_client.staff, status=ExportStatus.FAILED, last_error="The export failed: boom"
    )
    html = staff_client.get(f"/exports/{export.id}").get_data(as_text=True)
    assert "The export failed." in html and "The export failed: boom" in html
    assert "every 1s" not in html


def test_the_export_page_says_whether_the_link_was_emailed(staff_client, db, three_customers):
    response = staff_client.post("/exports/")
    html = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Export ready" in html
    # No MAIL_SERVER in the tests: the ready email is recorded, and the page says it was
    # not sent rather than claiming a link went out.
    assert "No email was sent: no mail server is configured." in html
    assert "A link was also emailed" not in html
    # Sentence after sentence, as read: a space after the link.
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "Download CSV. No email was sent: no mail server is configured. The file is" in text
    export = db.session.scalars(select(Export)).one()
    assert export.email.kind == "export_ready"
    assert export.email.status == EmailStatus.NOT_SENT


def test_an_error_mid_export_is_retried_then_fails_without_leaking_details(
    app, db, make_staff, three_customers, export_dir, monkeypatch
):
    app.config["EXPORT_MAX_ATTEMPTS"] = 2

    def broken(session, writer):
        yield 1
        raise OSError("No space left on device: '/srv/secret/path'")

    monkeypatch.setattr(export_job, "_write_customers", broken)
    export, _ = export_service.start_export(db.session, make_staff())
    first = fresh(db, export.id)
    assert (first.status, first.attempts) == (ExportStatus.QUEUED, 1)
    assert first.last_error.startswith("Attempt 1 stopped on an error")
    assert first.next_attempt_at > utcnow()
    assert list(export_dir.glob("*")) == []  # the part file is gone

    # The sweeper hands it back once the pause is over; the second error is final.
    db.session.execute(
        update(Export).where(Export.id == export.id).values(next_attempt_at=utcnow())
    )
    db.session.commit()
    assert sweep().exports == 1
    second = fresh(db, export.id)
    assert (second.status, second.attempts) == (ExportStatus.FAILED, 2)
    assert "stopped on an error 2 times" in second.last_error
    assert "secret" not in second.last_error and "No space" not in second.last_error
    assert db.session.scalar(select(func.count()).select_from(Email)) == 0


def test_ids_beyond_the_id_columns_are_not_found(staff_client):
    huge = 10**25
    for url in (
        f"/exports/{huge}",
        f"/exports/{huge}/download",
        f"/customers/1/emails/{huge}",
        f"/customers/1/emails/{huge}/body",
        f"/customers/{huge}",
        f"/customers/{2**31}/billing",
    ):
        assert staff_client.get(url).status_code == 404, url


# -- stale and expired exports ---------------------------------------------------------------


def test_a_lost_export_is_queued_again_or_failed_after_its_attempts(app, db, make_staff):
    staff = make_staff()
    now = utcnow()
    stale = now - timedelta(seconds=app.config["EXPORT_STALE_AFTER_SECONDS"] + 5)
    max_attempts = app.config["EXPORT_MAX_ATTEMPTS"]
    lost = add_export(db, staff, status=ExportStatus.RUNNING, attempts=1, heartbeat_at=stale)
    worn_out = add_export(
        db, staff, status=ExportStatus.RUNNING, attempts=max_attempts, heartbeat_at=stale
    )
    alive = add_export(
        db, staff, status=ExportStatus.RUNNING, attempts=1, heartbeat_at=now - timedelta(seconds=5)
    )
    waiting = add_export(
        db, staff, status=ExportStatus.QUEUED, next_attempt_at=now + timedelta(minutes=1)
    )

    assert export_service.due_to_run(db.session, now=now) == [lost.id]

    lost = fresh(db, lost.id)
    assert lost.status == ExportStatus.QUEUED
    assert "was lost; it starts again" in lost.last_error
    worn_out = fresh(db, worn_out.id)
    assert worn_out.status == ExportStatus.FAILED and worn_out.finished_at == now
    assert f"stopped {max_attempts} times" in worn_out.last_error
    assert fresh(db, alive.id).status == ExportStatus.RUNNING
    assert fresh(db, waiting.id).status == ExportStatus.QUEUED
    # Handed to its new job: the next sweep right after leaves it alone.
    assert export_service.due_to_run(db.session, now=now) == []
    # A minute on, only the one queued for later is due (the lost one waits for its job).
    later = now + timedelta(minutes=1)
    assert export_service.due_to_run(db.session, now=later) == [waiting.id]


def test_the_sweeper_restarts_a_lost_export_and_it_finishes(
    app, db, make_staff, three_customers, export_dir
):
    staff = make_staff()
    stale = utcnow() - timedelta(seconds=app.config["EXPORT_STALE_AFTER_SECONDS"] + 5)
    lost = add_export(
        db, staff, status=ExportStatus.RUNNING, attempts=1, heartbeat_at=stale, rows_done=1
    )
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / f"{lost.file_name}.part1").write_text("half written")
    result = sweep()
    assert result.exports == 1
    export = fresh(db, lost.id)
    assert (export.status, export.attempts, export.rows_done) == (ExportStatus.DONE, 2, 3)
    assert export.last_error == ""
    _, rows = read_csv(export_dir / export.file_name)
    assert len(rows) == 3


def test_a_job_taken_for_dead_stops_and_leaves_the_export_to_its_replacement(
    app, db, make_staff, three_customers, export_dir, monkeypatch
):
    app.config["EXPORT_BATCH_SIZE"] = 1
    export = add_export(db, make_staff(), status=ExportStatus.QUEUED)
    write_customers = export_job._write_customers

    def replaced_after_the_first_batch(session, writer, customer_ids=None):
        for done in write_customers(session, writer, customer_ids):
            # Meanwhile the sweeper took this job for dead and a new attempt claimed it.
            session.execute(
                update(Export)
                .where(Export.id == export.id)
                .values(attempts=Export.attempts + 1, rows_done=0)
            )
            yield done

    monkeypatch.setattr(export_job, "_write_customers", replaced_after_the_first_batch)
    assert export_service.run_export(db.session, export.id) is None
    export = fresh(db, export.id)
    assert (export.status, export.attempts, export.rows_done) == (ExportStatus.RUNNING, 2, 0)
    assert db.session.scalar(select(func.count()).select_from(Email)) == 0  # no ready email
    assert not export_dir.exists() or list(export_dir.iterdir()) == []  # no file, no .part
    # Running it again does nothing while the replacement holds it.
    monkeypatch.undo()
    assert export_service.run_export(db.session, export.id) is None


def test_expired_files_are_removed_and_marked(app, db, make_staff, export_dir):
    staff = make_staff()
    old = finished_export(db, staff, export_dir)
    old.expires_at = utcnow() - timedelta(minutes=1)
    current = finished_export(db, staff, export_dir)
    failed = add_export(db, staff, status=ExportStatus.FAILED, last_error="boom")
    db.session.commit()
    (export_dir / f"{failed.file_name}.part1").write_text("partial")
    old_file, current_file = export_dir / old.file_name, export_dir / current.file_name

    assert export_service.remove_expired_files(db.session) == 2

    assert not old_file.exists() and current_file.is_file()
    assert not list(export_dir.glob("*.part*"))
    old = fresh(db, old.id)
    assert (old.status, old.file_name) == (ExportStatus.EXPIRED, "")
    assert fresh(db, current.id).status == ExportStatus.DONE
    failed = fresh(db, failed.id)
    assert (failed.status, failed.file_name) == (ExportStatus.FAILED, "")
    assert export_service.remove_expired_files(db.session) == 0


def test_an_expired_export_page_and_download_say_so(staff_client, db, export_dir):
    export = finished_export(db, staff_client.staff, export_dir)
    export.expires_at = datetime(2026, 1, 2, 3, 4)
    db.session.commit()
    export_service.remove_expired_files(db.session)
    html = staff_client.get(f"/exports/{export.id}").get_data(as_text=True)
    assert "This export has expired" in html and "Download CSV" not in html
    response = staff_client.get(f"/exports/{export.id}/download")
    assert response.status_code == 410
    assert "expired on 2026-01-02 03:04 UTC" in response.get_data(as_text=True)


# -- the in-process job thread ---------------------------------------------------------------


def test_the_job_thread_delivers_a_captured_invoice_in_the_background(
    app, database_url, instance_dir, smtp, make_customer
):
    thread_app = make_app(
        database_url,
        instance_dir,
        JOBS_INLINE="thread",
        JOBS_SWEEP_SECONDS=10**6,  # one sweep when the thread starts, none in later tests
        **smtp.config(),
    )
    with thread_app.app_context():
        customer = make_customer(name="Thread Customer", email="thread@example.com")
        capture_one_time_charge(
            _db.session,
            customer.id,
            amount_minor=1000,
            currency="GBP",
            description="Background",
            actor_id=None,
            key=None,
            today=date(2026, 1, 31),
        )

        def email_status():
            _db.session.rollback()  # a new snapshot each time round
            return _db.session.scalar(select(Email.status))

        wait_for(lambda: email_status() == EmailStatus.SENT, "the invoice email to be sent", 15)
        assert email_status() == EmailStatus.SENT
        assert [m["Subject"] for m in smtp.to("thread@example.com")] == [
            f"Invoice INV-000001 from {thread_app.config['SELLER_NAME']}"
        ]
        _db.session.remove()
        _db.engine.dispose()
