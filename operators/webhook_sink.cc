#include "operators/webhook_sink.h"

#include <cstdlib>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include "engine/json_writer.h"

namespace brandpulse {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// nullopt when `url` is a valid http(s) URL with a host; else what is wrong.
std::optional<std::string> UrlProblem(const std::string& url) {
  GlobalInit();
  CURLU* parsed = curl_url();
  std::optional<std::string> problem;
  CURLUcode code = curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0);
  if (code != CURLUE_OK) {
    problem = fmt::format("'{}' is not a URL ({})", url, curl_url_strerror(code));
  } else {
    char* scheme = nullptr;
    char* host = nullptr;
    curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0);
    if (curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr ||
        *host == 0) {
      problem = fmt::format("'{}' has no host", url);
    } else if (scheme == nullptr ||
               (std::string_view(scheme) != "http" && std::string_view(scheme) != "https")) {
      problem = fmt::format("'{}' is not http or https", url);
    }
    curl_free(scheme);
    curl_free(host);
  }
  curl_url_cleanup(parsed);
  return problem;
}

size_t Collect(char* data, size_t size, size_t count, void* user) {
  std::string* body = static_cast<std::string*>(user);
  if (body->size() < 512) body->append(data, std::min<size_t>(size * count, 512 - body->size()));
  return size * count;
}

class WebhookSink final : public Sink {
 public:
  WebhookSink(WebhookSinkOptions options, std::string name, std::string secret, CURL* curl)
      : options_(std::move(options)), name_(std::move(name)), secret_(std::move(secret)),
        curl_(curl) {}
  ~WebhookSink() override { curl_easy_cleanup(curl_); }

  const std::string& name() const override { return name_; }
  std::string description() const override {
    return fmt::format("webhook {}{}", options_.url, options_.slack ? " (slack)" : "");
  }

  Status Append(const SideRecord&) override {
    return Status::InvalidArgument(
        fmt::format("sink '{}': a webhook delivers alerts and mentions, not side records", name_));
  }
  Status Flush() override { return Status::Ok(); }

  DeliveryOutcome Deliver(std::span<const OutboxEntry> entries) override {
    DeliveryOutcome outcome;
    for (const OutboxEntry& entry : entries) {
      const std::string body = options_.slack ? SlackMessage(entry.payload) : entry.payload;
      struct curl_slist* headers = nullptr;
      headers = curl_slist_append(headers, "Content-Type: application/json");
      // No "Expect: 100-continue" round trip (libcurl adds it to bodies over 1 KiB): one alert
      // is one request and one answer.
      headers = curl_slist_append(headers, "Expect:");
      const std::string key = "Idempotency-Key: " + entry.id;
      headers = curl_slist_append(headers, key.c_str());
      std::string signature;
      if (!secret_.empty()) {
        signature = fmt::format("{}: {}", options_.signature_header, WebhookSignature(secret_, body));
        headers = curl_slist_append(headers, signature.c_str());
      }
      std::string answer;
      curl_easy_reset(curl_);
      curl_easy_setopt(curl_, CURLOPT_URL, options_.url.c_str());
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
      curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(std::min<int64_t>(options_.timeout_ms, 5000)));
      curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Collect);
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer);
      const CURLcode code = curl_easy_perform(curl_);
      long status = 0;
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
      curl_slist_free_all(headers);
      if (code != CURLE_OK) {
        outcome.error = Status::Unavailable(
            fmt::format("webhook {}: {}", options_.url, curl_easy_strerror(code)));
        return outcome;  // timeouts and connection failures: retried
      }
      if (status >= 200 && status < 300) {
        ++outcome.delivered;
        continue;
      }
      outcome.error = Status::Unavailable(
          fmt::format("webhook {} answered HTTP {}: {}", options_.url, status, answer));
      outcome.permanent = !(status >= 500 || status == 408 || status == 429);
      return outcome;
    }
    return outcome;
  }

 private:
  WebhookSinkOptions options_;
  std::string name_;
  std::string secret_;
  CURL* curl_;
};

// The string at `key`, or "" when absent or not a string.
std::string_view StringAt(simdjson::dom::element object, std::string_view key) {
  std::string_view value;
  if (object[key].get_string().get(value) != simdjson::SUCCESS) return {};
  return value;
}

void AppendSlackAlert(simdjson::dom::element alert, std::string& text) {
  text += fmt::format("*[{}] {}* — {} (`{}`)\n{}\n", StringAt(alert, "severity"),
                      StringAt(alert, "brand_name"), StringAt(alert, "type"),
                      StringAt(alert, "rule"), StringAt(alert, "summary"));
  simdjson::dom::array evidence;
  if (alert["evidence"].get_array().get(evidence) != simdjson::SUCCESS) return;
  for (simdjson::dom::element post : evidence) {
    if (!post.is_object()) continue;
    std::string post_text(StringAt(post, "text"));
    if (post_text.size() > 280) {  // cut on a character boundary: the message stays UTF-8
      size_t cut = 280;
      while (cut > 0 && (static_cast<uint8_t>(post_text[cut]) & 0xC0) == 0x80) --cut;
      post_text.resize(cut);
      post_text += "…";
    }
    std::string_view link;
    const bool has_link = post["link"].get_string().get(link) == simdjson::SUCCESS;
    text += fmt::format("> {} — @{}{}\n", post_text, StringAt(post, "author_handle"),
                        has_link ? fmt::format(" <{}|open>", link) : "");
  }
}

}  // namespace

std::string WebhookSignature(std::string_view secret, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string out = "sha256=";
  for (unsigned int i = 0; i < length; ++i) fmt::format_to(std::back_inserter(out), "{:02x}", digest[i]);
  return out;
}

std::string SlackMessage(std::string_view payload) {
  // The DOM API, not On-Demand: a message is read by key in any order and the document is
  // looked at twice (its schema, then its body); On-Demand allows neither (its debug checks
  // abort on the second look). One alert per call, off the ingestion path.
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(payload).get(document) != simdjson::SUCCESS || !document.is_object()) {
    return std::string(payload);
  }
  const std::string_view schema = StringAt(document, "schema");
  std::string text;
  if (schema.starts_with("brandpulse.alert_group/")) {
    uint64_t count = 0;
    if (document["count"].get_uint64().get(count) != simdjson::SUCCESS) count = 0;
    text += fmt::format("*{} alerts for {}*\n", count, StringAt(document, "brand_name"));
    simdjson::dom::array alerts;
    if (document["alerts"].get_array().get(alerts) == simdjson::SUCCESS) {
      for (simdjson::dom::element alert : alerts) {
        if (alert.is_object()) AppendSlackAlert(alert, text);
      }
    }
  } else if (schema.starts_with("brandpulse.alert/")) {
    AppendSlackAlert(document, text);
  } else {
    return std::string(payload);
  }
  std::string message = "{\"text\":";
  AppendJsonString(message, text);
  message += "}";
  return message;
}

Result<std::unique_ptr<SinkSpec>> ReadWebhookSink(YamlMap& section, const ConfigContext&) {
  WebhookSinkOptions options;
  Diagnostics& diagnostics = section.diagnostics();
  if (auto url = section.String("url", true)) {
    options.url = *url;
    if (auto problem = UrlProblem(*url)) {
      diagnostics.Add(section.LocationOf("url"), *problem,
                      "e.g. url: https://hooks.example.com/brandpulse");
    }
  }
  if (auto timeout = section.DurationMs("timeout")) {
    options.timeout_ms = *timeout;
    if (*timeout <= 0) diagnostics.Add(section.LocationOf("timeout"), "timeout must be positive");
  }
  if (auto format = section.Choice("format", {"json", "slack"})) options.slack = *format == "slack";
  if (auto secret = section.String("secret_env")) {
    options.secret_env = *secret;
    const char* value = std::getenv(secret->c_str());
    if (value == nullptr || *value == 0) {
      diagnostics.Add(section.LocationOf("secret_env"),
                      fmt::format("environment variable {} (the webhook's signing secret) is not set",
                                  *secret),
                      fmt::format("export {}=<secret shared with the receiver>, or remove "
                                  "secret_env to send unsigned requests", *secret));
    }
  }
  if (auto header = section.String("signature_header")) options.signature_header = *header;
  RETURN_IF_ERROR(section.Finish());
  return SinkSpecOf("webhook", [options](const SinkBuildContext& build) {
    return MakeWebhookSink(options, build.name);
  });
}

Result<std::unique_ptr<Sink>> MakeWebhookSink(const WebhookSinkOptions& options, std::string name) {
  if (auto problem = UrlProblem(options.url)) {
    return Status::InvalidArgument(fmt::format("sink '{}': {}", name, *problem));
  }
  std::string secret;
  if (!options.secret_env.empty()) {
    const char* value = std::getenv(options.secret_env.c_str());
    if (value == nullptr || *value == 0) {
      return Status::InvalidArgument(fmt::format(
          "sink '{}': environment variable {} (the signing secret) is not set", name,
          options.secret_env));
    }
    secret = value;
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  return std::unique_ptr<Sink>(
      std::make_unique<WebhookSink>(options, std::move(name), std::move(secret), curl));
}

}  // namespace brandpulse
