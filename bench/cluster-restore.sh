#!/usr/bin/env bash
# Issue 11: a merger's restore time against its state size — resuming from local state (the merge
# logs and offsets committed with the merged windows) against replaying the partials partitions
# from offset 0 (a fresh disk). docs/cluster.md, "Restore from local state".
#
# For each size N (posts): dev-kafka (1 broker, posts:16, partials:4), N generated posts at
# --rate posts per second of event time; instance a runs alone to the end (stop_at_end) with a
# `cluster:` section (tests/kafka/global-pipeline.yaml); then
#   resume: a again, on its old state: every partials partition resumes at its stored offset;
#   replay: an instance on a fresh disk in the same groups: every partials partition from 0;
#   beside: a copy of a's state that lacks the merge log of its biggest partials partition
#     (BRANDPULSE_TEST_FORGET_MERGE_PARTITION=max): that one is replayed from 0 beside the three
#     resumed ones, as after a failover (stop 24); its windows must equal a's.
#   snapshot (issue 11, stop 25): a wrote a snapshot of each partials partition every
#     --snapshot-every applied epochs (cluster.snapshot_every_epochs), none at its end (as after a
#     crash: BRANDPULSE_TEST_NO_FINAL_SNAPSHOT); an instance on a fresh disk
#     starts each partition from its newest snapshot and reads only the partials after it; its
#     windows must equal a's;
#   snapshot beside: as beside, but the forgotten partition starts from its snapshot.
# Both find the source at its end (the group's offsets), so what they do is restore the merged
# state, close it and exit. Reported: the `partials restored` line (records, bytes, seconds from the
# assignment until every partials partition is read to its end), the process's wall time from
# start to exit (group joins included), the state size and windows, and the load average.
#
#   bash bench/cluster-restore.sh [--sizes 20000,60000,120000] [--rate 1] [--commit-every 500]
#                                 [--snapshot-every 5] [--posts-partitions 16]
#                                 [--partials-partitions 4] [--brandpulse PATH] [--work DIR]
# The mock keeps ~5 MiB per partition: 16 source partitions hold ~140k posts (48: ~400k). This
# watchlist's brands form two competitor groups, so their partials land on at most two partials
# partitions: with 2 to 6 both on partition 0 (≈200k posts fill it at --rate 1), with 7 on 3 and
# 6, with 8 on 4 and 0 (engine/hash.h HashBytes of "dna" and "digi").
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=20000,60000,120000
rate=1
commit_every=500
snapshot_every=5
posts_partitions=16
partials_partitions=4
brandpulse=build/brandpulse
work=build/cluster-restore-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --commit-every) commit_every=$2; shift 2 ;;
    --snapshot-every) snapshot_every=$2; shift 2 ;;
    --posts-partitions) posts_partitions=$2; shift 2 ;;
    --partials-partitions) partials_partitions=$2; shift 2 ;;
    --brandpulse) brandpulse=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "cluster-restore: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v kcat >/dev/null || { echo "cluster-restore: kcat is missing" >&2; exit 2; }
brandpulse=$(cd "$(dirname "$brandpulse")" && pwd)/$(basename "$brandpulse")
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

cluster_pid=
cleanup() {
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null || true
  jobs -p | xargs -r kill -KILL 2>/dev/null || true
}
trap cleanup EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
run_timed() {  # run_timed <dir> <log>: runs an instance to its end; prints its wall seconds
  local state=$1 log=$2 started ended
  mkdir -p "$state.out"
  started=$(date +%s.%N)
  env "${extra_env[@]}" KAFKA_STATE="$state" KAFKA_OUT="$state.out" KAFKA_GROUP=bench KAFKA_COMMIT_EVERY="$commit_every" \
    KAFKA_WORKERS=1 stdbuf -oL -eL "$brandpulse" run tests/kafka/global-pipeline.yaml --quiet >"$log" 2>&1 ||
    { echo "cluster-restore: run failed ($log):" >&2; tail -n 20 "$log" >&2; exit 1; }
  ended=$(date +%s.%N)
  echo "$ended - $started" | bc
}
restored() {  # restored <log>: "<records> <bytes> <seconds>" of its last partials restore
  # (seconds: with snapshots, the time reading them is added: they are read before the timer starts)
  grep 'partials restored' "$1" | tail -n 1 |
    sed -E 's/.*restored: ([0-9]+) record\(s\), ([0-9]+) bytes, .* in ([0-9.]+) s.*snapshots read: [0-9]+ bytes in ([0-9.]+) s.*/\1 \2 \3 \4/; s/.*restored: ([0-9]+) record\(s\), ([0-9]+) bytes, .* in ([0-9.]+) s.*/\1 \2 \3 0/' |
    awk '{ printf "%s %s %.3f\n", $1, $2, $3 + $4 }'
}

extra_env=(BRANDPULSE_BENCH=1)
results=$work/results.tsv
printf 'posts\tstate_mb\twindows\tpartials_mb\tresume_records\tresume_s\tresume_wall_s\tresume_load\treplay_records\treplay_s\treplay_wall_s\treplay_load\tbeside_records\tbeside_s\tbeside_wall_s\tbeside_load\tsnapshot_mb\tsnap_records\tsnap_s\tsnap_wall_s\tsnap_load\tsnap_beside_records\tsnap_beside_s\tsnap_beside_wall_s\tsnap_beside_load\n' >"$results"
for posts in ${sizes//,/ }; do
  dir=$work/$posts
  mkdir -p "$dir"
  "$brandpulse" dev-kafka --brokers 1 --topic "posts:$posts_partitions" --partials-topic "partials:$partials_partitions" \
    --bootstrap-file "$dir/bootstrap" </dev/null >"$dir/dev-kafka.log" 2>&1 &
  cluster_pid=$!
  for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
  export KAFKA_BROKERS
  KAFKA_BROKERS=$(cat "$dir/bootstrap")
  "$brandpulse" generate --watchlist pipelines/watchlists/nordic-spanish-telecoms.yaml \
    --format twitter-v2 --count "$posts" --seed 5 --mention-share 0.08 --rate "$rate" \
    --disorder 20s --output "$dir/firehose.jsonl"
  awk '{ print NR "\t" $0 }' "$dir/firehose.jsonl" | kcat -P -b "$KAFKA_BROKERS" -t posts -K "	"
  # a writes snapshots during its run, not at its end (as if it had crashed right after its last
  # commit): the restores below read up to --snapshot-every epochs per partition after them.
  extra_env=(BRANDPULSE_BENCH=1 KAFKA_SNAPSHOT_EVERY="$snapshot_every" BRANDPULSE_TEST_NO_FINAL_SNAPSHOT=1)
  build=$(run_timed "$dir/a" "$dir/build.log")
  extra_env=(BRANDPULSE_BENCH=1)
  # The newest snapshot of each partials partition a wrote, in MB (what a gaining member reads).
  snapshot_mb=$(grep -E 'snapshot [0-9a-f]+:[0-9]+ of partials partition' "$dir/build.log" |
    sed -E 's/.*of partials partition ([0-9]+) as of offset [0-9]+: [0-9]+ window\(s\), ([0-9]+) bytes.*/\1 \2/' |
    awk '{ last[$1] = $2 } END { for (p in last) sum += last[p]; printf "%.2f", sum / 1048576 }')
  windows=$("$brandpulse" query dump --state "$dir/a" | wc -l)
  state_mb=$(du -sm "$dir/a" | cut -f1)
  cp -r "$dir/a" "$dir/beside"
  cp -r "$dir/a" "$dir/snap-beside"
  resume_load=$(load)
  resume_wall=$(run_timed "$dir/a" "$dir/resume.log")
  grep -q 'resumed from offset' "$dir/resume.log" || { echo "cluster-restore: a did not resume from local state" >&2; exit 1; }
  read -r resume_records _ resume_s <<<"$(restored "$dir/resume.log")"
  replay_load=$(load)
  replay_wall=$(run_timed "$dir/fresh" "$dir/replay.log")
  read -r replay_records replay_bytes replay_s <<<"$(restored "$dir/replay.log")"
  partials_mb=$(echo "scale=2; $replay_bytes / 1048576" | bc)
  beside_load=$(load)
  extra_env=(BRANDPULSE_TEST_FORGET_MERGE_PARTITION=max)
  beside_wall=$(run_timed "$dir/beside" "$dir/beside.log")
  extra_env=(BRANDPULSE_BENCH=1)
  grep -q 'replaying \[[0-9]\] beside resumed' "$dir/beside.log" || { echo "cluster-restore: no replay beside resumed partitions" >&2; exit 1; }
  read -r beside_records _ beside_s <<<"$(restored "$dir/beside.log")"
  cmp -s <("$brandpulse" query dump --state "$dir/a") <("$brandpulse" query dump --state "$dir/beside") ||
    { echo "cluster-restore: the windows after a replay beside resumed partitions differ from a's" >&2; exit 1; }
  snap_load=$(load)
  extra_env=(KAFKA_SNAPSHOT_EVERY="$snapshot_every")
  snap_wall=$(run_timed "$dir/snap" "$dir/snap.log")
  grep -q 'starts from snapshot' "$dir/snap.log" || { echo "cluster-restore: the fresh instance did not start from a snapshot" >&2; exit 1; }
  read -r snap_records _ snap_s <<<"$(restored "$dir/snap.log")"
  cmp -s <("$brandpulse" query dump --state "$dir/a") <("$brandpulse" query dump --state "$dir/snap") ||
    { echo "cluster-restore: the windows after a restore from snapshots differ from a's" >&2; exit 1; }
  snap_beside_load=$(load)
  extra_env=(KAFKA_SNAPSHOT_EVERY="$snapshot_every" BRANDPULSE_TEST_FORGET_MERGE_PARTITION=max)
  snap_beside_wall=$(run_timed "$dir/snap-beside" "$dir/snap-beside.log")
  extra_env=(BRANDPULSE_BENCH=1)
  grep -q '(snapshot)' "$dir/snap-beside.log" || { echo "cluster-restore: no partition restored from its snapshot beside resumed ones" >&2; exit 1; }
  read -r snap_beside_records _ snap_beside_s <<<"$(restored "$dir/snap-beside.log")"
  cmp -s <("$brandpulse" query dump --state "$dir/a") <("$brandpulse" query dump --state "$dir/snap-beside") ||
    { echo "cluster-restore: the windows after a snapshot restore beside resumed partitions differ from a's" >&2; exit 1; }
  kill "$cluster_pid" 2>/dev/null || true
  wait "$cluster_pid" 2>/dev/null || true
  cluster_pid=
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%.2f\t%s\n' "$posts" "$state_mb" "$windows" \
    "$partials_mb" "$resume_records" "$resume_s" "$resume_wall" "$resume_load" "$replay_records" \
    "$replay_s" "$replay_wall" "$replay_load" "$beside_records" "$beside_s" "$beside_wall" \
    "$beside_load" "$snapshot_mb" "$snap_records" "$snap_s" "$snap_wall" "$snap_load" \
    "$snap_beside_records" "$snap_beside_s" "$snap_beside_wall" "$snap_beside_load" | tee -a "$results"
  echo "cluster-restore: $posts posts: built in ${build}s" >&2
done
echo "cluster-restore: $results"
column -t -s $'\t' "$results"
