# What the Kafka script tests (tests/kafka/*-test.sh) share. Sourced, not run: a test sets
# `test_name` (its messages' prefix) and the defaults of `brandpulse` and `work`, then sources
# this file from the repository root.
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
