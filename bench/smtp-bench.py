#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""smtp-bench.py - end-to-end SMTP -> Maildir, Zest against Postfix.

Postfix's smtp-source sends, through /work/shared/bench/anchor-smtp.sh, the
same loads to a private Zest instance and to a private Postfix instance set
up for the same delivery (virtual(8) into Maildirs owned by one uid), both
on loopback ports, in the same run, alternating the two sides:
  * BENCH_SMTP_N ~1 KB messages at 1, 10 and 50 sessions;
  * BENCH_SMTP_BIG_N ~100 KB messages at 10 sessions;
  * BENCH_SMTP_RCPTS_N ~1 KB messages with 5 recipients at 10 sessions.
Time runs until the last message is a file in new/.  Medians of
BENCH_SMTP_RUNS runs, then smtpd's memory per open session.  See
bench/README.md.

    smtp-bench.py --zest BIN --out FILE
"""

import argparse
import os
import platform
import pwd
import re
import shutil
import signal
import socket
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
        self.out = args.out
        self.n = env_int("BENCH_SMTP_N", 10000)
        self.big_n = env_int("BENCH_SMTP_BIG_N", 2000)
        self.rcpts = env_int("BENCH_SMTP_RCPTS", 5)
        self.rcpts_n = env_int("BENCH_SMTP_RCPTS_N", self.n // 5)
        self.size = env_int("BENCH_SMTP_SIZE", 1000)
        self.big_size = env_int("BENCH_SMTP_BIG_SIZE", 100000)
        self.concs = [int(c) for c in os.environ.get(
            "BENCH_SMTP_CONC", "1 10 50").split()]
        self.runs = env_int("BENCH_SMTP_RUNS", env_int("BENCH_RUNS", 3))
        self.warm = env_int("BENCH_SMTP_WARM", 200)
        self.timeout = env_int("BENCH_SMTP_TIMEOUT", 600)
        self.mem_sessions = env_int("BENCH_SMTP_MEM", 10)
        self.tmp = os.environ.get("BENCH_TMP", "/var/tmp")
        self.keep = os.environ.get("BENCH_KEEP", "") not in ("", "0")
        self.anchor = os.environ.get("ANCHOR_SMTP",
                                     "/work/shared/bench/anchor-smtp.sh")
        self.postfix = os.environ.get("BENCH_SMTP_POSTFIX", "1") != "0"
        self.domain = "bench.test"
        self.started = time.time()


def log(msg):
    """Progress to stderr, flushed (the table goes to stdout)."""
    print("smtp-bench: " + msg, file=sys.stderr, flush=True)


def run(argv, **kw):
    """Run ARGV, fail loudly on a non-zero exit; return its output."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                               (p.stderr + p.stdout).strip()))
    return p.stdout + p.stderr


def port_free(port):
    """Whether 127.0.0.1:PORT can be bound now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_base(first, offsets):
    """A base B >= FIRST such that B + every offset is a free port."""
    for b in range(first, 60000, 1000):
        if all(port_free(b + o) for o in offsets):
            return b
    raise RuntimeError("no free loopback ports")


def count_files(dirs):
    """Regular files directly in each of DIRS (missing ones count 0)."""
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                n += sum(1 for e in it if e.is_file(follow_symlinks=False))
        except OSError:
            pass
    return n


def count_tree(dirs):
    """Regular files anywhere under DIRS."""
    n = 0
    for d in dirs:
        for _, _, files in os.walk(d):
            n += len(files)
    return n


def make_maildir(path, ids):
    """An empty Maildir at PATH owned by IDS (uid, gid), as useradd makes."""
    for sub in ("", "tmp", "new", "cur"):
        p = os.path.join(path, sub)
        os.makedirs(p, mode=0o700, exist_ok=True)
        os.chown(p, ids[0], ids[1])


def users(cfg):
    """Local parts of every mailbox a run needs: bench1, 2bench1.."""
    return ["bench1"] + ["%dbench1" % i for i in range(2, cfg.rcpts + 1)]


def mail_ids():
    """The uid and gid owning the mailboxes: zest-vmail's, as Zest."""
    for name in ("zest-vmail", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return pw.pw_uid, pw.pw_gid, name
        except KeyError:
            pass
    return os.getuid(), os.getgid(), "self"


# ------------------------------------------------------------- the two sides

class Zest:
    """A private Zest instance (zest init, useradd, start) on free ports."""

    name = "Zest"

    def __init__(self, cfg, work):
        self.cfg = cfg
        self.dir = os.path.join(work, "zest")
        self.pid = None
        base = free_base(41000, (25, 587, 465, 143, 993, 110, 995))
        self.port = base + 25
        run([cfg.zest, "init", self.dir, "--domain", cfg.domain,
             "--port-base", str(base)])
        self.log_to_files()
        for u in users(cfg):
            run([cfg.zest, "-C", self.dir, "useradd", u, "bench"])
        self.glob = os.path.join(self.dir, "mail", "*", "new")
        # done/: finished messages queued's janitor has yet to unlink
        # (in the background, at the disk's pace): a run starts after the
        # last one's are gone, so that it does not pay for them
        self.qdirs = [os.path.join(self.dir, "queue", d)
                      for d in ("env", "msg", "tmp", "done")]

    def log_to_files(self):
        """log = stderr: the logs go to the instance's log_dir, as Postfix's
        go to its maillog_file (no syslog daemon is assumed)."""
        conf = os.path.join(self.dir, "zest.conf")
        with open(conf) as f:
            text = f.read()
        new, n = re.subn(r"(?m)^log\s*=.*$", "log = stderr", text)
        if n == 0:
            new = text + "\nlog = stderr\n"
        # smtp-source is one client with up to 50 sessions; Postfix exempts
        # such a loopback client (mynetworks) from its per-client limit
        new += "smtpd_max_per_ip = 200\n"
        with open(conf, "w") as f:
            f.write(new)

    def version(self):
        return "Zest (%s)" % self.cfg.zest

    def start(self):
        run([self.cfg.zest, "-C", self.dir, "start"], timeout=60)
        out = run([self.cfg.zest, "-C", self.dir, "status"])
        m = re.search(r"service smtp: running, pid (\d+)", out)
        self.pid = int(m.group(1)) if m else None

    def stop(self):
        try:
            run([self.cfg.zest, "-C", self.dir, "stop"], timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            log("zest stop: %s" % e)

    def queue_files(self):
        return count_tree(self.qdirs)

    def tail_log(self):
        return tail(os.path.join(self.dir, "log"))


class Postfix:
    """A private Postfix instance: own config_directory, queue_directory and
    data_directory in the work directory, smtpd on a loopback port, virtual
    delivery into Maildirs owned by one uid (the one Zest delivers as)."""

    name = "Postfix"
    SERVICES = [  # name type private unpriv chroot wakeup maxproc command
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "proxywrite unix - - n - 1 proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "local unix - n n - - local",
        "virtual unix - n n - - virtual",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ]

    def __init__(self, cfg, work, ids):
        self.cfg = cfg
        self.dir = os.path.join(work, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.mail = os.path.join(self.dir, "mail")
        self.port = free_base(42025, (0,))
        self.pid = None
        os.makedirs(self.etc)
        os.mkdir(self.spool, 0o755)  # postfix start creates what is inside
        os.mkdir(self.mail, 0o755)
        os.chown(self.mail, ids[0], ids[1])
        for u in users(cfg):
            make_maildir(os.path.join(self.mail, u), ids)
        self.write_config(ids)
        self.glob = os.path.join(self.mail, "*", "new")
        self.qdirs = [os.path.join(self.spool, d) for d in
                      ("maildrop", "incoming", "active", "deferred")]

    def write_config(self, ids):
        """main.cf: Postfix's defaults but for the paths, the loopback
        listener and the virtual domain; master.cf: Debian's services
        without chroot (the private queue has no copy of /etc) and only one
        inet listener."""
        d = self.dir
        main = ["compatibility_level = 3.6",
                "queue_directory = %s/spool" % d,
                "data_directory = %s/data" % d,
                "maillog_file = %s/maillog" % d,
                "mail_owner = postfix", "setgid_group = postdrop",
                "myhostname = postfix.%s" % self.cfg.domain,
                "mydestination =", "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4", "mynetworks = 127.0.0.0/8",
                "virtual_mailbox_domains = %s" % self.cfg.domain,
                "virtual_mailbox_base = %s/mail" % d,
                "virtual_mailbox_maps = texthash:%s/etc/vmailbox" % d,
                "virtual_uid_maps = static:%d" % ids[0],
                "virtual_gid_maps = static:%d" % ids[1]]
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("\n".join(main) + "\n")
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for u in users(self.cfg):
                f.write("%s@%s %s/\n" % (u, self.cfg.domain, u))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port)
            for s in self.SERVICES:
                f.write(s + "\n")

    def version(self):
        try:
            v = run(["postconf", "-c", self.etc, "-h", "mail_version"])
            return "Postfix %s" % v.strip()
        except (RuntimeError, OSError):
            return "Postfix"

    def start(self):
        run(["postfix", "-c", self.etc, "start"], timeout=60)
        self.pid = wait_listener(self.port, 10)
        if self.pid is None:
            raise RuntimeError("postfix: nothing listens on port %d: %s"
                               % (self.port, self.tail_log()))

    def stop(self):
        try:
            run(["postfix", "-c", self.etc, "stop"], timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            log("postfix stop: %s" % e)
        deadline = time.monotonic() + 15
        pidf = os.path.join(self.spool, "pid", "master.pid")
        while os.path.exists(pidf) and time.monotonic() < deadline:
            time.sleep(0.2)

    def queue_files(self):
        return count_tree(self.qdirs)

    def tail_log(self):
        return tail(self.dir, "maillog")


def tail(d, name=None):
    """The last lines of the files in D (or of D/NAME), for error reports."""
    out = []
    names = [name] if name else sorted(os.listdir(d))
    for n in names:
        try:
            with open(os.path.join(d, n), errors="replace") as f:
                out += f.read().splitlines()[-5:]
        except OSError:
            pass
    return " | ".join(out[-10:])


def wait_listener(port, secs):
    """The pid of the process listening on 127.0.0.1:PORT, within SECS."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        pids = socket_pids("sport = :%d" % port, listening=True)
        if pids:
            return pids[0]
        time.sleep(0.1)
    return None


def socket_pids(filt, listening=False):
    """Pids of the processes holding TCP sockets that match ss's FILT."""
    argv = ["ss", "-Htnp" + ("l" if listening else "")] + filt.split()
    try:
        out = run(argv)
    except (RuntimeError, OSError):
        return []
    return sorted({int(p) for p in re.findall(r"pid=(\d+)", out)})


def install_postfix():
    """Install Debian's postfix (for smtp-source and the anchor) when it is
    missing and we are root: 'No configuration', and its service never
    started (policy-rc.d).  Returns an error string or None."""
    if shutil.which("smtp-source") and shutil.which("postfix"):
        return None
    if os.geteuid() != 0:
        return "postfix is not installed (run as root to install it)"
    log("installing Debian's postfix (No configuration, service not started)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    rc = "/usr/sbin/policy-rc.d"
    made = not os.path.exists(rc)
    try:
        if made:
            with open(rc, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(rc, 0o755)
        subprocess.run(["debconf-set-selections"], input="postfix postfix/"
                       "main_mailer_type select No configuration\n",
                       text=True, check=True, env=env)
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
             "postfix"], env=env)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        return "cannot install postfix: %s" % e
    finally:
        if made and os.path.exists(rc):
            os.unlink(rc)
    return None


# ------------------------------------------------------------- measuring

class Results:
    """Figures per (case, side) in run order, plus problems seen."""

    def __init__(self):
        self.rows = {}
        self.mem = {}
        self.problems = []

    def add(self, case, side, fig):
        self.rows.setdefault(case, {}).setdefault(side, []).append(fig)

    def med(self, case, side, key):
        figs = self.rows.get(case, {}).get(side, [])
        vals = [f[key] for f in figs if f.get(key) is not None]
        return statistics.median(vals) if vals else None

    def problem(self, text):
        text = " ".join(text.split())
        self.problems.append(text)
        log("PROBLEM " + text)


def cases(cfg):
    """(key, label, count, concurrency, size, rcpts) of every measurement."""
    out = []
    for c in cfg.concs:
        out.append(("c%d" % c, "%d x %s, %d session%s" % (
            cfg.n, kb(cfg.size), c, "" if c == 1 else "s"), cfg.n, c,
            cfg.size, 1))
    if cfg.big_n > 0:
        out.append(("big", "%d x %s, 10 sessions" % (cfg.big_n,
                                                     kb(cfg.big_size)),
                    cfg.big_n, 10, cfg.big_size, 1))
    if cfg.rcpts > 1 and cfg.rcpts_n > 0:
        out.append(("rcpt", "%d x %s x %d rcpts, 10 sessions" % (
            cfg.rcpts_n, kb(cfg.size), cfg.rcpts), cfg.rcpts_n, 10,
            cfg.size, cfg.rcpts))
    return [c for c in out if c[2] > 0]


def kb(size):
    return "%d KB" % max(1, round(size / 1000))


def anchor(cfg, side, count, conc, size, rcpts, clean):
    """One anchor-smtp.sh run against SIDE; returns its figures or raises."""
    env = dict(os.environ, RCPTS=str(rcpts), CLEAN=clean,
               TIMEOUT=str(cfg.timeout))
    argv = ["bash", cfg.anchor, "127.0.0.1", str(side.port), cfg.domain,
            side.glob, str(count), str(conc), str(size)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env)
    fig = dict(re.findall(r"(\w+)=(\S+)", p.stdout))
    if p.returncode != 0 or "delivered_per_s" not in fig:
        raise RuntimeError("exit %d: %s" % (p.returncode,
                                            (p.stderr or p.stdout).strip()))
    out = {}
    for k in ("accepted_per_s", "delivered_per_s", "accept_s", "deliver_s"):
        try:
            out[k] = float(fig[k])
        except (KeyError, ValueError):
            out[k] = None
    return out


def wait_idle(side, secs):
    """Wait until SIDE's queue holds no message; False if it still does."""
    deadline = time.monotonic() + secs
    while side.queue_files() > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    time.sleep(0.5)
    return True


def measure(cfg, side, case, res, run_no):
    """One measurement of CASE on SIDE, recorded in RES."""
    key, label, count, conc, size, rcpts = case
    if not wait_idle(side, 60):
        res.problem("%s: queue not empty before %s (%d files)"
                    % (side.name, key, side.queue_files()))
    try:
        fig = anchor(cfg, side, count, conc, size, rcpts, "move")
    except RuntimeError as e:
        res.problem("%s %s run %d: %s" % (side.name, key, run_no, e))
        res.add(key, side.name, {"failed": True})
        log("%s: still in queue: %d files; log: %s" % (
            side.name, side.queue_files(), side.tail_log()))
        return
    res.add(key, side.name, fig)
    log("run %d: %-7s %-6s delivered %8.1f/s accepted %8.1f/s (%.2f s)" % (
        run_no, side.name, key, fig["delivered_per_s"] or 0,
        fig["accepted_per_s"] or 0, fig["deliver_s"] or 0))


def warm_up(cfg, sides, res):
    """Untimed messages through each side, then an empty queue."""
    for s in sides:
        if cfg.warm <= 0:
            break
        try:
            anchor(cfg, s, cfg.warm, min(10, cfg.warm), cfg.size, 1, "0")
        except RuntimeError as e:
            res.problem("%s warm-up: %s" % (s.name, e))
        wait_idle(s, 60)


def bench_smtp(cfg, sides, res):
    """Every case, BENCH_SMTP_RUNS times, the side order alternating from
    one measurement to the next."""
    k = 0
    for r in range(cfg.runs):
        for case in cases(cfg):
            order = sides if k % 2 == 0 else list(reversed(sides))
            k += 1
            for s in order:
                measure(cfg, s, case, res, r + 1)


def proc_mem(pid):
    """(RSS, private) of PID in KB, from /proc."""
    rss = priv = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                priv += int(line.split()[1])
    return rss, priv


def session_mem(side, sessions):
    """Open SESSIONS SMTP sessions (banner read, EHLO answered) and return
    the (RSS, private) KB of the server process holding each one."""
    socks, figs = [], []
    try:
        for _ in range(sessions):
            s = socket.create_connection(("127.0.0.1", side.port), 10)
            socks.append(s)
            f = s.makefile("rb")
            read_reply(f)
            s.sendall(b"EHLO client.bench.test\r\n")
            read_reply(f)
            me = s.getsockname()[1]
            time.sleep(0.05)
            pids = [p for p in socket_pids("sport = :%d dport = :%d" % (
                side.port, me)) if p != side.pid]
            if not pids:
                raise RuntimeError("no process holds session port %d" % me)
            m = [proc_mem(p) for p in pids]
            figs.append((sum(x[0] for x in m), sum(x[1] for x in m)))
    finally:
        for s in socks:
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            s.close()
    return figs


def read_reply(f):
    """Read one SMTP reply; raise unless it is 2xx."""
    while True:
        line = f.readline(1000)
        if not line:
            raise RuntimeError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            break
    if not line.startswith(b"2"):
        raise RuntimeError("reply: %s" % line.decode(errors="replace").strip())


def bench_mem(cfg, sides, res):
    """smtpd's memory per open session, median over BENCH_SMTP_MEM."""
    if cfg.mem_sessions <= 0:
        return
    for s in sides:
        try:
            figs = session_mem(s, cfg.mem_sessions)
        except (RuntimeError, OSError) as e:
            res.problem("%s memory per session: %s" % (s.name, e))
            continue
        res.mem[s.name] = (statistics.median(f[0] for f in figs),
                           statistics.median(f[1] for f in figs), len(figs))
        log("%s smtpd per session: RSS %d KB, private %d KB" % (
            s.name, res.mem[s.name][0], res.mem[s.name][1]))


# ------------------------------------------------------------- the report

TARGETS = {"c1": 1.0, "c10": 1.5, "c50": 1.5}


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


def fmt(v, digits=1):
    return "-" if v is None else "%.*f" % (digits, v)


def speedup(z, p):
    return (z / p) if z and p else None


def table(cfg, res):
    """Rows: case, Zest and Postfix delivered/s, speed-up, target,
    accepted/s of both."""
    rows = [("messages/s until in new/", "Zest", "Postfix", "Zest speed-up",
             "target", "accepted/s Zest", "Postfix")]
    for key, label, *_ in cases(cfg):
        z = res.med(key, "Zest", "delivered_per_s")
        p = res.med(key, "Postfix", "delivered_per_s")
        x = speedup(z, p)
        t = TARGETS.get(key)
        tgt = "-" if t is None else ">= %.1fx %s" % (
            t, "?" if x is None else ("met" if x >= t else "NOT met"))
        rows.append((label, fmt(z), fmt(p), "-" if x is None else
                     "%.2fx" % x, tgt,
                     fmt(res.med(key, "Zest", "accepted_per_s")),
                     fmt(res.med(key, "Postfix", "accepted_per_s"))))
    return rows


def columns(rows):
    """ROWS as aligned text lines."""
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(("%-*s" if i == 0 else "%*s") % (w[i], c)
                      for i, c in enumerate(r)).rstrip() for r in rows]


def mem_lines(res):
    if not res.mem:
        return []
    out = ["", "smtpd memory per open session (after EHLO; median of the "
           "server processes holding each session):"]
    for side, (rss, priv, n) in res.mem.items():
        out.append("  %-8s RSS %6d KB   private (not shared) %6d KB   "
                   "(%d sessions)" % (side, rss, priv, n))
    return out


def how(cfg, sides):
    ids = mail_ids()
    return ["  smtp-source via anchor-smtp.sh (CLEAN=move; one connection "
            "per message; sender anchor@%s, recipient bench1@%s, with "
            "RCPTS also 2bench1..%dbench1)" % (cfg.domain, cfg.domain,
                                              cfg.rcpts),
            "  Zest:    zest init --domain %s --port-base B; useradd; start "
            "(smtpd on B+25; log = stderr, into log_dir)" % cfg.domain,
            "  Postfix: private instance (postfix -c DIR start): own config, "
            "queue and data dirs, smtpd on a loopback port, default main.cf "
            "but paths, compatibility_level 3.6, maillog_file; virtual(8) "
            "into Maildirs (uid %s)" % ids[2],
            "  time: t0 before smtp-source starts, end when the last file is "
            "in new/; side order alternates per measurement; the queue is "
            "empty before each"]


def report(cfg, res, sides, work, started):
    """The whole report as text."""
    vers = ", ".join(s.version() for s in sides)
    out = ["SMTP -> Maildir end to end: %s; medians of %d runs, sides "
           "alternating" % (vers, cfg.runs),
           "%s; %s" % (time.strftime("%Y-%m-%d %H:%M:%S %Z",
                                     time.localtime(cfg.started)), machine()),
           "work dir: %s" % work, ""]
    out += columns(table(cfg, res))
    out += ["(speed-up: Zest's messages/s over Postfix's; above 1 Zest is "
            "faster.  The %d-recipient row counts messages, each %d files.)"
            % (cfg.rcpts, cfg.rcpts)]
    out += mem_lines(res)
    out += ["", "how:"] + how(cfg, sides)
    out += ["", "all runs, in order (delivered/s accepted/s):"]
    for key, by_side in res.rows.items():
        for side in sorted(by_side, key=lambda x: x != "Zest"):
            figs = by_side[side]
            out.append("  %-5s %-8s %s" % (key, side, "  ".join(
                "failed" if f.get("failed") else "%s %s" % (
                    fmt(f["delivered_per_s"]), fmt(f["accepted_per_s"]))
                for f in figs)))
    out += ["", "problems: " + ("; ".join(res.problems) or "none"),
            "measuring took %.0f s" % (time.monotonic() - started)]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------- main

def setup(cfg, work, res):
    """The sides that could be set up and started (Zest first)."""
    sides = []
    z = p = None
    try:
        z = Zest(cfg, work)
        z.start()
        sides.append(z)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        res.problem("Zest: %s" % e)
        if z is not None:
            z.stop()
    if not cfg.postfix:
        return sides
    err = install_postfix()
    if err:
        res.problem(err)
        return sides
    try:
        p = Postfix(cfg, work, mail_ids())
        p.start()
        sides.append(p)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        res.problem("Postfix: %s" % e)
        if p is not None:
            p.stop()
    return sides


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zest", required=True)
    ap.add_argument("--out", help="also write the report here")
    cfg = Cfg(ap.parse_args())
    if not os.path.exists(cfg.anchor):
        sys.exit("smtp-bench: no %s (set ANCHOR_SMTP)" % cfg.anchor)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="zest-smtp-bench.", dir=cfg.tmp)
    os.chmod(work, 0o755)  # postfix and zest-vmail must traverse it
    res = Results()
    sides = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        sides = setup(cfg, work, res)
        if not shutil.which(os.environ.get("SMTP_SOURCE", "smtp-source")):
            res.problem("no smtp-source: nothing measured")
            sides_run = []
        else:
            sides_run = sides
        if sides_run:
            log("sides: %s; warm-up" % ", ".join(
                "%s on port %d" % (s.name, s.port) for s in sides_run))
            warm_up(cfg, sides_run, res)
            bench_smtp(cfg, sides_run, res)
            bench_mem(cfg, sides_run, res)
        text = report(cfg, res, sides, work, started)
        sys.stdout.write(text)
        sys.stdout.flush()
        if cfg.out:
            try:
                with open(cfg.out, "w") as f:
                    f.write(text)
            except OSError as e:
                res.problem("cannot write %s: %s" % (cfg.out, e))
    finally:
        for s in sides:
            s.stop()
        cleanup(cfg, work)
    return 1 if res.problems else 0


def cleanup(cfg, work):
    """Remove the work directory."""
    if cfg.keep:
        log("kept %s" % work)
        return
    log("removing %s" % work)
    t0 = time.monotonic()
    shutil.rmtree(work, ignore_errors=True)
    log("removed in %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
