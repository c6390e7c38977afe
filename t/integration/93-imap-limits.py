# SPDX-License-Identifier: ISC
"""imapd's configurable limits (zest.conf): imap_error_limit ends the
connection with BYE after that many BAD replies, before and after the
login; imap_login_timeout and imap_timeout end an idle connection."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if not os.access(os.path.join(BIN, "imapd"), os.X_OK):
    skip("no imapd in %s" % BIN)

BASE = 38000 + (os.getpid() % 40) * 50
PORT = BASE + 143


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.f = self.s.makefile("rb")
        self.greeting = self.f.readline()

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def lines_until(self, prefix):
        out = []
        while True:
            line = self.f.readline()
            out.append(line)
            if not line or line.startswith(prefix):
                return out


inst = Instance(port_base=BASE)
try:
    inst.useradd("ann", "pw")
    inst.set_conf("imap_error_limit", "3")
    inst.set_conf("imap_login_timeout", "5s")
    inst.set_conf("imap_timeout", "10s")
    r = inst.zest("start")
    check(r.returncode == 0, "start: %s" % r.stderr)

    # before the login: two BADs answered, the third is BYE and the end
    c = Conn()
    check(c.greeting.startswith(b"* OK"), "greeting %r" % c.greeting)
    for i in range(2):
        c.cmd("a%d FROB" % i)
        out = c.lines_until(b"a%d " % i)
        check(b"BAD" in out[-1], "BAD %d: %r" % (i, out))
    c.cmd("a2 FROB")
    rest = c.f.read()
    check(b"* BYE" in rest, "no BYE at the error limit: %r" % rest)
    print("ok error limit before the login")

    # after the login: the same limit
    c = Conn()
    c.cmd("l LOGIN ann pw")
    out = c.lines_until(b"l ")
    check(out[-1].startswith(b"l OK"), "login: %r" % out)
    for i in range(2):
        c.cmd("b%d NOSUCH" % i)
        out = c.lines_until(b"b%d " % i)
        check(b"BAD" in out[-1], "BAD %d: %r" % (i, out))
    c.cmd("b2 NOSUCH")
    rest = c.f.read()
    check(b"* BYE" in rest, "no BYE after the login: %r" % rest)
    print("ok error limit after the login")

    # idle before the login: closed after about 5 s
    c = Conn()
    t0 = time.time()
    rest = c.f.read()
    took = time.time() - t0
    check(3 <= took <= 20, "pre-login timeout after %.1f s" % took)
    print("ok login timeout (%.1f s)" % took)

    # idle after the login: closed after about 10 s
    c = Conn()
    c.cmd("l LOGIN ann pw")
    c.lines_until(b"l ")
    t0 = time.time()
    rest = c.f.read()
    took = time.time() - t0
    check(8 <= took <= 30, "session timeout after %.1f s" % took)
    print("ok session timeout (%.1f s)" % took)
finally:
    inst.zest("stop")
    inst.cleanup()
