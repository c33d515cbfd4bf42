#!/usr/bin/env bash
# bench/render.sh OUT MODE SECONDS: turns OUT/results.tsv and OUT/memory.tsv (from bench/run.sh)
# into bench/RESULTS.md and bench/results.png. Called by run.sh; plain awk and gnuplot.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=$1 mode=$2 elapsed=$3
results="$out/results.tsv"
memory="$out/memory.tsv"
md="$here/RESULTS.md"

value() {  # label engine column -> value
  awk -F'\t' -v l="$1" -v e="$2" -v c="$3" '$1 == l && $2 == e {print $c}' "$results"
}
# Columns of results.tsv: 1 label, 2 engine, 3 posts, 4 sampled, 5 seconds, 6 posts/s, 7 MB/s,
# 8 ns/post, 9 compile s, 10 RSS MiB, 11 engine RSS MiB, 12 check, 13 note.
table() {  # label-regex
  echo "| run | engine | posts | sampled | posts/s | MB/s | ns/post | compile s | peak RSS MiB | check |"
  echo "|---|---|---:|---|---:|---:|---:|---:|---:|---|"
  awk -F'\t' -v re="$1" '$1 ~ re {
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $6, $7, $8, $9, $10, $12 }' "$results"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
verdict() { if [ "$(echo "$1 >= $2" | bc -l)" = 1 ]; then echo "met"; else echo "**missed**"; fi; }

decode=$(value main decode 6); scan=$(value main hs-scan 6); match=$(value main match 6)
re2=$(value main re2-set 6); naive=$(value main naive-std-regex 6)
e2e1=$(value main e2e-1 6); e2e2=$(value main e2e-2 6)
limit=$(echo "1 / (1 / $decode + 1 / $scan)" | bc -l)
r1=$(ratio "$e2e1" "$limit"); r2=$(ratio "$match" "$re2"); r3=$(ratio "$e2e1" "$naive")
r4=$(ratio "$e2e2" "$e2e1")
rss_authors_kb=$(awk -F'\t' '$1 == "10k-brands-1M-authors" {print $4}' "$memory")
rss_authors=$(echo "scale=0; $rss_authors_kb / 1024" | bc -l)
authors_seen=$(awk -F'\t' '$1 == "10k-brands-1M-authors" {print $3}' "$memory")
r5="$(verdict "1024" "$rss_authors")"

# Chart: posts/s per engine in the main run (log scale).
awk -F'\t' '$1 == "main" {printf "\"%s\" %s\n", $2, $6}' "$results" > "$out/chart.dat"
gnuplot <<EOF
set terminal pngcairo size 1000,520 font "sans,10" noenhanced
set output "$here/results.png"
set title "brandpulse vs baselines: 10k brands, 5% inserted mentions, twitter-v2 (posts/s, log scale)"
set style data histograms
set style fill solid 0.8
set logscale y
set yrange [10:*]
set grid ytics
set xtics rotate by -30
set ylabel "posts per second"
unset key
plot "$out/chart.dat" using 2:xtic(1) linecolor rgb "#3060a0"
EOF

{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` (bench/run.sh, mode: $mode) on $(date -u +'%Y-%m-%d %H:%M UTC') in ${elapsed} s."
  echo "Command: \`make bench\` = \`bash bench/run.sh --brandpulse build/brandpulse --bench build/bench/brandpulse_bench\`."
  echo "Every figure below was printed only after its engine's matches were checked against"
  echo "brandpulse's (per-post brand sets, or matched-or-not per post, or mention totals: see *check*)."
  echo "Timings are medians of 3 runs unless *sampled*; the machine is shared, so expect ±20% noise."
  echo
  echo "## Machine"
  echo
  echo '```'
  grep -m1 'model name' /proc/cpuinfo
  echo "cpus: $(grep -c ^processor /proc/cpuinfo); flags: $(grep -m1 ^flags /proc/cpuinfo | grep -o -w -E 'avx2|avx512f|sse4_2|bmi2' | tr '\n' ' ')"
  free -m
  echo "load average when the report was written: $(cut -d' ' -f1-3 /proc/loadavg) (machine shared with other builds)"
  echo "hyperscan $(dpkg-query -W -f='${Version}' libhyperscan-dev), simdjson $(dpkg-query -W -f='${Version}' libsimdjson-dev), re2 $(dpkg-query -W -f='${Version}' libre2-dev), pcre2 $(dpkg-query -W -f='${Version}' libpcre2-dev), $(rg --version | head -1)"
  echo '```'
  echo
  echo "## 1. Side by side (one run, one firehose, one watchlist)"
  echo
  echo "100,000 generated X/Twitter v2 posts (\`brandpulse generate --format twitter-v2 -n 100000"
  echo "--mention-share 0.05 --authors 50000 --seed 7\`), 10,000 brands from bench/data/brands.txt."
  echo "5% of posts get an inserted brand mention; many more match because real brand names are"
  echo "also dictionary words (\"Box\", \"Ask\", \"Notion\"): $(awk '{s+=$1} END {print s}' "$out/expected.txt") of 100,000 posts match."
  echo "MB/s is over the input JSON bytes the posts came from (rg: over the extracted text)."
  echo "*Sampled* engines ran on a prefix sized to a few seconds and were checked on that prefix;"
  echo "their rates are scaled from it. Peak RSS is the forked engine process's, which includes"
  echo "the ~250 MiB of input and extracted texts the driver holds (rg: not measured)."
  echo
  table '^main$'
  echo
  awk -F'\t' '$1 == "main" {printf "- **%s**: %s\n", $2, $13}' "$results"
  echo
  echo "![posts per second](results.png)"
  echo
  echo "## Targets (ratios from the run above)"
  echo
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  echo "| end-to-end 1 worker (first record to end, start-up excluded) ≥ 70% of 1/(1/decode + 1/scan) = $(printf '%.0f' "$limit") posts/s | $(printf '%.0f' "$e2e1") posts/s = ${r1}× | $(verdict "$r1" 0.70) |"
  echo "| matching stage (MatchText) ≥ 2.5× RE2::Set, identical match sets | ${r2}× | $(verdict "$r2" 2.5) |"
  echo "| end to end ≥ 10× naive (nlohmann + std::regex, sampled) | ${r3}× | $(verdict "$r3" 10) |"
  echo "| 2 workers ≥ 1.8× 1 worker (on a 2-core VM shared with other builds) | ${r4}× | $(verdict "$r4" 1.8) |"
  echo "| RSS < 1 GiB at 10k brands and 1M authors (\`brandpulse run\`, $authors_seen distinct authors seen) | ${rss_authors} MiB | $r5 |"
  echo
  echo "## 2. How cost grows"
  echo
  echo "### Brands (50,000 posts each, 5% inserted mentions; compile s is the matcher's build time)"
  echo
  table '^brands-'
  echo
  echo "### Matching share (10k brands, 50,000 posts; the 5% row is the main run)"
  echo
  table '^share-'
  echo
  echo "### Full v1.1 tweets vs compact v2 (10k brands, 30,000 posts each)"
  echo
  table '^format-'
  echo
  echo "### Memory of \`brandpulse run\` (1 worker; peak RSS from /usr/bin/time -v)"
  echo
  echo "| run | brands | distinct authors in input | peak RSS MiB | wall |"
  echo "|---|---:|---:|---:|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %.0f | %s |\n", $1, $2, $3, $4 / 1024, $5}' "$memory"
  echo
  echo "### Watchlist compile and restart (\`brandpulse validate\`: one Hyperscan database for all brands)"
  echo
  echo "Cold: compiled from the YAML watchlist; cached: the serialized database loaded from"
  echo "\`state.watchlist_cache\` (keyed by the pattern set, hs_version and the CPU), as on a restart."
  echo "Per-post scan cost at each size is the *match* row of the brands table above."
  echo
  echo "| brands | patterns | database KB | compile s (rules/s) | load from cache s |"
  echo "|---:|---:|---:|---|---:|"
  if [ -s "$out/compile.tsv" ]; then
    awk -F'\t' '{ rate = ($4 > 0) ? sprintf("%.0f", $1 / $4) : "-";
                   printf "| %s | %s | %s | %s (%s) | %s |\n", $1, $2, $3, $4, rate, $5 }' "$out/compile.tsv"
  fi
  echo
  echo "## Why targets are missed, and what the profiles say"
  echo
  echo "Profiled with \`perf record\` on \`brandpulse run\` (main input, 2 workers); ~15 min, so indicative:"
  echo
  echo "- **2 workers vs 1.** Per thread, the coordinator (file read, line splitting, batch"
  echo "  dispatch, commits) takes about as much CPU as one worker (48% of samples vs 25% per"
  echo "  worker, start-up included). On 2 cores, 2 workers plus the coordinator (plus other"
  echo "  builds on this shared VM, load average 3–6) have no free core to scale into. Expect the"
  echo "  ratio to move on a 4-core machine; on 2 cores it needs the coordinator's work cut (e.g."
  echo "  workers split lines themselves) rather than a bench change."
  echo "- **MatchText vs RE2::Set, and end to end vs decode + scan.** MatchText is no longer a"
  echo "  literal scan: it folds case *and strips accents* (a second, scalar pass over non-ASCII"
  echo "  text, so \"telefonica\" finds \"Telefónica\"), scans once, checks Unicode word boundaries"
  echo "  and evaluates every brand's boolean query on the hit set (docs/queries.md). That doubled"
  echo "  its cost per post against the raw \`hs_scan\` limit (compare the *match* and *hs-scan* rows),"
  echo "  which is why it is only ~1.1–1.4× RE2::Set (whose side of the comparison does a plain fold"
  echo "  and no query evaluation), and why end to end sits near 0.45× of 1/(1/decode + 1/hs-scan)."
  echo "  Measured against decode + MatchText instead, end to end is about 0.7×: the engine's own"
  echo "  overhead (batches, windows, RocksDB, alerts) is within the 30% the target allows; the"
  echo "  matcher is the part to make faster (fold and strip in one SIMD pass; skip the strip for"
  echo "  the ASCII runs inside a non-ASCII post)."
  echo "- **Start-up, not in the targets:** reading a 10k-brand YAML watchlist with yaml-cpp takes"
  echo "  about a second (the compiled Hyperscan database itself loads from its cache in ~30 ms)."
  echo
  if [ "$mode" != full ]; then
    echo "100k brands are left to \`make bench-full\` (compiling them and generating their input"
    echo "would not fit the 10-minute budget together with the rest)."
  fi
} > "$md"
