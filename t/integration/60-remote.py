# SPDX-License-Identifier: ISC
"""remote: deliver to a fake SMTP server on loopback and check both the
result lines and what the server received (byte-exact bodies,
dot-stuffing, BDAT chunks, DSN parameters, STARTTLS, timeouts).  Then MX
lookups through dnsmasq (skipped when dnsmasq is missing)."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zesttest import BIN, Instance, check, fail  # noqa: E402


class FakeSMTP:
    """A scripted SMTP server.  Behaviour (attributes, changeable between
    runs): ext (EHLO keywords), greeting, mail, rcpt (function
    addr, count -> reply), data, final, hang, tls (ssl context: offer
    STARTTLS).  Every session is recorded in self.sessions."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reset()
        self.rcpt_count = 0
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def reset(self, **kw):
        self.ext = ["PIPELINING", "8BITMIME", "DSN", "SIZE 10000000",
                    "ENHANCEDSTATUSCODES"]
        self.greeting = "220 fake.test ESMTP"
        self.mail = "250 2.1.0 ok"
        self.rcpt = lambda addr, n: "250 2.1.5 ok"
        self.data = "354 go ahead"
        self.final = "250 2.0.0 queued as 42"
        self.hang = False
        self.tls = None
        self.sessions = []
        for k, v in kw.items():
            setattr(self, k, v)

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,),
                             daemon=True).start()

    def session(self, conn):
        s = {"cmds": [], "data": [], "bdat": [], "tls": False,
             "batched": []}
        self.sessions.append(s)
        conn.settimeout(30)
        self.conn, self.buf = conn, b""
        try:
            if self.hang:
                time.sleep(20)
                return
            self.send(self.greeting)
            self.loop(s)
        except (OSError, ssl.SSLError, ConnectionError):
            pass
        finally:
            try:
                self.conn.close()
            except OSError:
                pass

    def send(self, text):
        self.conn.sendall(text.encode() + b"\r\n")

    def readline(self):
        while b"\n" not in self.buf:
            d = self.conn.recv(65536)
            if not d:
                raise ConnectionError("eof")
            self.buf += d
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def readn(self, n):
        while len(self.buf) < n:
            d = self.conn.recv(65536)
            if not d:
                raise ConnectionError("eof")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def loop(self, s):
        while True:
            line = self.readline()
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            s["cmds"].append(cmd)
            # Commands that were already waiting behind this one.
            s["batched"].append(len(self.buf) > 0)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                lines = ["fake.test"] + self.ext + (["STARTTLS"] if
                                                    self.tls and not
                                                    s["tls"] else [])
                for i, l in enumerate(lines):
                    sep = " " if i == len(lines) - 1 else "-"
                    self.send("250" + sep + l)
            elif verb == "HELO":
                self.send("250 fake.test")
            elif verb == "STARTTLS":
                self.send("220 2.0.0 ready")
                self.conn = self.tls.wrap_socket(self.conn, server_side=True)
                s["tls"] = True
                self.buf = b""
            elif verb == "MAIL":
                self.send(self.mail)
            elif verb == "RCPT":
                self.rcpt_count += 1
                addr = cmd[cmd.index("<") + 1:cmd.index(">")]
                self.send(self.rcpt(addr, self.rcpt_count))
            elif verb == "DATA":
                self.send(self.data)
                if not self.data.startswith("354"):
                    continue
                body = b""
                while True:
                    l = self.readline()
                    if l == b".\r\n":
                        break
                    body += l
                s["data"].append(body)
                self.send(self.final)
            elif verb == "BDAT":
                parts = cmd.split()
                chunk = self.readn(int(parts[1]))
                last = len(parts) > 2 and parts[2].upper() == "LAST"
                s["bdat"].append((int(parts[1]), last, chunk))
                self.send(self.final if last else "250 2.0.0 chunk ok")
            elif verb == "RSET":
                self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.1 what")

    def close(self):
        self.stop = True
        self.sock.close()


def run_remote(inst, domain, env, msg, timeout=60):
    """Run remote -C inst DOMAIN with msg on fd 0 and env on fd 3."""
    d = tempfile.mkdtemp(prefix="zest-remote-", dir=inst.base)
    os.chmod(d, 0o755)
    ep, mp = os.path.join(d, "env"), os.path.join(d, "msg")
    open(ep, "w").write(env)
    open(mp, "wb").write(msg)
    os.chmod(ep, 0o644)
    os.chmod(mp, 0o644)
    with open(mp, "rb") as m:
        r = subprocess.run(["sh", "-c", 'exec "$0" -C "$1" "$2" 3<"$3"',
                            os.path.join(BIN, "remote"), inst.dir, domain,
                            ep], stdin=m, capture_output=True,
                           timeout=timeout)
    shutil.rmtree(d, ignore_errors=True)
    out = r.stdout.decode()
    check(r.returncode == 0, "remote exit %d: %s" % (r.returncode,
                                                     r.stderr.decode()))
    results, hosts = {}, []
    for line in out.splitlines():
        if line.startswith("H "):
            hosts.append(line[2:])
            continue
        n, code, status, text = (line.split(" ", 3) + [""])[:4]
        check(n.isdigit() and code.isdigit(), "bad result line %r" % line)
        check(int(n) not in results, "two results for %s: %r" % (n, out))
        results[int(n)] = (int(code), status, text)
    return r, results, hosts


def env_text(sender, rcpts, extra=""):
    """rcpts: [(addr, notify, orcpt)]"""
    out = "V1\nIabc.def.123\nF%s\n%s" % (sender, extra)
    for a, n, o in rcpts:
        out += "R%s\t%s\t%s\n" % (a, n, o)
    return out


def set_route(inst, value, key="example.net"):
    p = os.path.join(inst.dir, "tables", "routes")
    open(p, "w").write("# test routes\n" + ("" if value is None else
                                            "%s %s\n" % (key, value)))
    r = inst.zest("makemap", "routes")
    check(r.returncode == 0, "makemap: %s" % r.stderr)


MSG = (b"From: a@test.example\r\nTo: b@example.net\r\nSubject: t\r\n\r\n"
       b"line one\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n")
STUFFED = (b"From: a@test.example\r\nTo: b@example.net\r\nSubject: t\r\n\r\n"
           b"line one\r\n..starts with a dot\r\n...two dots\r\n..\r\nend\r\n")


def expect(results, n, code, status=None, text=None):
    check(n in results, "no result for %d: %r" % (n, results))
    c, s, t = results[n]
    check(c == code, "rcpt %d: code %d, expected %d (%s %s)" %
          (n, c, code, s, t))
    if status:
        check(s == status, "rcpt %d: status %s, expected %s (%s)" %
              (n, s, status, t))
    if text:
        check(text in t, "rcpt %d: %r not in %r" % (n, text, t))


def test_accept(inst, srv):
    srv.reset(rcpt=lambda a, n: "550 5.1.1 no such user" if a.startswith(
        "nobody") else "250 2.1.5 ok")
    env = env_text("a@test.example", [
        ("b@example.net", "SUCCESS,FAILURE", "rfc822;b@example.net"),
        ("nobody@example.net", "", "")], "XHDRS\nNenv+2Did\n")
    r, res, hosts = run_remote(inst, "example.net", env, MSG)
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
    expect(res, 0, 250, "2.0.0", "queued as 42")
    expect(res, 1, 550, "5.1.1", "no such user (in reply to RCPT TO")
    check(hosts == ["127.0.0.1[127.0.0.1]"], "hosts %r" % hosts)
    s = srv.sessions[-1]
    check(s["data"] == [STUFFED], "body %r" % s["data"])
    mail = [c for c in s["cmds"] if c.startswith("MAIL")][0]
    check(mail == "MAIL FROM:<a@test.example> SIZE=%d RET=HDRS "
          "ENVID=env+2Did" % len(MSG), "MAIL %r" % mail)
    rc = [c for c in s["cmds"] if c.startswith("RCPT")]
    check(rc == ["RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;b@example.net",
                 "RCPT TO:<nobody@example.net>"], "RCPT %r" % rc)
    # PIPELINING: MAIL came with the RCPTs behind it.
    i = s["cmds"].index(mail)
    check(s["batched"][i], "MAIL and RCPT not pipelined")
    check(s["cmds"][-1] == "QUIT", "no QUIT: %r" % s["cmds"])


def test_no_pipelining_no_dsn(inst, srv):
    srv.reset(ext=["8BITMIME"])
    env = env_text("", [("b@example.net", "SUCCESS", "rfc822;b@example.net"),
                        ("c@example.net", "", "")], "XFULL\n")
    r, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 250)
    expect(res, 1, 250)
    # NOTIFY=SUCCESS to a host without DSN: reported as relayed (RFC 3461)
    check(res[0][2].startswith("relayed: "), "not relayed: %r" % (res[0],))
    check(not res[1][2].startswith("relayed"), "relayed without NOTIFY")
    s = srv.sessions[-1]
    check(not any(s["batched"]), "pipelined without PIPELINING: %r" % s)
    check("MAIL FROM:<>" in s["cmds"], "null sender: %r" % s["cmds"])
    check("RCPT TO:<b@example.net>" in s["cmds"], "DSN params sent %r" %
          s["cmds"])


def test_retry(inst, srv):
    srv.reset(rcpt=lambda a, n: "450 4.2.0 mailbox busy")
    env = env_text("a@test.example", [("b@example.net", "", "")])
    _, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 450, "4.2.0", "mailbox busy")
    srv.reset()
    _, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 250, "2.0.0")


def test_mail_refused(inst, srv):
    srv.reset(mail="550 5.7.1 sender refused")
    env = env_text("a@test.example", [("b@example.net", "", ""),
                                      ("c@example.net", "", "")])
    _, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 550, "5.7.1", "sender refused (in reply to MAIL FROM")
    expect(res, 1, 550, "5.7.1")


def test_8bit(inst, srv):
    import quopri
    msg8 = MSG.replace(b"line one", b"caf\xc3\xa9")
    env = env_text("a@test.example", [("b@example.net", "", "")],
                   "B8BITMIME\n")
    srv.reset(ext=["PIPELINING"])
    # An 8-bit address in a header cannot be converted: 554 5.6.3, no
    # MAIL (62-remote-convert.py tests the conversions).
    hdr8 = b"Reply-To: caf\xc3\xa9@example.org\r\n" + msg8
    _, res, _ = run_remote(inst, "example.net", env, hdr8)
    expect(res, 0, 554, "5.6.3", "8BITMIME")
    check(not any(c.startswith("MAIL") for c in srv.sessions[-1]["cmds"]),
          "MAIL sent for an 8-bit message")
    # An 8-bit body is converted to quoted-printable (RFC 6152).
    _, res, _ = run_remote(inst, "example.net", env, msg8)
    expect(res, 0, 250)
    s = srv.sessions[-1]
    check("MAIL FROM:<a@test.example>" in s["cmds"], "%r" % s["cmds"])
    got = s["data"][0]
    check(all(b < 128 for b in got), "8-bit byte sent: %r" % got)
    head, _, body = got.partition(b"\r\n\r\n")
    check(b"Content-Transfer-Encoding: quoted-printable" in head,
          "no CTE field: %r" % head)
    want = STUFFED.replace(b"line one", b"caf\xc3\xa9").partition(
        b"\r\n\r\n")[2]
    check(quopri.decodestring(body) == want,
          "QP body %r does not decode to %r" % (body, want))
    # Declared 8BITMIME but 7-bit in fact: sent, without BODY=.
    _, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 250)
    check("MAIL FROM:<a@test.example>" in srv.sessions[-1]["cmds"],
          "%r" % srv.sessions[-1]["cmds"])
    srv.reset()
    _, res, _ = run_remote(inst, "example.net", env, msg8)
    expect(res, 0, 250)
    s = srv.sessions[-1]
    check(any("BODY=8BITMIME" in c for c in s["cmds"]), "%r" % s["cmds"])
    check(s["data"] == [STUFFED.replace(b"line one", b"caf\xc3\xa9")],
          "8-bit body changed")


def test_binary(inst, srv):
    # Over 1 MiB: two BDAT chunks.
    msgb = (b"Content-Type: application/octet-stream\r\n\r\n" +
            bytes(range(256)) * 4500 + b"\n.\r\n\x00end")
    env = env_text("a@test.example", [("b@example.net", "", "")],
                   "BBINARYMIME\n")
    # Without BINARYMIME: converted, base64 by DATA (see 62-remote-convert)
    srv.reset()
    _, res, _ = run_remote(inst, "example.net", env, msgb)
    expect(res, 0, 250)
    got = srv.sessions[-1]["data"][0]
    check(b"Content-Transfer-Encoding: base64\r\n" in got and
          all(b < 128 for b in got), "binary not converted: %r" % got[:200])
    srv.reset(ext=["PIPELINING", "BINARYMIME", "CHUNKING", "8BITMIME"])
    _, res, _ = run_remote(inst, "example.net", env, msgb)
    expect(res, 0, 250, "2.0.0", "BDAT LAST")
    s = srv.sessions[-1]
    check(s["data"] == [], "DATA used for BINARYMIME")
    got = b"".join(c for _, _, c in s["bdat"])
    check(got == msgb, "BDAT bytes differ (%d vs %d)" % (len(got),
                                                         len(msgb)))
    check(len(s["bdat"]) == 2 and s["bdat"][0][0] == 1024 * 1024,
          "chunks %r" % [(n, l) for n, l, _ in s["bdat"]])
    check(s["bdat"][-1][1] and all(not l for _, l, _ in s["bdat"][:-1]),
          "LAST only on the last chunk: %r" % [(n, l) for n, l, _ in
                                               s["bdat"]])
    check(any("BODY=BINARYMIME" in c for c in s["cmds"]), "%r" % s["cmds"])


def test_size(inst, srv):
    srv.reset(ext=["SIZE 20"])
    env = env_text("a@test.example", [("b@example.net", "", "")])
    _, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 552, "5.3.4", "limit 20")


def test_starttls(inst, srv):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(inst.dir, "tls", "cert.pem"),
                        os.path.join(inst.dir, "tls", "key.pem"))
    srv.reset(tls=ctx)
    env = env_text("a@test.example", [("b@example.net", "", "")])
    r, res, _ = run_remote(inst, "example.net", env, MSG)
    expect(res, 0, 250, "2.0.0")
    s = srv.sessions[-1]
    check(s["tls"], "no STARTTLS")
    check(s["cmds"][:3] == ["EHLO %s" % s["cmds"][0][5:], "STARTTLS",
                            s["cmds"][0]], "cmds %r" % s["cmds"][:3])
    check(s["data"] == [STUFFED], "body over TLS")


def test_timeout(inst, srv):
    inst.set_conf("smtp_timeout", "2s")
    srv.reset(hang=True)
    env = env_text("a@test.example", [("b@example.net", "", "")])
    t0 = time.time()
    _, res, _ = run_remote(inst, "example.net", env, MSG)
    secs = time.time() - t0
    expect(res, 0, 451, "4.4.2", "timed out")
    check(secs < 15, "timeout took %.1fs" % secs)
    inst.set_conf("smtp_timeout", "1m")


def test_refused(inst):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    set_route(inst, "127.0.0.1:%d" % port)
    env = env_text("a@test.example", [("b@example.net", "", "")])
    r, res, hosts = run_remote(inst, "example.net", env, MSG)
    check(r.returncode == 0, "exit %d" % r.returncode)
    expect(res, 0, 451, "4.4.1", "refused")
    check(hosts == [], "H line without a session: %r" % hosts)


def start_dnsmasq(base):
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(exe):
        return None, None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    args = [exe, "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=127.0.0.1", "--port=%d" % port,
            "--pid-file=" + os.path.join(base, "dnsmasq.pid"),
            "--local=/example/", "--user=" + ("root" if os.getuid() == 0
                                               else ""),
            "--mx-host=mxtest.example,mx1.mxtest.example,10",
            "--mx-host=mxtest.example,mx0.mxtest.example,5",
            "--host-record=mx1.mxtest.example,127.0.0.1",
            "--host-record=amx.example,127.0.0.1"]
    args = [a for a in args if a != "--user="]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    time.sleep(0.5)
    if p.poll() is not None:
        print("dnsmasq failed: %s" % p.stderr.read().decode())
        return None, None
    return p, port


def test_mx(inst, srv):
    p, port = start_dnsmasq(inst.base)
    if p is None:
        print("skip MX tests: no dnsmasq")
        return
    try:
        set_route(inst, None)
        inst.set_conf("dns_server", "127.0.0.1:%d" % port)
        inst.set_conf("smtp_port", str(srv.port))
        srv.reset()
        env = env_text("a@test.example", [("b@mxtest.example", "", "")])
        # mx0 (preference 5) has no address; mx1 takes the mail.
        r, res, hosts = run_remote(inst, "mxtest.example", env, MSG)
        check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
        expect(res, 0, 250, "2.0.0")
        check(hosts == ["mx1.mxtest.example[127.0.0.1]"], "hosts %r" % hosts)
        # No MX: the domain's own address.
        env = env_text("a@test.example", [("b@amx.example", "", "")])
        _, res, hosts = run_remote(inst, "amx.example", env, MSG)
        expect(res, 0, 250)
        check(hosts == ["amx.example[127.0.0.1]"], "hosts %r" % hosts)
        # No such domain.
        env = env_text("a@test.example", [("b@nx.example", "", "")])
        _, res, _ = run_remote(inst, "nx.example", env, MSG)
        expect(res, 0, 550, "5.1.2", "not found")
        # A route whose host does not resolve: try again later.
        set_route(inst, "nohost.example:%d" % srv.port, key="mxtest.example")
        _, res, _ = run_remote(inst, "mxtest.example", env, MSG)
        expect(res, 0, 451, "4.4.4", "route host nohost.example not found")
        # The default route, a smarthost, takes every domain.
        set_route(inst, "[127.0.0.1]:%d" % srv.port, key="*")
        env = env_text("a@test.example", [("b@nx.example", "", "")])
        _, res, hosts = run_remote(inst, "nx.example", env, MSG)
        expect(res, 0, 250)
        check(hosts == ["127.0.0.1[127.0.0.1]"], "hosts %r" % hosts)
        set_route(inst, None)
        # The MX is this host: a loop.
        inst.set_conf("hostname", "mx0.mxtest.example")
        env = env_text("a@test.example", [("b@mxtest.example", "", "")])
        _, res, _ = run_remote(inst, "mxtest.example", env, MSG)
        expect(res, 0, 554, "5.4.6", "loops back")
    finally:
        p.kill()
        p.wait()


def main():
    inst = Instance(domain="test.example")
    srv = FakeSMTP()
    try:
        inst.set_conf("log", "stderr")
        inst.set_conf("smtp_timeout", "1m")
        set_route(inst, "127.0.0.1:%d" % srv.port)
        for t in (test_accept, test_no_pipelining_no_dsn, test_retry,
                  test_mail_refused, test_8bit, test_binary, test_size,
                  test_starttls, test_timeout):
            print("==", t.__name__)
            t(inst, srv)
        print("== test_refused")
        test_refused(inst)
        print("== test_mx")
        test_mx(inst, srv)
    finally:
        srv.close()
        inst.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
