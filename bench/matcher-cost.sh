#!/usr/bin/env bash
# bench/matcher-cost.sh BRANDPULSE_BENCH WATCHLIST INPUT [FORMAT]
#
# Callgrind instruction counts (Ir) per post of the matching stage alone, for the engines of
# `brandpulse_bench matchcost`: match (this matcher), match-folded (every text folded and
# stripped before the scan, as before issue 17) and re2-set (RE2::Set in place of Hyperscan,
# the matcher's own checks). Only MeasuredPass (the second pass over the posts) is collected,
# so start-up, decoding and the warm-up pass are not counted. Instruction counts repeat
# exactly on a loaded machine where times do not. BRANDPULSE_BENCH must be built without
# AVX-512 (valgrind cannot run it): `make callgrind` builds build-cg/bench/brandpulse_bench.
# The compiled watchlist is cached in $MC_CACHE (default /tmp/matcher-cost-cache). Valgrind runs
# with --instr-atstart=no (the driver starts instrumentation before its warm-up pass, so loading
# and compiling the watchlist run fast); MC_KEEP=DIR keeps the callgrind files; MC_NICE (10).
# Prints: engine, posts, mentions, Ir, Ir/post.
set -euo pipefail
command -v valgrind >/dev/null || { echo "matcher-cost.sh: needs valgrind" >&2; exit 2; }
[ $# -ge 3 ] || { echo "usage: $0 BRANDPULSE_BENCH WATCHLIST INPUT [FORMAT]" >&2; exit 2; }
bench="$(readlink -f "$1")"
watchlist="$(readlink -f "$2")"
input="$(readlink -f "$3")"
format="${4:-twitter-v2}"
cache="${MC_CACHE:-/tmp/matcher-cost-cache}"
engines="${MC_ENGINES:-match match-folded re2-set}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for engine in $engines; do
  nice -n "${MC_NICE:-10}" valgrind --tool=callgrind --instr-atstart=no --toggle-collect='*MeasuredPass*' \
    --callgrind-out-file="$out/cg.$engine" \
    "$bench" matchcost --watchlist "$watchlist" --input "$input" --format "$format" \
    --engine "$engine" --cache "$cache" > "$out/$engine.txt" 2> "$out/$engine.log"
  [ -n "${MC_KEEP:-}" ] && mkdir -p "$MC_KEEP" && cp "$out/cg.$engine" "$MC_KEEP/"
  ir="$(grep -m1 '^summary:' "$out/cg.$engine" | awk '{print $2}')"
  posts="$(awk '{print $3}' "$out/$engine.txt")"
  mentions="$(awk '{print $5}' "$out/$engine.txt")"
  printf '%s\tposts %s\tmentions %s\tIr %s\tIr/post %s\n' "$engine" "$posts" "$mentions" "$ir" \
    "$(( ir / posts ))"
done
