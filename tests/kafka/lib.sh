# What the Kafka script tests (tests/kafka/*-test.sh, tests/cluster_restore-test.sh) share. Sourced,
# not run: a test sets `test_name` (its messages' prefix) and the defaults of `brandpulse` and
# `work`, then sources this file from the repository root.
#
#   kafka_common_option <option> <value>  --brandpulse PATH and --work DIR; returns 1 for any
#                                         other option (the test's own, or unknown)
#   kafka_prepare                         kcat and the binary are there; $brandpulse absolute;
#                                         $work emptied, absolute
#   kafka_start_cluster <brokers> <topic:partitions>...
#                                         `brandpulse dev-kafka` in the background with its
#                                         control socket <work>/control.sock; exports
#                                         KAFKA_BROKERS; stopped when the test exits
#   kafka_control <command>               one dev-kafka fault command; prints the reply; fails
#                                         unless it is "ok"
#   fail <message>                        a failed check (counted in $failures; the test decides
#                                         its exit status)
#   run <name> <pipeline> [VAR=value...]  `brandpulse run` in the background on <work>/<name>
#                                         (state, out, runs.log with a "=== run" line first),
#                                         with $input and the extra arguments in ${run_args[@]};
#                                         sets $pid
#   finish <name>                         waits for $pid; a failed run is a failed check
#   wait_for <file> <pattern> <tenths>    until the pattern is in the file (1 if it never is)
#   wait_count <file> <pattern> <count> <tenths>
#                                         until <count> lines of the file have the pattern
#   kafka_parse_options <argument>...     --brandpulse, --work and the test's own options, named
#                                         in the array kafka_options as "--option variable"
#                                         pairs; exits 2 on any other argument
#   kafka_generate_firehose <file> <posts> <seed> <rate>
#                                         `brandpulse generate` of the Nordic/Spanish telecoms
#                                         watchlist: twitter-v2, 8% mentions, 0.1% malformed,
#                                         20 s of disorder
#   kafka_produce_numbered <topic> <file> every line of the file to the topic, keyed by its line
#                                         number (spread evenly over the partitions)
#   alert_ids <file>...                   every "alert_id":"..." of the alert files, in their
#                                         order (a missing file counts as empty)
#   kafka_reference <pipeline> [VAR=value...]
#                                         the single-process file run `reference` (a failed one
#                                         ends the test): its windows (`query dump`) in
#                                         reference/windows.txt, its distinct alert ids in
#                                         reference/alert-ids.txt
#   check_windows <name> <message>        <name>'s windows (dumped to <name>/windows.txt) equal
#                                         the reference's byte for byte, or fail <message>
#   check_ids <file> <message>            the alert ids in <file> equal the reference's, or fail
#   check_lag <group> <lag file> [<prefix>]
#                                         the group's committed offsets on `posts` are at the end
#                                         offsets (kafka-lag's output kept in <lag file>)
#   check_epochs <pattern> <message> <name>...
#                                         every "cluster: epochs committed" line of those runs
#                                         has the pattern (e.g. " 0 conflict(s)"), or fail
#   check_sink_empty <file> <message> <name>...
#                                         nothing in those runs' out/<file> (a sink), or fail
#   kafka_kill_restart <name> <pid> <pipeline> [VAR=value...]
#                                         <name> (running as <pid>) killed with SIGKILL and run
#                                         again on its old state (sets $pid; a failed check, $pid
#                                         left at <pid>, when it had finished already)
#   kafka_join_and_kill <pipeline> [VAR=value...]
#                                         instances a and b on brokers 300 ms late: a alone until
#                                         it committed an epoch; b joins; 1 s later, while b joins
#                                         (no epoch commits during a join, so waiting for b's
#                                         partitions would let a read everything first), a is
#                                         killed and restarted; both to the end; sets $a and $b
#   kafka_failover <x> <y> <pipeline> [VAR=value...]
#                                         (give KAFKA_STOP_AT_END=false) x alone until it restored
#                                         its partials and committed 4 epochs; y joins, restores
#                                         a partials partition it gained and is killed (SIGKILL);
#                                         x must replay it beside kept ones and catch up; then x
#                                         is stopped (SIGTERM). The caller sets the brokers' rtt
#                                         before and after
# A test that needs more at exit defines kafka_before_cleanup (run first).

failures=0
fail() { echo "$test_name: FAIL: $*"; failures=$((failures + 1)); }

run_args=()
run() {
  local name=$1 pipeline=$2
  shift 2
  mkdir -p "$work/$name/out"
  echo "=== run $(date -u +%T)" >>"$work/$name/runs.log"
  env KAFKA_INPUT="$input" KAFKA_STATE="$work/$name/state" KAFKA_OUT="$work/$name/out" "$@" \
    stdbuf -oL -eL "$brandpulse" run "$pipeline" --quiet "${run_args[@]}" >>"$work/$name/runs.log" 2>&1 &
  pid=$!
}
finish() {
  if ! wait "$pid"; then
    fail "run $1 failed:"
    tail -n 20 "$work/$1/runs.log"
    return 1
  fi
}
wait_for() {
  for _ in $(seq "$3"); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
wait_count() {
  for _ in $(seq "$4"); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

kafka_options=()
kafka_parse_options() {
  local option variable index
  while [ $# -gt 0 ]; do
    option=$1
    variable=
    for ((index = 0; index + 1 < ${#kafka_options[@]}; index += 2)); do
      [ "${kafka_options[index]}" = "$option" ] && variable=${kafka_options[index + 1]}
    done
    if [ -n "$variable" ]; then
      printf -v "$variable" '%s' "$2"
    else
      kafka_common_option "$option" "${2:-}" || { echo "$test_name: unknown argument $option" >&2; exit 2; }
    fi
    shift 2
  done
}

kafka_generate_firehose() {  # kafka_generate_firehose <file> <posts> <seed> <rate>
  "$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
    --format twitter-v2 --count "$2" --seed "$3" --mention-share 0.08 \
    --malformed-share 0.001 --rate "$4" --disorder 20s --output "$1"
}
kafka_produce_numbered() {  # kafka_produce_numbered <topic> <file>
  awk '{ print NR "\t" $0 }' "$2" | kcat -P -b "$KAFKA_BROKERS" -t "$1" -X batch.num.messages=100 -K "	"
}

alert_ids() { cat "$@" 2>/dev/null | grep -o '"alert_id":"[^"]*"' || true; }

kafka_reference() {  # kafka_reference <pipeline> [VAR=value...]
  run reference "$@"
  finish reference || exit 1
  "$brandpulse" query dump --state "$work/reference/state" >"$work/reference/windows.txt"
  alert_ids "$work/reference/out/alerts.jsonl" | sort -u >"$work/reference/alert-ids.txt"
}
check_windows() {  # check_windows <name> <message>
  "$brandpulse" query dump --state "$work/$1/state" >"$work/$1/windows.txt"
  cmp -s "$work/reference/windows.txt" "$work/$1/windows.txt" && return 0
  fail "$2"
  diff "$work/reference/windows.txt" "$work/$1/windows.txt" | head -n 10 || true
}
check_ids() {  # check_ids <file> <message>
  cmp -s "$work/reference/alert-ids.txt" "$1" && return 0
  fail "$2"
  diff "$work/reference/alert-ids.txt" "$1" | head || true
}
check_lag() {  # check_lag <group> <lag file> [<prefix>]
  "$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts --group "$1" >"$2"
  grep -q '^total lag 0$' "$2" && return 0
  fail "${3:-}committed offsets are not at the end offsets"
  cat "$2"
}
check_epochs() {  # check_epochs <pattern> <message> <name>...
  local pattern=$1 message=$2 name files=()
  shift 2
  for name in "$@"; do files+=("$work/$name/runs.log"); done
  # (a missing log must not hide the others' lines: pipefail)
  if { grep -h 'cluster: epochs committed' "${files[@]}" || true; } | grep -v -- "$pattern"; then
    fail "$message"
  fi
}
check_sink_empty() {  # check_sink_empty <file name> <message> <name>...
  local file=$1 message=$2 name files=()
  shift 2
  for name in "$@"; do files+=("$work/$name/out/$file"); done
  # (grep, not cat | grep: with pipefail a missing file would hide the others' lines)
  if grep -q . "${files[@]}" 2>/dev/null; then fail "$message"; fi
}

kafka_kill_restart() {  # kafka_kill_restart <name> <pid> <pipeline> [VAR=value...]
  local name=$1 victim=$2 pipeline=$3
  shift 3
  if kill -0 "$victim" 2>/dev/null; then
    kill -KILL "$victim"
    wait "$victim" 2>/dev/null || true
    echo "$test_name: $name killed with SIGKILL; restarting it on its old state"
    run "$name" "$pipeline" "$@"
  else
    fail "$name finished before it could be killed"
    pid=$victim
  fi
}
kafka_join_and_kill() {  # kafka_join_and_kill <pipeline> [VAR=value...]
  local pipeline=$1
  shift
  kafka_control "rtt -1 300" >/dev/null
  run a "$pipeline" "$@"
  a=$pid
  wait_for "$work/a/runs.log" "epoch .* committed" 300 || fail "a committed no epoch"
  run b "$pipeline" "$@"
  b=$pid
  sleep 1
  kafka_kill_restart a "$a" "$pipeline" "$@"
  a=$pid
  wait_for "$work/b/runs.log" "[1-9] partition(s) gained" 600 || fail "b gained no partition"
  pid=$a; finish a || true
  pid=$b; finish b || true
  kafka_control "rtt -1 0" >/dev/null
}

kafka_common_option() {
  case "$1" in
    --brandpulse) brandpulse=$2 ;;
    --work) work=$2 ;;
    *) return 1 ;;
  esac
}

kafka_prepare() {
  command -v kcat >/dev/null || { echo "$test_name: kcat is missing (scripts/install-deps.sh)" >&2; exit 2; }
  [ -x "$brandpulse" ] || { echo "$test_name: $brandpulse is not built" >&2; exit 2; }
  brandpulse=$(cd "$(dirname "$brandpulse")" && pwd)/$(basename "$brandpulse")
  rm -rf "$work"
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
}

cluster_pid=
kafka_cleanup() {
  if declare -F kafka_before_cleanup >/dev/null; then kafka_before_cleanup || true; fi
  if [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null; then
    for _ in $(seq 20); do kill -0 "$cluster_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  jobs -p | xargs -r kill -KILL 2>/dev/null || true
}
trap kafka_cleanup EXIT

kafka_start_cluster() {  # kafka_start_cluster <brokers> <topic:partitions>...
  local brokers=$1 topic
  shift
  local topics=()
  for topic in "$@"; do topics+=(--topic "$topic"); done
  "$brandpulse" dev-kafka --brokers "$brokers" "${topics[@]}" \
    --control "$work/control.sock" --bootstrap-file "$work/bootstrap" </dev/null >"$work/dev-kafka.log" 2>&1 &
  cluster_pid=$!
  for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
  [ -s "$work/bootstrap" ] || { echo "$test_name: dev-kafka did not start" >&2; cat "$work/dev-kafka.log" >&2; exit 2; }
  export KAFKA_BROKERS
  KAFKA_BROKERS=$(cat "$work/bootstrap")
}

kafka_control() {  # kafka_control <command>
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((sys.argv[2]+"\n").encode()); r=s.recv(200).decode().strip(); print(r); sys.exit(r != "ok")' \
    "$work/control.sock" "$1"
}
kafka_failover() {  # kafka_failover <x> <y> <pipeline> [VAR=value...]
  local x=$1 y=$2 pipeline=$3 x_pid y_pid
  shift 3
  run "$x" "$pipeline" "$@"
  x_pid=$pid
  wait_count "$work/$x/runs.log" "partials restored" 1 400 || fail "$x never restored its partials partitions"
  wait_count "$work/$x/runs.log" "epoch .* committed" 4 600 || fail "$x committed fewer than 4 epochs"
  run "$y" "$pipeline" "$@"
  y_pid=$pid
  wait_count "$work/$y/runs.log" "partials restored: .*(partitions \[[0-9]" 1 600 ||
    fail "$y never restored a partials partition it gained"
  kill -KILL "$y_pid"
  wait "$y_pid" 2>/dev/null || true
  echo "$test_name: $y killed after it restored $(grep 'partials restored' "$work/$y/runs.log" | tail -n 1 | grep -o 'partitions \[[0-9,]*\]')"
  wait_count "$work/$x/runs.log" "replaying \[[0-9,]*\] beside kept \[[0-9]" 1 400 ||
    fail "$x replayed no gained partials partition beside kept ones after $y's kill"
  wait_count "$work/$x/runs.log" "caught up with the merged watermark" 1 400 || fail "$x's replay never caught up"
  sleep 1
  kill -TERM "$x_pid"
  pid=$x_pid; finish "$x" || true
}
