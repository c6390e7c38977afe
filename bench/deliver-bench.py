#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""deliver-bench.py - Zest local delivery and reconstruct against Dovecot.

Measures, in one run and on one disk, alternating the two sides:
  * deliveries per second of BENCH_N ~4 KB messages into one mailbox, one
    process per message (as an MTA calls an MDA), one at a time and
    BENCH_CONC at a time: Zest's `deliver` against Dovecot's `dovecot-lda`;
  * the time to index a BENCH_BIG-message Maildir that has no index:
    `zest reconstruct` against `doveadm force-resync` and `doveadm index`.
Each figure is the median of BENCH_RUNS runs.  The launcher's own cost is
measured by spawning /bin/true the same way.  See bench/README.md.

    deliver-bench.py --zest BIN --deliver BIN --out FILE
"""

import argparse
import os
import platform
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def env_int(name, default):
    """An integer from the environment, or DEFAULT."""
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


class Cfg:
    """Everything the run needs, from the command line and the environment."""

    def __init__(self, args):
        self.zest = os.path.abspath(args.zest)
        self.deliver = os.path.abspath(args.deliver)
        self.out = args.out
        self.n = env_int("BENCH_N", 10000)
        self.big = env_int("BENCH_BIG", 100000)
        self.runs = env_int("BENCH_RUNS", 3)
        self.conc = env_int("BENCH_CONC", 4)
        self.true_n = env_int("BENCH_TRUE_N", min(self.n, 2000))
        self.warm = env_int("BENCH_WARM", 50)
        self.tmp = os.environ.get("BENCH_TMP", "/var/tmp")
        self.keep = os.environ.get("BENCH_KEEP", "") not in ("", "0")
        self.gen = os.environ.get("BENCH_GEN",
                                  "/work/shared/bench/gen-maildir.py")
        self.lda = os.environ.get("DOVECOT_LDA",
                                  "/usr/lib/dovecot/dovecot-lda")
        self.doveadm = os.environ.get("DOVEADM", "/usr/bin/doveadm")
        self.sender = "bench@example.org"
        self.started = time.time()
        self.have_dovecot = os.access(self.lda, os.X_OK)
        self.have_doveadm = self.have_dovecot and os.access(self.doveadm,
                                                            os.X_OK)


def log(msg):
    """Progress to stderr, flushed (the table goes to stdout)."""
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(argv, **kw):
    """Run ARGV, fail loudly on a non-zero exit; return its stdout."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                               p.stderr.strip()))
    return p.stdout + p.stderr


# ------------------------------------------------------------- the launcher

def spawn_loop(argv, env, msgs, count, conc, errfd):
    """Spawn ARGV COUNT times, CONC at a time, each with one message of MSGS
    on a pipe as stdin.  Returns (seconds, failures)."""
    devnull = os.open("/dev/null", os.O_WRONLY)
    running = failures = i = 0
    sigs = (signal.SIGPIPE, signal.SIGXFSZ)
    t0 = time.monotonic()
    while i < count or running:
        if i < count and running < conc:
            r, w = os.pipe()
            acts = [(os.POSIX_SPAWN_DUP2, r, 0),
                    (os.POSIX_SPAWN_DUP2, devnull, 1),
                    (os.POSIX_SPAWN_DUP2, errfd, 2)]
            os.posix_spawn(argv[0], argv, env, file_actions=acts,
                           setsigdef=sigs)
            os.close(r)
            write_all(w, msgs[i % len(msgs)])
            os.close(w)
            running += 1
            i += 1
            continue
        _, status = os.wait()
        running -= 1
        if os.waitstatus_to_exitcode(status) != 0:
            failures += 1
    secs = time.monotonic() - t0
    os.close(devnull)
    return secs, failures


def write_all(fd, data):
    """Write DATA to the pipe FD; a reader that left early is no error."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        pass


def spawn_as(ids, argv, env, msgs, count, conc, errlog):
    """spawn_loop() in a forked child running as IDS (uid, gid) or as we
    are (None), so both sides pay the same launcher.  Returns (s, fails)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            errfd = os.open(errlog, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                            0o600)
            if ids is not None:
                os.setgroups([ids[1]])
                os.setgid(ids[1])
                os.setuid(ids[0])
            secs, fails = spawn_loop(argv, env, msgs, count, conc, errfd)
            os.write(w, ("%.9f %d" % (secs, fails)).encode())
            os._exit(0)
        except BaseException as e:  # the child must never return
            os.write(w, ("error %s" % e).encode())
            os._exit(1)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        res = f.read().decode()
    os.waitpid(pid, 0)
    if res.startswith("error") or not res:
        raise RuntimeError("launcher: " + (res or "died"))
    secs, fails = res.split()
    return float(secs), int(fails)


# ------------------------------------------------------------- the two sides

class Zest:
    """A private Zest instance; one fresh user (mailbox) per run."""

    name = "Zest"

    def __init__(self, cfg, work):
        self.cfg = cfg
        self.dir = os.path.join(work, "zest")
        self.errlog = os.path.join(work, "log", "zest-deliver.log")
        run([cfg.zest, "init", self.dir, "--port-base", "47000"])
        self.ids = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("zest-vmail")
            self.ids = (pw.pw_uid, pw.pw_gid)

    def new_mailbox(self, tag):
        """Create user TAG; returns its Maildir."""
        run([self.cfg.zest, "-C", self.dir, "useradd", tag, "bench"])
        return os.path.join(self.dir, "mail", tag)

    def deliveries(self, tag, msgs, count, conc):
        """Deliver COUNT messages into a fresh mailbox TAG."""
        md = self.new_mailbox(tag)
        argv = [self.cfg.deliver, "-C", self.dir, "-d", tag,
                "-f", self.cfg.sender]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        secs, fails = spawn_as(None, argv, env, msgs, count, conc,
                               self.errlog)
        return secs, fails, md

    def indexed_count(self, tag, md):
        """Messages the index holds, from `zest dump`."""
        out = run([self.cfg.zest, "-C", self.dir, "dump", tag])
        m = re.search(r"\bcount (\d+)", out)
        return int(m.group(1)) if m else -1


class Dovecot:
    """Dovecot's LDA and doveadm with a private configuration file, run as
    the mail user (as Postfix's pipe(8) would with user=), never a daemon."""

    name = "Dovecot"

    def __init__(self, cfg, work, ids):
        self.cfg = cfg
        self.dir = os.path.join(work, "dovecot")
        self.ids = ids
        self.run_dir = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.errlog = os.path.join(work, "log", "dovecot-lda.stderr")
        os.makedirs(self.run_dir)
        os.makedirs(os.path.join(self.dir, "mail"))
        self.chown(self.run_dir)
        self.chown(os.path.join(self.dir, "mail"))
        with open(self.conf, "w") as f:
            f.write(self.config())
        self.user = pwd.getpwuid(ids[0] if ids else os.getuid()).pw_name
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                    "USER": self.user, "HOME": self.dir}

    def config(self):
        """A minimal private dovecot.conf: no services, log to a file,
        Dovecot's default durability (mail_fsync = optimized)."""
        logf = os.path.join(self.run_dir, "dovecot.log")
        return ("# deliver-bench.py: private config, no daemon is started\n"
                "base_dir = %s\nstate_dir = %s\n"
                "log_path = %s\ninfo_log_path = %s\n"
                "protocols =\nssl = no\n"
                "mail_location = maildir:%s/mail/default\n"
                "mail_fsync = optimized\n"
                % (self.run_dir, self.run_dir, logf, logf, self.dir))

    def chown(self, path):
        """Give PATH to the mail user when we are root."""
        if self.ids:
            os.chown(path, *self.ids)

    def new_mailbox(self, tag):
        """A fresh, empty home for mailbox TAG; returns the Maildir path."""
        home = os.path.join(self.dir, "mail", tag)
        os.mkdir(home)
        self.chown(home)
        return os.path.join(home, "Maildir")

    def deliveries(self, tag, msgs, count, conc):
        """Deliver COUNT messages into a fresh mailbox TAG."""
        md = self.new_mailbox(tag)
        argv = [self.cfg.lda, "-c", self.conf,
                "-o", "mail_location=maildir:" + md, "-f", self.cfg.sender]
        secs, fails = spawn_as(self.ids, argv, self.env, msgs, count, conc,
                               self.errlog)
        return secs, fails, md

    def doveadm(self, md, *cmd):
        """Run one doveadm mail command on Maildir MD as the mail user."""
        argv = [self.cfg.doveadm, "-c", self.conf,
                "-o", "mail_location=maildir:" + md] + list(cmd)
        kw = {"env": self.env}
        if self.ids:
            kw.update(user=self.ids[0], group=self.ids[1],
                      extra_groups=[self.ids[1]])
        t0 = time.monotonic()
        out = run(argv, **kw)
        secs = time.monotonic() - t0
        if "Error" in out or "Fatal" in out:
            raise RuntimeError("doveadm %s: %s" % (cmd[0], out.strip()))
        return secs

    def indexed_count(self, tag, md):
        """Messages Dovecot's index holds for Maildir MD."""
        kw = {"env": self.env}
        if self.ids:
            kw.update(user=self.ids[0], group=self.ids[1],
                      extra_groups=[self.ids[1]])
        out = run([self.cfg.doveadm, "-c", self.conf, "-o",
                   "mail_location=maildir:" + md, "mailbox", "status",
                   "messages", "INBOX"], **kw)
        m = re.search(r"messages=(\d+)", out)
        return int(m.group(1)) if m else -1


# ------------------------------------------------------------- corpora

def gen_corpus(cfg, path, count, seed, owner, small):
    """Fill Maildir PATH with COUNT messages from gen-maildir.py; SMALL asks
    for ~4 KB messages only (no fat tail)."""
    argv = [sys.executable, cfg.gen, "--count", str(count), "--seed",
            str(seed), "--dir", path]
    if small:
        argv += ["--median", "3500", "--sigma", "0.1", "--big-rate", "0",
                 "--new-fraction", "0"]
    if owner:
        argv += ["--owner", "%d:%d" % owner]
    t0 = time.monotonic()
    out = run(argv)
    log("corpus %s: %d messages in %.1f s" % (os.path.basename(path), count,
                                              time.monotonic() - t0))
    first = out.splitlines()[0] if out else ""
    return re.sub(r" to \S+: ", ": ", first)


def maildir_files(md):
    """Paths of the messages in Maildir MD (new/ and cur/), sorted."""
    files = []
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        if os.path.isdir(d):
            files += [os.path.join(d, f) for f in os.listdir(d)]
    return sorted(files)


def read_all(files):
    """The contents of FILES (also warms the page cache)."""
    out = []
    for p in files:
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def link_copy(src, dst, ids):
    """Hard-link the messages of Maildir SRC into Maildir DST (created as
    needed), so each run indexes a pristine, identical mailbox."""
    for sub in ("cur", "new", "tmp"):
        d = os.path.join(dst, sub)
        os.makedirs(d, exist_ok=True)
        if ids:
            os.chown(d, *ids)
    if ids:
        os.chown(dst, *ids)
    for sub in ("cur", "new"):
        s = os.path.join(src, sub)
        d = os.path.join(dst, sub)
        for name in os.listdir(s):
            os.link(os.path.join(s, name), os.path.join(d, name))


def warm_cache(files):
    """Read FILES once and drop the data: the page cache holds them after."""
    for p in files:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


# ------------------------------------------------------------- measurements

class Results:
    """Figures per (row, side) in run order, plus problems seen."""

    def __init__(self):
        self.rows = {}
        self.problems = []

    def add(self, row, side, value):
        self.rows.setdefault(row, {}).setdefault(side, []).append(value)

    def med(self, row, side):
        v = self.rows.get(row, {}).get(side)
        return statistics.median(v) if v else None

    def check(self, what, got, want):
        if got != want:
            self.problems.append("%s: got %s, expected %s" % (what, got, want))
            log("PROBLEM " + self.problems[-1])


def ordered(sides, k):
    """SIDES in turn k: the order alternates from one turn to the next."""
    return list(sides) if k % 2 == 0 else list(reversed(sides))


def bench_launcher(cfg, work, msgs, res):
    """The launcher's own cost: /bin/true spawned exactly like deliveries."""
    errlog = os.path.join(work, "log", "true.stderr")
    env = {"PATH": "/usr/bin:/bin"}
    spawn_as(None, ["/bin/true"], env, msgs, min(cfg.true_n, 200), 1, errlog)
    for r in range(cfg.runs):
        for conc in (1, cfg.conc):
            secs, fails = spawn_as(None, ["/bin/true"], env, msgs,
                                   cfg.true_n, conc, errlog)
            res.check("/bin/true failures", fails, 0)
            res.add("true%d" % conc, "launcher", secs / cfg.true_n)


def bench_deliveries(cfg, sides, msgs, res):
    """BENCH_N deliveries into a fresh mailbox per run and side, one at a
    time and BENCH_CONC at a time, sides alternating."""
    for s in sides:  # pre-warm binaries, libraries and the first mailbox
        _, fails, _ = s.deliveries("warm", msgs, min(cfg.warm, cfg.n), 1)
        res.check("%s warm-up failures" % s.name, fails, 0)
    turn = 0
    for r in range(cfg.runs):
        for conc in (1, cfg.conc):
            for s in ordered(sides, turn):
                tag = "r%dc%d" % (r + 1, conc)
                secs, fails, md = s.deliveries(tag, msgs, cfg.n, conc)
                rate = cfg.n / secs
                log("run %d, %d at a time: %-7s %8.1f msg/s (%.1f s)"
                    % (r + 1, conc, s.name, rate, secs))
                res.add("deliver%d" % conc, s.name, rate)
                res.check("%s %s failures" % (s.name, tag), fails, 0)
                res.check("%s %s files" % (s.name, tag),
                          len(maildir_files(md)), cfg.n)
                res.check("%s %s indexed" % (s.name, tag),
                          s.indexed_count(tag, md), cfg.n)
            turn += 1


def zest_reconstruct(cfg, zest, corpus, tag, res):
    """One `zest reconstruct` of a pristine copy; returns wall seconds."""
    md = zest.new_mailbox(tag)
    for f in os.listdir(md):
        if f.startswith("zest."):
            os.unlink(os.path.join(md, f))
    link_copy(corpus, md, zest.ids)
    t0 = time.monotonic()
    out = run([cfg.zest, "-C", zest.dir, "reconstruct", tag])
    secs = time.monotonic() - t0
    m = re.search(r"([0-9.]+) s\s*$", out.strip())
    if m:
        res.add("reconstruct-reported", "Zest", float(m.group(1)))
    m = re.search(r"(\d+) messages", out)
    res.check("zest reconstruct count", int(m.group(1)) if m else -1,
              cfg.big)
    return secs


def bench_reconstruct(cfg, zest, dovecot, work, res):
    """Index a BENCH_BIG-message Maildir without index files: Zest's
    reconstruct, Dovecot's force-resync and index, alternating."""
    corpus = os.path.join(work, "corpus-big")
    res.big_summary = gen_corpus(cfg, corpus, cfg.big, 1, zest.ids, False)
    warm_cache(maildir_files(corpus))
    jobs = [("Zest", "reconstruct")]
    if dovecot and cfg.have_doveadm:
        jobs += [("Dovecot", "force-resync"), ("Dovecot", "index")]
    for r in range(cfg.runs):
        for side, cmd in ordered(jobs, r):
            tag = "%s%d" % (cmd.replace("-", ""), r + 1)
            if side == "Zest":
                secs = zest_reconstruct(cfg, zest, corpus, tag, res)
            else:
                md = dovecot.new_mailbox(tag)
                link_copy(corpus, md, dovecot.ids)
                secs = dovecot.doveadm(md, cmd, "INBOX")
                res.check("dovecot %s count" % cmd,
                          dovecot.indexed_count(tag, md), cfg.big)
            log("run %d: %-7s %-12s %8.2f s" % (r + 1, side, cmd, secs))
            res.add(cmd, side, secs)


# ------------------------------------------------------------- the report

def machine():
    """One line about the machine: kernel, CPUs, CPU model."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s %s, %d CPUs (%s)" % (platform.system(), platform.release(),
                                    os.cpu_count() or 0, model)


def disk(path):
    """File system type and device holding PATH, from df."""
    try:
        f = run(["df", "-PT", path]).splitlines()[-1].split()
        return "%s on %s" % (f[1], f[0])
    except (RuntimeError, IndexError, OSError):
        return "?"


def dovecot_version(cfg):
    """Dovecot's version string, or '?'."""
    for b in ("/usr/sbin/dovecot", "/usr/bin/dovecot"):
        if os.access(b, os.X_OK):
            try:
                return run([b, "--version"]).split()[0]
            except (RuntimeError, IndexError):
                pass
    return "?"


def fmt(v, digits):
    return "-" if v is None else "%.*f" % (digits, v)


def ratio(z, d, higher_better):
    """How many times better Zest is than Dovecot on one row."""
    if not z or not d:
        return "-"
    return "%.2fx" % ((z / d) if higher_better else (d / z))


def table(cfg, res):
    """The result rows: label, Zest, Dovecot, Zest's advantage."""
    rows = []
    for conc in (1, cfg.conc):
        z, d = res.med("deliver%d" % conc, "Zest"), \
            res.med("deliver%d" % conc, "Dovecot")
        rows.append(("deliveries/s, %d at a time" % conc, fmt(z, 1),
                     fmt(d, 1), ratio(z, d, True)))
    z = res.med("reconstruct", "Zest")
    for cmd in ("force-resync", "index"):
        d = res.med(cmd, "Dovecot")
        rows.append(("index %d msgs, s (Dovecot: %s)" % (cfg.big, cmd),
                     fmt(z, 3), fmt(d, 3), ratio(z, d, False)))
    return rows


def how(cfg):
    """What each side ran, for the report."""
    return ["  Zest:    deliver -C DIR -d USER -f SENDER, run as %s; "
            "zest -C DIR reconstruct USER" % ("root (deliver drops to "
                                              "zest-vmail)" if os.geteuid()
                                              == 0 else "the invoking user"),
            "  Dovecot: dovecot-lda -c CONF -o mail_location=maildir:DIR "
            "-f SENDER, run as the mail user (zest-vmail when root)",
            "           (no -d: no auth daemon; mail_fsync = optimized, "
            "Dovecot's default); doveadm -c CONF force-resync|index INBOX",
            "  fresh, empty mailbox per run and side; pristine hard-linked "
            "copy of the big Maildir per run and command; warm page cache"]


def report(cfg, res, work, started, summary):
    """The whole report as text."""
    ver = dovecot_version(cfg) if cfg.have_dovecot else "absent"
    out = ["Zest local delivery vs Dovecot %s (dovecot-lda, doveadm); "
           "medians of %d runs, sides alternating" % (ver, cfg.runs),
           "%s; %s" % (time.strftime("%Y-%m-%d %H:%M:%S %Z",
                                     time.localtime(cfg.started)), machine()),
           "work dir: %s (%s)" % (work, disk(work)),
           "delivered: %d messages per run and side, each a fresh "
           "process, message on a pipe" % cfg.n,
           "  %s" % summary,
           "indexed: %s" % getattr(res, "big_summary", "-"), ""]
    t1, tc = res.med("true1", "launcher"), res.med("true%d" % cfg.conc,
                                                   "launcher")
    if t1 and tc:
        out.append("launcher overhead (posix_spawn + pipe of /bin/true, %d "
                   "spawns): %.3f ms each 1 at a time (ceiling %.0f/s), "
                   "%.3f ms each %d at a time (ceiling %.0f/s)"
                   % (cfg.true_n, t1 * 1e3, 1 / t1, tc * 1e3, cfg.conc,
                      1 / tc))
        out.append("")
    head = ("", "Zest", "Dovecot", "Zest speed-up")
    rows = [head] + table(cfg, res)
    w0 = max(len(r[0]) for r in rows)
    for r in rows:
        out.append("%-*s  %10s  %10s  %14s" % (w0, r[0], r[1], r[2], r[3]))
    out += ["(speed-up: Zest rate / Dovecot rate, or Dovecot time / Zest "
            "time; above 1 Zest is faster.  Rates include the launcher.)",
            "", "how:"] + how(cfg)
    out += ["", "all runs, in order:"]
    for row, sides in res.rows.items():
        for side, vals in sides.items():
            out.append("  %-22s %-8s %s" % (row, side, " ".join(
                "%.4g" % v for v in vals)))
    out += ["", "problems: " + ("; ".join(res.problems) or "none"),
            "measuring took %.0f s" % (time.monotonic() - started)]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------- main

def bench(cfg, work, res):
    """Set both sides up and run every measurement; returns the summary
    line of the delivery corpus."""
    os.makedirs(os.path.join(work, "log"))
    zest = Zest(cfg, work)
    sides = [zest]
    dovecot = None
    if cfg.have_dovecot:
        dovecot = Dovecot(cfg, work, zest.ids)
        sides.append(dovecot)
    else:
        res.problems.append("no %s: Zest measured alone" % cfg.lda)
    corpus = os.path.join(work, "corpus-4k")
    summary = gen_corpus(cfg, corpus, cfg.n, 42, None, True)
    msgs = read_all(maildir_files(corpus))
    log("launcher overhead with /bin/true")
    bench_launcher(cfg, work, msgs, res)
    if cfg.n > 0:
        bench_deliveries(cfg, sides, msgs, res)
    if cfg.big > 0:
        bench_reconstruct(cfg, zest, dovecot, work, res)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zest", required=True)
    ap.add_argument("--deliver", required=True)
    ap.add_argument("--out", help="also write the report here")
    cfg = Cfg(ap.parse_args())
    if not os.path.exists(cfg.gen):
        sys.exit("bench: no corpus generator %s (set BENCH_GEN)" % cfg.gen)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="zest-bench.", dir=cfg.tmp)
    os.chmod(work, 0o755)  # deliver drops to zest-vmail: must traverse it
    res = Results()
    try:
        summary = bench(cfg, work, res)
        text = report(cfg, res, work, started, summary)
        sys.stdout.write(text)
        sys.stdout.flush()
        if cfg.out:
            try:
                with open(cfg.out, "w") as f:
                    f.write(text)
            except OSError as e:
                res.problems.append("cannot write %s: %s" % (cfg.out, e))
                log(res.problems[-1])
    finally:
        cleanup(cfg, work)
    return 1 if res.problems else 0


def cleanup(cfg, work):
    """Remove the work directory (minutes for a full run: ~1M names)."""
    if cfg.keep:
        log("kept %s" % work)
        return
    log("removing %s" % work)
    t0 = time.monotonic()
    shutil.rmtree(work, ignore_errors=True)
    log("removed in %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
