// Tally's only script besides htmx: open and close the <dialog> modal, show toasts,
// and remember when the user picked a currency so it stops following the country.
// Everything here is an enhancement; each action also works as a plain link or form.
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

  document.addEventListener("htmx:afterSettle", function () {
    var dialog = modalDialog();
    if (dialog && !dialog.open) {
      dialog.addEventListener("close", clearModal, { once: true });
      dialog.showModal();
    }
  });

  document.addEventListener("closeModal", closeModal);

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

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "currency" && target.form && target.form.currency_chosen) {
      target.form.currency_chosen.value = target.value ? "1" : "";
    }
  });
})();
