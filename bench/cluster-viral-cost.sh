#!/usr/bin/env bash
# Issue 11 (stop 26): what `viral_post`'s growth copies cost the mergers. With `cluster:` every
# growth event (kind 4: a reply, repost or quote) is sent to every partials partition
# (docs/cluster.md, "`viral_post` across instances"). Same input with and without the rule, for
# each partials partition count:
#   1. live: dev-kafka (1 broker, posts:16, partials:P); two instances a and b
#      (tests/kafka/global-pipeline.yaml, 1 worker each, `cluster:`, following the topic) join one
#      group; then the generated posts go onto the topic; each instance reads, publishes and
#      merges its share; once the group's lag is 0 (and --settle seconds more for the merge), b
#      and then a stop with SIGTERM. Each under /usr/bin/time -v: CPU seconds (user + system),
#      peak RSS.
#   2. merge only: c on a fresh disk in the same groups finds the source at its end and replays
#      every partials partition from offset 0 (records and bytes of the whole partials log: its
#      `partials restored` line), closes the windows and exits: a merger's whole cost, and
#      nothing else but start-up. Under /usr/bin/time -v.
#   3. with --callgrind BINARY (a build without AVX-512: `make callgrind` makes build-cg/), a second
#      fresh-disk replay under callgrind: total instructions and the inclusive instructions of the
#      merge path (ClusterRuntime::OnRecord: decode and apply; RuleSet::OnInquiryEvents: the
#      viral rule's held events); with --massif BINARY one more under massif (peak heap, and
#      massif.txt in the work directory says where it was allocated).
# Checks: c's windows (query dump) are the same with and without the rule (the rule adds no
# window), every run exits 0, no offset reset.
#
#   bash bench/cluster-viral-cost.sh [--posts 40000] [--partials 4,8] [--rate 20]
#       [--commit-every 1000] [--settle 5] [--memory-budget MB] [--callgrind build-cg/brandpulse]
#       [--massif build-cg/brandpulse] [--brandpulse PATH] [--work DIR]
# Prints a TSV (and its path) with one row per (partials partitions, rule).
set -euo pipefail
cd "$(dirname "$0")/.."

posts=40000
partials=4,8
rate=20
commit_every=1000
settle=5
memory_budget=
callgrind_binary=
massif_binary=
brandpulse=build/brandpulse
work=build/cluster-viral-cost
while [ $# -gt 0 ]; do
  case "$1" in
    --posts) posts=$2; shift 2 ;;
    --partials) partials=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --commit-every) commit_every=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --memory-budget) memory_budget=$2; shift 2 ;;
    --callgrind) callgrind_binary=$2; shift 2 ;;
    --massif) massif_binary=$2; shift 2 ;;
    --brandpulse) brandpulse=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "cluster-viral-cost: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v kcat >/dev/null || { echo "cluster-viral-cost: kcat is missing" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "cluster-viral-cost: /usr/bin/time is missing (Debian package time)" >&2; exit 2; }
brandpulse=$(cd "$(dirname "$brandpulse")" && pwd)/$(basename "$brandpulse")
[ -z "$callgrind_binary" ] || callgrind_binary=$(cd "$(dirname "$callgrind_binary")" && pwd)/$(basename "$callgrind_binary")
[ -z "$massif_binary" ] || massif_binary=$(cd "$(dirname "$massif_binary")" && pwd)/$(basename "$massif_binary")
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

cluster_pid=
cleanup() {
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null || true
  jobs -p | xargs -r kill -KILL 2>/dev/null || true
}
trap cleanup EXIT
load() { cut -d' ' -f1 /proc/loadavg; }

# The two pipelines: tests/kafka/global-pipeline.yaml as it is (its watchlist made absolute, as
# the copies live in $work), and the same with a viral_post rule (docs/alerts.md's example limit of 50
# replies in 10 minutes: it fires rarely, so what differs is the copies, not alerts). `evidence: 3` (the default)
# sends a reply's text with each growth copy: the costly case docs/cluster.md measured.
watchlist=$PWD/pipelines/watchlists/nordic-spanish-telecoms.yaml
# --memory-budget MB replaces its state.memory_budget_mb (64), to see what the merger's memory follows.
sed "s#^watchlist: .*#watchlist: $watchlist#; ${memory_budget:+s#memory_budget_mb: .*#memory_budget_mb: $memory_budget#}" \
  tests/kafka/global-pipeline.yaml >"$work/viral-off.yaml"
awk '{ print } $0 == "alerts:" { print "  - {name: viral, type: viral_post, replies: 50, within: 10m}" }' \
  "$work/viral-off.yaml" >"$work/viral-on.yaml"
grep -q 'type: viral_post' "$work/viral-on.yaml" || { echo "cluster-viral-cost: no alerts: line to add the rule to" >&2; exit 2; }

"$brandpulse" generate --watchlist "$watchlist" --format twitter-v2 --count "$posts" --seed 5 \
  --mention-share 0.08 --rate "$rate" --disorder 20s --output "$work/firehose.jsonl"
replies=$(grep -c '"replied_to"' "$work/firehose.jsonl" || true)

# timed <name> <pipeline> [VAR=value...]: `brandpulse run` under /usr/bin/time -v in the
# background on $dir/<name>; sets $pid.
timed() {
  local name=$1 pipeline=$2
  shift 2
  mkdir -p "$dir/$name.out"
  env BRANDPULSE_BENCH=1 KAFKA_STATE="$dir/$name" KAFKA_OUT="$dir/$name.out" KAFKA_GROUP=viral \
    KAFKA_COMMIT_EVERY="$commit_every" KAFKA_WORKERS=1 "$@" \
    /usr/bin/time -v -o "$dir/$name.time" stdbuf -oL -eL "$brandpulse" run "$pipeline" --quiet \
    >"$dir/$name.log" 2>&1 &
  pid=$!
}
# finished <name>: waits for $pid; exits on failure. An instance still running 30 s after its
# end summary ("cluster: epochs committed") hangs in rd_kafka_consumer_close (librdkafka 2.0.2,
# confluentinc/librdkafka#4527: an incremental assign arriving while the consumer closes — seen
# when a and b reach the end together): it is killed (its work is committed before the close;
# /usr/bin/time still reports its usage) and counted in $hangs.
hangs=0
finished() {
  local summary_at='' child
  while kill -0 "$pid" 2>/dev/null; do
    if [ -z "$summary_at" ] && grep -q 'cluster: epochs committed' "$dir/$1.log" 2>/dev/null; then summary_at=$(date +%s); fi
    if [ -n "$summary_at" ] && [ $(($(date +%s) - summary_at)) -ge 30 ]; then
      child=$(pgrep -P "$pid" || true)
      echo "cluster-viral-cost: $1 hangs at close 30 s after its summary (librdkafka#4527); killing it" >&2
      [ -n "$child" ] && kill -KILL "$child"
      hangs=$((hangs + 1))
      wait "$pid" 2>/dev/null || true
      return
    fi
    sleep 0.2
  done
  wait "$pid" || { echo "cluster-viral-cost: run $1 failed ($dir/$1.log):" >&2; tail -n 20 "$dir/$1.log" >&2; exit 1; }
  if grep -qi 'offset reset' "$dir/$1.log"; then echo "cluster-viral-cost: offset reset in $1" >&2; exit 1; fi
}
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }
rss_mb() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
# "<copies> <bytes>" of growth copies a log's instance sent (0 0 without the rule)
copies() {
  local line
  line=$(grep -o 'growth event copies sent to every partials partition: [0-9]*, [0-9]* bytes' "$1" | tail -n 1 || true)
  if [ -z "$line" ]; then echo "0 0"; else echo "$line" | sed -E 's/.*: ([0-9]+), ([0-9]+) bytes/\1 \2/'; fi
}
source_records() { grep -o 'workers*: [0-9,]* records' "$1" | grep -o '[0-9,]* records' | tr -d ', records' | tail -n 1; }

results=$work/results.tsv
printf 'partials\trule\tlog_records\tlog_mb\tcopies_a+b\tcopies_mb\ta_posts\ta_cpu_s\ta_rss_mb\tb_posts\tb_cpu_s\tb_rss_mb\tlive_load\tc_restore_s\tc_cpu_s\tc_rss_mb\tc_wall_s\tc_load\tcg_total_Mir\tcg_onrecord_Mir\tcg_inquiry_Mir\tmassif_peak_heap_mb\n' >"$results"
for p in ${partials//,/ }; do
  for rule in off on; do
    dir=$work/p$p-$rule
    mkdir -p "$dir"
    "$brandpulse" dev-kafka --brokers 1 --topic posts:16 --partials-topic "partials:$p" \
      --bootstrap-file "$dir/bootstrap" </dev/null >"$dir/dev-kafka.log" 2>&1 &
    cluster_pid=$!
    for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
    export KAFKA_BROKERS
    KAFKA_BROKERS=$(cat "$dir/bootstrap")
    # a and b join first (on the empty topic, following it), so each reads its half from the
    # first post; then the posts; once the group's lag is 0 and the mergers had --settle seconds,
    # b and then a stop (SIGTERM: final commit; one after the other, see finished()).
    live_load=$(load)
    timed a "$work/viral-$rule.yaml" KAFKA_STOP_AT_END=false; a=$pid
    timed b "$work/viral-$rule.yaml" KAFKA_STOP_AT_END=false; b=$pid
    for _ in $(seq 300); do
      [ "$(cat "$dir"/a.log "$dir"/b.log | grep -c 'partials partitions gained')" -ge 2 ] &&
        grep -q '[1-9] partition(s) gained' "$dir/b.log" && grep -q '[1-9] partition(s) gained' "$dir/a.log" && break
      sleep 0.1
    done
    sleep 2
    awk '{ print NR "\t" $0 }' "$work/firehose.jsonl" | kcat -P -b "$KAFKA_BROKERS" -t posts -K "	"
    for _ in $(seq 600); do
      "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts --group viral >"$dir/lag.txt" 2>/dev/null || true
      grep -q '^total lag 0$' "$dir/lag.txt" && break
      sleep 0.5
    done
    grep -q '^total lag 0$' "$dir/lag.txt" || { echo "cluster-viral-cost: the group's lag never reached 0" >&2; exit 1; }
    sleep "$settle"
    kill -TERM "$(pgrep -P "$b")"; pid=$b; finished b
    kill -TERM "$(pgrep -P "$a")"; pid=$a; finished a
    a_posts=$(source_records "$dir/a.log")
    b_posts=$(source_records "$dir/b.log")
    c_load=$(load)
    started=$(date +%s.%N)
    timed c "$work/viral-$rule.yaml"
    finished c
    c_wall=$(echo "$(date +%s.%N) - $started" | bc)
    restored=$(grep 'partials restored' "$dir/c.log" | tail -n 1)
    [ -n "$restored" ] || { echo "cluster-viral-cost: c logged no partials restore" >&2; exit 1; }
    log_records=$(echo "$restored" | sed -E 's/.*restored: ([0-9]+) record.*/\1/')
    log_bytes=$(echo "$restored" | sed -E 's/.*record\(s\), ([0-9]+) bytes.*/\1/')
    c_restore=$(echo "$restored" | sed -E 's/.* in ([0-9.]+) s.*/\1/')
    "$brandpulse" query dump --state "$dir/c" >"$dir/c.windows"
    read -r ca cab <<<"$(copies "$dir/a.log")"
    read -r cb cbb <<<"$(copies "$dir/b.log")"
    cg_total=- cg_onrecord=- cg_inquiry=-
    if [ -n "$callgrind_binary" ]; then
      mkdir -p "$dir/cg.out"
      env BRANDPULSE_BENCH=1 KAFKA_STATE="$dir/cg" KAFKA_OUT="$dir/cg.out" KAFKA_GROUP=viral \
        KAFKA_COMMIT_EVERY="$commit_every" KAFKA_WORKERS=1 \
        valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
        "$callgrind_binary" run "$work/viral-$rule.yaml" --quiet >"$dir/cg.log" 2>&1 ||
        { echo "cluster-viral-cost: the callgrind run failed ($dir/cg.log)" >&2; exit 1; }
      callgrind_annotate --inclusive=yes "$dir/callgrind.out" >"$dir/callgrind.txt" 2>/dev/null
      mir() { awk -v pat="$1" 'index($0, pat) { gsub(",", "", $1); printf "%.1f", $1 / 1e6; exit }' "$dir/callgrind.txt"; }
      cg_total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.1f", $1 / 1e6; exit }' "$dir/callgrind.txt")
      cg_onrecord=$(mir 'ClusterRuntime::OnRecord(')
      cg_inquiry=$(mir 'RuleSet::OnInquiryEvents(')
    fi
    heap_mb=-
    if [ -n "$massif_binary" ]; then  # the replay's heap over time; its peak and where it was
      mkdir -p "$dir/ms.out"
      env BRANDPULSE_BENCH=1 KAFKA_STATE="$dir/ms" KAFKA_OUT="$dir/ms.out" KAFKA_GROUP=viral \
        KAFKA_COMMIT_EVERY="$commit_every" KAFKA_WORKERS=1 \
        valgrind --tool=massif --massif-out-file="$dir/massif.out" \
        "$massif_binary" run "$work/viral-$rule.yaml" --quiet >"$dir/ms.log" 2>&1 ||
        { echo "cluster-viral-cost: the massif run failed ($dir/ms.log)" >&2; exit 1; }
      ms_print "$dir/massif.out" >"$dir/massif.txt"
      heap_mb=$(awk -F= '/^mem_heap_B=/ { if ($2 > m) m = $2 } END { printf "%.1f", m / 1048576 }' "$dir/massif.out")
    fi
    kill "$cluster_pid" 2>/dev/null || true
    wait "$cluster_pid" 2>/dev/null || true
    cluster_pid=
    printf '%s\t%s\t%s\t%.2f\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\n' "$p" "$rule" \
      "$log_records" "$(echo "$log_bytes / 1048576" | bc -l)" "$((ca + cb))" "$(echo "($cab + $cbb) / 1048576" | bc -l)" \
      "$a_posts" "$(cpu "$dir/a.time")" "$(rss_mb "$dir/a.time")" "$b_posts" "$(cpu "$dir/b.time")" "$(rss_mb "$dir/b.time")" \
      "$live_load" "$c_restore" "$(cpu "$dir/c.time")" "$(rss_mb "$dir/c.time")" "$c_wall" "$c_load" \
      "$cg_total" "$cg_onrecord" "$cg_inquiry" "$heap_mb" | tee -a "$results"
  done
  cmp -s "$work/p$p-off/c.windows" "$work/p$p-on/c.windows" ||
    { echo "cluster-viral-cost: with $p partials partitions the windows differ with and without the rule" >&2; exit 1; }
done
echo "cluster-viral-cost: $posts posts ($replies replies), $(date -u '+%H:%M UTC'), load $(load); $hangs instance(s) killed hanging at close; $results"
column -t -s $'\t' "$results"
