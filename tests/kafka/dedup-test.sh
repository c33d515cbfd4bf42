#!/usr/bin/env bash
# De-duplication across instances (issue 11, docs/cluster.md "De-duplication across
# instances"), with real processes: `brandpulse dev-kafka` (posts:8, partials:4), kcat producing
# Mastodon statuses of which about 30% are replayed under other keys (the copies sit on other
# partitions, read by other instances) and 5% edited under their own key
# (tests/kafka/dedup-posts.py), and brandpulse instances with `dedup` and a `cluster:` section
# sharing one consumer group:
#   a starts alone; b joins while a consumes; a is killed with SIGKILL and restarted on its old
#   state; both run to the end of the topic; then c, on a fresh disk, runs alone and replays
#   every partials partition.
# Checks: c's windows equal a single-process file run's with `dedup` byte for byte (`query
# dump`); the alert ids of a and b together, and c's, equal the file run's; the mergers dropped
# the copies (post events published and merged, duplicates dropped, edits applied); no conflicts,
# no late deltas, nothing late or dead-lettered, lag 0.
#
#   tests/kafka/dedup-test.sh [--posts N] [--seed N] [--commit-every N] [--brandpulse PATH]
#                             [--work DIR]
# Exit 0 when all hold; 1 on a difference; 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/../.."

test_name=dedup-test
posts=3000
seed=5
commit_every=800
brandpulse=build/brandpulse
work=build/dedup-test
source tests/kafka/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --posts) posts=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --commit-every) commit_every=$2; shift 2 ;;
    *) kafka_common_option "$1" "${2:-}" || { echo "dedup-test: unknown argument $1" >&2; exit 2; }; shift 2 ;;
  esac
done
kafka_prepare
kafka_start_cluster 3 posts:8 partials:4

input=$work/posts.jsonl
python3 tests/kafka/dedup-posts.py "$posts" "$seed" >"$work/posts.tsv"
cut -f2- "$work/posts.tsv" >"$input"
kcat -P -b "$KAFKA_BROKERS" -t posts -X batch.num.messages=100 -K "	" <"$work/posts.tsv"
records=$(wc -l <"$input")
unique=$(grep -o '"id":"[0-9]*"' "$input" | sort -u | wc -l)
edits=$(grep -c '"edited_at":"' "$input" || true)
echo "dedup-test: $records records ($unique statuses, $edits edits, $((records - unique - edits)) copies) produced to 8 partitions"

ids() { cat "$@" 2>/dev/null | grep -o '"alert_id":"[^"]*"' | sort -u || true; }

# The reference: the same records from a file, one process, with `dedup`.
run reference tests/kafka/dedup-file-pipeline.yaml KAFKA_COMMIT_EVERY=$commit_every
finish reference || exit 1
"$brandpulse" query dump --state "$work/reference/state" >"$work/reference/windows.txt"
ids "$work/reference/out/alerts.jsonl" >"$work/reference/alert-ids.txt"
[ -s "$work/reference/alert-ids.txt" ] || { echo "dedup-test: the reference fired no alert" >&2; exit 2; }

# Slow consumption (brokers answer 300 ms late, small fetches, short epochs) so that b's join
# and the kill land while the instances consume.
kafka_control "rtt -1 300" >/dev/null
common=(KAFKA_GROUP=dedup KAFKA_COMMIT_EVERY=$commit_every KAFKA_FETCH_BYTES=8192)
run a tests/kafka/dedup-pipeline.yaml "${common[@]}"
a=$pid
wait_for "$work/a/runs.log" "epoch .* committed" 300 || fail "a committed no epoch"
run b tests/kafka/dedup-pipeline.yaml "${common[@]}"
b=$pid
sleep 1
if kill -0 "$a" 2>/dev/null; then
  kill -KILL "$a"
  wait "$a" 2>/dev/null || true
  echo "dedup-test: a killed with SIGKILL; restarting it on its old state"
  run a tests/kafka/dedup-pipeline.yaml "${common[@]}"
  a=$pid
else
  fail "a finished before it could be killed"
fi
wait_for "$work/b/runs.log" "[1-9] partition(s) gained" 600 || fail "b gained no partition"
pid=$a; finish a || true
pid=$b; finish b || true
kafka_control "rtt -1 0" >/dev/null

# c: alone, fresh disk; takes every partials partition and closes every window.
run c tests/kafka/dedup-pipeline.yaml KAFKA_GROUP=dedup KAFKA_COMMIT_EVERY=$commit_every
finish c || true

"$brandpulse" query dump --state "$work/c/state" >"$work/c/windows.txt"
if ! cmp -s "$work/reference/windows.txt" "$work/c/windows.txt"; then
  fail "c: merged windows differ from the single-process run with dedup"
  diff "$work/reference/windows.txt" "$work/c/windows.txt" | head -n 10 || true
fi
ids "$work"/{a,b}/out/alerts.jsonl >"$work/ab-alert-ids.txt"
cmp -s "$work/reference/alert-ids.txt" "$work/ab-alert-ids.txt" ||
  { fail "alert ids of a and b differ from the single-process run"; diff "$work/reference/alert-ids.txt" "$work/ab-alert-ids.txt" | head || true; }
ids "$work/c/out/alerts.jsonl" >"$work/c-alert-ids.txt"
cmp -s "$work/reference/alert-ids.txt" "$work/c-alert-ids.txt" ||
  { fail "c's alert ids differ from the single-process run"; diff "$work/reference/alert-ids.txt" "$work/c-alert-ids.txt" | head || true; }
"$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts --group dedup >"$work/lag.txt"
grep -q '^total lag 0$' "$work/lag.txt" || { fail "committed offsets are not at the end offsets"; cat "$work/lag.txt"; }
if grep -i 'offset reset' "$work"/{a,b,c}/runs.log; then fail "an offset reset happened"; fi
grep -h 'cluster: epochs committed\|cluster: dedup:' "$work"/{a,b,c}/runs.log | sed 's/^/dedup-test: /'
if grep -h 'cluster: epochs committed' "$work"/{a,b,c}/runs.log | grep -v ' 0 conflict(s)'; then
  fail "the merger refused epochs (conflicts)"
fi
if grep -h 'cluster: epochs committed' "$work"/{a,b,c}/runs.log | grep -v '; 0 merged window delta(s) late'; then
  fail "a merger found deltas of windows it had closed"
fi
grep -qh 'post events published [1-9]' "$work"/{a,b}/runs.log || fail "no post event went through the partials"
grep -qh 'merged [1-9][0-9]*; merger: [1-9][0-9]* event(s), [1-9][0-9]* counted, [1-9][0-9]* duplicate' "$work/c/runs.log" ||
  fail "c dropped no duplicate"
grep -qh ' [1-9][0-9]* edit(s) applied' "$work/c/runs.log" || fail "c applied no edit"
cat "$work"/{a,b,c}/out/late.jsonl 2>/dev/null | grep -q . && fail "posts went to the late sink (nothing is late here)"
cat "$work"/{a,b,c}/out/dead-letter.jsonl 2>/dev/null | grep -q . && fail "posts went to the dead letters"
abandoned=$(cat "$work"/{a,b}/runs.log | grep -c 'abandoned (' || true)
echo "dedup-test: $abandoned epoch(s) abandoned by a and b; $(wc -l <"$work/c/windows.txt") windows, $(wc -l <"$work/reference/alert-ids.txt") alert ids; $(tail -n 1 "$work/lag.txt")"

[ "$failures" -eq 0 ] && echo "dedup-test: all checks passed"
[ "$failures" -eq 0 ]
