#!/usr/bin/env bash
# bench/run.sh: generates the inputs (`brandpulse generate`), runs brandpulse_bench and ripgrep on
# them, checks every engine's matches (brandpulse_bench aborts on a mismatch; ripgrep's count of
# matching lines is checked here), and writes bench/RESULTS.md and bench/results.png.
#
#   bash bench/run.sh [--smoke | --full] [--brandpulse BIN] [--bench BIN] [--out DIR]
#
#   (default)  the standard set, under 10 minutes on a 2-core VM
#   --full     adds 100k brands to the scaling table
#   --smoke    tiny input, all engines, correctness checks only; writes nothing into bench/
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
mode=standard
brandpulse="$root/build/brandpulse"
bench="$root/build/bench/brandpulse_bench"
out="$root/build/bench/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke; shift ;;
    --full) mode=full; shift ;;
    --brandpulse) brandpulse="$2"; shift 2 ;;
    --bench) bench="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
brands="$here/data/brands.txt"
started=$(date +%s)
log() { echo "[bench $(( $(date +%s) - started ))s] $*" >&2; }

watchlist() {  # count -> path
  local path="$out/watchlist-$1.yaml"
  [ -f "$path" ] || "$bench" watchlist --brands-file "$brands" --count "$1" --out "$path"
  echo "$path"
}
generate() {  # name watchlist count format share authors -> path
  local path="$out/$1.jsonl"
  [ -f "$path" ] || "$brandpulse" generate -w "$2" -n "$3" -f "$4" --mention-share "$5" \
    --authors "$6" --seed 7 -o "$path"
  echo "$path"
}
compare() {  # label watchlist input format engines budget [extra...] ; appends TSV rows
  local label=$1 wl=$2 input=$3 format=$4 engines=$5 budget=$6
  shift 6
  log "compare $label ($engines)"
  "$bench" compare --label "$label" --watchlist "$wl" --input "$input" --format "$format" \
    --engines "$engines" --budget "$budget" --work-dir "$out/work-$label" "$@" > "$out/compare.tmp"
  # The 1-minute load average when the comparison ended, beside its figures (column 15).
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  tail -n +2 "$out/compare.tmp" | awk -v load="$load" '{print $0 "\t" load}' >> "$out/results.tsv"
}
realistic_watchlist() {  # count -> path (accents, queries, NEAR, wildcards: brandpulse_bench --realistic)
  local path="$out/watchlist-realistic-$1.yaml"
  [ -f "$path" ] || "$bench" watchlist --brands-file "$brands" --count "$1" --realistic 1 --out "$path"
  echo "$path"
}
ripgrep() {  # label texts patterns expected-flags max-seconds
  local label=$1 texts=$2 patterns=$3 expected=$4
  local lines
  lines=$(wc -l < "$texts")
  # A prefix small enough for the budget: time 2,000 lines first.
  local probe=$(( lines < 2000 ? lines : 2000 ))
  head -n "$probe" "$texts" > "$out/rg-probe.txt"
  local t0 t1
  t0=$(date +%s.%N); rg -F -i -w -c -f "$patterns" "$out/rg-probe.txt" > /dev/null || true; t1=$(date +%s.%N)
  local per_line
  per_line=$(echo "($t1 - $t0) / $probe" | bc -l)
  local take
  take=$(echo "n = $5 / ($per_line + 0.0000001); if (n > $lines) n = $lines; if (n < $probe) n = $probe; scale=0; n / 1" | bc -l)
  head -n "$take" "$texts" > "$out/rg-input.txt"
  local bytes
  bytes=$(wc -c < "$out/rg-input.txt")
  t0=$(date +%s.%N)
  local got
  got=$( (rg -F -i -w -c -f "$patterns" "$out/rg-input.txt" || true) | tail -1)
  got=${got:-0}
  t1=$(date +%s.%N)
  local want
  want=$(head -n "$take" "$expected" | awk '{s += $1} END {print s + 0}')
  if [ "$got" != "$want" ]; then
    echo "CHECK FAILED: rg -F -i -w counted $got matching lines of $take, brandpulse match $want" >&2
    exit 3
  fi
  local seconds
  seconds=$(echo "$t1 - $t0" | bc -l)
  local sampled=no
  [ "$take" -lt "$lines" ] && sampled=yes
  awk -v l="$label" -v n="$take" -v s="$seconds" -v b="$bytes" -v sm="$sampled" -v c="$got" 'BEGIN {
    printf "%s\trg\t%d\t%s\t%.4f\t%.0f\t%.1f\t%.0f\t0\t-\t-\tlines equal (%d) on %d\tripgrep %s, rg -F -i -w -c -f patterns over the extracted texts (one line each; MB/s over text bytes)\t%.0f\t%s\n",
      l, n, sm, s, n / s, b / s / 1e6, 1e9 * s / n, c, n, "'"$(rg --version | head -1 | cut -d' ' -f2)"'", n / s, "'"$(cut -d' ' -f1 /proc/loadavg)"'" }' \
    >> "$out/results.tsv"
}

# The DuckDB peer (issue 17 item 4, bench/duckdb/peer.mjs): per-brand 5-minute counts of the same
# JSON lines at 1 and 2 threads, its counts checked against the windows brandpulse stored in the
# e2e-1 run (`brandpulse query dump`) before its time is written. Rows duckdb-1 and duckdb-2.
# Without Node.js/npm or the npm registry there is no row, and RESULTS.md says why.
duckdb_peer() {  # label input e2e-state-directory
  local label=$1 input=$2 state=$3 dir="$out/duckdb" why
  rm -f "$out/duckdb-skipped.txt"
  if ! why=$(bash "$here/duckdb/install.sh" "$dir"); then
    log "duckdb: $why"
    echo "$why" > "$out/duckdb-skipped.txt"
    return 0
  fi
  "$brandpulse" query dump --state "$state" > "$out/duckdb-ours.txt"
  local bytes threads line load
  bytes=$(wc -c < "$input")
  for threads in 1 2; do
    log "duckdb $threads thread(s)"
    # peer.mjs exits 3 with CHECK FAILED when a count differs: set -e ends the bench there.
    /usr/bin/time -f '%M' -o "$dir/rss-$threads.txt" node "$dir/peer.mjs" --input "$input" \
      --terms "$out/terms.tsv" --ours "$out/duckdb-ours.txt" --threads "$threads" --repeat 3 \
      --counts-out "$dir/counts-$threads.tsv" > "$dir/line-$threads.txt"
    line=$(cat "$dir/line-$threads.txt")
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "$line" | awk -F'\t' -v l="$label" -v t="$threads" -v b="$bytes" -v load="$load" \
      -v rss="$(tail -1 "$dir/rss-$threads.txt")" \
      -v version="$(node -e "console.log(require('$dir/node_modules/@duckdb/node-api/package.json').version)")" '{
      printf "%s\tduckdb-%s\t%d\tno\t%.4f\t%.0f\t%.1f\t%.0f\t0\t%.0f\t-\t%s\tDuckDB (npm @duckdb/node-api %s, %s thread(s)): read_json of the JSON lines, lower, strip_accents, words on Unicode non-word characters, %s, hash join on the brand table, distinct (post, brand) per 5-minute window; time of the whole query (brand table included)\t%.0f\t%s\n",
        l, t, $1, $2, $1 / $2, b / $2 / 1e6, 1e9 * $2 / $1, rss / 1024, $5, version, t, $6, $1 / $3, load }' \
      >> "$out/results.tsv"
  done
}

: > "$out/results.tsv"

if [ "$mode" = smoke ]; then
  wl=$(watchlist 300)
  input=$(generate smoke "$wl" 1500 twitter-v2 0.2 500)
  compare smoke "$wl" "$input" twitter-v2 all 0.2 --repeat 1 \
    --texts-out "$out/texts.txt" --patterns-out "$out/patterns.txt" --expected-out "$out/expected.txt"
  ripgrep smoke "$out/texts.txt" "$out/patterns.txt" "$out/expected.txt" 2
  input1=$(generate smoke-v1 "$wl" 300 twitter-v1 0.2 500)
  compare smoke-v1 "$wl" "$input1" twitter-v1 match,decode,naive-std-regex,e2e-1 0.2 --repeat 1
  wlr=$(realistic_watchlist 300)
  input2=$(generate smoke-realistic "$wlr" 1500 twitter-v2 0.2 500)
  compare smoke-realistic "$wlr" "$input2" twitter-v2 match,re2-set,match-folded,e2e-1 0.2 --repeat 1
  log "smoke: all engines agree ($(wc -l < "$out/results.tsv") rows)"
  exit 0
fi

posts=100000
# 1. Side by side: 10k brands, 5% of posts with an inserted mention, compact v2.
wl10k=$(watchlist 10000)
main_input=$(generate main "$wl10k" $posts twitter-v2 0.05 50000)
compare main "$wl10k" "$main_input" twitter-v2 all 3 \
  --texts-out "$out/texts.txt" --patterns-out "$out/patterns.txt" --expected-out "$out/expected.txt" \
  --terms-out "$out/terms.tsv"
ripgrep main "$out/texts.txt" "$out/patterns.txt" "$out/expected.txt" 15
duckdb_peer main "$main_input" "$out/work-main/e2e-1/state"

: > "$out/compile.tsv"
# 2. Brands: 1k, 10k, 50k (100k with --full): compile time and posts/s.
brand_counts="1000 10000 50000"
[ "$mode" = full ] && brand_counts="$brand_counts 100000"
for n in $brand_counts; do
  wl=$(watchlist "$n")
  input=$(generate "brands-$n" "$wl" 50000 twitter-v2 0.05 50000)
  compare "brands-$n" "$wl" "$input" twitter-v2 hs-scan,re2-set 2 --repeat 3
  # The watchlist as `brandpulse validate` builds it: cold compile, then load from the cache.
  cache="$out/compile-cache-$n"
  rm -rf "$cache"
  cold=$(XDG_CACHE_HOME="$cache" "$brandpulse" validate "$wl")
  warm=$(XDG_CACHE_HOME="$cache" "$brandpulse" validate "$wl")
  printf "%s\t%s\t%s\t%s\t%s\n" "$n" \
    "$(echo "$cold" | sed -n 's/.* \([0-9]*\) patterns.*/\1/p')" \
    "$(echo "$cold" | sed -n 's/.*database \([0-9.]*\) KB.*/\1/p')" \
    "$(echo "$cold" | sed -n 's/.*compiled in \([0-9.]*\) s.*/\1/p')" \
    "$(echo "$warm" | sed -n 's/.*from cache in \([0-9.]*\) s.*/\1/p')" >> "$out/compile.tsv"
done

# 3. Matching share: 1%, 5% (the main run), 20%.
for share in 0.01 0.20; do
  input=$(generate "share-$share" "$wl10k" 50000 twitter-v2 "$share" 50000)
  compare "share-$share" "$wl10k" "$input" twitter-v2 decode,hs-scan,e2e-1 2
done

# 4. Full v1.1 tweets vs compact v2.
v1_input=$(generate v1 "$wl10k" 30000 twitter-v1 0.05 50000)
compare format-v1 "$wl10k" "$v1_input" twitter-v1 decode,hs-scan,e2e-1 2
v2_input=$(generate v2 "$wl10k" 30000 twitter-v2 0.05 50000)
compare format-v2 "$wl10k" "$v2_input" twitter-v2 decode,hs-scan,e2e-1 2

# 4b. Realistic watchlist (10k brands: a third accented, boolean queries, NEAR, wildcards,
# exclusions, hashtags, handles): RE2::Set with the matcher's own rules, 5% and 20% inserted
# mentions, and full v1.1 tweets.
wlr=$(realistic_watchlist 10000)
input=$(generate realistic-0.05 "$wlr" 50000 twitter-v2 0.05 50000)
compare realistic-0.05 "$wlr" "$input" twitter-v2 decode,re2-set,match-folded,e2e-1 2
input=$(generate realistic-0.20 "$wlr" 50000 twitter-v2 0.20 50000)
compare realistic-0.20 "$wlr" "$input" twitter-v2 re2-set 2
input=$(generate realistic-v1 "$wlr" 30000 twitter-v1 0.05 50000)
compare realistic-v1 "$wlr" "$input" twitter-v1 decode,re2-set,e2e-1 2

# 5. Memory: `brandpulse run` (1 worker) under /usr/bin/time -v, as brands and authors grow.
: > "$out/memory.tsv"
memory_run() {  # label watchlist input
  local dir="$out/mem-$1"
  mkdir -p "$dir"
  cat > "$dir/pipeline.yaml" <<EOF
name: bench-memory
source: {type: file, path: $3, follow: false}
decode: {format: twitter-v2}
watchlist: $2
workers: 1
batch_records: 1024
state: {directory: $dir/state, memory_budget_mb: 256, commit_every_records: 50000, retention: 7d}
time: {max_out_of_orderness: 30s, allowed_lateness: 1m}
windows:
  - {name: 5m, size: 5m}
  - {name: 1h, size: 1h}
alerts:
  - {name: burst, type: threshold, window: 5m, metric: mentions, above: 400}
sinks:
  alerts: {type: file, path: $dir/alerts.jsonl}
  dead_letter: {type: file, path: $dir/dead.jsonl}
  late: {type: file, path: $dir/late.jsonl}
EOF
  log "memory $1"
  /usr/bin/time -v "$brandpulse" run "$dir/pipeline.yaml" --fresh --quiet > "$dir/run.log" 2> "$dir/time.log"
  local rss_kb seconds distinct
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.log")
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time.log")
  distinct=$(grep -o '"author_id":"[0-9]*"' "$3" | sort -u | wc -l)
  printf "%s\t%s\t%s\t%s\t%s\n" "$1" "$(grep -c '^  - id:' "$2")" "$distinct" "$rss_kb" "$seconds" >> "$out/memory.tsv"
}
memory_run "1k-brands-50k-authors" "$(watchlist 1000)" "$out/brands-1000.jsonl"
memory_run "10k-brands-50k-authors" "$wl10k" "$out/brands-10000.jsonl"
memory_run "50k-brands-50k-authors" "$(watchlist 50000)" "$out/brands-50000.jsonl"
# Over 1M distinct authors actually seen needs a large population (the generator picks author
# k with weight 1/(k+10)): 3M posts over 2^24 authors give about 1.1M distinct. The 1.7 GB input
# is deleted afterwards.
authors_input=$(generate authors-3m-posts-16m-pop "$wl10k" 3000000 twitter-v2 0.05 16777216)
memory_run "10k-brands-1M-authors" "$wl10k" "$authors_input"
rm -f "$authors_input"

# 6. Render.
log "render"
bash "$here/render.sh" "$out" "$mode" "$(( $(date +%s) - started ))"
log "done: bench/RESULTS.md, bench/results.png"
