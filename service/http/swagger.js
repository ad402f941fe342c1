// Starts Swagger UI on the docs page (service/http/swagger.py). A file of the service's own rather
// than an inline script, so the page works under a Content-Security-Policy that allows only 'self'.
"use strict";

const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  displayRequestDuration: true,
  // The default sends the document's address to validator.swagger.io, which the page must never reach.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
