// Operations routes on the engine's HTTP listener (docs/operations.md):
//   GET /metrics          Prometheus text format (the process's MetricsRegistry)
//   GET /healthz          200 while the process serves requests (liveness)
//   GET /readyz           200 once state is restored and the watchlist compiled, else 503
//   GET /ops/status       the dashboard's live figures (PipelineMetrics::StatusJson)
//   GET /ops/alerts       the alert feed; ?after=N gives alerts after sequence N
//   GET /dashboard/...    the live dashboard (web/, embedded); / redirects there
// Every answer is small and quick: the dashboard polls, so the server's timeouts stay strict.
#pragma once

#include "engine/metrics.h"
#include "pipeline/http_server.h"
#include "pipeline/metrics.h"

namespace brandpulse {

// `metrics` is the running pipeline's (null when there is none: then /readyz is 503 and the
// /ops routes 404). Both must outlive the server's requests.
void AddOperationsRoutes(HttpRoutes& routes, MetricsRegistry& registry,
                         const PipelineMetrics* metrics);

}  // namespace brandpulse
