# SPDX-License-Identifier: ISC
"""remote's conversions end to end: a BINARYMIME message sent by BDAT to
instance A (zest start) for b.test, routed to a tiny SMTP server written
here that advertises chosen extensions and records the exact bytes it
receives:
  (a) 8BITMIME only: converted, BODY=8BITMIME, binary parts in base64,
      long/8-bit text kept 8-bit or quoted-printable, 8-bit headers kept;
  (b) nothing: converted to 7-bit, headers as RFC 2047 encoded-words;
  (c) CHUNKING + BINARYMIME: the original, byte for byte, by BDAT.
Every converted part is decoded again and compared with what was sent.
Then an 8BITMIME message with 8-bit inside an address to a host without
8BITMIME bounces (5.6.3) to its local sender with the reason, and an
SMTPUTF8 message with an ASCII envelope goes to a host with 8BITMIME but
without SMTPUTF8 with its header fields as encoded-words."""
import email
import email.header
import email.policy
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zesttest import BIN, Instance, check, files_in, skip  # noqa: E402

for prog in ("smtpd", "queue-inject", "queued", "spawner", "remote",
             "listen"):
    if not os.path.exists(os.path.join(BIN, prog)):
        skip("%s not built" % prog)

BASE = 20000 + (os.getpid() % 15) * 60


class Recorder:
    """A tiny SMTP server: EHLO offers self.ext; every session's raw
    input, DATA bodies (dot-unstuffed) and BDAT chunks are recorded."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(8)
        self.ext = []
        self.sessions = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,),
                             daemon=True).start()

    def session(self, conn):
        s = {"raw": b"", "cmds": [], "data": None, "bdat": None,
             "done": False}
        self.sessions.append(s)
        buf = [b""]
        conn.settimeout(30)

        def fill():
            d = conn.recv(65536)
            if not d:
                raise ConnectionError("eof")
            s["raw"] += d
            buf[0] += d

        def line():
            while b"\n" not in buf[0]:
                fill()
            i = buf[0].index(b"\n") + 1
            out, buf[0] = buf[0][:i], buf[0][i:]
            return out

        def send(t):
            conn.sendall(t.encode() + b"\r\n")

        try:
            send("220 rec.test ESMTP")
            while True:
                cmd = line().rstrip(b"\r\n").decode("utf-8", "replace")
                s["cmds"].append(cmd)
                verb = cmd.split(" ")[0].upper()
                if verb == "EHLO":
                    lines = ["rec.test"] + self.ext
                    for i, l in enumerate(lines):
                        send("250" + (" " if i == len(lines) - 1 else "-")
                             + l)
                elif verb in ("MAIL", "RCPT", "RSET"):
                    send("250 2.0.0 ok")
                elif verb == "DATA":
                    send("354 go")
                    body = b""
                    while True:
                        l = line()
                        if l == b".\r\n":
                            break
                        body += l[1:] if l.startswith(b".") else l
                    s["data"] = body
                    send("250 2.0.0 got it")
                    s["done"] = True
                elif verb == "BDAT":
                    n, last = int(cmd.split()[1]), cmd.upper().endswith(
                        "LAST")
                    while len(buf[0]) < n:
                        fill()
                    s["bdat"] = (s["bdat"] or b"") + buf[0][:n]
                    buf[0] = buf[0][n:]
                    send("250 2.0.0 chunk")
                    s["done"] = s["done"] or last
                elif verb == "QUIT":
                    send("221 bye")
                    return
                else:
                    send("502 5.5.1 no")
        except (OSError, ConnectionError):
            pass
        finally:
            conn.close()

    def wait(self, n, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = [s for s in self.sessions if s["done"]]
            if len(done) >= n:
                return done[n - 1]
            time.sleep(0.05)
        check(False, "no message for the recorder (%d sessions): %r" %
              (len(self.sessions), self.sessions[-1]["cmds"] if
               self.sessions else None))


# The message: pieces kept to compare after decoding.
TEXT = ("Gr\u00fc\u00dfe,\r\n" + "\u00e9" * 30 + "\r\n").encode() + \
    b"".join(bytes([97 + i % 26]) for i in range(1200)) + \
    b"\r\n.starts with a dot\r\nend\r\n"
HTML = "<p>caf\u00e9</p>\n<p>LF only</p>\n".encode()
PDF = b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n" + bytes(
    (i * 37 + 11) % 256 for i in range(6000)).replace(b"-", b"x") + \
    b"\x00\r\r\nend\n\r"
LATIN = b"caf\xe9 cr\xe8me\r\n"
OCTETS = b"x\x00\x01\x02\xff\r\r\n\n"
SUBJECT = "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 2026"


def build_message():
    return (b'From: "J\xc3\xb6rg M\xc3\xbcller" <joerg@example.org>\r\n'
            b"To: carol@b.test\r\n"
            b"Subject: " + SUBJECT.encode() + b"\r\n"
            b"Message-ID: <conv1@example.org>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="outer"\r\n'
            b"Content-Transfer-Encoding: binary\r\n\r\n"
            b"preamble\r\n--outer\r\n"
            b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
            b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + TEXT +
            b"\r\n--inner\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + HTML +
            b"\r\n--inner--\r\n--outer\r\nContent-Type: application/pdf\r\n"
            b"Content-Transfer-Encoding: binary\r\n"
            b'Content-Disposition: attachment; filename="r\xc3\xa9sum\xc3\xa9'
            b' 2026.pdf"\r\n\r\n' +
            PDF + b"\r\n--outer\r\nContent-Type: message/rfc822\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n"
            b"From: Zo\xc3\xab <zoe@example.org>\r\n"
            b"Subject: R\xc3\xa9union\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=emb\r\n\r\n"
            b"--emb\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n" +
            LATIN + b"\r\n--emb\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + OCTETS +
            b"\r\n--emb--\r\n--outer--\r\nepilogue\r\n")


def bdat_send(port, sender, rcpt, msg, body="BINARYMIME"):
    """BDAT by hand (smtplib has no BDAT): two chunks."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = sock.makefile("rb")
    check(f.readline().startswith(b"220"), "greeting")
    sock.sendall(b"EHLO client.example\r\n")
    ext = []
    while True:
        l = f.readline()
        ext.append(l[4:].strip().upper())
        if l[3:4] == b" ":
            break
    check(b"BINARYMIME" in ext and b"CHUNKING" in ext, "EHLO %r" % ext)
    half = len(msg) // 2
    sock.sendall(b"MAIL FROM:<%s> BODY=%s\r\nRCPT TO:<%s>\r\n" %
                 (sender.encode(), body.encode(), rcpt.encode()) +
                 b"BDAT %d\r\n" % half + msg[:half] +
                 b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    replies = [f.readline() for _ in range(4)]
    check(all(r.startswith(b"250") for r in replies),
          "BDAT replies %r" % replies)
    sock.sendall(b"QUIT\r\n")
    sock.close()


def check_sent_clean(got, eight):
    """What went by DATA: CRLF only, no NUL, lines <= 998, 7-bit unless
    eight."""
    check(b"\x00" not in got, "NUL sent")
    check(b"\r" not in got.replace(b"\r\n", b""), "bare CR sent")
    check(b"\n" not in got.replace(b"\r\n", b""), "bare LF sent")
    check(max(len(l) for l in got.split(b"\r\n")) <= 998, "long line sent")
    if not eight:
        check(all(b < 128 for b in got), "8-bit byte sent to a 7-bit host")


def first_diff(a, b):
    i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
             min(len(a), len(b)))
    return "at %d: %r vs %r (lengths %d, %d)" % (i, a[i - 10:i + 30],
                                                  b[i - 10:i + 30], len(a),
                                                  len(b))


def leaves(msg):
    return [p for p in msg.walk() if not p.is_multipart() and
            p.get_content_type() != "message/rfc822"]


def check_parts(got, seven):
    m = email.message_from_bytes(got, policy=email.policy.compat32)
    ls = leaves(m)
    check(len(ls) == 5, "leaves: %r" % [p.get_content_type() for p in ls])
    ctes = [p.get("Content-Transfer-Encoding", "").lower() for p in ls]
    want = ["quoted-printable", "quoted-printable", "base64",
            "quoted-printable" if seven else "", "base64"]
    check(ctes == want, "encodings %r, expected %r" % (ctes, want))
    # text goes with CRLF line ends: the HTML's LFs became CRLF
    dec = [p.get_payload(decode=True) for p in ls]
    check(dec[0] == TEXT, "text part differs: %s" % first_diff(dec[0],
                                                                TEXT))
    check(dec[1] == HTML.replace(b"\n", b"\r\n"), "html %r" % dec[1])
    check(dec[2] == PDF, "pdf part differs (%d vs %d bytes)" %
          (len(dec[2]), len(PDF)))
    check(dec[3] == LATIN, "latin-1 %r" % dec[3])
    check(dec[4] == OCTETS, "octets %r" % dec[4])
    if seven:   # RFC 2231 parameter
        check(ls[2].get_filename() == "r\u00e9sum\u00e9 2026.pdf",
              "filename %r" % ls[2]["Content-Disposition"])
    outer = [p for p in m.walk() if p.get_content_type() ==
             "message/rfc822"][0]
    check(outer["Content-Transfer-Encoding"] == ("7bit" if seven else
                                                  "8bit"),
          "message/rfc822 CTE %r" % outer["Content-Transfer-Encoding"])
    check(m["Content-Transfer-Encoding"] == ("7bit" if seven else "8bit"),
          "multipart CTE %r" % m["Content-Transfer-Encoding"])
    return m


def decoded(value):
    return str(email.header.make_header(email.header.decode_header(value)))


def main():
    rec = Recorder(0)  # an ephemeral port: no clash with other instances
    a = Instance(port_base=BASE, domain="a.test")
    try:
        alice = a.useradd("alice")
        with open(os.path.join(a.dir, "tables", "routes"), "a") as f:
            f.write("b.test [127.0.0.1]:%d\n" % rec.port)
        with open(os.path.join(a.dir, "tables", "relay-clients"), "a") as f:
            f.write("127.0.0.0/8\n")
        for t in ("routes", "relay-clients"):
            check(a.zest("makemap", t).returncode == 0, "makemap " + t)
        r = a.zest("start")
        check(r.returncode == 0, "zest start: %s %s" % (r.stdout, r.stderr))
        port = BASE + 25
        msg = build_message()

        print("== (a) 8BITMIME only")
        rec.ext = ["PIPELINING", "8BITMIME", "SIZE 100000000"]
        bdat_send(port, "x@example.org", "carol@b.test", msg)
        s = rec.wait(1)
        mail = [c for c in s["cmds"] if c.startswith("MAIL")][0]
        check("BODY=8BITMIME" in mail, "MAIL %r" % mail)
        check(s["bdat"] is None and s["data"] is not None, "not DATA")
        got = s["data"]
        check_sent_clean(got, True)
        check("SIZE=%d" % len(got) in mail, "SIZE in %r, sent %d" %
              (mail, len(got)))
        check(b"\r\nSubject: " + SUBJECT.encode() + b"\r\n" in got,
              "8-bit Subject changed for an 8BITMIME host")
        check(b"\r\nMessage-ID: <conv1@example.org>\r\n" in got,
              "Message-ID changed")
        check_parts(got, False)

        print("== (b) no extension")
        rec.ext = []
        bdat_send(port, "x@example.org", "carol@b.test", msg)
        s = rec.wait(2)
        mail = [c for c in s["cmds"] if c.startswith("MAIL")][0]
        check(mail == "MAIL FROM:<x@example.org>", "MAIL %r" % mail)
        got = s["data"]
        check_sent_clean(got, False)
        m = check_parts(got, True)
        check(decoded(m["Subject"]) == SUBJECT, "Subject %r" % m["Subject"])
        check(decoded(m["From"]) == "J\u00f6rg M\u00fcller "
              "<joerg@example.org>", "From %r" % m["From"])
        inner = [p for p in m.walk() if p.get_content_type() ==
                 "message/rfc822"][0].get_payload(0)
        check(decoded(inner["Subject"]) == "R\u00e9union",
              "embedded Subject %r" % inner["Subject"])
        check(decoded(inner["From"]) == "Zo\u00eb <zoe@example.org>",
              "embedded From %r" % inner["From"])

        print("== (c) CHUNKING and BINARYMIME")
        rec.ext = ["PIPELINING", "8BITMIME", "CHUNKING", "BINARYMIME"]
        bdat_send(port, "x@example.org", "carol@b.test", msg)
        s = rec.wait(3)
        mail = [c for c in s["cmds"] if c.startswith("MAIL")][0]
        check("BODY=BINARYMIME" in mail, "MAIL %r" % mail)
        check(s["data"] is None, "DATA used for BINARYMIME")
        got = s["bdat"]
        check(got.startswith(b"Received: ") and got.endswith(msg),
              "BINARYMIME not byte-exact (%d bytes, sent %d)" %
              (len(got), len(msg)))

        print("== (d) 8-bit address to a 7-bit host: bounce 5.6.3")
        rec.ext = []
        bad = (b"From: j\xc3\xb6rg@example.org\r\nTo: carol@b.test\r\n"
               b"Subject: bad\r\n\r\nbody \xc3\xa9\r\n")
        bdat_send(port, "alice@a.test", "carol@b.test", bad, "8BITMIME")
        deadline, dsn = time.time() + 60, None
        while time.time() < deadline and dsn is None:
            for n in files_in(alice):
                d = open(os.path.join(alice, n), "rb").read()
                if b"multipart/report" in d:
                    dsn = d
            time.sleep(0.1)
        check(dsn is not None, "no DSN for the unconvertible message")
        text = dsn.decode("utf-8", "replace")
        check("Status: 5.6.3" in text and "carol@b.test" in text,
              "DSN: %s" % text[:2000])
        check("address of the From header field" in text.replace(
            "\r\n ", " ").replace("\n ", " "), "reason: %s" % text[:3000])
        check(len(rec.sessions) == 4 and rec.sessions[3]["data"] is None,
              "the bad message was sent")

        print("== (e) SMTPUTF8 with an ASCII envelope, host without it")
        rec.ext = ["8BITMIME"]
        utf8 = ("From: J\u00f6rg <joerg@example.org>\r\nTo: carol@b.test\r\n"
                "Subject: \u65e5\u672c\u8a9e\r\n\r\n\u00e9t\u00e9\r\n").encode()
        bdat_send(port, "x@example.org", "carol@b.test", utf8,
                  "8BITMIME SMTPUTF8")
        s = rec.wait(4)  # (d) sent nothing
        mail = [c for c in s["cmds"] if c.startswith("MAIL")][0]
        check("SMTPUTF8" not in mail and "BODY=8BITMIME" in mail,
              "MAIL %r" % mail)
        got = s["data"]
        head, _, body = got.partition(b"\r\n\r\n")
        check(all(b < 128 for b in head), "8-bit header sent: %r" % head)
        check(body == "\u00e9t\u00e9\r\n".encode(), "body %r" % body)
        m = email.message_from_bytes(got, policy=email.policy.compat32)
        check(decoded(m["Subject"]) == "\u65e5\u672c\u8a9e",
              "Subject %r" % m["Subject"])
        check(decoded(m["From"]) == "J\u00f6rg <joerg@example.org>",
              "From %r" % m["From"])
        print("ok")
    finally:
        a.zest("stop")
        a.cleanup()


if __name__ == "__main__":
    main()
