# SPDX-License-Identifier: ISC
"""SIGKILL the spawner, queued and their deliveries together, 100 times at
random moments while messages with several local recipients (some through
an alias) are injected and delivered; restart each time.  In the end every
recipient has every message at least once, nothing is lost, a message
arrives twice only where a delivery was in flight at a kill (and never
more often than the kills allow), the Maildirs' indexes agree, and the
queue is empty."""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

USERS = ["u%d" % i for i in range(5)]
KILLS = 100
CONCURRENCY = 10


def scan_mail(inst, seen, got):
    """Count the messages that arrived since the last call."""
    for u in USERS:
        md = os.path.join(inst.dir, "mail", u)
        for f in files_in(md):
            key = (u, f.split("/", 1)[1].split(":")[0])
            if key in seen:
                continue
            seen.add(key)
            tok = token_of(os.path.join(md, f))
            got[(tok, u)] = got.get((tok, u), 0) + 1


def envelope(inst, qid):
    """The envelope queued goes by: exp/<qid> (aliases resolved) when there
    is one, else the head of the queue file env/<qid> (V2: its first line
    says how long it is; V1: all of it)."""
    try:
        return open(inst.queue_dir("exp", qid)).read()
    except FileNotFoundError:
        pass
    data = open(inst.queue_dir("env", qid), "rb").read()
    first = data[:data.find(b"\n")].split()
    if first[:1] == [b"V2"]:
        data = data[:int(first[1])]
    return data.decode()


def unrecorded(inst, ids, got):
    """After a kill: the (token, user) deliveries that are in the Maildir
    but have no D line in the queue -- in flight when it was killed."""
    out = set()
    for qid in os.listdir(inst.queue_dir("env")):
        tok = ids.get(qid)
        try:
            env = envelope(inst, qid).splitlines()
            state = open(inst.queue_dir("state", qid)).read().splitlines()
        except FileNotFoundError:
            state = []
        done = set()
        for line in state:
            f = line.split(" ")
            if len(f) >= 2 and f[0].isdigit() and f[1] in ("D", "S"):
                done.add(int(f[0]))
        rcpts = [l[1:].split("\t")[0] for l in env if l.startswith("R")]
        for i, a in enumerate(rcpts):
            u = a.split("@")[0]
            if i not in done and got.get((tok, u)):
                out.add((tok, u))
    return out


inst = Instance()
try:
    rnd = random.Random(int(os.environ.get("ZEST_SEED", "4141")))
    for u in USERS:
        inst.useradd(u)
    with open(os.path.join(inst.dir, "tables", "aliases"), "a") as f:
        f.write("grp u3, u4\n")
    check(inst.zest("makemap", "aliases").returncode == 0, "makemap")
    inst.set_conf("log", "stderr")
    inst.set_conf("local_concurrency", str(CONCURRENCY))
    inst.set_conf("queue_retry_min", "1s")
    inst.set_conf("queue_retry_max", "2s")

    want = {}       # token -> set of users
    ids = {}        # queue id -> token
    n = 0

    def inject_some(k):
        global n
        for _ in range(k):
            tok = "s%d" % n
            n += 1
            rc = rnd.sample(USERS[:3], rnd.randint(1, 3))
            users = set(rc)
            if rnd.random() < 0.3:
                rc.append("grp")
                users |= {"u3", "u4"}
            else:
                rc.append(rnd.choice(USERS[3:]))
                users.add(rc[-1])
            addrs = [u + "@localhost" for u in rc]
            msg = message(tok, body_lines=rnd.choice([1, 20, 400]))
            r, out, err = inst.inject("sender@example.org", addrs,
                                      msg.replace("\n", "\r\n"))
            check(r == 0, "inject %s: %r %s" % (tok, out, err))
            ids[out.split()[1]] = tok
            want[tok] = users

    inject_some(60)
    flight, seen, got = set(), set(), {}
    kills_in_flight = 0
    for k in range(KILLS):
        inject_some(5)
        inst.spawner_start()
        time.sleep(rnd.random() * 0.25)
        inst.spawner_stop(signal.SIGKILL)
        scan_mail(inst, seen, got)
        f = unrecorded(inst, ids, got)
        flight |= f
        kills_in_flight += len(f)
    inst.spawner_start()
    inst.wait_queue_empty(60)

    for u in USERS:
        d, _ = inst.dump(u)
        check(not any(m["missing"] for m in d["msgs"]), "%s: record "
              "without file" % u)
        md = os.path.join(inst.dir, "mail", u)
        check(sorted(m["file"] for m in d["msgs"]) == files_in(md),
              "%s: index and Maildir differ" % u)
    scan_mail(inst, seen, got)
    missing = [(t, u) for t, us in want.items() for u in us
               if got.get((t, u), 0) == 0]
    check(not missing, "lost: %s" % missing[:20])
    extra = [k for k in got if k[0] not in want or k[1] not in want[k[0]]]
    check(not extra, "delivered to the wrong user: %s" % extra[:20])
    dups = {k: c for k, c in got.items() if c > 1}
    unexplained = [k for k in dups if k not in flight]
    total = sum(c - 1 for c in dups.values())
    # a duplicate needs a kill between a delivery and its D line
    check(not unexplained, "duplicates not in flight at a kill: %s" %
          unexplained[:20])
    check(total <= kills_in_flight and total <= KILLS * CONCURRENCY,
          "%d duplicates from %d deliveries in flight" % (total,
                                                         kills_in_flight))
    for sub in ("env", "msg", "state", "tmp", "bounce", "exp"):
        check(not os.listdir(inst.queue_dir(sub)), "queue/%s not empty: %s"
              % (sub, os.listdir(inst.queue_dir(sub))[:5]))
    check("queue is empty" in inst.zest("queue").stdout, "zest queue")
    print("ok: %d messages, %d deliveries, %d kills, %d deliveries in flight "
          "at kills, %d duplicates (%d not seen in flight)" %
          (len(want), sum(len(u) for u in want.values()), KILLS,
           kills_in_flight, total, len(unexplained)))
finally:
    inst.cleanup()
