# SPDX-License-Identifier: ISC
"""Disk full: deliver answers 75 (EX_TEMPFAIL), leaves nothing half-written
in the Maildir, and every message it acknowledged is there exactly once.
Needs root (it mounts a small tmpfs); skipped otherwise."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if os.geteuid() != 0:
    skip("not root: cannot mount a tmpfs")
inst = Instance()
mnt = os.path.join(inst.dir, "mail")
mounted = False
try:
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip("cannot mount tmpfs: %s" % r.stderr.strip())
    mounted = True
    st = os.stat(os.path.join(inst.dir, "queue"))  # any dir made by init
    vm = subprocess.run(["id", "-u", "zest-vmail"], capture_output=True, text=True)
    if vm.returncode == 0:
        os.chown(mnt, int(vm.stdout), int(subprocess.run(
            ["id", "-g", "zest-vmail"], capture_output=True, text=True).stdout))
    md = inst.useradd("alice")
    acked = []
    # one big message that cannot fit
    r = inst.deliver(message("huge", body_lines=20000), "-d", "alice")
    check(r.returncode == 75, "over-full delivery gave %d: %s" % (r.returncode, r.stderr))
    # then fill up with small ones until it refuses
    results = []
    for i in range(400):
        r = inst.deliver(message("f%d" % i, body_lines=30), "-d", "alice")
        results.append(r.returncode)
        if r.returncode == 0:
            acked.append("f%d" % i)
        else:
            check(r.returncode == 75, "full disk gave %d: %s" % (r.returncode, r.stderr))
    check(0 in results and 75 in results, "never filled up: %s" % results[-5:])
    check(os.listdir(os.path.join(md, "tmp")) == [], "files left in tmp/")
    # free some room: the mailbox must be consistent and usable again
    d, _ = inst.dump("alice")
    check(not any(m["missing"] for m in d["msgs"]), "record without file")
    tokens = [token_of(os.path.join(md, m["file"])) for m in d["msgs"]]
    check(sorted(tokens) == sorted(acked), "acknowledged vs present differ: %d vs %d" %
          (len(acked), len(tokens)))
    check(sorted(m["file"] for m in d["msgs"]) == files_in(md), "index vs Maildir")
    for m in d["msgs"][:10]:
        os.unlink(os.path.join(md, m["file"]))
    r = inst.deliver(message("after"), "-d", "alice")
    check(r.returncode == 0, "delivery after freeing space: %s" % r.stderr)
    print("ok: %d delivered before the disk was full" % len(acked))
finally:
    if mounted:
        subprocess.run(["umount", mnt])
    inst.cleanup()
