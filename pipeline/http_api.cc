#include "pipeline/http_api.h"

#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "engine/json_writer.h"
#include "engine/unicode.h"
#include "engine/yaml_reader.h"

namespace brandpulse {
namespace {

constexpr int64_t kDefaultLastMs = 3600 * 1000;  // "the last hour" unless told otherwise
// Times a request may name: 1970-01-01 to 9999-12-31 (farther ones overflow the arithmetic).
constexpr int64_t kEarliestMs = 0;
constexpr int64_t kLatestMs = 253402300799999;
// Longest part of a request's own text an error message repeats.
constexpr size_t kEchoBytes = 200;

// A parameter's value as an error message quotes it: valid UTF-8, and a 1 MB parameter is not
// echoed whole.
std::string Echo(std::string_view text) { return EchoableText(text, kEchoBytes); }

// A whole message made safe to put in a JSON error (it may already hold an Echo()).
std::string Sanitized(std::string_view text) { return EchoableText(text, kEchoBytes * 4); }

ApiResponse Error(int http_status, const Status& status) {
  // The same code, its message made safe.
  std::string message = Sanitized(status.message());
  Status safe;
  switch (status.code()) {
    case StatusCode::kNotFound: safe = Status::NotFound(message); break;
    case StatusCode::kInvalidArgument: safe = Status::InvalidArgument(message); break;
    case StatusCode::kIoError: safe = Status::IoError(message); break;
    case StatusCode::kCorruption: safe = Status::Corruption(message); break;
    case StatusCode::kUnavailable: safe = Status::Unavailable(message); break;
    default: safe = Status::Internal(message); break;
  }
  return ApiResponse{http_status, ErrorToJson(safe)};
}

ApiResponse FromStatus(const Status& status) {
  int http_status = status.code() == StatusCode::kInvalidArgument ? 400
                    : status.code() == StatusCode::kNotFound      ? 404
                                                                  : 500;
  return Error(http_status, status);
}

// The time range of a request: `from`/`to` (epoch ms, ISO-8601, or "-15m" relative to now), or
// `last` (a duration ending at `to`). "now" is the newest committed event time.
Result<std::pair<int64_t, int64_t>> RangeOf(const WindowQueries& queries, const ApiParams& params) {
  ASSIGN_OR_RETURN(std::optional<int64_t> newest, queries.Now());
  int64_t now_ms = newest ? *newest
                          : std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  auto time_param = [&](std::string_view name, int64_t fallback) -> Result<int64_t> {
    std::string text = params(name);
    if (text.empty()) return fallback;
    std::optional<int64_t> value = ParseQueryTime(text, now_ms);
    if (!value) {
      return Status::InvalidArgument(fmt::format(
          "'{}={}' is not a time (epoch ms, 2026-01-01T00:05:00Z, now, or -15m)", name, Echo(text)));
    }
    if (*value < kEarliestMs || *value > kLatestMs) {
      return Status::InvalidArgument(fmt::format(
          "'{}={}' is out of range: times run from 1970-01-01 to 9999-12-31", name, Echo(text)));
    }
    return *value;
  };
  ASSIGN_OR_RETURN(int64_t to_ms, time_param("to", now_ms + 1));
  int64_t last_ms = kDefaultLastMs;
  if (std::string last = params("last"); !last.empty()) {
    std::optional<int64_t> parsed = ParseDurationMs(last);
    if (!parsed || *parsed <= 0) {
      return Status::InvalidArgument(
          fmt::format("'last={}' is not a duration (e.g. 15m, 2h)", Echo(last)));
    }
    last_ms = *parsed;
  }
  // A `last` longer than all time starts at the earliest time (no overflow).
  const int64_t default_from = last_ms > to_ms - kEarliestMs ? kEarliestMs : to_ms - last_ms;
  ASSIGN_OR_RETURN(int64_t from_ms, time_param("from", default_from));
  if (from_ms >= to_ms) {
    return Status::InvalidArgument("'from' must be before 'to'");
  }
  return std::make_pair(from_ms, to_ms);
}

Result<QueryMetric> MetricOf(const ApiParams& params) {
  std::string name = params("metric");
  if (name.empty()) return DefaultQueryMetric();
  std::optional<QueryMetric> metric = ParseQueryMetric(name);
  if (!metric) {
    return Status::InvalidArgument(
        fmt::format("unknown metric '{}' ({})", Echo(name), fmt::join(WindowMetricNames(), ", ")));
  }
  return *metric;
}

Result<size_t> LimitOf(const ApiParams& params) {
  size_t limit = 10;
  if (std::string text = params("limit"); !text.empty()) {
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (error != std::errc() || end != text.data() + text.size() || limit == 0 || limit > 10000) {
      return Status::InvalidArgument(
          fmt::format("'limit={}' is not a number from 1 to 10000", Echo(text)));
    }
  }
  return limit;
}

Result<std::string> Required(const ApiParams& params, std::string_view name) {
  std::string value = params(name);
  if (value.empty()) return Status::InvalidArgument(fmt::format("parameter '{}' is required", name));
  return value;
}

// NotFound, with the closest id, for a brand the watchlist does not have.
Status CheckBrand(const WindowQueries& queries, const std::string& brand) {
  std::shared_ptr<const WatchlistSpec> watchlist = queries.watchlist();
  std::vector<std::string> ids;
  for (const BrandSpec& known : watchlist->brands) {
    if (known.id == brand) return Status::Ok();
    ids.push_back(known.id);
  }
  std::string closest = ClosestMatch(brand, ids);
  return Status::NotFound(fmt::format("no brand '{}' in the watchlist{}", Echo(brand),
                                      closest.empty() ? "" : fmt::format(" (did you mean '{}'?)", closest)));
}

Result<std::string> Brands(const WindowQueries& queries) {
  const PipelineSpec& spec = queries.spec();
  ASSIGN_OR_RETURN(std::optional<int64_t> now, queries.Now());
  std::string out = "{";
  AppendJsonKey(out, "pipeline", true);
  AppendJsonString(out, spec.name);
  if (now) {
    AppendJsonKey(out, "now");
    AppendJsonString(out, FormatIsoTime(*now));
    out += fmt::format(",\"now_ms\":{}", *now);
  }
  out += ",\"windows\":[";
  for (size_t i = 0; i < spec.windows.size(); ++i) {
    if (i > 0) out.push_back(',');
    const WindowSpec& window = spec.windows[i];
    out += "{\"name\":";
    AppendJsonString(out, window.name);
    AppendJsonKey(out, "type");
    AppendJsonString(out, WindowTypeName(window.type));
    out += fmt::format(",\"size_ms\":{}", window.size_ms);
    if (window.type == WindowType::kHopping) out += fmt::format(",\"slide_ms\":{}", window.slide_ms);
    if (window.type == WindowType::kSliding) out += fmt::format(",\"every_ms\":{}", window.slide_ms);
    out += ",\"dimensions\":[";
    for (size_t d = 0; d < window.dimensions.size(); ++d) {
      if (d > 0) out.push_back(',');
      AppendJsonString(out, DimensionName(window.dimensions[d]));
    }
    out += "]}";
  }
  out += "],\"brands\":[";
  std::shared_ptr<const WatchlistSpec> watchlist = queries.watchlist();
  for (size_t i = 0; i < watchlist->brands.size(); ++i) {
    const BrandSpec& brand = watchlist->brands[i];
    if (i > 0) out.push_back(',');
    out += "{\"brand\":";
    AppendJsonString(out, brand.id);
    AppendJsonKey(out, "name");
    AppendJsonString(out, brand.name);
    AppendJsonKey(out, "group");
    AppendJsonString(out, brand.group);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

Result<std::string> Answer(const WindowQueries& queries, std::string_view endpoint,
                           const ApiParams& params) {
  if (endpoint == "brands") return Brands(queries);
  if (endpoint == "series") {
    ASSIGN_OR_RETURN(std::string brand, Required(params, "brand"));
    RETURN_IF_ERROR(CheckBrand(queries, brand));
    ASSIGN_OR_RETURN(QueryMetric metric, MetricOf(params));
    ASSIGN_OR_RETURN(auto range, RangeOf(queries, params));
    ASSIGN_OR_RETURN(SeriesAnswer answer, queries.Series(brand, metric, params("window"),
                                                         params("dimension"), range.first,
                                                         range.second));
    return SeriesToJson(answer);
  }
  if (endpoint == "top") {
    ASSIGN_OR_RETURN(QueryMetric metric, MetricOf(params));
    ASSIGN_OR_RETURN(auto range, RangeOf(queries, params));
    ASSIGN_OR_RETURN(size_t limit, LimitOf(params));
    ASSIGN_OR_RETURN(RankingAnswer answer,
                     queries.TopBrands(metric, params("window"), params("dimension"), range.first,
                                       range.second, limit));
    return RankingToJson(answer);
  }
  if (endpoint == "share-of-voice") {
    ASSIGN_OR_RETURN(std::string group, Required(params, "group"));
    ASSIGN_OR_RETURN(QueryMetric metric, MetricOf(params));
    ASSIGN_OR_RETURN(auto range, RangeOf(queries, params));
    ASSIGN_OR_RETURN(RankingAnswer answer,
                     queries.ShareOfVoice(group, metric, params("window"), params("dimension"),
                                          range.first, range.second));
    return RankingToJson(answer);
  }
  if (endpoint == "top-terms") {
    ASSIGN_OR_RETURN(std::string brand, Required(params, "brand"));
    RETURN_IF_ERROR(CheckBrand(queries, brand));
    ASSIGN_OR_RETURN(auto range, RangeOf(queries, params));
    ASSIGN_OR_RETURN(size_t limit, LimitOf(params));
    ASSIGN_OR_RETURN(TermsAnswer answer,
                     queries.TopTerms(brand, params("window"), range.first, range.second, limit));
    return TermsToJson(answer);
  }
  return Status::NotFound(fmt::format(
      "no endpoint '{}' (brands, series, top, share-of-voice, top-terms)", Echo(endpoint)));
}

}  // namespace

ApiResponse AnswerApiRequest(const WindowQueries& queries, std::string_view endpoint,
                             const ApiParams& params) {
  Result<std::string> answer = Answer(queries, endpoint, params);
  if (!answer.ok()) return FromStatus(answer.status());
  return ApiResponse{200, std::move(*answer)};
}

Result<HttpApiOptions> ParseListenAddress(std::string_view text) {
  HttpApiOptions options;
  size_t colon = text.rfind(':');
  std::string_view port_text = text;
  if (colon != std::string_view::npos) {
    if (colon > 0) options.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  int port = -1;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a listen address (HOST:PORT, :PORT or PORT)", text));
  }
  options.port = port;
  return options;
}

Result<std::unique_ptr<HttpApi>> HttpApi::Start(const HttpApiOptions& options,
                                                WithQueries with_queries) {
  HttpRoutes routes;
  if (options.add_routes) options.add_routes(routes);

  routes.Get("/healthz", [](const HttpRequest&, HttpResponse& response) {
    response.SetContent("{\"status\":\"ok\"}", "application/json");
  });
  if (options.on_reload) {
    routes.Post("/api/v1/reload", [on_reload = options.on_reload](const HttpRequest&,
                                                                   HttpResponse& response) {
      on_reload();
      response.status = 202;  // compiled off the hot path, swapped at the next commit
      response.SetContent("{\"status\":\"reload requested\"}\n", "application/json");
    });
  }
  // GET on the reload path is a wrong method, not an unknown endpoint.
  routes.Get("/api/v1/reload", [](const HttpRequest& request, HttpResponse& response) {
    response.status = 405;
    response.SetHeader("Allow", "POST");
    response.SetContent(HttpErrorJson(405, fmt::format("{} is not allowed on {} (allowed: POST)",
                                                       Echo(request.method), Echo(request.path))),
                        "application/json");
  });
  routes.Get(R"(/api/v1/(.*))", [with_queries](const HttpRequest& request,
                                                HttpResponse& response) {
    ApiParams params = [&request](std::string_view name) { return request.Param(name); };
    ApiResponse answer;
    Status status = with_queries([&](const WindowQueries& queries) {
      answer = AnswerApiRequest(queries, request.matches[1], params);
    });
    if (!status.ok()) answer = FromStatus(status);
    response.status = answer.http_status;
    answer.json.push_back('\n');
    response.SetContent(std::move(answer.json), "application/json");
  });

  HttpServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.threads = options.threads;
  server_options.max_connections = options.max_connections;
  server_options.read_timeout_ms = options.read_timeout_ms;
  server_options.idle_timeout_ms = options.idle_timeout_ms;
  server_options.request_deadline_ms = options.request_deadline_ms;
  server_options.max_uri_bytes = options.max_uri_bytes;
  server_options.max_header_bytes = options.max_header_bytes;
  server_options.max_body_bytes = options.max_body_bytes;
  ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server,
                   HttpServer::Start(server_options, std::move(routes)));
  std::unique_ptr<HttpApi> api(new HttpApi());
  api->server_ = std::move(server);
  api->host_ = options.host;
  return api;
}

HttpApi::~HttpApi() = default;

std::string HttpApi::address() const { return fmt::format("http://{}:{}", host_, port()); }

}  // namespace brandpulse
