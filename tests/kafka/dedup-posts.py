#!/usr/bin/env python3
"""Posts for tests/kafka/dedup-test.sh: Mastodon statuses naming the brands of
dedup-watchlist.yaml, with replays and edits. Each line is "<kafka key>\t<status JSON>".

- About 30% of the statuses are replayed once or twice (the same JSON) under their own random
  keys, so the copies sit on other partitions than the first and are read by other instances;
  a copy comes at most 3 records after the status (disorder within the pipelines' 30 s).
- About 5% are edited (the same id with `edited_at` and other text, still naming the brand),
  under the status's own key: the edit is on the partition of the version it replaces, after it
  (docs/cluster.md, "De-duplication across instances": the order a merger sees).
Deterministic for a seed.

  dedup-posts.py COUNT SEED > posts.tsv
"""
import json
import random
import sys
from datetime import datetime, timezone

count, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
t0 = 1767225600  # 2026-01-01T00:00:00Z (seconds)
brands = ["telenor", "telia", "movistar", "vodafone"]
words = ["outage", "fiber", "price", "support", "5G", "app", "roaming", "bill"]


def status(post_id, when, text, author, language, edited=False):
    created = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps({
        "id": post_id, "created_at": created, "in_reply_to_id": None, "language": language,
        "edited_at": created if edited else None, "content": f"<p>{text}</p>",
        "account": {"id": f"a{author}", "acct": f"user{author}", "followers_count": author * 7},
    }, separators=(",", ":"))


lines = []    # (position, key, json): sorted by position at the end
when = t0
for serial in range(1, count + 1):
    when += rng.randint(1, 5)
    brand = rng.choice(brands)
    author = rng.randint(1, 300)
    language = rng.choice(["en", "no", "es"])
    text = f"{brand} {rng.choice(words)} {rng.choice(words)} #{rng.choice(words)} {serial}"
    key = str(rng.randint(0, 10**6))
    first = status(str(100000 + serial), when, text, author, language)
    lines.append((serial * 10, key, first))
    roll = rng.random()
    if roll < 0.3:
        for _ in range(rng.choice([1, 1, 2])):
            lines.append((serial * 10 + rng.randint(1, 30), str(rng.randint(0, 10**6)), first))
    elif roll < 0.35:
        edit = status(str(100000 + serial), when, text + " (edited: " + rng.choice(words) + ")",
                      author, language, edited=True)
        lines.append((serial * 10 + rng.randint(1, 30), key, edit))
lines.sort(key=lambda line: line[0])
for _, key, value in lines:
    print(f"{key}\t{value}")
