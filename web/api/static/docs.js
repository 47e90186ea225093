// Starts Swagger UI on the API's own document. A file, not an inline script, so the
// page's Content-Security-Policy can allow this origin's scripts and nothing else.
// validatorUrl: null keeps the UI from asking a third party to validate the document.
window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
});
