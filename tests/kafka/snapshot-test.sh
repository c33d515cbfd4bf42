#!/usr/bin/env bash
# Snapshots bound a merger's restore (issue 11, docs/cluster.md "Snapshots"), with real
# processes: `brandpulse dev-kafka` (1 broker, posts:8, partials:2 and partials.snapshots:2), kcat
# producing a generated firehose, brandpulse instances with `cluster:`.
#   a runs alone to the end with `snapshot_every_epochs: 1`: it publishes a snapshot of each
#     partials partition at its commits;
#   then the beginning of every partials partition is deleted: junk records (not partials; a merger
#     counts them as corrupt and skips them) are appended until the mock's size limit (~5 MiB per
#     partition) drops the oldest records — checked: each partition's start offset is above 0 and
#     not above a's newest snapshot of it;
#   b, on a fresh disk, with snapshots: it must start each partition from a snapshot, read only
#     the partials after it, and end with windows byte-identical to a single-process file run's
#     (and a's), and the same alert ids;
#   c, on a fresh disk, without snapshots (what every gain did before): it replays from offset 0,
#     which is gone: it must stop and say so (before stop 25 it read from the first offset left,
#     applied no epoch — the first ones were gone — and waited forever for the global end).
#
#   tests/kafka/snapshot-test.sh [--posts N] [--seed N] [--commit-every N] [--brandpulse PATH]
#                                [--work DIR]
# Exit 0 when all hold; 1 on a difference; 2 on a setup error. `make snapshot-test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

test_name=snapshot-test
posts=20000
seed=13
commit_every=100
brandpulse=build/brandpulse
work=build/snapshot-test
source tests/kafka/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --posts) posts=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --commit-every) commit_every=$2; shift 2 ;;
    *) kafka_common_option "$1" "${2:-}" || { echo "snapshot-test: unknown argument $1" >&2; exit 2; }; shift 2 ;;
  esac
done
kafka_prepare
kafka_start_cluster 1 posts:8 partials:2 partials.snapshots:2

input=$work/firehose.jsonl
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$posts" --seed "$seed" --mention-share 0.08 --rate 1 \
  --disorder 20s --output "$input"
awk '{ print NR "\t" $0 }' "$input" | kcat -P -b "$KAFKA_BROKERS" -t posts -K "	"

run reference tests/kafka/global-file-pipeline.yaml KAFKA_COMMIT_EVERY=$commit_every
finish reference || exit 1
"$brandpulse" query dump --state "$work/reference/state" >"$work/reference/windows.txt"
[ -s "$work/reference/windows.txt" ] || { echo "snapshot-test: the reference has no windows" >&2; exit 2; }
ids() { grep -o '"alert_id":"[^"]*"' "$1" | sort -u || true; }
ids "$work/reference/out/alerts.jsonl" >"$work/reference/alert-ids.txt"

common=(KAFKA_GROUP=snap KAFKA_COMMIT_EVERY=$commit_every KAFKA_WORKERS=1)
run a tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_SNAPSHOT_EVERY=1
finish a || exit 1
"$brandpulse" query dump --state "$work/a/state" >"$work/a/windows.txt"
cmp -s "$work/reference/windows.txt" "$work/a/windows.txt" || fail "a's windows differ from the reference's"

# The beginning of each partials partition goes: junk records until the mock's size limit drops
# the oldest records (the start offset leaves 0): ~4.3 MiB at once, then 8 KiB at a time, so that
# it stays below a's newest snapshot of the partition (the records after it are needed).
junk() {  # junk <partition> <records> <bytes each>
  local record
  record=$(head -c "$3" /dev/zero | tr '\0' 'j')
  for _ in $(seq "$2"); do echo "$record"; done |
    kcat -P -b "$KAFKA_BROKERS" -t partials -p "$1" -X batch.num.messages=1
}
start_of() {  # start_of <partition>: the partition's first offset
  "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic partials --group nobody 2>/dev/null |
    awk -v p="$1" '$1 == p { print $NF }'
}
for partition in 0 1; do
  newest=$(grep -oE "snapshot [0-9a-f]+:[0-9]+ of partials partition $partition as of offset [0-9]+" "$work/a/runs.log" |
    tail -n 1 | awk '{ print $NF }')
  [ -n "$newest" ] || { fail "a published no snapshot of partials partition $partition"; continue; }
  junk "$partition" 540 8192
  start=$(start_of "$partition")
  for _ in $(seq 200); do
    [ "${start:-0}" -gt 0 ] && break
    junk "$partition" 8 1024
    start=$(start_of "$partition")
  done
  echo "snapshot-test: partials partition $partition: start offset ${start:-?} after the junk, a's newest snapshot as of offset $newest"
  # (a margin of 20 records: b's own first records to the partition push the start on before it
  # reads from the snapshot's offset)
  [ "${start:-0}" -gt 0 ] && [ "$start" -le $((newest - 20)) ] ||
    { echo "snapshot-test: the mock did not drop the beginning of partition $partition (start ${start:-?}, snapshot $newest)" >&2; exit 2; }
done

# (a bounded wait: a binary without snapshots replays b from the first offset left, applies no
# epoch and never reaches the global end)
finish_within() {  # finish_within <name> <tenths>
  for _ in $(seq "$2"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    fail "$1 did not end within $(($2 / 10)) s:"
    tail -n 5 "$work/$1/runs.log"
    return 1
  fi
  finish "$1"
}
run b tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_SNAPSHOT_EVERY=1
finish_within b 900 || exit 1
[ "$(grep -c 'starts from snapshot' "$work/b/runs.log")" -ge 2 ] || fail "b did not start both partials partitions from snapshots"
grep 'partials restored' "$work/b/runs.log" | head -n 1 | sed 's/^.*cluster: /snapshot-test: b: /'
"$brandpulse" query dump --state "$work/b/state" >"$work/b/windows.txt"
cmp -s "$work/reference/windows.txt" "$work/b/windows.txt" ||
  fail "b's windows (from snapshots, beginning gone) differ from the reference's ($(wc -l <"$work/b/windows.txt") vs $(wc -l <"$work/reference/windows.txt"))"
ids "$work/b/out/alerts.jsonl" >"$work/b/alert-ids.txt"
cmp -s "$work/reference/alert-ids.txt" "$work/b/alert-ids.txt" || fail "b's alert ids differ from the reference's"
grep -q 'offset reset' "$work/b/runs.log" && fail "b hit an offset reset"

run c tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_SNAPSHOT_EVERY=0
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid" 2>/dev/null || true
  fail "c (no snapshots, the partials' beginning gone) did not stop within 60 s"
else
  wait "$pid" && c_exit=0 || c_exit=$?
  if [ "$c_exit" -eq 0 ] || ! grep -q 'its beginning was deleted' "$work/c/runs.log"; then
    fail "c (no snapshots, the partials' beginning gone) did not stop on the deleted beginning (exit $c_exit)"
  else
    echo "snapshot-test: c without snapshots stopped as it must: $(grep -o 'partials partition [0-9]* is replayed from offset 0 but its first record is at offset [0-9]*' "$work/c/runs.log" | head -n 1)"
  fi
fi

echo "snapshot-test: $(wc -l <"$work/reference/windows.txt") windows, $(wc -l <"$work/reference/alert-ids.txt") alert ids; $failures failure(s)"
[ "$failures" -eq 0 ]
