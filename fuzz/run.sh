#!/usr/bin/env bash
# Runs each libFuzzer target of a fuzz build for a fixed time (make fuzz; fuzz/README.md).
#   fuzz/run.sh --build build-fuzz --seconds 20 [target...]      (default: every target)
# Per target: the committed corpus fuzz/corpus/<target>/ is read, new inputs go to
# <build>/corpus/<target>/, crash inputs to <build>/crashes/<target>/. Prints executions, speed,
# coverage and crashes per target, also written to <build>/fuzz-summary.txt. Exits 1 when any
# target crashed.
set -euo pipefail

build=build-fuzz
seconds=20
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
source_dir="$(cd "$(dirname "$0")" && pwd)"
if [ ${#targets[@]} -eq 0 ]; then
  for dir in "$source_dir"/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

# Known, still open bugs are skipped, not hidden: see fuzz/known/ and the harnesses.
export BRANDPULSE_FUZZ_SKIP_KNOWN=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

summary="$build/fuzz-summary.txt"
printf '%-22s %8s %10s %9s %7s %7s %s\n' target seconds executions 'exec/s' cov corpus crashes | tee "$summary"
failed=0
for target in "${targets[@]}"; do
  binary="$build/fuzz/fuzz_$target"
  [ -x "$binary" ] || { echo "fuzz/run.sh: $binary not built" >&2; exit 2; }
  mkdir -p "$build/corpus/$target" "$build/crashes/$target"
  log="$build/fuzz-$target.log"
  dict=()
  [ -f "$source_dir/dict/$target.dict" ] && dict=(-dict="$source_dir/dict/$target.dict")
  set +e
  "$binary" "$build/corpus/$target" "$source_dir/corpus/$target" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$target/" >"$log" 2>&1
  status=$?
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$build/corpus/$target" -type f | wc -l)
  crashes=$(find "$build/crashes/$target" -type f | wc -l)
  printf '%-22s %8s %10s %9s %7s %7s %s\n' "$target" "$seconds" "${executions:-?}" "${speed:-?}" \
    "${coverage:-?}" "$corpus" "$crashes" | tee -a "$summary"
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "  $target exited $status: see $log and $build/crashes/$target/" | tee -a "$summary"
    grep -m3 -E 'ERROR: |fuzz check failed|runtime error' "$log" | sed 's/^/    /' | tee -a "$summary" || true
  fi
done
exit "$failed"
