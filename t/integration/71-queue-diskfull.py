# SPDX-License-Identifier: ISC
"""A full queue disk: smtpd answers 452 (temporary), nothing it
acknowledged with 250 is lost, and mail flows again once there is room.
Needs root (it mounts a small tmpfs on the queue); skipped otherwise."""
import os
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

if os.geteuid() != 0:
    skip("not root: cannot mount a tmpfs")
for prog in ("smtpd", "queue-inject", "queued", "spawner", "listen"):
    if not os.path.exists(os.path.join(BIN, prog)):
        skip("%s not built" % prog)

BASE = 44000 + (os.getpid() % 150) * 40
inst = Instance(port_base=BASE, domain="d.test")
q = os.path.join(inst.dir, "queue")
mounted = False
try:
    md = inst.useradd("alice")
    st = os.stat(q)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k,mode=0700", "tmpfs", q],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip("cannot mount tmpfs: %s" % r.stderr.strip())
    mounted = True
    os.chown(q, st.st_uid, st.st_gid)
    r = inst.zest("start")
    check(r.returncode == 0, "start: %s %s" % (r.stdout, r.stderr))
    # hold the queue manager so the queue fills up
    pid = int(open(os.path.join(inst.dir, "run", "queue.pid")).read().split()[0])
    os.killpg(os.getpgid(pid), signal.SIGSTOP) if os.getpgid(pid) != os.getpgid(0) \
        else os.kill(pid, signal.SIGSTOP)
    acked, codes = [], []
    body = "x" * 900 + "\r\n"
    for i in range(2000):
        with smtplib.SMTP("127.0.0.1", BASE + 25, timeout=30) as s:
            s.ehlo("c")
            s.mail("s@example.org")
            s.rcpt("alice@d.test")
            code, resp = s.data(("Subject: test df%d\r\n\r\n" % i + body * 3).encode())
            codes.append(code)
            if code == 250:
                acked.append("df%d" % i)
            else:
                check(code == 452, "full queue gave %d %r" % (code, resp))
                break
    check(codes[-1] == 452, "the queue never filled: %d messages" % len(acked))
    leftovers = os.listdir(os.path.join(q, "tmp")) if os.path.isdir(os.path.join(q, "tmp")) else []
    check(leftovers == [], "half-written files left in queue/tmp: %s" % leftovers)
    # let it go: everything acknowledged arrives, once
    try:
        os.killpg(os.getpgid(pid), signal.SIGCONT)
    except OSError:
        os.kill(pid, signal.SIGCONT)
    deadline = time.time() + 120
    while time.time() < deadline and len(files_in(md)) < len(acked):
        time.sleep(0.1)
    got = sorted(token_of(os.path.join(md, f)) for f in files_in(md))
    check(got == sorted(acked), "acknowledged %d, delivered %d" % (len(acked), len(got)))
    # and there is room again
    with smtplib.SMTP("127.0.0.1", BASE + 25, timeout=30) as s:
        s.sendmail("s@example.org", ["alice@d.test"], "Subject: test after\r\n\r\nok\r\n")
    print("ok: %d acknowledged before 452" % len(acked))
finally:
    inst.zest("stop")
    if mounted:
        subprocess.run(["umount", "-l", q])
    inst.cleanup()
