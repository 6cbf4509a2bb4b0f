"""Customer exports hold every customer's personal data, so Delete customer and Clear
personal data delete the files of finished exports: the confirmation says how many,
the export then shows as expired with the reason, its download answers 410, and an
export still running starts again so its file is written without the customer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import StaffClient
from webapp.models.base import utcnow
from webapp.models.export import Export, ExportStatus
from webapp.services import deletion, personal_data

DORA_EMAIL = "dora@doomed.example"
DELETED_REASON = "because a customer in it was deleted. Start a new export."
CLEARED_REASON = "because the personal data of a customer in it was cleared. Start a new export."


# -- helpers and fixtures -------------------------------------------------------------


@pytest.fixture(autouse=True)
def export_dir(app, tmp_path) -> Path:
    """Each test writes its files to its own directory (export ids restart per test)."""
    path = tmp_path / "exports"
    app.config["EXPORT_DIR"] = str(path)
    return path


@pytest.fixture
def dora(make_customer):
    return make_customer(name="Doomed Dora", email=DORA_EMAIL, country="DE", currency="EUR")


@pytest.fixture
def kim(make_customer):
    return make_customer(name="Kim Kept", email="kim@kept.example")


def fresh(db, export_id: int) -> Export:
    db.session.expire_all()
    return db.session.get(Export, export_id)


def finished_export(
    db, requester: StaffClient, export_dir: Path, holding: str = DORA_EMAIL
) -> Export:
    """An export started with the Export button; the sync job queue writes it at once."""
    assert requester.post("/exports/").status_code == 303
    export = db.session.scalars(select(Export).order_by(Export.id.desc())).first()
    export = fresh(db, export.id)
    assert export.status == ExportStatus.DONE
    path = export_dir / export.file_name
    assert holding in path.read_text(encoding="utf-8-sig")
    return export


def delete(admin_client: StaffClient, customer) -> None:
    response = admin_client.post(
        f"/customers/{customer.id}/delete", {"typed_id": customer.customer_id}
    )
    assert response.status_code == 303


def clear(admin_client: StaffClient, customer) -> None:
    response = admin_client.post(f"/customers/{customer.id}/clear-personal-data")
    assert response.status_code == 303


def assert_withdrawn(db, requester, export_id, export_dir, reason, before) -> None:
    """The file is gone, the export is expired now and its page and download say why."""
    assert list(export_dir.iterdir()) == []
    export = fresh(db, export_id)
    assert (export.status, export.file_name) == (ExportStatus.EXPIRED, "")
    assert before <= export.expires_at <= utcnow()
    expected = (
        f"The file of this export was deleted on {export.expires_at:%Y-%m-%d %H:%M} UTC {reason}"
    )
    assert export.last_error == expected

    page = requester.get(f"/exports/{export_id}").get_data(as_text=True)
    assert "This export is no longer available." in page and expected in page
    assert "This export has expired" not in page and "Download CSV" not in page

    listing = requester.get("/exports/").get_data(as_text=True)
    assert "Expired" in listing and expected in listing

    download = requester.get(f"/exports/{export_id}/download")
    assert download.status_code == 410
    assert expected in download.get_data(as_text=True)


# -- Delete customer ------------------------------------------------------------------


def test_deleting_a_customer_deletes_the_finished_export_files(
    db, staff_client, admin_client, dora, kim, export_dir
):
    mine = finished_export(db, staff_client, export_dir)
    admins = finished_export(db, admin_client, export_dir)
    before = utcnow().replace(microsecond=0)

    delete(admin_client, dora)

    assert_withdrawn(db, staff_client, mine.id, export_dir, DELETED_REASON, before)
    assert_withdrawn(db, admin_client, admins.id, export_dir, DELETED_REASON, before)


def test_the_delete_confirmation_counts_the_export_files(
    db, staff_client, admin_client, dora, export_dir
):
    url = f"/customers/{dora.id}/delete"
    assert "finished customer export" not in admin_client.get(url).get_data(as_text=True)

    finished_export(db, staff_client, export_dir)
    page = admin_client.get(url).get_data(as_text=True)
    assert "1 finished customer export file is deleted too: it lists every customer" in page

    finished_export(db, admin_client, export_dir)
    modal = admin_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal
    assert "2 finished customer export files are deleted too: they list every customer" in modal
    assert deletion.what_goes(db.session, dora.id).export_files == 2


def test_a_refused_deletion_keeps_the_export_files(
    db, staff_client, admin_client, dora, export_dir
):
    export = finished_export(db, staff_client, export_dir)
    response = admin_client.post(f"/customers/{dora.id}/delete", {"typed_id": "C-999999"})
    assert response.status_code == 422
    assert (export_dir / export.file_name).is_file()
    export = fresh(db, export.id)
    assert (export.status, export.last_error) == (ExportStatus.DONE, "")
    assert staff_client.get(f"/exports/{export.id}/download").status_code == 200


def test_leftovers_of_a_failed_export_go_and_expired_ones_stay_as_they_were(
    db, make_staff, dora, export_dir
):
    staff = make_staff()
    failed = Export(staff_id=staff.id, status=ExportStatus.FAILED, last_error="Disk full.")
    expired_at = utcnow() - timedelta(days=1)
    expired = Export(staff_id=staff.id, status=ExportStatus.EXPIRED, expires_at=expired_at)
    db.session.add_all([failed, expired])
    db.session.flush()
    failed.file_name = f"customers-{failed.id}.csv"
    db.session.commit()
    export_dir.mkdir(parents=True)
    (export_dir / f"{failed.file_name}.part1").write_text(f"C-000001,{DORA_EMAIL}\r\n")

    deletion.delete_customer(db.session, dora.id, dora.customer_id)

    assert list(export_dir.iterdir()) == []
    failed = fresh(db, failed.id)
    assert (failed.status, failed.file_name, failed.last_error) == (
        ExportStatus.FAILED,
        "",
        "Disk full.",
    )
    expired = fresh(db, expired.id)
    assert (expired.status, expired.last_error) == (ExportStatus.EXPIRED, "")
    assert expired.expires_at == expired_at


def test_a_running_export_starts_again_without_the_deleted_customer(
    db, make_staff, dora, kim, export_dir
):
    """An export that was writing while the customer went may hold them already: it is
    queued again, and the sync job queue writes it afresh right after the commit."""
    staff = make_staff()
    now = utcnow()
    export = Export(
        staff_id=staff.id,
        status=ExportStatus.RUNNING,
        attempts=1,
        rows_total=2,
        rows_done=1,
        started_at=now,
        heartbeat_at=now,
    )
    db.session.add(export)
    db.session.flush()
    export.file_name = f"customers-{export.id}.csv"
    db.session.commit()
    export_dir.mkdir(parents=True)
    part = export_dir / f"{export.file_name}.part1"
    part.write_text(f"C-000001,{DORA_EMAIL}\r\n")

    deletion.delete_customer(db.session, dora.id, dora.customer_id)

    export = fresh(db, export.id)
    assert (export.status, export.attempts) == (ExportStatus.DONE, 2)
    assert (export.rows_done, export.rows_total) == (1, 1)
    written = (export_dir / export.file_name).read_text(encoding="utf-8-sig")
    assert "kim@kept.example" in written and DORA_EMAIL not in written
    assert not part.exists()


# -- Clear personal data --------------------------------------------------------------


def test_clearing_personal_data_deletes_the_finished_export_files(
    db, staff_client, admin_client, dora, kim, export_dir
):
    export = finished_export(db, staff_client, export_dir)
    before = utcnow().replace(microsecond=0)

    clear(admin_client, dora)

    assert_withdrawn(db, staff_client, export.id, export_dir, CLEARED_REASON, before)


def test_the_clear_preview_counts_the_export_files(
    db, staff_client, admin_client, dora, export_dir
):
    url = f"/customers/{dora.id}/clear-personal-data"
    assert "finished customer export" not in admin_client.get(url).get_data(as_text=True)

    finished_export(db, staff_client, export_dir)
    finished_export(db, admin_client, export_dir)
    page = admin_client.get(url).get_data(as_text=True)
    cleared = page.split('class="cleared-records"', 1)[1].split("</ul>", 1)[0]
    assert "<li>2 finished customer export files (deleted: they list every customer)</li>" in (
        cleared
    )
    assert personal_data.preview(db.session, dora).cleared[-1].startswith("2 finished")


def test_a_refused_clear_keeps_the_export_files(db, staff_client, admin_client, dora, export_dir):
    export = finished_export(db, staff_client, export_dir)
    clear(admin_client, dora)
    second = finished_export(db, staff_client, export_dir, holding=dora.customer_id)

    # Cleared once already: refused, and the new file stays.
    response = admin_client.post(f"/customers/{dora.id}/clear-personal-data")
    assert response.status_code == 422
    assert (export_dir / second.file_name).is_file()
    assert fresh(db, second.id).status == ExportStatus.DONE
    assert fresh(db, export.id).status == ExportStatus.EXPIRED
