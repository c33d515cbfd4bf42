#!/usr/bin/env bash
# bench/runner-commit.sh: the runner's commit path (issue 17, item 2). Not part of `make bench`;
# bench/run.sh may call it.
#
#   bash bench/runner-commit.sh callgrind BRANDPULSE_BINARY OUTDIR
#       Runs bench/callgrind.sh (the bench's e2e-1 pipeline on its 10k-brand, 100k-post input;
#       CG_DATA and CG_POSTS as there) and prints, per post, the inclusive instructions of the
#       commit barrier (PipelineRun::Commit, on the coordinator while the workers wait), of the
#       write that runs beside the next epoch (the lambda inside Commit, its own thread), and of
#       the parts the issue named: window-close reads (WindowCloser::Close), retention
#       (DeleteWindowsEndingBefore), merge-operand counting (MemTable counting under
#       max_successive_merges) and term extraction (PostTerms::Extract). Needs a build without
#       AVX-512 (`make callgrind` builds one in build-cg).
#
#   bash bench/runner-commit.sh workers BRANDPULSE_BINARY OUTDIR [ROUNDS]
#       Wall time of `brandpulse run` with 1 and 2 workers on the same input and pipeline
#       (CG_DATA's main.jsonl, the e2e-1 pipeline), interleaved, ROUNDS rounds (default 3); prints
#       best and median of each and the 2-vs-1 ratio of the medians, with the load average.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mode="${1:-}"
[ $# -ge 3 ] || { echo "usage: $0 callgrind|workers BRANDPULSE_BINARY OUTDIR [ROUNDS]" >&2; exit 2; }
bin="$(readlink -f "$2")"
out="$3"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

per_post() {  # inclusive-file regex posts -> "Ir  Ir/post  function" for every matching row
  awk -v re="$2" -v n="$3" '/^-+$/ {dash++; next}
    dash >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ && $0 ~ re {
      ir = $1; gsub(",", "", ir); name = $0; sub(/^ *[0-9,]+ *(\([0-9.]+%\))? */, "", name)
      printf "%15s %9.0f  %s\n", $1, ir / n, substr(name, 1, 150) }' "$1"
}

case "$mode" in
  callgrind)
    bash "$here/callgrind.sh" "$bin" "$out" > /dev/null
    inclusive="$out/callgrind.run-main.out.inclusive.txt"
    posts=$(wc -l < "$(awk '/^input:/ {print $2; exit}' "$out/summary.txt")")
    echo "binary: $bin"
    grep -E '^(Ir per post|run said|               mentions)' "$out/summary.txt" || true
    echo "inclusive Ir per post ($posts posts; $inclusive):"
    per_post "$inclusive" 'PipelineRun::Commit\(|PipelineRun::Commit\(bool\)::\{lambda|WindowCloser::(Close|Track)\(|DeleteWindowsEndingBefore|MemTable::CountSuccessiveMergeEntries|PostTerms::Extract|WindowAggregate::(Process|HandOver)\(|StateStore::Write\(|StateStore::ReadWindow|LineFile::Flush|fsync' "$posts"
    ;;
  workers)
    rounds="${4:-3}"
    data="${CG_DATA:-/tmp/cg/data}"
    [ -f "$data/main.jsonl" ] || { echo "runner-commit.sh: no $data/main.jsonl (run the callgrind mode first, or set CG_DATA)" >&2; exit 2; }
    # The e2e-1 pipeline of bench/callgrind.sh, in OUTDIR.
    sed -n '/^name: bench-e2e/,/^EOF/p' "$here/callgrind.sh" | sed '$d' \
      | sed -e "s#\$2#$data/main.jsonl#" -e "s#\$data#$data#" -e "s#\$dir#$out/run#g" > "$out/pipeline.yaml"
    mkdir -p "$out/run"
    export XDG_CACHE_HOME="$out/xdg-cache"
    "$bin" run "$out/pipeline.yaml" --fresh --workers 1 -q > /dev/null 2>&1  # warm the caches
    : > "$out/workers.tsv"
    for round in $(seq 1 "$rounds"); do
      for workers in 1 2; do
        start=$(date +%s.%N)
        "$bin" run "$out/pipeline.yaml" --fresh --workers "$workers" -q > "$out/run-$workers.log" 2>&1
        end=$(date +%s.%N)
        printf "%s\t%s\t%.3f\t%s\n" "$workers" "$round" "$(echo "$end - $start" | bc)" \
          "$(cut -d' ' -f1 /proc/loadavg)" >> "$out/workers.tsv"
      done
    done
    awk -F'\t' '{ n[$1]++; t[$1, n[$1]] = $3; load[$1] = load[$1] " " $4 }
      END {
        for (w = 1; w <= 2; w++) {
          m = n[w]; for (i = 1; i <= m; i++) v[i] = t[w, i]
          for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
          best[w] = v[1]; median[w] = v[int((m + 1) / 2)]
          printf "%d worker(s): best %.3f s, median %.3f s over %d runs (load1:%s)\n", w, best[w], median[w], m, load[w]
        }
        printf "two_workers_vs_one: %.2f (medians), %.2f (bests)\n", median[1] / median[2], best[1] / best[2]
      }' "$out/workers.tsv"
    ;;
  *) echo "usage: $0 callgrind|workers BRANDPULSE_BINARY OUTDIR [ROUNDS]" >&2; exit 2 ;;
esac
