# SPDX-License-Identifier: ISC
"""STARTTLS through tlsrelay (smtpd links no OpenSSL): an smtpd worker
with an open session stays under 1 MB of RSS and maps no libssl or
libcrypto; TLS sessions through swaks and smtplib deliver byte-exact;
garbage instead of a ClientHello and a client stalling mid-handshake end
that session only; tlsrelay killed mid-session ends the session cleanly,
loses nothing acknowledged, and the worker goes on; many TLS sessions in
one worker leak no descriptor, child or zombie."""
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

SLOW = 3 if ASAN else 1
BASE = 37000 + os.getpid() % 1000 * 10
PORT = BASE + 25
TIMEOUT = 10        # smtpd_timeout for these tests (its minimum), seconds
for prog in ("zest", "listen", "smtpd", "tlsrelay", "spawner", "queued",
             "deliver", "queue-inject"):
    if not os.access(os.path.join(BIN, prog), os.X_OK):
        skip("skip: no %s in %s" % (prog, BIN))


def alive(pid):
    try:
        st = open("/proc/%d/stat" % pid).read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] not in "ZX"


def wait_for(cond, secs, what):
    end = time.time() + secs * SLOW
    while time.time() < end:
        if cond():
            return
        time.sleep(0.02)
    fail("timed out waiting: %s" % what)


def workers(inst):
    """The pids of the instance's smtpd workers."""
    return sorted(daemon_procs(inst, "/smtpd"))


def the_worker(inst):
    w = workers(inst)
    check(len(w) == 1, "want one worker (smtpd_max_connections 1): %r" % w)
    return w[0]


def children(pid):
    """{pid: (comm, state)} of pid's children."""
    out = {}
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        return out
    for k in kids:
        try:
            st = open("/proc/%s/stat" % k).read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        out[int(k)] = (comm, st[st.rindex(")") + 2])
    return out


def relays(pid):
    return [k for k, (comm, _st) in children(pid).items()
            if comm == "tlsrelay"]


def fds(pid):
    return sorted(os.listdir("/proc/%d/fd" % pid), key=int)


def settled(worker):
    """The worker between sessions: no tlsrelay, no zombie child."""
    kids = children(worker)
    return not any(c == "tlsrelay" or s == "Z" for c, s in kids.values())


def kb(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    fail("no %s for %d" % (key, pid))


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def smtp():
    """smtplib past a 220 (a busy 421 while the last session's worker has
    not said done yet is retried)."""
    for _ in range(100):
        s = smtplib.SMTP(timeout=30 * SLOW)
        try:
            code, _msg = s.connect("127.0.0.1", PORT)
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            code = 0
        if code == 220:
            s._host = "localhost"
            return s
        s.close()
        time.sleep(0.05)
    fail("no greeting")


class Raw:
    """A plain socket client."""

    def __init__(self):
        for _ in range(100):
            self.s = socket.create_connection(("127.0.0.1", PORT),
                                              10 * SLOW)
            self.f = self.s.makefile("rb")
            g = self.reply()
            if g.startswith(b"220 "):
                return
            self.s.close()
            time.sleep(0.05)
        fail("no greeting")

    def reply(self):
        out = b""
        while True:
            line = self.f.readline()
            out += line
            if len(line) < 4 or line[3:4] != b"-":
                return out

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()

    def closed_within(self, secs):
        """Seconds until the server closes the connection (-1: not within
        secs)."""
        t0 = time.time()
        self.s.settimeout(secs)
        try:
            while self.s.recv(4096):
                pass
        except socket.timeout:
            return -1
        except ConnectionResetError:
            pass
        return time.time() - t0

    def close(self):
        self.f.close()
        self.s.close()


# A message with what a relay could get wrong: 8-bit text, a line of
# 5,000 bytes, lines that are only a dot or start with one, a body of
# more than one TLS record (16 KB).
BODY = (b"Subject: tls exact %s\r\nContent-Type: text/plain; "
        b"charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"caf\xc3\xa9 \xe2\x82\xac\r\n.\r\n..two\r\n.lead\r\n" +
        b"x" * 5000 + b"\r\n" +
        b"".join(b"line %05d abcdefghijklmnopqrstuvwxyz\r\n" % i
                 for i in range(1200)) + b"end\r\n")


def stored(inst, token):
    """The message of alice's Maildir with token in its Subject."""
    md = os.path.join(inst.dir, "mail", "alice")
    for f in files_in(md):
        data = open(os.path.join(md, f), "rb").read()
        if b"tls exact " + token.encode() + b"\r\n" in data or \
                b"tls exact " + token.encode() + b"\n" in data:
            return data
    return None


def wait_stored(inst, token):
    end = time.time() + 60 * SLOW
    while time.time() < end:
        m = stored(inst, token)
        if m is not None:
            return m
        time.sleep(0.05)
    fail("message %s not delivered" % token)


def check_exact(inst, token, sent, how):
    m = wait_stored(inst, token)
    # the stored message is what was sent, after the trace headers the
    # mail system puts first (in the Maildir's line ends)
    crlf = b"\r\n" in m
    want = sent if crlf else sent.replace(b"\r\n", b"\n")
    if not m.endswith(want):
        i = next((k for k in range(1, min(len(m), len(want)) + 1)
                  if m[-k] != want[-k]), 0)
        fail("%s: message %s not stored byte-exact: differs %d bytes from "
             "the end: %r / %r" % (how, token, i, m[-i - 40:len(m) - i + 40],
                                   want[-i - 40:len(want) - i + 40]))
    check(b"with ESMTPS (TLSv1." in m, "%s: Received without ESMTPS: %r"
          % (how, m[:400]))
    return m


def delivered(inst):
    return len(files_in(os.path.join(inst.dir, "mail", "alice")))


def test_rss(inst, when):
    """The worker holding a session after EHLO maps no OpenSSL and stays
    small (fresh, and after it has served messages and TLS sessions).
    The issue's target is VmRSS < 1024 kB, which this machine meets with
    smtpd linked by lld in smtpd/smtpd.order; how many pages the kernel
    maps around each fault and which CPU variants of the string functions
    run move the figure by some 200 kB between machines, so the test fails
    only above 1536 kB (a dynamically linked or OpenSSL-carrying smtpd is
    2-4 MB) and reports a figure above 1024 kB; `make bench` measures the
    target."""
    c = Raw()
    check(c.cmd(b"EHLO rss.example").startswith(b"250"), "EHLO")
    time.sleep(0.1)
    w = the_worker(inst)
    rss, hwm = kb(w, "VmRSS"), kb(w, "VmHWM")
    maps = open("/proc/%d/maps" % w).read()
    if not ASAN:
        check(rss < 1536, "smtpd worker with an open session: VmRSS %d kB "
              "(want < 1024, fails above 1536)" % rss)
        if rss >= 1024:
            print("NOTE: smtpd worker VmRSS %d kB, above the 1024 kB target "
                  "on this machine (smtpd/smtpd.order may be stale for it)"
                  % rss)
    check("libssl" not in maps and "libcrypto" not in maps,
          "smtpd maps OpenSSL")
    check(c.cmd(b"QUIT").startswith(b"221"), "QUIT")
    c.closed_within(10 * SLOW)
    c.close()
    print("ok smtpd worker with an open session, %s: VmRSS %d kB (peak %d "
          "kB), no OpenSSL mapped" % (when, rss, hwm))


def test_smtplib(inst):
    s = smtp()
    s.ehlo("tls.example")
    check(s.has_extn("starttls"), "no STARTTLS")
    code, _ = s.starttls(context=tls_ctx())
    check(code == 220, "STARTTLS %d" % code)
    time.sleep(0.05)
    w = the_worker(inst)
    r = relays(w)
    check(len(r) == 1, "no tlsrelay under the worker: %r" % children(w))
    st = open("/proc/%d/status" % r[0]).read()
    uid = int(re.search(r"^Uid:\s+(\d+)", st, re.M).group(1))
    if os.geteuid() == 0:
        check(uid != 0, "tlsrelay runs as root")
    s.ehlo("tls.example")
    check(not s.has_extn("starttls"), "STARTTLS offered inside TLS")
    msg = BODY % b"smtplib1"
    refused = s.sendmail("sender@example.org", ["alice@localhost"], msg)
    check(refused == {}, "sendmail: %r" % refused)
    s.quit()
    check_exact(inst, "smtplib1", msg, "smtplib")
    wait_for(lambda: settled(w), 10, "tlsrelay reaped")
    print("ok smtplib STARTTLS: byte-exact, tlsrelay uid %d, reaped" % uid)


def test_swaks(inst, tmp):
    if not os.access("/usr/bin/swaks", os.X_OK):
        print("skip swaks: not installed")
        return
    msg = BODY % b"swaks1"
    path = os.path.join(tmp, "swaks.eml")
    with open(path, "wb") as f:
        f.write(msg[:-2])   # swaks ends the data with CRLF . CRLF itself
    for _ in range(20):
        r = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(PORT), "--tls",
             "--from", "sender@example.org", "--to", "alice@localhost",
             "--data", path], capture_output=True, timeout=60 * SLOW)
        if b"421 4.3.2" not in r.stdout:
            break
        time.sleep(0.1)
    out = r.stdout.decode(errors="replace")
    check(r.returncode == 0 and "queued as" in out,
          "swaks: %s %s" % (out[-800:], r.stderr[-300:]))
    check("TLS started" in out or "STARTTLS" in out, "swaks did no TLS")
    check_exact(inst, "swaks1", msg, "swaks")
    print("ok swaks --tls: byte-exact")


def test_garbage(inst):
    """Bytes that are no ClientHello: that session ends, the worker serves
    the next one, no tlsrelay is left."""
    w = the_worker(inst)
    c = Raw()
    c.cmd(b"EHLO g.example")
    check(c.cmd(b"STARTTLS").startswith(b"220"), "STARTTLS")
    c.s.sendall(b"MAIL FROM:<x@example.org>\r\n" * 20)
    t = c.closed_within(2 * TIMEOUT * SLOW)
    check(t >= 0, "garbage handshake: connection still open")
    c.close()
    wait_for(lambda: settled(w), 10, "tlsrelay gone after garbage")
    s = smtp()
    check(s.ehlo("after.example")[0] == 250, "EHLO after garbage")
    s.quit()
    check(the_worker(inst) == w, "worker replaced after garbage")
    print("ok garbage instead of a ClientHello: closed after %.2f s, the "
          "worker goes on" % t)


def hello_bytes():
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_ctx().wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def test_stall(inst):
    """Half a ClientHello, then nothing: the handshake is cut at
    smtpd_timeout; the next session is served."""
    w = the_worker(inst)
    hello = hello_bytes()
    check(len(hello) > 100, "no ClientHello made")
    c = Raw()
    c.cmd(b"EHLO s.example")
    check(c.cmd(b"STARTTLS").startswith(b"220"), "STARTTLS")
    t0 = time.time()
    c.s.sendall(hello[:len(hello) // 2])
    t = c.closed_within((TIMEOUT + 10) * SLOW)
    check(t >= 0, "stalled handshake not timed out")
    took = time.time() - t0
    check(took >= TIMEOUT - 1, "stalled handshake cut after %.1f s, before "
          "smtpd_timeout %d s" % (took, TIMEOUT))
    c.close()
    wait_for(lambda: settled(w), 10, "tlsrelay gone after a stall")
    s = smtp()
    check(s.ehlo("after.example")[0] == 250, "EHLO after a stall")
    s.quit()
    check(the_worker(inst) == w, "worker replaced after a stall")
    log = open(os.path.join(inst.dir, "log", "smtp.log"),
               errors="replace").read()
    check("TLS handshake failed" in log, "failed handshake not logged")
    print("ok stalled handshake cut after %.1f s (smtpd_timeout %d s)" %
          (took, TIMEOUT))


def test_kill_relay(inst):
    """tlsrelay SIGKILLed mid-session: the client's connection ends, the
    message acknowledged before is delivered, the one in progress is not
    queued, the worker serves the next session."""
    w = the_worker(inst)
    s = smtp()
    s.ehlo("k.example")
    s.starttls(context=tls_ctx())
    s.ehlo("k.example")
    msg = BODY % b"killed1"
    check(s.sendmail("sender@example.org", ["alice@localhost"], msg) == {},
          "first message")
    check(s.mail("sender@example.org")[0] == 250, "MAIL")
    check(s.rcpt("alice@localhost")[0] == 250, "RCPT")
    code, _ = s.docmd("DATA")
    check(code == 354, "DATA %d" % code)
    s.send(b"Subject: tls exact killed2\r\n\r\nhalf a message\r\n")
    r = relays(w)
    check(len(r) == 1, "tlsrelay: %r" % children(w))
    os.kill(r[0], signal.SIGKILL)
    try:
        s.send(b"more\r\n.\r\n")
        code, _ = s.getreply()
    except (smtplib.SMTPServerDisconnected, OSError):
        code = -1
    check(code == -1 or code >= 400, "message after the kill: %r" % code)
    s.close()
    wait_for(lambda: settled(w), 10, "killed tlsrelay reaped")
    check_exact(inst, "killed1", msg, "before the kill")
    s = smtp()
    check(s.ehlo("after.example")[0] == 250, "EHLO after the kill")
    s.starttls(context=tls_ctx())
    s.ehlo("after.example")
    s.quit()
    check(the_worker(inst) == w, "worker replaced after the kill")
    time.sleep(0.5 * SLOW)
    check(stored(inst, "killed2") is None, "the cut message was queued")
    log = open(os.path.join(inst.dir, "log", "smtp.log"),
               errors="replace").read()
    check(re.search(r"tlsrelay %d killed by signal 9" % r[0], log),
          "kill not logged")
    print("ok tlsrelay killed mid-session: acknowledged mail delivered, "
          "the cut one dropped, worker %d goes on" % w)


def test_many(inst):
    """100 TLS sessions (some with a message, some cut) in one worker: its
    descriptors and children are the same after as before."""
    w = the_worker(inst)
    wait_for(lambda: settled(w), 10, "worker settled")
    before = fds(w)
    kids = children(w)
    for i in range(100):
        s = smtp()
        s.ehlo("m.example")
        s.starttls(context=tls_ctx())
        s.ehlo("m.example")
        if i % 10 == 0:
            check(s.sendmail("sender@example.org", ["alice@localhost"],
                             message("many%d" % i)) == {}, "sendmail")
        if i % 7 == 3:
            s.close()           # dropped without QUIT
        else:
            s.quit()
    wait_for(lambda: settled(w), 10, "worker settled after 100 sessions")
    after = fds(w)
    check(after == before, "worker descriptors %r, before %r" %
          (after, before))
    check(children(w) == kids, "worker children %r, before %r" %
          (children(w), kids))
    check(the_worker(inst) == w, "worker replaced")
    print("ok 100 TLS sessions in worker %d: %d descriptors, children %r, "
          "before and after" % (w, len(after), sorted(
              c for c, _s in kids.values())))


def main():
    inst = Instance(port_base=BASE)
    tmp = inst.base
    try:
        inst.set_conf("log", "stderr")
        inst.set_conf("smtpd_timeout", "%ds" % TIMEOUT)
        inst.set_conf("smtpd_max_connections", "1")
        inst.set_conf("smtpd_max_per_ip", "1")
        inst.set_conf("smtpd_max_use", "60000")
        inst.useradd("alice")
        r = inst.zest("start")
        check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))
        wait_for(lambda: len(workers(inst)) == 1, 10, "a worker")
        # a first message starts the worker's queue-inject, which it
        # keeps: the baseline of test_many includes it
        test_rss(inst, "fresh")
        test_smtplib(inst)
        test_swaks(inst, tmp)
        test_garbage(inst)
        test_stall(inst)
        test_kill_relay(inst)
        test_many(inst)
        test_rss(inst, "after %d messages" % delivered(inst))
        r = inst.zest("stop")
        check(r.returncode == 0, "stop: %s" % r.stderr)
        log = open(os.path.join(inst.dir, "log", "smtp.log"),
                   errors="replace").read()
        bad = re.findall(r".*runtime error.*|==\d+==ERROR: .*", log)
        check(bad == [], "sanitizer reports in smtp.log: %s" % bad[:3])
    finally:
        inst.zest("stop")
        inst.cleanup()
    print("all passed")


main()
