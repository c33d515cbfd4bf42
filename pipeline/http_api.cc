#include "pipeline/http_api.h"

#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "engine/json_writer.h"
#include "engine/yaml_reader.h"

namespace brandpulse {
namespace {

constexpr int64_t kDefaultLastMs = 3600 * 1000;  // "the last hour" unless told otherwise

ApiResponse Error(int http_status, const Status& status) {
  return ApiResponse{http_status, ErrorToJson(status)};
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
          "'{}={}' is not a time (epoch ms, 2026-01-01T00:05:00Z, now, or -15m)", name, text));
    }
    return *value;
  };
  ASSIGN_OR_RETURN(int64_t to_ms, time_param("to", now_ms + 1));
  int64_t last_ms = kDefaultLastMs;
  if (std::string last = params("last"); !last.empty()) {
    std::optional<int64_t> parsed = ParseDurationMs(last);
    if (!parsed || *parsed <= 0) {
      return Status::InvalidArgument(fmt::format("'last={}' is not a duration (e.g. 15m, 2h)", last));
    }
    last_ms = *parsed;
  }
  ASSIGN_OR_RETURN(int64_t from_ms, time_param("from", to_ms - last_ms));
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
        fmt::format("unknown metric '{}' ({})", name, fmt::join(WindowMetricNames(), ", ")));
  }
  return *metric;
}

Result<size_t> LimitOf(const ApiParams& params) {
  size_t limit = 10;
  if (std::string text = params("limit"); !text.empty()) {
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (error != std::errc() || end != text.data() + text.size() || limit == 0 || limit > 10000) {
      return Status::InvalidArgument(fmt::format("'limit={}' is not a number from 1 to 10000", text));
    }
  }
  return limit;
}

Result<std::string> Required(const ApiParams& params, std::string_view name) {
  std::string value = params(name);
  if (value.empty()) return Status::InvalidArgument(fmt::format("parameter '{}' is required", name));
  return value;
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
    ASSIGN_OR_RETURN(auto range, RangeOf(queries, params));
    ASSIGN_OR_RETURN(size_t limit, LimitOf(params));
    ASSIGN_OR_RETURN(TermsAnswer answer,
                     queries.TopTerms(brand, params("window"), range.first, range.second, limit));
    return TermsToJson(answer);
  }
  return Status::NotFound(fmt::format(
      "no endpoint '{}' (brands, series, top, share-of-voice, top-terms)", endpoint));
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

struct HttpApi::Impl {
  httplib::Server server;
  std::thread thread;
};

Result<std::unique_ptr<HttpApi>> HttpApi::Start(const HttpApiOptions& options,
                                                WithQueries with_queries) {
  std::unique_ptr<HttpApi> api(new HttpApi());
  api->impl_ = std::make_unique<Impl>();
  httplib::Server& server = api->impl_->server;
  int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  if (options.add_routes) options.add_routes(server);

  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("{\"status\":\"ok\"}", "application/json");
  });
  if (options.on_reload) {
    server.Post("/api/v1/reload", [on_reload = options.on_reload](const httplib::Request&,
                                                                   httplib::Response& response) {
      on_reload();
      response.status = 202;  // compiled off the hot path, swapped at the next commit
      response.set_content("{\"status\":\"reload requested\"}\n", "application/json");
    });
  }
  server.Get(R"(/api/v1/([a-z-]+))", [with_queries](const httplib::Request& request,
                                                     httplib::Response& response) {
    ApiParams params = [&request](std::string_view name) {
      return request.get_param_value(std::string(name).c_str());
    };
    ApiResponse answer;
    Status status = with_queries([&](const WindowQueries& queries) {
      answer = AnswerApiRequest(queries, request.matches[1].str(), params);
    });
    if (!status.ok()) answer = FromStatus(status);
    response.status = answer.http_status;
    answer.json.push_back('\n');
    response.set_content(answer.json, "application/json");
  });

  int port = options.port;
  bool bound = false;
  if (port == 0) {
    port = server.bind_to_any_port(options.host.c_str());
    bound = port > 0;
  } else {
    bound = server.bind_to_port(options.host.c_str(), port);
  }
  if (!bound) {
    return Status::IoError(fmt::format("cannot listen on {}:{} (in use, or not an address here)",
                                       options.host, options.port));
  }
  api->host_ = options.host;
  api->port_ = port;
  api->impl_->thread = std::thread([&server] { server.listen_after_bind(); });
  return api;
}

HttpApi::~HttpApi() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string HttpApi::address() const { return fmt::format("http://{}:{}", host_, port_); }

}  // namespace brandpulse
