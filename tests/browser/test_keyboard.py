"""The panel from the keyboard: a skip link as the first Tab stop, a focus ring that
stands out (3:1 against what is behind it at least), and Escape closing the Actions menu
and the modal with the focus back on what opened them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import JS_ON_ONLY
from tests.browser.test_panel import customer_form

pytestmark = pytest.mark.browser


def focused(page: Page) -> dict:
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {tag: e.tagName.toLowerCase(), id: e.id, text: e.textContent.trim()}; }"""
    )


# -- skip link -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["list", "customer"])
def test_the_skip_link_is_the_first_tab_stop_and_moves_the_focus_to_the_content(
    signed_in_page, js_enabled, add_customer, where
):
    page = signed_in_page
    ada = add_customer()
    page.goto("/customers" if where == "list" else f"/customers/{ada.id}")
    skip = page.get_by_role("link", name="Skip to content")
    # Out of sight until it has the focus.
    assert skip.bounding_box()["width"] <= 1

    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert skip.bounding_box()["width"] > 20
    expect(skip).to_have_attribute("href", "#main")

    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The next Tab goes into the content, past the top bar's links.
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
    assert focused(page)["text"] not in ("Customers", "Exports", "Sign out", "Tally")


# -- focus ring ------------------------------------------------------------------------

RING_CONTRAST = """(element) => {
  const style = getComputedStyle(element);
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  // What the ring is drawn on: the first ancestor with a background of its own.
  let behind = element.parentElement, background = [255, 255, 255];
  while (behind) {
    const colour = rgb(getComputedStyle(behind).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) { background = colour; break; }
    behind = behind.parentElement;
  }
  const [a, b] = [luminance(rgb(style.outlineColor)), luminance(background)];
  return {
    style: style.outlineStyle, width: parseFloat(style.outlineWidth),
    offset: parseFloat(style.outlineOffset), colour: style.outlineColor,
    contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
  };
}"""


def ring_of(control: Locator) -> dict:
    control.focus()
    expect(control).to_be_focused()
    return control.evaluate(RING_CONTRAST)


def test_the_focus_ring_is_a_solid_outline_with_3_to_1_contrast(
    signed_in_page, js_enabled, add_customer
):
    page = signed_in_page
    ada = add_customer()
    page.goto(f"/customers/{ada.id}")
    page.keyboard.press("Tab")  # from the keyboard, as :focus-visible expects
    controls = {
        "link": page.get_by_role("link", name="← Customers"),
        "tab": page.get_by_role("link", name="Billing", exact=True),
        "button": page.get_by_role("button", name="Sign out"),
        "summary": page.get_by_role("button", name="Actions"),
    }
    for name, control in controls.items():
        ring = ring_of(control)
        assert ring["style"] == "solid" and ring["width"] >= 2, (name, ring)
        assert ring["contrast"] >= 3, (name, ring)

    page.goto(f"/customers/{ada.id}/entries/new")
    page.keyboard.press("Tab")
    for name, control in {
        "input": page.get_by_label("Amount"),
        "select": page.get_by_label("Currency"),
        "radio": page.get_by_label("Credit", exact=True),
        "submit": page.get_by_role("button", name="Add entry"),
    }.items():
        ring = ring_of(control)
        assert ring["style"] == "solid" and ring["width"] >= 2, (name, ring)
        assert ring["contrast"] >= 3, (name, ring)
    assert ring["colour"] == "rgb(11, 74, 139)"


# -- Escape ----------------------------------------------------------------------------


def actions_menu(page: Page) -> Locator:
    return page.locator("details.actions-menu")


@JS_ON_ONLY
def test_escape_closes_the_actions_menu_and_the_modal_and_gives_the_focus_back(
    signed_in_page, add_customer
):
    page = signed_in_page
    ada = add_customer()
    page.goto(f"/customers/{ada.id}")
    actions = page.get_by_role("button", name="Actions")
    edit = page.get_by_role("link", name="Edit customer")

    actions.focus()
    page.keyboard.press("Enter")
    expect(edit).to_be_visible()
    edit.focus()
    page.keyboard.press("Escape")
    expect(edit).to_be_hidden()
    expect(actions_menu(page)).not_to_have_attribute("open", re.compile(".*"))
    expect(actions).to_be_focused()

    # From the menu into a modal: Escape closes the modal, the focus is on the menu item
    # that opened it; Escape again closes the menu, the focus on Actions.
    page.keyboard.press("Enter")
    edit.focus()
    page.keyboard.press("Enter")
    customer_form(page, True, "Edit customer")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(edit).to_be_focused()
    page.keyboard.press("Escape")
    expect(edit).to_be_hidden()
    expect(actions).to_be_focused()


@JS_ON_ONLY
def test_escape_closes_add_customer_and_the_focus_is_back_on_its_button(signed_in_page):
    page = signed_in_page
    add = page.get_by_role("button", name="Add customer")
    add.focus()
    page.keyboard.press("Enter")
    form = customer_form(page, True, "Add customer")
    # Also after a refused submit (the form swapped inside the open dialog).
    form.get_by_role("button", name="Add customer").click()
    expect(form.locator(".error-summary")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(add).to_be_focused()


@JS_ON_ONLY
def test_after_a_save_in_the_modal_the_focus_is_back_on_the_menu_that_opened_it(
    signed_in_page, add_customer
):
    """Saving refreshes the customer header, menu and all: the focus goes to the new
    header's Actions (the menu item it came from is in the closed menu), not to the page."""
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace")
    page.goto(f"/customers/{ada.id}")
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name="Edit customer").click()
    form = customer_form(page, True, "Edit customer")
    form.get_by_role("textbox", name="Name", exact=True).fill("Ada King")
    form.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Ada King", level=1)).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="Actions")).to_be_focused()
