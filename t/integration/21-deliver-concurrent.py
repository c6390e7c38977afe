# SPDX-License-Identifier: ISC
"""Two deliver streams and a reader at once: UIDs unique and increasing,
every message there exactly once, every reader snapshot consistent."""
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

inst = Instance()
try:
    md = inst.useradd("alice")
    N = 100 if ASAN else 300
    errors = []

    def writer(tag):
        for i in range(N):
            r = inst.deliver(message("%s%d" % (tag, i)), "-d", "alice")
            if r.returncode != 0:
                errors.append("%s%d: %d %s" % (tag, i, r.returncode, r.stderr))

    snapshots = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            d, r = inst.dump("alice", ok=False)
            if r.returncode != 0:
                errors.append("reader: %s %s" % (r.stderr, r.stdout[-300:]))
                continue
            snapshots.append([m["uid"] for m in d["msgs"]])

    ws = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b")]
    rd = threading.Thread(target=reader)
    rd.start()
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    done.set()
    rd.join()
    check(not errors, "errors: %s" % errors[:5])
    check(len(snapshots) > 3, "reader ran %d times only" % len(snapshots))
    for s in snapshots:
        check(s == sorted(set(s)), "a reader saw UIDs out of order or twice")
        check(s == list(range(1, len(s) + 1)), "a reader saw a gap")
    d, _ = inst.dump("alice")
    uids = [m["uid"] for m in d["msgs"]]
    check(uids == list(range(1, 2 * N + 1)), "final UIDs not 1..%d" % (2 * N))
    tokens = sorted(token_of(os.path.join(md, m["file"])) for m in d["msgs"])
    want = sorted(["a%d" % i for i in range(N)] + ["b%d" % i for i in range(N)])
    check(tokens == want, "messages lost or duplicated")
    check(sorted(m["file"] for m in d["msgs"]) == files_in(md), "index vs Maildir")
    print("ok: %d snapshots" % len(snapshots))
finally:
    inst.cleanup()
