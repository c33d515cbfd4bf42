#!/usr/bin/env bash
# Idle source partitions across instances (issue 11, docs/cluster.md "Idle source partitions"),
# with real processes: `brandpulse dev-kafka` (posts:4, partials:2, partials2:2), 3,000
# generated posts at 2 posts/s of event time (25 min); the first 240 go to all 4 partitions,
# the rest to partitions 0-2 only, so partition 3 stops at about 2 minutes of event time.
# Two instances x and y with `cluster:` share a group and run without `stop_at_end`:
#   - with `time.idle_timeout: 2s` the reader of partition 3 reports it idle, the mergers leave
#     it out of the merged watermark, and the 5-minute windows close while the instances run:
#     the alerts of every window that starts in the first 15 minutes equal a single-process
#     file run's (ids), and no alert id is one the file run does not fire;
#   - with the timeout off (the default, and what every version before stop 25 did with
#     `cluster:`) partition 3 holds z's windows open: no alert of a window from the input's
#     start on while it runs.
#
#   tests/kafka/idle-test.sh [--brandpulse PATH] [--work DIR]
# Exit 0 when all hold; 1 on a difference; 2 on a setup error.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."

test_name=idle-test
brandpulse=build/brandpulse
work=build/idle-test
source tests/kafka/lib.sh
kafka_parse_options "$@"
kafka_prepare
kafka_start_cluster 1 posts:4 partials:2 partials2:2

input=$work/firehose.jsonl
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count 3000 --seed 31 --mention-share 0.3 --rate 2 --disorder 10s \
  --output "$input"
for partition in 0 1 2 3; do
  awk -v p="$partition" 'NR <= 240 ? (NR % 4 == p) : (p < 3 && NR % 3 == p)' "$input" |
    kcat -P -b "$KAFKA_BROKERS" -t posts -p "$partition" -X batch.num.messages=100
done
echo "idle-test: 3000 posts produced; partition 3 gets only the first $(awk 'NR <= 240 && NR % 4 == 3' "$input" | wc -l)"

ids() { alert_ids "$@" | sed 's/"alert_id":"//; s/"$//' | sort -u; }
# Alert ids of windows that start in the first 15 minutes (the id ends with the window's start).
early() { awk -F/ -v limit=$((1767225600000 + 15 * 60000)) '$NF < limit'; }

run reference tests/kafka/idle-file-pipeline.yaml
finish reference || exit 1
ids "$work/reference/out/alerts.jsonl" >"$work/reference/alert-ids.txt"
early <"$work/reference/alert-ids.txt" >"$work/reference/early-ids.txt"
[ -s "$work/reference/early-ids.txt" ] || { echo "idle-test: the reference fired no early alert" >&2; exit 2; }

# With the idle timeout: x and y.
run x tests/kafka/idle-pipeline.yaml KAFKA_GROUP=idle
x=$pid
run y tests/kafka/idle-pipeline.yaml KAFKA_GROUP=idle
y=$pid
wait_for "$work/x/runs.log" "source partitions idle" 600 || wait_for "$work/y/runs.log" "source partitions idle" 10 ||
  fail "no instance reported a source partition idle"
# Until the alerts of the first 15 minutes are all there (or 60 s).
for _ in $(seq 120); do
  ids "$work"/{x,y}/out/alerts.jsonl | early | cmp -s "$work/reference/early-ids.txt" - && break
  sleep 0.5
done
sleep 2
kill -TERM "$x" "$y"
pid=$x; finish x || true
pid=$y; finish y || true
grep -h 'source partitions idle\|partials partitions gained' "$work"/{x,y}/runs.log | sed 's/^/idle-test: /'
ids "$work"/{x,y}/out/alerts.jsonl >"$work/xy-alert-ids.txt"
early <"$work/xy-alert-ids.txt" >"$work/xy-early-ids.txt"
cmp -s "$work/reference/early-ids.txt" "$work/xy-early-ids.txt" ||
  { fail "the alerts of the first 15 minutes differ from the single-process run"; diff "$work/reference/early-ids.txt" "$work/xy-early-ids.txt" | head || true; }
extra=$(comm -13 "$work/reference/alert-ids.txt" "$work/xy-alert-ids.txt" | wc -l)
[ "$extra" -eq 0 ] || { fail "$extra alert id(s) the single-process run does not fire"; comm -13 "$work/reference/alert-ids.txt" "$work/xy-alert-ids.txt" | head -n 5; }
check_epochs ' 0 conflict(s)' "a merger refused epochs (conflicts)" x y

# Without it: every window stays open while z runs (partition 3 holds the merged watermark).
run z tests/kafka/idle-pipeline.yaml KAFKA_GROUP=not-idle KAFKA_PARTIALS=partials2 KAFKA_IDLE_TIMEOUT=0s
z=$pid
wait_for "$work/z/runs.log" "partials restored" 600 || fail "z never restored its partials partitions"
sleep 10
kill -TERM "$z"
pid=$z; finish z || true
grep -q 'source partitions idle' "$work/z/runs.log" && fail "z reported a partition idle without the timeout"
# (windows before the input's first minute close: some posts are up to 10 s early)
z_alerts=$(ids "$work/z/out/alerts.jsonl" | awk -F/ '$NF >= 1767225600000' | wc -l)
[ "$z_alerts" -eq 0 ] || fail "z fired $z_alerts alert(s) of windows after the start with partition 3 holding the watermark"
echo "idle-test: reference $(wc -l <"$work/reference/alert-ids.txt") alert ids ($(wc -l <"$work/reference/early-ids.txt") in the first 15 min); x+y with idle_timeout $(wc -l <"$work/xy-alert-ids.txt") ($(wc -l <"$work/xy-early-ids.txt") early); z without it $(ids "$work/z/out/alerts.jsonl" | wc -l), $z_alerts from the start on"

[ "$failures" -eq 0 ] && echo "idle-test: all checks passed"
[ "$failures" -eq 0 ]
