// The API docs page (/api/v1/docs): Swagger UI over the OpenAPI document, started from
// this file because the Content-Security-Policy allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    // No requests to a validator service elsewhere: everything stays on this site.
    validatorUrl: null,
    defaultModelsExpandDepth: 0,
  });
});
