// The engine's HTTP listener: GNU libmicrohttpd underneath, our routes on top.
//
// Why libmicrohttpd (issue 16, item 5): it is event-driven, so a connection waiting for bytes
// holds no thread — a client that trickles one byte a second, or opens a connection and sends
// nothing, costs a socket and a small buffer, never a worker. On top of it this layer bounds
// everything a hostile client could grow (docs/limits.md, "HTTP API"):
//   - connections: at most `max_connections`; past it a request gets 503 with a JSON body and
//     `Connection: close`, and past `max_connections + kBusyAnswerReserve` the kernel's
//     connection is closed at once (the listen backlog is bounded too);
//   - time: `read_timeout_ms` without a byte closes the connection (`idle_timeout_ms` between
//     keep-alive requests), and `request_deadline_ms` bounds a whole request from its first
//     byte (or the end of the previous one) to the end of its answer, however steadily it
//     trickles;
//   - size: the request line and headers fit in `max_header_bytes` (libmicrohttpd answers 414 or
//     431 past it); a body longer than `max_body_bytes` is refused with 413 — from
//     Content-Length alone, before any of it is read, or as soon as a chunked body passes it.
// Handlers run on the server's `threads` workers and must answer quickly (every route here reads
// committed state or the metrics registry).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"

namespace brandpulse {

struct HttpRequest {
  std::string method;                // "GET", "POST", ... (HEAD is routed as GET)
  std::string path;                  // decoded, without the query string
  std::vector<std::string> matches;  // the route pattern's groups; [0] is the whole path
  std::vector<std::pair<std::string, std::string>> params;  // decoded query parameters
  std::string body;

  // The first value of query parameter `name`, or empty when absent.
  std::string Param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;

  void SetContent(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }
  void SetHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  void SetRedirect(std::string location) {  // 302 Found
    status = 302;
    SetHeader("Location", std::move(location));
  }
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// Routes by method and a pattern matched against the whole decoded path (std::regex; groups go
// to HttpRequest::matches). The first route added that matches wins. A path that some route
// matches under another method gets 405 with `Allow`; a path no route matches gets 404; both
// with a JSON error body.
class HttpRoutes {
 public:
  void Get(std::string pattern, HttpHandler handler) { Add("GET", std::move(pattern), std::move(handler)); }
  void Post(std::string pattern, HttpHandler handler) { Add("POST", std::move(pattern), std::move(handler)); }
  void Add(std::string method, std::string pattern, HttpHandler handler);

  // Fills `response` for `request` (its `matches` are set here).
  void Dispatch(HttpRequest& request, HttpResponse& response) const;

 private:
  struct Route {
    std::string method;
    std::regex pattern;
    HttpHandler handler;
  };
  std::vector<Route> routes_;
};

// Answers of the listener itself (404, 405, 413, 503) and of the API use this body:
// {"error": message, "code": ...} (engine/json_writer.h), message made valid UTF-8 and short.
std::string HttpErrorJson(int http_status, std::string_view message);

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = any free port (HttpServer::port())
  int threads = 4;                     // workers that run handlers (each its own event loop)
  int max_connections = 256;           // open connections; past it: 503, then closed at once
  int64_t read_timeout_ms = 5000;      // no byte for this long: the connection is closed
  int64_t idle_timeout_ms = 2000;      // an idle keep-alive connection is closed after this
  int64_t request_deadline_ms = 10000; // a whole request, first byte to last byte answered
  size_t max_header_bytes = 32 << 10;  // request line + headers (libmicrohttpd's memory pool)
  size_t max_body_bytes = 64 << 10;    // larger request bodies: 413, not read
};

// Connections answered 503 beyond max_connections before new ones are closed unanswered.
inline constexpr int kBusyAnswerReserve = 64;

class HttpServer {
 public:
  // Binds and starts serving. IoError when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpRoutes routes);
  ~HttpServer();  // stops accepting, closes every connection, joins the workers
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Connections open now (for tests and the busy check).
  int open_connections() const;

  struct Impl;

 private:
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brandpulse
