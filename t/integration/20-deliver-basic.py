# SPDX-License-Identifier: ISC
"""deliver: 1,000 deliveries and the index agrees with the Maildir; the
options, headers, folders, flags and every exit code."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

inst = Instance(port_base=21000)
try:
    md = inst.useradd("alice")
    N = 300 if ASAN else 1000
    for i in range(N):
        r = inst.deliver(message("m%d" % i), "-d", "alice", "-f", "s@example.org")
        check(r.returncode == 0, "delivery %d: %d %s" % (i, r.returncode, r.stderr))
    d, _ = inst.dump("alice")
    h, msgs = d["header"], d["msgs"]
    check(h["count"] == N and h["exists"] == N, "count %s" % h)
    check(h["uidnext"] == N + 1, "uidnext %s" % h)
    check([m["uid"] for m in msgs] == list(range(1, N + 1)), "uids not 1..N")
    check(sorted(m["file"] for m in msgs) == files_in(md),
          "index names differ from the Maildir's files")
    total = 0
    for i, m in enumerate(msgs):
        p = os.path.join(md, m["file"])
        check(not m["missing"], "missing file %s" % m["file"])
        check(m["size"] == wire_size(p, m["raw"]), "size of uid %d" % m["uid"])
        check(token_of(p) == "m%d" % i, "uid %d holds the wrong message" % m["uid"])
        total += m["size"]
    check(h["size"] == total and h["unseen"] == N, "header counters %s" % h)
    first = open(os.path.join(md, msgs[0]["file"]), "rb").read()
    check(first.startswith(b"Return-Path: <s@example.org>\nDelivered-To: alice@localhost\nFrom:"),
          "headers added: %r" % first[:120])

    # mbox From_ line: dropped, its sender used
    r = inst.deliver("From bob@example.net Sat Nov 21 10:00:00 2026\n" + message("fromline"),
                     "-d", "alice")
    check(r.returncode == 0, "From_ delivery")
    d, _ = inst.dump("alice")
    last = open(os.path.join(md, d["msgs"][-1]["file"]), "rb").read()
    check(last.startswith(b"Return-Path: <bob@example.net>\n"), "From_ line: %r" % last[:80])
    check(b"\nFrom bob" not in last, "From_ line kept")

    # an MTA's own Delivered-To is not doubled; -a sets the address
    r = inst.deliver("Delivered-To: x@y\n" + message("dt"), "-d", "alice", "-a", "x@y")
    d, _ = inst.dump("alice")
    last = open(os.path.join(md, d["msgs"][-1]["file"]), "rb").read()
    check(last.count(b"Delivered-To:") == 1, "Delivered-To doubled")

    # flags: -F puts the message in cur/ with them
    r = inst.deliver(message("flagged"), "-d", "alice", "-F", "FS")
    check(r.returncode == 0, "-F delivery")
    d, _ = inst.dump("alice")
    m = d["msgs"][-1]
    check(m["file"].startswith("cur/") and m["file"].endswith(":2,FS"), m["file"])
    check(m["flags"] == "\\Seen \\Flagged", "flags %r" % m["flags"])

    # a folder: created as a Maildir++ folder
    r = inst.deliver(message("folder"), "-d", "alice", "-m", "Lists.zest")
    check(r.returncode == 0, "folder delivery: %s" % r.stderr)
    check(os.path.exists(os.path.join(md, ".Lists.zest", "maildirfolder")), "maildirfolder")
    d, _ = inst.dump("alice/Lists.zest")
    check(d["header"]["count"] == 1, "folder count")

    # wire input (-w): exact bytes, bare LF kept raw
    wire = b"Subject: test wire\r\n\r\nbinary\x00\nline\r\n"
    r = inst.deliver(wire, "-d", "alice", "-w")
    check(r.returncode == 0, "wire delivery")
    d, _ = inst.dump("alice")
    m = d["msgs"][-1]
    data = open(os.path.join(md, m["file"]), "rb").read()
    check(m["raw"] and data.endswith(wire), "raw message not byte-exact")
    check(m["size"] == len(data), "raw size")

    # memory is bounded by buffers, not by the message size: 40 MB in
    big = message("big", body_lines=1) + ("x" * 999 + "\n") * 40000
    # GNU time reports the child's own peak (no pre-exec copy of Python)
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + inst.deliver_cmd("-d", "alice"),
                       input=big.encode(), capture_output=True)
    check(r.returncode == 0, "40 MB delivery: %r" % r.stderr)
    kb = int(r.stderr.split()[-1])
    check(kb < (60000 if ASAN else 8000), "deliver used %d KB for a 40 MB message" % kb)
    d, _ = inst.dump("alice")
    m = d["msgs"][-1]
    check(m["size"] == wire_size(os.path.join(md, m["file"]), False) and
          m["size"] > 40000000, "40 MB message size %d" % m["size"])

    # as root, the files belong to the mail user, not root
    if os.geteuid() == 0:
        st = os.stat(os.path.join(md, m["file"]))
        check(st.st_uid != 0 and os.stat(os.path.join(md, "zest.index")).st_uid == st.st_uid,
              "files owned by uid %d" % st.st_uid)

    # exit codes
    r = inst.deliver(message("x"), "-d", "nobody-here")
    check(r.returncode == 67, "unknown user gives %d" % r.returncode)
    r = inst.deliver(message("x"), "-d", "alice", "-Q")
    check(r.returncode == 64, "bad option gives %d" % r.returncode)
    r = inst.deliver(message("x"), "-d", "alice", "-m", "../etc")
    check(r.returncode == 64, "bad folder gives %d" % r.returncode)
    r = inst.deliver(message("x"), "-d", "alice", "-f", "a\nb")
    check(r.returncode == 64, "header injection in sender gives %d" % r.returncode)
    # a Maildir that cannot be created: 73
    md_b = inst.useradd("bob")
    shutil.rmtree(md_b)
    mailroot = os.path.dirname(md_b)
    os.chmod(mailroot, 0o500)
    r = inst.deliver(message("x"), "-d", "bob")
    os.chmod(mailroot, 0o700)
    check(r.returncode == 73, "uncreatable Maildir gives %d: %s" % (r.returncode, r.stderr))
    inst.set_conf("message_size_limit", "2k")
    r = inst.deliver(message("big", body_lines=200), "-d", "alice")
    check(r.returncode == 65, "too big gives %d" % r.returncode)
    check(b"message_size_limit" in r.stderr, "too big message: %r" % r.stderr)
    os.chmod(inst.dir, 0o755)
    open(os.path.join(inst.dir, "zest.conf"), "a").write("bogus line\n")
    r = inst.deliver(message("x"), "-d", "alice")
    check(r.returncode == 75, "bad configuration gives %d" % r.returncode)
    tmpfiles = os.listdir(os.path.join(md, "tmp"))
    check(tmpfiles == [], "files left in tmp/: %s" % tmpfiles)
    print("ok")
finally:
    inst.cleanup()
