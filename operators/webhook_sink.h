// The webhook sink (`type: webhook`): delivers outbox entries (alerts, alert groups) as HTTP
// POSTs of JSON with libcurl, one request per entry, in order:
//   Content-Type: application/json
//   Idempotency-Key: <alert id>             (the same after a restart: receivers de-duplicate)
//   X-Brandpulse-Signature: sha256=<hex>    (HMAC-SHA256 of the body with the secret, when set)
// Answers: 2xx delivered; 5xx, 408, 429, timeouts and connection failures are retried without
// limit by the sink's delivery thread (back-off with jitter; the bounded outbox carries the
// outage, pipeline/sink_delivery.h); any other answer is a refusal for good: after the runner's
// permanent attempts the entry goes to the dead letters with the answer. `format: slack` posts
// a readable message (summary, severity, evidence with links) for Slack-compatible incoming
// webhooks instead of the alert's JSON. docs/alerts.md.
//
// Thread safety: the Sink contract; Deliver() runs on the sink's delivery thread only.
#pragma once

#include <memory>
#include <string>

#include "operators/registry.h"

namespace brandpulse {

struct WebhookSinkOptions {
  std::string url;
  int64_t timeout_ms = 10000;
  bool slack = false;
  std::string secret_env;  // environment variable holding the HMAC secret; "" = unsigned
  std::string signature_header = "X-Brandpulse-Signature";
};

// Reads `url` (http or https, with a host), `timeout`, `format` (json | slack), `secret_env` and
// `signature_header`. A malformed URL, or a secret variable that is not set, is an error here,
// so `validate` reports it.
Result<std::unique_ptr<SinkSpec>> ReadWebhookSink(YamlMap& section, const ConfigContext& context);
Result<std::unique_ptr<Sink>> MakeWebhookSink(const WebhookSinkOptions& options, std::string name);

// "sha256=" + lower-case hex of HMAC-SHA256(secret, body): what a receiver recomputes.
std::string WebhookSignature(std::string_view secret, std::string_view body);
// The Slack message for an alert or alert-group payload ({"text": ...}); the payload itself
// when it is not one of brandpulse's alert schemas.
std::string SlackMessage(std::string_view payload);

}  // namespace brandpulse
