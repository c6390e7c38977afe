# SPDX-License-Identifier: ISC
"""The queue: queue-inject, queued and the spawner on a real instance.
Local delivery arrives byte-exact, one message with several recipients is
stored once, aliases and lists fan out, unknown users and loops bounce with
RFC 3464 reports, NOTIFY=SUCCESS and NEVER, the null sender, temporary
failures retry (a held mailbox lock) and `zest flush` retries at once,
delay notices, `zest queue`, remote recipients wait while remote is
missing, queue-inject refuses bad input, works setuid, and the spawner and
queued end together."""
import fcntl
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa


def body(token, extra=""):
    return ("From: bob@localhost\r\nTo: alice@localhost\r\n"
            "Subject: test %s\r\nMessage-ID: <%s@test>\r\n%s\r\n"
            "line one of %s\r\n.dot line\r\n" % (token, token, extra, token)
            ).encode()


def with_token(inst, user, token):
    return [m for m in inst.maildir_msgs(user)
            if re.search(rb"^Subject: test " + token.encode() + rb"\r?$",
                         m, re.M)]


def reports(inst, user, token=None):
    """The DSNs in user's Maildir (about token's message, if given)."""
    out = []
    for m in inst.maildir_msgs(user):
        if b"report-type=delivery-status" not in m:
            continue
        if token is None or (b"Subject: test " + token.encode()) in m:
            out.append(m.decode("utf-8", "replace"))
    return out


def field(report, name):
    return re.findall(r"^%s: (.*?)\r?$" % re.escape(name), report, re.M)


def queue_file(inst, qid):
    """The envelope text and the message of the V2 queue file env/<qid>:
    its first line "V2 <n>" says the message starts at byte n."""
    data = open(inst.queue_dir("env", qid), "rb").read()
    first = data[:data.index(b"\n")].split()
    check(first[0] == b"V2" and len(first) == 2, "V2 file: %r" % data[:40])
    n = int(first[1])
    env = data[:n].decode()
    check(env.endswith("\n") and "\nR" in env, "envelope: %r" % env)
    return env, data[n:]


def inject_ok(inst, sender, rcpts, msg, extra=""):
    rc, out, err = inst.inject(sender, rcpts, msg, extra)
    check(rc == 0 and out.startswith("ok "), "inject: %d %r %s" %
          (rc, out, err))
    return out.split()[1]


def ordinary_user_instance():
    """An instance run by an ordinary user (nobody): no system users, no
    setuid; everything runs as that user and mail still flows."""
    nobody = pwd.getpwnam("nobody")
    base = tempfile.mkdtemp(prefix="zest-it-nobody-")
    os.chmod(base, 0o755)
    os.chown(base, nobody.pw_uid, nobody.pw_gid)
    d = os.path.join(base, "inst")
    env = {k: v for k, v in os.environ.items()
           if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    env["PATH"] = "/usr/bin:/bin"

    def run(*args, **kw):
        return subprocess.run(list(args), capture_output=True, user="nobody",
                              group=nobody.pw_gid, extra_groups=[], env=env,
                              cwd=base, **kw)
    sp = None
    try:
        z = os.path.join(BIN, "zest")
        r = run(z, "init", d)
        check(r.returncode == 0, "init as nobody: %s" % r.stderr)
        for u in ("ann", "ben"):
            r = run(z, "-C", d, "useradd", u, "pw")
            check(r.returncode == 0, "useradd as nobody: %s" % r.stderr)
        conf = os.path.join(d, "zest.conf")
        text = open(conf).read().replace("log = syslog", "log = stderr")
        open(conf, "w").write(text)
        log = open(os.path.join(base, "spawner.log"), "wb")
        sp = subprocess.Popen([os.path.join(BIN, "spawner"), "-C", d],
                              stdout=log, stderr=log, user="nobody",
                              group=nobody.pw_gid, extra_groups=[], env=env,
                              start_new_session=True)
        r = run(os.path.join(BIN, "queue-inject"), "-C", d,
                input=queue_input("ann@localhost", ["ben@localhost",
                                  "nobody-here@localhost"], body("nobody")))
        check(r.returncode == 0, "inject as nobody: %r %r" % (r.stdout, r.stderr))
        deadline = time.time() + 30
        while time.time() < deadline and os.listdir(os.path.join(d, "queue",
                                                                 "env")):
            time.sleep(0.05)
        check(not os.listdir(os.path.join(d, "queue", "env")),
              "nobody's queue: %s" % open(log.name).read()[-2000:])
        for u, n in (("ben", 1), ("ann", 1)):
            md = os.path.join(d, "mail", u)
            got = [f for f in files_in(md)
                   if os.stat(os.path.join(md, f)).st_uid == nobody.pw_uid]
            check(len(got) == n, "%s has %d messages" % (u, len(got)))
        check(b"nobody-here@localhost" in open(os.path.join(
              d, "mail", "ann", files_in(os.path.join(d, "mail", "ann"))[0]),
              "rb").read(), "ann's bounce")
        os.kill(sp.pid, signal.SIGTERM)
        check(sp.wait(timeout=20) == 0, "nobody's spawner exit status")
        sp = None
    finally:
        if sp is not None:
            try:
                os.killpg(sp.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            sp.wait()
        shutil.rmtree(base, ignore_errors=True)


inst = Instance()
try:
    for u in ("alice", "bob", "carol", "dave"):
        inst.useradd(u)
    with open(os.path.join(inst.dir, "tables", "aliases"), "a") as f:
        f.write("postmaster alice\nteam alice, bob\nall team, carol\n"
                "keep carol, carol\n")
    r = inst.zest("makemap", "aliases")
    check(r.returncode == 0, "makemap: %s" % r.stderr)
    inst.set_conf("log", "stderr")
    inst.set_conf("lock_timeout", "1s")
    inst.set_conf("queue_retry_min", "1h")
    inst.set_conf("delay_warning", "1s")

    # --- stored once, listed by zest queue, before queued runs ---
    m1 = body("once")
    qid = inject_ok(inst, "bob@localhost", ["alice@localhost",
                    "bob@localhost", "Carol@LOCALHOST"], m1)
    check(inst.queue_ids() == [qid], "queue ids %s" % inst.queue_ids())
    check(os.listdir(inst.queue_dir("env")) == [qid] and
          not os.path.exists(inst.queue_dir("msg", qid)), "one queue file")
    env, msg = queue_file(inst, qid)
    check(msg == m1, "the queued message is the input, byte for byte")
    check(env.count("\nR") == 3 and "\nA0\n" in env and "\nI%s\n" % qid
          in env, "envelope: %r" % env)
    q = inst.zest("queue").stdout
    check(re.search(r"^%s %d \S+ <bob@localhost>$" % (re.escape(qid),
                    len(m1)), q, re.M) and q.count(" queued") == 3 and
          "1 message in the queue" in q, "zest queue: %s" % q)

    inst.spawner_start()
    inst.wait_queue_empty()
    for u in ("alice", "bob", "carol"):
        got = with_token(inst, u, "once")
        check(len(got) == 1, "%s got 'once' %d times" % (u, len(got)))
    # byte-exact: deliver's two fields, then the message (LF on disk)
    want = (b"Return-Path: <bob@localhost>\nDelivered-To: alice@localhost\n"
            + m1.replace(b"\r\n", b"\n"))
    check(with_token(inst, "alice", "once")[0] == want,
          "alice's copy differs: %r" % with_token(inst, "alice", "once"))
    d, _ = inst.dump("alice")
    check(len(d["msgs"]) == 1 and d["msgs"][0]["size"] == len(want) +
          want.count(b"\n"), "dump: %s" % d)
    check(with_token(inst, "carol", "once")[0].startswith(
          b"Return-Path: <bob@localhost>\nDelivered-To: carol@localhost\n"),
          "carol's address folded to the user")
    # a bare LF keeps the message raw, byte for byte
    raw = body("raw").replace(b"line one", b"bare\nLF")
    inject_ok(inst, "bob@localhost", ["dave@localhost"], raw)
    inst.wait_queue_empty()
    check(with_token(inst, "dave", "raw") == [
          b"Return-Path: <bob@localhost>\r\nDelivered-To: dave@localhost\r\n"
          + raw], "raw message not byte-exact")

    # --- aliases and lists fan out, duplicates once, self kept ---
    inject_ok(inst, "bob@localhost", ["all@localhost", "alice@localhost",
              "keep"], body("fan"))
    inst.wait_queue_empty()
    for u in ("alice", "bob", "carol"):
        check(len(with_token(inst, u, "fan")) == 1, "fan-out to %s" % u)
    check(not reports(inst, "bob", "fan"), "no report for the fan-out")

    # --- an unknown local user bounces to the (local) sender ---
    inject_ok(inst, "bob@localhost", ["alice@localhost",
              "nobody@localhost"], body("unknown"))
    inst.wait_queue_empty()
    check(len(with_token(inst, "alice", "unknown")) == 1, "alice got it")
    rep = reports(inst, "bob", "unknown")
    check(len(rep) == 1, "bob got %d reports" % len(rep))
    rp = rep[0]
    check(rp.startswith("Return-Path: <>\n"), "report has a null sender")
    check(field(rp, "Final-Recipient") == ["rfc822; nobody@localhost"] and
          field(rp, "Action") == ["failed"] and
          field(rp, "Status") == ["5.1.1"] and
          "Content-Type: message/delivery-status" in rp and
          "Content-Type: message/rfc822" in rp and
          "line one of unknown" in rp and
          field(rp, "Subject")[0] == "Undelivered Mail Returned to Sender" and
          field(rp, "Auto-Submitted") == ["auto-replied"],
          "bounce:\n%s" % rp)
    check(field(rp, "Reporting-MTA") and field(rp, "Arrival-Date") and
          field(rp, "Diagnostic-Code")[0].startswith("x-unix; "),
          "per-message fields:\n%s" % rp)

    # --- NOTIFY=SUCCESS, ORCPT, ENVID; NOTIFY=NEVER; RET=HDRS ---
    inject_ok(inst, "bob@localhost",
              [("alice@localhost", "SUCCESS", "rfc822;Alice+40localhost"),
               ("nobody@localhost", "NEVER", "")], body("notify"),
              extra="Nenv+2Bid\nXHDRS\n")
    inst.wait_queue_empty()
    rep = reports(inst, "bob", "notify")
    check(len(rep) == 1, "one report for notify, got %d" % len(rep))
    rp = rep[0]
    check(field(rp, "Action") == ["delivered"] and
          field(rp, "Status") == ["2.0.0"] and
          field(rp, "Original-Recipient") == ["rfc822;Alice@localhost"] and
          field(rp, "Original-Envelope-Id") == ["env+id"] and
          "text/rfc822-headers" in rp and "line one of" not in rp,
          "success report:\n%s" % rp)

    # --- the null sender: no bounce; the postmaster gets a double bounce
    before = len(reports(inst, "alice"))
    inject_ok(inst, "", ["nobody@localhost"], body("null"))
    inst.wait_queue_empty()
    check(not reports(inst, "bob", "null"), "bounce for the null sender")
    dbl = reports(inst, "alice", "null")
    check(len(dbl) == 1 and field(dbl[0], "To")[0] == "<postmaster@localhost>"
          and len(reports(inst, "alice")) == before + 1,
          "double bounce to the postmaster: %s" % dbl)

    # --- a loop: the message was already delivered to alice ---
    inject_ok(inst, "bob@localhost", ["team@localhost"],
              body("loop", "Delivered-To: alice@localhost\r\n"))
    inst.wait_queue_empty()
    check(not with_token(inst, "alice", "loop"), "loop delivered to alice")
    check(len(with_token(inst, "bob", "loop")) == 2,
          "bob: his copy and the bounce")
    rp = reports(inst, "bob", "loop")
    check(len(rp) == 1 and field(rp[0], "Status") == ["5.4.6"] and
          field(rp[0], "Final-Recipient") == ["rfc822; alice@localhost"] and
          field(rp[0], "Original-Recipient") == ["rfc822;team@localhost"],
          "loop bounce: %s" % rp)

    # --- an uncreatable Maildir is permanent (deliver exit 73) ---
    md = os.path.join(inst.dir, "mail", "dave")
    shutil.rmtree(md)
    open(md, "w").close()
    inject_ok(inst, "bob@localhost", ["dave@localhost"], body("cantcreat"))
    inst.wait_queue_empty()
    rp = reports(inst, "bob", "cantcreat")
    check(len(rp) == 1 and field(rp[0], "Status") == ["5.2.0"] and
          "(exit 73)" in field(rp[0], "Diagnostic-Code")[0],
          "exit 73 bounce: %s" % rp)

    # --- a held mailbox lock: deliver exits 75, queued retries; flush ---
    lock = open(os.path.join(inst.dir, "mail", "carol", "zest.lock"), "r+")
    fcntl.lockf(lock, fcntl.LOCK_EX)
    qid = inject_ok(inst, "bob@localhost", ["carol@localhost"], body("held"))
    deadline = time.time() + 30
    while time.time() < deadline:
        q = inst.zest("queue").stdout
        if "retry (1 try): 4.2.0" in q:
            break
        time.sleep(0.1)
    check("<carol@localhost> retry (1 try): 4.2.0 x-unix; deliver:" in q,
          "zest queue shows the retry: %s" % q)
    check(not with_token(inst, "carol", "held"), "delivered through a lock")
    deadline = time.time() + 10
    while time.time() < deadline and not reports(inst, "bob", "held"):
        time.sleep(0.1)
    rp = reports(inst, "bob", "held")
    check(len(rp) == 1 and field(rp[0], "Action") == ["delayed"] and
          field(rp[0], "Will-Retry-Until"), "delay notice: %s" % rp)
    time.sleep(1)
    check(inst.queue_ids() == [qid], "retry waits an hour")
    fcntl.lockf(lock, fcntl.LOCK_UN)
    lock.close()
    r = inst.zest("flush")
    check(r.returncode == 0, "flush: %s" % r.stderr)
    inst.wait_queue_empty(20)
    check(len(with_token(inst, "carol", "held")) == 1, "held delivered")

    # --- a remote recipient stays queued while remote is missing ---
    if not os.path.exists(os.path.join(BIN, "remote")):
        qid = inject_ok(inst, "bob@localhost", ["someone@remote.invalid",
                        "alice@localhost"], body("remote"))
        deadline = time.time() + 20
        while time.time() < deadline:
            q = inst.zest("queue").stdout
            if "4.4.1 smtp; 451 4.4.1 remote not installed" in q and \
                    "<alice@localhost> delivered" in q:
                break
            time.sleep(0.1)
        check("<someone@remote.invalid> retry (1 try): 4.4.1" in q and
              "<alice@localhost> delivered" in q, "remote: %s" % q)
        check(inst.queue_ids() == [qid], "remote message stays queued")
        check(len(with_token(inst, "alice", "remote")) == 1, "local part")
        os.unlink(inst.queue_dir("env", qid))   # out of the way

    # --- queue-inject refuses bad input and keeps nothing ---
    inst.set_conf("max_recipients", "2")
    inst.set_conf("message_size_limit", "1k")
    cases = [
        (queue_input("a@b", ["c@d"], b"x" * 2000), "552 5.3.4 "),
        (queue_input("a@b", ["c@d", "e@f", "g@h"], b"x"), "452 4.5.3 "),
        (b"V1\nFa@b\nRc@d\t\t\nI1.2.3\n.\nD1\nxE\n", "554 5.6.0 "),
        (b"V1\nFa@b\nRc@d\t\t\n.\nD5\nxE\n", "554 5.6.0 "),
        (b"V1\nFa@b\nRc@d\t\t\n.\nD1\nx", "554 5.6.0 "),
        (b"V1\nFa@b\nRc@d\t\t\n.\nDx\nxE\n", "554 5.6.0 "),
        (b"V1\nFa@b\n", "554 5.6.0 "),
    ]
    ids = inst.queue_ids()
    for data, want in cases:
        r = subprocess.run([os.path.join(BIN, "queue-inject"), "-C",
                            inst.dir], input=data, capture_output=True)
        check(r.returncode == 1 and r.stdout.decode().startswith(want),
              "%r: %d %r" % (data[:40], r.returncode, r.stdout))
    check(inst.queue_ids() == ids and not os.listdir(inst.queue_dir("tmp")),
          "refused input left files")
    r = subprocess.run([os.path.join(BIN, "queue-inject"), "-x"],
                       capture_output=True)
    check(r.returncode == 1 and r.stdout.startswith(b"554 5.3.5 usage"),
          "usage: %r" % r.stdout)
    inst.set_conf("max_recipients", "1000")
    inst.set_conf("message_size_limit", "100M")

    # --- queue-inject installed setuid/setgid zest-queue, run by nobody ---
    if os.geteuid() == 0:
        sdir = os.path.join(inst.base, "suid")
        os.mkdir(sdir, 0o755)
        exe = os.path.join(sdir, "queue-inject")
        shutil.copy(os.path.join(BIN, "queue-inject"), exe)
        st = os.stat(inst.queue_dir())
        os.chown(exe, st.st_uid, st.st_gid)
        os.chmod(exe, 0o6755)
        rc, out, err = inst.inject("bob@localhost", ["alice@localhost"],
                                   body("setuid"), cmd=[exe, "-C", inst.dir],
                                   user="nobody", env={})
        check(rc == 0 and out.startswith("ok "), "setuid: %d %r %s" %
              (rc, out, err))
        nobody = pwd.getpwnam("nobody")
        check("uid=%d " % nobody.pw_uid in err, "A line: %s" % err)
        inst.wait_queue_empty()
        check(len(with_token(inst, "alice", "setuid")) == 1, "setuid mail")
        # the caller cannot point it at a queue of its own
        other = os.path.join(sdir, "inst")
        os.mkdir(other)
        os.mkdir(os.path.join(other, "queue"), 0o755)
        os.chown(os.path.join(other, "queue"), nobody.pw_uid,
                 nobody.pw_gid)
        open(os.path.join(other, "zest.conf"), "w").write("log = stderr\n")
        rc, out, err = inst.inject("bob@localhost", ["alice@localhost"],
                                   b"x", cmd=[exe, "-C", other],
                                   user="nobody", env={})
        check(rc == 1 and out.startswith("451 4.3.0") and
              "refusing" in err, "own queue: %r %s" % (out, err))

    # --- queued and the spawner end together ---
    sp = inst.spawner
    pid = int(open(os.path.join(inst.dir, "run", "queue.pid")).read())
    check(pid == sp.pid, "pid file")
    out = subprocess.run(["pgrep", "-P", str(sp.pid), "queued"],
                         capture_output=True, text=True).stdout.split()
    check(len(out) == 1, "one queued child: %s" % out)
    os.kill(int(out[0]), signal.SIGKILL)
    rc = sp.wait(timeout=20)
    inst.spawner = None
    check(rc != 0, "spawner exit status %s after queued was killed" % rc)
    check(not os.path.exists(os.path.join(inst.dir, "run", "queue.pid")),
          "pid file left")
    sp = inst.spawner_start()
    qd = subprocess.run(["pgrep", "-P", str(sp.pid), "queued"],
                        capture_output=True, text=True).stdout.split()
    os.kill(sp.pid, signal.SIGKILL)
    inst.spawner = None
    deadline = time.time() + 20
    while time.time() < deadline and os.path.exists("/proc/%s" % qd[0]):
        st = open("/proc/%s/stat" % qd[0]).read().split()[2]
        if st == "Z":
            break
        time.sleep(0.05)
    check(not os.path.exists("/proc/%s" % qd[0]) or
          open("/proc/%s/stat" % qd[0]).read().split()[2] == "Z",
          "queued outlived the spawner")
    sp.wait()
    # SIGTERM: queued stops, then the spawner, with status 0
    inst.spawner_start()
    check(inst.spawner_stop(signal.SIGTERM) == 0, "SIGTERM exit status")
    if os.geteuid() == 0:
        ordinary_user_instance()
    print("ok: queue")
finally:
    inst.cleanup()
