"""Bulk actions on the customer list (blueprints.bulk, services.bulk): the list's form,
the confirmation page, add and remove a tag, change the status and delete (admins) over
ticked customers or every customer of a filtered view, with each customer's history line
(and audit line), 422 beside the field, CSRF and roles."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from webapp.models.bulk import BulkAction
from webapp.models.crm import Tag, customer_tags
from webapp.models.customer import Customer
from webapp.models.history import AuditEvent, CustomerEvent
from webapp.services import subscriptions, tags


@pytest.fixture
def three(make_customer):
    """Three customers in Germany and one in France."""
    made = [
        make_customer(name=name, email=f"{name.split()[0].lower()}@example.com", country=country)
        for name, country in (
            ("Anna Berg", "DE"),
            ("Bruno Kurz", "DE"),
            ("Clara Lang", "DE"),
            ("Denis Roux", "FR"),
        )
    ]
    return made


def bulk_url(action: str, ids=(), **view) -> str:
    pairs = [("action", action), *(("ids", i) for i in ids), *view.items()]
    return "/customers/bulk?" + urlencode(pairs)


def post_bulk(client, action: str, ids=(), csrf=True, **fields):
    """POST the confirmation (the test client's data takes a list for a repeated name)."""
    data = {"action": action, **fields}
    if ids:
        data["ids"] = [str(i) for i in ids]
    return client.post("/customers/bulk", data, csrf=csrf)


def tag_names(db, customer_id: int) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Tag.name)
            .join(customer_tags, customer_tags.c.tag_id == Tag.id)
            .where(customer_tags.c.customer_id == customer_id)
            .order_by(Tag.key)
        )
    )


def history(db, customer_id: int, kind: str) -> list[tuple]:
    db.session.expire_all()
    return [
        (e.summary, e.old_value, e.new_value)
        for e in db.session.scalars(
            select(CustomerEvent)
            .where(CustomerEvent.customer_id == customer_id, CustomerEvent.kind == kind)
            .order_by(CustomerEvent.id)
        )
    ]


def statuses(db) -> dict[str, str]:
    db.session.expire_all()
    return {c.name: str(c.status) for c in db.session.scalars(select(Customer))}


# -- the list ----------------------------------------------------------------------------


def test_the_list_has_a_checkbox_per_row_and_the_action_picker(staff_client, three):
    html = staff_client.get("/customers").get_data(as_text=True)
    assert '<form method="get" action="/customers/bulk" id="bulk"' in html
    for customer in three:
        assert f'name="ids" value="{customer.id}" form="bulk"' in html
    assert '<option value="tag_add">Add tag</option>' in html
    assert '<option value="status">Change status</option>' in html
    # An agent is not offered Delete.
    assert 'value="delete"' not in html
    assert 'name="all" value="1"' in html


def test_an_admin_is_offered_delete(admin_client, three):
    html = admin_client.get("/customers").get_data(as_text=True)
    assert '<option value="delete">Delete customers</option>' in html


def test_the_view_travels_with_the_bulk_form(staff_client, three):
    html = staff_client.get("/customers?country=DE&q=a").get_data(as_text=True)
    assert '<input type="hidden" form="bulk" name="country" value="DE">' in html
    assert '<input type="hidden" form="bulk" name="q" value="a">' in html


# -- add and remove a tag ----------------------------------------------------------------


def test_the_confirmation_names_the_customers_and_asks_for_the_tag(staff_client, three):
    anna, bruno = three[0], three[1]
    page = staff_client.get(bulk_url("tag_add", [anna.id, bruno.id], country="DE"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Add tag: 2 customers" in html
    assert f"{anna.customer_id} · Anna Berg" in html and "Clara Lang" not in html
    assert 'name="tag_name"' in html
    # Dismiss goes back to the same view of the list.
    assert 'href="/customers?country=DE" role="button"' in html


def test_add_tag_to_the_ticked_customers_with_a_history_line_each(staff_client, db, three):
    anna, bruno, clara, denis = three
    tags.add_tag(db.session, bruno, "vip")  # already has it (any case): skipped
    response = post_bulk(staff_client, "tag_add", [anna.id, bruno.id, clara.id], tag_name="VIP")
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers"
    html = staff_client.get("/customers").get_data(as_text=True)
    assert "Tag vip added to 2 customers." in html
    assert f"Skipped 1: {bruno.customer_id}: Already has the tag vip." in html
    assert [tag_names(db, c.id) for c in three] == [["vip"], ["vip"], ["vip"], []]
    assert history(db, anna.id, "record.tag.added") == [("Tag added", None, "vip")]
    assert history(db, bruno.id, "record.tag.added") == [("Tag added", None, "vip")]
    assert history(db, denis.id, "record.tag.added") == []
    # The History tab shows the line, as for a tag added on the customer page.
    tab = staff_client.get(f"/customers/{anna.id}/history").get_data(as_text=True)
    assert "Tag added" in tab and "vip" in tab


def test_remove_tag_from_the_ticked_customers(staff_client, db, three):
    anna, bruno, clara, _denis = three
    for customer in (anna, bruno):
        tags.add_tag(db.session, customer, "Late payer")
    response = post_bulk(
        staff_client, "tag_remove", [anna.id, bruno.id, clara.id], tag_name="late payer"
    )
    assert response.status_code == 303
    html = staff_client.get("/customers").get_data(as_text=True)
    assert "Tag Late payer removed from 2 customers." in html
    assert f"{clara.customer_id}: Does not have the tag Late payer." in html
    assert [tag_names(db, c.id) for c in (anna, bruno, clara)] == [[], [], []]
    assert history(db, anna.id, "record.tag.removed") == [("Tag removed", "Late payer", None)]
    # The tag stays, ready for other customers.
    assert db.session.scalar(select(Tag.name)) == "Late payer"


@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [
        ("tag_add", {"tag_name": ""}, "Enter a tag."),
        ("tag_add", {"tag_name": "no; way"}, "A tag may contain only letters"),
        ("tag_remove", {"tag_name": "nobody has this"}, "There is no tag nobody has this."),
        ("status", {"new_status": "gone"}, "Choose active, suspended or archived."),
        ("status", {"new_status": ""}, "Choose active, suspended or archived."),
    ],
)
def test_bad_input_is_422_beside_the_field_and_nothing_changes(
    staff_client, db, three, action, fields, message
):
    response = post_bulk(staff_client, action, [three[0].id], **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'class="field-error"' in html
    assert tag_names(db, three[0].id) == []
    assert statuses(db)["Anna Berg"] == "active"


def test_without_a_csrf_token_it_is_400_and_nothing_changes(staff_client, db, three):
    response = post_bulk(staff_client, "tag_add", [three[0].id], csrf=False, tag_name="VIP")
    assert response.status_code == 400
    assert tag_names(db, three[0].id) == []


def test_sign_in_is_needed(client, three):
    response = client.get(bulk_url("tag_add", [three[0].id]))
    assert response.status_code in (302, 303)
    assert "/sign-in" in response.headers["Location"]


def test_nothing_ticked_goes_back_to_the_list_with_a_message(staff_client, three):
    response = staff_client.get(bulk_url("tag_add", country="DE"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers?country=DE"
    html = staff_client.get("/customers?country=DE").get_data(as_text=True)
    assert "Tick the customers first, or choose all matching." in html


def test_an_unknown_action_goes_back_to_the_list_saying_so(staff_client, three):
    response = staff_client.get(bulk_url("melt", [three[0].id]))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/customers")
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose what to do with the customers." in page


# -- change status -----------------------------------------------------------------------


def test_change_status_of_every_customer_matching_a_filter(staff_client, db, three):
    """Select all matching: the server resolves the selection from the view's filters."""
    page = staff_client.get(bulk_url("status", all="1", country="DE"))
    html = page.get_data(as_text=True)
    assert "Change status: 3 customers" in html
    assert '<input type="hidden" name="all" value="1">' in html
    response = staff_client.post(
        "/customers/bulk",
        {"action": "status", "all": "1", "country": "DE", "new_status": "suspended"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers?country=DE"
    assert statuses(db) == {
        "Anna Berg": "suspended",
        "Bruno Kurz": "suspended",
        "Clara Lang": "suspended",
        "Denis Roux": "active",
    }
    for customer in three[:3]:
        assert history(db, customer.id, "status") == [("Status changed", "Active", "Suspended")]
    assert history(db, three[3].id, "status") == []
    html = staff_client.get("/customers?country=DE").get_data(as_text=True)
    assert "3 customers are now suspended." in html


def test_a_customer_already_in_the_status_is_skipped(staff_client, db, three):
    anna, bruno = three[0], three[1]
    post_bulk(staff_client, "status", [anna.id], new_status="archived")
    response = post_bulk(staff_client, "status", [anna.id, bruno.id], new_status="archived")
    assert response.status_code == 303
    html = staff_client.get("/customers").get_data(as_text=True)
    assert "1 customer is now archived." in html
    assert f"{anna.customer_id}: Already archived." in html
    assert len(history(db, anna.id, "status")) == 1


def test_the_htmx_answer_closes_the_modal_and_refreshes_the_list(staff_client, db, three):
    response = staff_client.post(
        "/customers/bulk",
        {"action": "status", "ids": str(three[0].id), "new_status": "suspended"},
        htmx_target="form",
    )
    assert response.status_code == 204
    assert '"customersChanged": true' in response.headers["HX-Trigger"]
    assert "1 customer is now suspended." in response.headers["HX-Trigger"]


# -- delete ------------------------------------------------------------------------------


def subscribe(db, customer):
    return subscriptions.add(
        db.session,
        customer,
        None,
        {
            "plan_name": "Pro",
            "amount_minor": 4900,
            "currency": "GBP",
            "interval": "monthly",
            "starts_on": date(2026, 1, 1),
        },
    )


def remaining(db) -> list[str]:
    db.session.expire_all()
    return sorted(db.session.scalars(select(Customer.name)))


def audit_lines(db) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent.summary)
            .where(AuditEvent.kind == "customer.deleted")
            .order_by(AuditEvent.id)
        )
    )


def test_an_agent_gets_403_and_nothing_is_deleted(staff_client, db, three):
    assert staff_client.get(bulk_url("delete", [three[0].id])).status_code == 403
    response = post_bulk(staff_client, "delete", [three[0].id], remove="all")
    assert response.status_code == 403
    assert len(remaining(db)) == 4


def test_the_delete_confirmation_lists_what_goes_and_who_is_refused(admin_client, db, three):
    anna, bruno, clara, _denis = three
    subscribe(db, bruno)
    tags.add_tag(db.session, anna, "VIP")
    html = admin_client.get(bulk_url("delete", [anna.id, bruno.id, clara.id])).get_data(
        as_text=True
    )
    assert "Delete customers: 3 customers" in html
    assert "1 of them cannot be deleted" in html
    assert f'name="ticked" value="{anna.id}" checked' in html
    assert f'name="ticked" value="{bruno.id}" disabled' in html
    assert "Has an active subscription" in html
    # What goes counts the two deletable customers only (Bruno's subscription stays).
    assert "What will be removed in total (2 customers)" in html
    assert "<li>1 tag</li>" in html and "subscription" not in html.split("What will be")[1]
    for label in ("Remove all that can be removed", "Remove customers", "Dismiss"):
        assert label in html


def test_remove_all_that_can_be_removed_skips_the_refused(admin_client, db, three):
    anna, bruno, clara, denis = three
    subscribe(db, bruno)
    response = post_bulk(admin_client, "delete", [anna.id, bruno.id, clara.id], remove="all")
    assert response.status_code == 303
    assert remaining(db) == ["Bruno Kurz", "Denis Roux"]
    assert audit_lines(db) == [
        f"Deleted {anna.customer_id}: 1 history line.",
        f"Deleted {clara.customer_id}: 1 history line.",
    ]
    html = admin_client.get("/customers").get_data(as_text=True)
    assert "2 customers deleted." in html
    assert f"Refused 1: {bruno.customer_id}: {bruno.customer_id} has an active subscription" in html


def test_remove_customers_deletes_only_those_left_ticked(admin_client, db, three):
    anna, bruno, clara, _denis = three
    subscribe(db, bruno)
    response = admin_client.post(
        "/customers/bulk",
        {
            "action": "delete",
            "ids": [str(anna.id), str(bruno.id), str(clara.id)],
            "ticked": [str(clara.id), str(bruno.id)],  # Bruno cannot be ticked; sent anyway
            "remove": "ticked",
        },
    )
    assert response.status_code == 303
    assert remaining(db) == ["Anna Berg", "Bruno Kurz", "Denis Roux"]
    html = admin_client.get("/customers").get_data(as_text=True)
    assert "1 customer deleted." in html and "Refused 1" in html


def test_remove_customers_with_none_ticked_deletes_nothing(admin_client, db, three):
    response = post_bulk(admin_client, "delete", [three[0].id], remove="ticked")
    assert response.status_code == 422
    assert "Tick the customers to remove, or Dismiss." in response.get_data(as_text=True)
    assert len(remaining(db)) == 4


def test_dismiss_goes_back_to_the_same_view_and_deletes_nothing(admin_client, db, three):
    html = admin_client.get(bulk_url("delete", all="1", country="FR")).get_data(as_text=True)
    assert "Delete customers: 1 customer" in html
    assert 'href="/customers?country=FR" role="button"' in html
    # Nothing refused: the plain action only.
    assert "Remove all that can be removed" not in html and "Remove customer<" in html
    assert len(remaining(db)) == 4


def test_delete_every_customer_matching_a_search(admin_client, db, three):
    response = admin_client.post(
        "/customers/bulk", {"action": "delete", "all": "1", "q": "berg", "remove": "all"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers?q=berg"
    assert remaining(db) == ["Bruno Kurz", "Clara Lang", "Denis Roux"]


# -- over the threshold: one background job ----------------------------------------------


def test_over_the_threshold_the_action_runs_as_a_job_with_progress(app, staff_client, db, three):
    """JOBS_INLINE is "sync" in tests: the job runs right after the commit."""
    app.config["BULK_JOB_THRESHOLD"] = 2
    tags.add_tag(db.session, three[3], "VIP")
    response = staff_client.post(
        "/customers/bulk", {"action": "tag_add", "all": "1", "status": "all", "tag_name": "vip"}
    )
    assert response.status_code == 303
    job = db.session.scalars(select(BulkAction)).one()
    assert response.headers["Location"] == f"/customers/bulk/{job.id}"
    db.session.refresh(job)
    assert (job.status, job.total, job.processed, job.done_count) == ("done", 4, 4, 3)
    assert job.staff_id == staff_client.staff.id and job.view == "status=all"
    html = staff_client.get(f"/customers/bulk/{job.id}").get_data(as_text=True)
    assert "Add tag (4 customers) runs in the background." in html  # the flash
    assert "Tag VIP added to 3 customers." in html
    assert f"{three[3].customer_id}: Already has the tag VIP." in html
    assert 'href="/customers?status=all">Back to the customer list' in html
    assert "every 1s" not in html  # done: no more polling
    assert [tag_names(db, c.id) for c in three] == [["VIP"]] * 4
    for customer in three[:3]:
        lines = db.session.scalars(
            select(CustomerEvent).where(
                CustomerEvent.customer_id == customer.id,
                CustomerEvent.kind == "record.tag.added",
            )
        ).all()
        # Each line names the member who started the action.
        assert [(e.new_value, e.staff_id) for e in lines] == [("VIP", staff_client.staff.id)]


def test_a_delete_job_skips_the_refused_and_writes_the_audit_lines(app, admin_client, db, three):
    app.config["BULK_JOB_THRESHOLD"] = 2
    subscribe(db, three[1])
    response = post_bulk(admin_client, "delete", [c.id for c in three], remove="all")
    assert response.status_code == 303
    job = db.session.scalars(select(BulkAction)).one()
    assert (job.status, job.done_count) == ("done", 3)
    assert remaining(db) == ["Bruno Kurz"]
    assert len(audit_lines(db)) == 3
    html = admin_client.get(f"/customers/bulk/{job.id}").get_data(as_text=True)
    assert "3 customers deleted." in html and f"Refused 1: {three[1].customer_id}" in html


def test_a_running_job_shows_its_progress_and_polls(app, staff_client, db, three):
    job = BulkAction(
        staff_id=staff_client.staff.id,
        action="status",
        value="archived",
        customer_ids="[1, 2, 3]",
        status="running",
        total=3,
        processed=1,
        done_count=1,
    )
    db.session.add(job)
    db.session.commit()
    page = staff_client.get(f"/customers/bulk/{job.id}")
    html = page.get_data(as_text=True)
    assert "1 of 3 customers looked at; 1 changed." in html
    assert 'hx-trigger="every 1s"' in html and ">Refresh</a>" in html
    fragment = staff_client.get(f"/customers/bulk/{job.id}", htmx_target="progress")
    assert "<html" not in fragment.get_data(as_text=True)
    assert 'id="progress"' in fragment.get_data(as_text=True)


def test_the_sweeper_queues_a_lost_job_again(app, staff_client, db, three):
    from datetime import timedelta

    from webapp.models.base import utcnow
    from webapp.services import bulk

    job = BulkAction(
        staff_id=staff_client.staff.id,
        action="status",
        value="archived",
        customer_ids=f"[{three[0].id}]",
        status="running",
        total=1,
        attempts=1,
        heartbeat_at=utcnow() - timedelta(minutes=10),
    )
    db.session.add(job)
    db.session.commit()
    assert bulk.due_to_run(db.session) == [job.id]
    db.session.refresh(job)
    assert job.status == "queued"
    assert bulk.run_job(db.session, job.id) == "done"
    assert statuses(db)["Anna Berg"] == "archived"


# -- export selected ---------------------------------------------------------------------


def test_export_selected_writes_only_the_ticked_customers(staff_client, db, three):
    from tests.test_exports import read_csv
    from webapp.models.export import Export
    from webapp.services.exports import export_path

    anna, _bruno, clara, _denis = three
    response = post_bulk(staff_client, "export", [anna.id, clara.id])
    assert response.status_code == 303
    export = db.session.scalars(select(Export)).one()
    assert response.headers["Location"] == f"/exports/{export.id}"
    db.session.refresh(export)
    assert (export.status, export.rows_total, export.rows_done) == ("done", 2, 2)
    _header, rows = read_csv(export_path(export))
    assert [row["Name"] for row in rows] == ["Anna Berg", "Clara Lang"]
    page = staff_client.get("/exports/").get_data(as_text=True)
    assert "2 customers ticked on the list" in page
    show = staff_client.get(f"/exports/{export.id}").get_data(as_text=True)
    assert "Export of 2 customers ticked on the list" in show


def test_export_selected_of_every_customer_matching_a_filter(staff_client, db, three):
    from tests.test_exports import read_csv
    from webapp.models.export import Export
    from webapp.services.exports import export_path

    response = staff_client.post(
        "/customers/bulk", {"action": "export", "all": "1", "country": "FR"}
    )
    assert response.status_code == 303
    export = db.session.scalars(select(Export)).one()
    db.session.refresh(export)
    _header, rows = read_csv(export_path(export))
    assert [row["Name"] for row in rows] == ["Denis Roux"]
    assert export.selection_label == "1 customer matching country FR"
