// The HTTP JSON API over committed windows (docs/api.md): GET /api/v1/{brands,series,top,
// share-of-voice}, GET /healthz. `brandpulse run --api HOST:PORT` serves it from inside the
// running pipeline (live: each answer reads the latest commit); `brandpulse serve` serves a
// state directory from another process (read-only).
//
// The same request handling backs `brandpulse query`, so the CLI prints exactly what the HTTP
// API returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "pipeline/http_server.h"
#include "pipeline/window_queries.h"

namespace brandpulse {

// Query parameters of one request: the value of `name`, or empty when absent.
using ApiParams = std::function<std::string(std::string_view name)>;

struct ApiResponse {
  int http_status = 200;
  std::string json;  // the body: an answer, or {"error": ..., "code": ...}
};

// Answers one API call. `endpoint` is the path after /api/v1/ ("series", "top", ...). Bad
// parameters give 400 with the parameter named; unknown brands, groups or windows 404.
ApiResponse AnswerApiRequest(const WindowQueries& queries, std::string_view endpoint,
                             const ApiParams& params);

// Runs `use` with a WindowQueries valid for the duration of the call. In-process serving passes
// the pipeline's own; `brandpulse serve` opens the state read-only per request.
using WithQueries = std::function<Status(const std::function<void(const WindowQueries&)>& use)>;

struct HttpApiOptions {
  std::string host = "127.0.0.1";  // localhost by default: exposing it is a deliberate choice
  int port = 8642;                 // 0 = any free port (see HttpApi::port())
  // Hostile and slow clients (docs/limits.md, pipeline/http_server.h): the server is
  // event-driven, so a waiting connection holds no worker; these bound what one can take.
  int threads = 4;                      // workers that run handlers
  int max_connections = 256;            // open connections; past it 503
  int64_t read_timeout_ms = 5000;       // a connection silent this long is closed
  int64_t idle_timeout_ms = 2000;       // an idle keep-alive connection is closed after this
  int64_t request_deadline_ms = 10000;  // a whole request, however steadily it trickles
  size_t max_header_bytes = 32 << 10;   // request line + headers: 414/431 past it
  size_t max_body_bytes = 64 << 10;     // larger request bodies: 413, not read
  // When set, POST /api/v1/reload calls it (a running pipeline reloads its watchlist).
  std::function<void()> on_reload;
  // When set, called once before the API's own routes are added, to add more (operations:
  // /metrics, /healthz, /readyz, the dashboard; pipeline/http_operations.h). Routes added here
  // win over the API's own for the same path.
  std::function<void(HttpRoutes& routes)> add_routes;
};

// Parses "HOST:PORT", ":PORT" or "PORT" (host stays 127.0.0.1).
Result<HttpApiOptions> ParseListenAddress(std::string_view text);

class HttpApi {
 public:
  // Binds and starts serving on a background thread. IoError when the address cannot be bound.
  static Result<std::unique_ptr<HttpApi>> Start(const HttpApiOptions& options, WithQueries with_queries);
  ~HttpApi();  // stops accepting, closes every connection, joins
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  int port() const { return server_->port(); }
  std::string address() const;

 private:
  HttpApi() = default;
  std::unique_ptr<HttpServer> server_;
  std::string host_;
};

}  // namespace brandpulse
