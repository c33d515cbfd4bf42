#!/usr/bin/env python3
"""Posts for tests/kafka/inquiry-test.sh: customers ask the brands of inquiry-watchlist.yaml
questions and complaints (replying to a brand handle, or naming it with '@'), the brands'
profiles answer some of them (to the post, or only to its author; within the rule's 10 minutes
or after), and plain mentions keep every brand's windows busy. JSON lines in event-time order
with at most 8 s of disorder (the pipelines allow 30 s). Deterministic for a seed.

  inquiry-posts.py COUNT SEED > posts.jsonl
"""
import json
import random
import sys

count, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
t0 = 1767225600000  # 2026-01-01T00:00:00Z
brands = [  # (term, handle customers address, handles that answer)
    ("telenor", "telenor_norge", ["telenor_norge", "TelenorSupport"]),
    ("telia", "telia_norge", ["telia_norge"]),
    ("movistar", "movistar_es", ["movistar_es", "MovistarAyuda"]),
    ("vodafone", "vodafone_es", ["vodafone_es"]),
]
questions = ["why is my fiber down?", "when will the outage end?", "can you help me?",
             "still waiting for my refund", "the app is not working", "is there 5G here?"]
posts = []
replied = {}  # (brand term, customer) -> times of the brand's replies to them
time = t0
serial = 0
while len(posts) < count:
    time += rng.randint(500, 4000)
    serial += 1
    term, handle, answerers = rng.choice(brands)
    customer = f"user{rng.randint(1, 400)}"
    roll = rng.random()
    if roll < 0.45:
        posts.append({"id": f"m{serial}", "ts": time, "author": customer,
                      "text": f"{term} news number {serial}"})
        continue
    question = rng.choice(questions)
    post_id = f"q{serial}"
    if any(0 <= other - time < 10000 for other in replied.get((term, customer), [])):
        # The brand replies to this customer within the disorder after this question: one
        # process would close it or not depending on read order (docs/cluster.md).
        posts.append({"id": f"m{serial}", "ts": time, "author": customer,
                      "text": f"{term} news number {serial}"})
        continue
    if roll < 0.75:
        posts.append({"id": post_id, "ts": time, "author": customer, "text": question,
                      "reply_to": handle})
    else:
        posts.append({"id": post_id, "ts": time, "author": customer,
                      "text": f"@{handle} {term}: {question}"})
    if rng.random() < 0.65:  # answered, maybe late (the rule's `within` is 10 minutes)
        delay = rng.choice([rng.randint(20, 540), rng.randint(20, 540), rng.randint(660, 1800)])
        # A brand's replies to one customer are more than the disorder apart: one process
        # applies them in read order, a cluster's merger in event-time order (docs/cluster.md).
        answer_ms = time + delay * 1000
        while any(abs(answer_ms - other) < 10000 for other in replied.get((term, customer), [])):
            answer_ms += 10000
        replied.setdefault((term, customer), []).append(answer_ms)
        answer = {"id": f"r{serial}", "ts": answer_ms, "author": rng.choice(answerers),
                  "text": "sorry, we are looking at it", "reply_to": customer}
        if rng.random() < 0.7:
            answer["reply_to_post"] = post_id
        posts.append(answer)
posts = posts[:count]
# Disorder: each post is written at its event time plus up to 8 s.
for post in sorted(posts, key=lambda post: (post["ts"] + rng.randint(0, 8000), post["id"])):
    print(json.dumps(post, separators=(",", ":")))
