#!/usr/bin/env bash
# bench/enrich-identical.sh: does a speed change of enrichment change any result? Runs
# `eval-enrichment --predictions` (per post: language, variant, sentiment, score, confidence,
# intents, the sentiment towards each brand) of two builds on every labelled set of
# tests/fixtures/enrichment × 5 option combinations, and on generated bench posts (their payload
# language as tag), and diffs them. Exit 0 when every output is identical.
# Usage: bash bench/enrich-identical.sh BASELINE_BRANDPULSE [THIS_BRANDPULSE (build/brandpulse)]
#        [--generated N (2000; 0: none)] [--out DIR (build/enrich-identical)]
# The generated posts need build/bench/brandpulse_bench (or --bench) for the watchlist.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
baseline=""
this="$root/build/brandpulse"
bench="$root/build/bench/brandpulse_bench"
generated=2000
out="$root/build/enrich-identical"
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --generated) generated="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --bench) bench="$2"; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -ge 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
baseline="${positional[0]}"
[ ${#positional[@]} -ge 2 ] && this="${positional[1]}"
mkdir -p "$out/baseline" "$out/this"

sets=()
for set in "$root"/tests/fixtures/enrichment/*.tsv; do sets+=("$set"); done
if [ "$generated" -gt 0 ]; then
  # Generated twitter-v2 posts (tagged en/no/es) as `lang<TAB>neu<TAB><TAB>text` lines.
  watchlist="$out/watchlist-10000.yaml"
  [ -f "$watchlist" ] || "$bench" watchlist --brands-file "$root/bench/data/brands.txt" \
    --count 10000 --out "$watchlist" >/dev/null
  "$this" generate -w "$watchlist" -n "$generated" -f twitter-v2 --mention-share 0.20 \
    --authors 50000 --seed 7 -o "$out/generated.jsonl" >/dev/null
  python3 - "$out/generated.jsonl" "$out/generated.tsv" <<'EOF'
import json, sys
with open(sys.argv[1]) as source, open(sys.argv[2], "w") as target:
    for line in source:
        for post in json.loads(line)["data"]:
            text = post["text"].replace("\t", " ").replace("\n", " ")
            target.write(f"{post.get('lang', 'und')}\tneu\t\t{text}\n")
EOF
  sets+=("$out/generated.tsv")
fi

options=("" "--payload-language" "--rules-only" "--words-only" "--payload-language --rules-only")
differ=0 compared=0
for set in "${sets[@]}"; do
  for option in "${options[@]}"; do
    name="$(basename "$set" .tsv)${option// /}"
    for side in baseline this; do
      binary="$baseline"
      [ "$side" = this ] && binary="$this"
      # shellcheck disable=SC2086
      "$binary" eval-enrichment --predictions $option "$set" | grep -v '^time:' > "$out/$side/$name.txt"
    done
    compared=$((compared + 1))
    if ! cmp -s "$out/baseline/$name.txt" "$out/this/$name.txt"; then
      echo "DIFFERS: $(basename "$set") ${option:-(default options)}: diff $out/baseline/$name.txt $out/this/$name.txt"
      differ=$((differ + 1))
    fi
  done
done
echo "$compared outputs compared ($((${#sets[@]})) sets × ${#options[@]} option sets), $differ differ"
[ "$differ" -eq 0 ]
