// `brandpulse dev-kafka`: a Kafka cluster for development and tests, librdkafka's mock cluster
// (real Kafka protocol on local TCP ports, in this process, in memory). Prints the bootstrap
// servers, creates the topics, then takes fault commands, one per line, from stdin and from a
// control socket (`--control PATH`, a Unix stream socket; each line gets "ok" or "error: ...").
// Runs until `quit`, SIGINT or SIGTERM.
//
// What the mock is not (docs/cluster.md): no transactions, no idempotent-producer
// de-duplication, ~5 MiB kept per partition, group.instance.id ignored, state lost on exit.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cli/commands.h"

namespace brandpulse {
namespace {

std::atomic<bool> stop_requested{false};
void RequestStop(int) { stop_requested = true; }

struct DevKafkaArgs {
  int brokers = 3;
  std::vector<std::string> topics;  // name:partitions
  // Issue 11: a cluster's partials topic NAME:PARTITIONS; NAME.snapshots (its merger snapshots,
  // cluster.snapshot_topic's default) is created beside it with as many partitions.
  std::vector<std::string> partials_topics;
  std::string control_path;
  std::string bootstrap_file;
};

const char* kHelp =
    "commands:\n"
    "  broker down|up <id|-1>                 disconnect a broker / accept connections again\n"
    "  rtt <broker|-1> <ms>                   round-trip delay of a broker's responses\n"
    "  leader <topic> <partition> <broker>    move a partition's leader\n"
    "  coordinator <group> <broker>           move a group's coordinator\n"
    "  error <api> <count> <ERROR_NAME>...    the next <count> requests of <api> fail, cluster-wide\n"
    "  delay <broker> <api> <count> <ms>      the next <count> requests of <api> to a broker wait <ms>\n"
    "  broker-error <broker> <api> <count> <ERROR_NAME> <ms>\n"
    "  clear <api>                            forget the queued errors of <api>\n"
    "  topic <name> <partitions>              create a topic\n"
    "  bootstrap | help | quit\n"
    "apis: produce fetch listoffsets metadata offsetcommit offsetfetch findcoordinator joingroup\n"
    "      heartbeat leavegroup syncgroup initproducerid, or a number\n"
    "errors: librdkafka names without RD_KAFKA_RESP_ERR_, e.g. NOT_LEADER_FOR_PARTITION,\n"
    "        REQUEST_TIMED_OUT, NOT_COORDINATOR, _TRANSPORT (disconnect), or a number\n";

std::optional<int16_t> ApiKey(const std::string& name) {
  static const std::map<std::string, int16_t> kApis = {
      {"produce", 0},       {"fetch", 1},           {"listoffsets", 2},   {"metadata", 3},
      {"offsetcommit", 8},  {"offsetfetch", 9},     {"findcoordinator", 10},
      {"joingroup", 11},    {"heartbeat", 12},      {"leavegroup", 13},   {"syncgroup", 14},
      {"apiversion", 18},   {"initproducerid", 22},
  };
  auto found = kApis.find(name);
  if (found != kApis.end()) return found->second;
  char* end = nullptr;
  long number = std::strtol(name.c_str(), &end, 10);
  if (!name.empty() && *end == 0 && number >= 0 && number < 100) return static_cast<int16_t>(number);
  return std::nullopt;
}

std::optional<rd_kafka_resp_err_t> ErrorCode(const std::string& name) {
  const rd_kafka_err_desc* descriptions = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descriptions, &count);
  for (size_t index = 0; index < count; ++index) {
    if (descriptions[index].name != nullptr && name == descriptions[index].name) {
      return descriptions[index].code;
    }
  }
  char* end = nullptr;
  long number = std::strtol(name.c_str(), &end, 10);
  if (!name.empty() && *end == 0) return static_cast<rd_kafka_resp_err_t>(number);
  return std::nullopt;
}

class DevCluster {
 public:
  ~DevCluster() {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (handle_ != nullptr) rd_kafka_destroy(handle_);
  }

  std::string Start(int brokers) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[256];
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (handle_ == nullptr) return fmt::format("cannot create the mock's client: {}", error);
    cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
    if (cluster_ == nullptr) return "cannot create the mock cluster";
    return "";
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

  // One command line; the reply ("ok ..." or "error: ...").
  std::string Execute(const std::string& line, bool& quit) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string word; in >> word;) words.push_back(word);
    if (words.empty() || words[0][0] == '#') return "";
    auto integer = [&](size_t index) -> std::optional<long> {
      if (index >= words.size()) return std::nullopt;
      char* end = nullptr;
      long value = std::strtol(words[index].c_str(), &end, 10);
      if (*end != 0) return std::nullopt;
      return value;
    };
    auto result = [](rd_kafka_resp_err_t err) -> std::string {
      return err ? fmt::format("error: {}", rd_kafka_err2str(err)) : "ok";
    };
    const std::string& verb = words[0];
    if (verb == "quit" || verb == "exit") {
      quit = true;
      return "ok";
    }
    if (verb == "help") return kHelp;
    if (verb == "bootstrap") return bootstrap();
    if (verb == "broker" && words.size() == 3 && integer(2)) {
      int32_t id = static_cast<int32_t>(*integer(2));
      if (words[1] == "down") return result(rd_kafka_mock_broker_set_down(cluster_, id));
      if (words[1] == "up") return result(rd_kafka_mock_broker_set_up(cluster_, id));
    }
    if (verb == "rtt" && integer(1) && integer(2)) {
      return result(rd_kafka_mock_broker_set_rtt(cluster_, static_cast<int32_t>(*integer(1)),
                                                 static_cast<int>(*integer(2))));
    }
    if (verb == "leader" && words.size() == 4 && integer(2) && integer(3)) {
      return result(rd_kafka_mock_partition_set_leader(cluster_, words[1].c_str(),
                                                       static_cast<int32_t>(*integer(2)),
                                                       static_cast<int32_t>(*integer(3))));
    }
    if (verb == "coordinator" && words.size() == 3 && integer(2)) {
      return result(rd_kafka_mock_coordinator_set(cluster_, "group", words[1].c_str(),
                                                  static_cast<int32_t>(*integer(2))));
    }
    if (verb == "topic" && words.size() == 3 && integer(2)) {
      return CreateTopic(words[1], static_cast<int>(*integer(2)));
    }
    if (verb == "clear" && words.size() == 2) {
      std::optional<int16_t> api = ApiKey(words[1]);
      if (!api) return fmt::format("error: unknown api '{}'", words[1]);
      rd_kafka_mock_clear_request_errors(cluster_, *api);
      return "ok";
    }
    if (verb == "error" && words.size() >= 4 && integer(2)) {
      std::optional<int16_t> api = ApiKey(words[1]);
      if (!api) return fmt::format("error: unknown api '{}'", words[1]);
      std::vector<rd_kafka_resp_err_t> errors;
      for (size_t index = 3; index < words.size(); ++index) {
        std::optional<rd_kafka_resp_err_t> code = ErrorCode(words[index]);
        if (!code) return fmt::format("error: unknown error '{}'", words[index]);
        errors.push_back(*code);
      }
      // `count` requests fail, cycling through the listed errors.
      std::vector<rd_kafka_resp_err_t> queued;
      for (long index = 0; index < *integer(2); ++index) queued.push_back(errors[index % errors.size()]);
      rd_kafka_mock_push_request_errors_array(cluster_, *api, queued.size(), queued.data());
      return "ok";
    }
    if ((verb == "delay" && words.size() == 5) || (verb == "broker-error" && words.size() == 6)) {
      std::optional<long> broker = integer(1);
      std::optional<int16_t> api = ApiKey(words[2]);
      std::optional<long> count = integer(3);
      std::optional<rd_kafka_resp_err_t> code =
          verb == "delay" ? std::optional(RD_KAFKA_RESP_ERR_NO_ERROR) : ErrorCode(words[4]);
      std::optional<long> rtt = integer(verb == "delay" ? 4 : 5);
      if (!broker || !api || !count || !code || !rtt) return "error: bad arguments (see help)";
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      // One call per request: the va-arg form takes (error, rtt) pairs.
      for (long index = 0; index < *count && !err; ++index) {
        err = rd_kafka_mock_broker_push_request_error_rtts(
            cluster_, static_cast<int32_t>(*broker), *api, 1, *code, static_cast<int>(*rtt));
      }
      return result(err);
    }
    return fmt::format("error: cannot read '{}' (try help)", line);
  }

  std::string CreateTopic(const std::string& name, int partitions) {
    int replication = std::min(3, broker_count_);
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication);
    if (err) return fmt::format("error: topic {}: {}", name, rd_kafka_err2str(err));
    return "ok";
  }
  void set_broker_count(int count) { broker_count_ = count; }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int broker_count_ = 1;
};

// Reads whole lines from a descriptor without blocking past what poll() said is there.
struct LineReader {
  int descriptor = -1;
  std::string buffer;
  // False at end of input.
  bool Read(std::vector<std::string>& lines) {
    char chunk[4096];
    ssize_t count = ::read(descriptor, chunk, sizeof(chunk));
    if (count < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (count <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(count));
    for (size_t end = buffer.find('\n'); end != std::string::npos; end = buffer.find('\n')) {
      lines.push_back(buffer.substr(0, end));
      buffer.erase(0, end + 1);
    }
    return true;
  }
};

int ListenUnix(const std::string& path) {
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return -1;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ::unlink(path.c_str());
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener, 8) != 0) {
    ::close(listener);
    return -1;
  }
  return listener;
}

void Reply(int descriptor, const std::string& reply) {
  if (reply.empty()) return;
  std::string text = reply;
  if (text.back() != '\n') text.push_back('\n');
  for (size_t written = 0; written < text.size();) {
    ssize_t count = ::write(descriptor, text.data() + written, text.size() - written);
    if (count <= 0) return;  // the client went away; its command was still executed
    written += static_cast<size_t>(count);
  }
}

int DevKafka(const DevKafkaArgs& args) {
  if (args.brokers < 1 || args.brokers > 32) {
    std::fprintf(stderr, "brandpulse dev-kafka: --brokers must be 1..32\n");
    return 2;
  }
  DevCluster cluster;
  cluster.set_broker_count(args.brokers);
  if (std::string error = cluster.Start(args.brokers); !error.empty()) {
    std::fprintf(stderr, "brandpulse dev-kafka: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::string> topics = args.topics;
  for (const std::string& topic : args.partials_topics) {
    const size_t colon = topic.rfind(':');
    topics.push_back(topic);
    if (colon != std::string::npos) {
      // (the mock does not compact: readers apply compaction's rule, pipeline/cluster_snapshot.h)
      topics.push_back(topic.substr(0, colon) + ".snapshots" + topic.substr(colon));
    }
  }
  for (const std::string& topic : topics) {
    size_t colon = topic.rfind(':');
    std::string name = topic.substr(0, colon);
    int partitions = colon == std::string::npos ? 1 : std::atoi(topic.c_str() + colon + 1);
    if (name.empty() || partitions < 1) {
      std::fprintf(stderr, "brandpulse dev-kafka: --topic '%s' is not NAME:PARTITIONS\n",
                   topic.c_str());
      return 2;
    }
    std::string reply = cluster.CreateTopic(name, partitions);
    if (reply != "ok") {
      std::fprintf(stderr, "brandpulse dev-kafka: %s\n", reply.c_str());
      return 1;
    }
  }
  int listener = -1;
  if (!args.control_path.empty()) {
    listener = ListenUnix(args.control_path);
    if (listener < 0) {
      std::fprintf(stderr, "brandpulse dev-kafka: cannot listen on %s: %s\n",
                   args.control_path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  const std::string bootstrap = cluster.bootstrap();
  if (!args.bootstrap_file.empty()) {
    // Written whole and renamed, so a script polling for the file never reads half of it.
    std::string temporary = args.bootstrap_file + ".tmp";
    std::ofstream(temporary) << bootstrap << "\n";
    std::rename(temporary.c_str(), args.bootstrap_file.c_str());
  }
  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);

  ::signal(SIGINT, RequestStop);
  ::signal(SIGTERM, RequestStop);
  ::signal(SIGPIPE, SIG_IGN);
  bool stdin_open = true;
  LineReader input{0, {}};
  std::map<int, LineReader> clients;
  bool quit = false;
  while (!quit && !stop_requested) {
    std::vector<pollfd> watched;
    if (stdin_open) watched.push_back(pollfd{0, POLLIN, 0});
    if (listener >= 0) watched.push_back(pollfd{listener, POLLIN, 0});
    for (const auto& [descriptor, reader] : clients) watched.push_back(pollfd{descriptor, POLLIN, 0});
    int ready = ::poll(watched.data(), watched.size(), 200);
    if (ready <= 0) continue;
    for (const pollfd& entry : watched) {
      if (entry.revents == 0) continue;
      if (entry.fd == listener) {
        int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) clients[client] = LineReader{client, {}};
        continue;
      }
      LineReader& reader = entry.fd == 0 ? input : clients[entry.fd];
      std::vector<std::string> lines;
      bool open = reader.Read(lines);
      for (const std::string& line : lines) {
        std::string reply = cluster.Execute(line, quit);
        if (entry.fd == 0) {
          if (!reply.empty()) std::printf("%s\n", reply.c_str());
          std::fflush(stdout);
        } else {
          Reply(entry.fd, reply);
        }
      }
      if (!open) {
        if (entry.fd == 0) {
          stdin_open = false;  // stdin closed: keep serving until a signal or `quit`
        } else {
          ::close(entry.fd);
          clients.erase(entry.fd);
        }
      }
    }
  }
  for (const auto& [descriptor, reader] : clients) ::close(descriptor);
  if (listener >= 0) {
    ::close(listener);
    ::unlink(args.control_path.c_str());
  }
  return 0;
}

struct KafkaLagArgs {
  std::string brokers;
  std::string topic;
  std::string group;
};

// Per partition: the group's committed offset, the topic's end offset, the lag between, and the
// partition's start offset.
int KafkaLag(const KafkaLagArgs& args) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  if (rd_kafka_conf_set(conf, "bootstrap.servers", args.brokers.c_str(), error, sizeof(error)) ||
      rd_kafka_conf_set(conf, "group.id", args.group.c_str(), error, sizeof(error)) ||
      rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error))) {
    std::fprintf(stderr, "brandpulse kafka-lag: %s\n", error);
    rd_kafka_conf_destroy(conf);
    return 2;
  }
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (client == nullptr) {
    std::fprintf(stderr, "brandpulse kafka-lag: %s\n", error);
    return 2;
  }
  int status = 0;
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(client, args.topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, topic, &metadata, 10000);
  if (err || metadata->topic_cnt != 1 || metadata->topics[0].err) {
    std::fprintf(stderr, "brandpulse kafka-lag: topic %s: %s\n", args.topic.c_str(),
                 rd_kafka_err2str(err ? err : metadata->topics[0].err));
    status = 1;
  } else {
    const int partitions = metadata->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int partition = 0; partition < partitions; ++partition) {
      rd_kafka_topic_partition_list_add(list, args.topic.c_str(), partition);
    }
    err = rd_kafka_committed(client, list, 10000);
    if (err) {
      std::fprintf(stderr, "brandpulse kafka-lag: committed offsets: %s\n", rd_kafka_err2str(err));
      status = 1;
    }
    int64_t total_lag = 0;
    // `start` (the partition's first offset) above 0 means records were dropped (retention; the
    // mock keeps only ~5 MiB per partition): a consumer that had not read them skipped them.
    std::printf("partition committed end lag start\n");
    for (int index = 0; status == 0 && index < list->cnt; ++index) {
      int64_t low = 0;
      int64_t high = 0;
      err = rd_kafka_query_watermark_offsets(client, args.topic.c_str(), index, &low, &high, 10000);
      if (err) {
        std::fprintf(stderr, "brandpulse kafka-lag: end offset of partition %d: %s\n", index,
                     rd_kafka_err2str(err));
        status = 1;
        break;
      }
      int64_t committed = list->elems[index].offset;
      int64_t lag = committed >= 0 ? high - committed : high - low;
      total_lag += lag;
      std::printf("%d %lld %lld %lld %lld\n", index, static_cast<long long>(committed),
                  static_cast<long long>(high), static_cast<long long>(lag),
                  static_cast<long long>(low));
    }
    if (status == 0) std::printf("total lag %lld\n", static_cast<long long>(total_lag));
    rd_kafka_topic_partition_list_destroy(list);
  }
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(client);
  return status;
}

}  // namespace

void RegisterDevKafkaCommand(CLI::App& app, CliCommands& commands) {
  auto args = std::make_shared<DevKafkaArgs>();
  CLI::App* command = app.add_subcommand(
      "dev-kafka", "Run a local Kafka mock cluster (librdkafka's) for development and tests");
  command->add_option("--brokers,-b", args->brokers, "Number of brokers")->capture_default_str();
  command->add_option("--topic,-t", args->topics, "Topic to create, NAME:PARTITIONS (repeatable)");
  command->add_option("--partials-topic", args->partials_topics,
                      "A cluster's partials topic NAME:PARTITIONS, created with NAME.snapshots "
                      "(cluster.snapshot_topic) of as many partitions (repeatable)");
  command->add_option("--control", args->control_path,
                      "Unix socket taking fault commands, one per line (see `help`)");
  command->add_option("--bootstrap-file", args->bootstrap_file,
                      "Also write the bootstrap servers to this file once ready");
  commands.push_back(CliCommand{command, [args] { return DevKafka(*args); }});

  auto lag = std::make_shared<KafkaLagArgs>();
  CLI::App* lag_command = app.add_subcommand(
      "kafka-lag", "A consumer group's committed offsets beside a topic's end offsets");
  lag_command->add_option("--brokers,-b", lag->brokers, "Bootstrap servers")->required();
  lag_command->add_option("--topic,-t", lag->topic, "Topic")->required();
  lag_command->add_option("--group,-g", lag->group, "Consumer group")->required();
  commands.push_back(CliCommand{lag_command, [lag] { return KafkaLag(*lag); }});
}

}  // namespace brandpulse
