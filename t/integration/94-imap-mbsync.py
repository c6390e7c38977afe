# SPDX-License-Identifier: ISC
"""mbsync (isync) against imapd, both ways: the server's INBOX and a
folder come down into a local Maildir; a message written locally, a flag
set locally and a message deleted locally go up; a message delivered and a
flag set on the server come down on the next run; a second run with
nothing new changes nothing.  Over STARTTLS, then once more over imaps."""
import imaplib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if not os.access(os.path.join(BIN, "imapd"), os.X_OK):
    skip("no imapd in %s" % BIN)
MBSYNC = shutil.which("mbsync")
if MBSYNC is None:
    skip("no mbsync (Debian package isync)")

BASE = 37000 + (os.getpid() % 40) * 50
PW = "sync pw"


def msg(tok, extra=""):
    return ("From: a@example.org\r\nTo: sam@localhost\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.org>\r\n%s\r\nbody of %s\r\n"
            % (tok, tok, extra, tok))


def local_files(root, folder=""):
    """{subject: (path, info letters)} of a local Maildir (folder "" is
    the INBOX)."""
    d = os.path.join(root, folder) if folder else os.path.join(root, "INBOX")
    out = {}
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            continue
        for f in os.listdir(p):
            data = open(os.path.join(p, f), "rb").read()
            subj = [l for l in data.split(b"\n") if l.startswith(b"Subject:")]
            key = subj[0].split(b":", 1)[1].strip().decode() if subj else f
            info = f.split(":2,")[1] if ":2," in f else ""
            out[key] = (os.path.join(p, f), info)
    return out


def server(inst, box="INBOX"):
    """{subject: flags} on the server."""
    c = imaplib.IMAP4("127.0.0.1", BASE + 143)
    c.login("sam", PW)
    c.select(box, readonly=True)
    typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = {}
    if typ == "OK" and data and data[0] is not None:
        for item in data:
            if isinstance(item, tuple):
                flags = item[0].decode()
                subj = item[1].decode().split(":", 1)[1].strip()
                out[subj] = flags
    c.logout()
    return out


def config(path, local, tls):
    with open(path, "w") as f:
        f.write("IMAPAccount zest\n"
                "Host localhost\n"
                "Port %d\n"
                "User sam\n"
                "Pass \"%s\"\n"
                "SSLType %s\n"
                "CertificateFile %s\n"
                "AuthMechs LOGIN\n\n"
                "IMAPStore zest-remote\nAccount zest\n\n"
                "MaildirStore zest-local\nPath %s/\nInbox %s/INBOX\n"
                "SubFolders Verbatim\n\n"
                "Channel zest\nFar :zest-remote:\nNear :zest-local:\n"
                "Patterns INBOX Work\nCreate Both\nExpunge Both\n"
                "SyncState *\nSync All\n"
                % (BASE + 993 if tls == "IMAPS" else BASE + 143, PW, tls,
                   os.path.join(inst.dir, "tls", "cert.pem"), local, local))


def sync(conf):
    r = subprocess.run([MBSYNC, "-c", conf, "-a"], capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, "mbsync: %s %s" % (r.stdout[-800:],
                                                r.stderr[-800:]))
    return r


inst = Instance(port_base=BASE)
work = tempfile.mkdtemp(prefix="zest-mbsync-")
try:
    inst.useradd("sam", PW)
    for tok in ("one", "two", "three"):
        r = inst.deliver(msg(tok), "-d", "sam")
        check(r.returncode == 0, "deliver: %r" % r.stderr)
    r = inst.zest("start")
    check(r.returncode == 0, "start: %s" % r.stderr)
    c = imaplib.IMAP4("127.0.0.1", BASE + 143)
    c.login("sam", PW)
    c.create("Work")
    c.append("Work", "(\\Flagged)", None, msg("work-one").encode())
    c.logout()

    local = os.path.join(work, "mail")
    os.makedirs(local)
    conf = os.path.join(work, "mbsyncrc")
    config(conf, local, "STARTTLS")

    # 1. down: everything arrives, flags included
    sync(conf)
    got = local_files(local)
    check(set(got) == {"one", "two", "three"}, "local INBOX %r" % got)
    work_local = local_files(local, "Work")
    check(set(work_local) == {"work-one"} and
          "F" in work_local["work-one"][1], "local Work %r" % work_local)
    print("ok mbsync down: INBOX and Work with \\Flagged")

    # 2. up: a local message, a local flag, a local deletion
    newp = os.path.join(local, "INBOX", "new",
                        "%d.local.host" % int(time.time()))
    with open(newp, "w") as f:
        f.write(msg("written-locally").replace("\r\n", "\n"))
    p, info = got["two"]
    os.rename(p, p.split(":2,")[0] + ":2," + "".join(sorted(set(info + "S"))))
    p, info = got["three"]
    os.rename(p, p.split(":2,")[0] + ":2," + "".join(sorted(set(info + "T"))))
    sync(conf)
    srv = server(inst)
    check("written-locally" in srv, "local message not uploaded: %r" % srv)
    check("\\Seen" in srv.get("two", ""), "\\Seen not uploaded: %r" % srv)
    check("three" not in srv, "local deletion not expunged: %r" % srv)
    print("ok mbsync up: new message, \\Seen, deletion")

    # 3. down again: a delivery and a flag set on the server
    r = inst.deliver(msg("delivered-later"), "-d", "sam")
    check(r.returncode == 0, "deliver: %r" % r.stderr)
    c = imaplib.IMAP4("127.0.0.1", BASE + 143)
    c.login("sam", PW)
    c.select("INBOX")
    typ, data = c.search(None, "SUBJECT", "one")
    c.store(data[0].split()[0].decode(), "+FLAGS", "(\\Answered)")
    c.logout()
    sync(conf)
    got = local_files(local)
    check("delivered-later" in got, "delivery not synced down: %r" % got)
    check("R" in got["one"][1], "\\Answered not synced down: %r" % got)
    check("three" not in got, "deleted message came back: %r" % got)
    print("ok mbsync down again: new delivery, \\Answered")

    # 4. nothing new: nothing changes, on either side
    before_l, before_s = local_files(local), server(inst)
    sync(conf)
    check(local_files(local) == before_l, "local changed on an idle sync")
    check(server(inst) == before_s, "server changed on an idle sync")
    print("ok mbsync idle run changes nothing")

    # 5. over implicit TLS (imaps) from scratch: the same picture
    local2 = os.path.join(work, "mail2")
    os.makedirs(local2)
    conf2 = os.path.join(work, "mbsyncrc2")
    config(conf2, local2, "IMAPS")
    sync(conf2)
    check(set(local_files(local2)) == set(server(inst)),
          "imaps copy %r vs %r" % (local_files(local2), server(inst)))
    print("ok mbsync over imaps")
finally:
    inst.zest("stop")
    inst.cleanup()
    shutil.rmtree(work, ignore_errors=True)
