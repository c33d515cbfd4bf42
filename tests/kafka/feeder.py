#!/usr/bin/env python3
"""The cluster fault test's feeder: produces every post of an input file onto a topic with kcat,
keyed by line number (1, 2, ...), as a budget file allows, and makes sure every post arrives.

    feeder.py --input FILE --budget FILE --rate N --brokers LIST --topic NAME --log FILE

kcat (an idempotent producer) can give up on a batch under injected Produce errors, a broker
going down and a delayed Produce: it prints "Delivery failed for message" and carries on, and
the posts of that batch never reach the topic (a bare-chroot run of stop 23 lost 6, about one
batch of one partition). So the feeder checks: when kcat reports a failed delivery, every
`check_every` posts, and at the end, it reads the topic's keys back (kcat -C) and produces again
every key that is missing in two reads two seconds apart (a key missing only in the first is
still in flight). Feeding pauses meanwhile, so a post sent again lands within seconds of event
time of where it was due: the engine's lateness sees it as a retried batch (a duplicate is
harmless; the test's reference is a file run over what is on the topic, duplicates included).
It exits 0 once every key is on the topic, 1 if some never arrived; the last line of the log is
"feeder: ..." with what was sent again.
"""
import argparse
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--budget", required=True)
parser.add_argument("--rate", type=float, required=True)
parser.add_argument("--brokers", required=True)
parser.add_argument("--topic", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--check-every", type=int, default=2000)
args = parser.parse_args()

with open(args.input, "rb") as source:  # bytes: some posts are malformed on purpose
    lines = source.read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
log = open(args.log, "ab", buffering=0)
log_read = open(args.log, "rb")
# socket.timeout.ms 3 s (the client's own request timeout; request.timeout.ms is only the ack
# timeout the broker is asked for): a Produce delayed 5 s by dev-kafka times out and is sent
# again; the mock keeps both copies (it does not de-duplicate the idempotent producer).
KCAT_PRODUCER = ["kcat", "-P", "-b", args.brokers, "-t", args.topic, "-K", "\t",
                 "-X", "enable.idempotence=true", "-X", "socket.timeout.ms=3000",
                 "-X", "message.timeout.ms=120000", "-X", "linger.ms=20",
                 "-X", "batch.num.messages=100"]
kcat = subprocess.Popen(KCAT_PRODUCER, stdin=subprocess.PIPE, stdout=log, stderr=log)
kcat_restarts = 0


def note(text):
    log.write(("feeder %s: %s\n" % (time.strftime("%H:%M:%S", time.gmtime()), text)).encode())


def allowed():
    try:
        with open(args.budget) as budget:
            return int(budget.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def failed_deliveries():  # new "Delivery failed" lines kcat wrote since the last call
    return log_read.read().count(b"Delivery failed for message")


def keys_on_topic():  # the set of keys on the topic, or None when kcat could not read it
    try:
        done = subprocess.run(
            ["kcat", "-C", "-b", args.brokers, "-t", args.topic, "-o", "beginning", "-e", "-q",
             "-f", "%k\n"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    return {int(key) for key in done.stdout.split() if key.isdigit()}


resent = []


def resend(keys):
    """Produces the posts of `keys` with a kcat of their own, which exits once they are out."""
    again = subprocess.Popen(KCAT_PRODUCER, stdin=subprocess.PIPE, stdout=log, stderr=log)
    again.stdin.write(b"".join(b"%d\t" % key + lines[key - 1] + b"\n" for key in keys))
    again.stdin.close()
    try:
        again.wait(timeout=150)
    except subprocess.TimeoutExpired:
        again.kill()
    resent.extend(keys)


def check(upto, why, in_flight=True):
    """Produces again the keys 1..upto missing from the topic (from two reads 2 s apart while
    posts may be in flight). True when none was missing."""
    keys = keys_on_topic()
    if keys is None:
        note("could not read the topic back (%s)" % why)
        return False
    missing = [key for key in range(1, upto + 1) if key not in keys]
    if not missing:
        return True
    if in_flight:
        time.sleep(2)
        keys = keys_on_topic()
        if keys is None:
            note("could not read the topic back (%s)" % why)
            return False
        missing = [key for key in missing if key not in keys]
        if not missing:
            return True
    note("%s: %d of the first %d posts are not on the topic; sending them again: %s" %
         (why, len(missing), upto, " ".join(map(str, missing[:50]))))
    resend(missing)
    return False


# kcat hands a line to librdkafka only after reading on past it, so the last lines written wait in
# kcat until more input comes (or the end; seen: the last two): checks while feeding leave out
# the last flush's 50 posts, and the end check runs after kcat has exited.
def write(data, flush=False):
    """To the feeding kcat; one that died (a fatal producer error) is replaced, and the posts it
    held are found missing by a later check."""
    global kcat, kcat_restarts
    try:
        kcat.stdin.write(data)
        if flush:
            kcat.stdin.flush()
    except BrokenPipeError:
        note("kcat exited %s while feeding; starting another" % kcat.wait())
        kcat_restarts += 1
        kcat = subprocess.Popen(KCAT_PRODUCER, stdin=subprocess.PIPE, stdout=log, stderr=log)


sent = 0
failures = 0
for line in lines:
    while sent >= allowed():
        time.sleep(0.05)
    sent += 1
    write(b"%d\t" % sent + line + b"\n", flush=sent % 50 == 0)
    if sent % 50 == 0:
        time.sleep(50 / args.rate)
        new_failures = failed_deliveries()
        if new_failures:
            failures += new_failures
            time.sleep(1)  # the failed batch's neighbours settle
            check(sent - 50, "kcat reported %d failed deliveries" % new_failures)
        elif sent % args.check_every == 0:
            check(sent - 250, "check after %d posts" % sent)
write(b"", flush=True)
try:
    kcat.stdin.close()
except BrokenPipeError:
    pass
status = kcat.wait()  # it exits once every post it read is delivered or failed
complete = False
for _ in range(10):
    failures += failed_deliveries()
    if check(sent, "at the end", in_flight=False):
        complete = True
        break
failures += failed_deliveries()
note("%d posts fed; kcat reported %d failed deliveries, was restarted %d times and exited %d; %d post(s) sent again%s; %s" %
     (sent, failures, kcat_restarts, status, len(resent), (": " + " ".join(map(str, resent[:50]))) if resent else "",
      "every post is on the topic" if complete else "SOME POSTS NEVER ARRIVED"))
sys.exit(0 if complete else 1)
