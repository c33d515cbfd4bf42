#!/usr/bin/env bash
# The Kafka demo: `brandpulse dev-kafka` hosts a 3-broker mock cluster; kcat produces a synthetic
# firehose to an 8-partition topic; two brandpulse instances share the consumer group (each gets
# half the partitions by cooperative rebalancing); alerts come out on the `alerts` topic and in
# a file per instance. Until exact global windows land (docs/cluster.md), each instance's windows
# cover its own partitions.
set -euo pipefail
cd "$(dirname "$0")/.."
brandpulse=${1:-build/brandpulse}
records=${DEMO_RECORDS:-40000}
work=build/demo-kafka
command -v kcat >/dev/null || { echo "demo-kafka: kcat is missing (make deps)" >&2; exit 2; }

rm -rf "$work" out/demo-kafka
mkdir -p "$work" out/demo-kafka
cluster_pid=
cleanup() {
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
}
trap cleanup EXIT

echo "== brandpulse dev-kafka: 3 brokers, topics posts (8 partitions), alerts (2), dead-letters (1)"
"$brandpulse" dev-kafka --brokers 3 --topic posts:8 --topic alerts:2 --topic dead-letters:1 \
  --control "$work/control.sock" --bootstrap-file "$work/bootstrap" </dev/null >"$work/dev-kafka.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
export KAFKA_BROKERS
KAFKA_BROKERS=$(cat "$work/bootstrap")
echo "   bootstrap servers: $KAFKA_BROKERS (fault commands: $work/control.sock, try 'help')"

echo "== kcat produces ${records} synthetic X/Twitter v2 posts to 'posts'"
"$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
  --format twitter-v2 --count "$records" --seed 2026 --mention-share 0.08 \
  --malformed-share 0.001 --rate 200 --disorder 20s --output "$work/firehose.jsonl"
awk '{ print NR "\t" $0 }' "$work/firehose.jsonl" | kcat -P -b "$KAFKA_BROKERS" -t posts -K "	"

echo "== two instances of pipelines/demo-kafka.yaml share the consumer group 'demo-kafka'"
for instance in a b; do
  DEMO_STATE=$PWD/$work/$instance/state DEMO_OUT=$PWD/out/demo-kafka/$instance \
    "$brandpulse" run pipelines/demo-kafka.yaml --quiet >"$work/$instance.log" 2>&1 &
  sleep 1
done
wait_status=0
for job in $(jobs -p | grep -v "^$cluster_pid\$"); do wait "$job" || wait_status=1; done
for instance in a b; do
  echo "-- instance $instance:"
  grep -E 'gained|finished in|posts [0-9]' "$work/$instance.log" | sed 's/^/   /'
done
[ "$wait_status" -eq 0 ] || { echo "demo-kafka: an instance failed (see $work/*.log)" >&2; exit 1; }

echo "== the group's committed offsets beside the topic's end (brandpulse kafka-lag):"
"$brandpulse" kafka-lag --brokers "$KAFKA_BROKERS" --topic posts --group demo-kafka
echo "== alerts on the 'alerts' topic (key = brand), read back with kcat:"
kcat -C -b "$KAFKA_BROKERS" -t alerts -o beginning -e -q -f '%k  %s\n' | cut -c1-160 | head -n 5
echo "== alert files: $(cat out/demo-kafka/*/alerts.jsonl 2>/dev/null | wc -l) alerts in out/demo-kafka/{a,b}/alerts.jsonl"
