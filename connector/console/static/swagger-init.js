// Starts Swagger UI on the connector's own OpenAPI document. A file, not an inline script,
// so that the page's Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The default validator badge would call a public service: nothing leaves this page.
    validatorUrl: null,
    tryItOutEnabled: false
  });
});
