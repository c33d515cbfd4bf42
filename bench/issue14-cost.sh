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
# Prints, per engine and input, the posts, the engine's own collected Ir and Ir per post.
# Generated inputs of two sizes show the per-post cost is linear (fixed costs are not collected).
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
    # The engine runs in the forked child (the highest pid; /bin/sh and mkdir are children too).
    # A forked child's file starts from the parent's counts at the fork: the parent decodes the
    # input once before forking, so the decode child's own cost is child - parent. The match
    # child calls MatchText twice per post (the timed pass and the checked pass); the parent
    # calls it once more after the child, which is not in the child's file.
    files="$(ls "$out/cg.$engine.$input".* | sort -t. -k4 -n)"
    parent_ir="$(grep -m1 '^summary:' "$(echo "$files" | head -n 1)" | awk '{print $2}')"
    child_ir="$(grep -m1 '^summary:' "$(echo "$files" | tail -n 1)" | awk '{print $2}')"
    posts="$(awk -F'\t' -v e="$engine" '$2 == e { print $3; exit }' "$out/compare.$engine.$input.tsv")"
    if [ "$engine" = match ]; then
      own=$child_ir; per_post=$(( child_ir / (2 * posts) ))
    else
      own=$(( child_ir - parent_ir )); per_post=$(( own / posts ))
    fi
    printf '%s\t%s\tposts %s\tIr %s\tIr/post %s\n' "$engine" "$input" "$posts" "$own" "$per_post"
  done
done
