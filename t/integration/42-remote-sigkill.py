# SPDX-License-Identifier: ISC
"""SIGKILL of queued, remote and the spawner in the middle of remote
delivery, 100 times: every message reaches the other instance at least
once, nothing is lost, and the queue ends empty."""
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

for prog in ("smtpd", "queue-inject", "queued", "spawner", "remote", "listen"):
    if not os.path.exists(os.path.join(BIN, prog)):
        skip("%s not built" % prog)

BASE = 42000 + (os.getpid() % 150) * 40
a = Instance(domain="a.test")
b = Instance(port_base=BASE, domain="b.test")
try:
    a.useradd("alice")
    carol = b.useradd("carol")
    r = b.zest("start")
    check(r.returncode == 0, "start b: %s" % r.stderr)
    with open(os.path.join(a.dir, "tables", "routes"), "a") as f:
        f.write("b.test [127.0.0.1]:%d\n" % (BASE + 25))
    check(a.zest("makemap", "routes").returncode == 0, "makemap")
    # the sanitizer build starts slowly: fewer, longer windows there
    N, KILLS, SPAN = (150, 30, (0.3, 0.7)) if ASAN else (300, 100, (0.05, 0.3))

    def inject(first, count):
        for i in range(first, first + count):
            rc, ans, err = a.inject("alice@a.test", ["carol@b.test"],
                                    "Subject: test rk%d\r\n\r\nbody %d\r\n" % (i, i))
            check(rc == 0 and ans.startswith("ok "), "inject: %s %s" % (ans, err))

    inject(0, N)
    rnd = random.Random(int(os.environ.get("ZEST_SEED", "7")))
    kills = 0
    for k in range(KILLS):
        a.spawner_start()
        time.sleep(SPAN[0] + rnd.random() * SPAN[1])
        a.spawner_stop(signal.SIGKILL)   # the whole group: queued, remote too
        kills += 1
        if not a.queue_ids():   # keep it busy until every kill is done
            inject(N, 50)
            N += 50
    during = len(b.maildir_msgs("carol"))
    check(during > 0, "nothing was delivered while being killed")
    a.spawner_start()
    a.wait_queue_empty(timeout=120)
    a.spawner_stop()
    seen = {}
    for data in b.maildir_msgs("carol"):
        m = re.search(rb"Subject: test (rk\d+)", data)
        check(m is not None, "unknown message at carol")
        seen[m.group(1).decode()] = seen.get(m.group(1).decode(), 0) + 1
    missing = [i for i in range(N) if "rk%d" % i not in seen]
    check(not missing, "lost: %s" % missing)
    dups = sum(n - 1 for n in seen.values())
    # at most the messages in flight at a kill can come twice
    check(dups <= kills * 4, "%d duplicates for %d kills" % (dups, kills))
    print("ok: %d kills, %d delivered during them, %d duplicates" %
          (kills, during, dups))
finally:
    b.zest("stop")
    a.cleanup()
    b.cleanup()
