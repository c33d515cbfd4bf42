#!/usr/bin/env bash
# Kafka figures (issue 11), on `brandpulse dev-kafka` (librdkafka's mock cluster, 3 brokers):
#   1. throughput: posts/s from the topic through the whole engine (decode, match, window, the
#      demo's alert rules; commits to RocksDB and to the group) beside kcat's own consumption
#      of the same topic (kcat -C ... -e, no processing), alternating (--repeat rounds).
#      brandpulse's time runs from its assignment to its exit (the mock's ~3 s group join
#      excluded); kcat needs no group. Also its source's first-to-last-record time.
#   2. failover: two instances share the group; one is killed with SIGKILL, stopped with SIGTERM
#      or frozen with SIGSTOP; time until the survivor has taken over its partitions (--repeat
#      times each; the median, the spread, and the load average at each).
#   3. restore: restarts on old states of several sizes (file runs over --restore-sizes posts):
#      time until ready (state open, rule state, window closer and de-duplication set read back),
#      and the state's size on disk.
# Writes its sections into bench/kafka-results.md (between "<!-- kafka-bench: NAME -->" lines;
# sections not run are kept) and prints them.
#
#   bench/kafka-bench.sh [--sections throughput,failover,restore] [--posts N] [--partitions N]
#       [--repeat N] [--restore-sizes N,N,...] [--restore-rates N,N] [--brandpulse PATH] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
posts=200000
partitions=48   # the mock keeps ~5 MiB per partition: ≤ ~8,000 posts each
brandpulse=build/brandpulse
work=build/kafka-bench
sections=throughput,failover,restore
repeat=3
restore_sizes=25000,100000,400000,1600000
restore_rates=400,4   # posts per second of event time in the restore inputs (each rate × each
                      # size): a lower rate spreads the same posts over more windows (a larger state)
while [ $# -gt 0 ]; do
  case "$1" in
    --sections) sections=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --restore-sizes) restore_sizes=$2; shift 2 ;;
    --restore-rates) restore_rates=$2; shift 2 ;;
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

# The cluster and the topic: only the throughput and failover sections read them.
if [[ ",$sections," == *",throughput,"* || ",$sections," == *",failover,"* ]]; then
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
fi

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

wanted() { [[ ",$sections," == *",$1,"* ]]; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "none"; else print v[int((NR + 1) / 2)] }'; }
load() { cut -d' ' -f1 /proc/loadavg; }
stamp="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores (shared), librdkafka $(dpkg-query -W -f='${Version}' librdkafka1), kcat $(dpkg-query -W -f='${Version}' kcat)"

# 1. Throughput: kcat and brandpulse alternate (--repeat runs each, kcat first in each round), so
# both see the same machine; the medians and each run with the load average (1 min) at its start.
# brandpulse's source logs at close what its run held (first to last record, last record to
# close, waits for fetched records): the steady reading rate beside the whole-run figure.
if wanted throughput; then
kcat_times=()
engine_times=()
rounds=()
for ((run = 1; run <= repeat; run++)); do
  load_at=$(load)
  start=$(now)
  count=$(kcat -C -b "$KAFKA_BROKERS" -t posts -o beginning -e -q | wc -l)
  kcat_time=$(seconds "$start" "$(now)")
  [ "$count" -eq "$posts" ] || { echo "kafka-bench: kcat read $count of $posts" >&2; exit 2; }
  engine_load=$(load)
  run_instance "throughput-$run" "throughput-$run"
  gained=$(wait_gained "$work/throughput-$run.log" 0 60)
  wait "$pid"
  end=$(now)
  log=$work/throughput-$run.log
  read_records=$(grep -o 'workers*: [0-9,]* records' "$log" | grep -o '[0-9,]* records' | tr -d ', records')
  [ "$read_records" = "$posts" ] || { echo "kafka-bench: brandpulse read $read_records of $posts" >&2; exit 2; }
  engine_time=$(seconds "$gained" "$end")
  # "kafka:posts: N record(s) read, first assignment to first record A s, first to last record
  # B s; last record to close C s, ...; waited W s for fetched records after the first"
  first_to_last=$(grep -oE 'first to last record [0-9.]+' "$log" | grep -oE '[0-9.]+$' || echo none)
  to_close=$(grep -oE 'last record to close [0-9.]+' "$log" | grep -oE '[0-9.]+$' || echo none)
  waited=$(grep -oE 'waited [0-9.]+ s for fetched records' "$log" | grep -oE '[0-9.]+' || echo none)
  kcat_times+=("$kcat_time")
  engine_times+=("$engine_time")
  rounds+=("$kcat_time ($load_at) | $engine_time ($engine_load) | $first_to_last | $to_close | $waited")
done
kcat_seconds=$(printf '%s\n' "${kcat_times[@]}" | median)
engine_seconds=$(printf '%s\n' "${engine_times[@]}" | median)
kcat_rate=$(awk -v n="$posts" -v s="$kcat_seconds" 'BEGIN { printf "%.0f", n / s }')
engine_rate=$(awk -v n="$posts" -v s="$engine_seconds" 'BEGIN { printf "%.0f", n / s }')
ratio=$(awk -v a="$engine_rate" -v b="$kcat_rate" 'BEGIN { printf "%.2f", a / b }')
steady_seconds=$(printf '%s\n' "${rounds[@]}" | awk -F' [|] ' '{ print $3 }' | grep -v none | median)
steady_rate=$(awk -v n="$posts" -v s="$steady_seconds" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "none" }')
{
  echo "### Throughput"
  echo
  echo "Written $stamp, by \`bash bench/kafka-bench.sh --sections throughput --posts $posts --partitions $partitions --repeat $repeat\`;"
  echo "load average $(load) at the end. Mock cluster: 3 brokers, topic \`posts\` with $partitions partitions, $posts generated X/Twitter v2 posts ($((bytes / 1048576)) MiB)."
  echo "kcat and brandpulse alternate, kcat first in each round."
  echo
  echo "| what | seconds (median of $repeat) | posts/s | ratio |"
  echo "|---|---:|---:|---:|"
  echo "| kcat -C -e (consume only, to /dev/null) | $kcat_seconds | $kcat_rate | 1.00 |"
  echo "| brandpulse run (decode, match, windows, rules, RocksDB + group commits), assignment to exit | $engine_seconds | $engine_rate | $ratio |"
  echo "| brandpulse, its source's first to last record (steady reading; not the headline) | $steady_seconds | $steady_rate | |"
  echo
  echo "| round | kcat s (load) | brandpulse s (load) | first to last record s | last record to close s | waited for fetched records s |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for ((run = 1; run <= repeat; run++)); do echo "| $run | ${rounds[$((run - 1))]} |"; done
} >"$work/section-throughput.md"
fi

# 2. Failover: two instances following the topic (from its start, so the survivor is busy);
# one stops; the other takes its partitions. Each kind --repeat times, the load at each.
failover() {  # failover <signal> <name>: "<seconds from the signal to the survivor's gain> <load>"
  local signal=$1 name=$2 a b before stopped_at taken_at load_at
  KAFKA_STOP_AT_END=false run_instance "$name-a" "$name"; a=$pid
  wait_gained "$work/$name-a.log" 0 60 >/dev/null
  KAFKA_STOP_AT_END=false run_instance "$name-b" "$name"; b=$pid
  wait_gained "$work/$name-b.log" 0 60 >/dev/null
  sleep 2
  before=$(grep -c gained "$work/$name-b.log")
  load_at=$(load)
  stopped_at=$(now)
  kill -"$signal" "$a"
  taken_at=$(wait_gained "$work/$name-b.log" "$before" 60)
  if [ "$signal" = STOP ]; then kill -CONT "$a"; kill -TERM "$a"; fi
  wait "$a" 2>/dev/null || true
  kill -TERM "$b"
  wait "$b" 2>/dev/null || true
  if [ "$taken_at" = none ]; then echo "none $load_at"; else echo "$(seconds "$stopped_at" "$taken_at") $load_at"; fi
}
if wanted failover; then
{
  echo "### Failover"
  echo
  echo "Written $stamp, by \`bash bench/kafka-bench.sh --sections failover --posts $posts --partitions $partitions --repeat $repeat\`."
  echo "Two instances of tests/kafka/pipeline.yaml (session.timeout.ms 6 s, heartbeat 0.5 s) share a group"
  echo "reading the topic from its start; one is signalled; the time runs from the signal to the"
  echo "survivor's \"partition(s) gained\" notice (its log polled every 20 ms). Load average (1 min) at each signal in brackets."
  echo
  echo "| signal | median s | each run: s (load) |"
  echo "|---|---:|---|"
  for signal in KILL TERM STOP; do
    results=()
    for ((run = 1; run <= repeat; run++)); do
      results+=("$(failover "$signal" "failover-${signal,,}-$run")")
    done
    middle=$(printf '%s\n' "${results[@]}" | awk '{ print $1 }' | median)
    each=$(printf '%s\n' "${results[@]}" | awk '{ printf "%s%s (%s)", (NR > 1 ? ", " : ""), $1, $2 }')
    case "$signal" in
      KILL) what="SIGKILL (kill -9): the group notices after the session timeout" ;;
      TERM) what="SIGTERM (graceful: final commit, leaves the group)" ;;
      STOP) what="SIGSTOP (frozen past the session timeout; SIGCONT afterwards)" ;;
    esac
    echo "| $what | $middle | $each |"
  done
} >"$work/section-failover.md"
fi

# 3. Restore: a file run over N posts builds a state; restarts on it (at the input's end, so
# nothing is left to read) report "ready after": the time to open RocksDB and read back the
# rule state, the open windows and the de-duplication set. The median of --repeat restarts.
if wanted restore; then
{
  echo "### Restore on old state against state size"
  echo
  echo "Written $stamp, by \`bash bench/kafka-bench.sh --sections restore --restore-sizes $restore_sizes --restore-rates $restore_rates --repeat $repeat\`."
  echo "bench/kafka-restore-pipeline.yaml (tests/kafka/cluster-file-pipeline.yaml's rules and de-duplication,"
  echo "plus a 5-minute window by author, so the state grows with the input) over a generated file of N posts;"
  echo "then restarts on that state. \"ready after\" is the run's own report (RocksDB open, rule state, window"
  echo "closer and de-duplication set read back); a Kafka instance then joins the group (~3 s on the mock)."
  echo
  echo "| posts | event time (h) | state on disk (MiB) | windows (query dump lines) | ready after, median s | each restart: s (load) |"
  echo "|---:|---:|---:|---:|---:|---|"
  IFS=, read -r -a sizes <<<"$restore_sizes"
  IFS=, read -r -a rates <<<"$restore_rates"
  for restore_rate in "${rates[@]}"; do
  for size in "${sizes[@]}"; do
    dir=$work/restore-$size-$restore_rate
    mkdir -p "$dir/out"
    "$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
      --format twitter-v2 --count "$size" --seed 9 --mention-share 0.10 --malformed-share 0.001 \
      --rate "$restore_rate" --disorder 20s --output "$dir/input.jsonl"
    KAFKA_INPUT=$dir/input.jsonl KAFKA_STATE=$dir/state KAFKA_OUT=$dir/out \
      "$brandpulse" run bench/kafka-restore-pipeline.yaml --quiet >"$dir/build.log" 2>&1
    results=()
    for ((run = 1; run <= repeat; run++)); do
      load_at=$(load)
      KAFKA_INPUT=$dir/input.jsonl KAFKA_STATE=$dir/state KAFKA_OUT=$dir/out \
        "$brandpulse" run bench/kafka-restore-pipeline.yaml --quiet >"$dir/restart-$run.log" 2>&1
      ready=$({ grep -oE 'ready after [0-9.]+ s' "$dir/restart-$run.log" ||
                grep -oE 'ready_seconds=[0-9.]+' "$dir/restart-$run.log" || true; } | head -n 1 | grep -oE '[0-9]+[.][0-9]+')
      grep -q 'resumed from committed position' "$dir/restart-$run.log" ||
        { echo "kafka-bench: restart on $dir/state did not resume" >&2; exit 2; }
      results+=("${ready:-none} $load_at")
    done
    windows=$("$brandpulse" query dump --state "$dir/state" | wc -l)
    middle=$(printf '%s\n' "${results[@]}" | awk '{ print $1 }' | median)
    each=$(printf '%s\n' "${results[@]}" | awk '{ printf "%s%s (%s)", (NR > 1 ? ", " : ""), $1, $2 }')
    hours=$(awk -v n="$size" -v r="$restore_rate" 'BEGIN { printf "%.1f", n / r / 3600 }')
    echo "| $size | $hours | $(du -sm "$dir/state" | cut -f1) | $windows | $middle | $each |"
    rm -f "$dir/input.jsonl"
  done
  done
} >"$work/section-restore.md"
fi

# Each section run replaces its part of bench/kafka-results.md; the others stay as they were.
results=bench/kafka-results.md
grep -q '^<!-- kafka-bench: ' "$results" 2>/dev/null ||
  printf '## Kafka (issue 11): bench/kafka-bench.sh\n\n<!-- kafka-bench: throughput -->\n<!-- kafka-bench: end -->\n\n<!-- kafka-bench: failover -->\n<!-- kafka-bench: end -->\n\n<!-- kafka-bench: restore -->\n<!-- kafka-bench: end -->\n' >"$results"
for section in throughput failover restore; do
  [ -f "$work/section-$section.md" ] || continue
  awk -v name="$section" -v file="$work/section-$section.md" '
    $0 == "<!-- kafka-bench: " name " -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
    skip && $0 == "<!-- kafka-bench: end -->" { skip = 0 }
    !skip { print }' "$results" >"$results.tmp"
  mv "$results.tmp" "$results"
  cat "$work/section-$section.md"
  echo
done
