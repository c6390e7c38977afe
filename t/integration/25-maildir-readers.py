# SPDX-License-Identifier: ISC
"""Other Maildir readers open what deliver wrote: Python's mailbox module
and mutt (in a pseudo-terminal, read-only)."""
import mailbox
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

inst = Instance()
try:
    md = inst.useradd("alice")
    for i in range(5):
        check(inst.deliver(message("mr%d" % i), "-d", "alice").returncode == 0, "deliver")
    check(inst.deliver(message("seen"), "-d", "alice", "-F", "S").returncode == 0, "deliver")
    box = mailbox.Maildir(md, factory=None, create=False)
    subjects = sorted(m["Subject"] for m in box)
    check(subjects == sorted(["test mr%d" % i for i in range(5)] + ["test seen"]),
          "python mailbox read %s" % subjects)
    seen = [m for m in box if m["Subject"] == "test seen"][0]
    check("S" in seen.get_flags(), "flags as Python reads them: %r" % seen.get_flags())

    if shutil.which("mutt") is None or shutil.which("script") is None:
        skip("mutt or script(1) not installed")
    rc = os.path.join(inst.base, "muttrc")
    open(rc, "w").write("set folder=%s\nset spoolfile=%s\nset quit=yes\n"
                        "set mbox_type=Maildir\nset sort=date\n" % (inst.base, md))
    env = dict(os.environ, TERM="vt100", HOME=inst.base)
    cmd = "mutt -n -F %s -R -f %s -e 'push <quit>'" % (rc, md)
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env,
                       capture_output=True, timeout=30)
    out = r.stdout.decode("latin-1")
    check(r.returncode == 0, "mutt exit %d: %s" % (r.returncode, out[-300:]))
    check("Msgs:6" in out and "New:5" in out, "mutt's status line: %r" % out[-400:])
    check("test mr0" in out, "mutt's index shows no subject")
    print("ok")
finally:
    inst.cleanup()
