"""Compression and static files over HTTP: pages and fragments (forms sent back with a
422 and the 404 page too) go out as brotli or gzip when the client accepts it (never
otherwise, always with ``Vary: Accept-Encoding``);
tiny answers, the htmx 204s and file downloads go as they are; static files are linked
under fingerprinted names that a browser may keep for a year, and a changed file gets a
new name."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import brotli
import pytest
from sqlalchemy import select

from webapp.models.export import Export
from webapp.static_files import (
    IMMUTABLE,
    StaticFiles,
    fingerprint,
    fingerprinted_name,
    split_fingerprint,
)

STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"
BOTH = {"Accept-Encoding": "gzip, deflate, br"}  # what Chromium sends
GZIP = {"Accept-Encoding": "gzip"}
STATIC_URL = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def decoded(response) -> bytes:
    """The body as the browser reads it, after its Content-Encoding."""
    encoding = response.headers.get("Content-Encoding")
    data = response.get_data()
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "gzip":
        return gzip.decompress(data)
    assert encoding is None, encoding
    return data


def varies_on(response, header: str) -> bool:
    named = {
        part.strip().lower()
        for line in response.headers.get_all("Vary")
        for part in line.split(",")
    }
    return header.lower() in named


def static_urls(html: str) -> list[str]:
    urls = STATIC_URL.findall(html)
    assert urls, "the page links no static file"
    return urls


# -- pages and fragments ------------------------------------------------------------------


def test_the_list_page_is_compressed_for_a_browser_that_accepts_it(staff_client, make_customer):
    make_customer(name="Ada Lovelace")
    plain = staff_client.get("/customers")
    brotli_page = staff_client.get("/customers", headers=BOTH)
    gzip_page = staff_client.get("/customers", headers=GZIP)

    assert plain.headers.get("Content-Encoding") is None
    assert brotli_page.headers["Content-Encoding"] == "br"
    assert gzip_page.headers["Content-Encoding"] == "gzip"
    for response in (plain, brotli_page, gzip_page):
        assert response.status_code == 200
        assert varies_on(response, "Accept-Encoding") and varies_on(response, "HX-Request")
        assert "Ada Lovelace" in decoded(response).decode()
    # The page itself is well over a few KB; compressed it is a fraction of that.
    assert len(brotli_page.get_data()) * 4 < len(plain.get_data())
    assert int(brotli_page.headers["Content-Length"]) == len(brotli_page.get_data())


def test_an_htmx_fragment_is_compressed_too(staff_client, make_customer):
    for number in range(30):
        make_customer(name=f"Customer {number:02}", email=f"c{number}@example.com")
    fragment = staff_client.get("/customers?q=Customer", htmx_target="results", headers=BOTH)
    assert fragment.status_code == 200
    assert fragment.headers["Content-Encoding"] == "br"
    assert varies_on(fragment, "Accept-Encoding") and varies_on(fragment, "HX-Request")
    html = decoded(fragment).decode()
    assert "Customer 29" in html and "<html" not in html


def test_a_form_sent_back_with_its_messages_is_compressed_and_keeps_its_422(
    staff_client, customer_data
):
    response = staff_client.post(
        "/customers/new", {**customer_data, "name": ""}, htmx_target="form", headers=BOTH
    )
    assert response.status_code == 422
    assert response.headers["Content-Encoding"] == "br"
    assert varies_on(response, "Accept-Encoding")
    assert "Enter the customer&#39;s name." in decoded(response).decode()


def test_the_not_found_page_is_compressed_and_keeps_its_404(staff_client):
    response = staff_client.get("/customers/999999", headers=GZIP)
    assert response.status_code == 404
    assert response.headers["Content-Encoding"] == "gzip"
    assert "There is nothing at this address." in decoded(response).decode()


def test_a_tiny_answer_goes_as_it_is(client):
    response = client.get("/health", headers=BOTH)
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") is None
    assert response.get_json() == {"status": "ok"}


def test_an_htmx_204_with_its_events_is_unchanged(staff_client, make_customer):
    customer = make_customer()
    response = staff_client.post(
        f"/customers/{customer.id}/payment-link/",
        {"expiry": "30"},
        htmx_target="payment_link",
        headers=BOTH,
    )
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers.get("Content-Encoding") is None
    assert json.loads(response.headers["HX-Trigger"])["customerUpdated"] == customer.id


def test_an_export_download_is_sent_as_the_file_with_its_length_and_ranges(
    app, staff_client, db, make_customer, tmp_path
):
    app.config["EXPORT_DIR"] = str(tmp_path / "exports")
    for number in range(20):
        make_customer(name=f"Customer {number:02}", email=f"c{number}@example.com")
    staff_client.post("/exports/")
    export = db.session.scalar(select(Export))
    content = (tmp_path / "exports" / export.file_name).read_bytes()
    assert len(content) > 1000  # worth compressing, were it compressed

    whole = staff_client.get(f"/exports/{export.id}/download", headers=BOTH)
    assert whole.status_code == 200 and whole.mimetype == "text/csv"
    assert whole.headers.get("Content-Encoding") is None
    assert int(whole.headers["Content-Length"]) == len(content)
    assert whole.get_data() == content

    part = staff_client.get(
        f"/exports/{export.id}/download", headers={**BOTH, "Range": "bytes=0-99"}
    )
    assert part.status_code == 206
    assert part.headers.get("Content-Encoding") is None
    assert part.get_data() == content[:100]


# -- static files ---------------------------------------------------------------------------


def test_pages_link_static_files_under_fingerprinted_names(app, staff_client):
    panel = staff_client.get("/customers").get_data(as_text=True)
    sign_in_page = app.test_client().get("/sign-in").get_data(as_text=True)
    for html in (panel, sign_in_page):
        urls = static_urls(html)
        assert len(urls) == 4  # Pico, app.css, htmx, app.js
        for url in urls:
            plain, print_ = split_fingerprint(url.removeprefix("/static/"))
            assert print_ == fingerprint((STATIC / plain).read_bytes()), url


def test_a_fingerprinted_static_file_is_kept_a_year_and_is_the_file(staff_client):
    for url in static_urls(staff_client.get("/customers").get_data(as_text=True)):
        plain, _ = split_fingerprint(url.removeprefix("/static/"))
        on_disk = (STATIC / plain).read_bytes()
        for headers, encoding in ((BOTH, "br"), (GZIP, "gzip"), ({}, None)):
            response = staff_client.get(url, headers=headers)
            assert response.status_code == 200, url
            assert response.headers["Cache-Control"] == IMMUTABLE, url
            assert "max-age=31536000" in response.headers["Cache-Control"]
            assert response.headers.get("Content-Encoding") == encoding, url
            assert varies_on(response, "Accept-Encoding")
            assert decoded(response) == on_disk, url
            # Asked again with its ETag: 304, nothing sent.
            again = staff_client.get(
                url, headers={**headers, "If-None-Match": response.headers["ETag"]}
            )
            assert again.status_code == 304 and again.get_data() == b"", url


def test_a_static_file_does_not_vary_on_the_cookie(staff_client):
    """A browser keeps one copy across sign-ins (a new cookie); pages still vary on it."""
    page = staff_client.get("/customers")
    assert varies_on(page, "Cookie")
    for url in static_urls(page.get_data(as_text=True)):
        response = staff_client.get(url, headers=BOTH)
        assert varies_on(response, "Accept-Encoding") and not varies_on(response, "Cookie")


def test_the_plain_name_still_answers_but_is_revalidated(client):
    response = client.get("/static/app.css", headers=BOTH)
    assert response.status_code == 200
    assert "immutable" not in response.headers["Cache-Control"]
    assert "no-cache" in response.headers["Cache-Control"]
    assert decoded(response) == (STATIC / "app.css").read_bytes()


def test_an_old_fingerprint_gets_the_current_file_but_is_not_kept(client):
    response = client.get("/static/app.000000000000.css", headers=BOTH)
    assert response.status_code == 200
    assert "immutable" not in response.headers["Cache-Control"]
    assert decoded(response) == (STATIC / "app.css").read_bytes()


@pytest.mark.parametrize(
    "url", ["/static/nothing.css", "/static/nothing.0123456789ab.css", "/static/../config.py"]
)
def test_a_missing_static_file_is_not_found(client, url):
    assert client.get(url).status_code == 404


def test_the_payment_page_links_its_stylesheet_fingerprinted(app, staff_client, make_customer):
    from tests.test_payment_links import generate, pay

    token = generate(staff_client, make_customer().id)
    client = app.test_client()
    html = pay(client, token).get_data(as_text=True)
    (url,) = static_urls(html)
    assert url == "/static/" + fingerprinted_name(
        "pay.css", fingerprint((STATIC / "pay.css").read_bytes())
    )
    assert client.get(url).headers["Cache-Control"] == IMMUTABLE


# -- the fingerprint ------------------------------------------------------------------------


def test_fingerprinted_names_read_back():
    assert fingerprinted_name("vendor/htmx-2.0.11.min.js", "0123456789ab") == (
        "vendor/htmx-2.0.11.min.0123456789ab.js"
    )
    assert fingerprinted_name("LICENSE", "0123456789ab") == "LICENSE.0123456789ab"
    for name in ("vendor/htmx-2.0.11.min.js", "app.css", "LICENSE", "vendor/htmx.LICENSE"):
        assert split_fingerprint(fingerprinted_name(name, "0123456789ab")) == (
            name,
            "0123456789ab",
        )
    assert split_fingerprint("app.css") is None
    assert split_fingerprint("vendor/htmx-2.0.11.min.js") is None


def test_a_changed_file_gets_a_new_name(tmp_path):
    (tmp_path / "app.css").write_text("body { color: black; }")
    before = StaticFiles(str(tmp_path)).url_name("app.css")
    assert before == fingerprinted_name("app.css", fingerprint(b"body { color: black; }"))

    (tmp_path / "app.css").write_text("body { color: navy; }")
    after = StaticFiles(str(tmp_path)).url_name("app.css")
    assert after != before and after.startswith("app.") and after.endswith(".css")
    # Unchanged content, same name: the name depends on the content alone.
    assert StaticFiles(str(tmp_path)).url_name("app.css") == after


def test_in_debug_mode_a_file_changed_while_running_gets_its_new_name(tmp_path):
    files = StaticFiles(str(tmp_path), reload=True)
    (tmp_path / "app.js").write_text("// one")
    first = files.url_name("app.js")
    (tmp_path / "app.js").write_text("// two, longer")
    assert files.url_name("app.js") != first
    # Outside debug mode the file is read once per process.
    steady = StaticFiles(str(tmp_path))
    name = steady.url_name("app.js")
    (tmp_path / "app.js").write_text("// three, longer still")
    assert steady.url_name("app.js") == name
