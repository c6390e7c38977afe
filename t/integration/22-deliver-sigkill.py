# SPDX-License-Identifier: ISC
"""SIGKILL deliver at random points, 200 times: every message that got exit
0 is there exactly once, no index record points nowhere, and the mailbox
stays usable."""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

inst = Instance()
try:
    md = inst.useradd("alice")
    rnd = random.Random(int(os.environ.get("ZEST_SEED", "4242")))
    ROUNDS = 200
    acked, killed = set(), set()
    for i in range(ROUNDS):
        tok = "k%d" % i
        # sizes from tiny to large, so kills land in every phase
        data = message(tok, body_lines=rnd.choice([1, 50, 2000, 20000])).encode()
        p = subprocess.Popen(inst.deliver_cmd("-d", "alice"), stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rnd.random() * 0.012
        try:
            # feed in two pieces so some kills land mid-input
            half = len(data) // 2
            p.stdin.write(data[:half])
            p.stdin.flush()
            time.sleep(delay / 2)
            p.stdin.write(data[half:])
            p.stdin.close()
        except BrokenPipeError:
            pass
        time.sleep(delay / 2)
        try:
            p.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = p.wait()
        if rc == 0:
            acked.add(tok)
        elif rc == -signal.SIGKILL:
            killed.add(tok)
        else:
            fail("deliver exited %d for %s" % (rc, tok))
    d, r = inst.dump("alice")
    check(not any(m["missing"] for m in d["msgs"]), "index record without file")
    seen = {}
    for m in d["msgs"]:
        t = token_of(os.path.join(md, m["file"]))
        seen[t] = seen.get(t, 0) + 1
    for t in acked:
        check(seen.get(t) == 1, "acknowledged %s present %s times" % (t, seen.get(t)))
    for t, n in seen.items():
        check(n == 1, "%s present %d times" % (t, n))
        check(t in acked or t in killed, "unknown message %s" % t)
    uids = [m["uid"] for m in d["msgs"]]
    check(uids == sorted(set(uids)), "UIDs not increasing")
    check(sorted(m["file"] for m in d["msgs"]) == files_in(md), "index vs Maildir")
    # still usable: a clean delivery gets the next UID
    r = inst.deliver(message("after"), "-d", "alice")
    check(r.returncode == 0, "delivery after the kills")
    d2, _ = inst.dump("alice")
    check(d2["msgs"][-1]["uid"] > uids[-1] if uids else True, "UID after kills")
    print("ok: %d acknowledged, %d killed (%d of those delivered)" %
          (len(acked), len(killed), len([t for t in killed if t in seen])))
finally:
    inst.cleanup()
