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

  function closeModal() {
    var dialog = modalDialog();
    if (dialog && dialog.open) dialog.close();
    clearModal();
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
    var toast = document.createElement("p");
    toast.className = "toast";
    toast.setAttribute("role", "status");
    toast.textContent = event.detail.value;
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
