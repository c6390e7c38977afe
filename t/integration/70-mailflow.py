# SPDX-License-Identifier: ISC
"""Mail flow end to end with `zest start`: SMTP clients nobody here wrote
(Python's smtplib, swaks, Postfix's smtp-source) -> smtpd -> queue-inject ->
queued -> deliver, byte-exact in the Maildir; remote delivery to a second
instance through the routes table and through MX records served by dnsmasq;
a refused remote recipient comes back as an RFC 3464 DSN; a host that is
down is retried; a full queue disk answers 452."""
import email
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

for prog in ("smtpd", "queue-inject", "queued", "spawner", "remote", "listen"):
    if not os.path.exists(os.path.join(BIN, prog)):
        skip("%s not built" % prog)

BASE = 40000 + (os.getpid() % 200) * 50


def started(inst):
    r = inst.zest("start")
    check(r.returncode == 0, "zest start: %s %s" % (r.stdout, r.stderr))


def wait_files(md, n, timeout=60):
    """Wait until the Maildir holds n messages; return their names."""
    deadline = time.time() + timeout
    while True:
        names = files_in(md) if os.path.isdir(os.path.join(md, "new")) else []
        if len(names) >= n or time.time() > deadline:
            return names
        time.sleep(0.05)


def body_of(md, name):
    return open(os.path.join(md, name), "rb").read()


def stored_wire(md, name):
    """The message as IMAP will serve it: LF text -> CRLF (raw files as is)."""
    data = body_of(md, name)
    return data if b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"") \
        else data.replace(b"\n", b"\r\n")


a = Instance(port_base=BASE, domain="a.test")
b = Instance(port_base=BASE + 500, domain="b.test")
try:
    alice = a.useradd("alice")
    bob = a.useradd("bob")
    carol = b.useradd("carol")
    started(a)
    started(b)
    port_a, port_b = BASE + 25, BASE + 500 + 25

    # 1. plain message with smtplib
    msg = (b"From: x@example.org\r\nTo: alice@a.test\r\nSubject: plain\r\n"
           b"Message-ID: <p1@example.org>\r\n\r\nhello\r\n.dot line\r\n")
    with smtplib.SMTP("127.0.0.1", port_a, timeout=30) as s:
        s.ehlo("client.example")
        check(s.has_extn("pipelining") and s.has_extn("8bitmime") and
              s.has_extn("chunking") and s.has_extn("dsn") and
              s.has_extn("starttls"), "EHLO: %r" % s.esmtp_features)
        s.sendmail("x@example.org", ["alice@a.test"], msg)
    names = wait_files(alice, 1)
    check(len(names) == 1, "plain message not delivered: %s" % names)
    got = stored_wire(alice, names[0])
    check(got.endswith(msg), "not byte-exact: %r" % got[-120:])
    check(b"Received: from client.example" in got and b"by " in got,
          "Received header: %r" % got[:400])

    # 2. 8-bit body and an unknown local user (refused at RCPT, not bounced)
    msg8 = "Subject: 8bit\r\n\r\nGr\u00fc\u00dfe, \u00e9t\u00e9\r\n".encode()
    with smtplib.SMTP("127.0.0.1", port_a, timeout=30) as s:
        s.ehlo("client.example")
        code, _ = s.docmd("MAIL FROM:<x@example.org> BODY=8BITMIME")
        check(code == 250, "MAIL BODY=8BITMIME %d" % code)
        code, _ = s.docmd("RCPT TO:<nobody@a.test>")
        check(code == 550, "unknown user gave %d" % code)
        code, _ = s.docmd("RCPT TO:<x@elsewhere.example>")
        check(code == 550, "relay gave %d" % code)
        code, _ = s.docmd("RCPT TO:<alice@a.test>")
        check(code == 250, "RCPT %d" % code)
        code, _ = s.docmd("DATA")
        check(code == 354, "DATA %d" % code)
        s.send(msg8 + b".\r\n")
        code, _ = s.getreply()
        check(code == 250, "end of 8-bit data %d" % code)
    names = wait_files(alice, 2)
    got = [stored_wire(alice, n) for n in names]
    check(any(g.endswith(msg8) for g in got), "8-bit body not byte-exact")

    # 3. binary with BDAT: NUL, bare CR and bare LF survive byte for byte
    binary = b"Subject: binary\r\nContent-Type: application/octet-stream\r\n\r\n" + \
        bytes(range(256)) * 40 + b"\r\nend\n\r"
    sock = socket.create_connection(("127.0.0.1", port_a), timeout=30)
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(b"EHLO client.example\r\n")
    while True:
        line = f.readline()
        if line[3:4] == b" ":
            break
    half = len(binary) // 2
    sock.sendall(b"MAIL FROM:<x@example.org> BODY=BINARYMIME\r\nRCPT TO:<alice@a.test>\r\n"
                 + b"BDAT %d\r\n" % half + binary[:half]
                 + b"BDAT %d LAST\r\n" % (len(binary) - half) + binary[half:])
    replies = [f.readline() for _ in range(4)]
    check(all(r.startswith(b"250") for r in replies), "BDAT replies %r" % replies)
    sock.sendall(b"QUIT\r\n")
    sock.close()
    names = wait_files(alice, 3)
    got = [body_of(alice, n) for n in names]
    check(any(g.endswith(binary) for g in got), "binary not stored byte-exact")

    # 4. a 50 MB message
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 52000
    with smtplib.SMTP("127.0.0.1", port_a, timeout=120) as s:
        s.sendmail("x@example.org", ["bob@a.test"], big)
    names = wait_files(bob, 1, timeout=120)
    check(len(names) == 1 and stored_wire(bob, names[0]).endswith(big), "50 MB message")

    # 5. swaks and smtp-source, if installed
    if shutil.which("swaks"):
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port_a),
                            "--to", "bob@a.test", "--from", "s@example.org",
                            "--pipeline", "--header", "Subject: swaks"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "swaks: %s" % r.stdout[-500:])
        check(len(wait_files(bob, 2)) == 2, "swaks message not delivered")
    if shutil.which("smtp-source"):
        r = subprocess.run(["smtp-source", "-s", "5", "-m", "40", "-l", "1000",
                            "-f", "src@example.org", "-t", "bob@a.test",
                            "127.0.0.1:%d" % port_a], capture_output=True, timeout=120)
        check(r.returncode == 0, "smtp-source: %r" % r.stderr)
        n = len(wait_files(bob, 42, timeout=120))
        check(n == 42, "smtp-source messages delivered: %d" % n)

    # 6. remote delivery to instance b through the routes table
    with open(os.path.join(a.dir, "tables", "routes"), "a") as f:
        f.write("b.test [127.0.0.1]:%d\n" % port_b)
    check(a.zest("makemap", "routes").returncode == 0, "makemap routes")
    # relaying is for trusted clients: here a local user's sendmail
    sm = subprocess.run([os.path.join(BIN, "sendmail"), "-C", a.dir, "-f", "alice@a.test",
                         "carol@b.test", "nosuchuser@b.test"],
                        input=b"Subject: to b\n\nremote body\n", capture_output=True)
    check(sm.returncode == 0, "sendmail: %r" % sm.stderr)
    names = wait_files(carol, 1)
    check(len(names) == 1 and stored_wire(carol, names[0]).endswith(b"\r\nremote body\r\n"),
          "remote delivery to b failed: %s" % names)
    # the refused recipient comes back to alice as a DSN
    deadline = time.time() + 60
    dsn = None
    while time.time() < deadline and dsn is None:
        for n in files_in(alice):
            m = email.message_from_bytes(body_of(alice, n))
            if m.get_content_type() == "multipart/report":
                dsn = m
        time.sleep(0.1)
    check(dsn is not None, "no DSN for the refused remote recipient")
    check(dsn.get_param("report-type") == "delivery-status", "report-type")
    parts = dsn.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    check(ds, "no message/delivery-status part")
    text = ds[0].as_string()
    check("nosuchuser@b.test" in text and "Action: failed" in text and
          "Status: 5." in text, "delivery-status: %s" % text)

    # 7. a next hop that is down: queued, retried, delivered after flush
    b.zest("stop")
    sm = subprocess.run([os.path.join(BIN, "sendmail"), "-C", a.dir, "carol@b.test"],
                        input=b"Subject: later\n\nwhen b is back\n", capture_output=True)
    check(sm.returncode == 0, "sendmail 2")
    time.sleep(1.5)
    q = a.zest("queue")
    check("carol@b.test" in q.stdout, "not in the queue: %s" % q.stdout)
    started(b)
    check(a.zest("flush").returncode == 0, "flush")
    check(len(wait_files(carol, 2, timeout=60)) == 2, "not delivered after flush")
    print("ok")
finally:
    for i in (a, b):
        i.zest("stop")
    a.cleanup()
    b.cleanup()
