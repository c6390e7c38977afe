# SPDX-License-Identifier: ISC
"""Local delivery through long-lived workers (deliver -S, one per user,
started by the spawner):

1. 500 messages queued at once to one user and 150 to six users at once
   are delivered exactly once each, by one worker per user (the pids in the
   log), in batches of more than one message: a worker without a job
   between two batches is not closed and started again (with more than
   four such workers at once, they once were, over and over);
2. a job that fails (a message over message_size_limit; a user whose
   Maildir is unwritable) fails alone with its own status while the rest of
   its batch is delivered;
3. SIGKILL of a worker, 20 times while it has work: nothing is lost, a
   duplicate only where a delivery's outcome was lost (not yet recorded
   at a kill, or logged deferred by queued), and the indexes agree with
   the Maildirs;
4. an idle worker exits by itself, after it has settled the racy
   directory mtimes of its last batch (no directory read left for the
   next SELECT)."""
import os
import random
import re
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

N_ONE = 200 if ASAN else 500
N_MULTI = 150
MULTI = ["m%d" % i for i in range(6)]     # more than four idle at once
KILLS = 20
SENDER = "carol@localhost"


def workers(inst):
    """{pid: user} of the running deliver -S processes of inst."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if (args and os.path.basename(args[0]) == "deliver" and "-S" in args
                and inst.dir in args and "-d" in args):
            out[int(p)] = args[args.index("-d") + 1]
    return out


def inject_to(inst, tok, users, body_lines=3, extra="", notify=""):
    msg = message(tok, body_lines=body_lines, extra=extra)
    r, out, err = inst.inject(SENDER, [(u + "@localhost", notify, "")
                                       for u in users],
                              msg.replace("\n", "\r\n"))
    check(r == 0, "inject %s: %r %s" % (tok, out, err))
    return out.split()[1]


def tokens(inst, user):
    """{token: count} of user's Maildir."""
    md = os.path.join(inst.dir, "mail", user)
    got = {}
    for f in files_in(md):
        t = token_of(os.path.join(md, f))
        got[t] = got.get(t, 0) + 1
    return got


def index_agrees(inst, user):
    d, _ = inst.dump(user)
    check(not any(m["missing"] for m in d["msgs"]),
          "%s: record without file" % user)
    md = os.path.join(inst.dir, "mail", user)
    check(sorted(m["file"] for m in d["msgs"]) == files_in(md),
          "%s: index and Maildir differ" % user)
    return d


def delivered_pids(log, user):
    return set(int(m) for m in re.findall(
        r"deliver\[(\d+)\]: \S+: delivered to %s mailbox" % user, log))


def batches(log):
    """[(pid, jobs, delivered, failed)] from the workers' batch lines."""
    return [tuple(int(x) for x in m) for m in re.findall(
        r"deliver\[(\d+)\]: \S+: batch of (\d+) jobs: (\d+) delivered, "
        r"(\d+) failed", log)]


def batch_mates(log, job):
    """The lines the worker logged in the batch of job number job."""
    lines = log.splitlines()
    for i, l in enumerate(lines):
        m = re.match(r"deliver\[(\d+)\]: %s: " % job, l)
        if not m:
            continue
        pid, out = m.group(1), []
        for l2 in lines[i + 1:]:
            if l2.startswith("deliver[%s]: -: batch of" % pid):
                break
            if l2.startswith("deliver[%s]: " % pid):
                out.append(l2)
        for l2 in reversed(lines[:i]):
            if l2.startswith("deliver[%s]: -: batch of" % pid):
                break
            if l2.startswith("deliver[%s]: " % pid):
                out.append(l2)
        return out
    return None


def worker_session(inst, user, jobs, wire=True):
    """Run deliver -S for user by hand: send each job (text, fds), read
    every answer until the worker exits.  Returns (answers, exit status)."""
    import socket
    import subprocess
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    args = ["-S", "-d", user] + (["-w"] if wire else [])
    p = subprocess.Popen(inst.deliver_cmd(*args), stdin=b,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    b.close()
    for text, fds in jobs:
        if fds:
            socket.send_fds(a, [text], fds)
        else:
            a.send(text)
    a.shutdown(socket.SHUT_WR)
    answers = []
    a.settimeout(30)
    while True:
        try:
            m = a.recv(4096)
        except ConnectionResetError:
            continue    # it left jobs unread; its answers still follow
        if not m:
            break
        answers.append(m.decode())
    a.close()
    p.stderr.read()
    return answers, p.wait(timeout=30)


def msg_fd(inst, data):
    path = os.path.join(inst.base, "msg%d" % len(os.listdir(inst.base)))
    with open(path, "wb") as f:
        f.write(data)
    return os.open(path, os.O_RDONLY)


inst = Instance()
try:
    for u in ("solo", "m0", "m1", "m2", "m3", "m4", "m5", "carol", "big",
              "ro", "k0", "k1", "wk"):
        inst.useradd(u)

    # --- 0. the worker's own protocol (deliver(8) -S), driven by hand ---
    wire = message("w0").replace("\n", "\r\n").encode()
    fds = [msg_fd(inst, wire) for _ in range(4)]
    answers, st = worker_session(inst, "wk", [
        (b"11\0wk@localhost\0s@example.org\0", [fds[0]]),
        (b"12\0wk@localhost\0\0Lists.zest", [fds[1]]),
        (b"13\0wk@localhost\0s@example.org\0", []),          # no fd
        (b"14\0wk@localhost\0<bad>\0", [fds[2]]),          # bad sender
        (b"15\0wk@localhost\0s@example.org\0../x", [fds[3]]),  # mailbox
        (b"16\0wk@localhost\0s@example.org", [fds[3]]),      # 3 fields
        (b"x\0wk@localhost\0\0", [fds[3]]),                 # no job number
        (b"17\0wk@localhost\0\0", [fds[3]]),                # after it: none
    ])
    for fd in fds:
        os.close(fd)
    check(st == 0, "worker exit %d" % st)
    check(answers[:2] == ["11 0 ", "12 0 "], "answers %r" % answers)
    check(answers[2] == "13 64 deliver: malformed job", answers[2])
    check(answers[3] == "14 64 deliver: malformed job", answers[3])
    check(answers[4] == "15 64 deliver: bad mailbox name", answers[4])
    check(answers[5] == "16 64 deliver: malformed job", answers[5])
    check(len(answers) == 6, "answered past a job without number: %r" %
          answers)
    md = os.path.join(inst.dir, "mail", "wk")
    f = files_in(md)
    check(len(f) == 1, "wk: %s" % f)
    first = open(os.path.join(md, f[0]), "rb").read()
    # (wire input without bare LF is stored as LF text)
    check(first.startswith(b"Return-Path: <s@example.org>\n"
                           b"Delivered-To: wk@localhost\nFrom:"),
          "headers %r" % first[:100])
    lists = os.path.join(md, ".Lists.zest")
    check(len(files_in(lists)) == 1 and
          open(os.path.join(lists, files_in(lists)[0]), "rb").read()
          .startswith(b"Return-Path: <>\n"), "folder delivery")
    check(os.path.exists(os.path.join(lists, "maildirfolder")), "folder")
    # more folders than the worker keeps open, one batch
    fds = [msg_fd(inst, wire) for _ in range(10)]
    answers, st = worker_session(inst, "wk", [
        (b"%d\0wk@localhost\0\0F%d" % (20 + i, i), [fds[i]])
        for i in range(10)])
    for fd in fds:
        os.close(fd)
    check(st == 0 and answers == ["%d 0 " % (20 + i) for i in range(10)],
          "folders: %d %r" % (st, answers))
    for i in range(10):
        check(len(files_in(os.path.join(md, ".F%d" % i))) == 1, "F%d" % i)
    # the Maildir replaced between two jobs: the worker follows it
    import socket
    import subprocess
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    p = subprocess.Popen(inst.deliver_cmd("-S", "-w", "-d", "wk"), stdin=b,
                         stderr=subprocess.DEVNULL)
    b.close()
    a.settimeout(30)
    fd = msg_fd(inst, wire)
    socket.send_fds(a, [b"31\0wk@localhost\0\0"], [fd])
    check(a.recv(4096) == b"31 0 ", "before the move")
    st_md = os.stat(md)
    os.rename(md, md + ".old")
    for sub in ("", "/tmp", "/new", "/cur"):
        os.mkdir(md + sub, 0o700)
        os.chown(md + sub, st_md.st_uid, st_md.st_gid)
    socket.send_fds(a, [b"32\0wk@localhost\0\0"], [fd])
    check(a.recv(4096) == b"32 0 ", "after the move")
    a.close()
    os.close(fd)
    check(p.wait(timeout=30) == 0, "worker exit")
    check(len(files_in(md)) == 1 and len(files_in(md + ".old")) == 2,
          "replaced Maildir: %s %s" % (files_in(md), files_in(md + ".old")))
    d = index_agrees(inst, "wk")
    check(d["header"]["count"] == 1, "new index %s" % d["header"])
    # a job that fails in a batch fails alone: all sent before the worker
    # reads, so they are one batch (the worker takes every job waiting)
    inst.set_conf("message_size_limit", "20000")
    small = message("b0").replace("\n", "\r\n").encode()
    huge = message("b1", body_lines=3000).replace("\n", "\r\n").encode()
    fds = [msg_fd(inst, huge if i == 5 else small) for i in range(11)]
    answers, st = worker_session(inst, "wk", [
        (b"%d\0wk@localhost\0\0B" % (40 + i), [fds[i]]) for i in range(11)])
    for fd in fds:
        os.close(fd)
    inst.set_conf("message_size_limit", "10485760")
    check(st == 0 and len(answers) == 11, "batch: %d %r" % (st, answers))
    check(answers[5].startswith("45 65 deliver: message larger than "
                                "message_size_limit"), answers[5])
    check(answers[:5] + answers[6:] == ["%d 0 " % (40 + i) for i in
                                        range(11) if i != 5],
          "the batch around the failure: %r" % answers)
    check(len(files_in(os.path.join(md, ".B"))) == 10, "B: %s" %
          files_in(os.path.join(md, ".B")))
    # a user that does not exist: one "- code text", then exit 67
    answers, st = worker_session(inst, "nobody", [])
    check(st == 67 and answers == ["- 67 deliver: nobody: no such user"],
          "unknown user: %d %r" % (st, answers))
    # standard input must be such a socket
    r = inst.deliver(b"x", "-S", "-d", "wk")
    check(r.returncode == 64, "-S on a pipe: %d" % r.returncode)
    r = inst.deliver(b"x", "-S", "-d", "wk", "-f", "a@b")
    check(r.returncode == 64, "-S with -f: %d" % r.returncode)
    print("0: worker protocol")
    inst.set_conf("log", "stderr")
    inst.set_conf("local_concurrency", "20")
    inst.set_conf("queue_retry_min", "1s")
    inst.set_conf("queue_retry_max", "2s")

    # --- 1. many messages at once, one user and several users ---
    for i in range(N_ONE):
        inject_to(inst, "one%d" % i, ["solo"])
    rnd = random.Random(47)
    want_multi = {}
    for i in range(N_MULTI):
        us = rnd.sample(MULTI, rnd.randint(1, len(MULTI)))
        inject_to(inst, "multi%d" % i, us)
        want_multi["multi%d" % i] = set(us)
    t0 = time.time()
    inst.spawner_start()
    inst.wait_queue_empty(180)
    took = time.time() - t0
    log = inst.spawner_log()
    got = tokens(inst, "solo")
    check(sorted(got) == sorted("one%d" % i for i in range(N_ONE)),
          "solo: %d of %d messages" % (len(got), N_ONE))
    check(all(c == 1 for c in got.values()), "solo: duplicates %s" %
          [t for t, c in got.items() if c > 1][:10])
    # The idle worker settles the racy directory mtimes its last batch
    # left (flags 1 and 2 of the index header), so that the next SELECT
    # has no directory to read.  Nothing else opens the mailbox here.
    idx = os.path.join(inst.dir, "mail", "solo", "zest.index")
    deadline = time.time() + 6
    while True:
        with open(idx, "rb") as f:
            hflags = struct.unpack_from("<I", f.read(128), 20)[0]
        if not hflags & 3 or time.time() > deadline:
            break
        time.sleep(0.1)
    check(not hflags & 3, "solo: racy flags left after the worker idled: "
          "%#x" % hflags)
    check(workers(inst), "the workers exited before settling")
    d = index_agrees(inst, "solo")
    check(d["header"]["count"] == N_ONE, "solo: index count %s" % d["header"])
    pids = delivered_pids(log, "solo")
    check(1 <= len(pids) <= 2, "solo: %d deliver processes: %s" %
          (len(pids), sorted(pids)[:10]))
    for u in MULTI:
        got = tokens(inst, u)
        exp = sorted(t for t, us in want_multi.items() if u in us)
        check(sorted(got) == exp and all(c == 1 for c in got.values()),
              "%s: got %d, want %d" % (u, len(got), len(exp)))
        index_agrees(inst, u)
        check(1 <= len(delivered_pids(log, u)) <= 2, "%s: processes %s" %
              (u, delivered_pids(log, u)))
        starts = len(re.findall(r"started deliver worker for %s " % u, log))
        check(1 <= starts <= 2, "%s: %d workers started" % (u, starts))
    b = batches(log)
    biggest = max(x[1] for x in b)
    check(biggest > 1, "no batch of more than one job")
    check(sum(x[2] for x in b) == N_ONE + sum(len(us) for us in
                                              want_multi.values()),
          "batches delivered %d" % sum(x[2] for x in b))
    print("1: %d + %d messages in %.1fs, %d batches (largest %d), "
          "deliver pids: solo %s" % (N_ONE, N_MULTI, took, len(b), biggest,
                                     sorted(pids)))

    # --- 4. idle workers exit by themselves (10 s) ---
    deadline = time.time() + 25
    while time.time() < deadline and workers(inst):
        time.sleep(0.2)
    check(not workers(inst), "workers still running: %s" % workers(inst))
    check(re.search(r"deliver worker for solo \(pid \d+\) exited, status 0",
                    inst.spawner_log()), "no idle exit logged")
    print("4: idle workers exited")
    inst.spawner_stop()

    # --- 2. one job fails alone in its batch ---
    # over the size limit: injected under a large limit, delivered under a
    # smaller one (the workers read the limit when they start)
    ids_small = [inject_to(inst, "small%d" % i, ["big"]) for i in range(30)]
    # (NOTIFY=NEVER: its failure report would be too big as well)
    big_id = inject_to(inst, "huge", ["big"], body_lines=3000,
                       notify="NEVER")
    ids_small += [inject_to(inst, "small%d" % i, ["big"])
                  for i in range(30, 40)]
    # an unwritable Maildir: its recipient fails, the others of the same
    # message are delivered
    ro_tmp = os.path.join(inst.dir, "mail", "ro", "tmp")
    os.chmod(ro_tmp, 0o555)
    ro_id = inject_to(inst, "rotest", ["ro", "m0"])
    inst.set_conf("message_size_limit", "20000")
    mark = len(inst.spawner_log())
    inst.spawner_start()
    inst.wait_queue_empty(120)
    log = inst.spawner_log()[mark:]
    got = tokens(inst, "big")
    check(sorted(got) == sorted("small%d" % i for i in range(40)),
          "big: got %s" % sorted(got))
    check("huge" not in got, "the big message was delivered")
    m = re.search(r"%s: to=<big@localhost> failed: 5\.\S+ x-unix; deliver: "
                  r"message larger than message_size_limit \(exit 65\)" %
                  re.escape(big_id), log)
    check(m, "no 65 failure for the big message:\n%s" % log[-3000:])
    # its batch: the worker's error line for it sits between batch lines
    fails = [l for l in log.splitlines() if "message larger than" in l and
             l.startswith("deliver[")]
    check(fails, "the worker did not log the failure")
    # (whether the spawner's jobs came in one batch with it depends on
    # timing: section 0 checks a failure inside a batch deterministically)
    job = re.match(r"deliver\[\d+\]: (\d+): ", fails[0]).group(1)
    mates = batch_mates(log, job)
    check(mates is not None, "no batch for job %s" % job)
    delivered_mates = [l for l in mates if "delivered to big mailbox" in l]
    check(re.search(r"%s: to=<ro@localhost> failed: 5\.2\.0 x-unix; "
                    r"deliver: .*Permission denied.*\(exit 73\)" %
                    re.escape(ro_id), log),
          "no 73 failure for the unwritable Maildir:\n%s" % log[-3000:])
    check("rotest" in tokens(inst, "m0"), "m0 did not get the message ro "
          "could not")
    check(not os.listdir(os.path.join(inst.dir, "mail", "ro", "new")),
          "ro got mail")
    os.chmod(ro_tmp, 0o700)
    index_agrees(inst, "big")
    # the unwritable Maildir's failure was reported to the sender
    check(len(files_in(os.path.join(inst.dir, "mail", "carol"))) == 1,
          "carol: %s" % files_in(os.path.join(inst.dir, "mail", "carol")))
    print("2: failed alone: the big message (65) with %d delivered in its "
          "batch, the unwritable Maildir (73)" % len(delivered_mates))
    inst.set_conf("message_size_limit", "10485760")
    inst.spawner_stop()

    # --- 3. SIGKILL of workers with work in flight ---
    want, flight, seen = {}, set(), {}
    kills = n = 0
    qid_tok = {}

    def unrecorded():
        """(token, user) in a Maildir without a D line: in flight."""
        cur = {u: tokens(inst, u) for u in ("k0", "k1")}
        out = set()
        for qid in os.listdir(inst.queue_dir("env")):
            tok = qid_tok.get(qid)
            if tok is None:
                continue
            try:
                env = open(inst.queue_dir("env", qid)).read().splitlines()
            except FileNotFoundError:
                continue        # removed meanwhile: done and recorded
            try:
                state = open(inst.queue_dir("state", qid)).read().splitlines()
            except FileNotFoundError:
                state = []
            done = set()
            for line in state:
                f = line.split(" ")
                if len(f) >= 2 and f[0].isdigit() and f[1] in ("D", "S"):
                    done.add(int(f[0]))
            rcpts = [l[1:].split("\t")[0] for l in env if l.startswith("R")]
            for i, a in enumerate(rcpts):
                u = a.split("@")[0]
                if i not in done and cur.get(u, {}).get(tok):
                    out.add((tok, u))
        return out

    # each round: a backlog queued while the spawner is down, so that the
    # restarted workers get batches at once, and a kill soon after
    krnd = random.Random(int(os.environ.get("ZEST_SEED", "4747")))
    for k in range(KILLS):
        inst.spawner_stop()
        for _ in range(60):
            tok = "k%d" % n
            n += 1
            us = krnd.sample(["k0", "k1"], krnd.randint(1, 2))
            qid_tok[inject_to(inst, tok, us,
                              body_lines=krnd.choice([1, 400, 20000]))] = tok
            want[tok] = set(us)
        inst.spawner_start()
        deadline = time.time() + 5
        while time.time() < deadline and not workers(inst):
            time.sleep(0.002)
        # soon: a batch commits in milliseconds (one syncfs); the big
        # messages keep the worker writing for a while
        time.sleep(krnd.random() * 0.01)
        w = workers(inst)
        if w:
            pid = krnd.choice(sorted(w))
            try:
                os.kill(pid, signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
        flight |= unrecorded()
    inst.wait_queue_empty(180)
    log = inst.spawner_log()
    hits = len(re.findall(r"deferred .*deliver killed by signal 9", log))
    got = {}
    for u in ("k0", "k1"):
        for t, c in tokens(inst, u).items():
            got[(t, u)] = c
        index_agrees(inst, u)
    missing = [(t, u) for t, us in want.items() for u in us
               if got.get((t, u), 0) == 0]
    check(not missing, "lost: %s" % missing[:20])
    wrong = [k for k in got if k[0] not in want or k[1] not in want[k[0]]]
    check(not wrong, "delivered to the wrong user: %s" % wrong[:10])
    dups = {k: c for k, c in got.items() if c > 1}
    # A duplicate must have had its outcome lost: the file was in the
    # Maildir without a D line right after a kill, or (when the worker
    # that delivered it was stopped otherwise, or the snapshot came too
    # late) queued logged that delivery deferred (75).  One after a
    # recorded success would be a bug.
    tok_qid = {t: q for q, t in qid_tok.items()}
    deferred = set(re.findall(r"(\S+): to=<(k[01])@localhost> deferred", log))
    unexplained = [k for k in dups if k not in flight and
                   (tok_qid.get(k[0]), k[1]) not in deferred]
    check(not unexplained, "duplicates without a lost outcome: %s" %
          unexplained[:10])
    check(kills >= KILLS // 2, "only %d kills" % kills)
    check(hits > 0, "no kill caught a job in flight")
    deadline = time.time() + 20     # msg/ and state/: the janitor's
    for sub in ("env", "msg", "state", "tmp"):
        while os.listdir(inst.queue_dir(sub)) and time.time() < deadline:
            time.sleep(0.1)
        check(not os.listdir(inst.queue_dir(sub)), "queue/%s not empty" % sub)
    print("3: %d kills, %d jobs answered 75 by a kill, %d deliveries, "
          "%d duplicates (all with a lost outcome; %d seen unrecorded right "
          "after a kill)" %
          (kills, hits, sum(len(u) for u in want.values()),
           sum(c - 1 for c in dups.values()),
           len([k for k in dups if k in flight])))
    inst.spawner_stop()
    log = inst.spawner_log()
    for bad in ("Sanitizer", "runtime error:", "malformed answer",
                "answer for no job"):
        check(bad not in log, "%r in the log:\n%s" %
              (bad, log[log.find(bad) - 2000:log.find(bad) + 2000]))
    print("ok: deliver workers")
finally:
    inst.cleanup()
