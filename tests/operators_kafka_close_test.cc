// Graceful termination of Kafka group members that leave together (issue 11, librdkafka issue
// #4527): three KafkaSource members of one group (cooperative-sticky, librdkafka's mock cluster in
// this process) read a filled topic, commit, and are then destroyed at nearly the same moment,
// each on its own thread. Every close must return (a watchdog ends the test as failed when one
// has not after kCloseBoundSeconds: librdkafka 2.0.2 can wait forever in rd_kafka_consumer_close
// when an incremental assignment reaches a closing member), and the group's committed offsets
// afterwards must be the positions the members' state committed, or none (see CloseTogether).
// Each round uses its own topic and group; the members stop polling together, and
// member i closes i * step ms later (the runner's last state commit and flush lie between its last
// poll and its close), with the step changing per round (kIdleSteps) to sweep the window in which
// one member's leave reaches another as an assignment. BRANDPULSE_KAFKA_CLOSE_ROUNDS sets the
// number of rounds of each test (default 1, step 0; `make kafka-close-stress` runs many),
// BRANDPULSE_KAFKA_CLOSE_STEP_MS one step for every round.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "operators/kafka_source.h"

namespace brandpulse {
namespace {

constexpr int kPartitions = 6;
constexpr int kRecordsPerPartition = 10;
constexpr int kMembers = 3;
constexpr int kCloseBoundSeconds = 30;  // the settle bound is 10 s; a hang is forever
// Per round, the time member i waits between its last poll and its close is i times this (ms):
// 7000 outlasts the mock's rejoin after the first member's leave (it held the JoinGroup ~2 s with
// the 3 s session timeout here, ~5 s with 6 s):
// the next member then closes with an assignment waiting in its queue (librdkafka's join state
// wait-assign-call at close, #4527's precondition; seen in the cgrp debug lines).
constexpr int kIdleSteps[] = {0, 1000, 250, 500, 100, 750, 7000};

class MockCluster {
 public:
  MockCluster() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[256];
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (handle_ != nullptr) cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
  }
  ~MockCluster() {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (handle_ != nullptr) rd_kafka_destroy(handle_);
  }
  bool ok() const { return cluster_ != nullptr; }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

  // A topic of kPartitions partitions holding kRecordsPerPartition records each.
  bool FillTopic(const std::string& topic) {
    if (rd_kafka_mock_topic_create(cluster_, topic.c_str(), kPartitions, 1) != 0) return false;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[256];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), error, sizeof(error));
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (producer == nullptr) return false;
    for (int partition = 0; partition < kPartitions; ++partition) {
      for (int index = 0; index < kRecordsPerPartition; ++index) {
        std::string value = fmt::format("record {} of partition {}", index, partition);
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE(value.data(), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      }
    }
    const bool flushed = rd_kafka_flush(producer, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_destroy(producer);
    return flushed;
  }

  // The group's committed offset of every partition (-1: none).
  std::vector<int64_t> Committed(const std::string& topic, const std::string& group) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[256];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), error, sizeof(error));
    rd_kafka_conf_set(conf, "group.id", group.c_str(), error, sizeof(error));
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    std::vector<int64_t> offsets(kPartitions, -2);
    if (consumer == nullptr) return offsets;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
    for (int partition = 0; partition < kPartitions; ++partition) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
    }
    if (rd_kafka_committed(consumer, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int index = 0; index < list->cnt; ++index) {
        offsets[list->elems[index].partition] = list->elems[index].offset;
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(consumer);
    return offsets;
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// One member driven as the runner drives a source (own commits: the state's positions go to
// the group after each batch), on its own thread until told to stop; then destroyed there.
struct Member {
  std::unique_ptr<Source> source;
  PositionMap positions;           // of held partitions (coordinator thread)
  std::atomic<int> held{0};        // partitions held, for the main thread
  std::atomic<int> read{0};        // records read over the run
  int refused_commits = 0;
  std::atomic<bool> stop{false};
  int idle_before_close_ms = 0;    // from the last poll to the close
  bool epoch_commits = false;      // cluster mode (DisableOwnCommits)
  std::promise<double> closed;     // seconds the destructor took

  void Run() {
    while (!stop.load()) {
      Batch batch;
      auto result = source->Fill(batch, 50);
      if (!result.ok()) {
        ADD_FAILURE() << result.status().ToString();
        break;
      }
      if (*result == SourceRead::kAssignmentChanged) {
        AssignmentChange change = source->TakeAssignmentChange();
        for (uint32_t partition : change.lost) positions.erase(partition);
        EXPECT_TRUE(source->CompleteAssignmentChange().ok());
        // No Seek: gained partitions resume at the group's committed offset.
        held.store(static_cast<int>(positions.size() + change.gained.size()));
        for (uint32_t partition : change.gained) positions.emplace(partition, 0);
        continue;
      }
      if (batch.records.empty()) continue;
      positions[batch.partition] = batch.records.back().end_position;
      read += static_cast<int>(batch.records.size());
      // An async group commit refused during a rebalance is reported here (the runner logs it
      // and goes on); the hand-over commits at the revoke and at close carry the positions.
      if (epoch_commits) {
        // Cluster mode: the group's offsets are the epochs' commits (KafkaGroupSource); no
        // commit at close, so nothing polls between the last Fill and rd_kafka_consumer_close.
        auto committed = dynamic_cast<KafkaGroupSource&>(*source).CommitEpoch(positions, "close");
        if (!committed.ok() || *committed != KafkaGroupSource::EpochCommit::kCommitted) {
          ++refused_commits;
        }
      } else if (!source->OnCommitted(positions).ok()) {
        ++refused_commits;
      }
    }
    // The runner's last state commit and flush lie between its last poll and the close: a
    // rebalance event that arrives meanwhile (another member left) waits in librdkafka's queue
    // for the close.
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_before_close_ms));
    const auto from = std::chrono::steady_clock::now();
    source.reset();
    closed.set_value(std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count());
  }
};

int Rounds() {
  const char* text = std::getenv("BRANDPULSE_KAFKA_CLOSE_ROUNDS");
  return text != nullptr && std::atoi(text) > 0 ? std::atoi(text) : 1;
}

// Rounds of three members that stop together; every close must return, and (own commits) the
// group's offsets be every record's position or none.
void CloseTogether(bool epoch_commits) {
  MockCluster cluster;
  ASSERT_TRUE(cluster.ok());
  const int rounds = Rounds();
  double slowest_close = 0;
  int refused = 0;
  int uncommitted = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string topic = fmt::format("close-{}-{}", epoch_commits ? "epoch" : "own", round);
    const std::string group = topic + "-group";
    ASSERT_TRUE(cluster.FillTopic(topic));
    std::vector<std::unique_ptr<Member>> members;
    std::vector<std::thread> threads;
    for (int index = 0; index < kMembers; ++index) {
      KafkaSourceOptions options;
      options.client.brokers = cluster.bootstrap();
      options.client.redactor = std::make_shared<Redactor>();
      options.client.properties = {{"session.timeout.ms", "3000"},
                                   {"heartbeat.interval.ms", "300"},
                                   {"log_level", "3"},
                                   {"client.id", fmt::format("member-{}", index)}};
      // BRANDPULSE_KAFKA_CLOSE_DEBUG=1 prints librdkafka's group lines (where a close waits).
      if (std::getenv("BRANDPULSE_KAFKA_CLOSE_DEBUG") != nullptr) {
        options.client.properties["debug"] = "cgrp";
      }
      options.topic = topic;
      options.group = group;
      auto source = MakeKafkaSource(options);
      ASSERT_TRUE(source.ok()) << source.status().ToString();
      auto member = std::make_unique<Member>();
      member->source = std::move(*source);
      member->epoch_commits = epoch_commits;
      if (epoch_commits) dynamic_cast<KafkaGroupSource&>(*member->source).DisableOwnCommits();
      members.push_back(std::move(member));
    }
    for (auto& member : members) threads.emplace_back([&member] { member->Run(); });
    // Until every record is read and each member holds partitions (the group settled).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool settled = false;
    while (!settled && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      int read = 0;
      int held = 0;
      bool everyone_holds = true;
      for (auto& member : members) {
        read += member->read.load();
        held += member->held.load();
        everyone_holds &= member->held.load() > 0;
      }
      settled = everyone_holds && held == kPartitions && read >= kPartitions * kRecordsPerPartition;
    }
    // Then all stop at once; member i closes i * step ms after its last poll.
    const char* step_text = std::getenv("BRANDPULSE_KAFKA_CLOSE_STEP_MS");  // one step for all
    const int step_ms = step_text != nullptr ? std::atoi(step_text)
                                             : kIdleSteps[round % std::size(kIdleSteps)];
    std::vector<std::future<double>> closes;
    for (auto& member : members) closes.push_back(member->closed.get_future());
    for (size_t index = 0; index < members.size(); ++index) {
      members[index]->idle_before_close_ms = static_cast<int>(index) * step_ms;
    }
    for (auto& member : members) member->stop.store(true);
    for (size_t index = 0; index < closes.size(); ++index) {
      if (closes[index].wait_for(std::chrono::seconds(kCloseBoundSeconds)) !=
          std::future_status::ready) {
        // A hung close cannot be joined or destroyed: report and end the process as failed.
        std::fprintf(stderr,
                     "round %d (idle step %d ms, group settled: %d): member %zu's close did not "
                     "return within %d s\n",
                     round, step_ms, settled, index, kCloseBoundSeconds);
        std::fflush(stderr);
        ADD_FAILURE() << "close hung";
        std::_Exit(1);
      }
      slowest_close = std::max(slowest_close, closes[index].get());
    }
    for (auto& thread : threads) thread.join();
    for (auto& member : members) refused += member->refused_commits;
    if (!settled) {
      // Not the point of the test (the closes are), but then the offsets are not all known.
      std::printf("round %d: the group had not settled before the stop\n", round);
      continue;
    }
    // In cluster mode the epochs commit (a deferred one is the next epoch's), not the close.
    if (epoch_commits) continue;
    std::vector<int64_t> committed = cluster.Committed(topic, group);
    for (int partition = 0; partition < kPartitions; ++partition) {
      // Every record's position, or none: a partition whose last commits all met a rebalance
      // (the async ones refused silently, the hand-over at close refused) ends without one, on
      // the old close as on this one (seen in 2 of ~25 rounds; issue 11 notes, closehang). Never
      // a position other than the state's.
      if (committed[partition] == RD_KAFKA_OFFSET_INVALID) {
        ++uncommitted;
        continue;
      }
      EXPECT_EQ(committed[partition], kRecordsPerPartition)
          << "round " << round << " partition " << partition;
    }
  }
  std::printf("%d round(s); slowest close %.3f s; %d group commit(s) refused or deferred; %d "
              "partition(s) without a committed offset after the closes\n",
              rounds, slowest_close, refused, uncommitted);
}

TEST(KafkaCloseTest, MembersWithOwnCommitsLeavingTogetherCloseWithoutWrongOffsets) {
  CloseTogether(false);
}

TEST(KafkaCloseTest, ClusterMembersLeavingTogetherCloseInBoundedTime) {
  CloseTogether(true);
}

}  // namespace
}  // namespace brandpulse
