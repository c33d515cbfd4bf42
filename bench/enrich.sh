#!/usr/bin/env bash
# bench/enrich.sh: what enrichment (the `enrich` transform) costs in a pipeline. 10,000 brands,
# 100,000 generated twitter-v2 posts at two mention shares, 5% and 20%: the share of posts the
# watchlist finds a brand in (`brandpulse match --jsonl`, counted once per input and checked to
# be the asked share within 1 point, more for small --posts; an input made by a generator from
# before stop 25, which matched 20.6% and 33.2%, is made again); `brandpulse run` (1 worker) without
# and with `enrich` after `match`, --rounds N (5) runs each, median of the processing time (the run's
# "finished in" minus its "ready after" start-up), and the best of them; the load average at
# the start of each round is printed below the table. Cost per enriched post = extra time / posts
# that matched a brand (enrich runs on those only); share = extra time / pipeline time with
# enrichment. Also the per-post cost of Enrich() alone, from eval-enrichment on VADER's tweets.
# With --baseline OTHER_BRANDPULSE, each round also runs OTHER_BRANDPULSE's enrich (the same
# input and base pipeline; e.g. a build of the previous commit), side by side in one run.
# Each run also gives its CPU time (user + sys, bash `time`) minus that of a 1-line run of the same
# pipeline and binary (start-up: the enrich start-up compiles its cue databases): on a shared
# machine the CPU share is steadier than the wall share, which counts the waits for a core.
# With --callgrind BINARY (a build valgrind can run: no AVX-512, e.g. `make callgrind`'s
# build-cg/brandpulse), after the times, in the same run: instruction counts (callgrind Ir,
# stable under load) of the same two pipelines on the first --callgrind-lines posts (default
# 5,000; one per line) of the 5% and of the 20% input, minus a 1-line run of each (start-up),
# with the watchlist cache warmed natively and under valgrind first (the compile is not
# counted); enrichment's share = (Ir with − Ir without) / Ir with, Ir per enriched post =
# (Ir with − Ir without) / the posts of those lines that match, and Enrich()'s inclusive Ir. With
# --callgrind-baseline OTHER_HASWELL_BRANDPULSE the same for that binary, side by side;
# --callgrind-only skips the times.
# With --perf, after the times, in the same run: `perf record -e cpu-clock` (a timer, so it works
# without hardware counters, e.g. in a VM) with DWARF call stacks of the enrich pipeline on the
# 20% input, 3 rounds (this and --baseline alternating): enrichment's share of the process's CPU
# samples after start-up = samples whose stack holds EnrichTransform::Process / samples whose
# stack does not hold PipelineRun::Setup. Unlike a difference of two runs' times, one run gives
# it, and a wait for a core is no sample: steadier on a busy machine. It leaves out what
# enrichment costs other stages (its window counters), which the time difference includes.
# Usage: bash bench/enrich.sh [--brandpulse build/brandpulse] [--bench build/bench/brandpulse_bench]
#        [--out build/bench-enrich] [--posts 100000] [--baseline OTHER_BRANDPULSE]
#        [--callgrind HASWELL_BRANDPULSE [--callgrind-lines 5000]
#         [--callgrind-baseline OTHER_HASWELL_BRANDPULSE] [--callgrind-only]] [--perf]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
brandpulse="$root/build/brandpulse"
bench="$root/build/bench/brandpulse_bench"
out="$root/build/bench-enrich"
posts=100000
baseline=""
callgrind=""
callgrind_posts=5000
callgrind_baseline=""
callgrind_only=""
perf_share=""
rounds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --brandpulse) brandpulse="$2"; shift 2 ;;
    --bench) bench="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --posts) posts="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --callgrind) callgrind="$2"; shift 2 ;;
    --callgrind-lines) callgrind_posts="$2"; shift 2 ;;
    --callgrind-baseline) callgrind_baseline="$2"; shift 2 ;;
    --callgrind-only) callgrind_only=1; shift ;;
    --perf) perf_share=1; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)  # absolute: the pipeline files name paths relative to themselves
inputs="$out"  # the generated inputs, their matched counts and the watchlist
watchlist="$inputs/watchlist-10000.yaml"
[ -f "$watchlist" ] || "$bench" watchlist --brands-file "$root/bench/data/brands.txt" --count 10000 \
  --out "$watchlist" >/dev/null

matched_posts() {  # input -> posts the watchlist finds a brand in (= the posts enrich runs on)
  local input="$1" count="$1.matched"
  if [ ! -s "$count" ] || [ "$count" -ot "$input" ]; then
    "$brandpulse" match -w "$watchlist" -i "$input" -f twitter-v2 --jsonl 2>/dev/null | wc -l > "$count"
  fi
  cat "$count"
}
input_for() {  # share [generator] -> the generated input, its matched share checked
  local share="$1" generator="${2:-$brandpulse}" input="$inputs/posts-$posts-$1.jsonl" attempt matched
  for attempt in 1 2; do  # per count: a file of another --posts is not reused
    [ -f "$input" ] || "$generator" generate -w "$watchlist" -n "$posts" -f twitter-v2 \
      --mention-share "$share" --authors 50000 --seed 7 -o "$input" >/dev/null
    matched=$(matched_posts "$input")
    # 1 point, plus 3 standard deviations of the draw for small --posts
    if [ "$(echo "d = $matched / $posts - $share; t = 0.01 + 3 * sqrt($share * (1 - $share) / $posts);
               d <= t && d >= -t" | bc -l)" = 1 ]; then
      echo "$input"
      return 0
    fi
    echo "enrich.sh: $input matches $matched of $posts posts, not $share: made again" >&2
    rm -f "$input" "$input.matched"
  done
  echo "enrich.sh: $generator makes inputs whose matched share is not --mention-share" >&2
  return 3
}

run_once() {  # input transforms [binary] -> processing seconds, mentions, CPU seconds
  local input="$1" transforms="$2" binary="${3:-$brandpulse}" dir="$out/run"
  rm -rf "$dir"
  mkdir -p "$dir"
  cat > "$dir/pipeline.yaml" <<EOF
name: bench-enrich
source: {type: file, path: $input, follow: false}
decode: {format: twitter-v2}
transforms: [$transforms]
watchlist: $watchlist
workers: 1
batch_records: 1024
state: {directory: $dir/state, memory_budget_mb: 256, commit_every_records: 50000, retention: 7d}
windows: [{name: 5m, size: 5m}, {name: 1h, size: 1h}]
sinks:
  alerts: {type: file, path: $dir/alerts.jsonl}
  dead_letter: {type: file, path: $dir/dead.jsonl}
  late: {type: file, path: $dir/late.jsonl}
EOF
  local log
  # CPU seconds (user + sys) of the whole process, from bash's `time`: unlike the wall time, a
  # busy machine does not add its waits for a core.
  log=$( { TIMEFORMAT='cpu %U %S'; time "$binary" run "$dir/pipeline.yaml" --fresh; } 2>&1)
  local ready finished total cpu
  ready=$(echo "$log" | sed -n 's/.*ready after \([0-9.]*\) s.*/\1/p' | head -1)
  finished=$(echo "$log" | sed -n "s/.*finished in \([0-9.]*\) s.*/\1/p" | head -1)
  total=$(echo "$log" | awk '$1 == "total" {gsub(",", "", $2); print $2}' | head -1)
  cpu=$(echo "$log" | awk '$1 == "cpu" {print $2 + $3}' | tail -1)
  echo "$(echo "${finished:-0} - ${ready:-0}" | bc -l) ${total:-0} $cpu"
}

callgrind_part() {  # BINARY LABEL: the instruction counts (see the header)
  local callgrind="$1" label="$2" out="$out/cg-$2"
  mkdir -p "$out"
  command -v valgrind >/dev/null || { echo "enrich.sh: --callgrind needs valgrind" >&2; exit 2; }
  export XDG_CACHE_HOME="$out/cg-cache"
  mkdir -p "$XDG_CACHE_HOME"
  cg_run() {  # name input transforms [valgrind…]
    local name="$1" input="$2" transforms="$3" dir="$out/cg-$1"
    shift 3
    rm -rf "$dir"
    mkdir -p "$dir"
    cat > "$dir/pipeline.yaml" <<EOF
name: bench-enrich
source: {type: file, path: $input, follow: false}
decode: {format: twitter-v2}
transforms: [$transforms]
watchlist: $watchlist
workers: 1
batch_records: 1024
state: {directory: $dir/state, memory_budget_mb: 256, commit_every_records: 50000, retention: 7d}
windows: [{name: 5m, size: 5m}, {name: 1h, size: 1h}]
sinks:
  alerts: {type: file, path: $dir/alerts.jsonl}
  dead_letter: {type: file, path: $dir/dead.jsonl}
  late: {type: file, path: $dir/late.jsonl}
EOF
    "$@" "$callgrind" run "$dir/pipeline.yaml" --fresh -q > "$dir/stdout" 2> "$dir/stderr" ||
      { echo "enrich.sh: $name failed, see $dir/stderr" >&2; exit 4; }
  }
  local rows=() share input lines enriched enrich_ir base_run enrich_run added
  for share in 0.05 0.20; do
    input=$(input_for "$share" "$callgrind") || exit 3
    head -n "$callgrind_posts" "$input" > "$out/cg-posts-$share.jsonl"
    head -n 1 "$input" > "$out/cg-one-$share.jsonl"
    if [ "$share" = 0.05 ]; then
      # Warm the watchlist cache natively and under valgrind (its key includes the CPU features).
      cg_run warm "$out/cg-one-$share.jsonl" "decode, match, enrich, window"
      cg_run warm "$out/cg-one-$share.jsonl" "decode, match, enrich, window" valgrind \
        --tool=callgrind --callgrind-out-file=/dev/null --log-file="$out/cg-warm.log"
    fi
    declare -A ir=()
    for variant in base enrich; do
      transforms="decode, match, window"
      [ "$variant" = enrich ] && transforms="decode, match, enrich, window"
      for size in one posts; do
        cg_run "$variant-$size" "$out/cg-$size-$share.jsonl" "$transforms" nice -n 10 valgrind \
          --tool=callgrind --callgrind-out-file="$out/callgrind.$variant-$size-$share.out" \
          --log-file="$out/cg-$variant-$size-$share.log"
        ir[$variant-$size]=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg-$variant-$size-$share.log")
      done
    done
    lines=$(wc -l < "$out/cg-posts-$share.jsonl")
    enriched=$(matched_posts "$out/cg-posts-$share.jsonl")
    callgrind_annotate --inclusive=yes --threshold=100 "$out/callgrind.enrich-posts-$share.out" \
      > "$out/callgrind.enrich-posts-$share.txt" 2>/dev/null
    enrich_ir=$(awk '/TextEnricher::Enrich\(/ {gsub(",", "", $1); print $1; exit}' \
      "$out/callgrind.enrich-posts-$share.txt")
    base_run=$((ir[base-posts] - ir[base-one]))
    enrich_run=$((ir[enrich-posts] - ir[enrich-one]))
    added=$((enrich_run - base_run))
    rows+=("$(printf '| %s | %s | %s (%.1f%%) | %s | %s | **%.1f%%** | %s | %s (%.1f%%) |' "$share" \
      "$lines" "$enriched" "$(echo "100 * $enriched / $lines" | bc -l)" "$base_run" "$enrich_run" \
      "$(echo "100 * $added / $enrich_run" | bc -l)" "$((added / (enriched > 0 ? enriched : 1)))" \
      "${enrich_ir:-?}" "$(echo "100 * ${enrich_ir:-0} / $enrich_run" | bc -l)")")
  done
  echo "callgrind, $label ($callgrind), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "| input (\`--mention-share\`, 10k brands) | lines | enriched posts | Ir without enrich¹ | Ir with enrich¹ | enrichment's share of the instructions | Ir per enriched post | TextEnricher::Enrich inclusive Ir (of the with-run) |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo "¹ the pipeline's Ir on those lines minus its Ir on their first line alone (start-up)."
  echo
}
perf_part() {  # the CPU-sample shares (see the header)
  command -v perf >/dev/null || { echo "enrich.sh: --perf needs perf (linux-perf)" >&2; exit 2; }
  local input dir="$out/perf"
  input=$(input_for 0.20) || exit 3
  local binaries=("$brandpulse|this")
  [ -n "$baseline" ] && binaries+=("$baseline|baseline")
  declare -A shares
  local perf_loads=()
  for round in 1 2 3; do
    perf_loads+=("perf round $round: load average $(cut -d' ' -f1-3 /proc/loadavg)")
    for entry in "${binaries[@]}"; do
      IFS='|' read -r binary label <<< "$entry"
      rm -rf "$dir"
      mkdir -p "$dir"
      cat > "$dir/pipeline.yaml" <<EOF
name: bench-enrich
source: {type: file, path: $input, follow: false}
decode: {format: twitter-v2}
transforms: [decode, match, enrich, window]
watchlist: $watchlist
workers: 1
batch_records: 1024
state: {directory: $dir/state, memory_budget_mb: 256, commit_every_records: 50000, retention: 7d}
windows: [{name: 5m, size: 5m}, {name: 1h, size: 1h}]
sinks:
  alerts: {type: file, path: $dir/alerts.jsonl}
  dead_letter: {type: file, path: $dir/dead.jsonl}
  late: {type: file, path: $dir/late.jsonl}
EOF
      perf record -q -F 1000 -e cpu-clock --call-graph dwarf,8192 -o "$dir/perf.data" \
        "$binary" run "$dir/pipeline.yaml" --fresh > "$dir/log" 2>&1 ||
        { echo "enrich.sh: perf run failed, see $dir/log" >&2; exit 4; }
      # share:enrich samples:samples after start-up
      shares[$label]+="$(perf script -i "$dir/perf.data" -F ip,sym 2>/dev/null | python3 -c '
import sys
total = setup = enrich = 0
stack = []
def count():
    global total, setup, enrich
    if not stack: return
    frames = "".join(stack)
    total += 1
    if "PipelineRun::Setup" in frames: setup += 1
    elif "EnrichTransform::Process" in frames: enrich += 1
for line in sys.stdin:
    if line.strip(): stack.append(line)
    else: count(); stack.clear()
count()
print(f"{100 * enrich / max(total - setup, 1):.1f}:{enrich}:{total - setup}")') "
    done
  done
  echo "CPU samples (perf, cpu-clock 1 kHz, $posts posts, 20% matching): enrichment's share of the samples after start-up"
  echo "| build | round 1 | round 2 | round 3 | median |"
  echo "|---|---:|---:|---:|---:|"
  for entry in "${binaries[@]}"; do
    IFS='|' read -r binary label <<< "$entry"
    local cells=() values=()
    for item in ${shares[$label]}; do
      IFS=':' read -r share enrich run <<< "$item"
      cells+=("$share% ($enrich of $run)")
      values+=("$share")
    done
    echo "| $label | ${cells[0]} | ${cells[1]} | ${cells[2]} | $(median "${values[@]}")% |"
  done
  printf '%s\n' "${perf_loads[@]}"
  echo
}
run_callgrind() {
  [ -n "$callgrind" ] || return 0
  callgrind_part "$callgrind" this
  [ -z "$callgrind_baseline" ] || callgrind_part "$callgrind_baseline" baseline
}
if [ -n "$callgrind_only" ]; then
  run_callgrind
  exit 0
fi

median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
loads=()  # the load average at the start of each round: the machine is shared
pairs=()

echo "| mention share | posts | enriched posts¹ | mentions | build | without enrich s | with enrich s | extra s | µs per enriched post | share of pipeline time | CPU s without² | CPU s with² | µs CPU per enriched post | share of pipeline CPU |"
echo "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for share in 0.05 0.20; do
  input=$(input_for "$share") || exit 3
  enriched_posts=$(matched_posts "$input")
  head -n 1 "$input" > "$out/one-$share.jsonl"
  base=() enriched=() old=() base_cpu=() enriched_cpu=() old_cpu=() mentions=0
  paired=() paired_cpu=() paired_old=() paired_old_cpu=()  # per round: (with − without) / with
  paired_us=() paired_old_us=()  # per round: µs of CPU per enriched post
  for round in $(seq 1 "$rounds"); do  # interleaved, so that a change of load hits every variant alike
    loads+=("share $share round $round: load average $(cut -d' ' -f1-3 /proc/loadavg)")
    variants=("decode, match, window|$brandpulse|base" "decode, match, enrich, window|$brandpulse|enriched")
    [ -n "$baseline" ] && variants+=("decode, match, enrich, window|$baseline|old")
    for variant in "${variants[@]}"; do
      IFS='|' read -r transforms binary name <<< "$variant"
      read -r seconds mentions cpu < <(run_once "$input" "$transforms" "$binary")
      read -r _ _ cpu_one < <(run_once "$out/one-$share.jsonl" "$transforms" "$binary")
      eval "$name+=(\"\$seconds\")"
      eval "${name}_cpu+=(\"\$(echo \"\$cpu - \$cpu_one\" | bc -l)\")"
    done
    last() { local -n values=$1; echo "${values[-1]}"; }
    paired+=("$(echo "100 * ($(last enriched) - $(last base)) / $(last enriched)" | bc -l)")
    paired_cpu+=("$(echo "100 * ($(last enriched_cpu) - $(last base_cpu)) / $(last enriched_cpu)" | bc -l)")
    paired_us+=("$(echo "1000000 * ($(last enriched_cpu) - $(last base_cpu)) / $enriched_posts" | bc -l)")
    if [ -n "$baseline" ]; then
      paired_old+=("$(echo "100 * ($(last old) - $(last base)) / $(last old)" | bc -l)")
      paired_old_cpu+=("$(echo "100 * ($(last old_cpu) - $(last base_cpu)) / $(last old_cpu)" | bc -l)")
      paired_old_us+=("$(echo "1000000 * ($(last old_cpu) - $(last base_cpu)) / $enriched_posts" | bc -l)")
    fi
  done
  row() {  # label, seconds with enrich, CPU seconds with enrich (b, bc: without)
    local extra per_post share_of extra_cpu per_post_cpu share_cpu
    extra=$(echo "$2 - $b" | bc -l)
    per_post=$(echo "$extra * 1000000 / $enriched_posts" | bc -l)
    share_of=$(echo "100 * $extra / $2" | bc -l)
    extra_cpu=$(echo "$3 - $bc" | bc -l)
    per_post_cpu=$(echo "$extra_cpu * 1000000 / $enriched_posts" | bc -l)
    share_cpu=$(echo "100 * $extra_cpu / $3" | bc -l)
    printf '| %s | %s | %s (%.2f%%) | %s | %s | %.3f | %.3f | %.3f | %.2f | %.1f%% | %.3f | %.3f | %.2f | %.1f%% |\n' \
      "$share" "$posts" "$enriched_posts" "$(echo "100 * $enriched_posts / $posts" | bc -l)" \
      "$mentions" "$1" "$b" "$2" "$extra" "$per_post" "$share_of" "$bc" "$3" "$per_post_cpu" "$share_cpu"
  }
  b=$(median "${base[@]}") bc=$(median "${base_cpu[@]}")
  [ -n "$baseline" ] && row "baseline, median of $rounds" "$(median "${old[@]}")" "$(median "${old_cpu[@]}")"
  row "this, median of $rounds" "$(median "${enriched[@]}")" "$(median "${enriched_cpu[@]}")"
  b=$(best "${base[@]}") bc=$(best "${base_cpu[@]}")
  [ -n "$baseline" ] && row "baseline, best of $rounds" "$(best "${old[@]}")" "$(best "${old_cpu[@]}")"
  row "this, best of $rounds" "$(best "${enriched[@]}")" "$(best "${enriched_cpu[@]}")"
  fmt_list() { printf '%.1f ' "$@"; }
  pairs+=("$share, this: share of time per round $(fmt_list "${paired[@]}")→ median $(printf '%.1f' "$(median "${paired[@]}")")%; of CPU $(fmt_list "${paired_cpu[@]}")→ median $(printf '%.1f' "$(median "${paired_cpu[@]}")")%; µs CPU per enriched post $(fmt_list "${paired_us[@]}")→ median $(printf '%.2f' "$(median "${paired_us[@]}")")")
  [ -z "$baseline" ] || pairs+=("$share, baseline: share of time per round $(fmt_list "${paired_old[@]}")→ median $(printf '%.1f' "$(median "${paired_old[@]}")")%; of CPU $(fmt_list "${paired_old_cpu[@]}")→ median $(printf '%.1f' "$(median "${paired_old_cpu[@]}")")%; µs CPU per enriched post $(fmt_list "${paired_old_us[@]}")→ median $(printf '%.2f' "$(median "${paired_old_us[@]}")")")
done
echo
echo "Paired shares (each round's with and without runs, back to back; median over the rounds):"
printf '%s\n' "${pairs[@]}"
echo
printf '%s\n' "${loads[@]}"
echo
echo "¹ posts the watchlist finds a brand in (brandpulse match --jsonl): enrich runs on those (posts: matched)."
echo "² user + sys of the process minus those of a 1-line run of the same pipeline (start-up)."
"$brandpulse" eval-enrichment "$root/tests/fixtures/enrichment/vader_tweets.tsv" | grep '^time:' |
  sed 's/^time: /Enrich() alone on VADER'"'"'s 4,200 tweets (CLD2 on every post): /'
echo
[ -z "$perf_share" ] || perf_part
run_callgrind
