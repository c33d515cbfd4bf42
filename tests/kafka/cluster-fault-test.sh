#!/usr/bin/env bash
# The cluster fault test (issue 11, part 5): `brandpulse dev-kafka` (librdkafka's mock cluster, 3
# brokers, an 8+-partition topic), a feeder producing with kcat the whole time, and instances of
# tests/kafka/cluster-pipeline.yaml sharing one consumer group while they go 1 → 2 → 3 → 2 → 1:
#
#   A starts (1); B joins on a fresh disk (2); C joins (3); B is killed with SIGKILL and restarted
#   on its old state; C is frozen (SIGSTOP) past its session timeout and resumed (SIGCONT); A
#   stops gracefully (SIGTERM) (2); C stops gracefully (1); D joins on a fresh disk (2); B stops
#   (1); D follows the topic until the feeder is done, stops, and runs once more on its old state
#   with stop_at_end (the final instance: alone, it owns every partition at the end).
#
# Meanwhile: a broker goes down and up, partition leaders and the group coordinator move,
# OffsetCommit, Produce and Fetch requests fail, and a Produce is delayed past the feeder's
# request timeout, so its retried batch lands twice on the topic.
#
# At the end, against a single-process file run over the same input — the records the feeder put
# on the topic, duplicates included, in the order they were fed (tests/kafka/cluster-file-pipeline.yaml)
# — it checks:
#   - every instance ran to its end as told (exit 0 after SIGTERM; only the SIGKILLed run died);
#   - the feeder delivered every post, and the mock dropped no record (start offsets 0);
#   - the group's committed offsets are at the topic's end offsets (`brandpulse kafka-lag`);
#   - no offset reset in any log (auto.offset.reset=error);
#   - every post the file run matched left some instance's mentions stream (by post id), and no
#     other post did;
#   - --mode per-instance (today): per window, mentions and reach summed over the instances'
#     states are never below the file run (lost 0); how many are above it ("counted twice":
#     each instance's state covers only the partitions it read, docs/cluster.md) is a figure;
#   - --mode global (global windows, issue 11 part 3; the script adds a `cluster:` section and a
#     partials topic): the final instance's windows (`query dump --state`) equal the file run's
#     byte for byte, and the alert ids of all instances, de-duplicated, equal the file run's.
# It prints the figures (kills, freezes, rebalances, broker faults, posts, lost, counted twice,
# failover times) and writes them to <work>/figures.txt.
#
#   tests/kafka/cluster-fault-test.sh [--mode per-instance|global] [--long] [--cycles N]
#       [--posts N] [--partitions N] [--partials N] [--rate N] [--seed N] [--brandpulse PATH] [--work DIR]
# --long (`make cluster-test`): 48,000 posts, 12 partitions, and the middle of the schedule (B
# killed and restarted, C frozen and resumed) three times.
# --mode global appends a `cluster:` section; per-instance (default) runs the pipeline as it is.
# Exit 0 when all hold; 1 on a failed check; 2 on a setup error; 3 when the mock cluster itself
# died (librdkafka 2.0.2's mock can abort on an assertion; see the schedule).
set -euo pipefail
cd "$(dirname "$0")/../.."

test_name=cluster-fault-test
mode=per-instance
posts=16000
partitions=8
partials=7        # partials partitions (global mode). The watchlist's brands are keyed by their
                  # competitor groups, "dna" and "digi": with 2-6 partitions both hash to
                  # partition 0 (one merger merges everything); with 7 they land on 3 and 6.
rate=250          # posts/s the feeder produces while it has budget
seed=22
brandpulse=build/brandpulse
work=build/cluster-fault-test
cycles=1          # kill/restart + freeze/resume cycles in the middle of the schedule
debug=cgrp        # librdkafka debug contexts for the instances' consumers (--debug ''
                  # for none): the group lines explain slow failovers (~100 KB per log)
source tests/kafka/lib.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --long) posts=48000; partitions=12; cycles=3; shift ;;
    --cycles) cycles=$2; shift 2 ;;
    --posts) posts=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --partials) partials=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --debug) debug=$2; shift 2 ;;
    *) kafka_common_option "$1" "${2:-}" || { echo "cluster-fault-test: unknown argument $1" >&2; exit 2; }; shift 2 ;;
  esac
done
case "$mode" in per-instance|global) ;; *) echo "cluster-fault-test: --mode per-instance|global" >&2; exit 2 ;; esac
kafka_prepare
# The instances' pipeline: tests/kafka/cluster-pipeline.yaml (its paths made absolute), plus
# in global mode the cluster section (docs/cluster.md, "Global windows").
pipeline=$work/pipeline.yaml
sed "s#\.\./\.\./pipelines/#$PWD/pipelines/#" tests/kafka/cluster-pipeline.yaml >"$pipeline"
# --debug: librdkafka's debug lines of the source consumer (in the runs' logs, time-stamped).
[ -z "$debug" ] || sed -i "s#^    auto.offset.reset: error#&\n    debug: $debug#" "$pipeline"
if [ "$mode" = global ]; then
  cat >>"$pipeline" <<'YAML'

cluster:
  partials_topic: partials
  brokers: ${KAFKA_BROKERS}
  properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500"}
YAML
fi
group=cluster
session_s=6   # session.timeout.ms in the pipeline

say() { echo "cluster-fault-test: [$(date -u +%H:%M:%S)] $*"; }
now() { date +%s.%N; }
declare -A pid=()
feeder_pid=
kafka_before_cleanup() {  # a frozen instance is woken, so that the kill reaches it
  for name in "${!pid[@]}"; do kill -CONT "${pid[$name]}" 2>/dev/null || true; done
}

# --- the cluster, the input, the reference -----------------------------------------------------
# The snapshot topic beside the partials topic: snapshots are on by default (every 20 applied
# epochs, docs/cluster.md "Snapshots"); the mock cannot create it (CreateTopics never answers).
kafka_start_cluster 3 "posts:$partitions" alerts:2 "partials:$partials" "partials.snapshots:$partials"
broker_faults=0
mock_alive() {  # exits 3 when dev-kafka is gone (the mock aborted): nothing after it can be checked
  kill -0 "$cluster_pid" 2>/dev/null && return 0
  echo "cluster-fault-test: dev-kafka (librdkafka's mock cluster) died: $(tail -n 1 "$work/dev-kafka.log")" >&2
  exit 3
}
control() {  # control <command>: one dev-kafka command; fails the test on an error reply
  local reply
  mock_alive
  reply=$(kafka_control "$1") || { echo "cluster-fault-test: dev-kafka refused '$1': $reply" >&2; exit 2; }
  echo "$(date -u +%H:%M:%S.%N | cut -c1-12) $1" >>"$work/faults.log"
}
fault() { control "$1"; broker_faults=$((broker_faults + 1)); }

input=$work/firehose.jsonl
# --rate 40: 40 posts per second of event time, so the input spans several 5-minute windows; the
# feeder's 250 posts/s make 6 s of event time per second. A retried (duplicated) batch lands a
# few seconds after its original: well within max_out_of_orderness + allowed_lateness (90 s).
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$posts" --seed "$seed" --mention-share 0.10 \
  --malformed-share 0.001 --rate 40 --disorder 20s --output "$input"
bytes=$(stat -c %s "$input")
# The mock keeps ~5 MiB per partition and drops older records silently: stay well below.
per_partition=$((bytes / partitions / 1048576))
[ "$per_partition" -lt 4 ] ||
  { echo "cluster-fault-test: ~$per_partition MiB per partition; the mock keeps ~5: use more partitions" >&2; exit 2; }

instance_env() {  # instance_env <name>: the variables an instance's pipeline reads
  echo "KAFKA_INPUT=$work/topic.jsonl KAFKA_STATE=$work/$1/state KAFKA_OUT=$work/$1/out KAFKA_GROUP=$group"
}

# --- the feeder: kcat producing the input, keyed by line number, as the budget allows ----------
# The budget (a line count in a file) grows phase by phase, so posts arrive during every step.
# tests/kafka/feeder.py runs kcat and reads the topic back: a post kcat failed to deliver is sent
# again, so every post is on the topic (its log ends with what it had to send again).
echo 0 >"$work/budget"
python3 -u tests/kafka/feeder.py --input "$input" --budget "$work/budget" --rate "$rate" \
  --brokers "$KAFKA_BROKERS" --topic posts --log "$work/feeder.log" >/dev/null 2>&1 &
feeder_pid=$!
fed=0
feed() {  # feed <posts>: let the feeder produce that many more
  fed=$((fed + $1))
  [ "$fed" -le "$posts" ] || fed=$posts
  echo "$fed" >"$work/budget.tmp" && mv "$work/budget.tmp" "$work/budget"
}
slice=$((posts / (8 + 2 * cycles)))

# --- instances ---------------------------------------------------------------------------------
declare -A expected_exit=()
runs=0
start() {  # start <name> [VAR=value...]: an instance on <work>/<name>/state (kept across restarts)
  local name=$1
  shift
  mkdir -p "$work/$name/out"
  echo "=== start $(date -u +%FT%T.%3NZ)" >>"$work/$name/runs.log"
  # shellcheck disable=SC2046
  env $(instance_env "$name") "$@" stdbuf -oL -eL "$brandpulse" run "$pipeline" --quiet \
    >>"$work/$name/runs.log" 2>&1 &
  pid[$name]=$!
  expected_exit[$name]=0
  runs=$((runs + 1))
}
# An instance that exited by itself failed: the test stops there, with its last lines.
alive() {  # alive <name>...
  local name status
  for name in "$@"; do
    [ -n "${pid[$name]:-}" ] || continue
    kill -0 "${pid[$name]}" 2>/dev/null && continue
    status=0
    wait "${pid[$name]}" || status=$?
    fail "$name exited by itself (status $status):"
    grep -av '^kafka \|^  \|^$' "$work/$name/runs.log" | tail -n 5
    exit 1
  done
}
stop() {  # stop <name> <signal>: signal it and wait for its exit (a SIGKILL is expected to kill)
  local name=$1 signal=$2 status=0
  alive "$name"
  kill -"$signal" "${pid[$name]}"
  wait "${pid[$name]}" || status=$?
  if [ "$signal" = KILL ]; then
    [ "$status" -eq 137 ] || fail "$name: exit $status after SIGKILL"
  elif [ "$status" -ne 0 ]; then
    fail "$name: exit $status after SIGTERM"
    tail -n 15 "$work/$name/runs.log"
  fi
  unset "pid[$name]"
}
to_epoch() { date -u -d "$1" +%s.%N; }
# Held partitions per instance, from its "N partition(s) gained, M lost" notices since <line>.
held() {  # held <name>: partitions its current run holds
  awk '/^=== start/ { h = 0 } / partition\(s\) gained, / {
      for (i = 1; i <= NF; i++) { if ($i == "partition(s)") g = $(i - 1); if ($i == "lost") l = $(i - 1) }
      h += g - l } END { print h + 0 }' "$work/$1/runs.log"
}
# Partitions gained by <names> after epoch time <since>; prints "<count> <time of the last gain>".
gained_since() {  # gained_since <since> <name>...
  local since=$1
  shift
  for name in "$@"; do
    grep -h ' partition(s) gained, ' "$work/$name/runs.log" | while read -r stamp rest; do
      t=$(to_epoch "$stamp")
      awk -v t="$t" -v s="$since" 'BEGIN { exit !(t > s) }' && echo "$t $rest"
    done
  done | awk '{ for (i = 1; i <= NF; i++) if ($i == "partition(s)") g += $(i - 1); if ($1 > last) last = $1 }
    END { printf "%d %s\n", g, (last == "" ? 0 : last) }'
}
wait_assigned() {  # wait_assigned <name> <timeout s>: until its current run holds a partition
  local deadline=$(( $(date +%s) + $2 ))
  while [ "$(held "$1")" -le 0 ]; do
    mock_alive
    [ "$(date +%s)" -lt "$deadline" ] || { fail "$1 got no partition within $2 s"; return 1; }
    alive "$1"
    sleep 0.1
  done
}
# Failover: after <name> was signalled at <since>, waits until the others have gained as many
# partitions as it held; prints the seconds from the signal to the last of those gains. The limit
# (60 s) only says that it happened: each SyncGroup the mock refuses costs another 5-s round
# (docs/cluster.md), and a long run saw 21.6 s.
failover() {  # failover <since> <held> <timeout s> <survivor>...
  local since=$1 count=$2 deadline=$(( $(date +%s) + $3 ))
  shift 3
  [ "$count" -gt 0 ] || { echo "none"; return; }
  while true; do
    read -r got last < <(gained_since "$since" "$@")
    if [ "$got" -ge "$count" ]; then
      awk -v a="$since" -v b="$last" 'BEGIN { printf "%.1f\n", b - a }'
      return
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "none"; return; }
    kill -0 "$cluster_pid" 2>/dev/null || { echo "none"; return; }
    sleep 0.2
  done
}
# Until <name>s hold every partition and no assignment changed for 2 s (a cooperative rebalance
# takes partitions away first and gives them out in a second round).
wait_all_assigned() {  # wait_all_assigned <timeout s> <name>...
  local limit=$1 deadline=$(( $(date +%s) + $1 )) total notices last_notices=-1 steady=0 name
  shift
  while true; do
    total=0
    for name in "$@"; do total=$((total + $(held "$name"))); done
    notices=$(cat "${@/#/$work/}"/runs.log 2>/dev/null | grep -c ' partition(s) gained, ' || true)
    if [ "$total" -eq "$partitions" ] && [ "$notices" -eq "$last_notices" ]; then
      steady=$((steady + 1))
      [ "$steady" -ge 10 ] && return 0
    else
      steady=0
    fi
    last_notices=$notices
    mock_alive
    alive "$@"
    [ "$(date +%s)" -lt "$deadline" ] || { say "after $limit s the instances hold $total of $partitions partitions"; return 0; }
    sleep 0.2
  done
}

# --- the schedule ------------------------------------------------------------------------------
kills=0
freezes=0
graceful=0
failover_kill=none
failover_stop=none
failover_term=none
rejoin_sigcont=none
feed "$slice"
start A
wait_assigned A 60
say "1 instance: A holds $(held A) partitions"

feed "$slice"
start B
wait_assigned B 60
fault "leader posts 0 2"
fault "leader posts 1 3"
fault "error fetch 4 NOT_LEADER_FOR_PARTITION"
wait_all_assigned 30 A B
say "2 instances: A $(held A), B $(held B); leaders of partitions 0 and 1 moved, 4 Fetch errors"

# Group-level faults (a broker down, the coordinator moving) only while the group is steady: the
# mock (librdkafka 2.0.2) aborts on `!member->resp` in rd_kafka_mock_cgrp_member_sync_set when a
# member that lost its coordinator sends SyncGroup again while its first one still waits.
feed "$slice"
start C
wait_assigned C 60
wait_all_assigned 30 A B C
fault "broker down 2"
fault "error produce 4 NOT_LEADER_FOR_PARTITION"
# A Produce refused with a non-retriable error: kcat gives that batch up ("Delivery failed"), as
# it did with 6 posts in stop 23's bare-chroot run; the feeder must notice and send them again.
fault "error produce 1 INVALID_RECORD"
sleep 3
fault "broker up 2"
wait_all_assigned 30 A B C
fault "coordinator $group 3"
wait_all_assigned 30 A B C
say "3 instances: A $(held A), B $(held B), C $(held C); broker 2 was down 3 s, coordinator moved, 5 Produce errors"

# The middle, --cycles times (1; 3 in the long form): B killed and restarted, C frozen and resumed.
for ((cycle = 1; cycle <= cycles; cycle++)); do
  # kill -9 B while it consumes; its partitions move after the session timeout; B restarts on its
  # old state. OffsetCommit errors are queued just before, so commits are refused around it
  # (not NOT_COORDINATOR: see the mock's abort above).
  feed "$slice"
  sleep 1
  fault "error offsetcommit 3 REBALANCE_IN_PROGRESS"
  wait_assigned B 60  # a member holding nothing has no failover to time (a long run: B held 0)
  held_b=$(held B)
  killed_at=$(now)
  stop B KILL
  kills=$((kills + 1))
  took=$(failover "$killed_at" "$held_b" 60 A C)
  alive A C
  failover_kill="${failover_kill#none} $took"
  say "B (holding $held_b) killed with SIGKILL; A and C had its partitions after $took s"
  start B
  wait_assigned B 60
  # A delayed Produce on the leader of partition 2 (moved to broker 1 first): the feeder's request
  # times out after 3 s and is sent again; the mock appends both.
  fault "leader posts 2 1"
  fault "delay 1 produce 1 5000"
  feed "$slice"
  wait_all_assigned 30 A B C
  say "B restarted on its old state: A $(held A), B $(held B), C $(held C); a Produce to broker 1 delayed 5 s"

  # C frozen past its session timeout: its partitions move; it wakes up fenced and rejoins.
  feed "$slice"
  sleep 1
  wait_assigned C 60
  held_c=$(held C)
  frozen_at=$(now)
  kill -STOP "${pid[C]}"
  freezes=$((freezes + 1))
  took=$(failover "$frozen_at" "$held_c" 60 A B)
  alive A B
  failover_stop="${failover_stop#none} $took"
  sleep_more=$(awk -v a="$frozen_at" -v b="$(now)" -v s="$session_s" 'BEGIN { d = s + 3 - (b - a); print (d > 0 ? d : 0) }')
  sleep "$sleep_more"
  resumed_at=$(now)
  kill -CONT "${pid[C]}"
  say "C (holding $held_c) frozen for $(awk -v a="$frozen_at" -v b="$resumed_at" 'BEGIN { printf "%.1f", b - a }') s; A and B had its partitions after $took s"
  # Woken up, C finds itself out of the group (its partitions lost) and joins again.
  took=none
  for _ in $(seq 200); do
    read -r got last < <(gained_since "$resumed_at" C)
    if [ "$got" -gt 0 ]; then
      took=$(awk -v a="$resumed_at" -v b="$last" 'BEGIN { printf "%.1f", b - a }')
      break
    fi
    sleep 0.2
  done
  rejoin_sigcont="${rejoin_sigcont#none} $took"
  wait_all_assigned 40 A B C
  say "C resumed: it held partitions again after $took s; A $(held A), B $(held B), C $(held C)"
done

# 3 → 2: A stops gracefully (commits, leaves the group).
feed "$slice"
sleep 1
wait_assigned A 60
held_a=$(held A)
stopped_at=$(now)
stop A TERM
graceful=$((graceful + 1))
failover_term=$(failover "$stopped_at" "$held_a" 60 B C)
alive B C
say "A (holding $held_a) stopped with SIGTERM; B and C had its partitions after $failover_term s"

# 2 → 1: C stops gracefully; then D joins on a fresh disk (2), and B stops (1).
feed "$slice"
sleep 1
stop C TERM
graceful=$((graceful + 1))
wait_all_assigned 30 B
say "C stopped with SIGTERM: B holds $(held B)"
feed "$slice"
start D
wait_assigned D 60
wait_all_assigned 30 B D
say "D joined on a fresh disk: B $(held B), D $(held D)"
feed "$posts"
sleep 1
stop B TERM
graceful=$((graceful + 1))
wait_all_assigned 30 D
say "B stopped with SIGTERM: D holds $(held D)"

# --- the end: the feeder finishes, D reads to the end and stops ---------------------------------
feeder_status=0
wait "$feeder_pid" || feeder_status=$?
feeder_pid=
# The feeder exits 1 only when some post never reached the topic (checked below as well).
say "$(grep -a '^feeder .*posts fed' "$work/feeder.log" | tail -n 1)"
[ "$feeder_status" -eq 0 ] || fail "the feeder exited $feeder_status: some posts never reached the topic"
resent=$(grep -a '^feeder .*posts fed' "$work/feeder.log" | tail -n 1 | grep -o '[0-9]* post(s) sent again' | cut -d' ' -f1 || true)
lag() { "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts --group "$group" >"$work/lag.txt" 2>&1; }
for _ in $(seq 300); do
  lag || true
  grep -q '^total lag 0$' "$work/lag.txt" && break
  sleep 0.2
done
stop D TERM
graceful=$((graceful + 1))
mock_alive
lag || true
if ! grep -q '^total lag 0$' "$work/lag.txt"; then
  fail "the group's committed offsets are not at the end offsets"
  cat "$work/lag.txt"
fi
on_topic=$(awk '$1 ~ /^[0-9]+$/ { n += $3 } END { print n + 0 }' "$work/lag.txt")
dropped=$(awk '$1 ~ /^[0-9]+$/ && $5 > 0 { n++ } END { print n + 0 }' "$work/lag.txt")
[ "$dropped" -eq 0 ] || fail "the mock dropped the oldest records of $dropped partition(s) (start offset > 0)"
[ "$on_topic" -ge "$posts" ] || fail "$on_topic records on the topic, fewer than the $posts posts fed"
duplicated=$((on_topic - posts))

# Per instance, B's run after its SIGKILL resumed from its state (the summary each run prints
# at its end). With cluster: positions come from the group (the epochs' commits), not the state.
if [ "$mode" = per-instance ]; then
  grep -q '^resumed from committed position' "$work/B/runs.log" || fail "B did not resume from its committed state"
fi
instances=(A B C D)
logs=()
for name in "${instances[@]}"; do logs+=("$work/$name/runs.log"); done
if grep -i 'offset reset' "${logs[@]}"; then fail "an offset reset happened"; fi
rebalances=$(cat "${logs[@]}" | grep -c ' partition(s) gained, ' || true)
refused_commits=$(cat "${logs[@]}" | grep -c 'offset commit.*failed\|handing over' || true)

# The final instance: D again on its old state, alone, with stop_at_end (in global mode it owns
# every partials partition and closes every window at the global end; docs/cluster.md).
final_run() {  # final_run <name>: alone, on its old state, with stop_at_end; waits (180 s at most)
  local final_pid
  start "$1" KAFKA_STOP_AT_END=true
  final_pid=${pid[$1]}
  # Its output goes nowhere: a sleep left holding the test's stdout would keep ctest waiting.
  ( sleep 180; kill -TERM "$final_pid" ) >/dev/null 2>&1 &
  local watchdog=$!
  wait "$final_pid" || { fail "the final run of $1 failed (or did not end within 180 s)"; tail -n 15 "$work/$1/runs.log"; }
  kill "$watchdog" 2>/dev/null || true
  unset "pid[$1]"
}
final_run D
# A stopped instance keeps what its sinks had not taken in its outbox ("N left in the outbox")
# until it runs again: A, B and C, stopped for good, run once more (after D, whose state is the
# one compared) so their mentions streams are complete. (B was left out until stop 23: a
# bare-chroot run failed on the 5 mentions B's last SIGTERMed run left in its outbox.)
for name in A B C; do
  if awk '/^=== start/ { left = 0 } / [1-9][0-9]* left in the outbox/ { left = 1 } END { exit !left }' \
      "$work/$name/runs.log"; then
    say "$name's last run left entries in its outbox: it runs once more to deliver them"
    final_run "$name"
  fi
done
lag || true
grep -q '^total lag 0$' "$work/lag.txt" || { fail "after the final run the committed offsets are not at the end"; cat "$work/lag.txt"; }

# --- the reference: a file run over what the feeder put on the topic ------------------------------
# Every record, sorted by its key (the input's line number; a duplicate sits beside its original).
kcat -C -b "$KAFKA_BROKERS" -t posts -o beginning -e -q -f '%k\t%s\n' | sort -t "	" -k1,1n -s >"$work/topic.tsv"
cut -f2- "$work/topic.tsv" >"$work/topic.jsonl"
[ "$(wc -l <"$work/topic.jsonl")" -eq "$on_topic" ] || fail "kcat read $(wc -l <"$work/topic.jsonl") of the $on_topic records on the topic"
distinct=$(cut -f1 "$work/topic.tsv" | uniq | wc -l)
[ "$distinct" -eq "$posts" ] || fail "$distinct of the $posts posts fed are on the topic"
mkdir -p "$work/reference/out"
# shellcheck disable=SC2046
env $(instance_env reference) "$brandpulse" run tests/kafka/cluster-file-pipeline.yaml --quiet \
  >"$work/reference/runs.log" 2>&1 ||
  { echo "cluster-fault-test: the file run failed" >&2; tail -n 20 "$work/reference/runs.log" >&2; exit 2; }
"$brandpulse" query dump --state "$work/reference/state" >"$work/reference/windows.txt"
{ grep -aho '"alert_id":"[^"]*"' "$work/reference/out/alerts.jsonl" || true; } | sort -u >"$work/reference/alert-ids.txt"
[ -s "$work/reference/windows.txt" ] || { echo "cluster-fault-test: the file run has no windows" >&2; exit 2; }
say "file run over the topic's $on_topic records: $(wc -l <"$work/reference/windows.txt") windows, $(wc -l <"$work/reference/alert-ids.txt") alert ids"

# --- windows and alerts against the file run -----------------------------------------------------
for name in "${instances[@]}"; do
  "$brandpulse" query dump --state "$work/$name/state" >"$work/$name/windows.txt"
done
# grep -a: an alert's evidence quotes posts, some of them malformed (not UTF-8) on purpose.
cat "$work"/{A,B,C,D}/out/alerts.jsonl | { grep -ao '"alert_id":"[^"]*"' || true; } | sort -u >"$work/alert-ids.txt"
alert_ids_topic=$(kcat -C -b "$KAFKA_BROKERS" -t alerts -o beginning -e -q | { grep -ao '"alert_id":"[^"]*"' || true; } | sort -u | wc -l)
# brand dimension size slide start mentions reach ...: the exact counters, summed per window.
sum_windows() { awk '{ key = $1 "|" $2 "|" $3 "|" $4 "|" $5; m[key] += $6; r[key] += $7 }
  END { for (k in m) print k, m[k], r[k] }' "$@" | sort; }
sum_windows "$work/reference/windows.txt" >"$work/reference/sums.txt"
# Per instance: summed over every instance's state. Global: the final instance's state alone (the
# others keep stale windows of partials partitions they lost; docs/cluster.md).
if [ "$mode" = global ]; then
  sum_windows "$work/D/windows.txt" >"$work/sums.txt"
else
  sum_windows "$work"/{A,B,C,D}/windows.txt >"$work/sums.txt"
fi
# Mentions lost (below the file run) and counted twice (above it), over every window.
read -r lost twice < <(join -a1 -a2 -e 0 -o 0,1.2,2.2 "$work/reference/sums.txt" "$work/sums.txt" |
  awk '{ d = $3 - $2; if (d < 0) l -= d; else t += d } END { print l + 0, t + 0 }')
if [ "$mode" = global ]; then
  # The mergers' own account at the end of each run (docs/cluster.md): conflicts and merged
  # deltas that came late must be none.
  bad=$(cat "${logs[@]}" | grep -a 'cluster: epochs committed' | grep -avE ' 0 conflict\(s\),.* 0 merged window delta\(s\) late' || true)
  [ -z "$bad" ] || { fail "a merger reports conflicts or late deltas"; echo "$bad" | head -n 5; }
  grep -aq 'cluster: global end reached' "$work/D/runs.log" || fail "the final instance did not reach the global end"
  # Global windows: the final instance holds every merged window; byte for byte the file run's.
  if ! cmp -s "$work/reference/windows.txt" "$work/D/windows.txt"; then
    fail "the final instance's windows differ from the file run's"
    { diff "$work/reference/windows.txt" "$work/D/windows.txt" || true; } | cut -c1-200 | head -n 20
  fi
  cmp -s "$work/reference/alert-ids.txt" "$work/alert-ids.txt" ||
    fail "alert ids differ from the file run's ($(wc -l <"$work/alert-ids.txt") against $(wc -l <"$work/reference/alert-ids.txt"))"
fi
[ "$lost" -eq 0 ] || { fail "$lost mentions lost (windows below the file run's)";
  join -a1 -a2 -e 0 -o 0,1.2,2.2 "$work/reference/sums.txt" "$work/sums.txt" | awk '$3 < $2' | head -n 10; }
# Global windows count each mention once (per instance, counted twice is a figure).
[ "$mode" = per-instance ] || [ "$twice" -eq 0 ] || fail "$twice mentions counted twice"
same_alerts=$(comm -12 "$work/reference/alert-ids.txt" "$work/alert-ids.txt" | wc -l)

# The mentions streams, by post id: every post the file run matched must have left some instance
# (delivery is at least once, so repeats are fine), and no other post.
mention_ids() { cat "$@" | { grep -ao '^{"schema":"brandpulse.mention/1","post_id":"[^"]*"' || true; } | cut -d'"' -f8 | sort -u; }
mention_ids "$work/reference/out/mentions.jsonl" >"$work/reference/mention-ids.txt"
mention_ids "$work"/{A,B,C,D}/out/mentions.jsonl >"$work/mention-ids.txt"
missing_mentions=$(comm -23 "$work/reference/mention-ids.txt" "$work/mention-ids.txt" | wc -l)
extra_mentions=$(comm -13 "$work/reference/mention-ids.txt" "$work/mention-ids.txt" | wc -l)
[ -s "$work/reference/mention-ids.txt" ] || fail "the file run wrote no mentions"
[ "$missing_mentions" -eq 0 ] || { fail "$missing_mentions matched posts never left any instance (mentions streams)";
  comm -23 "$work/reference/mention-ids.txt" "$work/mention-ids.txt" | head -n 5; }
[ "$extra_mentions" -eq 0 ] || fail "$extra_mentions posts in the instances' mentions streams are not in the file run's"

load=$(cut -d' ' -f1-3 /proc/loadavg)
# Global mode: epochs committed / abandoned over every run, and the partials restores (each
# reset of a merger replays its partials partitions: seconds against bytes replayed).
epochs() { cat "${logs[@]}" | grep -ao "cluster: epochs committed [0-9]*, abandoned [0-9]*\(, commits deferred [0-9]*\)\?" |
  awk '{ c += $4; a += $6; d += $9 } END { printf "%d committed, %d abandoned, %d commits deferred", c, a, d }'; }
# Offset commits refused with ILLEGAL_GENERATION: a member that rejoined with a commit in flight
# lost its assignment this way in stop 22's rebalance storms (a frozen member is refused with
# Unknown member instead).
illegal_generation=$(cat "${logs[@]}" | grep -ac 'group generation id is not valid' || true)
# A follower's SyncGroup that reaches librdkafka 2.0.2's mock after the leader's is refused with
# INVALID_REQUEST and costs the group another 5-s round: the slow failovers (docs/cluster.md,
# "The cluster fault test"). Counted from the cgrp debug lines (none without them).
syncgroups_refused=$(cat "${logs[@]}" | grep -ac 'SyncGroup response: Broker: Invalid request' || true)
restores() { cat "${logs[@]}" | grep -ao 'cluster: partials restored: [0-9]* record(s), [0-9]* bytes, [0-9]* epoch(s) applied in [0-9.]* s' |
  awk '{ n++; s = $(NF - 1); b = $6; if (s > ms) { ms = s; mb = b } if (b > xb) { xb = b; xs = s } }
    END { if (n) printf "%d restores; slowest %.3f s (%d bytes); largest %d bytes (%.3f s)", n, ms, mb, xb, xs; else print "none" }'; }
# Global mode, snapshots (on by default): published, and of those not named by the merge group's
# pointer (its generation-fenced commit refused or not sent: a fenced member's, or one made while
# the merge consumer rejoined); partitions started from a snapshot, and from the pointer's.
snapshots() { cat "${logs[@]}" | grep -ao 'snapshots published [0-9]* ([0-9]* not named by the pointer)' |
  awk '{ p += $3; n += substr($4, 2) } END { printf "%d published, %d not named by the pointer", p, n }'; }
snapshot_starts=$(cat "${logs[@]}" | grep -ac 'starts from snapshot' || true)
snapshot_starts_named=$(cat "${logs[@]}" | grep -ac "starts from snapshot.*named by the merge group's pointer" || true)
{
  echo "mode $mode"
  echo "posts $posts"
  echo "partitions $partitions"
  echo "records_on_topic $on_topic"
  echo "duplicated_records $duplicated"
  echo "posts_sent_again_by_the_feeder ${resent:-?}"
  echo "instance_runs $runs"
  echo "kills $kills"
  echo "freezes $freezes"
  echo "graceful_stops $graceful"
  echo "assignment_changes $rebalances"
  echo "broker_faults $broker_faults"
  echo "refused_commit_notices $refused_commits"
  echo "matched_posts_file_run $(wc -l <"$work/reference/mention-ids.txt")"
  echo "matched_posts_missing_from_streams $missing_mentions"
  echo "mentions_lost $lost"
  echo "mentions_counted_twice $twice"
  echo "alert_ids_file_run $(wc -l <"$work/reference/alert-ids.txt")"
  echo "alert_ids_instances $(wc -l <"$work/alert-ids.txt")"
  echo "alert_ids_in_both $same_alerts"
  echo "alert_ids_on_topic $alert_ids_topic"
  echo "failover_sigkill_s" $failover_kill
  echo "failover_sigstop_s" $failover_stop
  echo "failover_sigterm_s $failover_term"
  [ "$mode" = global ] && echo "epochs $(epochs)"
  echo "commits_refused_illegal_generation $illegal_generation"
  echo "syncgroups_refused_by_the_mock $syncgroups_refused${debug:+ (debug $debug)}"
  [ "$mode" = global ] && echo "partials_restores $(restores)"
  [ "$mode" = global ] && echo "snapshots $(snapshots); $snapshot_starts partition start(s) from a snapshot, $snapshot_starts_named named by the pointer"
  echo "rejoin_after_sigcont_s" $rejoin_sigcont
  echo "load $load"
} >"$work/figures.txt"
say "figures ($work/figures.txt):"
sed 's/^/  /' "$work/figures.txt"
for value in $failover_kill $failover_stop $failover_term; do
  [ "$value" != none ] || fail "a failover did not complete (see the figures)"
done
[ "$failures" -eq 0 ] && say "all checks passed ($mode)"
[ "$failures" -eq 0 ]
