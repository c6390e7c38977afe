# SPDX-License-Identifier: ISC
"""queued's janitor (docs/QUEUE.md, queue/queued-rm.c): the child that
unlinks done/<id> (and msg/, state/, exp/) of removed messages.

1. With the janitor stopped (SIGSTOP), more messages finish than its pipe
   holds: queued keeps what the pipe cannot take in memory and unlinks
   none itself (an unlink waits for the TRIM on a discard-mounted disk,
   in queued's loop): every message is delivered exactly once and every
   queue file is in done/.  Once the janitor runs again, done/ empties.
2. The janitor killed with a backlog waiting: queued unlinks the backlog
   itself, keeps delivering (and unlinking what finishes) without a
   janitor, and the next start-up removes what the dead janitor's pipe
   held.  Nothing is lost or delivered twice."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

for prog in ("queue-inject", "queued", "spawner", "deliver"):
    if not os.path.exists(os.path.join(BIN, prog)):
        skip("%s not built" % prog)

# more than a pipe holds: 64 KiB of "<id>\n" lines of about 20 bytes
N = 3600 if ASAN else 4000
INJECTORS = 4
QI = os.path.join(BIN, "queue-inject")


def inject_many(inst, first, n):
    """n messages to alice through INJECTORS queue-inject -m runs; their
    tokens are t<first>..t<first+n-1>."""
    errors = []

    def one(k):
        p = subprocess.Popen([QI, "-m", "-C", inst.dir],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        for i in range(first + k, first + n, INJECTORS):
            msg = message("t%d" % i).replace("\n", "\r\n")
            p.stdin.write(queue_input("carol@localhost",
                                      ["alice@localhost"], msg))
            p.stdin.flush()
            a = p.stdout.readline()
            if not a.startswith(b"ok "):
                errors.append("message %d: %r" % (i, a))
                break
        p.stdin.close()
        p.wait(timeout=60)

    ts = [threading.Thread(target=one, args=(k,)) for k in range(INJECTORS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "inject: %s" % errors[:3])


def queued_pids(inst):
    """(queued, janitor): the janitor is the queued whose parent is one."""
    procs = {pid: p for pid, p in daemon_procs(inst, "queued").items()
             if p.cmd and p.cmd[0] == b"queued"}
    main = [pid for pid, p in procs.items() if p.ppid not in procs]
    kids = [pid for pid, p in procs.items() if p.ppid in procs]
    check(len(main) == 1 and len(kids) == 1, "queued processes: %r" % procs)
    return main[0], kids[0]


def done_files(inst):
    return len(os.listdir(inst.queue_dir("done")))


def wait_for(cond, timeout):
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        time.sleep(0.05)
    return cond()


def delivered(inst, want):
    """Wait for want messages in alice's Maildir; check each token once."""
    md = os.path.join(inst.dir, "mail", "alice")
    check(wait_for(lambda: len(files_in(md)) >= want, 120),
          "%d of %d delivered" % (len(files_in(md)), want))
    inst.wait_queue_empty(60)
    got = {}
    for f in files_in(md):
        t = token_of(os.path.join(md, f))
        got[t] = got.get(t, 0) + 1
    check(len(got) == want and all(v == 1 for v in got.values()) and
          set(got) == set("t%d" % i for i in range(want)),
          "delivered: %d files, %d tokens, duplicates %r" % (
              sum(got.values()), len(got),
              [t for t, v in got.items() if v > 1][:5]))


inst = Instance()
try:
    inst.useradd("alice")
    inst.set_conf("log", "stderr")
    inst.spawner_start()
    check(wait_for(lambda: len(daemon_procs(inst, "queued")) == 2, 10),
          "no janitor")
    q, jan = queued_pids(inst)

    # --- 1. a stopped janitor: queued unlinks nothing itself ---
    os.kill(jan, signal.SIGSTOP)
    inject_many(inst, 0, N)
    delivered(inst, N)
    # env/ is empty: every removal is done (renamed into done/)
    check(done_files(inst) == N, "done/ holds %d of %d: queued unlinked "
          "some itself" % (done_files(inst), N))
    os.kill(jan, signal.SIGCONT)
    check(wait_for(lambda: done_files(inst) == 0, 120),
          "the janitor left %d in done/" % done_files(inst))

    # --- 2. the janitor killed with a backlog: queued takes over ---
    os.kill(jan, signal.SIGSTOP)
    inject_many(inst, N, N)
    delivered(inst, 2 * N)
    check(done_files(inst) == N, "done/ holds %d of %d" % (
        done_files(inst), N))
    os.kill(jan, signal.SIGKILL)
    # what waited for the pipe goes at once; the pipe's share stays
    check(wait_for(lambda: "janitor: " in inst.spawner_log(), 30),
          "the janitor's end not logged")
    m = re.search(r"janitor: .*: removed the (\d+) finished",
                  inst.spawner_log())
    check(m is not None and int(m.group(1)) > 0,
          "queued did not unlink the backlog of a dead janitor")
    left = done_files(inst)
    check(left == N - int(m.group(1)), "done/ holds %d, %d of %d removed" %
          (left, int(m.group(1)), N))
    check(left > 0, "the dead janitor's pipe cannot have been emptied")
    inject_many(inst, 2 * N, 20)
    delivered(inst, 2 * N + 20)
    check(done_files(inst) == left, "without a janitor done/ went from %d "
          "to %d" % (left, done_files(inst)))
    check(q in daemon_procs(inst, "queued"), "queued died")
    check(inst.spawner_stop() == 0, "spawner exit status")
    # start-up removes what the dead janitor never got to
    inst.spawner_start()
    check(wait_for(lambda: done_files(inst) == 0, 60),
          "start-up left %d in done/" % done_files(inst))
    delivered(inst, 2 * N + 20)
    inst.spawner_stop()
    print("ok")
finally:
    inst.cleanup()
