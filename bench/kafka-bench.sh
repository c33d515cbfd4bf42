#!/usr/bin/env bash
# Kafka figures (issue 11), on `brandpulse dev-kafka` (librdkafka's mock cluster, 3 brokers):
#   1. throughput: posts/s from the topic through the whole engine (decode, match, window, the
#      demo's alert rules; commits to RocksDB and to the group) beside kcat's own consumption
#      of the same topic (kcat -C ... -e, no processing). brandpulse's time runs from its
#      assignment to its exit (the mock's ~3 s group join excluded); kcat needs no group.
#   2. failover: two instances share the group; one is killed with SIGKILL (or stopped with
#      SIGTERM); time until the survivor has taken over its partitions.
#   3. restore: a restarted instance on its old state: time until ready (state open, seek).
# Writes bench/kafka-results.md (and prints it).
#
#   bench/kafka-bench.sh [--posts N] [--partitions N] [--brandpulse PATH] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
posts=200000
partitions=48   # the mock keeps ~5 MiB per partition: ≤ ~8,000 posts each
brandpulse=build/brandpulse
work=build/kafka-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --posts) posts=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --brandpulse) brandpulse=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "kafka-bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
brandpulse=$(cd "$(dirname "$brandpulse")" && pwd)/$(basename "$brandpulse")
rm -rf "$work" && mkdir -p "$work" && work=$(cd "$work" && pwd)
cluster_pid=
cleanup() {
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null || true
  jobs -p | xargs -r kill -KILL 2>/dev/null || true
}
trap cleanup EXIT
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

"$brandpulse" dev-kafka --brokers 3 --topic "posts:$partitions" --topic alerts:2 --topic dead-letters:1 \
  --control "$work/control.sock" --bootstrap-file "$work/bootstrap" </dev/null >"$work/dev-kafka.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
export KAFKA_BROKERS
KAFKA_BROKERS=$(cat "$work/bootstrap")
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$posts" --seed 5 --mention-share 0.08 --malformed-share 0.001 \
  --rate 400 --disorder 20s --output "$work/firehose.jsonl"
bytes=$(stat -c %s "$work/firehose.jsonl")
awk '{ print NR "\t" $0 }' "$work/firehose.jsonl" | kcat -P -b "$KAFKA_BROKERS" -t posts -K "	"
on_topic=0
for ((p = 0; p < partitions; p++)); do
  on_topic=$((on_topic + $(kcat -Q -b "$KAFKA_BROKERS" -t "posts:$p:-1" | awk '{ print $NF }')))
done
[ "$on_topic" -eq "$posts" ] || { echo "kafka-bench: $on_topic of $posts posts on the topic" >&2; exit 2; }

run_instance() {  # run_instance <name> <group>: background; sets $pid
  mkdir -p "$work/$1/out"
  KAFKA_STATE=$work/$1/state KAFKA_OUT=$work/$1/out KAFKA_GROUP=$2 KAFKA_WORKERS=2 \
    KAFKA_COMMIT_EVERY=50000 stdbuf -oL -eL "$brandpulse" run tests/kafka/pipeline.yaml --quiet \
    >>"$work/$1.log" 2>&1 &
  pid=$!
}
# Waits (polling every 20 ms) until <log> holds more than <count> assignment notices; prints
# the time it saw it.
wait_gained() {  # wait_gained <log> <count> <timeout seconds>
  local deadline
  deadline=$(awk -v t="$3" -v n="$(now)" 'BEGIN { printf "%.0f", n + t }')
  while [ "$(grep -c 'gained' "$1" 2>/dev/null || true)" -le "$2" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && { echo none; return; }
    sleep 0.02
  done
  now
}

# 1. Throughput. kcat: 3 runs, the median.
kcat_times=()
for run in 1 2 3; do
  start=$(now)
  count=$(kcat -C -b "$KAFKA_BROKERS" -t posts -o beginning -e -q | wc -l)
  kcat_times+=("$(seconds "$start" "$(now)")")
  [ "$count" -eq "$posts" ] || { echo "kafka-bench: kcat read $count of $posts" >&2; exit 2; }
done
kcat_seconds=$(printf '%s\n' "${kcat_times[@]}" | sort -n | sed -n 2p)
engine_times=()
for run in 1 2 3; do
  run_instance "throughput-$run" "throughput-$run"
  gained=$(wait_gained "$work/throughput-$run.log" 0 60)
  wait "$pid"
  end=$(now)
  read_records=$(grep -o 'workers*: [0-9,]* records' "$work/throughput-$run.log" | grep -o '[0-9,]* records' | tr -d ', records')
  [ "$read_records" = "$posts" ] || { echo "kafka-bench: brandpulse read $read_records of $posts" >&2; exit 2; }
  engine_times+=("$(seconds "$gained" "$end")")
done
engine_seconds=$(printf '%s\n' "${engine_times[@]}" | sort -n | sed -n 2p)
kcat_rate=$(awk -v n="$posts" -v s="$kcat_seconds" 'BEGIN { printf "%.0f", n / s }')
engine_rate=$(awk -v n="$posts" -v s="$engine_seconds" 'BEGIN { printf "%.0f", n / s }')
ratio=$(awk -v a="$engine_rate" -v b="$kcat_rate" 'BEGIN { printf "%.2f", a / b }')

# 2. Failover: two instances following the topic; one stops; the other takes its partitions.
failover() {  # failover <signal> <name>: seconds from the signal to the survivor's gain
  local signal=$1 name=$2 a b before stopped_at taken_at
  KAFKA_STOP_AT_END=false run_instance "$name-a" "$name"; a=$pid
  wait_gained "$work/$name-a.log" 0 60 >/dev/null
  KAFKA_STOP_AT_END=false run_instance "$name-b" "$name"; b=$pid
  wait_gained "$work/$name-b.log" 0 60 >/dev/null
  sleep 2
  before=$(grep -c gained "$work/$name-b.log")
  stopped_at=$(now)
  kill -"$signal" "$a"
  taken_at=$(wait_gained "$work/$name-b.log" "$before" 60)
  wait "$a" 2>/dev/null || true
  kill -TERM "$b"
  wait "$b" 2>/dev/null || true
  if [ "$taken_at" = none ]; then echo none; else seconds "$stopped_at" "$taken_at"; fi
}
failover_kill=$(failover KILL failover-kill)
failover_term=$(failover TERM failover-term)

# 3. Restore: restart on the state of throughput-1 (all windows of the input); its "ready after".
for run in 1 2 3; do
  KAFKA_STATE=$work/throughput-1/state KAFKA_OUT=$work/throughput-1/out KAFKA_GROUP=throughput-1 \
    "$brandpulse" run tests/kafka/pipeline.yaml --quiet >"$work/restore-$run.log" 2>&1
done
restore=$(grep -ho 'ready after [0-9.]* s' "$work"/restore-*.log | awk '{ print $3 }' | sort -n | sed -n 2p)
state_mib=$(du -sm "$work/throughput-1/state" | cut -f1)

{
  echo "## Kafka (issue 11): bench/kafka-bench.sh"
  echo
  echo "Written $(date -u '+%Y-%m-%d %H:%M UTC') by \`bash bench/kafka-bench.sh --posts $posts --partitions $partitions\`"
  echo "on $(nproc) cores (shared; load $(cut -d' ' -f1-3 /proc/loadavg)). librdkafka $(dpkg-query -W -f='${Version}' librdkafka1), kcat $(dpkg-query -W -f='${Version}' kcat)."
  echo "Mock cluster: 3 brokers, topic \`posts\` with $partitions partitions, $posts generated X/Twitter v2 posts ($((bytes / 1048576)) MiB)."
  echo
  echo "| what | seconds (median of 3) | posts/s | ratio |"
  echo "|---|---:|---:|---:|"
  echo "| kcat -C -e (consume only, to /dev/null) | $kcat_seconds | $kcat_rate | 1.00 |"
  echo "| brandpulse run (decode, match, windows, rules, RocksDB + group commits), assignment to exit | $engine_seconds | $engine_rate | $ratio |"
  echo
  echo "| failover / restore | seconds |"
  echo "|---|---:|"
  echo "| SIGKILL of one of two instances → the other has its partitions (session.timeout.ms 6 s) | $failover_kill |"
  echo "| SIGTERM (graceful: final commit, leaves the group) → the other has its partitions | $failover_term |"
  echo "| restart on old state ($state_mib MiB of RocksDB) → ready (median of 3) | $restore |"
} >"$work/kafka-results.md"
cp "$work/kafka-results.md" bench/kafka-results.md
cat bench/kafka-results.md
