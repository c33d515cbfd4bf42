#!/usr/bin/env bash
# Exact global windows across instances (issue 11, docs/cluster.md "Global windows"), with real
# processes: `brandpulse dev-kafka` (3 brokers, posts:8, partials:7), kcat producing a generated
# firehose, and brandpulse instances with a `cluster:` section sharing one consumer group.
#   a starts alone and dies (fault injection) between the offset commit of an epoch and its
#   markers, and is restarted; b joins while a consumes (source and partials partitions move: a rebalance
#   on both groups); b is frozen (SIGSTOP) past its session timeout and resumed; a is killed
#   with SIGKILL and restarted on its old state; both run to the
#   end of the topic (stop_at_end); then c, on a fresh disk, runs alone: it takes every source
#   partition (at its end) and every partials partition, replays the partials, closes every
#   window and exits.
# Checks: c's windows equal a single-process file run's byte for byte (`query dump`); the alert
# ids of a, b and c together equal the file run's; committed offsets at the end offsets; no
# offset reset; the merger refused nothing (no conflicts).
#
#   tests/kafka/global-test.sh [--posts N] [--seed N] [--commit-every N] [--rate POSTS_PER_S]
#                              [--brandpulse PATH] [--work DIR]
# c's "partials restored" line is the restore time of every partials partition from scratch
# against the bytes replayed (more epochs: --commit-every smaller; more windows: --rate smaller).
# Exit 0 when all hold; 1 on a difference; 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/../.."

test_name=global-test
posts=20000
seed=11
commit_every=1000
rate=10
brandpulse=build/brandpulse
work=build/global-test
source tests/kafka/lib.sh
kafka_options=(--posts posts --seed seed --commit-every commit_every --rate rate)
kafka_parse_options "$@"
kafka_prepare
# partials:7: a brand's partials partition is keyed by its competitor groups (the smallest brand id
# of the union), here "dna" (Nordic) and "digi" (Spanish); with 2 to 6 partitions both hash to
# partition 0 and one member merges everything; with 7 they land on 3 and 6, so two mergers
# close windows at once (what the `quiet` rule's alert check needs).
kafka_start_cluster 3 posts:8 partials:7

input=$work/firehose.jsonl
kafka_generate_firehose "$input" "$posts" "$seed" "$rate"
kafka_produce_numbered posts "$input"
echo "global-test: $posts posts produced to 8 partitions on 3 brokers"

# The reference: the same posts from a file, one process.
kafka_reference tests/kafka/global-file-pipeline.yaml KAFKA_COMMIT_EVERY=$commit_every
[ -s "$work/reference/windows.txt" ] || { echo "global-test: the reference has no windows" >&2; exit 2; }

# Slow consumption (brokers answer 100 ms late, small fetches, short epochs) so that b joins, the
# freeze and the kill land while the instances consume.
kafka_control "rtt -1 100" >/dev/null
common=(KAFKA_GROUP=global KAFKA_COMMIT_EVERY=$commit_every KAFKA_WORKERS=1 KAFKA_FETCH_BYTES=8192)
# a first dies (fault injection) between the offset commit of its second epoch with records and
# that epoch's markers; whoever gains its source partitions next must publish those markers.
run a tests/kafka/global-pipeline.yaml "${common[@]}" BRANDPULSE_TEST_EXIT_BEFORE_MARKER=2
wait "$pid" && a_exit=0 || a_exit=$?
orphan=
if [ "$a_exit" -eq 86 ]; then
  orphan=$(grep -o 'exiting after the commit of epoch [0-9a-f:]*' "$work/a/runs.log" | tail -n 1 | awk '{ print $NF }')
  echo "global-test: a exited after committing epoch $orphan $(grep -o '([0-9]* record(s))' "$work/a/runs.log" | tail -n 1), before its markers; restarting it"
else
  fail "a did not stop between an offset commit and its markers (exit $a_exit)"
  tail -n 20 "$work/a/runs.log"
fi
run a tests/kafka/global-pipeline.yaml "${common[@]}"
a=$pid
wait_for "$work/a/runs.log" "epoch .* committed" 300 || fail "a committed no epoch"
run b tests/kafka/global-pipeline.yaml "${common[@]}"
b=$pid
wait_for "$work/b/runs.log" "[1-9] partition(s) gained" 300 || fail "b gained no partition"
sleep 0.7  # (mid-epoch: b has read records it has not committed)
# b frozen past its session timeout (6 s): a takes its partitions and redoes their ranges with
# other boundaries; b wakes up with an epoch in hand, its offset commit is refused (fenced), so
# its partials never get a marker.
kill -STOP "$b"
sleep 9
kill -CONT "$b"
echo "global-test: b frozen with SIGSTOP for 9 s (session timeout 6 s), then resumed"
sleep 1
kafka_kill_restart a "$a" tests/kafka/global-pipeline.yaml "${common[@]}"
a=$pid
pid=$a; finish a || true
pid=$b; finish b || true
kafka_control "rtt -1 0" >/dev/null

# c: alone, fresh disk; takes everything and closes every window.
run c tests/kafka/global-pipeline.yaml KAFKA_GROUP=global KAFKA_COMMIT_EVERY=$commit_every
finish c || true

check_windows c "c: merged windows differ from the single-process run"
alert_ids "$work"/{a,b,c}/out/alerts.jsonl | sort -u >"$work/alert-ids.txt"
check_ids "$work/alert-ids.txt" "alert ids of a, b and c differ from the single-process run"
# ... and what each alert observed: a member that does not merge a brand holds none of its
# windows, and a `below` threshold (the `quiet` rule) would fire there on 0 with an id the single
# process also fires when the brand was quiet but not silent (RuleSet::SetBrandOwner prevents it).
alert_values() { cat "$@" 2>/dev/null | LC_ALL=C sed -n 's/.*"alert_id":"\([^"]*\)".*"observed":\([^,]*\),.*/\1 \2/p' | sort -u; }
alert_values "$work/reference/out/alerts.jsonl" >"$work/reference/alert-values.txt"
alert_values "$work"/{a,b,c}/out/alerts.jsonl >"$work/alert-values.txt"
cmp -s "$work/reference/alert-values.txt" "$work/alert-values.txt" ||
  { fail "alerts of a, b and c observed other values than the single-process run's (id, observed)"
    { diff "$work/reference/alert-values.txt" "$work/alert-values.txt" || true; } | head; }
check_lag global "$work/lag.txt"
if grep -i 'offset reset' "$work"/{a,b,c}/runs.log; then fail "an offset reset happened"; fi
grep -h 'cluster: epochs committed' "$work"/{a,b,c}/runs.log | sed 's/^/global-test: /'
check_epochs ' 0 conflict(s)' "the merger refused epochs (conflicts)" a b c
check_epochs '; 0 merged window delta(s) late' "a merger found deltas of windows it had closed" a b c
check_sink_empty late.jsonl "posts went to the late sink (nothing is late here)" a b c
if [ -n "${orphan:-}" ]; then
  grep -qh "re-published the marker of epoch $orphan" "$work"/{a,b,c}/runs.log ||
    fail "nobody re-published the marker of epoch $orphan (committed, markers never sent)"
fi
# A partials partition moved when both a and b merged it at some point (a alone at first holds
# every one; a loss logged by either is not needed: whether b's freeze or a's kill is seen as a
# loss first depends on timing).
gained_by() { sed -n 's/.*partials partitions gained \[\([0-9,]*\)\].*/\1/p' "$1" | tr ',' '\n' | sed '/^$/d' | sort -u; }
moved=$(comm -12 <(gained_by "$work/a/runs.log") <(gained_by "$work/b/runs.log") | wc -l)
[ "$moved" -ge 1 ] || fail "no partials partition moved between a and b (none was merged by both)"
abandoned=$(cat "$work"/{a,b}/runs.log | grep -c 'abandoned (' || true)
b_fenced=$(grep -c 'abandoned (' "$work/b/runs.log" || true)
echo "global-test: $abandoned epoch(s) abandoned by a and b, $b_fenced by b after its freeze (offset commit refused: fenced or rebalancing)"
grep -h 'partials restored' "$work"/{a,b,c}/runs.log | sed 's/^/global-test: /' | tail -n 4
echo "global-test: $(wc -l <"$work/c/windows.txt") windows, $(wc -l <"$work/alert-ids.txt") alert ids ($(grep -c '"rule":"quiet"' "$work/reference/out/alerts.jsonl" || true) 'quiet' in the file run), $(tail -n 1 "$work/lag.txt")"

[ "$failures" -eq 0 ] && echo "global-test: all checks passed"
[ "$failures" -eq 0 ]
