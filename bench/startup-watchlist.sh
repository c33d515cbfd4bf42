#!/usr/bin/env bash
# bench/startup-watchlist.sh: start-up with big watchlists (issue 17, item 3), and optionally peak
# RSS with 10k brands and 1M distinct authors. Not part of `make bench`; bench/run.sh may call it.
#
#   bash bench/startup-watchlist.sh --brandpulse BIN --bench BRANDPULSE_BENCH --out DIR \
#        [--brands "10000 100000"] [--repeat 3] [--rss]
#
# For each brand count N: a watchlist from the bench's generator (`brandpulse_bench watchlist
# --count N`), a one-post input (`brandpulse generate`), and a pipeline like the bench's e2e-1
# one. Then, each under /usr/bin/time (wall and peak RSS of the whole process: start, watchlist
# parse, compile or cache load, state open, one post, shutdown):
#   cold   no watchlist caches (XDG_CACHE_HOME emptied): the YAML is parsed, Hyperscan compiles;
#   parse  the Hyperscan database cached, the watchlist parse cache off
#          (BRANDPULSE_WATCHLIST_SPEC_CACHE=off): yaml-cpp parses the file;
#   warm   both caches warm (a restart): the decoded spec and the serialized database load.
# `parse` and `warm` are repeated (--repeat, default 3): best and median are printed. The load
# average is printed beside each row (the machine is shared).
#
# With --rss: `brandpulse run` over 3M posts of 2^24 possible authors (about 1.1M distinct, as
# bench/run.sh's memory table), 10k brands, 1 worker; peak RSS (goal <= 1024 MiB). Slow: the
# input is 1.7 GB and is deleted afterwards.
#
# Output: a table on stdout and DIR/startup.tsv (brands, case, run, wall_s, rss_mib, load1).
set -euo pipefail

brandpulse="" bench="" out="" brands_list="10000 100000" repeat=3 rss=0
while [ $# -gt 0 ]; do
  case "$1" in
    --brandpulse) brandpulse="$(readlink -f "$2")"; shift 2 ;;
    --bench) bench="$(readlink -f "$2")"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --brands) brands_list="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --rss) rss=1; shift ;;
    *) echo "startup-watchlist.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$brandpulse" ] && [ -x "$bench" ] && [ -n "$out" ] || {
  echo "usage: $0 --brandpulse BIN --bench BRANDPULSE_BENCH --out DIR [--brands \"N ...\"] [--repeat R] [--rss]" >&2
  exit 2; }
[ -x /usr/bin/time ] || { echo "startup-watchlist.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
names="$here/data/brands.txt"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
tsv="$out/startup.tsv"
printf "brands\tcase\trun\twall_s\trss_mib\tload1\n" > "$tsv"

pipeline() {  # dir watchlist input
  cat > "$1/pipeline.yaml" <<EOF
name: bench-startup
source: {type: file, path: $3, follow: false}
decode: {format: twitter-v2}
watchlist: $2
workers: 1
batch_records: 1024
state: {directory: $1/state, memory_budget_mb: 256, commit_every_records: 50000, retention: 7d}
time: {max_out_of_orderness: 30s, allowed_lateness: 1m}
windows:
  - {name: 5m, size: 5m}
  - {name: 1h, size: 1h}
alerts:
  - {name: burst, type: threshold, window: 5m, metric: mentions, above: 400}
sinks:
  alerts: {type: file, path: $1/alerts.jsonl}
  dead_letter: {type: file, path: $1/dead.jsonl}
  late: {type: file, path: $1/late.jsonl}
EOF
}

timed() {  # brands case run dir [env...] ; one `brandpulse run`, appends a TSV row
  local n=$1 case=$2 run=$3 dir=$4
  shift 4
  env "$@" XDG_CACHE_HOME="$dir/xdg" /usr/bin/time -f '%e %M' -o "$dir/time.txt" \
    "$brandpulse" run "$dir/pipeline.yaml" --fresh -q > "$dir/run.log" 2>&1 || {
      echo "startup-watchlist.sh: run failed, see $dir/run.log" >&2; exit 4; }
  local wall rss_kb load
  read -r wall rss_kb < "$dir/time.txt"
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf "%s\t%s\t%s\t%s\t%d\t%s\n" "$n" "$case" "$run" "$wall" $((rss_kb / 1024)) "$load" >> "$tsv"
}

for n in $brands_list; do
  dir="$out/brands-$n"
  mkdir -p "$dir"
  wl="$dir/watchlist.yaml"
  [ -f "$wl" ] || "$bench" watchlist --brands-file "$names" --count "$n" --out "$wl" > /dev/null
  [ -f "$dir/one.jsonl" ] || "$brandpulse" generate -w "$wl" -n 1 -f twitter-v2 \
    --mention-share 1 --seed 7 -o "$dir/one.jsonl" > /dev/null
  pipeline "$dir" "$wl" "$dir/one.jsonl"
  rm -rf "$dir/xdg"
  timed "$n" cold 1 "$dir"
  for run in $(seq 1 "$repeat"); do
    timed "$n" parse "$run" "$dir" BRANDPULSE_WATCHLIST_SPEC_CACHE=off
    timed "$n" warm "$run" "$dir"
  done
done

if [ "$rss" = 1 ]; then
  n=10000
  dir="$out/rss-10k-1m"
  mkdir -p "$dir"
  wl="$out/brands-$n/watchlist.yaml"
  [ -f "$wl" ] || "$bench" watchlist --brands-file "$names" --count "$n" --out "$wl" > /dev/null
  input="$dir/authors.jsonl"
  "$brandpulse" generate -w "$wl" -n 3000000 -f twitter-v2 --mention-share 0.05 \
    --authors 16777216 --seed 7 -o "$input" > /dev/null
  pipeline "$dir" "$wl" "$input"
  timed "$n" rss-1M-authors 1 "$dir"
  rm -f "$input"
fi

# Best and median wall per (brands, case); RSS of the median run.
awk -F'\t' 'NR > 1 { key = $1 "\t" $2; n[key]++; wall[key, n[key]] = $4; rss[key] = $5;
                     load[key] = load[key] (load[key] == "" ? "" : ",") $6; order[key] = NR }
  END {
    printf "%-8s %-16s %5s %9s %9s %8s  %s\n", "brands", "case", "runs", "best s", "median s", "RSS MiB", "load1"
    for (key in n) {
      m = n[key]
      for (i = 1; i <= m; i++) v[i] = wall[key, i] + 0
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      split(key, part, "\t")
      printf "%-8s %-16s %5d %9.3f %9.3f %8d  %s\n", part[1], part[2], m, v[1], v[int((m + 1) / 2)], rss[key], load[key]
    }
  }' "$tsv" | sort -k1,1n -k2,2
echo "rows: $tsv"
