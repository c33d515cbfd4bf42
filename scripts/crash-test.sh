#!/usr/bin/env bash
# Exactness under crashes: one uninterrupted run is the reference; a second run over the same
# input is killed with SIGKILL at random points at least --kills times and restarted each time
# until it finishes. Every window (HLL registers included) must then be identical, and every
# alert of the reference must have been delivered (alerts are at-least-once: a crash between the
# sink's fsync and the outbox delete re-delivers; duplicates are counted and reported by id).
#
#   scripts/crash-test.sh [--kills N] [--posts N] [--seed N] [--workers N] [--brandpulse PATH]
#                         [--work DIR] [--max-delay SECONDS (default: spread over the run)]
#                         [--replay]
# --replay (issue 14): the input replays posts as a reconnecting firehose does (every 10,000th
# line, the 1,500 lines before it again) and the pipeline de-duplicates (tests/crash/
# pipeline-dedup.yaml). Besides reference and crashed runs over that input, a third,
# uninterrupted run over the input WITHOUT replays must give the same windows: every replayed
# post, across every kill -9, is counted once.
# Exit 0 when identical; 1 on any difference (the diff is printed); 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=20
posts=2000000
seed=7
workers=2
brandpulse=build/brandpulse
work=build/crash-test
max_delay=auto
replay=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --posts) posts=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --brandpulse) brandpulse=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --max-delay) max_delay=$2; shift 2 ;;
    --replay) replay=1; shift ;;
    *) echo "crash-test: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$work" && work=$(cd "$work" && pwd)
[ -x "$brandpulse" ] || { echo "crash-test: $brandpulse is not built" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work/reference/out" "$work/crashed/out"
input=$work/firehose.jsonl
export CRASH_INPUT=$input CRASH_WORKERS=$workers
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$posts" --seed "$seed" --mention-share 0.08 \
  --malformed-share 0.001 --rate 400 --disorder 20s --output "$input"
pipeline=tests/crash/pipeline.yaml
if [ "$replay" = 1 ]; then
  pipeline=tests/crash/pipeline-dedup.yaml
  clean_input=$input
  input=$work/firehose-replayed.jsonl
  awk '{ lines[NR % 1500] = $0; print } NR % 10000 == 0 && NR >= 1500 {
         for (i = NR - 1499; i <= NR; i++) print lines[i % 1500] }' "$clean_input" >"$input"
  export CRASH_INPUT=$input
  echo "crash-test: replayed input: $(wc -l <"$input") lines for $(wc -l <"$clean_input") posts"
fi
echo "crash-test: $posts posts ($(du -h "$input" | cut -f1)), $workers workers, at least $kills kills"

run() {  # run <dir>: one pipeline run into <dir>, in the background; sets $pid
  CRASH_STATE=$work/$1/state CRASH_OUT=$work/$1/out \
    "$brandpulse" run "$pipeline" --quiet >>"$work/$1/runs.log" 2>&1 &
  pid=$!
}

now() { date +%s.%N; }
start=$(now)
run reference
wait "$pid" || { echo "crash-test: the reference run failed:" >&2; cat "$work/reference/runs.log" >&2; exit 2; }
reference_seconds=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')

# By default the delays spread the kills over the run: their expected sum is below the reference
# run's duration, so the run is still going when the last kill is due.
if [ "$max_delay" = auto ]; then
  # The run logs its start-up time as "ready after N s" or, structured, "ready_seconds=N".
  ready=$({ grep -oE 'ready after [0-9.]+ s|ready_seconds=[0-9.]+' "$work/reference/runs.log" || true; } |
          head -1 | grep -oE '[0-9.]+' || true)
  max_delay=$(awk -v t="$reference_seconds" -v r="${ready:-0}" -v k="$kills" \
    'BEGIN { printf "%.3f", 2 * r + 1.6 * (t - r) / (k + 1) }')
fi
# Kill delays: uniform in [0, max_delay) from a seeded generator, so a failure can be replayed.
RANDOM=$seed
done_killing=0
done_kills=0
restarts=0
attempts=0
while true; do
  run crashed
  if [ "$done_kills" -lt "$kills" ]; then
    delay=$(awk -v r=$((RANDOM % 1000)) -v m="$max_delay" 'BEGIN { printf "%.3f", r / 1000 * m }')
    sleep "$delay"
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      wait "$pid" 2>/dev/null || true
      done_kills=$((done_kills + 1))
      restarts=$((restarts + 1))
      continue
    fi
  fi
  if ! wait "$pid"; then
    echo "crash-test: a restarted run failed:" >&2
    tail -n 20 "$work/crashed/runs.log" >&2
    exit 1
  fi
  [ "$done_kills" -ge "$kills" ] && break
  # Finished before enough kills (this machine got faster than the reference run suggested):
  # start the crashed run over with shorter delays, so the compared run has all its kills.
  attempts=$((attempts + 1))
  if [ "$attempts" -ge 6 ]; then
    echo "crash-test: the run keeps finishing after $done_kills kills (wanted $kills): use more --posts" >&2
    exit 2
  fi
  max_delay=$(awk -v m="$max_delay" 'BEGIN { printf "%.3f", m / 2 }')
  echo "crash-test: finished after $done_kills kills; again with delays below $max_delay s"
  rm -rf "$work/crashed"
  mkdir -p "$work/crashed/out"
  done_kills=0
done

"$brandpulse" query dump --state "$work/reference/state" >"$work/reference/windows.txt"
"$brandpulse" query dump --state "$work/crashed/state" >"$work/crashed/windows.txt"
windows=$(wc -l <"$work/reference/windows.txt")
differences=0
if ! diff -u "$work/reference/windows.txt" "$work/crashed/windows.txt" >"$work/windows.diff"; then
  differences=$(grep -c '^[-+][^-+]' "$work/windows.diff" || true)
  head -n 40 "$work/windows.diff"
fi

alert_ids() { grep -o '"alert_id":"[^"]*"' "$1" | sort; }
alert_ids "$work/reference/out/alerts.jsonl" >"$work/reference/alert-ids.txt"
alert_ids "$work/crashed/out/alerts.jsonl" >"$work/crashed/alert-ids.txt"
missing_alerts=$(comm -23 "$work/reference/alert-ids.txt" <(sort -u "$work/crashed/alert-ids.txt") | wc -l)
extra_alerts=$(comm -13 "$work/reference/alert-ids.txt" <(sort -u "$work/crashed/alert-ids.txt") | wc -l)
duplicate_alerts=$(uniq -d "$work/crashed/alert-ids.txt" | wc -l)

# Dead letters are at-least-once too: compare them as sets.
sort -u "$work/reference/out/dead-letter.jsonl" >"$work/reference/dead-letters.txt"
sort -u "$work/crashed/out/dead-letter.jsonl" >"$work/crashed/dead-letters.txt"
dead_letter_differences=$(comm -3 "$work/reference/dead-letters.txt" "$work/crashed/dead-letters.txt" | wc -l)

# Restart-to-resume: what each resumed run reported (open state, compile, seek to the position).
resume_times=$(grep -o 'resumed .* ready after [0-9.]* s' "$work/crashed/runs.log" | awk '{print $(NF-1)}' || true)
resume_summary=$(echo "$resume_times" | awk 'NF { n++; s += $1; if ($1 > m) m = $1 }
  END { if (n) printf "%d resumes reported, mean %.3f s, max %.3f s", n, s / n, m; else print "no resume reported" }')

if [ "$replay" = 1 ]; then
  # The truth: the same posts without replays, uninterrupted.
  mkdir -p "$work/clean/out"
  CRASH_INPUT=$clean_input CRASH_STATE=$work/clean/state CRASH_OUT=$work/clean/out \
    "$brandpulse" run "$pipeline" --quiet >>"$work/clean/runs.log" 2>&1 ||
    { echo "crash-test: the run without replays failed" >&2; cat "$work/clean/runs.log" >&2; exit 2; }
  "$brandpulse" query dump --state "$work/clean/state" >"$work/clean/windows.txt"
  replay_differences=0
  if ! diff -u "$work/clean/windows.txt" "$work/crashed/windows.txt" >"$work/replay.diff"; then
    replay_differences=$(grep -c '^[-+][^-+]' "$work/replay.diff" || true)
    head -n 40 "$work/replay.diff"
  fi
  echo "crash-test: replayed input vs the same posts without replays: differences $replay_differences"
  differences=$((differences + replay_differences))
fi
echo "crash-test: kills $done_kills, posts $posts, windows $windows, differences $differences"
echo "crash-test: alerts $(wc -l <"$work/reference/alert-ids.txt") in the reference; missing $missing_alerts, unexpected $extra_alerts, re-delivered $duplicate_alerts"
echo "crash-test: dead letters $(wc -l <"$work/reference/dead-letters.txt") in the reference; differing as sets: $dead_letter_differences"
echo "crash-test: reference run ${reference_seconds} s; restart-to-resume: $resume_summary"
[ "$differences" -eq 0 ] && [ "$missing_alerts" -eq 0 ] && [ "$extra_alerts" -eq 0 ] &&
  [ "$dead_letter_differences" -eq 0 ]
