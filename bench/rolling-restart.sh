#!/usr/bin/env bash
# Issue 11 (stop 26): a rolling restart of 3 instances — Kafka Streams users' "rebalance storm" —
# against `brandpulse dev-kafka` (librdkafka 2.0.2's mock; it ignores group.instance.id, so every
# stop and every start is a rebalance of both groups, the source's and the merge group).
#   a, b and c (tests/kafka/global-pipeline.yaml with `cluster:`, 1 worker, stop_at_end false,
#   each with --api for /readyz) share the groups; once all three answer /readyz 200 a feeder
#   (tests/kafka/feeder.py) produces the generated posts at --rate posts/s; then, one after the
#   other: SIGTERM (graceful: final commit, leaves the groups), wait for its exit, start it again
#   on its old state, wait until it and the two others answer /readyz 200, --pause seconds, next.
#   A probe per instance asks /readyz every 0.1 s the whole time (a staying instance answers 503
#   while it replays a partition it gained).
# Reported per instance: source and merge-group assignment changes (notices), partials records
# read by restores and how (resumed from local state / replayed from 0 beside kept ones / reset),
# time from each SIGTERM to its exit, to the restarted instance's ready and to all three ready,
# and the total; the staying instances' not-ready time.
# After the roll: the feeder finishes, the group's lag reaches 0, all three stop (SIGTERM); a runs
# once more alone on its old state (stop_at_end: takes every partials partition, closes every
# window) and d on a fresh disk: both `query dump`s must equal a single-process file run's
# (tests/kafka/global-file-pipeline.yaml) byte for byte, and the alert ids of a, b, c (and a's
# last run) the file run's. No offset reset in any log.
#
#   bash bench/rolling-restart.sh [--posts 40000] [--rate 600] [--event-rate 10] [--partials 8]
#       [--commit-every 1000] [--pause 3] [--brandpulse PATH] [--work DIR]
# Exit 0 when the checks hold; 1 on a difference; 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/.."

test_name=rolling-restart
posts=40000
rate=600
event_rate=10
partials=8
commit_every=1000
pause=3
brandpulse=build/brandpulse
work=build/rolling-restart
source tests/kafka/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --posts) posts=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --event-rate) event_rate=$2; shift 2 ;;
    --partials) partials=$2; shift 2 ;;
    --commit-every) commit_every=$2; shift 2 ;;
    --pause) pause=$2; shift 2 ;;
    *) kafka_common_option "$1" "${2:-}" || { echo "rolling-restart: unknown argument $1" >&2; exit 2; }; shift 2 ;;
  esac
done
kafka_prepare
load() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
echo "rolling-restart: start $(date -u '+%F %T UTC'); $(uptime)"
kafka_start_cluster 1 posts:16 "partials:$partials"

input=$work/firehose.jsonl
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$posts" --seed 13 --mention-share 0.08 \
  --rate "$event_rate" --disorder 20s --output "$input"

# The reference: the same posts from a file, one process.
run reference tests/kafka/global-file-pipeline.yaml KAFKA_COMMIT_EVERY=$commit_every
finish reference || exit 2
"$brandpulse" query dump --state "$work/reference/state" >"$work/reference/windows.txt"
grep -o '"alert_id":"[^"]*"' "$work/reference/out/alerts.jsonl" | sort -u >"$work/reference/alert-ids.txt" || true

common=(KAFKA_GROUP=roll KAFKA_STOP_AT_END=false "KAFKA_COMMIT_EVERY=$commit_every" KAFKA_WORKERS=1)
declare -A port=() pids=()
start() {  # start <name>: an instance on <work>/<name> (state kept across restarts), with its API
  run_args=(--api "127.0.0.1:${port[$1]}")
  run "$1" tests/kafka/global-pipeline.yaml "${common[@]}"
  run_args=()
  pids[$1]=$pid
}
# One probe per instance for the whole run: "<unix time> <status>" every 0.1 s, 000 when nothing
# answers (the instance is down or not listening yet).
probe() {  # probe <name>
  python3 - "http://127.0.0.1:${port[$1]}/readyz" "$work/probes.stop" >"$work/$1/readyz.txt" <<'PY' &
import os, sys, time, urllib.error, urllib.request
url, stop = sys.argv[1], sys.argv[2]
while not os.path.exists(stop):
    try:
        code = urllib.request.urlopen(url, timeout=1).status
    except urllib.error.HTTPError as error:
        code = error.code
    except Exception:
        code = "000"
    print(f"{time.time():.3f} {code}", flush=True)
    time.sleep(0.1)
PY
}
ready_after() {  # ready_after <name> <unix time>: waits (≤ 120 s) until a 200 newer than the time
  local deadline=$((${2%.*} + 120))
  while ! awk -v t="$2" '$1 > t && $2 == "200" { found = 1 } END { exit !found }' "$work/$1/readyz.txt"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo none; return; }
    sleep 0.1
  done
  awk -v t="$2" '$1 > t && $2 == "200" { print $1; exit }' "$work/$1/readyz.txt"
}
for name in a b c; do
  port[$name]=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/$name"
  probe "$name"
done
began=$(now)
for name in a b c; do start "$name"; done
for name in a b c; do
  [ "$(ready_after "$name" "$began")" != none ] || { echo "rolling-restart: $name never ready" >&2; exit 2; }
done
sleep "$pause"
echo "rolling-restart: a, b and c ready ($(seconds "$began" "$(now)") s after their start); feeding $posts posts at $rate/s"

echo "$posts" >"$work/budget"
python3 -u tests/kafka/feeder.py --input "$input" --budget "$work/budget" --rate "$rate" \
  --brokers "$KAFKA_BROKERS" --topic posts --log "$work/feeder.log" >/dev/null 2>&1 &
feeder_pid=$!
sleep "$pause"

# The roll. Each log gets a "=== roll <name>" line at each step, so notices can be told apart.
mark() { local who; for who in a b c; do echo "=== roll $1 $(date -u +%T.%3N)" >>"$work/$who/runs.log"; done; }
roll_load=$(load)
roll_began=$(now)
steps=()
for name in a b c; do
  mark "$name"
  signalled=$(now)
  step_load=$(load)
  kill -TERM "${pids[$name]}"
  pid=${pids[$name]}
  finish "$name" || true
  exited=$(now)
  start "$name"
  self_ready=$(ready_after "$name" "$exited")
  all_ready=$self_ready
  for other in a b c; do
    at=$(ready_after "$other" "$exited")
    [ "$at" != none ] && [ "$all_ready" != none ] || { all_ready=none; break; }
    all_ready=$(awk -v a="$all_ready" -v b="$at" 'BEGIN { print (b > a ? b : a) }')
  done
  [ "$all_ready" != none ] || fail "after $name's restart not every instance answered /readyz 200 within 120 s"
  steps+=("$name $signalled $exited $self_ready $all_ready $step_load")
  sleep "$pause"
done
roll_ended=$(now)
mark end

wait "$feeder_pid" || fail "the feeder did not deliver every post ($(tail -n 1 "$work/feeder.log"))"
for _ in $(seq 600); do
  "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts --group roll >"$work/lag.txt" 2>/dev/null || true
  grep -q '^total lag 0$' "$work/lag.txt" && break
  sleep 0.5
done
grep -q '^total lag 0$' "$work/lag.txt" || fail "the group's lag never reached 0: $(tail -n 1 "$work/lag.txt")"
sleep "$pause"
for name in a b c; do kill -TERM "${pids[$name]}"; done
for name in a b c; do pid=${pids[$name]}; finish "$name" || true; done
touch "$work/probes.stop"

# The end: a alone on its old state, and d on a fresh disk, each to the end of the topic.
mark final
final_at=$(date -u +%FT%T.%3NZ)
run a tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_STOP_AT_END=true
finish a || true
run d tests/kafka/global-pipeline.yaml "${common[@]}" KAFKA_STOP_AT_END=true
finish d || true
for name in a d; do
  "$brandpulse" query dump --state "$work/$name/state" >"$work/$name/windows.txt"
  cmp -s "$work/reference/windows.txt" "$work/$name/windows.txt" ||
    { fail "$name's windows differ from the single-process run"; diff "$work/reference/windows.txt" "$work/$name/windows.txt" | head -n 6; }
done
cat "$work"/{a,b,c}/out/alerts.jsonl 2>/dev/null | grep -o '"alert_id":"[^"]*"' | sort -u >"$work/alert-ids.txt" || true
cmp -s "$work/reference/alert-ids.txt" "$work/alert-ids.txt" ||
  { fail "the alert ids of a, b and c differ from the single-process run's"; { diff "$work/reference/alert-ids.txt" "$work/alert-ids.txt" || true; } | head -n 6; }
# Alerts fired during the roll and the drain (before a's last run) and by a's last run, which
# closes every window and re-closes those of the partitions it replays (ids repeat: de-duplicate
# by alert id downstream, docs/cluster.md).
alert_split=$(python3 - "$final_at" "$work"/{a,b,c}/out/alerts.jsonl <<'PY'
import collections, json, sys
final, during, last = sys.argv[1], collections.Counter(), collections.Counter()
for path in sys.argv[2:]:
    for line in open(path):
        alert = json.loads(line)
        (during if alert["emitted_at"] < final else last)[alert["alert_id"]] += 1
twice = sum(1 for count in during.values() if count > 1)
print(f"during the roll and the drain {len(during)} ids in {sum(during.values())} alerts ({twice} fired more than once); "
      f"a's last run {len(last)} ids, {len(set(last) & set(during))} of them fired before")
PY
)
if grep -i 'offset reset' "$work"/{a,b,c,d}/runs.log; then fail "an offset reset happened"; fi

# --- figures (a missing notice is a 0, not an error) ------------------------------------------------
set +e +o pipefail
# A log's lines between two marks ("=== roll a" .. "=== roll b"; "=== roll c" .. "=== roll end").
between() { awk -v from="=== roll $2 " -v to="=== roll $3 " 'index($0, from) == 1 { on = 1; next } index($0, to) == 1 { on = 0 } on' "$1"; }
next_mark() { case "$1" in a) echo b ;; b) echo c ;; c) echo end ;; esac; }
echo
echo "rolling-restart: $posts posts (event time $event_rate/s), fed at $rate/s; posts:16, partials:$partials; 1 broker; epochs of $commit_every records"
echo "rolling-restart: roll from $(date -u -d "@${roll_began%.*}" +%T) to $(date -u -d "@${roll_ended%.*}" +%T) UTC, load $roll_load at its start, $(load) at its end"
echo
echo "| step | SIGTERM → exit s | → restarted ready s | → all 3 ready s | load |"
echo "|---|---:|---:|---:|---:|"
for step in "${steps[@]}"; do
  read -r name signalled exited self_ready all_ready step_load <<<"$step"
  echo "| $name | $(seconds "$signalled" "$exited") | $(seconds "$signalled" "$self_ready") | $(seconds "$signalled" "$all_ready") | $step_load |"
done
last_all=$(echo "${steps[2]}" | awk '{ print $5 }')
echo "| whole roll (first SIGTERM → all ready after the last start) | | | $(seconds "$(echo "${steps[0]}" | awk '{ print $2 }')" "$last_all") | |"
echo
echo "Per step and instance (R = the restarted one): source assignment changes (gained/lost notices), merge-group changes, partials records read by restores, how."
echo
echo "| step | instance | source changes | merge-group changes | partials restored: records (bytes) | resumed / replayed beside / reset / kept | not ready (503 or down) s |"
echo "|---|---|---:|---:|---|---|---:|"
for step in "${steps[@]}"; do
  read -r name signalled exited self_ready all_ready step_load <<<"$step"
  for other in a b c; do
    lines=$(between "$work/$other/runs.log" "$name" "$(next_mark "$name")")
    src=$(grep -c 'partition(s) gained' <<<"$lines" || true)
    merge=$(grep -c 'cluster: partials partitions gained' <<<"$lines" || true)
    records=$(grep -o 'partials restored: [0-9]* record(s), [0-9]* bytes' <<<"$lines" |
      awk '{ r += $3; b += $5 } END { printf "%d (%d)", r, b }')
    resumed=$(grep -c 'resuming from local state\|replaying .* beside resumed' <<<"$lines" || true)
    beside=$(grep -c 'replaying .* beside' <<<"$lines" || true)
    reset=$(grep -c 'merged state reset' <<<"$lines" || true)
    kept=$(grep -c 'merged state of .* kept' <<<"$lines" || true)
    next_signal=$(awk -v n="$(next_mark "$name")" '$1 == n { print $2 }' <<<"$(printf '%s\n' "${steps[@]}")")
    [ -n "$next_signal" ] || next_signal=$roll_ended
    # not-ready seconds of the probe between this step's SIGTERM and the next one
    down=$(awk -v a="$signalled" -v b="$next_signal" '$1 >= a && $1 < b { if (prev && pcode != "200") s += $1 - prev; prev = $1; pcode = $2 } END { printf "%.1f", s }' "$work/$other/readyz.txt")
    who=$other; [ "$other" = "$name" ] && who="$other (R)"
    echo "| $name | $who | $src | $merge | $records | $resumed / $beside / $reset / $kept | $down |"
  done
done
echo
echo "Assignment notices during the roll (source, then merge group):"
for name in a b c; do
  between "$work/$name/runs.log" a end | grep -E '=== roll|partition\(s\) gained|partials partitions gained|partials restored' |
    sed -E 's/^[0-9T:.-]+Z (info|warning|notice) //' | cut -c1-200 | sed "s/^/  $name: /"
done
echo
echo "rolling-restart: windows: reference $(wc -l <"$work/reference/windows.txt"), a's last run $(wc -l <"$work/a/windows.txt"), d (fresh) $(wc -l <"$work/d/windows.txt"); alert ids $(wc -l <"$work/alert-ids.txt") (reference $(wc -l <"$work/reference/alert-ids.txt")): $alert_split"
grep -h 'partials restored' "$work/a/runs.log" | tail -n 1 | sed 's/^/rolling-restart: a last run: /'
grep -h 'partials restored' "$work/d/runs.log" | tail -n 1 | sed 's/^/rolling-restart: d fresh: /'
echo "rolling-restart: end $(date -u '+%T UTC'); $(uptime)"
[ "$failures" -eq 0 ] && echo "rolling-restart: all checks passed"
[ "$failures" -eq 0 ]
