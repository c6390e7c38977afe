# SPDX-License-Identifier: ISC
"""queue-inject killed around its commit point.  A message is one file,
written as tmp/<id>.new, fsynced, renamed to env/<id> (the commit point)
and env/ fsynced before "ok".  SIGKILL at the entry of each of those
system calls (strace's fault injection), then at random moments in a run
of many messages: every env/<id> there is is whole (a V2 file whose
envelope parses and whose message is the one sent, byte for byte), every
message answered "ok" is there, a message killed before its rename is not
in env/ (only its tmp/ file, which start-up removes when old), and queued
then delivers each entry exactly once."""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if shutil.which("strace") is None:
    skip("no strace")


def msg_for(tok, lines):
    return ("From: bob@localhost\r\nTo: alice@localhost\r\n"
            "Subject: test %s\r\n\r\n" % tok +
            "".join("line %d of %s\r\n" % (i, tok) for i in range(lines))
            ).encode()


def entries(inst):
    d = inst.queue_dir("env")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def check_entry(inst, qid, sent):
    """env/<qid> is a whole V2 file holding one of the messages sent;
    returns its token."""
    data = open(inst.queue_dir("env", qid), "rb").read()
    first = data[:data.find(b"\n")].split()
    check(len(first) == 2 and first[0] == b"V2", "%s: first line %r" %
          (qid, data[:30]))
    n = int(first[1])
    env, msg = data[:n].decode(), data[n:]
    check(env.endswith("\n") and "\nI%s\n" % qid in env and
          "\nRalice@localhost\t\t\n" in env, "%s: envelope %r" % (qid, env))
    m = re.search(rb"^Subject: test (\S+)\r$", msg, re.M)
    check(m is not None, "%s: no token in %r" % (qid, msg[:200]))
    tok = m.group(1).decode()
    check(sent.get(tok) == msg, "%s: message %s cut or changed" % (qid, tok))
    return tok


def run_killed(inst, toks, sent, strace_args=None, kill_after=None):
    """Feed the messages of toks to one queue-inject -m; it is killed by
    strace's injection or after kill_after seconds.  Returns the ids
    answered ok."""
    data = b""
    for tok in toks:
        data += queue_input("bob@localhost", ["alice@localhost"], sent[tok])
    cmd = [os.path.join(BIN, "queue-inject"), "-C", inst.dir, "-m"]
    if strace_args:
        cmd = ["strace", "-f", "-qq", "-o", "/dev/null"] + strace_args + cmd
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    if kill_after is not None:
        def feed():
            try:
                p.stdin.write(data)
                p.stdin.close()
            except BrokenPipeError:
                pass
        import threading
        t = threading.Thread(target=feed)
        t.start()
        time.sleep(kill_after)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out = p.stdout.read()
        p.wait()
        t.join()
    else:
        out, _ = p.communicate(data, timeout=60)
    return [l.split()[1] for l in out.decode().splitlines()
            if l.startswith("ok ")]


import re  # noqa: E402

inst = Instance()
try:
    inst.useradd("alice")
    sent, ok_ids = {}, set()
    n = 0

    def new_toks(k, rnd=None):
        global n
        out = []
        for _ in range(k):
            tok = "c%d" % n
            n += 1
            sent[tok] = msg_for(tok, rnd.choice([1, 30, 3000]) if rnd else 5)
            out.append(tok)
        return out

    # --- at each step of the commit, for the first and the second message
    cases = [("fsync", 1, 0), ("renameat", 1, 0), ("fsync", 2, 1),
             ("fsync", 3, 1), ("renameat", 2, 1), ("fsync", 4, 2)]
    for call, when, want in cases:
        before = entries(inst)
        toks = new_toks(3)
        got = run_killed(inst, toks, sent, ["-e", "trace=%s" % call, "-e",
                         "inject=%s:signal=SIGKILL:when=%d" % (call, when)])
        new = entries(inst) - before
        check(len(new) == want, "killed at %s #%d: %d new entries, not %d" %
              (call, when, len(new), want))
        # "ok" only once env/ was fsynced: at most the entries before
        check(len(got) == (when - 1) // 2 if call == "fsync" else
              len(got) == when - 1, "killed at %s #%d: answers %r" %
              (call, when, got))
        check(set(got) <= new, "answered but missing: %r" % got)
        for qid in new:
            check(check_entry(inst, qid, sent) == toks[len(got)] or
                  qid in got, "%s: not the message in hand" % qid)
        left = os.listdir(inst.queue_dir("tmp"))
        check(len(left) == (0 if len(new) > len(got) else 1),
              "tmp/ after a kill at %s #%d: %r" % (call, when, left))
        for f in left:      # what start-up would remove a day later
            os.unlink(inst.queue_dir("tmp", f))
        ok_ids |= set(got)

    # --- at random moments
    rnd = random.Random(int(os.environ.get("ZEST_SEED", "4444")))
    for _ in range(25):
        toks = new_toks(20, rnd)
        got = run_killed(inst, toks, sent, kill_after=rnd.random() * 0.3)
        ok_ids |= set(got)
    have = entries(inst)
    check(ok_ids <= have, "answered ok but not queued: %r" %
          sorted(ok_ids - have)[:5])
    toks = {}
    for qid in have:
        tok = check_entry(inst, qid, sent)
        check(tok not in toks.values(), "%s queued twice" % tok)
        toks[qid] = tok
    check(all(f.endswith(".new") for f in os.listdir(inst.queue_dir("tmp"))),
          "tmp/: %r" % os.listdir(inst.queue_dir("tmp")))

    # --- queued delivers each entry once
    inst.spawner_start()
    inst.wait_queue_empty(120)
    inst.spawner_stop()
    got = {}
    for m in inst.maildir_msgs("alice"):
        t = re.search(rb"^Subject: test (\S+)$", m, re.M)
        check(t is not None, "a message without token")
        got[t.group(1).decode()] = got.get(t.group(1).decode(), 0) + 1
    check(sorted(got) == sorted(toks.values()) and
          set(got.values()) == {1}, "delivered %d of %d entries, or twice" %
          (len(got), len(toks)))
    print("ok: %d messages sent, %d answered ok, %d queued whole, delivered "
          "once each" % (len(sent), len(ok_ids), len(have)))
finally:
    inst.cleanup()
