// A webhook receiver for the webhook tests, run as its own process (cpp-httplib):
//   webhook_receiver <port> <log file> [--status N] [--slow-ms N] [--secret S] [--time-log F]
// Appends one line per POST to the log: "<status> <Idempotency-Key> <signature ok: 1|0|-> <body>",
// flushed before answering, so a killed receiver never acknowledged a request it did not log.
// With --time-log, also "<arrival ms since the epoch> <Idempotency-Key>" per POST to F (the
// latency benchmark, bench/alert-latency.sh).
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "operators/webhook_sink.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: webhook_receiver <port> <log> [--status N] [--slow-ms N] [--secret S]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string log_path = argv[2];
  int status = 200;
  int slow_ms = 0;
  std::string secret;
  std::string time_log_path;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--status") status = std::atoi(argv[i + 1]);
    if (flag == "--slow-ms") slow_ms = std::atoi(argv[i + 1]);
    if (flag == "--secret") secret = argv[i + 1];
    if (flag == "--time-log") time_log_path = argv[i + 1];
  }
  FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) return 1;
  FILE* time_log = time_log_path.empty() ? nullptr : std::fopen(time_log_path.c_str(), "a");
  httplib::Server server;
  server.set_tcp_nodelay(true);  // answers leave at once (Nagle would hold each ~40 ms)
  server.Post("/hook", [&](const httplib::Request& request, httplib::Response& response) {
    if (time_log != nullptr) {
      const long long arrival_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
      std::fprintf(time_log, "%lld %s\n", arrival_ms,
                   request.get_header_value("Idempotency-Key").c_str());
      std::fflush(time_log);
    }
    if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    std::string signature_ok = "-";
    if (!secret.empty()) {
      signature_ok = request.get_header_value("X-Brandpulse-Signature") ==
                             brandpulse::WebhookSignature(secret, request.body)
                         ? "1"
                         : "0";
    }
    std::string body = request.body;
    for (char& c : body) if (c == '\n') c = ' ';
    std::fprintf(log, "%d %s %s %s\n", status, request.get_header_value("Idempotency-Key").c_str(),
                 signature_ok.c_str(), body.c_str());
    std::fflush(log);
    response.status = status;
    response.set_content("{}", "application/json");
  });
  std::printf("listening\n");
  std::fflush(stdout);
  return server.listen("127.0.0.1", port) ? 0 : 1;
}
