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
#   phase 2 (stop 26, per-brand state; posts2, partials2): the same with `dedup`, `unanswered` and
#     `viral_post` (tests/kafka/snapshot-state-pipeline.yaml), a2 stopped halfway with open
#     inquiries, held events and tracked posts, b2 restoring them from the snapshots (see below).
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
kafka_start_cluster 1 posts:8 partials:2 partials.snapshots:2 posts2:8 partials2:2 \
  partials2.snapshots:2

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
partials_topic=partials
junk() {  # junk <partition> <records> <bytes each>
  local record
  record=$(head -c "$3" /dev/zero | tr '\0' 'j')
  for _ in $(seq "$2"); do echo "$record"; done |
    kcat -P -b "$KAFKA_BROKERS" -t "$partials_topic" -p "$1" -X batch.num.messages=1
}
start_of() {  # start_of <partition>: the partition's first offset
  "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic "$partials_topic" --group nobody 2>/dev/null |
    awk -v p="$1" '$1 == p { print $NF }'
}
drop_beginnings() {  # drop_beginnings <run whose newest snapshots bound it>
  local partition newest start
  for partition in 0 1; do
    newest=$({ grep -oE "snapshot [0-9a-f]+:[0-9]+ of partials partition $partition as of offset [0-9]+" "$work/$1/runs.log" || true; } |
      tail -n 1 | awk '{ print $NF }')
    # (without a snapshot the beginning goes all the same: the next run must then stop on it)
    [ -n "$newest" ] || fail "$1 published no snapshot of partials partition $partition"
    junk "$partition" 540 8192
    start=$(start_of "$partition")
    for _ in $(seq 200); do
      [ "${start:-0}" -gt 0 ] && break
      junk "$partition" 8 1024
      start=$(start_of "$partition")
    done
    echo "snapshot-test: $partials_topic partition $partition: start offset ${start:-?} after the junk, $1's newest snapshot as of offset $newest"
    # (a margin of 20 records: the next run's own first records to the partition push the start
    # on before it reads from the snapshot's offset)
    [ "${start:-0}" -gt 0 ] && [ "$start" -le $((${newest:-1000000} - 20)) ] ||
      { echo "snapshot-test: the mock did not drop the beginning of $partials_topic partition $partition (start ${start:-?}, snapshot $newest)" >&2; exit 2; }
  done
}
drop_beginnings a

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

echo "snapshot-test: $(wc -l <"$work/reference/windows.txt") windows, $(wc -l <"$work/reference/alert-ids.txt") alert ids"

# ---- Phase 2: per-brand state (stop 26) ----
# The pipeline of tests/kafka/snapshot-state-pipeline.yaml: `dedup` at the merger, `unanswered`
# and `viral_post` (their held events, open inquiries and tracked posts are state outside the
# windows), snapshots every epoch; the posts of tests/kafka/inquiry-posts.py, with copies of
# about a third of the plain mentions 1-3 posts later (dedup drops them; at most 8 s apart).
#   a2 reads the first half of posts2 (stop_at_end off: its merged watermark stays behind the
#     newest posts, so inquiries are open, events held and posts tracked) and stops (SIGTERM)
#     once its snapshots are of everything it read; the second half is produced; the beginning
#     of each partials2 partition is deleted;
#   b2, on a fresh disk, must start both partitions from a2's snapshots (rule state included:
#     its "rule-state entries ... restored" line), read the rest and end with windows
#     byte-identical to a single-process file run of all posts, the alert ids of a2 and b2
#     together equal to the file run's, and none of a2's fired again (the snapshot says they
#     fired). Before stop 26 `dedup`, `unanswered` and `viral_post` switched snapshots off: a2
#     published none and b2 replayed from offset 0, which is gone.
state_posts=4000
input=$work/state-posts.jsonl
python3 tests/kafka/inquiry-posts.py "$state_posts" "$seed" | python3 -c '
import random, sys
rng = random.Random(int(sys.argv[1]))
lines = sys.stdin.read().splitlines()
out, pending = [], []
for line in lines:
    out.append(line)
    pending = [(due - 1, copy) for due, copy in pending]
    out.extend(copy for due, copy in pending if due <= 0)
    pending = [(due, copy) for due, copy in pending if due > 0]
    if "\"id\":\"m" in line and rng.random() < 0.35:
        pending.append((rng.randint(1, 3), line))
out.extend(copy for _, copy in pending)
print("\n".join(out))' "$seed" >"$input"
total=$(wc -l <"$input")
half=$((total / 2))
echo "snapshot-test: phase 2: $total posts ($(grep -c '"id":"q' "$input") inquiries, $((total - state_posts)) copies)"
produce() {  # produce <first line> <last line>: to posts2 under random keys
  sed -n "$1,$2p" "$input" | awk -v seed="$1" 'BEGIN { srand(seed) } { print int(rand() * 1000000) "\t" $0 }' |
    kcat -P -b "$KAFKA_BROKERS" -t posts2 -X batch.num.messages=100 -K "	"
}
state_common=(KAFKA_GROUP=snap2 KAFKA_TOPIC=posts2 KAFKA_PARTIALS=partials2 KAFKA_COMMIT_EVERY=50
              KAFKA_SNAPSHOT_EVERY=1)
run reference2 tests/kafka/snapshot-state-file-pipeline.yaml KAFKA_COMMIT_EVERY=50
finish reference2 || exit 1
"$brandpulse" query dump --state "$work/reference2/state" >"$work/reference2/windows.txt"
ids "$work/reference2/out/alerts.jsonl" >"$work/reference2/alert-ids.txt"
[ -s "$work/reference2/alert-ids.txt" ] || { echo "snapshot-test: the phase 2 reference fired no alert" >&2; exit 2; }

produce 1 "$half"
run a2 tests/kafka/snapshot-state-pipeline.yaml "${state_common[@]}" KAFKA_STOP_AT_END=false
lag2() { "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts2 --group snap2 2>&1; }
for _ in $(seq 600); do lag2 | grep -q '^total lag 0$' && break; sleep 0.1; done
lag2 | grep -q '^total lag 0$' || fail "a2 did not read the first half within 60 s"
# Two more snapshots of each partition after the group's offsets reached the end: of everything
# a2 read (its quiet commits apply what is left and snapshot it).
published() { grep -c "snapshot [0-9a-f]*:[0-9]* of partials partition $1 as of" "$work/a2/runs.log" || true; }
seen0=$(published 0)
seen1=$(published 1)
for _ in $(seq 300); do
  [ "$(published 0)" -ge $((seen0 + 2)) ] && [ "$(published 1)" -ge $((seen1 + 2)) ] && break
  sleep 0.1
done
kill -TERM "$pid"
finish a2 || exit 1
grep -q 'snapshots off' "$work/a2/runs.log" && fail "a2 switched snapshots off: $(grep -o 'snapshots off.*' "$work/a2/runs.log" | head -n 1)"
produce $((half + 1)) "$total"
partials_topic=partials2
drop_beginnings a2

run b2 tests/kafka/snapshot-state-pipeline.yaml "${state_common[@]}"
finish_within b2 900 || exit 1
[ "$(grep -c 'starts from snapshot' "$work/b2/runs.log")" -ge 2 ] || fail "b2 did not start both partials partitions from snapshots"
restored=$(grep -o '[0-9]* rule-state entr[a-z]* of [0-9]* partials partition(s) restored from snapshots' "$work/b2/runs.log" | head -n 1)
echo "snapshot-test: b2: ${restored:-no rule state restored}"
[ "${restored%% *}" -gt 0 ] 2>/dev/null || fail "b2 restored no rule state from the snapshots"
"$brandpulse" query dump --state "$work/b2/state" >"$work/b2/windows.txt"
cmp -s "$work/reference2/windows.txt" "$work/b2/windows.txt" ||
  { fail "b2's windows (dedup, inquiries; from snapshots, beginning gone) differ from the file run's"; diff "$work/reference2/windows.txt" "$work/b2/windows.txt" | head -n 6 || true; }
ids "$work/a2/out/alerts.jsonl" >"$work/a2/alert-ids.txt"
ids "$work/b2/out/alerts.jsonl" >"$work/b2/alert-ids.txt"
sort -u "$work/a2/alert-ids.txt" "$work/b2/alert-ids.txt" >"$work/ab2-alert-ids.txt"
cmp -s "$work/reference2/alert-ids.txt" "$work/ab2-alert-ids.txt" ||
  { fail "the alert ids of a2 and b2 differ from the file run's"; diff "$work/reference2/alert-ids.txt" "$work/ab2-alert-ids.txt" | head -n 6 || true; }
again=$(comm -12 "$work/a2/alert-ids.txt" "$work/b2/alert-ids.txt" | wc -l)
[ "$again" -eq 0 ] || fail "b2 fired $again alert(s) a2 had fired (the snapshot's state did not say so)"
echo "snapshot-test: phase 2: $(wc -l <"$work/reference2/windows.txt") windows, $(wc -l <"$work/reference2/alert-ids.txt") alert ids ($(wc -l <"$work/a2/alert-ids.txt") by a2, $(wc -l <"$work/b2/alert-ids.txt") by b2)"
grep -q 'offset reset' "$work/b2/runs.log" && fail "b2 hit an offset reset"

echo "snapshot-test: $failures failure(s)"
[ "$failures" -eq 0 ]
