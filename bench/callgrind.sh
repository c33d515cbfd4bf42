#!/usr/bin/env bash
# bench/callgrind.sh BRANDPULSE_BINARY OUTDIR   (`make callgrind` builds and runs it)
#
# Instruction counts (callgrind Ir) of `brandpulse run PIPELINE --fresh --workers 1 -q` on the
# bench's own main input (bench/run.sh "main": 10k brands, 100,000 twitter-v2 posts, 5% inserted
# mentions, 50,000 authors, seed 7) and the bench's e2e-1 pipeline (bench/brandpulse_bench.cc
# RunEndToEnd: file source, decode, match, 5m + 1h windows in RocksDB, threshold alert to a file).
#
# Instruction counts are repeatable on a shared, noisy machine (±0.1% here), so they compare two
# builds where times cannot: run it on both binaries with the same CG_DATA.
#
# The input is shared by every binary measured: it lives in $CG_DATA (default /tmp/cg/data) and
# is checked against $CG_DATA/SHA256SUMS, so "before" and "after" read byte-identical files.
# If $CG_DATA is missing it is generated (needs brandpulse_bench next to the binary, in bench/).
#
# Runs, all with XDG_CACHE_HOME=OUTDIR/xdg-cache (each binary has its own watchlist cache):
#   1. warm-up, natively and under callgrind: the 1-record pipeline (compiles the watchlist into
#      the cache; the cache key depends on the CPU features, which valgrind changes);
#   2. callgrind: the 1-record pipeline (start-up + shutdown, one post);
#   3. callgrind: the 100k-post pipeline.
# Prints total Ir, Ir of the 1-record run (fixed cost), Ir per post = (total - one) / (N - 1),
# and the top 15 inclusive functions of the 100k run.
#
# CG_POSTS=20000 measures the first 20,000 posts of the same input instead (for slow machines).
set -euo pipefail
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }

if [ $# -ne 2 ]; then
  echo "usage: $0 BRANDPULSE_BINARY OUTDIR" >&2
  exit 2
fi
bin="$(readlink -f "$1")"
out="$2"
[ -x "$bin" ] || { echo "callgrind.sh: $bin is not an executable" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
data="${CG_DATA:-/tmp/cg/data}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"  # absolute: the pipeline files written below name it
posts_wanted="${CG_POSTS:-100000}"

# --- The input: bench/run.sh `watchlist 10000` and `generate main "$wl10k" 100000 twitter-v2 0.05 50000`.
if [ ! -f "$data/SHA256SUMS" ]; then
  bench="$(dirname "$bin")/bench/brandpulse_bench"
  brands="$(dirname "$(dirname "$bin")")/bench/data/brands.txt"
  [ -x "$bench" ] && [ -f "$brands" ] || {
    echo "callgrind.sh: no $data/SHA256SUMS and cannot generate it ($bench, $brands)" >&2; exit 2; }
  mkdir -p "$data"
  "$bench" watchlist --brands-file "$brands" --count 10000 --out "$data/watchlist-10000.yaml"
  "$bin" generate -w "$data/watchlist-10000.yaml" -n 100000 -f twitter-v2 --mention-share 0.05 \
    --authors 50000 --seed 7 -o "$data/main.jsonl"
  head -n 1 "$data/main.jsonl" > "$data/one.jsonl"
  (cd "$data" && sha256sum watchlist-10000.yaml main.jsonl one.jsonl > SHA256SUMS)
fi
(cd "$data" && sha256sum --quiet -c SHA256SUMS) || {
  echo "callgrind.sh: $data does not match its SHA256SUMS; refusing to measure a different input" >&2
  exit 3; }
input="$data/main.jsonl"
if [ "$posts_wanted" != 100000 ]; then
  input="$data/main-$posts_wanted.jsonl"
  [ -f "$input" ] || head -n "$posts_wanted" "$data/main.jsonl" > "$input"
fi
n_main=$(wc -l < "$input")
n_one=$(wc -l < "$data/one.jsonl")

# --- The pipeline: bench/brandpulse_bench.cc RunEndToEnd(input, 1), paths under OUTDIR.
pipeline() {  # name input -> writes OUTDIR/NAME.yaml
  local dir="$out/$1"
  cat > "$out/$1.yaml" <<EOF
name: bench-e2e
source:
  type: file
  path: $2
  follow: false
decode:
  format: twitter-v2
watchlist: $data/watchlist-10000.yaml
workers: 1
batch_records: 1024
state:
  directory: $dir/state
  memory_budget_mb: 256
  commit_every_records: 50000
  retention: 7d
time:
  max_out_of_orderness: 30s
  allowed_lateness: 1m
windows:
  - name: 5m
    size: 5m
  - name: 1h
    size: 1h
alerts:
  - name: burst
    type: threshold
    window: 5m
    metric: mentions
    above: 400
sinks:
  alerts: {type: file, path: $dir/alerts.jsonl}
  dead_letter: {type: file, path: $dir/dead.jsonl}
  late: {type: file, path: $dir/late.jsonl}
EOF
  mkdir -p "$dir"
}
pipeline run-main "$input"
pipeline run-one "$data/one.jsonl"

export XDG_CACHE_HOME="$out/xdg-cache"
mkdir -p "$XDG_CACHE_HOME"
run() {  # name [valgrind prefix...]
  local name=$1
  shift
  "$@" "$bin" run "$out/$name.yaml" --fresh --workers 1 -q > "$out/$name.stdout" 2> "$out/$name.stderr" || {
    echo "callgrind.sh: $name failed (exit $?), see $out/$name.stderr" >&2; exit 4; }
}

# 1. Warm the watchlist cache (not measured). The cache key includes Hyperscan's platform (CPU
#    features), which valgrind's CPUID changes: warm it natively and under valgrind.
run run-one
run run-one valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$out/valgrind.warmup.log"
cache_before=$(find "$XDG_CACHE_HOME" -type f -printf '%p %s %T@\n' | sort)
[ -n "$cache_before" ] || echo "callgrind.sh: WARNING: no watchlist cache file after warm-up" >&2

# 2, 3. Callgrind.
cg() {  # name
  run "$1" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$1.out" \
    --log-file="$out/valgrind.$1.log"
}
t0=$(date +%s)
cg run-one
cg run-main
t1=$(date +%s)
cache_after=$(find "$XDG_CACHE_HOME" -type f -printf '%p %s %T@\n' | sort)
if [ -n "$cache_before" ] && [ "$cache_before" = "$cache_after" ]; then
  cache_state="warm (cache file unchanged during the measured runs: compile excluded)"
else
  cache_state="NOT WARM (cache changed or missing during the measured runs: compile may be included)"
fi

for f in run-main run-one; do
  callgrind_annotate --inclusive=yes --threshold=100 "$out/callgrind.$f.out" > "$out/callgrind.$f.out.inclusive.txt" 2>/dev/null
done
top15() {  # annotate-file regex: the first 15 function rows matching regex, names shortened
  awk -v re="$2" '/^-+$/ {dash++; next}
    dash >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ && !/PROGRAM TOTALS/ && $0 ~ re {print; if (++n == 15) exit}' "$1" \
    | sed -E 's/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/std::string/g;
              s/std::basic_string_view<char, std::char_traits<char> >/std::string_view/g' \
    | cut -c1-200
}
total_of() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
ir_main=$(total_of "$out/callgrind.run-main.out")
ir_one=$(total_of "$out/callgrind.run-one.out")

{
  echo "binary:        $bin"
  echo "input:         $input ($n_main posts; fixed-cost run: $data/one.jsonl, $n_one post)"
  echo "pipeline:      $out/run-main.yaml (bench e2e-1; run --fresh --workers 1 -q)"
  echo "watchlist:     $cache_state"
  echo "callgrind:     $(valgrind --version), $((t1 - t0)) s for both runs"
  # Sanity (best effort, from the run's own stdout): same posts and mention total for every binary.
  echo "run said:      $(grep -m1 -E '^posts [0-9]' "$out/run-main.stdout" | sed -E 's/ *commits.*//' || true)"
  echo "               mentions/alerts $(grep -m1 -E '^ +total ' "$out/run-main.stdout" | awk '{print $2 " / " $3}' || true)"
  echo
  awk -v m="$ir_main" -v o="$ir_one" -v nm="$n_main" -v no="$n_one" 'function g(x,  s, r) {
      s = sprintf("%.0f", x); r = "";
      while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
      return s r }
    BEGIN {
      printf "total Ir (%d posts):          %s\n", nm, g(m)
      printf "fixed Ir (1-post run):         %s   (start-up + shutdown + 1 post)\n", g(o)
      printf "per-post Ir (total - fixed):   %s\n", g(m - o)
      printf "Ir per post:                   %.0f   ((total - fixed) / %d)\n", (m - o) / (nm - no), nm - no
      printf "Ir per post, naive:            %.0f   (total / %d)\n", m / nm, nm
    }'
  echo
  echo "top 15 inclusive functions ($n_main-post run; all threads, callgrind_annotate --inclusive=yes):"
  top15 "$out/callgrind.run-main.out.inclusive.txt" '.'
  echo
  echo "top 15 inclusive brandpulse:: functions ($n_main-post run):"
  top15 "$out/callgrind.run-main.out.inclusive.txt" 'brandpulse::'
  echo
  echo "top 15 inclusive brandpulse:: functions (1-post run, i.e. the fixed cost):"
  top15 "$out/callgrind.run-one.out.inclusive.txt" 'brandpulse::'
  echo
  echo "full annotations: $out/callgrind.run-{main,one}.out.inclusive.txt (callgrind_annotate --inclusive=yes)"
} | tee "$out/summary.txt"
