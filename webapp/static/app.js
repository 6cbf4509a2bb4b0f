// Tally's only script besides htmx: open and close the <dialog> modal (and give the
// focus back to what opened it), close the Actions menu on Escape, lead from a form's
// error summary to its fields, show toasts, and remember when the user picked a
// currency so it stops following the country. Everything here is an enhancement; each
// action also works as a plain link or form.
(function () {
  "use strict";

  function modalDialog() {
    return document.querySelector("#modal dialog");
  }

  function clearModal() {
    var region = document.getElementById("modal");
    if (region) region.innerHTML = "";
  }

  // Events in one HX-Trigger header (closeModal, customerCreated, showMessage) fire one
  // after another on the form that made the request. Emptying the modal at once would
  // detach that form, and the later events would never bubble up to <body>; so the
  // dialog is closed now and its content cleared by the (asynchronous) close event.
  function closeModal() {
    var dialog = modalDialog();
    if (dialog && dialog.open) {
      dialog.close();
    } else {
      setTimeout(clearModal, 0);
    }
  }

  // What opened the modal gets the focus back when it closes (Escape, Cancel, a save).
  // The element itself if it is still shown; the same control if a refresh replaced it
  // (found by its hx-get); the menu's summary if it sits in a closed menu. A refresh
  // that lands after the close (customerUpdated) can take the focus with the element it
  // replaces, so the next swap puts it back, until the user presses a key or clicks.
  var opener = null;

  function openerKey(element) {
    return element.getAttribute("hx-get") || element.getAttribute("hx-post");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    var source = event.detail.elt;
    if (target && target.id === "modal" && source && !source.closest("#modal")) {
      opener = { element: source, key: openerKey(source), pending: false };
    }
  });

  // A menu item inside a closed <details> still has boxes in Chromium, but cannot take
  // the focus: its menu's summary takes it instead.
  function closedMenuOf(element) {
    var menu = element.closest("details:not([open])");
    return menu && !menu.querySelector(":scope > summary").contains(element) ? menu : null;
  }

  function returnFocus() {
    if (!opener) return;
    var element = opener.element;
    if (!element.isConnected && opener.key) {
      element = Array.prototype.find.call(document.querySelectorAll("[hx-get], [hx-post]"), function (candidate) {
        return openerKey(candidate) === opener.key && !candidate.closest("#modal");
      }) || element;
    }
    if (!element.isConnected) return;
    var menu = closedMenuOf(element);
    (menu ? menu.querySelector(":scope > summary") : element).focus();
  }

  // A dialog is opened once: a swap that settles between its close() and the
  // (asynchronous) close event, such as the refresh a save triggers, must not open it
  // again.
  document.addEventListener("htmx:afterSettle", function () {
    var dialog = modalDialog();
    if (dialog && !dialog.open && !dialog.hasAttribute("data-opened")) {
      dialog.setAttribute("data-opened", "");
      dialog.addEventListener("close", function () {
        clearModal();
        if (opener) {
          opener.pending = true;
          returnFocus();
        }
      }, { once: true });
      dialog.showModal();
    } else if (opener && opener.pending && !(dialog && dialog.open) &&
               (!document.activeElement || document.activeElement === document.body)) {
      returnFocus();
    }
  });

  function userActed() {
    if (opener && opener.pending) opener = null;
  }
  document.addEventListener("keydown", userActed, true);
  document.addEventListener("pointerdown", userActed, true);

  document.addEventListener("closeModal", closeModal);

  // Escape closes an open Actions menu (a <details> dropdown) and puts the focus on its
  // summary. In an open modal Escape is the dialog's own: it closes the modal.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (modalDialog() && modalDialog().open) return;
    var menus = document.querySelectorAll("details.dropdown[open]");
    if (!menus.length) return;
    var focused = document.activeElement;
    menus.forEach(function (menu) {
      menu.open = false;
      if (focused && menu.contains(focused)) menu.querySelector("summary").focus();
    });
    event.preventDefault();
  });

  // A refused form (422) swapped in, on the page or in the modal: the focus goes to its
  // error summary, which says what to correct. (On a page load its autofocus does this.)
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.target;
    if (!swapped || !swapped.querySelector) return;
    var summary = swapped.matches(".error-summary") ? swapped : swapped.querySelector(".error-summary");
    if (summary) summary.focus();
  });

  // A link of the error summary puts the focus in its field, with the field's label
  // (a radio group's legend) scrolled into view above it; without JavaScript the plain
  // #id link scrolls to the field and focuses it too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) return;
    var field = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!field) return;
    event.preventDefault();
    var fieldset = field.type === "radio" && field.closest("fieldset");
    var caption = fieldset ? fieldset.querySelector("legend")
      : document.querySelector("label[for='" + CSS.escape(field.id) + "']");
    (caption || field).scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  });

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-modal]");
    if (closer && closer.closest("#modal dialog")) {
      event.preventDefault();
      closeModal();
    }
  });

  document.addEventListener("showMessage", function (event) {
    var region = document.getElementById("toasts");
    if (!region) return;
    // showMessage is a text, or {text, level} for a refusal ("error" toasts stand out).
    var detail = event.detail.value !== undefined ? event.detail.value : event.detail;
    var text = typeof detail === "string" ? detail : detail.text;
    var toast = document.createElement("p");
    toast.className = "toast" + (detail && detail.level === "error" ? " toast-error" : "");
    toast.setAttribute("role", detail && detail.level === "error" ? "alert" : "status");
    toast.textContent = text;
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 5000);
  });

  // Copy buttons are hidden without JS (the read-only field is selected by hand); with
  // JS they copy the field's text to the clipboard and say so.
  function showCopyButtons(root) {
    (root || document).querySelectorAll("[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { showCopyButtons(); });
  document.addEventListener("htmx:afterSettle", function (event) { showCopyButtons(event.target); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector(".copy-status");
    if (!field) return;
    function said(text) { if (status) status.textContent = text; }
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { said("Copied to the clipboard."); },
        function () { said("Could not copy: select the link and copy it."); }
      );
    } else {
      said(document.execCommand("copy") ? "Copied to the clipboard." : "Select the link and copy it.");
    }
  });

  // A confirmation that asks for something to be typed (Delete customer: the customer's
  // ID) keeps its submit button disabled until the field matches. Without JS the field's
  // pattern makes the browser refuse the form instead, and the server checks it anyway.
  function syncConfirmMatch(input) {
    if (!input.form) return;
    var matches = input.value === input.getAttribute("data-confirm-match");
    input.form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = !matches;
    });
  }
  function syncConfirmMatches(root) {
    (root || document).querySelectorAll("[data-confirm-match]").forEach(syncConfirmMatch);
  }
  document.addEventListener("DOMContentLoaded", function () { syncConfirmMatches(); });
  document.addEventListener("htmx:load", function (event) { syncConfirmMatches(event.target); });
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-confirm-match]")) {
      syncConfirmMatch(event.target);
    }
  });

  // On a phone the customer tabs scroll sideways in one row: the open tab is brought into
  // sight after a page load or a tab swap, in browsers without CSS scroll-initial-target.
  function showCurrentTab(root) {
    if (window.CSS && CSS.supports && CSS.supports("scroll-initial-target: nearest")) return;
    (root || document).querySelectorAll(".tabs ul").forEach(function (row) {
      var current = row.querySelector("[aria-current=page]");
      if (!current || row.scrollWidth <= row.clientWidth) return;
      row.scrollLeft = current.offsetLeft - (row.clientWidth - current.offsetWidth) / 2;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { showCurrentTab(); });
  document.addEventListener("htmx:afterSettle", function (event) { showCurrentTab(event.target); });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "currency" && target.form && target.form.currency_chosen) {
      target.form.currency_chosen.value = target.value ? "1" : "";
    }
  });

  // Bulk actions on the customer list: the row checkboxes and the action picker sit inside
  // the search form but belong to the bulk form (form="bulk"); their change must not send
  // a search (which would redraw the table and lose the ticks). The header checkbox (shown
  // only with JS) ticks every row of the page.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || target.getAttribute("form") !== "bulk") return;
    event.stopPropagation();
    if (target.hasAttribute("data-bulk-page")) {
      document.querySelectorAll('input[name="ids"][form="bulk"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
  }, true);
  function showBulkPage(root) {
    (root || document).querySelectorAll("[data-bulk-page][hidden]").forEach(function (box) {
      box.hidden = false;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { showBulkPage(); });
  document.addEventListener("htmx:afterSettle", function (event) { showBulkPage(event.target); });
})();
