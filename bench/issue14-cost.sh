#!/usr/bin/env bash
# bench/issue14-cost.sh BRANDPULSE_BENCH DATA_DIR OUT_DIR
#
# The cost of issue 14's matching and decoding changes in instructions (callgrind Ir), which
# repeat to ±0.1% on a shared, noisy machine where times do not (bench/RESULTS.md, "Cost of issue
# 14's changes"). Runs `brandpulse_bench compare --engines match` and `--engines decode` under
# callgrind, collecting only inside CompiledWatchlist::MatchText and the decoder's Process
# (--toggle-collect), on two inputs of DATA_DIR:
#   gen-N.jsonl   generated twitter-v2 posts (N = 200 and 2000; same watchlist w1k.yaml);
#   real.jsonl    the recorded X/Twitter v2 pages of tests/fixtures/twitter-v2 (retweets, HTML
#                 entities, expansions: the paths issue 14 added).
# Prints, per engine and input, the collected Ir of the engine's child process and the posts it
# saw. The match engine calls MatchText twice per post (the timed pass and the checked pass): its
# Ir per post is Ir / 2 / posts. Generated inputs of two sizes show the per-post cost is linear.
# Run it on two builds (main, and the commit before a change) with the same DATA_DIR.
set -euo pipefail
command -v valgrind >/dev/null || { echo "issue14-cost.sh: needs valgrind" >&2; exit 2; }
[ $# -eq 3 ] || { echo "usage: $0 BRANDPULSE_BENCH DATA_DIR OUT_DIR" >&2; exit 2; }
bench="$(readlink -f "$1")"
data="$(readlink -f "$2")"
out="$3"
mkdir -p "$out"
out="$(readlink -f "$out")"

collect_for() {
  case "$1" in
    match) echo '*CompiledWatchlist::MatchText*' ;;
    decode) echo '*::Process(brandpulse::Batch&*' ;;
  esac
}

for input in gen-200 gen-2000 real; do
  for engine in match decode; do
    rm -f "$out/cg.$engine.$input".*
    nice -n 10 valgrind --tool=callgrind --trace-children=yes \
      --toggle-collect="$(collect_for "$engine")" \
      --callgrind-out-file="$out/cg.$engine.$input.%p" \
      "$bench" compare --label cg --watchlist "$data/w1k.yaml" --input "$data/$input.jsonl" \
      --format twitter-v2 --engines "$engine" --budget 1 --repeat 1 \
      > "$out/compare.$engine.$input.tsv" 2> "$out/valgrind.$engine.$input.log"
    # The engine runs in the forked child: the last callgrind file (highest pid).
    child="$(ls "$out/cg.$engine.$input".* | sort -t. -k4 -n | tail -n 1)"
    ir="$(grep -m1 '^summary:' "$child" | awk '{print $2}')"
    # compare always runs match too (the reference its checks compare against): take this
    # engine's row (posts, ns per post of this uninstrumented-clock run are meaningless here).
    posts="$(awk -F'\t' -v e="$engine" '$2 == e { print $3; exit }' "$out/compare.$engine.$input.tsv")"
    printf '%s\t%s\tIr %s\tposts %s\n' "$engine" "$input" "$ir" "$posts"
  done
done
