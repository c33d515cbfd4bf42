#!/usr/bin/env bash
# bench/alert-latency.sh: ingest → alert latency (issue 12). Feeds `brandpulse run` through stdin
# at a fixed rate (default 100,000 posts/s) and measures, for every alert, the time from when the
# engine read its newest post (the alert's newest_post_ingest_time) to
#   - emitted_at: when the rule made it (in the epoch's commit), and
#   - arrival: when a real webhook receiver (tests/webhook_receiver_main.cc, --time-log) got it —
#     the alert leaving the sink.
# Two rules fire all along: viral_post with a reach bound (one post → one alert, fired when the
# post is read) and threshold over 1 s event-time windows (fired when the watermark closes the
# window; event time runs 100x faster than the wall clock here, so window waits are short).
#
#   bash bench/alert-latency.sh [--rate N] [--seconds S] [--workers W] [--build DIR] [--out DIR]
#                               [--unpaced]
# --unpaced feeds the same input with `cat` (no pacing): the engine's own limit, in posts/s.
# The load average before and after and the engine's CPU time (/usr/bin/time) are printed too.
#
# Needs a built tree (brandpulse and tests/webhook_receiver). Prints the figures; the numbers in
# bench/RESULTS.md ("Alert latency") come from this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
rate=100000
seconds=10
workers=1
build="$root/build"
out=""
unpaced=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --unpaced) unpaced=1; shift ;;
    *) echo "alert-latency.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
out="${out:-$build/bench/alert-latency}"
brandpulse="$build/brandpulse"
receiver="$build/tests/webhook_receiver"
for program in "$brandpulse" "$receiver"; do
  [ -x "$program" ] || { echo "alert-latency.sh: $program is not built" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"
posts=$(( rate * seconds ))
port=$(( 30000 + $$ % 20000 ))

python3 - "$out" "$posts" <<'EOF'
import json, sys
out, posts = sys.argv[1], int(sys.argv[2])
brands = [f"brand{i}" for i in range(20)]
with open(f"{out}/watchlist.yaml", "w") as f:
    f.write("brands:\n")
    for b in brands:
        f.write(f"  - {{id: {b}, name: {b.capitalize()}, terms: [{b}]}}\n")
base = 1767225600000
with open(f"{out}/input.jsonl", "w") as f:
    for i in range(posts):
        # brand0 takes 10% of the posts (about 100 per 1 s event-time window: threshold fires);
        # one post in 1000 comes from an author with 5 million followers (viral_post fires).
        brand = brands[0] if i % 10 == 0 else brands[1 + i % 19]
        followers = 5000000 if i % 1000 == 7 else 100
        f.write(json.dumps({"id": f"p{i}", "ts": base + i, "author": f"u{i % 5000}",
                            "followers": followers, "text": f"{brand} news number {i}"}) + "\n")
EOF

cat > "$out/pipeline.yaml" <<EOF
name: alert-latency
source: {type: stdin}
decode:
  format: json
  fields: {id: /id, text: /text, author_id: /author, author_handle: /author, event_time: /ts,
           author_followers: /followers}
watchlist: watchlist.yaml
workers: $workers
batch_records: 1024
state:
  directory: state
  commit_every_records: 10000
  commit_interval: 100ms
time: {max_out_of_orderness: 100ms, allowed_lateness: 0s}
windows:
  - {name: 1s, size: 1s}
alerts:
  - {name: loud, type: threshold, window: 1s, brands: [brand0], above: 90, evidence: 1}
  - {name: star, type: viral_post, reach: 1000000, evidence: 1}
sinks:
  alerts:
    - {type: file, path: alerts.jsonl}
    - {type: webhook, url: "http://127.0.0.1:$port/hook", timeout: 5s}
  dead_letter: {type: file, path: dead-letter.jsonl}
EOF

"$receiver" "$port" "$out/received.log" --time-log "$out/arrivals.log" > /dev/null 2>&1 &
receiver_pid=$!
trap 'kill $receiver_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

# The pacer: `rate` lines a second in 200 slices; says how fast it really fed. Cheap on purpose
# (it shares the 2 cores with the engine): the input is read into memory and cut into slices at
# line ends before the clock starts, then each slice is one write(2) of a memoryview — no per-line
# work while feeding. A late slice is written at once (the pacer catches up, never skips).
pace() {
  python3 - "$out/input.jsonl" "$rate" <<'EOF'
import os, sys, time
path, rate = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
view = memoryview(data)
slices_per_second = 200
per_slice = max(1, rate // slices_per_second)
cuts = [0]
lines = 0
at = 0
while at < len(data):
    end = at
    for _ in range(per_slice):  # the end of the per_slice-th line from `at`
        nl = data.find(b"\n", end)
        if nl < 0:
            end = len(data)
            break
        end = nl + 1
        lines += 1
    cuts.append(end)
    at = end
fd = sys.stdout.fileno()
cpu0 = time.process_time()
start = time.monotonic()
for i in range(1, len(cuts)):
    chunk = view[cuts[i - 1]:cuts[i]]
    while chunk:
        written = os.write(fd, chunk)
        chunk = chunk[written:]
    delay = start + i / slices_per_second - time.monotonic()
    if delay > 0:
        time.sleep(delay)
elapsed = time.monotonic() - start
cpu = time.process_time() - cpu0
print(f"fed {lines} posts in {elapsed:.2f} s = {lines / elapsed:.0f} posts/s (target {rate}); "
      f"feeder CPU {cpu:.2f} s", file=sys.stderr)
EOF
}

cd "$out"
uptime > "$out/load.txt"
if [ "$unpaced" = 1 ]; then
  # The engine's own limit: the same input and pipeline through the same pipe, as fast as it reads.
  feed() { cat "$out/input.jsonl"; echo "fed $posts posts unpaced (cat)" > "$out/pacer.txt"; }
else
  feed() { pace 2> "$out/pacer.txt"; }
fi
started=$(date +%s.%N)
feed | /usr/bin/time -f "engine: %e s wall, %U s user, %S s system, %M KB max RSS" -o "$out/engine-time.txt" \
  "$brandpulse" run pipeline.yaml --fresh -q > "$out/run.txt" 2>&1
ended=$(date +%s.%N)
uptime >> "$out/load.txt"
kill $receiver_pid 2>/dev/null || true
wait $receiver_pid 2>/dev/null || true

python3 - "$out" "$started" "$ended" <<'EOF'
import datetime, json, sys
out, started, ended = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def ms(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000
alerts = {}
for line in open(f"{out}/alerts.jsonl"):
    a = json.loads(line)
    if a.get("newest_post_ingest_time"):
        alerts[a["alert_id"]] = a
arrival = {}
for line in open(f"{out}/arrivals.log"):
    t, key = line.split(" ", 1)
    arrival.setdefault(key.strip(), int(t))  # first arrival
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
print(open(f"{out}/pacer.txt").read().strip())
print(open(f"{out}/engine-time.txt").read().strip().splitlines()[-1])
print("load: " + " -> ".join(l.split("load average:")[1].strip() for l in open(f"{out}/load.txt")))
print(f"run wall time {ended - started:.2f} s; alerts {len(alerts)}; delivered to the receiver {len(arrival)}")
for rule in ("star", "loud", None):
    chosen = [a for a in alerts.values() if rule is None or a["rule"] == rule]
    if not chosen:
        continue
    made = [ms(a["emitted_at"]) - ms(a["newest_post_ingest_time"]) for a in chosen]
    left = [arrival[a["alert_id"]] - ms(a["newest_post_ingest_time"]) for a in chosen if a["alert_id"] in arrival]
    name = {"star": "viral_post (fires on read)", "loud": "threshold (fires on window close)", None: "all"}[rule]
    line = f"{name:36s} n={len(chosen):6d}  ingest→emitted p50 {pct(made, 50):7.0f} ms p99 {pct(made, 99):7.0f} ms"
    if left:
        line += f" | ingest→received p50 {pct(left, 50):7.0f} ms p99 {pct(left, 99):7.0f} ms max {max(left):7.0f} ms"
    print(line)
EOF
