#!/usr/bin/env bash
# Kafka in and out with real processes: `brandpulse dev-kafka` (librdkafka's mock cluster, 3
# brokers, an 8-partition topic), `kcat` producing a generated firehose, `brandpulse run`
# consuming it. Checks:
#   1. windows and alert ids of a Kafka run equal a file run over the same posts;
#   2. a run killed with SIGKILL --kills times and restarted on its old state stays exact;
#   3. the group's committed offsets reach the topic's end offsets (`brandpulse kafka-lag`);
#   4. no offset reset anywhere (auto.offset.reset=error, and the logs say none happened);
#   5. alerts reach the alerts topic keyed by brand, dead letters reach theirs;
#   6. a second instance joining the group mid-run takes half the partitions (cooperative
#      rebalance: the first commits them before letting go): per window, mentions and reach
#      summed over the two instances: none lost; counted twice is reported (per-instance
#      state cannot rule it out when the group refuses commits during a handover,
#      docs/cluster.md), and with none counted twice the sums equal the file run.
#
#   tests/kafka/kafka-test.sh [--posts N] [--kills N] [--seed N] [--brandpulse PATH] [--work DIR]
# Exit 0 when all hold; 1 on a difference; 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/../.."

test_name=kafka-test
posts=20000
kills=3
seed=11
brandpulse=build/brandpulse
work=build/kafka-test
source tests/kafka/lib.sh
kafka_options=(--posts posts --kills kills --seed seed)
kafka_parse_options "$@"
kafka_prepare
kafka_start_cluster 3 posts:8 alerts:2 dead-letters:1

input=$work/firehose.jsonl
kafka_generate_firehose "$input" "$posts" "$seed" 400
# (the mock keeps only ~5 MiB per partition; keep --posts below ~60000)
kafka_produce_numbered posts "$input"
echo "kafka-test: $posts posts produced to 8 partitions on 3 brokers ($KAFKA_BROKERS)"

check_run() {  # check_run <name> <group>: windows, alerts, offsets, resets against the reference
  local name=$1 group=$2
  check_windows "$name" "$name: windows differ from the file run"
  alert_ids "$work/$name/out/alerts.jsonl" | sort -u >"$work/$name/alert-ids.txt"
  check_ids "$work/$name/alert-ids.txt" "$name: alert ids differ from the file run"
  check_lag "$group" "$work/$name/lag.txt" "$name: "
  if grep -i 'offset reset' "$work/$name/runs.log"; then fail "$name: an offset reset happened"; fi
  echo "kafka-test: $name: $(wc -l <"$work/$name/windows.txt") windows, $(wc -l <"$work/$name/alert-ids.txt") alert ids, $(tail -n 1 "$work/$name/lag.txt")"
}

# The reference: the same posts from the file.
kafka_reference tests/kafka/file-pipeline.yaml
[ -s "$work/reference/windows.txt" ] || { echo "kafka-test: the reference has no windows" >&2; exit 2; }
[ -s "$work/reference/alert-ids.txt" ] || { echo "kafka-test: the reference fired no alert" >&2; exit 2; }

# 1. One uninterrupted Kafka run.
run straight tests/kafka/pipeline.yaml KAFKA_GROUP=straight
finish straight && check_run straight straight
alerts_on_topic=$(kcat -C -b "$KAFKA_BROKERS" -t alerts -o beginning -e -q -f '%k %s\n' |
  awk '{ split($0, f, "\"brand\":\""); split(f[2], b, "\""); if ($1 == b[1]) ok++ } END { print ok + 0 }')
[ "$alerts_on_topic" -ge "$(wc -l <"$work/reference/alert-ids.txt")" ] ||
  fail "straight: $alerts_on_topic alerts keyed by their brand on the alerts topic"
dead_on_topic=$(kcat -C -b "$KAFKA_BROKERS" -t dead-letters -o beginning -e -q | wc -l)
dead_in_file=$(wc -l <"$work/reference/out/dead-letter.jsonl")
[ "$dead_on_topic" -ge "$dead_in_file" ] && [ "$dead_in_file" -gt 0 ] ||
  fail "straight: $dead_on_topic dead letters on the topic, $dead_in_file in the file run"

# 2. Killed with SIGKILL while consuming, restarted on its old state, until it finishes. Small
# fetches from brokers answering 100 ms late (records in batches of 100) stretch the consumption over seconds.
kafka_control "rtt -1 100" >/dev/null
done_kills=0
killed_records=0
RANDOM=$seed
while true; do
  mkdir -p "$work/killed"
  touch "$work/killed/runs.log"
  before=$(wc -l <"$work/killed/runs.log")
  run killed tests/kafka/pipeline.yaml KAFKA_GROUP=killed KAFKA_COMMIT_EVERY=1000 KAFKA_WORKERS=1 \
    KAFKA_FETCH_BYTES=8192
  if [ "$done_kills" -lt "$kills" ]; then
    # Wait for this run's assignment (joining takes seconds on the mock), then kill it while
    # it consumes.
    for _ in $(seq 400); do
      awk -v b="$before" 'NR > b && /gained/ { f = 1 } END { exit !f }' "$work/killed/runs.log" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    sleep "0.$((RANDOM % 10))"
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      wait "$pid" 2>/dev/null || true
      done_kills=$((done_kills + 1))
      continue
    fi
  fi
  finish killed || break
  break
done
kafka_control "rtt -1 0" >/dev/null
resumed=$(grep -c '^resumed from committed position' "$work/killed/runs.log" || true)
final_records=$(grep -o "finished in .* s with .*: [0-9,]* records" "$work/killed/runs.log" | tail -n 1 | grep -o '[0-9,]* records' | tr -d ,)
[ "$done_kills" -ge 1 ] || fail "killed: the run finished before any kill"
check_run killed killed
echo "kafka-test: killed: $done_kills kills with SIGKILL, restarted on the old state; the last run read ${final_records:-?}"
# The kills landed while consuming: the run that finished had records left to read.
[ "${final_records% records}" -gt 0 ] 2>/dev/null || fail "killed: every kill came after the input was consumed"

# 6. Two instances following a second topic: a reads the first half; b joins and takes half
# the partitions (a commits them, then lets go); the second half is produced; both stop
# gracefully once the group's offsets reach the end.
kafka_control "topic shared 8" >/dev/null
half=$((posts / 2))
produce_lines() { awk -v from="$1" -v to="$2" 'NR >= from && NR <= to { print NR "\t" $0 }' "$input" |
  kcat -P -b "$KAFKA_BROKERS" -t shared -K "	"; }
produce_lines 1 "$half"
shared_env=(KAFKA_TOPIC=shared KAFKA_GROUP=shared KAFKA_STOP_AT_END=false KAFKA_COMMIT_EVERY=1000 KAFKA_WORKERS=1)
mkdir -p "$work/shared-a" "$work/shared-b"
touch "$work/shared-a/runs.log" "$work/shared-b/runs.log"
run shared-a tests/kafka/pipeline.yaml "${shared_env[@]}"
a=$pid
wait_for "$work/shared-a/runs.log" gained 200 || true
sleep 1
run shared-b tests/kafka/pipeline.yaml "${shared_env[@]}"
b=$pid
wait_for "$work/shared-b/runs.log" '[1-9][0-9]* partition(s) gained' 300 || true
produce_lines $((half + 1)) "$posts"
for _ in $(seq 300); do
  "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic shared --group shared >"$work/shared-lag.txt" 2>/dev/null || true
  grep -q '^total lag 0$' "$work/shared-lag.txt" && break
  sleep 0.2
done
kill -TERM "$a" "$b"
pid=$a; finish shared-a || true
pid=$b; finish shared-b || true
for instance in shared-a shared-b; do
  "$brandpulse" query dump --state "$work/$instance/state" >"$work/$instance/windows.txt"
done
# brand dimension size slide start mentions reach ...: the exact counters, summed per window.
sum_windows() { awk '{ key = $1 " " $2 " " $3 " " $4 " " $5; m[key] += $6; r[key] += $7 }
  END { for (k in m) print k, m[k], r[k] }' "$@" | sort; }
sum_windows "$work/reference/windows.txt" >"$work/reference/sums.txt"
sum_windows "$work/shared-a/windows.txt" "$work/shared-b/windows.txt" >"$work/shared-sums.txt"
moved=$(grep -h 'partition(s) gained' "$work/shared-a/runs.log" | grep -vc ' 0 lost' || true)
b_records=$(grep -o 'workers*: [0-9,]* records' "$work/shared-b/runs.log" | grep -o '[0-9,]* records' | tr -d ', records')
a_records=$(grep -o 'workers*: [0-9,]* records' "$work/shared-a/runs.log" | grep -o '[0-9,]* records' | tr -d ', records')
[ "$moved" -ge 1 ] && [ "${b_records:-0}" -gt 0 ] ||
  fail "shared: no partition moved from a to b ($(grep -h gained "$work/shared-a/runs.log" | tr '\n' ';'))"
[ $((${a_records:-0} + ${b_records:-0})) -ge "$posts" ] ||
  fail "shared: a read ${a_records:-?} and b ${b_records:-?} records, fewer than $posts together"
# Mentions lost (below the reference) and counted twice (above it), over every window.
read -r lost twice < <(join -a1 -a2 -e 0 -o 0,1.2,2.2 \
    <(awk '{ print $1 "|" $2 "|" $3 "|" $4 "|" $5, $6 }' "$work/reference/sums.txt" | sort) \
    <(awk '{ print $1 "|" $2 "|" $3 "|" $4 "|" $5, $6 }' "$work/shared-sums.txt" | sort) |
  awk '{ d = $3 - $2; if (d < 0) l -= d; else t += d } END { print l + 0, t + 0 }')
[ "$lost" -eq 0 ] || fail "shared: $lost mentions lost across the rebalance"
if [ "$twice" -gt 0 ]; then
  # Per-instance state cannot rule this out: a partition handed over while the group refused
  # offset commits (rebalance in progress) is re-read by its next owner from the group's older
  # offsets (docs/cluster.md, "Several instances today"). Reported, not failed; the exact
  # cross-instance guarantee is the global-windows design's job.
  echo "kafka-test: shared: NOTE: $twice mentions counted twice across the two instances"
elif ! cmp -s "$work/reference/sums.txt" "$work/shared-sums.txt"; then
  fail "shared: mentions/reach summed over a and b differ from the file run"
  diff "$work/reference/sums.txt" "$work/shared-sums.txt" | head -n 10
fi
if grep -i 'offset reset' "$work/shared-a/runs.log" "$work/shared-b/runs.log"; then fail "shared: an offset reset happened"; fi
grep -q '^total lag 0$' "$work/shared-lag.txt" || fail "shared: committed offsets are not at the end"
echo "kafka-test: shared: a read ${a_records:-?} records, b ${b_records:-?} after taking partitions from a; $(wc -l <"$work/shared-sums.txt") windows; mentions lost $lost, counted twice $twice"

[ "$failures" -eq 0 ] && echo "kafka-test: all checks passed"
[ "$failures" -eq 0 ]
