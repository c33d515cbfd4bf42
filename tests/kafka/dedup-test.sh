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
kafka_options=(--posts posts --seed seed --commit-every commit_every)
kafka_parse_options "$@"
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

# The reference: the same records from a file, one process, with `dedup`.
kafka_reference tests/kafka/dedup-file-pipeline.yaml KAFKA_COMMIT_EVERY=$commit_every
[ -s "$work/reference/alert-ids.txt" ] || { echo "dedup-test: the reference fired no alert" >&2; exit 2; }

# Slow consumption (brokers answer 300 ms late, small fetches, short epochs) so that b's join
# and the kill land while the instances consume.
kafka_join_and_kill tests/kafka/dedup-pipeline.yaml KAFKA_GROUP=dedup KAFKA_COMMIT_EVERY=$commit_every \
  KAFKA_FETCH_BYTES=8192

# c: alone, fresh disk; takes every partials partition and closes every window.
run c tests/kafka/dedup-pipeline.yaml KAFKA_GROUP=dedup KAFKA_COMMIT_EVERY=$commit_every
finish c || true

check_windows c "c: merged windows differ from the single-process run with dedup"
alert_ids "$work"/{a,b}/out/alerts.jsonl | sort -u >"$work/ab-alert-ids.txt"
check_ids "$work/ab-alert-ids.txt" "alert ids of a and b differ from the single-process run"
alert_ids "$work/c/out/alerts.jsonl" | sort -u >"$work/c-alert-ids.txt"
check_ids "$work/c-alert-ids.txt" "c's alert ids differ from the single-process run"
check_lag dedup "$work/lag.txt"
if grep -i 'offset reset' "$work"/{a,b,c}/runs.log; then fail "an offset reset happened"; fi
grep -h 'cluster: epochs committed\|cluster: dedup:' "$work"/{a,b,c}/runs.log | sed 's/^/dedup-test: /'
check_epochs ' 0 conflict(s)' "the merger refused epochs (conflicts)" a b c
check_epochs '; 0 merged window delta(s) late' "a merger found deltas of windows it had closed" a b c
grep -qh 'post events published [1-9]' "$work"/{a,b}/runs.log || fail "no post event went through the partials"
grep -qh 'merged [1-9][0-9]*; merger: [1-9][0-9]* event(s), [1-9][0-9]* counted, [1-9][0-9]* duplicate' "$work/c/runs.log" ||
  fail "c dropped no duplicate"
grep -qh ' [1-9][0-9]* edit(s) applied' "$work/c/runs.log" || fail "c applied no edit"
check_sink_empty late.jsonl "posts went to the late sink (nothing is late here)" a b c
check_sink_empty dead-letter.jsonl "posts went to the dead letters" a b c
abandoned=$(cat "$work"/{a,b}/runs.log | grep -c 'abandoned (' || true)
echo "dedup-test: $abandoned epoch(s) abandoned by a and b; $(wc -l <"$work/c/windows.txt") windows, $(wc -l <"$work/reference/alert-ids.txt") alert ids; $(tail -n 1 "$work/lag.txt")"

[ "$failures" -eq 0 ] && echo "dedup-test: all checks passed"
[ "$failures" -eq 0 ]
