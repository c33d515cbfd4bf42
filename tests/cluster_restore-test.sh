#!/usr/bin/env bash
# A merger restores from local state (issue 11; docs/cluster.md "Restore from local state"), with
# real processes: `brandpulse dev-kafka` (1 broker, posts:8, partials topics of 4 and 8), kcat
# producing a generated firehose, brandpulse instances with a `cluster:` section
# (tests/kafka/global-pipeline.yaml).
#   1. x consumes alone, slowly, and is stopped (SIGTERM) halfway; restarted on its old state it
#      must resume every partials partition at the offset its state holds ("resumed from offset
#      N", no "merged state reset"), and end with windows byte-identical to a single-process run
#      and every alert id of it, none fired twice.
#   2. x2 consumes alone (second group, second partials topic) and y2 joins: x2 loses partials
#      partitions and keeps the others' merged state ("kept"; the lost brands' windows
#      "dropped"). Each instance's windows at the end are windows of the single-process run, and
#      together they are all of them; the alert ids together are the single-process run's.
#   3. Failover (third group, third partials topic): x3 consumes alone, y3 joins and takes partials
#      partitions, y3 is killed (SIGKILL). x3 gains them back without local state and must replay
#      only those ("replaying [..] beside kept [..]", no "merged state reset"), and end alone with
#      windows byte-identical to the single-process run, every alert id of it (x3's and y3's
#      together), and no alert of x3 fired twice.
#
#   tests/cluster_restore-test.sh [--posts N] [--brandpulse PATH] [--work DIR]
# Exit 0 when all hold; 1 on a difference; 2 on a setup error.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

test_name=cluster-restore-test
posts=12000
commit_every=500
brandpulse=build/brandpulse
work=build/cluster-restore-test
source tests/kafka/lib.sh
kafka_options=(--posts posts)
kafka_parse_options "$@"
kafka_prepare
kafka_start_cluster 1 posts:8 partials:4 partials2:8 partials3:8

input=$work/firehose.jsonl
kafka_generate_firehose "$input" "$posts" 23 10
kafka_produce_numbered posts "$input"
echo "cluster-restore-test: $posts posts produced to 8 partitions"

last_run() { awk '/^=== run/ { buffer = "" } { buffer = buffer $0 "\n" } END { printf "%s", buffer }' "$1"; }

kafka_reference tests/kafka/global-file-pipeline.yaml KAFKA_COMMIT_EVERY=$commit_every
[ -s "$work/reference/windows.txt" ] || { echo "cluster-restore-test: the reference has no windows" >&2; exit 2; }
sort "$work/reference/windows.txt" >"$work/reference/windows-sorted.txt"

# 1. Stop halfway, restart on old state: resume, not replay.
kafka_control "rtt -1 60" >/dev/null
common=(KAFKA_COMMIT_EVERY=$commit_every KAFKA_WORKERS=1 KAFKA_FETCH_BYTES=8192)
run x tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_GROUP=restore
wait_count "$work/x/runs.log" "partials restored" 1 400 || fail "x never restored its partials partitions"
wait_count "$work/x/runs.log" "epoch .* committed" 8 600 || fail "x committed fewer than 8 epochs"
kill -TERM "$pid"
finish x || true
grep -q "global end reached" "$work/x/runs.log" && fail "x reached the end before it was stopped (make --posts larger)"
echo "cluster-restore-test: x stopped after $(grep -c 'epoch .* committed' "$work/x/runs.log") epochs; restarting it on its old state"
kafka_control "rtt -1 0" >/dev/null
# Readiness: /readyz must not answer 200 before the partials are restored.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_args=(--api "127.0.0.1:$port")
run x tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_GROUP=restore
run_args=()
# One probe process (python3 is a dependency; the curl command is not): "<unix time> <status>"
# every 0.1 s while x runs, 000 when nothing answers.
python3 - "$pid" "http://127.0.0.1:$port/readyz" >"$work/x/readyz.txt" <<'PY'
import os, sys, time, urllib.error, urllib.request
pid, url = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    try:
        code = urllib.request.urlopen(url, timeout=1).status
    except urllib.error.HTTPError as error:
        code = error.code
    except Exception:
        code = "000"
    print(f"{time.time():.3f} {code}", flush=True)
    time.sleep(0.1)
PY
finish x || true
second=$(last_run "$work/x/runs.log")
restored_at=$(grep 'partials restored' <<<"$second" | head -n 1 | cut -d' ' -f1)
readiness=$(python3 - "$work/x/readyz.txt" "$restored_at" <<'PY'
import sys, datetime
restored = datetime.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00")).timestamp()
probes = [line.split() for line in open(sys.argv[1]) if len(line.split()) == 2]
early = [code for at, code in probes if float(at) < restored - 0.05 and code == "200"]
before = sum(1 for at, code in probes if float(at) < restored and code == "503")
after = sum(1 for at, code in probes if float(at) >= restored and code == "200")
print(f"{len(early)} {before} {after}")
PY
)
read -r ready_early unready_before ready_after <<<"$readiness"
[ "$ready_early" -eq 0 ] || fail "/readyz answered 200 $ready_early time(s) before the partials were restored"
[ "$unready_before" -gt 0 ] && [ "$ready_after" -gt 0 ] ||
  fail "/readyz: $unready_before 503 before the restore, $ready_after 200 after it (expected some of each)"
echo "cluster-restore-test: x: /readyz 503 $unready_before time(s) before the restore, 200 $ready_after time(s) after"
resumed=$(grep -c 'resumed from offset [0-9]* (local state)' <<<"$second" || true)
[ "$resumed" -eq 4 ] || fail "x's restart resumed $resumed of 4 partials partitions from local state"
grep -q 'resumed from offset [1-9]' <<<"$second" || fail "x's restart resumed every partition at offset 0"
grep -q 'merged state reset' <<<"$second" && fail "x's restart replayed (merged state reset)"
grep 'resumed from offset\|partials restored' <<<"$second" | sed 's/^/cluster-restore-test: x: /'
check_windows x "x's windows differ from the single-process run"
alert_ids "$work/x/out/alerts.jsonl" | sort >"$work/x/alert-ids-all.txt"
sort -u "$work/x/alert-ids-all.txt" >"$work/x/alert-ids.txt"
check_ids "$work/x/alert-ids.txt" "x's alert ids differ from the single-process run"
twice=$(uniq -d "$work/x/alert-ids-all.txt" | wc -l)
[ "$twice" -eq 0 ] || fail "$twice alert id(s) fired again after the restart"
echo "cluster-restore-test: x: $(wc -l <"$work/x/windows.txt") windows, $(wc -l <"$work/x/alert-ids-all.txt") alerts, $twice fired twice"

# 2. A member joins: the other keeps the merged state of the partitions it still owns. (The
# watchlist's brands form two competitor groups, so their windows fall on two partials
# partitions: 0 and 4 of partials2's 8.)
kafka_control "rtt -1 60" >/dev/null
second_group=(KAFKA_GROUP=keep KAFKA_PARTIALS=partials2 "${common[@]}")
run x2 tests/kafka/global-pipeline.yaml "${second_group[@]}"
x2=$pid
wait_count "$work/x2/runs.log" "partials restored" 1 400 || fail "x2 never restored its partials partitions"
wait_count "$work/x2/runs.log" "epoch .* committed" 4 600 || fail "x2 committed fewer than 4 epochs"
run y2 tests/kafka/global-pipeline.yaml "${second_group[@]}"
y2=$pid
wait_count "$work/x2/runs.log" "kept" 1 400 || fail "x2 kept no merged state when y2 joined"
grep -q 'merged state of \[[0-9]' "$work/x2/runs.log" || fail "x2 kept no partials partition when y2 joined"
# Both end at the end of the topic: y2 first takes what x2 gave up (a member that owns nothing
# at the end has nothing to close and exits).
wait_count "$work/y2/runs.log" "partials partitions gained \[[0-9]" 1 400 || fail "y2 gained no partials partition"
kafka_control "rtt -1 0" >/dev/null
pid=$x2; finish x2 || true
pid=$y2; finish y2 || true
grep -h 'kept\|dropped' "$work/x2/runs.log" | sed 's/^/cluster-restore-test: x2: /' | head -n 4
: >"$work/union.txt"
for name in x2 y2; do
  "$brandpulse" query dump --state "$work/$name/state" >"$work/$name/windows.txt"
  extra=$(comm -13 "$work/reference/windows-sorted.txt" <(sort "$work/$name/windows.txt") | wc -l)
  [ "$extra" -eq 0 ] || { fail "$extra of $name's windows are not the single-process run's"; comm -13 "$work/reference/windows-sorted.txt" <(sort "$work/$name/windows.txt") | head -n 5; }
  cat "$work/$name/windows.txt" >>"$work/union.txt"
  echo "cluster-restore-test: $name: $(wc -l <"$work/$name/windows.txt") windows"
done
missing=$(comm -23 "$work/reference/windows-sorted.txt" <(sort -u "$work/union.txt") | wc -l)
[ "$missing" -eq 0 ] || fail "$missing windows of the single-process run are in neither x2 nor y2"
alert_ids "$work"/{x2,y2}/out/alerts.jsonl | sort -u >"$work/x2y2-alert-ids.txt"
check_ids "$work/x2y2-alert-ids.txt" "the alert ids of x2 and y2 differ from the single-process run"

# 3. Failover: the survivor replays only the partials partitions it gains, beside kept ones. Both
# run without stop_at_end (x3 would otherwise finish the short input before y3 is killed); x3 is
# then stopped and run again to the end on its state, which closes every window.
kafka_control "rtt -1 60" >/dev/null
third_group=(KAFKA_GROUP=failover KAFKA_PARTIALS=partials3 KAFKA_STOP_AT_END=false "${common[@]}")
kafka_failover x3 y3 tests/kafka/global-pipeline.yaml "${third_group[@]}"
kafka_control "rtt -1 0" >/dev/null
grep -h 'replaying\|caught up\|partials restored' "$work/x3/runs.log" | sed 's/^/cluster-restore-test: x3: /'
grep 'merged state reset' "$work/x3/runs.log" | tail -n +2 | sed 's/^/cluster-restore-test: x3: /'
[ "$(grep -c 'merged state reset' "$work/x3/runs.log")" -le 1 ] ||
  fail "x3 wiped its merged state after its first assignment (merged state reset)"
run x3 tests/kafka/global-pipeline.yaml KAFKA_GROUP=failover KAFKA_PARTIALS=partials3 "${common[@]}"
finish x3 || true
x3_last=$(last_run "$work/x3/runs.log")
grep -q 'merged state reset' <<<"$x3_last" && fail "x3's last run wiped its merged state (merged state reset)"
grep 'gained\|partials restored' <<<"$x3_last" | sed 's/^/cluster-restore-test: x3 (to the end): /'
check_windows x3 "x3's windows differ from the single-process run"
alert_ids "$work/x3/out/alerts.jsonl" | sort >"$work/x3/alert-ids-all.txt"
alert_ids "$work"/{x3,y3}/out/alerts.jsonl | sort -u >"$work/x3y3-alert-ids.txt"
check_ids "$work/x3y3-alert-ids.txt" "the alert ids of x3 and y3 differ from the single-process run"
twice=$(uniq -d "$work/x3/alert-ids-all.txt" | wc -l)
[ "$twice" -eq 0 ] || fail "$twice alert id(s) fired twice by x3"
echo "cluster-restore-test: x3: $(wc -l <"$work/x3/windows.txt") windows, $(wc -l <"$work/x3/alert-ids-all.txt") alerts, $twice fired twice"

if grep -i 'offset reset' "$work"/{x,x2,y2,x3,y3}/runs.log; then fail "an offset reset happened"; fi
check_epochs ' 0 conflict(s)' "a merger refused epochs (conflicts)" x x2 y2 x3
[ "$failures" -eq 0 ] && echo "cluster-restore-test: all checks passed"
[ "$failures" -eq 0 ]
