#include "pipeline/http_operations.h"

#include <charconv>
#include <string>

#include <httplib.h>

#include "pipeline/web_assets.h"

namespace brandpulse {

void AddOperationsRoutes(httplib::Server& server, MetricsRegistry& registry,
                         const PipelineMetrics* metrics) {
  // One request per connection: a browser opens several connections at once and keeps them
  // idle, and each idle keep-alive connection holds one of the server's few threads until its
  // timeout (seconds), so the dashboard's parallel requests would queue behind them. Closing
  // after each answer frees the thread at once; on a local or in-cluster network a new
  // connection costs far less than that wait.
  server.set_keep_alive_max_count(1);
  server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("{\"status\":\"ok\"}\n", "application/json");
  });
  server.Get("/readyz", [metrics](const httplib::Request&, httplib::Response& response) {
    if (metrics != nullptr && metrics->ready()) {
      response.set_content("{\"status\":\"ready\"}\n", "application/json");
    } else {
      response.status = 503;
      response.set_content(
          "{\"status\":\"starting\",\"why\":\"state not restored or watchlist not compiled "
          "yet\"}\n",
          "application/json");
    }
  });
  if (metrics != nullptr) {
    server.Get("/ops/status", [metrics](const httplib::Request&, httplib::Response& response) {
      response.set_header("Cache-Control", "no-store");
      response.set_content(metrics->StatusJson() + "\n", "application/json");
    });
    server.Get("/ops/alerts", [metrics](const httplib::Request& request,
                                        httplib::Response& response) {
      uint64_t after = 0;
      std::string text = request.get_param_value("after");
      if (!text.empty()) {
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), after);
        if (error != std::errc() || end != text.data() + text.size()) {
          response.status = 400;
          response.set_content(
              "{\"error\":\"'after' must be an alert sequence number\",\"code\":\"invalid_argument\"}\n",
              "application/json");
          return;
        }
      }
      response.set_header("Cache-Control", "no-store");
      response.set_content(metrics->AlertsJson(after) + "\n", "application/json");
    });
  }
  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_redirect("/dashboard/");
  });
  server.Get("/dashboard", [](const httplib::Request&, httplib::Response& response) {
    response.set_redirect("/dashboard/");
  });
  server.Get(R"(/dashboard/(.*))", [](const httplib::Request& request,
                                      httplib::Response& response) {
    std::string path = request.matches[1].str();
    if (path.empty()) path = "index.html";
    for (const WebAsset& asset : WebAssets()) {
      if (asset.path != path) continue;
      response.set_header("Cache-Control", "no-cache");
      response.set_content(std::string(asset.body), std::string(asset.content_type));
      return;
    }
    response.status = 404;
    response.set_content("{\"error\":\"no such dashboard file\",\"code\":\"not_found\"}\n",
                         "application/json");
  });
}

}  // namespace brandpulse
