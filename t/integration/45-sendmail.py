# SPDX-License-Identifier: ISC
"""sendmail: the options real programs pass, -t with Bcc removal, the dot
rule, added header fields, errors; against a stand-in queue-inject that
records what it is given, so only sendmail itself is under test here."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

inst = Instance()
try:
    fake = os.path.join(inst.base, "fakebin")
    os.mkdir(fake)
    rec = os.path.join(inst.base, "injected")
    with open(os.path.join(fake, "queue-inject"), "w") as f:
        # sendmail gives one message and EOF; smtpd -L (-bs) runs it with
        # -m and waits for the answer after E (docs/QUEUE.md): one message
        # is read up to its E (D chunks with head -c, which reads exactly
        # that many bytes) and the run ends.
        f.write("#!/bin/sh\nif [ \"$1\" = -m ]; then : > %s\n"
                "  while IFS= read -r l; do printf '%%s\\n' \"$l\" >> %s\n"
                "    case $l in D*) head -c \"${l#D}\" >> %s;; E) break;; esac\n"
                "  done\nelse cat > %s; fi\n"
                "[ -f %s.fail ] && { echo '452 4.3.1 disk full'; exit 1; }\n"
                "echo 'ok TEST1'\n" % (rec, rec, rec, rec, rec))
    os.chmod(os.path.join(fake, "queue-inject"), 0o755)
    inst.set_conf("libexec_dir", fake)
    SM = os.path.join(BIN, "sendmail")

    def send(args, data, name=None):
        argv = [name or SM, "-C", inst.dir] + args
        r = subprocess.run(argv, input=data.encode(), capture_output=True,
                           executable=SM)
        got = open(rec, "rb").read() if os.path.exists(rec) else b""
        if os.path.exists(rec):
            os.unlink(rec)
        return r, got

    def parse(got):
        env, rest = got.split(b".\n", 1)
        body = b""
        while rest.startswith(b"D"):
            n, rest = rest[1:].split(b"\n", 1)
            body += rest[:int(n)]
            rest = rest[int(n):]
        check(rest == b"E\n", "stream not ended by E: %r" % rest[:20])
        return env.decode().splitlines(), body

    # cron's invocation
    r, got = send(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-odi", "root"],
                  "Subject: cron output\n\nline\n.\nafter dot\n")
    check(r.returncode == 0, "cron style: %d %s" % (r.returncode, r.stderr))
    env, body = parse(got)
    check("Rroot@localhost\t\t" in env and "B8BITMIME" in env, "envelope %r" % env)
    check(b"\r\n.\r\nafter dot\r\n" in body, "-i: dot line kept: %r" % body)
    check(b'From: "CronDaemon" <' in body and b"\r\nDate: " in body and
          b"\r\nMessage-ID: <" in body, "added fields: %r" % body[:300])
    check(body.startswith(b"Received: (from "), "Received first")

    # -t: To/Cc/Bcc recipients, Bcc removed; the dot rule without -i
    r, got = send(["-t", "-f", "me@example.org"],
                  "From: Me <me@example.org>\nTo: a@x.example, Bob <b@y.example>\n"
                  "Cc: c@z.example\nBcc: hidden@w.example,\n  more@w.example\n"
                  "Subject: t\n\nhello\n.\nnot sent\n")
    check(r.returncode == 0, "-t: %s" % r.stderr)
    env, body = parse(got)
    rcpts = [l[1:].split("\t")[0] for l in env if l.startswith("R")]
    check(rcpts == ["a@x.example", "b@y.example", "c@z.example",
                    "hidden@w.example", "more@w.example"], "rcpts %r" % rcpts)
    check("Fme@example.org" in env, "sender")
    check(b"Bcc" not in body and b"more@w" not in body, "Bcc left in: %r" % body)
    check(body.endswith(b"\r\nhello\r\n") and b"not sent" not in body,
          "dot rule: %r" % body[-40:])
    check(body.count(b"From: ") == 1, "From added although present")

    # null sender, CRLF input kept as CRLF, no final newline
    r, got = send(["-f", "<>", "x@y.example"], "Subject: n\r\n\r\nbody")
    env, body = parse(got)
    check("F" in env and body.endswith(b"\r\n\r\nbody\r\n"), "null sender/CRLF: %r %r" % (env, body[-20:]))

    # errors: unknown flag, no recipients, the queue refusing
    r, got = send(["-X", "a@b.example"], "x\n")
    check(r.returncode == 64 and got == b"", "unknown flag: %d" % r.returncode)
    r, got = send([], "Subject: none\n\nx\n")
    check(r.returncode == 64 and b"no recipient" in r.stderr, "no rcpt: %r" % r.stderr)
    open(rec + ".fail", "w").close()
    r, got = send(["a@b.example"], "Subject: x\n\nx\n")
    os.unlink(rec + ".fail")
    check(r.returncode == 75 and b"disk full" in r.stderr, "tempfail: %d %r" % (r.returncode, r.stderr))

    # -bs: SMTP on stdin/stdout; a local user may send anywhere
    if os.path.exists(os.path.join(BIN, "smtpd")):
        shutil.copy(os.path.join(BIN, "smtpd"), os.path.join(fake, "smtpd"))
        os.chmod(inst.base, 0o1777)  # run as root, smtpd becomes zest-smtpd
        r = subprocess.run([SM, "-C", inst.dir, "-bs"], capture_output=True,
                           input=b"EHLO me\r\nMAIL FROM:<me@localhost>\r\n"
                           b"RCPT TO:<far@remote.example>\r\nDATA\r\n"
                           b"Subject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n", timeout=30)
        out = r.stdout.decode()
        check(r.returncode == 0 and "250 2.1.5" in out and "queued as TEST1" in out,
              "-bs session: %r %r" % (out, r.stderr[-300:]))
        env, body = parse(open(rec, "rb").read())
        os.unlink(rec)
        check("Rfar@remote.example\t\t" in env, "-bs envelope %r" % env)
        os.chmod(inst.base, 0o755)

    # newaliases compiles the aliases table
    with open(os.path.join(inst.dir, "tables", "aliases"), "a") as f:
        f.write("team alice, bob\n")
    r = subprocess.run([SM, "-C", inst.dir, "-bi"], capture_output=True)
    check(r.returncode == 0, "-bi: %r" % r.stderr)
    al = os.path.join(inst.dir, "tables", "aliases")
    check(os.path.getmtime(al + ".cdb") >= os.path.getmtime(al), "aliases.cdb not rebuilt")
    r = subprocess.run(["newaliases", "-C", inst.dir], capture_output=True, executable=SM)
    check(r.returncode == 0, "newaliases: %r" % r.stderr)
    print("ok")
finally:
    inst.cleanup()
