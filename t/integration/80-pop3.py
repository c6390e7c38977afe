# SPDX-License-Identifier: ISC
"""pop3d on a real instance (zest init / useradd / start): every command
with its error paths through Python's poplib, a raw socket for exact bytes,
curl pop3:// and pop3s://, openssl s_client for STLS and implicit TLS;
APOP, AUTH PLAIN (with and without initial response) and LOGIN, failed
logins (delayed, counted), the plaintext rule, the maildrop lock, UPDATE
only at QUIT, UIDL stability, \\Seen on RETR, POP-before-SMTP, and (as
root) the privilege separation seen from /proc."""
import base64
import hashlib
import os
import poplib
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

POP3D = os.path.join(BIN, "pop3d")
if not os.access(POP3D, os.X_OK):
    skip("no pop3d in %s" % BIN)

BASE = 16000 + (os.getpid() % 60) * 50
PORT = BASE + 110
PORTS = BASE + 995
PW = "se cret pw"           # a space: PASS takes the rest of the line
ROOT = os.geteuid() == 0


class Raw:
    """A POP3 connection on a plain socket: exact bytes both ways."""

    def __init__(self, port=PORT):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.f = self.s.makefile("rb")
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        return self.f.readline(10000)

    def cmd(self, c):
        self.send(c + "\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line response, exactly as sent (stuffed),
        up to and including the final "."."""
        out = b""
        while True:
            ln = self.line()
            check(ln.endswith(b"\n"), "multi-line cut: %r" % (out + ln))
            out += ln
            if ln == b".\r\n":
                return out

    def close(self):
        try:
            self.f.close()  # the makefile keeps the socket open else
            self.s.close()
        except OSError:
            pass


def login(user="alice", pw=PW, port=PORT):
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.user(user)
    p.pass_(pw)
    return p


def stuffed(wire):
    """The multi-line form of a message's wire bytes."""
    out = b""
    for ln in wire.split(b"\r\n")[:-1] if wire.endswith(b"\r\n") else \
            wire.split(b"\r\n"):
        out += (b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
    return out + b".\r\n"


def wire_of(inst, user, uid):
    d, _ = inst.dump(user)
    m = [x for x in d["msgs"] if x["uid"] == uid][0]
    data = open(os.path.join(inst.dir, "mail", user, m["file"]), "rb").read()
    return data if m["raw"] else data.replace(b"\n", b"\r\n")


def dump_msgs(inst, user="alice"):
    d, _ = inst.dump(user)
    return d


def expect_err(resp, code=None, what=""):
    check(resp.startswith(b"-ERR"), "%s: want -ERR, got %r" % (what, resp))
    if code is not None:
        check(resp.startswith(b"-ERR [" + code.encode() + b"]"),
              "%s: want [%s], got %r" % (what, code, resp))


def pop_err(fn, *a):
    try:
        fn(*a)
    except poplib.error_proto as e:
        return e.args[0]
    fail("%s%r succeeded" % (fn.__name__, a))


def setup():
    inst = Instance(port_base=BASE)
    inst.set_conf("log", "stderr")
    inst.useradd("alice", PW)
    inst.useradd("bob", "bobpw")
    # 1: text with dot lines; 2: plain; 3: a raw (bare LF) wire message
    m1 = ("From: a@example.org\nSubject: dots\n\n.leading dot\n..two\n"
          "middle . dot\n.\nend\n")
    r = inst.deliver(m1, "-d", "alice")
    check(r.returncode == 0, "deliver 1: %r" % r.stderr)
    r = inst.deliver(message("two", 5), "-d", "alice")
    check(r.returncode == 0, "deliver 2: %r" % r.stderr)
    raw = (b"From: r@example.org\r\nSubject: raw\r\n\r\nbare\nLF here\r\n"
           b".dot after bare\n.x\r\nlast\r\n")
    r = inst.deliver(raw, "-w", "-d", "alice")
    check(r.returncode == 0, "deliver raw: %r" % r.stderr)
    d = dump_msgs(inst)
    check(len(d["msgs"]) == 3 and d["msgs"][2]["raw"],
          "setup dump: %r" % d)
    r = inst.zest("start")
    check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))
    check("pop3 started" in r.stdout and "pop3s started" in r.stdout,
          "start output: %s" % r.stdout)
    return inst


def test_greeting_capa(inst):
    a, b = Raw(), Raw()
    ta = re.search(rb"<[^<>@\s]+@[^<>\s]+>", a.greeting)
    tb = re.search(rb"<[^<>@\s]+@[^<>\s]+>", b.greeting)
    check(a.greeting.startswith(b"+OK") and ta and tb,
          "greeting %r" % a.greeting)
    check(ta.group(0) != tb.group(0), "APOP timestamps not unique")
    check(a.cmd("CAPA").startswith(b"+OK"), "CAPA")
    capa = a.multi().decode().split("\r\n")
    for c in ("TOP", "UIDL", "USER", "SASL PLAIN LOGIN", "RESP-CODES",
              "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION Zest", "STLS"):
        check(c in capa, "CAPA lacks %s: %r" % (c, capa))
    expect_err(a.cmd("CAPA x"), what="CAPA with argument")
    expect_err(a.cmd("STAT"), what="STAT before login")
    expect_err(a.cmd("PASS x"), what="PASS before USER")
    check(a.cmd("QUIT").startswith(b"+OK"), "QUIT")
    check(a.line() == b"", "open after QUIT")
    a.close()
    b.close()
    print("ok greeting (unique APOP timestamp), CAPA, errors before login")


def test_listing_retr(inst):
    d = dump_msgs(inst)
    uv = d["header"]["uidvalidity"]
    r = Raw()
    r.cmd("USER alice")
    resp = r.cmd("PASS " + PW)
    check(resp.startswith(b"+OK"), "PASS: %r" % resp)
    sizes = [m["size"] for m in d["msgs"]]
    check(r.cmd("STAT") == b"+OK %d %d\r\n" % (3, sum(sizes)), "STAT")
    check(r.cmd("LIST").startswith(b"+OK"), "LIST")
    want = b"".join(b"%d %d\r\n" % (i + 1, s) for i, s in enumerate(sizes))
    check(r.multi() == want + b".\r\n", "LIST listing")
    check(r.cmd("LIST 2") == b"+OK 2 %d\r\n" % sizes[1], "LIST 2")
    check(r.cmd("UIDL").startswith(b"+OK"), "UIDL")
    want = b"".join(b"%d %d.%d\r\n" % (i + 1, uv, m["uid"])
                    for i, m in enumerate(d["msgs"]))
    check(r.multi() == want + b".\r\n", "UIDL listing")
    check(r.cmd("UIDL 3") == b"+OK 3 %d.%d\r\n" % (uv, d["msgs"][2]["uid"]),
          "UIDL 3")
    for i, m in enumerate(d["msgs"]):
        wire = wire_of(inst, "alice", m["uid"])
        check(len(wire) == m["size"], "wire size of %d" % m["uid"])
        resp = r.cmd("RETR %d" % (i + 1))
        check(resp.startswith(b"+OK"), "RETR %d: %r" % (i + 1, resp))
        body = r.multi()
        if m["raw"]:
            # raw bytes unchanged, a '.' after any LF doubled
            exp = b"." + wire if wire.startswith(b".") else wire
            exp = exp.replace(b"\n.", b"\n..")
            if not exp.endswith(b"\r\n"):
                exp += b"\r\n"
            exp += b".\r\n"
        else:
            exp = stuffed(wire)
        check(body == exp, "RETR %d bytes:\n%r\nwant\n%r" % (i + 1, body, exp))
    # TOP: header, blank line, n body lines; TOP does not set \Seen
    resp = r.cmd("TOP 1 2")
    check(resp.startswith(b"+OK"), "TOP")
    got = r.multi()
    check(got.endswith(b"From: a@example.org\r\nSubject: dots\r\n\r\n"
                       b"..leading dot\r\n...two\r\n.\r\n"),
          "TOP 1 2: %r" % got)
    r.cmd("TOP 2 0")
    top0 = r.multi()
    check(top0.endswith(b"\r\n\r\n.\r\n") and b"line 0" not in top0,
          "TOP 0: %r" % top0)
    for bad in ("RETR 0", "RETR 4", "RETR x", "RETR 1x", "RETR", "TOP 1",
                "TOP 1 x", "LIST 99", "DELE 0", "UIDL -1", "RETR 01"):
        expect_err(r.cmd(bad), what=bad)
    expect_err(r.cmd("USER alice"), what="USER after login")
    check(r.cmd("NOOP").startswith(b"+OK"), "NOOP")
    check(r.cmd("CAPA").startswith(b"+OK"), "CAPA after login")
    capa = r.multi().decode().split("\r\n")
    check("TOP" in capa and "USER" not in capa and "STLS" not in capa,
          "CAPA after login: %r" % capa)
    check(r.cmd("QUIT").startswith(b"+OK"), "QUIT")
    r.close()
    d = dump_msgs(inst)
    check(all("\\Seen" in m["flags"] for m in d["msgs"]),
          "RETR sets \\Seen: %r" % d["msgs"])
    print("ok STAT LIST UIDL RETR TOP exact bytes (dot-stuffing, raw LF), "
          "\\Seen on RETR")


def test_top_exact(inst):
    # a fresh message never RETR'd: TOP must leave it unseen
    inst.deliver("Subject: top\n\nb1\n.b2\nb3\n", "-d", "bob")
    r = Raw()
    r.cmd("USER bob")
    check(r.cmd("PASS bobpw").startswith(b"+OK"), "bob login")
    check(r.cmd("TOP 1 2").startswith(b"+OK"), "TOP 1 2")
    got = r.multi()
    check(got.endswith(b"Subject: top\r\n\r\nb1\r\n..b2\r\n.\r\n"),
          "TOP 1 2 bytes: %r" % got)
    r.cmd("QUIT")
    r.close()
    d = dump_msgs(inst, "bob")
    check("\\Seen" not in d["msgs"][0]["flags"], "TOP set \\Seen")
    # RETR then a dropped connection: \Seen is still set
    r = Raw()
    r.cmd("USER bob")
    r.cmd("PASS bobpw")
    check(r.cmd("RETR 1").startswith(b"+OK"), "bob RETR")
    r.multi()
    r.close()
    time.sleep(0.5)
    d = dump_msgs(inst, "bob")
    check("\\Seen" in d["msgs"][0]["flags"], "RETR+drop: %r" % d["msgs"])
    print("ok TOP exact, no \\Seen; RETR then drop sets \\Seen")


def test_auth(inst):
    # APOP: md5(timestamp + secret)
    r = Raw()
    ts = re.search(rb"<[^>]+>", r.greeting).group(0)
    dig = hashlib.md5(ts + PW.encode()).hexdigest()
    check(r.cmd("APOP alice %s" % dig).startswith(b"+OK"), "APOP")
    r.cmd("QUIT")
    r.close()
    r = Raw()
    t0 = time.time()
    expect_err(r.cmd("APOP alice %s" % ("0" * 32)), "AUTH", "APOP wrong")
    check(time.time() - t0 >= 0.8, "failure not delayed")
    expect_err(r.cmd("APOP alice xyz"), what="APOP malformed")
    r.close()
    # AUTH PLAIN with initial response, NAME@DOMAIN
    r = Raw()
    ir = base64.b64encode(b"\0alice@localhost\0" + PW.encode()).decode()
    check(r.cmd("AUTH PLAIN " + ir).startswith(b"+OK"), "AUTH PLAIN ir")
    check(r.cmd("STAT").startswith(b"+OK"), "STAT after AUTH")
    r.cmd("QUIT")
    r.close()
    # AUTH PLAIN without initial response
    r = Raw()
    check(r.cmd("AUTH PLAIN").startswith(b"+ "), "AUTH PLAIN challenge")
    check(r.cmd(ir).startswith(b"+OK"), "AUTH PLAIN response")
    r.cmd("QUIT")
    r.close()
    # AUTH LOGIN
    r = Raw()
    check(r.cmd("AUTH LOGIN").startswith(b"+ "), "AUTH LOGIN 1")
    check(r.cmd(base64.b64encode(b"alice").decode()).startswith(b"+ "),
          "AUTH LOGIN 2")
    check(r.cmd(base64.b64encode(PW.encode()).decode()).startswith(b"+OK"),
          "AUTH LOGIN done")
    r.cmd("QUIT")
    r.close()
    # errors: cancel, bad base64, unknown mechanism, wrong password
    r = Raw()
    r.cmd("AUTH PLAIN")
    expect_err(r.cmd("*"), what="AUTH cancel")
    expect_err(r.cmd("AUTH PLAIN !!!notbase64"), what="bad base64")
    expect_err(r.cmd("AUTH CRAM-MD5"), what="mechanism not offered")
    bad = base64.b64encode(b"\0alice\0wrong").decode()
    expect_err(r.cmd("AUTH PLAIN " + bad), "AUTH", "AUTH wrong password")
    odd = base64.b64encode(b"\0al ice\0" + b"p" * 2000).decode()
    expect_err(r.cmd("AUTH PLAIN " + odd), "AUTH", "AUTH odd name, long pw")
    check(r.cmd("AUTH").startswith(b"+OK"), "AUTH list")
    check(r.multi() == b"PLAIN\r\nLOGIN\r\n.\r\n", "AUTH list")
    r.close()
    print("ok APOP, AUTH PLAIN (with/without IR), AUTH LOGIN, error paths")


def test_failures(inst):
    r = Raw()
    r.cmd("USER alice")
    t0 = time.time()
    expect_err(r.cmd("PASS nope"), "AUTH", "wrong password")
    check(time.time() - t0 >= 0.8, "wrong password answered at once")
    r.cmd("USER nosuchuser")
    expect_err(r.cmd("PASS nope"), "AUTH", "unknown user")
    # still usable after failures
    r.cmd("USER alice")
    check(r.cmd("PASS " + PW).startswith(b"+OK"), "login after failures")
    r.cmd("QUIT")
    r.close()
    # three failures end the connection
    r = Raw()
    for i in range(3):
        r.cmd("USER alice")
        resp = r.cmd("PASS bad%d" % i)
        expect_err(resp, what="failure %d" % i)
    check(b"Too many" in resp, "third failure: %r" % resp)
    check(r.line() == b"", "connection open after too many failures")
    r.close()
    print("ok failed logins delayed, counted, connection closed at limit")


def test_plaintext_rule(inst):
    inst.set_conf("login_local_plaintext", "no")
    try:
        r = Raw()
        r.cmd("CAPA")
        capa = r.multi().decode().split("\r\n")
        check("USER" not in capa and not any(c.startswith("SASL")
              for c in capa) and "STLS" in capa, "CAPA plain: %r" % capa)
        expect_err(r.cmd("USER alice"), "AUTH", "USER without TLS")
        expect_err(r.cmd("PASS " + PW), "AUTH", "PASS without TLS")
        expect_err(r.cmd("AUTH PLAIN " + base64.b64encode(
            b"\0alice\0" + PW.encode()).decode()), "AUTH", "AUTH PLAIN")
        # APOP sends no password: allowed
        ts = re.search(rb"<[^>]+>", r.greeting).group(0)
        dig = hashlib.md5(ts + PW.encode()).hexdigest()
        check(r.cmd("APOP alice %s" % dig).startswith(b"+OK"),
              "APOP without TLS")
        r.cmd("QUIT")
        r.close()
        # after STLS everything is offered and works
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        p = poplib.POP3("127.0.0.1", PORT, timeout=20)
        before = p.capa()
        p.stls(ctx)
        after = p.capa()
        check("STLS" in before and "STLS" not in after and
              "USER" in after and after.get("SASL") == ["PLAIN", "LOGIN"],
              "CAPA around STLS: %r %r" % (before, after))
        p.user("alice")
        p.pass_(PW)
        check(p.stat()[0] == 3, "STAT over STLS")
        after = p.capa()
        check("USER" not in after, "CAPA after login over TLS %r" % after)
        p.quit()
    finally:
        inst.set_conf("login_local_plaintext", "yes")
    print("ok plaintext refused without TLS ([AUTH]), allowed after STLS")


def test_tls_clients(inst):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p = poplib.POP3_SSL("127.0.0.1", PORTS, context=ctx, timeout=20)
    check(p.getwelcome().startswith(b"+OK"), "pop3s greeting")
    check("STLS" not in p.capa(), "STLS offered over implicit TLS")
    p.user("alice")
    p.pass_(PW)
    n, size = p.stat()
    check(n == 3, "pop3s STAT")
    lines = p.retr(2)[1]
    check(any(b"line 4 of two" in x for x in lines), "pop3s RETR")
    p.quit()
    # a big message through the TLS relay, exact
    big = "Subject: big\n\n" + "".join(".%07d %s\n" % (i, "x" * 60)
                                       for i in range(40000))
    r = inst.deliver(big, "-d", "bob")
    check(r.returncode == 0, "deliver big: %r" % r.stderr)
    p = poplib.POP3_SSL("127.0.0.1", PORTS, context=ctx, timeout=60)
    p.user("bob")
    p.pass_("bobpw")
    n = p.stat()[0]
    resp, lines, octets = p.retr(n)
    body = b"\r\n".join(lines[lines.index(b""):]) + b"\r\n"
    want = ("\n" + big.split("\n\n", 1)[1]).replace("\n", "\r\n").encode()
    check(body == want, "big RETR over TLS differs (%d vs %d bytes)" %
          (len(body), len(want)))
    p.dele(n)
    p.quit()
    # openssl s_client -starttls pop3 and implicit
    for args in (["-starttls", "pop3", "-connect", "127.0.0.1:%d" % PORT],
                 ["-connect", "127.0.0.1:%d" % PORTS]):
        r = subprocess.run(["openssl", "s_client", "-quiet", "-ign_eof"] +
                           args, input=("USER alice\r\nPASS %s\r\nSTAT\r\n"
                                        "QUIT\r\n" % PW).encode(),
                           capture_output=True, timeout=30)
        out = r.stdout.decode(errors="replace")
        check("+OK 3 " in out and "Logging out" in out,
              "s_client %s: %s %s" % (args[0], out, r.stderr[-500:]))
    # curl pop3:// and pop3s://
    for url, extra in (("pop3://127.0.0.1:%d/" % PORT, []),
                       ("pop3s://127.0.0.1:%d/" % PORTS, ["-k"]),
                       ("pop3://127.0.0.1:%d/" % PORT, ["--ssl-reqd", "-k"])):
        r = subprocess.run(["curl", "-s", "-S", "--max-time", "20",
                            "-u", "alice:" + PW] + extra + [url],
                           capture_output=True, timeout=30)
        first = "1 %d" % dump_msgs(inst)["msgs"][0]["size"]
        check(r.returncode == 0 and
              r.stdout.decode().split("\r\n")[0] == first,
              "curl %s: %r %r" % (url, r.stdout, r.stderr))
        r = subprocess.run(["curl", "-s", "-S", "--max-time", "20",
                            "-u", "alice:" + PW] + extra + [url + "2"],
                           capture_output=True, timeout=30)
        check(r.returncode == 0 and b"line 4 of two" in r.stdout,
              "curl RETR %s: %r %r" % (url, r.stdout, r.stderr))
    print("ok pop3s (poplib), openssl s_client STLS and implicit, curl "
          "pop3:// pop3s:// and STLS")


def test_dele(inst):
    # DELE + RSET keeps everything
    p = login()
    p.dele(1)
    check(p.stat()[0] == 2, "STAT after DELE")
    check(pop_err(p.retr, 1).startswith(b"-ERR"), "RETR of a deleted one")
    check(pop_err(p.dele, 1).startswith(b"-ERR"), "DELE twice")
    p.rset()
    check(p.stat()[0] == 3, "RSET")
    p.quit()
    check(len(dump_msgs(inst)["msgs"]) == 3, "RSET then QUIT deleted")
    # DELE then a dropped connection removes nothing
    r = Raw()
    r.cmd("USER alice")
    r.cmd("PASS " + PW)
    check(r.cmd("DELE 1").startswith(b"+OK"), "DELE")
    r.close()
    time.sleep(0.5)
    check(len(dump_msgs(inst)["msgs"]) == 3, "drop removed messages")
    # UIDL stable across sessions and after a deletion
    p = login()
    u1 = p.uidl()[1]
    p.quit()
    p = login()
    check(p.uidl()[1] == u1, "UIDL changed between sessions")
    p.dele(1)
    p.quit()
    d = dump_msgs(inst)
    check(len(d["msgs"]) == 2, "DELE+QUIT did not remove: %r" % d)
    p = login()
    u2 = p.uidl()[1]
    check([x.split()[1] for x in u2] == [x.split()[1] for x in u1[1:]],
          "UIDL after deletion: %r vs %r" % (u2, u1))
    p.quit()
    print("ok DELE/RSET, drop keeps, DELE+QUIT removes, UIDL stable")


def test_in_use(inst):
    a = login()
    r = Raw()
    r.cmd("USER alice")
    resp = r.cmd("PASS " + PW)
    expect_err(resp, "IN-USE", "second session")
    r.close()
    a.quit()
    b = login()
    b.quit()
    print("ok -ERR [IN-USE] for a second session")


def test_malformed(inst):
    r = Raw()
    expect_err(r.cmd("X" * 600), what="over-long line")
    expect_err(r.cmd("FOO"), what="unknown command")
    expect_err(r.cmd("US\0ER alice"), what="NUL")
    expect_err(r.cmd("USER " + "a" * 400), what="long user")
    check(r.cmd("NOOP").startswith(b"-ERR"), "NOOP before login")
    r.cmd("USER alice")
    check(r.cmd("PASS " + PW).startswith(b"+OK"), "login after junk")
    expect_err(r.cmd("X" * 5000), what="long line after login")
    check(r.cmd("STAT").startswith(b"+OK"), "usable after long line")
    r.close()
    # the error limit closes the connection
    r = Raw()
    resp = b""
    for i in range(12):
        resp = r.cmd("BAD%d" % i)
        if b"Too many" in resp:
            break
    check(b"Too many" in resp and r.line() == b"", "error limit: %r" % resp)
    r.close()
    # pipelining through the login: the commands after PASS are handed over
    r = Raw()
    r.send("USER alice\r\nPASS %s\r\nSTAT\r\nLIST 1\r\nQUIT\r\n" % PW)
    got = [r.line() for _ in range(5)]
    check(got[0].startswith(b"+OK") and got[1].startswith(b"+OK Logged") and
          got[2].startswith(b"+OK 2 ") and got[3].startswith(b"+OK 1 ") and
          got[4].startswith(b"+OK Logging out"), "pipelined: %r" % got)
    r.close()
    print("ok malformed input, limits, pipelining across the login")


def test_privsep(inst):
    if not ROOT:
        print("skip: privilege separation check needs root")
        return
    import pwd
    login_uid = pwd.getpwnam("zest-login").pw_uid
    vmail_uid = pwd.getpwnam("zest-vmail").pw_uid
    empty = os.path.join(inst.dir, "run", "empty")
    r = Raw()
    time.sleep(0.3)
    procs = daemon_procs(inst, "pop3d")
    pre = [p for p, i in procs.items() if i.uid == login_uid]
    check(len(pre) == 1, "pre-login process: %r" % procs)
    root, ppid = procs[pre[0]].root, procs[pre[0]].ppid
    check(root == empty, "pre-login root %r, want %r" % (root, empty))
    check(ppid in procs and procs[ppid].uid == 0,
          "checker not root: %r" % procs)
    r.cmd("USER alice")
    r.cmd("PASS " + PW)
    time.sleep(0.3)
    procs = daemon_procs(inst, "pop3d")
    sess = [p for p, i in procs.items() if b"-S" in i.cmd]
    check(len(sess) == 1, "session process: %r" % procs)
    check(procs[sess[0]].uid == vmail_uid,
          "session uid %r" % procs[sess[0]].uid)
    check(not [p for p, i in procs.items() if i.uid == login_uid],
          "pre-login still there without TLS: %r" % procs)
    r.cmd("QUIT")
    r.close()
    # with TLS the pre-login process stays as the relay, still zest-login
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p = poplib.POP3_SSL("127.0.0.1", PORTS, context=ctx, timeout=20)
    p.user("alice")
    p.pass_(PW)
    time.sleep(0.3)
    procs = daemon_procs(inst, "pop3d")
    relay = [i for i in procs.values() if i.uid == login_uid]
    sess = [i for i in procs.values() if b"-S" in i.cmd]
    check(len(relay) == 1 and relay[0].root == empty and len(sess) == 1 and
          sess[0].uid == vmail_uid, "TLS processes: %r" % procs)
    p.quit()
    print("ok pre-login runs as zest-login chrooted to run/empty, session "
          "as the mail user, checker as root")


def test_pop_before_smtp(inst):
    import smtplib
    s = smtplib.SMTP("127.0.0.1", BASE + 25, timeout=20)
    s.ehlo("test")
    s.mail("alice@localhost")
    code, _ = s.rcpt("someone@example.com")
    check(code >= 500, "relay allowed without POP-before-SMTP: %d" % code)
    s.quit()
    inst.set_conf("pop_before_smtp_minutes", "5")
    try:
        p = login()
        p.quit()
        pbs = os.path.join(inst.dir, "run", "pbs", "127.0.0.1")
        check(os.path.exists(pbs) and os.stat(pbs).st_mtime > time.time() +
              200, "POP-before-SMTP record")
        s = smtplib.SMTP("127.0.0.1", BASE + 25, timeout=20)
        s.ehlo("test")
        s.mail("alice@localhost")
        code, msg = s.rcpt("someone@example.com")
        check(code == 250, "relay after POP login: %d %r" % (code, msg))
        s.rset()
        s.quit()
        # an expired record no longer counts
        os.utime(pbs, (time.time() - 10, time.time() - 10))
        s = smtplib.SMTP("127.0.0.1", BASE + 25, timeout=20)
        s.ehlo("test")
        s.mail("alice@localhost")
        code, _ = s.rcpt("someone@example.com")
        check(code >= 500, "expired record still relays: %d" % code)
        s.quit()
    finally:
        inst.set_conf("pop_before_smtp_minutes", "0")
    print("ok POP-before-SMTP: off by default, relays while valid, expires")


def apop(user, pw):
    r = Raw()
    ts = re.search(rb"<[^>]+>", r.greeting)
    if ts is None:
        resp = r.cmd("APOP %s %s" % (user, "0" * 32))
    else:
        resp = r.cmd("APOP %s %s" % (user, hashlib.md5(
            ts.group(0) + pw.encode()).hexdigest()))
    r.close()
    return r.greeting, resp


def test_apop_admin(inst):
    secrets = os.path.join(inst.dir, "tables", "secrets")
    st = os.stat(secrets)
    check(st.st_mode & 0o777 == 0o600 and
          os.stat(secrets + ".cdb").st_mode & 0o777 == 0o600,
          "secrets table mode %o" % st.st_mode)
    check("carol" not in open(secrets).read(), "carol early")
    inst.useradd("carol", "c1")
    check(apop("carol", "c1")[1].startswith(b"+OK"), "APOP carol")
    r = inst.zest("passwd", "carol", "c2")
    check(r.returncode == 0, "passwd: %s" % r.stderr)
    expect_err(apop("carol", "c1")[1], "AUTH", "APOP old secret")
    check(apop("carol", "c2")[1].startswith(b"+OK"), "APOP new secret")
    r = inst.zest("userdel", "carol")
    check(r.returncode == 0 and "carol" not in open(secrets).read(),
          "userdel left the secret: %s" % r.stderr)
    inst.set_conf("pop3_apop", "no")
    try:
        g, resp = apop("alice", PW)
        check(b"<" not in g, "timestamp with APOP off: %r" % g)
        expect_err(resp, what="APOP when off")
    finally:
        inst.set_conf("pop3_apop", "yes")
    print("ok APOP secrets: mode 0600, passwd updates, userdel removes, "
          "pop3_apop = no")


def test_timeout(inst):
    inst.set_conf("pop3_timeout", "10s")
    try:
        pre = Raw()
        sess = Raw()
        sess.cmd("USER bob")
        check(sess.cmd("PASS bobpw").startswith(b"+OK"), "bob login")
        t0 = time.time()
        a, b = pre.line(), sess.line()
        took = time.time() - t0
        check(a.startswith(b"-ERR Autologout") and b.startswith(
              b"-ERR Autologout") and pre.line() == b"" and
              sess.line() == b"" and 8 <= took <= 20,
              "autologout: %r %r after %.1fs" % (a, b, took))
        pre.close()
        sess.close()
    finally:
        inst.set_conf("pop3_timeout", "10m")
    print("ok autologout after pop3_timeout, before and after login")


def main():
    inst = setup()
    try:
        test_greeting_capa(inst)
        test_listing_retr(inst)
        test_top_exact(inst)
        test_auth(inst)
        test_apop_admin(inst)
        test_failures(inst)
        test_plaintext_rule(inst)
        test_tls_clients(inst)
        test_in_use(inst)
        test_privsep(inst)
        test_dele(inst)
        test_malformed(inst)
        test_pop_before_smtp(inst)
        test_timeout(inst)
        st = inst.zest("status").stdout
        check(re.search(r"service pop3: running.*port %d" % PORT, st) and
              re.search(r"service pop3s: running.*port %d" % PORTS, st),
              "status: %s" % st)
    except BaseException:
        for f in ("pop3.log", "pop3s.log"):
            print(open(os.path.join(inst.dir, "log", f)).read()[-3000:])
        raise
    finally:
        r = inst.zest("stop")
        inst.cleanup()
    check(r.returncode == 0 and "pop3 stopped" in r.stdout and
          "pop3s stopped" in r.stdout, "stop: %s %s" % (r.stdout, r.stderr))
    print("ok pop3d")


main()
