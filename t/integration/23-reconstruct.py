# SPDX-License-Identifier: ISC
"""zest reconstruct: deleting or corrupting the index files and rebuilding
gives the same UIDs, flags and UIDVALIDITY; files other programs add,
rename and remove are picked up by the next sync."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa


def view(d):
    return [(m["uid"], m["file"], m["flags"], m["size"]) for m in d["msgs"]]


inst = Instance()
try:
    md = inst.useradd("alice")
    for i in range(60):
        args = ["-d", "alice"] + (["-F", "S"] if i % 3 == 0 else [])
        check(inst.deliver(message("r%d" % i), *args).returncode == 0, "deliver")
    # remove a few by hand so UIDs have gaps
    d, _ = inst.dump("alice")
    for m in d["msgs"][5:8]:
        os.unlink(os.path.join(md, m["file"]))
    before, _ = inst.dump("alice")
    check(before["header"]["count"] == 60 and before["header"]["exists"] == 57,
          "external removal seen: %s" % before["header"])
    uv = before["header"]["uidvalidity"]
    want = view(before)

    for f in ("zest.index", "zest.cache"):
        os.unlink(os.path.join(md, f))
    r = inst.zest("reconstruct", "alice")
    check(r.returncode == 0, "reconstruct: %s" % r.stderr)
    check("57 messages, 57 UIDs kept, 0 new" in r.stdout, r.stdout)
    after, _ = inst.dump("alice")
    check(view(after) == want, "UIDs/flags changed by reconstruct")
    check(after["header"]["uidvalidity"] == uv, "UIDVALIDITY changed")
    check(after["header"]["uidnext"] == 61, "uidnext %s" % after["header"])

    # a corrupt index is detected and rebuilt on the next open
    with open(os.path.join(md, "zest.index"), "r+b") as f:
        f.seek(30)
        f.write(b"\xff\xff\xff")
        f.seek(128 + 64 * 10 + 3)
        f.write(b"\x00\x13")
    again, _ = inst.dump("alice")
    check(view(again) == want, "corrupt index not rebuilt to the same UIDs")
    # a truncated cache too
    os.truncate(os.path.join(md, "zest.cache"), 100)
    again, _ = inst.dump("alice")
    check(view(again) == want, "truncated cache not rebuilt to the same UIDs")

    # other programs: a file dropped into new/, one renamed in cur/
    open(os.path.join(md, "new", "1.foreign.host"), "w").write(message("foreign"))
    cur = [m for m in again["msgs"] if m["file"].startswith("cur/")][0]
    base = cur["file"][4:].split(":")[0]
    os.rename(os.path.join(md, cur["file"]), os.path.join(md, "cur", base + ":2,RS"))
    time.sleep(2.1)  # let the directory mtimes settle (see zest-index(5))
    d, _ = inst.dump("alice")
    check(d["msgs"][-1]["uid"] == 61, "foreign file got uid %d" % d["msgs"][-1]["uid"])
    check(token_of(os.path.join(md, d["msgs"][-1]["file"])) == "foreign", "foreign")
    m = [x for x in d["msgs"] if x["uid"] == cur["uid"]][0]
    check(m["flags"] == "\\Seen \\Answered", "renamed flags: %r" % m["flags"])

    # a dovecot-uidlist is honoured for a Maildir that never had our index
    md2 = inst.useradd("bob")
    names = []
    for i in range(3):
        n = "17000000%02d.M1P1Q%d.host" % (i, i)
        open(os.path.join(md2, "cur", n + ":2,S"), "w").write(message("dv%d" % i))
        names.append(n)
    with open(os.path.join(md2, "dovecot-uidlist"), "w") as f:
        f.write("3 V555 N40 Gabc\n")
        for uid, n in zip((7, 9, 30), names):
            f.write("%d :%s\n" % (uid, n))
    r = inst.zest("reconstruct", "bob")
    check(r.returncode == 0, r.stderr)
    d, _ = inst.dump("bob")
    check([m["uid"] for m in d["msgs"]] == [7, 9, 30], "dovecot uids %s" % d["msgs"])
    check(d["header"]["uidvalidity"] == 555 and d["header"]["uidnext"] == 40, "dovecot header")
    print("ok")
finally:
    inst.cleanup()
