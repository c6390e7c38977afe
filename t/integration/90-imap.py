# SPDX-License-Identifier: ISC
"""imapd on a real instance (zest init / useradd / start): the login
(LOGIN, AUTHENTICATE PLAIN/LOGIN with and without SASL-IR, the plaintext
rule with LOGINDISABLED, STARTTLS, implicit TLS), the privilege separation
seen from /proc (as root), mailbox commands, FETCH bytes against the
delivered messages, STORE, SEARCH, COPY/MOVE/EXPUNGE, APPEND, CONDSTORE,
ESEARCH, updates seen by a second session and IDLE, and the error paths,
through Python's imaplib, a raw socket for exact bytes, curl imap:// and
openssl s_client."""
import base64
import imaplib
import os
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

IMAPD = os.path.join(BIN, "imapd")
if not os.access(IMAPD, os.X_OK):
    skip("no imapd in %s" % BIN)

BASE = 36000 + (os.getpid() % 40) * 50
PORT = BASE + 143
PORTS = BASE + 993
PW = "se cret"
ROOT = os.geteuid() == 0


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """An IMAP connection on a plain socket: exact bytes both ways."""

    def __init__(self, port=PORT, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        if tls:
            s = tls_ctx().wrap_socket(s)
        self.s = s
        self.f = s.makefile("rb")
        self.greeting = self.line()
        self.n = 0

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")   # callers pass bytes as chars
        self.s.sendall(data)

    def line(self):
        return self.f.readline(1 << 20)

    def read(self, n):
        return self.f.read(n)

    def response(self, tag):
        """Lines up to the tagged one; literals inlined.  Returns
        (untagged list of bytes, tagged line)."""
        out = []
        while True:
            ln = self.line()
            check(ln != b"", "connection closed waiting for %s: %r" %
                  (tag, out))
            while True:
                m = re.search(rb"\{(\d+)\}\r\n$", ln)
                if not m:
                    break
                ln += self.read(int(m.group(1)))
                ln += self.line()
            if ln.startswith(tag.encode() + b" "):
                return out, ln
            out.append(ln)

    def cmd(self, c):
        self.n += 1
        tag = "t%d" % self.n
        self.send("%s %s\r\n" % (tag, c))
        return self.response(tag)

    def ok(self, c, what=None):
        u, t = self.cmd(c)
        check(re.match(rb"t\d+ OK", t), "%s: %r %r" % (what or c, u, t))
        return u, t

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def login(user="alice", pw=PW):
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    m.login(user, pw)
    return m


def raw_login(user="alice", pw=PW):
    r = Raw()
    r.ok('LOGIN %s "%s"' % (user, pw))
    return r


def wire_of(inst, user, uid, box=None):
    d, _ = inst.dump(user if box is None else user + "/" + box)
    m = [x for x in d["msgs"] if x["uid"] == uid][0]
    path = os.path.join(inst.dir, "mail", user, *([] if box is None else
                                                   ["." + box]))
    data = open(os.path.join(path, m["file"]), "rb").read()
    return data if m["raw"] else data.replace(b"\n", b"\r\n")


MULTI = (
    "From: Ann Example <ann@example.org>\n"
    "To: alice@localhost, Bob <bob@example.net>\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?= report\n"
    "Date: Tue, 3 Mar 2026 10:00:00 +0100\n"
    "Message-ID: <m1@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
    "\n"
    "preamble\n"
    "--XX\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "The s=C3=A9ance word is hidden=\n"
    "away here.\n"
    "--XX\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    + base64.encodebytes("zebra crossing in base64\n".encode()).decode() +
    "--XX--\n")


def setup():
    inst = Instance(port_base=BASE)
    inst.set_conf("log", "stderr")
    inst.useradd("alice", PW)
    inst.useradd("bob", "bobpw")
    r = inst.deliver(MULTI, "-d", "alice")
    check(r.returncode == 0, "deliver 1: %r" % r.stderr)
    r = inst.deliver(message("two", 5), "-d", "alice")
    check(r.returncode == 0, "deliver 2: %r" % r.stderr)
    raw = (b"From: r@example.org\r\nSubject: raw\r\n\r\nbare\nLF here\r\n"
           b"last\r\n")
    r = inst.deliver(raw, "-w", "-d", "alice")
    check(r.returncode == 0, "deliver raw: %r" % r.stderr)
    r = inst.zest("start")
    check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))
    check("imap started" in r.stdout and "imaps started" in r.stdout,
          "start output: %s" % r.stdout)
    return inst


def test_greeting_login(inst):
    r = Raw()
    check(re.match(rb"\* OK \[CAPABILITY IMAP4rev1 [^\]]*AUTH=PLAIN",
                   r.greeting), "greeting %r" % r.greeting)
    u, t = r.ok("CAPABILITY")
    caps = u[0].split()
    for c in (b"IMAP4rev1", b"STARTTLS", b"AUTH=PLAIN", b"AUTH=LOGIN",
              b"LITERAL+", b"SASL-IR", b"ID"):
        check(c in caps, "pre-login caps lack %s: %r" % (c, caps))
    check(b"LOGINDISABLED" not in caps, "LOGINDISABLED on loopback")
    u, t = r.ok('ID ("name" "test")')
    check(u[0].startswith(b"* ID ("), "ID: %r" % u)
    r.ok("NOOP")
    u, t = r.cmd("SELECT INBOX")
    check(t.startswith(b"t4 BAD"), "SELECT before login: %r" % t)
    u, t = r.cmd('LOGIN alice "wrong"')
    check(b"NO [AUTHENTICATIONFAILED]" in t, "bad password: %r" % t)
    # a literal password, and a command pipelined behind the LOGIN
    r.send('a1 LOGIN alice {%d+}\r\n%s\r\na2 NOOP\r\n' % (len(PW), PW))
    u, t = r.response("a1")
    check(re.match(rb"a1 OK \[CAPABILITY IMAP4rev1 .*IDLE", t),
          "LOGIN literal: %r %r" % (u, t))
    u, t = r.response("a2")
    check(t.startswith(b"a2 OK"), "pipelined NOOP: %r" % t)
    u, t = r.cmd("LOGIN alice x")
    check(t.startswith(b"t6 BAD"), "LOGIN twice: %r" % t)
    u, t = r.ok("LOGOUT")
    check(u[0].startswith(b"* BYE"), "LOGOUT: %r" % u)
    r.close()
    # AUTHENTICATE PLAIN with SASL-IR, then without (a continuation)
    r = Raw()
    ir = base64.b64encode(b"\0alice\0" + PW.encode()).decode()
    r.ok("AUTHENTICATE PLAIN " + ir, "SASL-IR")
    r.close()
    r = Raw()
    r.send("a AUTHENTICATE PLAIN\r\n")
    check(r.line().startswith(b"+"), "no continuation")
    r.send(ir + "\r\n")
    u, t = r.response("a")
    check(t.startswith(b"a OK"), "AUTHENTICATE PLAIN: %r" % t)
    r.close()
    r = Raw()
    r.send("a AUTHENTICATE LOGIN\r\n")
    r.line()
    r.send(base64.b64encode(b"alice").decode() + "\r\n")
    r.line()
    r.send(base64.b64encode(PW.encode()).decode() + "\r\n")
    u, t = r.response("a")
    check(t.startswith(b"a OK"), "AUTHENTICATE LOGIN: %r" % t)
    r.close()
    r = Raw()
    r.send("a AUTHENTICATE PLAIN\r\n")
    r.line()
    r.send("*\r\n")
    u, t = r.response("a")
    check(t.startswith(b"a BAD"), "cancelled AUTHENTICATE: %r" % t)
    u, t = r.cmd("AUTHENTICATE CRAM-MD5")
    check(t.startswith(b"t1 NO"), "unknown mechanism: %r" % t)
    r.close()
    r = Raw()
    t0 = time.time()
    for i in range(2):
        u, t = r.cmd('LOGIN alice "bad%d"' % i)
        check(b"NO [AUTHENTICATIONFAILED]" in t, "failure %d: %r" % (i, t))
    r.send('x LOGIN alice "bad3"\r\n')
    ln = r.line()
    check(ln.startswith(b"* BYE") and r.line() == b"" and
          time.time() - t0 >= 2, "third failure: %r after %.1fs" %
          (ln, time.time() - t0))
    r.close()
    m = login("alice@localhost")
    m.logout()
    print("ok greeting, CAPABILITY, ID, LOGIN (literal, pipelined, failures "
          "delayed and limited), AUTHENTICATE PLAIN/LOGIN with and without "
          "SASL-IR")


def test_plaintext_rule(inst):
    inst.set_conf("login_local_plaintext", "no")
    try:
        r = Raw()
        u, t = r.ok("CAPABILITY")
        caps = u[0].split()
        check(b"LOGINDISABLED" in caps and b"STARTTLS" in caps and
              b"AUTH=PLAIN" not in caps, "caps: %r" % caps)
        u, t = r.cmd('LOGIN alice "%s"' % PW)
        check(b"NO [PRIVACYREQUIRED]" in t, "LOGIN without TLS: %r" % t)
        u, t = r.cmd("AUTHENTICATE PLAIN " + base64.b64encode(
            b"\0alice\0" + PW.encode()).decode())
        check(t.startswith(b"t3 NO"), "AUTHENTICATE without TLS: %r" % t)
        r.close()
        m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
        m.starttls(tls_ctx())
        check("LOGINDISABLED" not in m.capabilities and
              "AUTH=PLAIN" in m.capabilities, "caps after STARTTLS %r" %
              (m.capabilities,))
        m.login("alice", PW)
        typ, d = m.select("INBOX")
        check(typ == "OK" and d[0] == b"3", "SELECT over STARTTLS %r" % d)
        m.logout()
        m = imaplib.IMAP4_SSL("127.0.0.1", PORTS, ssl_context=tls_ctx(),
                              timeout=20)
        m.login("alice", PW)
        check(m.select("INBOX")[1][0] == b"3", "imaps SELECT")
        typ, d = m.fetch("2", "(BODY.PEEK[])")
        check(d[0][1] == wire_of(inst, "alice", 2), "imaps FETCH bytes")
        m.logout()
        r = subprocess.run(["openssl", "s_client", "-quiet", "-starttls",
                            "imap", "-connect", "127.0.0.1:%d" % PORT],
                           input=('a LOGIN alice "%s"\r\nb SELECT INBOX\r\n'
                                  'c LOGOUT\r\n' % PW).encode(),
                           capture_output=True, timeout=30)
        check(b"b OK [READ-WRITE]" in r.stdout, "s_client: %r" % r.stdout)
    finally:
        inst.set_conf("login_local_plaintext", "yes")
    print("ok plaintext refused without TLS (LOGINDISABLED), STARTTLS, "
          "implicit TLS, openssl s_client")


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
    procs = daemon_procs(inst, "imapd")
    pre = [p for p, i in procs.items() if i.uid == login_uid]
    check(len(pre) == 1 and procs[pre[0]].root == empty,
          "pre-login process: %r" % procs)
    r.ok('LOGIN alice "%s"' % PW)
    time.sleep(0.3)
    procs = daemon_procs(inst, "imapd")
    sess = [i for i in procs.values() if b"-S" in i.cmd]
    check(len(sess) == 1 and sess[0].uid == vmail_uid,
          "session process: %r" % procs)
    r.ok("LOGOUT")
    r.close()
    print("ok pre-login as zest-login chrooted, session as the mail user")


def test_mailboxes(inst):
    r = raw_login()
    u, t = r.ok('LIST "" "*"')
    names = {}
    for ln in u:
        m = re.match(rb'\* LIST \(([^)]*)\) "\." (.*)\r\n', ln)
        check(m, "LIST line %r" % ln)
        names[m.group(2)] = m.group(1).split()
    for n, a in (("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"),
                 ("Trash", b"\\Trash"), ("Junk", b"\\Junk"),
                 ("Archive", b"\\Archive")):
        check(a in names.get(n.encode(), []), "special use %s: %r" %
              (n, names))
    check(b"INBOX" in names, "INBOX listed")
    u, t = r.ok('LIST "" ""')
    check(u == [b'* LIST (\\Noselect) "." ""\r\n'], "LIST root: %r" % u)
    u, t = r.ok('LSUB "" "*"')
    check(len(u) == 6, "LSUB after first login: %r" % u)
    r.ok("CREATE Work.Projects.Zest")
    u, t = r.cmd("CREATE Work.Projects.Zest")
    check(b"NO [ALREADYEXISTS]" in t, "CREATE twice: %r" % t)
    u, t = r.ok('LIST "" "Work.%"')
    check(u == [b'* LIST (\\Noselect \\HasChildren) "." Work.Projects\r\n'],
          "LIST %%: %r" % u)
    u, t = r.ok('LIST "Work." "*"')
    check(sorted(u) == [b'* LIST (\\HasNoChildren) "." Work.Projects.Zest'
                        b'\r\n', b'* LIST (\\Noselect \\HasChildren) "." '
                        b'Work.Projects\r\n'], "LIST ref: %r" % u)
    r.ok("CREATE Work")
    u, t = r.ok('LIST "" "Work"')
    check(b"\\HasChildren" in u[0] and b"Noselect" not in u[0],
          "Work now selectable: %r" % u)
    # modified UTF-7: a valid name, and a bad one
    r.ok("CREATE Caf&AOk-")
    check(os.path.isdir(os.path.join(inst.dir, "mail", "alice",
                                     ".Caf&AOk-")), "mUTF-7 folder")
    u, t = r.cmd("CREATE Caf\xe9".encode("latin-1").decode("latin-1"))
    check(t.startswith(b"t") and (b" NO " in t or b" BAD " in t),
          "8-bit name: %r" % t)
    u, t = r.cmd("CREATE &Jjo")
    check(b" NO " in t, "bad mUTF-7: %r" % t)
    u, t = r.cmd("CREATE a..b")
    check(b" NO " in t, "empty level: %r" % t)
    u, t = r.cmd("CREATE")
    check(b" BAD " in t, "CREATE without name: %r" % t)
    r.ok("RENAME Work Job")
    u, t = r.ok('LIST "" "Job*"')
    got = sorted(re.search(rb'"\." (\S+)\r\n', x).group(1) for x in u)
    check(got == [b"Job", b"Job.Projects", b"Job.Projects.Zest"], "RENAME tree: %r" % u)
    u, t = r.cmd("RENAME Nope Other")
    check(b"NO [NONEXISTENT]" in t, "RENAME missing: %r" % t)
    u, t = r.cmd("RENAME Job Sent")
    check(b"NO [ALREADYEXISTS]" in t, "RENAME onto existing: %r" % t)
    r.ok("SUBSCRIBE Job")
    u, t = r.ok('LSUB "" "Jo*"')
    check(u == [b'* LSUB () "." Job\r\n'], "LSUB: %r" % u)
    r.ok("UNSUBSCRIBE Job")
    u, t = r.ok('LSUB "" "Jo*"')
    check(u == [], "LSUB after UNSUBSCRIBE: %r" % u)
    r.ok("DELETE Job.Projects.Zest")
    u, t = r.cmd("DELETE Job.Projects.Zest")
    check(b"NO [NONEXISTENT]" in t, "DELETE twice: %r" % t)
    u, t = r.cmd("DELETE INBOX")
    check(b" NO " in t, "DELETE INBOX: %r" % t)
    u, t = r.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT "
                "HIGHESTMODSEQ)")
    for item in (rb"MESSAGES 3", rb"UIDNEXT 4", rb"UIDVALIDITY \d+",
                 rb"UNSEEN 3", rb"RECENT 0", rb"HIGHESTMODSEQ \d+"):
        check(re.search(rb"[( ]" + item + rb"[ )]", u[0]) and
              u[0].startswith(b"* STATUS INBOX ("), "STATUS %s: %r" %
              (item, u))
    u, t = r.cmd("STATUS INBOX (BOGUS)")
    check(b" BAD " in t, "STATUS item: %r" % t)
    u, t = r.cmd("STATUS Nope (MESSAGES)")
    check(b" NO " in t, "STATUS missing: %r" % t)
    u, t = r.ok("NAMESPACE")
    check(u == [b'* NAMESPACE (("" ".")) NIL NIL\r\n'], "NAMESPACE %r" % u)
    u, t = r.ok("ENABLE CONDSTORE")
    check(u == [b"* ENABLED CONDSTORE\r\n"], "ENABLE: %r" % u)
    r.ok("LOGOUT")
    print("ok LIST/LSUB (%, *, \\Noselect, children, special use), CREATE, "
          "DELETE, RENAME, SUBSCRIBE, STATUS, NAMESPACE, ENABLE, names")


def test_fetch(inst):
    m = login()
    typ, d = m.select("INBOX", readonly=True)
    check(d == [b"3"], "EXAMINE: %r" % d)
    check(b"READ-ONLY" in m.untagged_responses.get("READ-ONLY", [b""])[0]
          or "READ-ONLY" in m.untagged_responses, "READ-ONLY %r" %
          m.untagged_responses)
    for uid in (1, 2, 3):
        typ, d = m.fetch(str(uid), "(BODY[])")
        check(d[0][1] == wire_of(inst, "alice", uid),
              "BODY[] of %d: %r" % (uid, d[0][1][:200]))
    typ, d = m.fetch("1", "(FLAGS)")
    check(b"\\Seen" not in d[0], "EXAMINE must not set \\Seen: %r" % d)
    m.close()
    m.select("INBOX")
    w = wire_of(inst, "alice", 1)
    hdr, body = w.split(b"\r\n\r\n", 1)
    typ, d = m.fetch("1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] FLAGS)")
    check(d[0][1] == hdr + b"\r\n\r\n" and d[1][1] == body,
          "HEADER/TEXT: %r" % d)
    check(b"\\Seen" not in d[2], "PEEK set \\Seen: %r" % d)
    typ, d = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
    check(d[0][1] == b"From: Ann Example <ann@example.org>\r\nSubject: "
          b"=?UTF-8?Q?caf=C3=A9?= report\r\n\r\n", "FIELDS: %r" % d)
    check(b"BODY[HEADER.FIELDS (SUBJECT FROM)]" in d[0][0], "label %r" % d)
    typ, d = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM TO "
                          "DATE MESSAGE-ID MIME-VERSION CONTENT-TYPE "
                          "DELIVERED-TO)])")
    check(d[0][1] == b"\r\n", "FIELDS.NOT: %r" % d)
    typ, d = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2])")
    check(d[0][1] == b"The s=C3=A9ance word is hidden=\r\naway here.",
          "BODY[1]: %r" % d[0][1])
    check(d[1][1].startswith(b"Content-Type: text/plain; charset=utf-8"),
          "BODY[1.MIME]: %r" % d[1][1])
    check(base64.b64decode(d[2][1]) == b"zebra crossing in base64\n",
          "BODY[2]: %r" % d[2][1])
    typ, d = m.fetch("1", "(BODY.PEEK[]<5.10>)")
    check(d[0][1] == w[5:15] and b"BODY[]<5>" in d[0][0],
          "partial: %r" % d)
    typ, d = m.fetch("1", "(BODY.PEEK[9])")
    check(b"BODY[9] NIL" in d[0], "missing part: %r" % d)
    typ, d = m.fetch("1", "(ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE "
                          "UID)")
    check(b'ENVELOPE ("Tue, 3 Mar 2026 10:00:00 +0100" "=?UTF-8?Q?caf=C3'
          b'=A9?= report" (("Ann Example" NIL "ann" "example.org"))' in d[0]
          and b'BODYSTRUCTURE (("TEXT" "PLAIN"' in d[0] and
          (b"RFC822.SIZE %d" % len(w)) in d[0] and b"UID 1" in d[0],
          "ENVELOPE etc: %r" % d)
    typ, d = m.fetch("2", "(RFC822.HEADER)")
    w2 = wire_of(inst, "alice", 2)
    check(d[0][1] == w2.split(b"\r\n\r\n")[0] + b"\r\n\r\n",
          "RFC822.HEADER: %r" % d)
    typ, d = m.fetch("2", "(BODY[TEXT])")
    check(d[0][1] == w2.split(b"\r\n\r\n", 1)[1] and b"\\Seen" in d[-1]
          if isinstance(d[-1], bytes) else d[0][0], "BODY[TEXT] %r" % d)
    typ, d = m.fetch("2", "(FLAGS)")
    check(b"\\Seen" in d[0], "BODY[TEXT] sets \\Seen: %r" % d)
    typ, d = m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[TEXT])")
    check(d[0][1] == d[1][1] == w2.split(b"\r\n\r\n", 1)[1],
          "BODY[1] of a single-part message: %r" % d)
    typ, d = m.fetch("1:*", "FAST")
    check(len(d) == 3 and b"RFC822.SIZE" in d[2], "FAST: %r" % d)
    typ, d = m.uid("FETCH", "2:*", "(FLAGS)")
    check(len(d) == 2 and b"UID 2" in d[0], "UID FETCH: %r" % d)
    r = raw_login()
    r.ok("SELECT INBOX")
    u, t = r.cmd("FETCH 9 FLAGS")
    check(b" BAD " in t, "FETCH beyond EXISTS: %r" % t)
    u, t = r.cmd("FETCH 1 (FLAGS BOGUS)")
    check(b" BAD " in t, "unknown item: %r" % t)
    u, t = r.cmd("FETCH 1 BODY[1.MIME")
    check(b" BAD " in t, "unclosed section: %r" % t)
    u, t = r.ok("UID FETCH 100:200 FLAGS")
    check(u == [], "UID FETCH nothing: %r" % u)
    r.ok("LOGOUT")
    m.logout()
    print("ok FETCH: BODY[] bytes as delivered (text and raw), sections, "
          "HEADER.FIELDS(.NOT), MIME, partial, ENVELOPE, BODYSTRUCTURE, "
          "\\Seen rules, errors")


def test_store_search(inst):
    r = raw_login()
    r.ok("SELECT INBOX")
    u, t = r.ok("STORE 1 +FLAGS (\\Flagged $Forwarded $MDNSent Custom)")
    check(re.match(rb"\* 1 FETCH \(FLAGS \([^)]*\\Flagged \$Forwarded "
                   rb"\$MDNSent Custom", u[0]), "STORE: %r" % u)
    check(any(x.startswith(b"* FLAGS (") and b" Custom" in x for x in u) and
          any(b"PERMANENTFLAGS (" in x and b"Custom \\*)" in x for x in u),
          "FLAGS after a new keyword: %r" % u)
    u, t = r.ok("STORE 1:2 +FLAGS.SILENT (\\Answered)")
    check(u == [], ".SILENT: %r" % u)
    u, t = r.ok("STORE 2 -FLAGS (\\Answered)")
    check(b"\\Answered" not in u[0], "-FLAGS %r" % u)
    u, t = r.ok("UID STORE 3 FLAGS (\\Draft)")
    check(re.search(rb"\* 3 FETCH \(UID 3 FLAGS \(\\Draft( \\Recent)?\)\)",
                    u[0]), "FLAGS replace %r" % u)
    u, t = r.cmd("STORE 1 +FLAGS (\\Bogus)")
    check(b" BAD " in t, "unknown system flag: %r" % t)
    u, t = r.cmd("STORE 1 FROB (\\Seen)")
    check(b" BAD " in t, "bad STORE op: %r" % t)

    def search(q, want, uid=False):
        u, t = r.ok(("UID " if uid else "") + "SEARCH " + q)
        u = [x for x in u if x.startswith(b"* SEARCH")]
        got = [int(x) for x in u[0].split()[2:]] if u else None
        check(got == want, "SEARCH %s: %r, want %r" % (q, u, want))
    search("ALL", [1, 2, 3])
    search("FLAGGED", [1])
    search("KEYWORD $MDNSent", [1])
    search("KEYWORD $Forwarded", [1])
    search("UNKEYWORD Custom", [2, 3])
    search("KEYWORD Nothing", [])
    search("ANSWERED", [1])
    search("DRAFT", [3])
    search("FROM ann", [1])
    u, t = r.cmd("SEARCH SUBJECT café".encode().decode("latin-1"))
    check(b" BAD " in t, "8-bit atom: %r" % t)
    search("CHARSET UTF-8 SUBJECT {5}\r\ncaf\xc3\xa9".encode("latin-1")
           .decode("latin-1"), [1])
    search("CHARSET UTF-8 BODY {7}\r\ns\xc3\xa9ance".encode("latin-1")
           .decode("latin-1"), [1])
    search("BODY zebra", [1])
    search("TEXT example.org", [1, 2, 3])
    search("TEXT zebra", [1])
    search("OR FROM ann SUBJECT raw", [1, 3])
    search("NOT FROM ann", [2, 3])
    search("2:* NOT DRAFT", [2])
    search("UID 1,3", [1, 3])
    search("LARGER 10000", [])
    search("SMALLER 100000 SINCE 1-Jan-2020", [1, 2, 3])
    search("BEFORE 1-Jan-2020", [])
    search("SENTON 3-Mar-2026", [1])
    search("HEADER Message-ID m1@", [1])
    search("(FROM ann) (SUBJECT report)", [1])
    search("1:* UID 2:*", [2, 3], uid=True)
    u, t = r.cmd("SEARCH CHARSET KOI8-R FROM x")
    check(b"NO [BADCHARSET" in t, "BADCHARSET: %r" % t)
    u, t = r.cmd("SEARCH FROBNICATE")
    check(b" BAD " in t, "unknown key: %r" % t)
    u, t = r.cmd("SEARCH BEFORE 32-Jan-2020")
    check(b" BAD " in t, "bad date: %r" % t)
    u, t = r.ok("SEARCH RETURN (MIN MAX COUNT) ALL")
    check(u == [b'* ESEARCH (TAG "t%d") MIN 1 MAX 3 COUNT 3\r\n' % r.n],
          "ESEARCH: %r" % u)
    u, t = r.ok("UID SEARCH RETURN () FLAGGED")
    check(u == [b'* ESEARCH (TAG "t%d") UID ALL 1\r\n' % r.n],
          "ESEARCH ALL: %r" % u)
    r.ok("LOGOUT")
    print("ok STORE (+/-, .SILENT, keywords, $Forwarded), SEARCH keys, "
          "CHARSET, QP/base64 body search, ESEARCH, errors")


def test_condstore(inst):
    r = raw_login()
    r.ok("ENABLE CONDSTORE")
    u, t = r.ok("SELECT INBOX")
    hm = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(u)).group(1))
    u, t = r.ok("FETCH 1:* (MODSEQ)")
    mods = [int(re.search(rb"MODSEQ \((\d+)\)", x).group(1)) for x in u]
    check(len(mods) == 3 and max(mods) == hm, "MODSEQ %r %d" % (u, hm))
    u, t = r.ok("STORE 2 +FLAGS (\\Flagged)")
    new = int(re.search(rb"MODSEQ \((\d+)\)", u[0]).group(1))
    check(new > hm, "STORE bumps MODSEQ %r" % u)
    u, t = r.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % hm)
    check(len(u) == 1 and u[0].startswith(b"* 2 FETCH"), "CHANGEDSINCE %r"
          % u)
    u, t = r.ok("STORE 1,2 (UNCHANGEDSINCE %d) +FLAGS (\\Deleted)" % hm)
    check(b"[MODIFIED 2]" in t and len(u) == 1 and
          u[0].startswith(b"* 1 FETCH"), "UNCHANGEDSINCE: %r %r" % (u, t))
    r.ok("STORE 1 -FLAGS (\\Deleted)")
    u, t = r.ok("STORE 1:2 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
    check(b"[MODIFIED 1:2]" in t and u == [], "UNCHANGEDSINCE 0: %r %r" %
          (u, t))
    u, t = r.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 0)")
    check(re.match(rb"t\d+ BAD .*CHANGEDSINCE", t),
          "CHANGEDSINCE 0: %r" % t)
    u, t = r.cmd("FETCH 1:* (FLAGS) (NOSUCHMOD 5)")
    check(re.match(rb"t\d+ BAD .*modifier", t), "unknown modifier: %r"
          % t)
    u, t = r.ok("SEARCH MODSEQ %d" % new)
    check(re.match(rb"\* SEARCH 1 2 \(MODSEQ \d+\)", u[0]), "SEARCH MODSEQ "
          "%r" % u)
    r.ok("LOGOUT")
    print("ok CONDSTORE: MODSEQ, HIGHESTMODSEQ, CHANGEDSINCE, "
          "UNCHANGEDSINCE/MODIFIED, SEARCH MODSEQ")


def test_copy_move_append(inst):
    r = raw_login()
    r.ok("SELECT INBOX")
    u, t = r.ok("COPY 1:2 Archive")
    check(re.search(rb"\[COPYUID \d+ 1:2 1:2\]", t), "COPYUID %r" % t)
    u, t = r.cmd("COPY 1 Nowhere")
    check(b"NO [TRYCREATE]" in t, "TRYCREATE: %r" % t)
    m = login()
    m.select("Archive")
    typ, d = m.fetch("1", "(FLAGS BODY.PEEK[])")
    check(b"$MDNSent" in d[0][0] and b"Custom" in d[0][0] and
          d[0][1] == wire_of(inst, "alice", 1), "copied %r" % d[0][0])
    typ, d = m.search(None, "KEYWORD", "Custom")
    check(d == [b"1"], "keyword in the copy searchable: %r" % d)
    m.logout()
    u, t = r.ok("UID MOVE 3 Trash")
    check(any(re.match(rb"\* OK \[COPYUID \d+ 3 1\]", x) for x in u) and
          b"* 3 EXPUNGE\r\n" in u, "MOVE: %r" % u)
    u, t = r.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    u, t = r.ok("UID EXPUNGE 1")
    check(u == [], "UID EXPUNGE of an undeleted UID: %r" % u)
    u, t = r.ok("EXPUNGE")
    check(u == [b"* 2 EXPUNGE\r\n"], "EXPUNGE: %r" % u)
    # APPEND: flags, date, APPENDUID; a LITERAL+ literal; a big one
    msg = b"From: me@example.org\r\nSubject: appended\r\n\r\nbody\r\n"
    r.n += 1
    tag = "t%d" % r.n
    r.send('%s APPEND INBOX (\\Seen Kw1) "05-Feb-2025 10:11:12 +0200" '
           '{%d+}\r\n' % (tag, len(msg)) + msg.decode() + "\r\n")
    u, t = r.response(tag)
    mm = re.search(rb"\[APPENDUID (\d+) (\d+)\]", t)
    check(mm, "APPEND: %r %r" % (u, t))
    uid = int(mm.group(2))
    u, t = r.ok("UID FETCH %d (FLAGS INTERNALDATE BODY.PEEK[])" % uid)
    check(b'INTERNALDATE "05-Feb-2025' in u[-1] or
          b"INTERNALDATE" in b"".join(u), "appended %r" % u)
    check(msg in b"".join(u) and b"Kw1" in b"".join(u) and
          b"\\Seen" in b"".join(u), "appended message %r" % u)
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 5000
    m = login()
    typ, d = m.append("Archive", None, None, big)
    check(typ == "OK", "big APPEND %r" % d)
    m.select("Archive")
    typ, d = m.fetch("3", "(RFC822.SIZE BODY.PEEK[])")
    check(d[0][1] == big, "big message bytes")
    typ, d = m.append("Nowhere", None, None, b"x\r\n\r\ny\r\n")
    check(typ == "NO" and b"TRYCREATE" in d[0], "APPEND TRYCREATE %r" % d)
    r.send("a APPEND INBOX {999999999999}\r\n")
    u, t = r.response("a")
    check(t.startswith(b"a NO [TOOBIG]") or t.startswith(b"a BAD"),
          "huge literal: %r" % t)
    u, t = r.ok("NOOP")
    m.logout()
    # RENAME INBOX moves the messages and leaves INBOX empty
    r.ok("UNSELECT")
    n = len(inst.dump("alice")[0]["msgs"])
    r.ok("RENAME INBOX Old")
    u, t = r.ok("STATUS Old (MESSAGES)")
    check(b"MESSAGES %d" % n in u[0], "RENAME INBOX: %r" % u)
    u, t = r.ok("STATUS INBOX (MESSAGES)")
    check(b"MESSAGES 0" in u[0], "INBOX emptied: %r" % u)
    r.ok("LOGOUT")
    print("ok COPY/MOVE (COPYUID, keywords kept), EXPUNGE, UID EXPUNGE, "
          "APPEND (flags, date, LITERAL+, 5 MB, APPENDUID, TRYCREATE), "
          "RENAME INBOX")


def test_qresync(inst):
    a = raw_login()
    u, t = a.ok("ENABLE QRESYNC")
    check(u == [b"* ENABLED QRESYNC\r\n"], "ENABLE QRESYNC: %r" % u)
    u, t = a.ok("SELECT Old")
    j = b"".join(u)
    uv = int(re.search(rb"UIDVALIDITY (\d+)", j).group(1))
    hm = int(re.search(rb"HIGHESTMODSEQ (\d+)", j).group(1))
    u, t = a.ok("UID FETCH 1:* (UID)")
    uids = [int(re.search(rb"UID (\d+)", x).group(1)) for x in u]
    check(len(uids) >= 2, "Old has messages: %r" % u)
    b = raw_login()
    b.ok("SELECT Old")
    b.ok("STORE 1 +FLAGS (QrKw)")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    u, t = a.ok("NOOP")
    check(b"* VANISHED %d\r\n" % uids[1] in u and
          not any(b"EXPUNGE" in x for x in u) and
          any(re.match(rb"\* 1 FETCH \(UID %d FLAGS \([^)]*QrKw"
                       rb"[^)]*\) MODSEQ \(\d+\)\)" % uids[0], x)
              for x in u), "QRESYNC updates: %r" % u)
    c = raw_login()
    u, t = c.cmd("SELECT Old (QRESYNC (%d %d))" % (uv, hm))
    check(b" BAD " in t, "QRESYNC without ENABLE: %r" % t)
    c.ok("ENABLE QRESYNC")
    u, t = c.ok("SELECT Old (QRESYNC (%d %d 1:*))" % (uv, hm))
    check(b"* VANISHED (EARLIER) %d\r\n" % uids[1] in u and
          any(re.match(rb"\* 1 FETCH \(UID %d FLAGS" % uids[0], x)
              for x in u), "SELECT QRESYNC: %r" % u)
    u, t = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hm)
    check(u[0] == b"* VANISHED (EARLIER) %d\r\n" % uids[1] and len(u) == 2
          and u[1].startswith(b"* 1 FETCH (UID %d" % uids[0]),
          "UID FETCH VANISHED: %r" % u)
    u, t = c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hm)
    check(b" BAD " in t, "VANISHED without UID: %r" % t)
    u, t = c.ok("SELECT Old (QRESYNC (%d %d))" % (uv + 1, hm))
    check(not any(b"VANISHED" in x for x in u), "other UIDVALIDITY %r" % u)
    for x in (a, b, c):
        x.ok("LOGOUT")
    print("ok QRESYNC: ENABLE, VANISHED updates, SELECT (QRESYNC ...) with "
          "VANISHED (EARLIER) from the tombstones, UID FETCH VANISHED")


def test_expunge_many(inst):
    a = raw_login()
    b = raw_login()
    a.ok("CREATE Many")
    for i in range(5):
        a.ok("APPEND Many {%d+}\r\nSubject: m%d\r\n\r\nx\r\n" %
             (len("Subject: m%d\r\n\r\nx\r\n" % i), i))
    a.ok("SELECT Many")
    b.ok("SELECT Many")
    a.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    u, t = a.ok("EXPUNGE")
    check(u == [b"* 4 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"], "own EXPUNGE: %r"
          % u)
    u, t = b.ok("NOOP")
    ex = [x for x in u if x.endswith(b"EXPUNGE\r\n")]
    check(ex == [b"* 2 EXPUNGE\r\n", b"* 3 EXPUNGE\r\n"],
          "other session's EXPUNGEs: %r" % u)
    u, t = b.ok("FETCH 1:* (UID)")
    check([int(re.search(rb"UID (\d+)", x).group(1)) for x in u] ==
          [1, 3, 5], "view after expunges: %r" % u)
    a.ok("LOGOUT")
    b.ok("LOGOUT")
    print("ok EXPUNGE of several messages: numbers right in both sessions")


def test_lazy_view(inst):
    """A SELECT reads no record list; expunges by another session before
    the view is first needed (the index compacted meanwhile) still come
    out right, from the tombstones."""
    a = raw_login()
    c = raw_login()
    a.ok("CREATE Lazy")
    for i in range(8):
        m = "Subject: l%d\r\n\r\nx\r\n" % i
        a.ok("APPEND Lazy {%d+}\r\n%s" % (len(m), m))
    u, t = c.ok("SELECT Lazy")
    check(b"* 8 EXISTS\r\n" in u, "SELECT Lazy: %r" % u)
    a.ok("SELECT Lazy")
    a.ok("STORE 1:6 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    u, t = c.ok("FETCH 1:* (UID)")
    check(u == [b"* 7 FETCH (UID 7)\r\n", b"* 8 FETCH (UID 8)\r\n"],
          "FETCH with expunged ghosts: %r" % u)
    u, t = c.ok("NOOP")
    check(u == [b"* 1 EXPUNGE\r\n"] * 6, "late EXPUNGEs: %r" % u)
    u, t = c.ok("FETCH 1:* (UID)")
    check(u == [b"* 1 FETCH (UID 7)\r\n", b"* 2 FETCH (UID 8)\r\n"],
          "FETCH after: %r" % u)
    a.ok("LOGOUT")
    c.ok("LOGOUT")
    print("ok lazy view: expunges before the first use reported from the "
          "tombstones")


def test_close_unselect(inst):
    r = raw_login()
    r.ok("CREATE Shut")
    for i in range(3):
        m = "Subject: c%d\r\n\r\nx\r\n" % i
        r.ok("APPEND Shut (\\Deleted) {%d+}\r\n%s" % (len(m), m))
    u, t = r.ok("EXAMINE Shut")
    check(b"[READ-ONLY]" in t and b"PERMANENTFLAGS ()" in b"".join(u),
          "EXAMINE: %r %r" % (u, t))
    u, t = r.cmd("STORE 1 +FLAGS (\\Seen)")
    check(b"NO [READ-ONLY]" in t, "STORE under EXAMINE: %r" % t)
    u, t = r.cmd("EXPUNGE")
    check(b"NO [READ-ONLY]" in t, "EXPUNGE under EXAMINE: %r" % t)
    r.ok("CHECK")
    r.ok("CLOSE")
    u, t = r.ok("STATUS Shut (MESSAGES)")
    check(b"MESSAGES 3" in u[0], "CLOSE after EXAMINE expunged: %r" % u)
    u, t = r.ok("SELECT Shut (CONDSTORE)")
    check(b"HIGHESTMODSEQ" in b"".join(u), "SELECT (CONDSTORE) %r" % u)
    u, t = r.ok("FETCH 1 (FLAGS)")
    check(b"MODSEQ (" in u[0], "CONDSTORE on by SELECT: %r" % u)
    r.ok("UNSELECT")
    u, t = r.cmd("FETCH 1 (FLAGS)")
    check(b" BAD " in t, "FETCH after UNSELECT: %r" % t)
    u, t = r.ok("STATUS Shut (MESSAGES)")
    check(b"MESSAGES 3" in u[0], "UNSELECT kept the messages: %r" % u)
    r.ok("SELECT Shut")
    u, t = r.ok("CLOSE")
    check(u == [], "CLOSE is silent: %r" % u)
    u, t = r.ok("STATUS Shut (MESSAGES)")
    check(b"MESSAGES 0" in u[0], "CLOSE expunged: %r" % u)
    r.ok("SELECT Shut")
    u, t = r.ok("SELECT INBOX")
    check(u[0] == b"* OK [CLOSED] Previous mailbox closed\r\n",
          "SELECT while selected: %r" % u)
    r.ok("LOGOUT")
    print("ok EXAMINE (read-only), CHECK, CLOSE, UNSELECT, SELECT "
          "(CONDSTORE), [CLOSED]")


def test_unseen(inst):
    r = raw_login()
    r.ok("CREATE Unseen")
    flags = ["\\Seen", "", "\\Seen", "\\Seen", "", "\\Seen", "\\Seen"]
    for i, f in enumerate(flags):
        m = "Subject: u%d\r\n\r\nx\r\n" % i
        r.ok("APPEND Unseen (%s) {%d+}\r\n%s" % (f, len(m), m))
    u, t = r.ok("SELECT Unseen")
    check(b"* OK [UNSEEN 2] First unseen\r\n" in u, "UNSEEN 2: %r" % u)
    r.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
    u, t = r.ok("SELECT Unseen")
    check(b"* OK [UNSEEN 5] First unseen\r\n" in u, "UNSEEN 5: %r" % u)
    r.ok("STORE 5 +FLAGS.SILENT (\\Seen)")
    u, t = r.ok("SELECT Unseen")
    check(not any(b"UNSEEN" in x for x in u), "no UNSEEN: %r" % u)
    r.ok("LOGOUT")
    print("ok SELECT's UNSEEN from either end of the index")


def test_recent(inst):
    for i in range(3):
        r = inst.deliver(message("rec%d" % i, 2), "-d", "bob")
        check(r.returncode == 0, "deliver to bob")
    a = raw_login("bob", "bobpw")
    u, t = a.ok("EXAMINE INBOX")
    check(b"* 3 RECENT\r\n" in u, "EXAMINE shows RECENT: %r" % u)
    u, t = a.ok("SELECT INBOX")
    check(b"* 3 EXISTS\r\n" in u and b"* 3 RECENT\r\n" in u,
          "SELECT takes RECENT: %r" % u)
    u, t = a.ok("FETCH 1:* (FLAGS)")
    check(all(b"\\Recent" in x for x in u), "\\Recent in FLAGS: %r" % u)
    b = raw_login("bob", "bobpw")
    u, t = b.ok("SELECT INBOX")
    check(b"* 0 RECENT\r\n" in u, "second session RECENT: %r" % u)
    u, t = b.ok("SEARCH RECENT")
    check(u == [b"* SEARCH\r\n"], "SEARCH RECENT elsewhere: %r" % u)
    u, t = a.ok("SEARCH NEW")
    check(u == [b"* SEARCH 1 2 3\r\n"], "SEARCH NEW: %r" % u)
    a.ok("LOGOUT")
    b.ok("LOGOUT")
    print("ok \\Recent: one session only, EXAMINE does not take it")


def test_updates_idle(inst):
    a = raw_login()
    b = raw_login()
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    r = inst.deliver(message("three", 3), "-d", "alice")
    check(r.returncode == 0, "deliver")
    u, t = a.ok("NOOP")
    check(b"* 1 EXISTS\r\n" in u and b"* 1 RECENT\r\n" in u,
          "EXISTS after delivery: %r" % u)
    u, t = b.ok("NOOP")
    check(b"* 1 EXISTS\r\n" in u, "second session EXISTS: %r" % u)
    a.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    u, t = b.ok("NOOP")
    check(len(u) == 1 and re.match(rb"\* 1 FETCH \(UID \d+ FLAGS "
                                   rb"\(\\Flagged\)\)", u[0]),
          "FLAGS from the other session: %r" % u)
    # IDLE: a delivery wakes it at once (inotify)
    b.send("i IDLE\r\n")
    check(b.line().startswith(b"+ "), "IDLE continuation")
    t0 = time.time()
    inst.deliver(message("four", 3), "-d", "alice")
    ln = b.line()
    check(ln == b"* 2 EXISTS\r\n" and time.time() - t0 < 5,
          "IDLE EXISTS: %r after %.1fs" % (ln, time.time() - t0))
    ln = b.line()
    check(ln == b"* 1 RECENT\r\n", "IDLE RECENT: %r" % ln)
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    ln = b.line()
    check(re.match(rb"\* 1 FETCH \(UID \d+ FLAGS \(\\Flagged \\Deleted\)\)",
                   ln), "IDLE FETCH: %r" % ln)
    a.ok("EXPUNGE")
    ln = b.line()
    check(ln == b"* 1 EXPUNGE\r\n", "IDLE EXPUNGE: %r" % ln)
    b.send("DONE\r\n")
    u, t = b.response("i")
    check(t.startswith(b"i OK"), "DONE: %r %r" % (u, t))
    # FETCH does not report an expunge (RFC 3501 7.4.1), NOOP then does
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    u, t = b.ok("FETCH 1 (FLAGS)")
    check(not any(b"EXPUNGE" in x for x in u), "EXPUNGE during FETCH %r" % u)
    u, t = b.ok("NOOP")
    check(u == [b"* 1 EXPUNGE\r\n"], "EXPUNGE after FETCH: %r" % u)
    a.ok("LOGOUT")
    b.ok("LOGOUT")
    print("ok updates across sessions (EXISTS, RECENT, FETCH FLAGS, "
          "EXPUNGE), IDLE woken by inotify in %.2fs" % (time.time() - t0))


def test_errors(inst):
    r = raw_login()
    u, t = r.cmd("FROBNICATE")
    check(b" BAD " in t, "unknown: %r" % t)
    u, t = r.cmd("FETCH 1 FLAGS")
    check(b" BAD " in t, "FETCH unselected: %r" % t)
    r.send("* NOOP\r\n")
    ln = r.line()
    check(ln.startswith(b"* BAD"), "bad tag: %r" % ln)
    u, t = r.cmd('SELECT "unterminated')
    check(b" BAD " in t, "unterminated quote: %r" % t)
    u, t = r.cmd("SELECT Nope")
    check(b" NO " in t, "SELECT missing: %r" % t)
    r.ok("NOOP")
    for i in range(30):
        r.send("x%d FROB\r\n" % i)
        ln = r.line()
        if ln.startswith(b"* BYE"):
            break
    check(ln.startswith(b"* BYE"), "error limit: %r" % ln)
    check(r.line() == b"", "connection closed after BYE")
    r.close()
    print("ok errors: BAD with the session going on, NO, error limit")


def test_curl(inst):
    url = "imap://127.0.0.1:%d/" % PORT
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "-u",
                        "alice:" + PW, url], capture_output=True, timeout=30)
    check(r.returncode == 0 and b"Archive" in r.stdout, "curl LIST: %r %r" %
          (r.stdout, r.stderr))
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "-u",
                        "alice:" + PW, url + "Archive;UID=1"],
                       capture_output=True, timeout=30)
    check(r.returncode == 0 and r.stdout == wire_of(inst, "alice", 1,
                                                    "Archive"),
          "curl FETCH: %r %r" % (r.stdout[:200], r.stderr))
    print("ok curl imap:// LIST and FETCH")


def main():
    inst = setup()
    try:
        test_greeting_login(inst)
        test_plaintext_rule(inst)
        test_privsep(inst)
        test_mailboxes(inst)
        test_fetch(inst)
        test_store_search(inst)
        test_condstore(inst)
        test_copy_move_append(inst)
        test_qresync(inst)
        test_expunge_many(inst)
        test_lazy_view(inst)
        test_close_unselect(inst)
        test_unseen(inst)
        test_recent(inst)
        test_curl(inst)
        test_updates_idle(inst)
        test_errors(inst)
    except BaseException:
        for f in ("imap.log", "imaps.log"):
            print(open(os.path.join(inst.dir, "log", f)).read()[-3000:])
        raise
    finally:
        r = inst.zest("stop")
        logs = "".join(open(os.path.join(inst.dir, "log", f),
                            errors="replace").read()
                       for f in ("imap.log", "imaps.log"))
        inst.cleanup()
    check(r.returncode == 0 and "imap stopped" in r.stdout, "stop: %s" %
          r.stdout)
    # the sanitizer build reports to the daemons' logs
    bad = re.findall(r".*(?:AddressSanitizer|LeakSanitizer|runtime error)"
                     r".*", logs)
    check(not bad, "sanitizer reports: %r" % bad[:5])
    print("ok imapd")


main()
