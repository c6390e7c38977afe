# SPDX-License-Identifier: ISC
"""A Maildir filled by another tool (files copied in, no cache entries):
the first FETCH or SEARCH that needs the cache makes the entries in
batches (lib/mailbox-fill), and what IMAP clients get is byte for byte
what they get from the same messages delivered by Zest (cache filled at
delivery): ENVELOPE, BODYSTRUCTURE, RFC822.SIZE, sections, SEARCH hits,
also with two sessions filling the same mailbox at once."""
import base64
import os
import re
import shutil
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if not os.access(os.path.join(BIN, "imapd"), os.X_OK):
    skip("no imapd in %s" % BIN)

BASE = 36000 + (os.getpid() % 40) * 50 + 35
PORT = BASE + 143
PW = "foreign pw"
N = 300 if not ASAN else 280    # more than one batch of 256


class Raw:
    def __init__(self, user):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=120)
        self.buf = b""
        self.n = 0
        self.readline()
        self.ok('LOGIN %s "%s"' % (user, PW))

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            check(d, "connection closed")
            self.buf += d
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def ok(self, cmd):
        """Send cmd; everything up to its tagged reply, which must be OK
        (literals read by their length)."""
        self.n += 1
        tag = b"t%d" % self.n
        self.s.sendall(tag + b" " + cmd.encode() + b"\r\n")
        out = b""
        while True:
            line = self.readline()
            if line.startswith(tag + b" "):
                check(line.startswith(tag + b" OK"), "%s: %r" % (cmd, line))
                return out
            out += line
            while line.endswith(b"}\r\n") and b"{" in line:
                k = int(line[line.rindex(b"{") + 1:-3])
                while len(self.buf) < k:
                    d = self.s.recv(65536)
                    check(d, "connection closed")
                    self.buf += d
                out += self.buf[:k]
                self.buf = self.buf[k:]
                line = self.readline()
                out += line


def msg(i):
    """Message i: plain, multipart with an attachment, or with 8-bit and
    encoded words; a few are long."""
    head = ("From: =?UTF-8?Q?Ann_=C3=A9?= <ann%d@example.org>\n"
            "To: alice@localhost, Bob <bob@example.net>\n"
            "Subject: %s %d\nDate: Tue, 3 Mar 2026 10:%02d:00 +0100\n"
            "Message-ID: <f%d@example.org>\n" %
            (i, "kestrel" if i % 50 == 7 else "note", i, i % 60, i))
    if i % 3 == 0:
        att = base64.encodebytes(bytes(range(256)) * (1 + i % 5)).decode()
        return (head + "MIME-Version: 1.0\nContent-Type: multipart/mixed; "
                "boundary=\"b%d\"\n\npre\n--b%d\nContent-Type: text/plain; "
                "charset=utf-8\n\nhello %d\n-- \nsig\n--b%d\nContent-Type: "
                "application/octet-stream; name=a%d.bin\nContent-Transfer-"
                "Encoding: base64\n\n%s--b%d--\n" %
                (i, i, i, i, i, att, i))
    lines = 4000 if i == 10 else 3 + i % 20
    return head + "\n" + "".join("line %d of message %d\n" % (k, i)
                                 for k in range(lines))


def copy_in(src, dst):
    """Another tool's copy of Maildir src's messages into dst's new/,
    owned by dst's owner."""
    st = os.stat(dst)
    for rel in files_in(src):
        to = os.path.join(dst, "new", os.path.basename(rel))
        shutil.copy2(os.path.join(src, rel), to)
        if os.getuid() == 0:
            os.chown(to, st.st_uid, st.st_gid)


FETCH = "UID FETCH 1:* (UID RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[1])"
SEARCH = 'UID SEARCH SUBJECT "kestrel"'


def main():
    inst = Instance(port_base=BASE)
    users = ["alice", "bob", "carol", "dave"]
    md = {u: inst.useradd(u, PW) for u in users}
    try:
        for i in range(N):
            r = inst.deliver(msg(i), "-d", "alice")
            check(r.returncode == 0, "deliver %d: %r" % (i, r.stderr))
        for u in users[1:]:
            copy_in(md["alice"], md[u])
        r = inst.zest("start")
        check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))

        a = Raw("alice")
        a.ok("SELECT INBOX")
        want = a.ok(FETCH)
        check(want.count(b"* ") >= N, "alice's FETCH: %d" % want.count(b"* "))
        want_search = a.ok(SEARCH)
        hits = len([i for i in range(N) if i % 50 == 7])
        check(want_search.count(b" ") == 1 + hits,
              "alice's SEARCH: %r" % want_search)

        # the first FETCH on copies makes the entries in batches
        b = Raw("bob")
        b.ok("SELECT INBOX")
        got = b.ok(FETCH)
        check(got == want, "bob's first FETCH differs from alice's")
        check(b.ok(FETCH) == want, "bob's second FETCH differs")
        check(b.ok(SEARCH) == want_search, "bob's SEARCH")
        print("ok first FETCH of copied messages: the same as delivered ones")

        # two sessions fill one mailbox at once
        res = {}

        def run(k):
            c = Raw("carol")
            c.ok("SELECT INBOX")
            res[k] = c.ok(FETCH)
            c.ok("LOGOUT")
        ts = [threading.Thread(target=run, args=(k,)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(res.get(0) == want and res.get(1) == want,
              "carol's concurrent FETCHes differ")
        print("ok two sessions filling at once")

        # a SEARCH first
        d = Raw("dave")
        d.ok("SELECT INBOX")
        check(d.ok(SEARCH) == want_search, "dave's first SEARCH")
        check(d.ok(FETCH) == want, "dave's FETCH after SEARCH")
        print("ok first SEARCH of copied messages")
        for u in users:
            dump, r = inst.dump(u)
            check(len(dump["msgs"]) == N, "%s: %d messages" %
                  (u, len(dump["msgs"])))
    finally:
        r = inst.zest("stop")
        logs = "".join(open(os.path.join(inst.dir, "log", f),
                            errors="replace").read()
                       for f in ("imap.log",)
                       if os.path.exists(os.path.join(inst.dir, "log", f)))
        inst.cleanup()
    bad = re.findall(r".*(?:AddressSanitizer|LeakSanitizer|runtime error)"
                     r".*", logs)
    check(not bad, "sanitizer reports: %r" % bad[:5])
    print("ok imap foreign fill")


main()
