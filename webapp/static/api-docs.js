// The API docs page (/api/v1/docs): Swagger UI over the OpenAPI document, started from
// this file because the Content-Security-Policy allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || !window.SwaggerUIBundle) return;
  var without = document.getElementById("api-docs-without-js");
  if (without) without.remove();
  var asked = window.location.hash;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    // No deep links: they put a link inside each operation's toggle button (nested
    // interactive controls, which screen readers cannot reach).
    deepLinking: false,
    tryItOutEnabled: false,
    persistAuthorization: false,
    // No requests to a validator service elsewhere: everything stays on this site.
    validatorUrl: null,
    defaultModelsExpandDepth: 0,
    // A problem's "type" links here (#problem-validation …): the Problems table is below
    // the reference, which has only now taken its height, so go there again.
    onComplete: function () {
      var target = asked.indexOf("#problem-") === 0 ? document.getElementById(asked.slice(1)) : null;
      if (!target) return;
      target.scrollIntoView();
    },
  });
});
