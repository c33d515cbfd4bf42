#include "pipeline/http_operations.h"

#include <charconv>
#include <string>

#include "pipeline/web_assets.h"

namespace brandpulse {

void AddOperationsRoutes(HttpRoutes& routes, MetricsRegistry& registry,
                         const PipelineMetrics* metrics) {
  // Keep-alive is fine here: the server is event-driven, so the idle connections a browser
  // keeps open hold no worker (pipeline/http_server.h).
  routes.Get("/metrics", [&registry](const HttpRequest&, HttpResponse& response) {
    response.SetContent(registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  routes.Get("/healthz", [](const HttpRequest&, HttpResponse& response) {
    response.SetContent("{\"status\":\"ok\"}\n", "application/json");
  });
  routes.Get("/readyz", [metrics](const HttpRequest&, HttpResponse& response) {
    if (metrics != nullptr && metrics->ready()) {
      response.SetContent("{\"status\":\"ready\"}\n", "application/json");
    } else {
      response.status = 503;
      response.SetContent(
          "{\"status\":\"starting\",\"why\":\"state not restored or watchlist not compiled "
          "yet\"}\n",
          "application/json");
    }
  });
  if (metrics != nullptr) {
    routes.Get("/ops/status", [metrics](const HttpRequest&, HttpResponse& response) {
      response.SetHeader("Cache-Control", "no-store");
      response.SetContent(metrics->StatusJson() + "\n", "application/json");
    });
    routes.Get("/ops/alerts", [metrics](const HttpRequest& request,
                                        HttpResponse& response) {
      uint64_t after = 0;
      std::string text = request.Param("after");
      if (!text.empty()) {
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), after);
        if (error != std::errc() || end != text.data() + text.size()) {
          response.status = 400;
          response.SetContent(
              "{\"error\":\"'after' must be an alert sequence number\",\"code\":\"invalid_argument\"}\n",
              "application/json");
          return;
        }
      }
      response.SetHeader("Cache-Control", "no-store");
      response.SetContent(metrics->AlertsJson(after) + "\n", "application/json");
    });
  }
  routes.Get("/", [](const HttpRequest&, HttpResponse& response) {
    response.SetRedirect("/dashboard/");
  });
  routes.Get("/dashboard", [](const HttpRequest&, HttpResponse& response) {
    response.SetRedirect("/dashboard/");
  });
  routes.Get(R"(/dashboard/(.*))", [](const HttpRequest& request,
                                      HttpResponse& response) {
    std::string path = request.matches[1];
    if (path.empty()) path = "index.html";
    for (const WebAsset& asset : WebAssets()) {
      if (asset.path != path) continue;
      response.SetHeader("Cache-Control", "no-cache");
      response.SetContent(std::string(asset.body), std::string(asset.content_type));
      return;
    }
    response.status = 404;
    response.SetContent("{\"error\":\"no such dashboard file\",\"code\":\"not_found\"}\n",
                         "application/json");
  });
}

}  // namespace brandpulse
