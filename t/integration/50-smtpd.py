# SPDX-License-Identifier: ISC
"""smtpd on a real socket: a small server here forks smtpd on each accepted
connection (as tcpserver would), with a queue-inject stand-in that checks
the QUEUE.md protocol strictly and keeps what it got.  Python's smtplib,
raw sockets and swaks drive every extension, the error paths, the
smuggling variants, STARTTLS, 8-bit, binary BDAT and a 50 MB message
whose smtpd must stay small."""
import os
import re
import shutil
import socket
import ssl
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

SMTPD = os.path.join(BIN, "smtpd")
if not os.access(SMTPD, os.X_OK):
    skip("no smtpd in %s" % BIN)

# The stand-in for queue-inject -m (docs/QUEUE.md): reads the envelope
# through ".", then D chunks and E (or A: dropped, "aborted"), failing
# closed on anything else; answers "ok ID" and reads the next message.
FAKE = r'''#!/usr/bin/env python3
import os, sys, time
q = os.environ["FAKE_QUEUE"]
inp, out = sys.stdin.buffer, sys.stdout
def no(msg):
    out.write("554 5.6.0 " + msg + "\n"); out.flush(); sys.exit(1)
while True:
    env = []
    while True:
        line = inp.readline(100000)
        if not line and not env:
            sys.exit(0)  # EOF between messages
        if not line.endswith(b"\n"):
            no("envelope cut")
        if line == b".\n":
            break
        if line[:1] not in b"VFXNBUCR" or b"\r" in line or b"\0" in line:
            no("bad envelope line %r" % line)
        env.append(line)
    if not env or env[0] != b"V1\n":
        no("no V1")
    tmp = os.path.join(q, "tmp.%d" % os.getpid())
    with open(tmp, "wb") as f:
        while True:
            line = inp.readline(32)
            if line in (b"E\n", b"A\n"):
                break
            if not (line.startswith(b"D") and line.endswith(b"\n")):
                os.unlink(tmp); no("bad chunk line %r" % line)
            n = int(line[1:-1])
            if n <= 0 or n > 1 << 20:
                os.unlink(tmp); no("bad chunk size")
            data = inp.read(n)
            if len(data) != n:
                os.unlink(tmp); no("chunk cut")
            f.write(data)
    if line == b"A\n":
        os.unlink(tmp)
        out.write("aborted\n"); out.flush()
        continue
    qid = "%x.%x" % (time.time_ns(), os.getpid())
    open(os.path.join(q, qid + ".env"), "wb").write(b"".join(env))
    os.rename(tmp, os.path.join(q, qid + ".msg"))
    reply = os.environ.get("FAKE_REPLY", "ok " + qid)
    out.write(reply + "\n"); out.flush()
    if not reply.startswith("ok "):
        sys.exit(1)
'''


class Server:
    """Accept connections and run smtpd on each, fd 0/1 the socket."""

    def __init__(self, inst, env, log):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.inst, self.env, self.log = inst, env, log
        self.procs = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            p = subprocess.Popen([SMTPD, "-C", self.inst.dir], stdin=conn,
                                 stdout=conn, stderr=self.log, env=self.env)
            conn.close()
            self.procs.append(p)

    def last_pid(self):
        for _ in range(100):
            if self.procs:
                return self.procs[-1].pid
            time.sleep(0.01)
        fail("no smtpd started")


class Raw:
    """A plain client speaking bytes, reading whole replies."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.s.makefile("rb")
        self.greeting = self.reply()

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                return (None, lines)
            check(line.endswith(b"\r\n"), "reply line without CRLF: %r" % line)
            lines.append(line[:-2])
            if line[3:4] != b"-":
                return (int(line[:3]), lines)

    def cmd(self, line, want=None):
        self.send(line + b"\r\n")
        code, lines = self.reply()
        if want is not None:
            check(code == want, "%r: %s %r" % (line, code, lines))
        return code, lines

    def enh(self, lines):
        return lines[-1].split(b" ")[1].decode()

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(self.s)
        self.f = self.s.makefile("rb")

    def close(self):
        self.s.close()


def queued():
    """{id: (envelope bytes, message bytes)} of what the stand-in kept."""
    out = {}
    for n in os.listdir(QDIR):
        if n.endswith(".env"):
            qid = n[:-4]
            out[qid] = (open(os.path.join(QDIR, n), "rb").read(),
                        open(os.path.join(QDIR, qid + ".msg"), "rb").read())
    return out


def clear_queue():
    for n in os.listdir(QDIR):
        os.unlink(os.path.join(QDIR, n))


def only_message():
    q = queued()
    check(len(q) == 1, "%d messages queued, want 1" % len(q))
    clear_queue()
    return list(q.values())[0]


def body_of(msg):
    """The message after the Received header smtpd put first."""
    check(msg.startswith(b"Received: from "), "no Received first: %r" % msg[:60])
    m = re.match(rb"Received: [^\r]*\r\n(\t[^\r]*\r\n)*", msg)
    return msg[m.end():], msg[:m.end()]


def vmhwm_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    fail("no VmHWM")


inst = Instance()
server = None
log = None
try:
    inst.useradd("alice")
    inst.useradd("bob")
    # the names-only table smtpd reads: mode 0644, no hashes
    mb = os.path.join(inst.dir, "tables", "mailboxes")
    check(os.stat(mb + ".cdb").st_mode & 0o777 == 0o644, "mailboxes.cdb mode")
    names = [l for l in open(mb).read().splitlines() if not l.startswith("#")]
    check(names == ["alice", "bob"], "mailboxes %r" % names)
    inst.set_conf("log", "stderr")
    inst.set_conf("smtpd_timeout", "10s")
    fakedir = os.path.join(inst.base, "fake")
    QDIR = os.path.join(inst.base, "q")
    os.mkdir(fakedir, 0o755)
    os.mkdir(QDIR)
    os.chmod(QDIR, 0o777)  # smtpd and its child run as zest-smtpd as root
    with open(os.path.join(fakedir, "queue-inject"), "w") as f:
        f.write(FAKE)
    os.chmod(os.path.join(fakedir, "queue-inject"), 0o755)
    inst.set_conf("libexec_dir", fakedir)
    env = dict(os.environ, FAKE_QUEUE=QDIR)
    log = open(os.path.join(inst.base, "smtpd.log"), "w")
    server = Server(inst, env, log)
    P = server.port

    # --- smtplib: EHLO keywords and one message -------------------------
    with smtplib.SMTP("127.0.0.1", P) as c:
        code, text = c.ehlo("client.example")
        check(code == 250, "EHLO %d" % code)
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes",
                    "dsn", "chunking", "binarymime", "starttls", "smtputf8"):
            check(c.has_extn(ext), "no %s in EHLO" % ext)
        check(c.esmtp_features["size"] == str(100 * 1024 * 1024), "SIZE value")
        c.sendmail("sender@example.net", ["alice@localhost"],
                   b"Subject: hello\r\n\r\nhi there\r\n..leading dot\r\n")
    env_, msg = only_message()
    body, rcvd = body_of(msg)
    check(body == b"Subject: hello\r\n\r\nhi there\r\n..leading dot\r\n",
          "stored body %r" % body)
    check(b"from client.example ([127.0.0.1])" in rcvd and b"with ESMTP\r\n" in rcvd
          and b"for <alice@localhost>;" in rcvd, "Received %r" % rcvd)
    check(env_.startswith(b"V1\nFsender@example.net\nB7BIT\n"
                          b"Chelo=client.example addr=127.0.0.1 tls=no\n"),
          "envelope %r" % env_)
    check(env_.endswith(b"Ralice@localhost\t\t\n"), "envelope %r" % env_)

    # --- recipients: users, unknown, relay, userdel ----------------------
    r = Raw(P)
    r.cmd(b"EHLO client.example", 250)
    r.cmd(b"MAIL FROM:<s@example.net>", 250)
    code, l = r.cmd(b"RCPT TO:<nobody@localhost>", 550)
    check(r.enh(l) == "5.1.1", "unknown user: %r" % l)
    code, l = r.cmd(b"RCPT TO:<x@elsewhere.example>", 550)
    check(r.enh(l) == "5.7.1", "relaying: %r" % l)
    r.cmd(b"RCPT TO:<BOB@LOCALHOST>", 250)
    r.cmd(b"RCPT TO:<Postmaster>", 250)
    r.cmd(b"QUIT", 221)
    res = inst.zest("userdel", "bob")
    check(res.returncode == 0, "userdel: %s" % res.stderr)
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    r.cmd(b"MAIL FROM:<s@example.net>", 250)
    r.cmd(b"RCPT TO:<bob@localhost>", 550)
    r.cmd(b"QUIT", 221)
    # relay-clients lets 127.0.0.1 relay
    with open(os.path.join(inst.dir, "tables", "relay-clients"), "a") as f:
        f.write("127.0.0.0/8\n")
    check(inst.zest("makemap", "relay-clients").returncode == 0, "makemap")
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    r.cmd(b"MAIL FROM:<s@example.net>", 250)
    r.cmd(b"RCPT TO:<x@elsewhere.example>", 250)
    r.cmd(b"QUIT", 221)
    with open(os.path.join(inst.dir, "tables", "relay-clients"), "w") as f:
        f.write("# none\n")
    inst.zest("makemap", "relay-clients")

    # --- SIZE, DSN, 8BITMIME, SMTPUTF8 -----------------------------------
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    code, l = r.cmd(b"MAIL FROM:<s@example.net> SIZE=999999999999", 552)
    check(r.enh(l) == "5.3.4", "SIZE: %r" % l)
    r.cmd(b"MAIL FROM:<s@example.net> SIZE=1000 BODY=8BITMIME RET=HDRS "
          b"ENVID=QQ+2B1", 250)
    r.cmd(b"RCPT TO:<alice@localhost> NOTIFY=SUCCESS,DELAY "
          b"ORCPT=rfc822;alice+2Bx@localhost", 250)
    code, l = r.cmd(b"RCPT TO:<alice@localhost> NOTIFY=NEVER,SUCCESS", 501)
    r.cmd(b"DATA", 354)
    r.send(b"Subject: caf\xc3\xa9\r\n\r\n\xe9t\xe9 8-bit\r\n.\r\n")
    code, l = r.reply()
    check(code == 250 and r.enh(l) == "2.0.0", "8-bit DATA: %r" % l)
    env_, msg = only_message()
    check(b"\nXHDRS\nNQQ+2B1\nB8BITMIME\n" in env_, "DSN envelope %r" % env_)
    check(b"\nRalice@localhost\tSUCCESS,DELAY\trfc822;alice+2Bx@localhost\n"
          in env_, "R line %r" % env_)
    check(body_of(msg)[0] == b"Subject: caf\xc3\xa9\r\n\r\n\xe9t\xe9 8-bit\r\n",
          "8-bit body")
    code, l = r.cmd("MAIL FROM:<jörg@example.net>".encode(), 553)
    check(r.enh(l) == "5.6.7", "UTF-8 without SMTPUTF8 %r" % l)
    r.cmd("MAIL FROM:<jörg@example.net> SMTPUTF8".encode(), 250)
    r.cmd(b"RCPT TO:<alice@localhost>", 250)
    r.cmd(b"DATA", 354)
    r.send("Subject: grüße\r\n\r\nx\r\n.\r\n".encode())
    check(r.reply()[0] == 250, "SMTPUTF8 message")
    env_, msg = only_message()
    check("Fjörg@example.net\nB8BITMIME\nU\n".encode() in env_, "UTF8 envelope")
    check(b"with UTF8SMTP\r\n" in msg, "UTF8SMTP in Received")
    r.cmd(b"QUIT", 221)

    # --- BDAT (CHUNKING, BINARYMIME) --------------------------------------
    blob = bytes(range(256)) * 4096 + b"\r\n.\r\n\n.\n\0"  # 1 MiB and change
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    r.cmd(b"MAIL FROM:<s@example.net> BODY=BINARYMIME", 250)
    r.cmd(b"RCPT TO:<alice@localhost>", 250)
    code, l = r.cmd(b"DATA", 503)
    check(r.enh(l) == "5.5.1", "DATA after BINARYMIME %r" % l)
    # pipelined: three chunks of odd sizes, then 0 LAST
    a, b = 1, 100001
    r.send(b"BDAT %d\r\n" % a + blob[:a] + b"BDAT %d\r\n" % (b - a) + blob[a:b] +
           b"BDAT %d\r\n" % (len(blob) - b) + blob[b:] + b"BDAT 0 LAST\r\n")
    for i in range(3):
        code, l = r.reply()
        check(code == 250, "BDAT chunk %d: %r" % (i, l))
    code, l = r.reply()
    check(code == 250 and b"queued as" in l[-1], "BDAT LAST %r" % l)
    env_, msg = only_message()
    check(b"\nBBINARYMIME\n" in env_, "BINARYMIME envelope")
    check(body_of(msg)[0] == blob, "binary body not byte-exact")
    # BDAT text with a bare LF is refused; a pipelined BDAT after it is
    # consumed, not executed
    r.cmd(b"MAIL FROM:<s@example.net>", 250)
    r.cmd(b"RCPT TO:<alice@localhost>", 250)
    r.send(b"BDAT 3\r\na\nbBDAT 6 LAST\r\nQUIT\r\n")
    code, l = r.reply()
    check(code == 554, "bare LF in BDAT %r" % l)
    code, l = r.reply()
    check(code == 503, "BDAT after failure %r" % l)
    r.cmd(b"NOOP", 250)
    r.cmd(b"QUIT", 221)
    check(not queued(), "refused BDAT queued")

    # --- smuggling: no variant ends the data -----------------------------
    variants = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n",
                b"\r\n.\r", b"\n.\r", b"\r.\n"]
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    for v in variants:
        r.cmd(b"MAIL FROM:<s@example.net>", 250)
        r.cmd(b"RCPT TO:<alice@localhost>", 250)
        r.cmd(b"DATA", 354)
        r.send(b"Subject: outer\r\n\r\nhello" + v +
               b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@localhost>\r\n"
               b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
        code, l = r.reply()
        check(code == 554 and r.enh(l) == "5.6.0", "variant %r: %r" % (v, l))
        r.cmd(b"NOOP", 250)   # in step: nothing smuggled was answered
    r.cmd(b"QUIT", 221)
    check(not queued(), "a smuggling variant queued something")
    # commands end with CRLF only
    r = Raw(P)
    r.send(b"NOOP\n")
    code, l = r.reply()
    check(code == 500, "bare LF command %r" % l)
    r.cmd(b"QUIT", 221)

    # --- STARTTLS ---------------------------------------------------------
    with smtplib.SMTP("127.0.0.1", P) as c:
        c.ehlo("tls.example")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c.starttls(context=ctx)
        c.ehlo("tls.example")
        check(not c.has_extn("starttls"), "STARTTLS offered inside TLS")
        c.sendmail("s@example.net", ["alice@localhost"], b"Subject: tls\r\n\r\nx\r\n")
    env_, msg = only_message()
    check(b"with ESMTPS (TLSv1." in msg, "Received without ESMTPS: %r" % msg[:300])
    check(b" tls=TLSv1." in env_, "envelope tls= %r" % env_)
    # plain text pipelined after STARTTLS is discarded, not executed
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    r.send(b"STARTTLS\r\nMAIL FROM:<s@example.net>\r\nNOOP\r\n")
    code, l = r.reply()
    check(code == 220, "STARTTLS %r" % l)
    r.s.settimeout(0.5)
    try:
        extra = r.s.recv(100, socket.MSG_PEEK)
    except (socket.timeout, BlockingIOError):
        extra = b""
    r.s.settimeout(60)
    check(extra == b"", "plain text answered after STARTTLS: %r" % extra)
    r.starttls()
    code, l = r.cmd(b"RCPT TO:<alice@localhost>")
    check(code == 503, "state survived STARTTLS: %r" % l)
    code, l = r.cmd(b"EHLO again", 250)
    check(b"STARTTLS" not in b"\n".join(l), "STARTTLS offered twice")
    code, l = r.cmd(b"RCPT TO:<alice@localhost>", 503)  # MAIL was dropped
    r.cmd(b"QUIT", 221)

    # --- errors, HELO, limits ---------------------------------------------
    r = Raw(P)
    for i in range(19):
        r.cmd(b"BOGUS", 500)
    code, l = r.cmd(b"BOGUS")
    check(code == 500, "20th error %r" % l)
    code, l = r.reply()
    check(code == 421 and r.enh(l) == "4.7.0", "error limit %r" % l)
    check(r.reply()[0] is None, "still open after 421")
    with smtplib.SMTP("127.0.0.1", P) as c:
        c.helo("old.example")
        c.sendmail("s@example.net", ["alice@localhost"], b"Subject: helo\r\n\r\nx\r\n")
    check(b"with SMTP\r\n" in only_message()[1], "HELO Received")

    # --- swaks ------------------------------------------------------------
    if shutil.which("swaks"):
        base = ["swaks", "--server", "127.0.0.1", "--port", str(P),
                "--from", "s@example.net", "--to", "alice@localhost",
                "--helo", "swaks.example", "--silent", "2"]
        for extra in ([], ["--pipeline"], ["--tls"], ["--pipeline", "--tls"],
                      ["--body", "caf\u00e9 8-bit"]):
            res = subprocess.run(base + extra, capture_output=True, text=True)
            check(res.returncode == 0, "swaks %s: %d %s %s" %
                  (extra, res.returncode, res.stdout[-300:], res.stderr[-300:]))
            only_message()
        res = subprocess.run(base[:7] + ["--to", "nobody@localhost",
                                          "--silent", "2"], capture_output=True)
        check(res.returncode != 0, "swaks to an unknown user succeeded")
    else:
        print("swaks not installed: its part skipped")

    # --- a 50 MB message, streamed ----------------------------------------
    r = Raw(P)
    pid = server.last_pid()
    r.cmd(b"EHLO big", 250)
    r.cmd(b"MAIL FROM:<s@example.net> SIZE=52428800", 250)
    r.cmd(b"RCPT TO:<alice@localhost>", 250)
    r.cmd(b"DATA", 354)
    line = b"x" * 78 + b"\r\n"
    chunk = line * ((1 << 20) // len(line) + 1)
    chunk = chunk[:(len(chunk) // len(line)) * len(line)]
    total = 0
    r.send(b"Subject: big\r\n\r\n")
    while total < 50 * 1024 * 1024:
        r.send(chunk)
        total += len(chunk)
    r.send(b".\r\n")
    code, l = r.reply()
    check(code == 250, "50 MB message: %r" % l)
    hwm = vmhwm_kb(pid)
    r.cmd(b"QUIT", 221)
    env_, msg = only_message()
    check(len(body_of(msg)[0]) == total + 16, "50 MB stored size %d" % len(msg))
    print("smtpd VmHWM after 50 MB: %d kB" % hwm)
    if not ASAN:
        check(hwm < 10 * 1024, "smtpd VmHWM %d kB" % hwm)

    # --- the idle timeout (smtpd_timeout = 10s here) ----------------------
    r = Raw(P)
    r.cmd(b"EHLO c", 250)
    t0 = time.time()
    code, l = r.reply()
    check(code == 421 and r.enh(l) == "4.4.2", "timeout %r" % l)
    check(9 <= time.time() - t0 < 30, "timeout after %.1f s" % (time.time() - t0))
    print("ok")
except SystemExit:
    if log is not None:
        log.flush()
        print(open(os.path.join(inst.base, "smtpd.log")).read()[-3000:])
    raise
finally:
    if server is not None:
        server.sock.close()
    inst.cleanup()
