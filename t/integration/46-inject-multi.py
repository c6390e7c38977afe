# SPDX-License-Identifier: ISC
"""queue-inject -m (many messages in one run) and smtpd's long-lived
queue-inject child.

1. queue-inject -m driven directly: messages answered one by one, each
   durable (its queue file in env/) before the next is sent, distinct ids;
   the abort record A drops a message and leaves nothing behind; EOF,
   a malformed envelope, a malformed chunk line and the size limit end
   the run with their answer and queue nothing; A without -m is refused
   as before.
2. smtpd under `zest start`, driven by smtplib: 20 messages on one
   connection served by one queue-inject, RSET in the middle of BDAT, a
   message over the size limit and a connection lost in DATA keep that
   child (abort record) and leave nothing in tmp/, a SIGKILLed child is
   replaced at the next message; everything accepted is delivered exactly
   once."""
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

for prog in ("smtpd", "queue-inject", "queued", "spawner", "listen"):
    if not os.path.exists(os.path.join(BIN, prog)):
        skip("%s not built" % prog)

BASE = 24000 + (os.getpid() % 80) * 50
QI = os.path.join(BIN, "queue-inject")
LIMIT = 20000


def envelope(sender="a@example.org", rcpts=("alice@localhost",)):
    lines = ["V1", "F" + sender] + ["R%s\t\t" % r for r in rcpts]
    return ("\n".join(lines) + "\n.\n").encode()


def chunks(msg, size=1000):
    out = b""
    for i in range(0, len(msg), size):
        out += b"D%d\n" % len(msg[i:i + size]) + msg[i:i + size]
    return out


class Multi:
    """queue-inject -m with pipes on stdin and stdout."""

    def __init__(self, inst, *extra):
        self.p = subprocess.Popen([QI, "-m", "-C", inst.dir] + list(extra),
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def send(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except BrokenPipeError:
            pass  # it answered early and left: the answer says why

    def answer(self):
        return self.p.stdout.readline().decode()

    def end(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        rest = self.p.stdout.read().decode()
        err = self.p.stderr.read().decode()
        return self.p.wait(timeout=30), rest, err


def tmp_files(inst):
    return os.listdir(inst.queue_dir("tmp"))


def queue_file(inst, qid):
    """(envelope text, message) of the V2 queue file env/<qid>."""
    data = open(inst.queue_dir("env", qid), "rb").read()
    first = data[:data.index(b"\n")].split()
    check(first[0] == b"V2" and len(first) == 2, "V2 file: %r" % data[:40])
    n = int(first[1])
    return data[:n].decode(), data[n:]


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        time.sleep(0.02)
    return cond()


def queued(inst):
    """The ids in env/ (none before queue-inject first made it)."""
    d = inst.queue_dir("env")
    return os.listdir(d) if os.path.isdir(d) else []


def part1(inst):
    inst.set_conf("message_size_limit", str(LIMIT))
    before = set(queued(inst))
    q = Multi(inst)
    ids = []
    for i in range(3):
        msg = b"Subject: m%d\r\n\r\n" % i + b"x" * (1500 * i) + b"\r\n"
        q.send(envelope() + chunks(msg) + b"E\n")
        a = q.answer()
        check(a.startswith("ok ") and a.endswith("\n"), "message %d: %r" %
              (i, a))
        qid = a[3:-1]
        # durable before the next one is even sent
        check(os.path.exists(inst.queue_dir("env", qid)),
              "message %d (%s) not in env/" % (i, qid))
        env, stored = queue_file(inst, qid)
        check(stored == msg, "message %d stored differently" % i)
        check("\nI%s\n" % qid in env and "\nRalice@localhost\t\t\n" in env,
              "envelope %d: %r" % (i, env))
        ids.append(qid)
    check(len(set(ids)) == 3, "ids not distinct: %r" % ids)
    check(q.p.poll() is None, "queue-inject -m left after three messages")
    # an aborted message in the middle: nothing kept, the next is queued
    q.send(envelope() + chunks(b"Subject: dropped\r\n\r\n" + b"y" * 3000))
    check(wait_for(lambda: len(tmp_files(inst)) == 1), "no tmp file while "
          "a message is being written: %r" % tmp_files(inst))
    q.send(b"A\n")
    a = q.answer()
    check(a == "aborted\n", "abort answered %r" % a)
    check(tmp_files(inst) == [], "abort left %r" % tmp_files(inst))
    q.send(envelope() + chunks(b"Subject: after abort\r\n\r\nz\r\n") + b"E\n")
    a = q.answer()
    check(a.startswith("ok "), "after the abort: %r" % a)
    ids.append(a[3:-1])
    # an abort right after the envelope, before any chunk
    q.send(envelope() + b"A\n")
    check(q.answer() == "aborted\n", "abort without chunks")
    rc, rest, err = q.end()
    check(rc == 0 and rest == "", "EOF between messages: rc %d, %r %s" %
          (rc, rest, err))
    now = set(queued(inst)) - before
    check(now == set(ids), "queued %r, answered %r" % (sorted(now), ids))
    check(tmp_files(inst) == [], "tmp/ not empty: %r" % tmp_files(inst))

    # EOF in the middle of a message (after one good one): nothing queued
    before = set(queued(inst))
    q = Multi(inst)
    q.send(envelope() + chunks(b"Subject: good\r\n\r\n") + b"E\n")
    good = q.answer()
    check(good.startswith("ok "), "good before EOF: %r" % good)
    q.send(envelope() + b"D100\n" + b"w" * 50)
    rc, rest, err = q.end()
    check(rc == 1 and rest == "554 5.6.0 malformed input\n",
          "EOF mid-message: rc %d %r" % (rc, rest))
    check(set(queued(inst)) - before == {good[3:-1]},
          "EOF mid-message queued something")
    check(tmp_files(inst) == [], "EOF mid-message left %r" % tmp_files(inst))

    # EOF before any message: exit 0, no answer
    rc, rest, err = Multi(inst).end()
    check(rc == 0 and rest == "", "empty run: rc %d %r" % (rc, rest))

    # malformed envelope after a good message: its answer, then the end
    before = set(queued(inst))
    q = Multi(inst)
    q.send(envelope() + chunks(b"Subject: good\r\n\r\n") + b"E\n")
    check(q.answer().startswith("ok "), "good before malformed")
    q.send(b"V1\nFa@example.org\nQwhat\n.\n")
    check(q.answer() == "554 5.6.0 malformed input\n", "malformed envelope")
    rc, rest, err = q.end()
    check(rc == 1 and rest == "", "after a malformed envelope: rc %d %r" %
          (rc, rest))
    check(len(set(queued(inst)) - before) == 1, "malformed: queued")

    # a malformed chunk line
    q = Multi(inst)
    q.send(envelope() + b"Dx\n")
    check(q.answer() == "554 5.6.0 malformed input\n", "malformed chunk")
    check(q.end()[0] == 1, "malformed chunk: exit status")

    # the size limit holds for each message
    before = set(queued(inst))
    q = Multi(inst)
    ok = []
    for n in (LIMIT - 100, LIMIT - 100):
        q.send(envelope() + chunks(b"S" * n, 4096) + b"E\n")
        a = q.answer()
        check(a.startswith("ok "), "a message under the limit: %r" % a)
        ok.append(a[3:-1])
    q.send(envelope() + chunks(b"B" * (LIMIT + 10), 4096) + b"E\n")
    check(q.answer() == "552 5.3.4 message too big\n", "too big")
    rc, rest, err = q.end()
    check(rc == 1, "too big: exit status %d" % rc)
    check(set(queued(inst)) - before == set(ok), "too big: queued")
    check(tmp_files(inst) == [], "too big left %r" % tmp_files(inst))

    # without -m, nothing changed: A is no record, one message per run
    data = envelope() + chunks(b"Subject: one\r\n\r\n")
    r = subprocess.run([QI, "-C", inst.dir], input=data + b"A\n",
                       capture_output=True)
    check(r.returncode == 1 and r.stdout == b"554 5.6.0 malformed input\n",
          "A without -m: %d %r" % (r.returncode, r.stdout))
    r = subprocess.run([QI, "-C", inst.dir], input=b"", capture_output=True)
    check(r.returncode == 1 and r.stdout == b"554 5.6.0 malformed input\n",
          "empty input without -m: %d %r" % (r.returncode, r.stdout))
    rc, answer, err = inst.inject("a@example.org", ["alice@localhost"],
                                  b"Subject: single\r\n\r\n")
    check(rc == 0 and answer.startswith("ok "), "single: %d %r" % (rc, answer))
    check(tmp_files(inst) == [], "tmp/ not empty: %r" % tmp_files(inst))
    inst.set_conf("message_size_limit", "10M")
    print("ok: queue-inject -m: %d messages queued, abort, EOF, malformed, "
          "size limit" % (len(ids) + len(ok) + 3))


def children(inst):
    """The queue-inject processes of this instance: {pid: state}."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
            cmd = open("/proc/%s/cmdline" % p, "rb").read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        if comm == "queue-inject" and inst.dir.encode() in cmd:
            out[int(p)] = st[st.rindex(")") + 2]
    return out


def live(inst):
    return sorted(p for p, s in children(inst).items() if s != "Z")


def subject(m):
    for line in m.split(b"\n"):
        if line.startswith(b"Subject: "):
            return line[9:].strip().decode()
    return None


def part2(inst):
    inst.set_conf("message_size_limit", str(LIMIT))
    inst.set_conf("smtpd_timeout", "20s")
    inst.set_conf("log", "stderr")
    r = inst.zest("start")
    check(r.returncode == 0, "zest start: %s %s" % (r.stdout, r.stderr))
    sent = []
    pids = set()

    def msg(tag):
        return ("From: a@example.org\r\nTo: bench1@localhost\r\n"
                "Subject: %s\r\n\r\nbody of %s\r\n" % (tag, tag)).encode()

    def send(s, tag):
        s.sendmail("a@example.org", ["bench1@localhost"], msg(tag))
        sent.append(tag)
        pids.update(live(inst))

    s = smtplib.SMTP("127.0.0.1", BASE + 25, timeout=30)
    s.ehlo("client.example")
    for i in range(20):
        send(s, "m%d" % i)
    check(len(pids) == 1, "20 messages served by %d queue-injects: %r" %
          (len(pids), pids))
    child = pids.pop()

    # RSET in the middle of BDAT: the message is dropped, the child stays
    s.mail("a@example.org")
    s.rcpt("bench1@localhost")
    chunk = b"Subject: dropped\r\n\r\n" + b"x" * 3000
    s.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    code, text = s.getreply()
    check(code == 250, "BDAT chunk: %d %r" % (code, text))
    check(wait_for(lambda: len(tmp_files(inst)) == 1),
          "no tmp file during BDAT: %r" % tmp_files(inst))
    code, text = s.docmd("RSET")
    check(code == 250, "RSET: %d %r" % (code, text))
    check(tmp_files(inst) == [], "RSET mid-BDAT left %r" % tmp_files(inst))
    check(live(inst) == [child], "after RSET: %r, was %d" % (live(inst),
                                                             child))
    send(s, "after-rset")
    # over the size limit: 552, the child stays
    # (no SIZE= on MAIL, which would refuse it before the data)
    s.mail("a@example.org")
    s.rcpt("bench1@localhost")
    code, text = s.data(b"Subject: big\r\n\r\n" +
                        (b"b" * 998 + b"\r\n") * (LIMIT // 1000 + 2))
    check(code == 552, "too big: %d %r" % (code, text))
    check(tmp_files(inst) == [], "too big left %r" % tmp_files(inst))
    send(s, "after-big")
    check(live(inst) == [child], "after 552: %r, was %d" % (live(inst),
                                                           child))

    # SIGKILL between messages: the next one gets a new child
    os.kill(child, signal.SIGKILL)
    deadline = time.time() + 10
    while child in live(inst) and time.time() < deadline:
        time.sleep(0.01)
    check(child not in live(inst), "killed child still running")
    send(s, "after-kill")
    now = live(inst)
    check(len(now) == 1 and now[0] != child, "after the kill: %r" % now)
    child = now[0]
    send(s, "after-kill-2")
    check(live(inst) == [child], "second after the kill: %r" % live(inst))
    s.quit()

    # a connection lost in the middle of DATA: nothing left behind
    c = socket.create_connection(("127.0.0.1", BASE + 25), timeout=30)
    f = c.makefile("rb")
    f.readline()
    c.sendall(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n"
              b"RCPT TO:<bench1@localhost>\r\nDATA\r\n")
    while not f.readline().startswith(b"354"):
        pass
    # past smtpd's 16 KB buffer (a fresh child gets the envelope only
    # with the first data) and below LIMIT, so queue-inject is writing it
    c.sendall(b"Subject: lost\r\n\r\n" + (b"l" * 98 + b"\r\n") * 175)
    check(wait_for(lambda: len(tmp_files(inst)) == 1),
          "no tmp file during DATA: %r" % tmp_files(inst))
    f.close()
    c.close()
    check(wait_for(lambda: tmp_files(inst) == []),
          "lost connection left %r" % tmp_files(inst))

    # a new connection after all that is served
    with smtplib.SMTP("127.0.0.1", BASE + 25, timeout=30) as s2:
        send(s2, "last")

    # everything accepted delivered exactly once, nothing else
    md = os.path.join(inst.dir, "mail", "bench1")
    deadline = time.time() + 60
    while time.time() < deadline:
        got = inst.maildir_msgs("bench1")
        if len(got) >= len(sent) and not queued(inst):
            break
        time.sleep(0.1)
    time.sleep(0.5)
    got = sorted(subject(m) for m in inst.maildir_msgs("bench1"))
    check(got == sorted(sent), "delivered %r\nsent %r" % (got, sorted(sent)))
    r = inst.zest("stop")
    check(r.returncode == 0, "zest stop: %s" % r.stderr)
    deadline = time.time() + 10
    while children(inst) and time.time() < deadline:
        time.sleep(0.05)
    check(not children(inst), "queue-inject left after stop: %r" %
          children(inst))
    print("ok: smtpd: %d messages delivered once, one child for 20, abort "
          "on RSET/552/lost connection, new child after SIGKILL" % len(sent))


inst = Instance(port_base=BASE)
try:
    inst.useradd("alice")
    inst.useradd("bench1")
    part1(inst)
    # part 1 left messages in the queue for alice: start with it empty
    for d in ("env", "msg"):
        for n in (os.listdir(inst.queue_dir(d)) if
                  os.path.isdir(inst.queue_dir(d)) else []):
            os.unlink(inst.queue_dir(d, n))
    part2(inst)
finally:
    inst.zest("stop")
    inst.cleanup()
