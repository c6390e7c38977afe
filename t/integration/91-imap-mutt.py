# SPDX-License-Identifier: ISC
"""mutt reads the INBOX through imapd (in a pseudo-terminal): its index
shows the messages, and displaying the first one marks it \\Seen on the
server, as the index then records."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if shutil.which("mutt") is None or shutil.which("script") is None:
    skip("mutt or script(1) not installed")
if not os.access(os.path.join(BIN, "imapd"), os.X_OK):
    skip("no imapd in %s" % BIN)

BASE = 36000 + (os.getpid() % 40) * 50 + 25
PORT = BASE + 143

inst = Instance(port_base=BASE)
try:
    inst.useradd("alice", "mutt pw")
    for i in range(4):
        r = inst.deliver(message("mi%d" % i, 3), "-d", "alice")
        check(r.returncode == 0, "deliver: %r" % r.stderr)
    r = inst.zest("start")
    check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))
    rc = os.path.join(inst.base, "muttrc")
    open(rc, "w").write(
        "set imap_user=alice\nset imap_pass='mutt pw'\n"
        "set folder=imap://127.0.0.1:%d/\nset spoolfile=+INBOX\n"
        "set ssl_starttls=no\nset ssl_force_tls=no\nset quit=yes\n"
        "set sort=date\nset mark_old=no\nset move=no\n"
        "set header_cache=\nset message_cachedir=\n" % PORT)
    env = dict(os.environ, TERM="vt100", HOME=inst.base)
    cmd = ("mutt -n -F %s -f imap://127.0.0.1:%d/INBOX "
           "-e 'push <display-message><exit><quit>'" % (rc, PORT))
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env,
                       capture_output=True, timeout=60)
    out = r.stdout.decode("latin-1")
    check(r.returncode == 0, "mutt exit %d: %s" % (r.returncode, out[-500:]))
    check("test mi0" in out and "test mi3" in out,
          "mutt's index lacks the subjects: %r" % out[-800:])
    check("Msgs:4 New:3" in out, "mutt's status line: %r" % out[-800:])
    d, _ = inst.dump("alice")
    seen = [m["uid"] for m in d["msgs"] if "\\Seen" in m["flags"]]
    check(seen == [1], "\\Seen after mutt read message 1: %r" % d["msgs"])
    print("ok mutt over IMAP: index, message display, \\Seen stored")
finally:
    inst.zest("stop")
    inst.cleanup()
