#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from tests/fixtures/ and the shared sample
data (../shared/data, see fuzz/corpus/SOURCES.md). Run once by hand; the seeds are committed.
Seeds are kept small (libFuzzer mutates small inputs faster): one post or page per file."""
import hashlib
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent.parent / "shared" / "data"
CORPUS = ROOT / "fuzz" / "corpus"
LIMIT = 24 * 1024


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > LIMIT:
        return
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"seed-{name}").write_bytes(data)


def lines(path):
    return [l for l in path.read_bytes().split(b"\n") if l.strip()]


# twitter-v1: single statuses (raw and escaped), official payloads, and small array documents.
statuses = json.loads((FIXTURES / "twitter-v1" / "twitter.json").read_text())["statuses"]
escaped = json.loads((FIXTURES / "twitter-v1" / "twitterescaped.json").read_text())["statuses"]
for i in (0, 1, 7, 42, 99):
    put("decode_twitter_v1", f"twitter-json-status-{i}", json.dumps(statuses[i], ensure_ascii=False))
    put("decode_twitter_v1", f"twitterescaped-status-{i}", json.dumps(escaped[i]))
put("decode_twitter_v1", "twitter-json-array-2",
    json.dumps({"statuses": statuses[2:4], "search_metadata": {"count": 2}}, ensure_ascii=False))
for i, line in enumerate(lines(FIXTURES / "twitter-v1" / "original_format_examples.json")[:12]):
    put("decode_twitter_v1", f"original-format-{i}", line)
broken = SHARED / "twitter-v1" / "broken_and_unsupported_payloads"
if broken.is_dir():
    for path in sorted(broken.iterdir()):
        put("decode_twitter_v1", f"broken-{path.stem}", path.read_bytes())

# twitter-v2: pages (one per line) small enough, and the truncated streaming line.
for path in sorted((FIXTURES / "twitter-v2").glob("*.jsonl")):
    for i, line in enumerate(lines(path)[:4]):
        put("decode_twitter_v2", f"{path.stem}-{i}", line)

# Bluesky Jetstream: each event.
for i, line in enumerate(lines(FIXTURES / "bluesky-jetstream" / "golden_v1.jsonl")):
    put("decode_jetstream", f"golden-v1-{i}", line)

# Mastodon: the Status entity (minified) and each streaming update.
status = json.loads((FIXTURES / "mastodon" / "Status_example.json").read_text())
put("decode_mastodon", "status-example", json.dumps(status, ensure_ascii=False))
for i, line in enumerate(lines(FIXTURES / "mastodon" / "streaming_update_examples.jsonl")):
    put("decode_mastodon", f"streaming-update-{i}", line)

# Generic JSON pointers: records shaped like the harness's pointers, and JSONTestSuite documents.
generic = [
    {"id": "1", "text": "Bytter til Telenor i dag", "t": 1767225600000,
     "user": {"id": "u1", "name": "kari", "followers": 12}, "lang": "no"},
    {"id": 2, "text": "¿Movistar+ o Telefónica? 🙂", "t": "2026-01-01T00:05:00Z",
     "user": {"id": 7, "followers": "x"}, "reply": {"id": "1", "author": "u1", "/handle": "kari"}},
    {"text": "ソニーの新製品 #telenor", "t": 1767225600},
    [{"id": "a", "text": "array of records", "t": 1}, {"id": "b", "text": "second", "t": 2}],
]
for i, record in enumerate(generic):
    put("decode_json_pointers", f"generic-{i}", json.dumps(record, ensure_ascii=False))
suite = FIXTURES / "json-test-suite" / "test_parsing"
for path in sorted(suite.iterdir()):
    if path.stat().st_size <= 2048 and hashlib.sha1(path.name.encode()).digest()[0] < 64:
        put("decode_json_pointers", f"json-test-suite-{path.stem}", path.read_bytes())
