#!/usr/bin/env bash
# The demo: generate a synthetic firehose, validate the pipeline, run it, show the alerts.
set -euo pipefail
cd "$(dirname "$0")/.."
brandpulse=${1:-build/brandpulse}
records=${DEMO_RECORDS:-300000}
input=build/demo/firehose.jsonl

mkdir -p build/demo out/demo
echo "== generating ${records} synthetic X/Twitter v2 posts (seeded, 0.1% malformed) -> ${input}"
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$records" --seed 2026 --mention-share 0.08 \
  --malformed-share 0.001 --rate 200 --disorder 20s --output "$input"

echo "== validating pipelines/demo.yaml"
"$brandpulse" validate pipelines/demo.yaml

echo "== running pipelines/demo.yaml"
"$brandpulse" run pipelines/demo.yaml --fresh --quiet

echo
echo "== first alerts (out/demo/alerts.jsonl, one JSON object per line):"
head -n 5 out/demo/alerts.jsonl
echo "== first dead letter (out/demo/dead-letter.jsonl):"
head -n 1 out/demo/dead-letter.jsonl | cut -c1-300
echo "== what the windows say (brandpulse query; the same JSON as the HTTP API, docs/api.md):"
echo "\$ brandpulse query top -p pipelines/demo.yaml --last 15m -n 3"
"$brandpulse" query top -p pipelines/demo.yaml --last 15m -n 3
echo "\$ brandpulse query top-terms -p pipelines/demo.yaml -b telenor --last 1h -n 5"
"$brandpulse" query top-terms -p pipelines/demo.yaml -b telenor --last 1h -n 5
