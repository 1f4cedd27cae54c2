// Starts Swagger UI for /docs. A file, not an inline script, so the page's
// Content-Security-Policy can keep script-src 'self' (api/security_headers.py).
(function () {
  var openapiUrl = document.currentScript.dataset.openapiUrl;
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: openapiUrl,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    });
  });
})();
