# SPDX-License-Identifier: ISC
"""Several IMAP sessions on one mailbox while deliveries arrive: each
session keeps its own count of messages from the untagged EXISTS,
EXPUNGE and VANISHED responses only (as a client must), while all of them
store flags, expunge and fetch at random.  At the end every session's
count and message numbers must match the mailbox (UID FETCH 1:* and the
index dump)."""
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if not os.access(os.path.join(BIN, "imapd"), os.X_OK):
    skip("no imapd in %s" % BIN)

BASE = 36000 + (os.getpid() % 40) * 50 + 10
PORT = BASE + 143
PW = "conc pw"
ROUNDS = 60 if ASAN else 150


class Client:
    """A session that tracks the message list from untagged data."""

    def __init__(self, name, qresync):
        self.name = name
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0
        self.count = 0
        self.qresync = qresync
        self.uids = {}          # seq -> uid, as learnt from FETCH UID
        self.cmd('LOGIN alice "%s"' % PW)
        if qresync:
            self.cmd("ENABLE QRESYNC")
        self.cmd("SELECT INBOX")

    def untagged(self, ln):
        m = re.match(rb"\* (\d+) EXISTS\r\n", ln)
        if m:
            n = int(m.group(1))
            check(n >= self.count, "%s: EXISTS went down %d -> %d" %
                  (self.name, self.count, n))
            self.count = n
            return
        m = re.match(rb"\* (\d+) EXPUNGE\r\n", ln)
        if m:
            check(not self.qresync, "%s: EXPUNGE under QRESYNC" % self.name)
            seq = int(m.group(1))
            check(1 <= seq <= self.count, "%s: EXPUNGE %d of %d" %
                  (self.name, seq, self.count))
            self.count -= 1
            return
        m = re.match(rb"\* VANISHED (\(EARLIER\) )?([\d:,]+)\r\n", ln)
        if m:
            check(self.qresync and not m.group(1), "%s: %r" % (self.name, ln))
            n = 0
            for part in m.group(2).split(b","):
                a, _, b = part.partition(b":")
                n += int(b or a) - int(a) + 1
            self.count -= n
            check(self.count >= 0, "%s: VANISHED below zero" % self.name)

    def cmd(self, c):
        self.n += 1
        tag = b"c%d" % self.n
        self.s.sendall(tag + b" " + c.encode() + b"\r\n")
        out = []
        while True:
            ln = self.f.readline()
            check(ln != b"", "%s: connection closed during %s" %
                  (self.name, c))
            if ln.startswith(tag + b" "):
                check(ln.startswith(tag + b" OK"), "%s: %s: %r %r" %
                      (self.name, c, out[-3:], ln))
                return out
            self.untagged(ln)
            out.append(ln)

    def step(self, rnd):
        if self.count == 0:
            self.cmd("NOOP")
            return
        k = rnd.randint(1, self.count)
        op = rnd.random()
        if op < 0.35:
            self.cmd("STORE %d +FLAGS (\\Flagged)" % k)
        elif op < 0.45:
            self.cmd("STORE %d:* +FLAGS.SILENT (\\Deleted)" % k
                     if rnd.random() < 0.05 else
                     "STORE %d +FLAGS.SILENT (\\Deleted)" % k)
            self.cmd("EXPUNGE")
        elif op < 0.7:
            self.cmd("FETCH %d:* (UID FLAGS)" % k)
        elif op < 0.85:
            self.cmd("UID SEARCH FLAGGED")
        else:
            self.cmd("NOOP")


def main():
    inst = Instance(port_base=BASE)
    try:
        inst.useradd("alice", PW)
        for i in range(20):
            inst.deliver(message("c%d" % i, 2), "-d", "alice")
        r = inst.zest("start")
        check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))
        clients = [Client("a", False), Client("b", True), Client("c", False)]
        errors = []
        delivered = [20]

        def run(c, seed):
            rnd = random.Random(seed)
            try:
                for i in range(ROUNDS // len(clients)):
                    c.step(rnd)
            except BaseException as e:     # check() exits: keep why
                errors.append("%s: %r" % (c.name, e))

        def deliveries():
            for i in range(ROUNDS // 6):
                inst.deliver(message("late%d" % i, 2), "-d", "alice")
                delivered[0] += 1
        # the sessions and the deliveries all run at the same time
        threads = [threading.Thread(target=run, args=(c, os.getpid() + i))
                   for i, c in enumerate(clients)]
        threads.append(threading.Thread(target=deliveries))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, "sessions failed: %r" % errors)
        delivered = delivered[0]
        d, _ = inst.dump("alice")
        uids = [m["uid"] for m in d["msgs"]]
        for c in clients:
            c.cmd("NOOP")
            check(c.count == len(uids), "%s counts %d, mailbox has %d" %
                  (c.name, c.count, len(uids)))
            got = []
            for ln in c.cmd("FETCH 1:* (UID)") if uids else []:
                m = re.match(rb"\* (\d+) FETCH \(UID (\d+)\)", ln)
                check(m and int(m.group(1)) == len(got) + 1,
                      "%s: numbering %r" % (c.name, ln))
                got.append(int(m.group(2)))
            check(got == uids, "%s sees %r, index %r" % (c.name, got, uids))
        print("ok %d rounds, %d deliveries, %d messages left: every "
              "session's count and numbering right" %
              (ROUNDS, delivered, len(uids)))
    except BaseException:
        print(open(os.path.join(inst.dir, "log", "imap.log")).read()[-3000:])
        raise
    finally:
        inst.zest("stop")
        log = open(os.path.join(inst.dir, "log", "imap.log"),
                   errors="replace").read()
        inst.cleanup()
    bad = re.findall(r".*(?:AddressSanitizer|LeakSanitizer|runtime error)"
                     r".*", log)
    check(not bad, "sanitizer reports: %r" % bad[:5])


main()
