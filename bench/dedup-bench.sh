#!/usr/bin/env bash
# bench/dedup-bench.sh [--brandpulse PATH] [--posts N] [--repeat N] [--work DIR] [--callgrind-posts N]
#                      [--callgrind-brandpulse PATH (a build without AVX-512, e.g. build-cg/brandpulse;
#                       `make callgrind` makes one; default: skip callgrind)]
#
# The cost of post-id de-duplication (issue 14, docs/state.md "De-duplication"): one
# `brandpulse run` pipeline (file source, twitter-v2 decode, match against 1,000 brands of
# bench/data/brands.txt, 5m and 1h windows in RocksDB) with and without the `dedup` transform,
# side by side in one run, on the same generated input:
#   - "clean": N posts, 5% inserted mentions, no replays;
#   - "replayed": the same posts with a reconnecting firehose's replays (every 10,000th line the
#     1,500 lines before it again: 15% more records).
# Runs alternate (without, with, without, with, ...) and the median of --repeat runs is kept;
# the ratio compares medians of the same input. Then callgrind instruction counts (Ir) of a small
# run (--callgrind-posts of the clean input, 1 worker) with and without dedup: counts repeat to
# ±0.1% where times on this shared VM move by ±20%.
# Prints a Markdown section for bench/RESULTS.md on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

brandpulse=build/brandpulse
bench=build/bench/brandpulse_bench
posts=200000
repeat=3
work=build/dedup-bench
cg_posts=20000
cg_brandpulse=
while [ $# -gt 0 ]; do
  case "$1" in
    --brandpulse) brandpulse=$2; shift 2 ;;
    --callgrind-brandpulse) cg_brandpulse=$(readlink -f "$2"); shift 2 ;;
    --posts) posts=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --callgrind-posts) cg_posts=$2; shift 2 ;;
    *) echo "dedup-bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
brandpulse=$(readlink -f "$brandpulse")
bench=$(readlink -f "$bench")
mkdir -p "$work" && work=$(cd "$work" && pwd)

"$bench" watchlist --brands-file bench/data/brands.txt --count 1000 --out "$work/watchlist.yaml" >/dev/null
if [ ! -s "$work/clean.jsonl" ] || [ "$(wc -l <"$work/clean.jsonl")" -ne "$posts" ]; then
  "$brandpulse" generate -w "$work/watchlist.yaml" -n "$posts" -f twitter-v2 --mention-share 0.05 \
    --seed 7 -o "$work/clean.jsonl" >/dev/null
fi
awk '{ lines[NR % 1500] = $0; print } NR % 10000 == 0 && NR >= 1500 {
       for (i = NR - 1499; i <= NR; i++) print lines[i % 1500] }' "$work/clean.jsonl" >"$work/replayed.jsonl"
head -n "$cg_posts" "$work/clean.jsonl" >"$work/callgrind.jsonl"

pipeline() {  # pipeline NAME INPUT TRANSFORMS WORKERS
  cat >"$work/$1.yaml" <<EOF
name: dedup-bench-$1
source: {type: file, path: $2}
decode: {format: twitter-v2}
watchlist: $work/watchlist.yaml
transforms: [$3]
dedup: {horizon: 48h, memory_mb: 16}
workers: $4
batch_records: 1024
state: {directory: $work/state-$1, memory_budget_mb: 128, commit_every_records: 50000, watchlist_cache: $work/cache}
time: {max_out_of_orderness: 30s, allowed_lateness: 1m}
windows:
  - {name: 5m, size: 5m, dimensions: [lang]}
  - {name: 1h, size: 1h}
EOF
  # An unused section is an error: drop dedup: when the chain does not list it.
  case "$3" in *dedup*) ;; *) sed -i '/^dedup:/d' "$work/$1.yaml" ;; esac
}

# records/s of one run (from the run summary), and its mentions.
run_once() {
  "$brandpulse" run "$work/$1.yaml" --fresh >"$work/$1.log" 2>&1
  local rate mentions
  rate=$(grep -oE '[0-9,]+ records/s' "$work/$1.log" | head -1 | tr -d ', records/')
  mentions=$(awk '$1 == "total" { print $2 }' "$work/$1.log" | tr -d ',')
  echo "$rate $mentions"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "## Post-id de-duplication (issue 14)"
echo
echo "\`bash bench/dedup-bench.sh --posts $posts --repeat $repeat\` on $(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the start."
echo "1,000 brands, $posts twitter-v2 posts (5% mentions); \"replayed\" adds a reconnecting firehose's"
echo "replays ($(wc -l <"$work/replayed.jsonl") records). Median records/s of $repeat alternating runs of \`brandpulse run\`."
echo
echo "| input | workers | without dedup | with dedup | with / without | mentions without | mentions with |"
echo "|---|---|---|---|---|---|---|"
for input in clean replayed; do
  for workers in 1 2; do
    pipeline "plain-$input-$workers" "$work/$input.jsonl" "decode, match, window" "$workers"
    pipeline "dedup-$input-$workers" "$work/$input.jsonl" "decode, match, dedup, window" "$workers"
    : >"$work/plain.rates"; : >"$work/dedup.rates"
    for _ in $(seq "$repeat"); do
      read -r rate plain_mentions < <(run_once "plain-$input-$workers"); echo "$rate" >>"$work/plain.rates"
      read -r rate dedup_mentions < <(run_once "dedup-$input-$workers"); echo "$rate" >>"$work/dedup.rates"
    done
    plain=$(median <"$work/plain.rates")
    dedup=$(median <"$work/dedup.rates")
    ratio=$(awk -v a="$dedup" -v b="$plain" 'BEGIN { printf "%.3f", a / b }')
    echo "| $input | $workers | $plain | $dedup | $ratio | $plain_mentions | $dedup_mentions |"
  done
done

if [ -n "$cg_brandpulse" ] && command -v valgrind >/dev/null; then
  pipeline cg-plain "$work/callgrind.jsonl" "decode, match, window" 1
  pipeline cg-dedup "$work/callgrind.jsonl" "decode, match, dedup, window" 1
  sed -i "s|watchlist_cache: $work/cache|watchlist_cache: $work/cache-cg|" "$work/cg-plain.yaml" "$work/cg-dedup.yaml"
  # Warms the watchlist cache under valgrind (its key depends on the CPU features valgrind shows).
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$cg_brandpulse" run "$work/cg-plain.yaml" \
    --fresh -q >/dev/null 2>&1 || true
  ir() {
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.$1.out" \
      "$cg_brandpulse" run "$work/$1.yaml" --fresh -q >/dev/null 2>"$work/callgrind.$1.log" || true
    grep -oE 'Collected : [0-9]+' "$work/callgrind.$1.log" | grep -oE '[0-9]+'
  }
  plain_ir=$(ir cg-plain)
  dedup_ir=$(ir cg-dedup)
  echo
  echo "Callgrind, the first $cg_posts clean posts, 1 worker, \`brandpulse run --fresh -q\` (start-up included):"
  echo
  echo "| pipeline | Ir | Ir / post | with / without |"
  echo "|---|---|---|---|"
  echo "| without dedup | $plain_ir | $((plain_ir / cg_posts)) | 1 |"
  echo "| with dedup | $dedup_ir | $((dedup_ir / cg_posts)) | $(awk -v a="$dedup_ir" -v b="$plain_ir" 'BEGIN { printf "%.4f", a / b }') |"
  echo "| difference | $((dedup_ir - plain_ir)) | $(((dedup_ir - plain_ir) / cg_posts)) | |"
  dedup_only=$(callgrind_annotate --inclusive=yes "$work/callgrind.cg-dedup.out" 2>/dev/null |
               grep -E 'Dedup::(Process|HandOver)' | head -2 | awk '{ gsub(",", "", $1); print $1 }' | paste -sd+ | bc || echo "?")
  echo
  echo "Inclusive Ir in \`Dedup::Process\` + \`Dedup::HandOver\`: $dedup_only."
fi
