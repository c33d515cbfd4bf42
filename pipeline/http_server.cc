#include "pipeline/http_server.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <microhttpd.h>

#include "engine/unicode.h"
#include "pipeline/window_queries.h"

namespace brandpulse {
namespace {

// Longest part of a request's own text (a path, a method) an error message repeats.
constexpr size_t kEchoBytes = 200;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// libmicrohttpd's timeouts are whole seconds; never 0 (which would mean "none").
unsigned int TimeoutSeconds(int64_t ms) { return static_cast<unsigned int>(std::max<int64_t>(1, (ms + 999) / 1000)); }

// Text made valid UTF-8 (invalid bytes become U+FFFD) and cut to kEchoBytes.
std::string Printable(std::string_view text) { return EchoableText(text, kEchoBytes); }

}  // namespace

std::string HttpRequest::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

std::string HttpErrorJson(int http_status, std::string_view message) {
  std::string text = Printable(message);
  Status status = http_status == 404   ? Status::NotFound(std::move(text))
                  : http_status == 503 ? Status::Unavailable(std::move(text))
                  : http_status >= 500 ? Status::Internal(std::move(text))
                                       : Status::InvalidArgument(std::move(text));
  return ErrorToJson(status) + "\n";
}

void HttpRoutes::Add(std::string method, std::string pattern, HttpHandler handler) {
  routes_.push_back(Route{std::move(method), std::regex(pattern), std::move(handler)});
}

void HttpRoutes::Dispatch(HttpRequest& request, HttpResponse& response) const {
  const std::string& method = request.method == "HEAD" ? std::string("GET") : request.method;
  std::string allowed;
  std::smatch match;
  for (const Route& route : routes_) {
    if (!std::regex_match(request.path, match, route.pattern)) continue;
    if (route.method != method) {
      if (allowed.find(route.method) == std::string::npos) {
        if (!allowed.empty()) allowed += ", ";
        allowed += route.method;
      }
      continue;
    }
    request.matches.clear();
    for (const auto& group : match) request.matches.push_back(group.str());
    route.handler(request, response);
    return;
  }
  if (!allowed.empty()) {
    response.status = 405;
    response.SetHeader("Allow", allowed);
    response.SetContent(HttpErrorJson(405, fmt::format("{} is not allowed on {} (allowed: {})",
                                                       Printable(request.method),
                                                       Printable(request.path), allowed)),
                        "application/json");
    return;
  }
  response.status = 404;
  response.SetContent(HttpErrorJson(404, fmt::format("no such path: {}", Printable(request.path))),
                      "application/json");
}

// One TCP connection, for the deadline watchdog. Created when libmicrohttpd accepts the
// connection, freed when it has closed it; the watchdog touches it only under Impl::mutex.
struct ConnectionEntry {
  int fd = -1;
  std::atomic<int64_t> deadline_ms{0};
  bool cut = false;  // the watchdog shut it down already
};

// One HTTP request while libmicrohttpd reads it.
struct RequestState {
  bool answered = false;  // a refusal (413, 503) was queued before the body was read
  std::string body;
};

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpRoutes routes;
  MHD_Daemon* daemon = nullptr;
  int port = 0;
  std::atomic<int> open{0};

  std::mutex mutex;  // guards `connections` and each entry's fd/cut
  std::set<ConnectionEntry*> connections;
  std::condition_variable wake;
  bool stopping = false;
  std::thread watchdog;

  // Shuts down (never closes: libmicrohttpd owns the descriptor) every connection whose request
  // has run past its deadline; libmicrohttpd then sees the end of the stream and closes it.
  void WatchDeadlines() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::milliseconds(100));
      const int64_t now = NowMs();
      for (ConnectionEntry* entry : connections) {
        if (entry->cut || entry->deadline_ms.load() > now) continue;
        ::shutdown(entry->fd, SHUT_RDWR);
        entry->cut = true;
      }
    }
  }

  static void OnConnection(void* self, MHD_Connection* connection, void** socket_context,
                           MHD_ConnectionNotificationCode code) {
    auto* impl = static_cast<Impl*>(self);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* entry = new ConnectionEntry;
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      entry->fd = info != nullptr ? info->connect_fd : -1;
      entry->deadline_ms = NowMs() + impl->options.request_deadline_ms;
      *socket_context = entry;
      impl->open.fetch_add(1);
      std::lock_guard lock(impl->mutex);
      if (entry->fd >= 0) impl->connections.insert(entry);
      return;
    }
    // Closed: called before libmicrohttpd closes the descriptor, so under the mutex the
    // watchdog never shuts down a descriptor already reused by another connection.
    auto* entry = static_cast<ConnectionEntry*>(*socket_context);
    if (entry == nullptr) return;
    {
      std::lock_guard lock(impl->mutex);
      impl->connections.erase(entry);
    }
    delete entry;
    *socket_context = nullptr;
    impl->open.fetch_sub(1);
  }

  static void OnCompleted(void* self, MHD_Connection* connection, void** request_context,
                          MHD_RequestTerminationCode code) {
    auto* impl = static_cast<Impl*>(self);
    delete static_cast<RequestState*>(*request_context);
    *request_context = nullptr;
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK) return;
    // Kept alive: the next request has its own deadline, and until its first byte the idle
    // timeout applies.
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info != nullptr && info->socket_context != nullptr) {
      static_cast<ConnectionEntry*>(info->socket_context)->deadline_ms =
          NowMs() + impl->options.request_deadline_ms;
    }
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                              TimeoutSeconds(impl->options.idle_timeout_ms));
  }

  static MHD_Result Queue(MHD_Connection* connection, const HttpResponse& answer, bool close) {
    MHD_Response* response = MHD_create_response_from_buffer(
        answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    if (!answer.content_type.empty()) {
      MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, answer.content_type.c_str());
    }
    for (const auto& [name, value] : answer.headers) {
      MHD_add_response_header(response, name.c_str(), value.c_str());
    }
    if (close) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_Result queued =
        MHD_queue_response(connection, static_cast<unsigned int>(answer.status), response);
    MHD_destroy_response(response);
    return queued;
  }

  static MHD_Result Refuse(MHD_Connection* connection, RequestState* state, int status,
                           std::string_view message) {
    HttpResponse answer;
    answer.status = status;
    answer.SetContent(HttpErrorJson(status, message), "application/json");
    if (status == 503) answer.SetHeader("Retry-After", "1");
    state->answered = true;
    state->body.clear();
    return Queue(connection, answer, /*close=*/true);
  }

  // A chunked body past max_body_bytes: libmicrohttpd 0.9.75 queues an answer only before the
  // body or after all of it, so our JSON 413 (with Connection: close) is written on the socket
  // here and our sending side shut; the caller then has libmicrohttpd close the connection. The
  // answer is small and the connection has sent nothing else in the meantime, so it fits the
  // socket's send buffer; if it does not, the connection is just closed.
  void AnswerTooLargeOnSocket(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == nullptr || info->connect_fd < 0) return;
    const std::string body = HttpErrorJson(
        413, fmt::format("the request body is too large: more than {} bytes (chunked)",
                         options.max_body_bytes));
    const std::string answer = fmt::format(
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.size(), body);
    if (::send(info->connect_fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
        static_cast<ssize_t>(answer.size())) {
      ::shutdown(info->connect_fd, SHUT_WR);
    }
  }

  static MHD_Result OnRequest(void* self, MHD_Connection* connection, const char* url,
                              const char* method, const char* /*version*/, const char* upload_data,
                              size_t* upload_data_size, void** request_context) {
    auto* impl = static_cast<Impl*>(self);
    const HttpServerOptions& options = impl->options;
    auto* state = static_cast<RequestState*>(*request_context);
    if (state == nullptr) {
      // The request line and headers are in; no body byte has been handed over yet.
      state = new RequestState;
      *request_context = state;
      MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                                TimeoutSeconds(options.read_timeout_ms));
      // Heads past our limits but inside libmicrohttpd's pool (twice max_header_bytes) get a
      // JSON answer; only larger ones get libmicrohttpd's own.
      size_t uri_bytes = std::strlen(url);
      MHD_get_connection_values_n(
          connection, MHD_GET_ARGUMENT_KIND,
          [](void* cls, MHD_ValueKind, const char*, size_t key_size, const char*,
             size_t value_size) -> MHD_Result {
            *static_cast<size_t*>(cls) += key_size + value_size + 2;
            return MHD_YES;
          },
          &uri_bytes);
      if (uri_bytes > options.max_uri_bytes) {
        return Refuse(connection, state, 414,
                      fmt::format("the request URI is too long: {} bytes, at most {}", uri_bytes,
                                  options.max_uri_bytes));
      }
      const MHD_ConnectionInfo* head =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
      if (head != nullptr && head->header_size > options.max_header_bytes) {
        return Refuse(connection, state, 431,
                      fmt::format("the request line and headers are too large: {} bytes, at most {}",
                                  head->header_size, options.max_header_bytes));
      }
      const int open = impl->open.load();
      if (open > options.max_connections) {
        return Refuse(connection, state, 503,
                      fmt::format("the server is busy: {} connections are open (the limit is {}); "
                                  "try again shortly",
                                  open, options.max_connections));
      }
      if (const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        uint64_t bytes = 0;
        std::string_view text(length);
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bytes);
        if (error != std::errc() || bytes > options.max_body_bytes) {
          return Refuse(connection, state, 413,
                        fmt::format("the request body is too large: {} bytes, at most {}",
                                    Printable(text), options.max_body_bytes));
        }
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      const size_t size = *upload_data_size;
      *upload_data_size = 0;  // consumed (or dropped after a refusal)
      if (state->answered) return MHD_YES;
      if (state->body.size() + size > options.max_body_bytes) {
        // A chunked body (no Content-Length to refuse up front) past the limit.
        state->answered = true;
        state->body.clear();
        state->body.shrink_to_fit();
        impl->AnswerTooLargeOnSocket(connection);
        return MHD_NO;
      }
      state->body.append(upload_data, size);
      return MHD_YES;
    }
    if (state->answered) return MHD_YES;

    HttpRequest request;
    request.method = method;
    request.path = url;
    request.body = std::move(state->body);
    MHD_get_connection_values_n(
        connection, MHD_GET_ARGUMENT_KIND,
        [](void* cls, MHD_ValueKind, const char* key, size_t key_size, const char* value,
           size_t value_size) -> MHD_Result {
          static_cast<HttpRequest*>(cls)->params.emplace_back(
              std::string(key, key_size),
              value != nullptr ? std::string(value, value_size) : std::string());
          return MHD_YES;
        },
        &request);
    HttpResponse answer;
    impl->routes.Dispatch(request, answer);
    return Queue(connection, answer, /*close=*/false);
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpRoutes routes) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.options = options;
  impl.routes = std::move(routes);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(options.port);
  if (::getaddrinfo(options.host.c_str(), port_text.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return Status::IoError(fmt::format("cannot listen on {}:{} (not an address here)",
                                       options.host, options.port));
  }
  // poll(), not epoll: epoll is edge-triggered in libmicrohttpd 0.9.75, and a client that
  // half-closes right after its request was only noticed at the idle timeout.
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (found->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  const int threads = std::max(1, options.threads);
  const int max_connections = std::max(1, options.max_connections);
  impl.options.max_connections = max_connections;
  impl.daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Impl::OnRequest, &impl,
      MHD_OPTION_SOCK_ADDR, found->ai_addr,
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned int>(threads),
      MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned int>(max_connections + kBusyAnswerReserve),
      MHD_OPTION_LISTEN_BACKLOG_SIZE, static_cast<unsigned int>(128),
      MHD_OPTION_CONNECTION_TIMEOUT, TimeoutSeconds(options.read_timeout_ms),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(std::max<size_t>(8192, 2 * options.max_header_bytes)),
      MHD_OPTION_NOTIFY_CONNECTION, &Impl::OnConnection, &impl,
      MHD_OPTION_NOTIFY_COMPLETED, &Impl::OnCompleted, &impl,
      MHD_OPTION_END);
  ::freeaddrinfo(found);
  if (impl.daemon == nullptr) {
    return Status::IoError(fmt::format("cannot listen on {}:{} (in use, or not an address here)",
                                       options.host, options.port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(impl.daemon, MHD_DAEMON_INFO_BIND_PORT);
  impl.port = info != nullptr ? info->port : options.port;
  impl.watchdog = std::thread([&impl] { impl.WatchDeadlines(); });
  return server;
}

HttpServer::~HttpServer() {
  if (!impl_) return;
  if (impl_->daemon != nullptr) MHD_stop_daemon(impl_->daemon);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->watchdog.joinable()) impl_->watchdog.join();
}

int HttpServer::port() const { return impl_->port; }

int HttpServer::open_connections() const { return impl_->open.load(); }

}  // namespace brandpulse
