#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""imap-bench.py - IMAP and POP3 on a 100,000-message mailbox, Zest against
Dovecot, in the same run.

The corpus is /work/shared/bench/gen-maildir.py --count BENCH_IMAP_N --seed 1
(generated once per run of this script).  Each run gives both servers fresh
hard-linked copies of it: user1 (IMAP) and user2 (POP3), Maildirs that
"another tool" dropped in, with no index; then
/work/shared/bench/anchor-imap.py measures each server in turn (the side
that goes first alternates).  Dovecot is Debian's dovecot-imapd and
dovecot-pop3d started privately (own base_dir, loopback ports, passwd-file
users, no TLS); Zest is an instance made with zest init/useradd/start.

Both sides check the same yescrypt hashes at LOGIN (Dovecot's passdb uses
the {CRYPT} scheme with the hashes `zest useradd` made), so a login costs
each the same hash.

Then, Zest only (BENCH_IMAP_DELIVER=0 skips it): the same corpus delivered
through one `deliver -S` worker (as the spawner feeds it, so the cache is
filled at delivery) and anchor-imap.py's IMAP part on that mailbox; its
first ENVELOPE fetch is set against Dovecot's repeat, and SELECT alone is
timed too (the target: a header read, under 5 ms).

Medians of BENCH_IMAP_RUNS runs.  A side whose daemons are not built or
installed is reported as such; the other side is still measured.

    imap-bench.py --zest BIN/zest --out FILE
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SHARED = "/work/shared/bench"
PASSWORD = "benchpw"


def env_int(name, default):
    """An integer from the environment, or DEFAULT."""
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def log(msg):
    """Progress to stderr (the table goes to stdout)."""
    print("imap-bench: " + msg, file=sys.stderr, flush=True)


class Cfg:
    def __init__(self, args):
        self.zest = os.path.abspath(args.zest)
        self.bin = os.path.dirname(self.zest)
        self.out = args.out
        self.n = env_int("BENCH_IMAP_N", 100000)
        self.runs = env_int("BENCH_IMAP_RUNS", env_int("BENCH_RUNS", 3))
        self.deliver = env_int("BENCH_IMAP_DELIVER", 1) != 0
        self.hashes = {}
        self.sessions = env_int("BENCH_IMAP_SESSIONS", 200)
        self.users = max(2, min(100, self.sessions // 2 or 2))
        self.tmp = os.environ.get("BENCH_TMP", "/var/tmp")
        self.keep = os.environ.get("BENCH_KEEP", "") not in ("", "0")
        self.gen = os.environ.get("BENCH_GEN", SHARED + "/gen-maildir.py")
        self.anchor = os.environ.get("ANCHOR_IMAP", SHARED + "/anchor-imap.py")
        self.dovecot = os.environ.get("DOVECOT", "/usr/sbin/dovecot")


def run(argv, **kw):
    """Run ARGV; its output, or RuntimeError with it on failure."""
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s%s" % (
            " ".join(argv[:3]), r.returncode, r.stdout[-500:], r.stderr[-500:]))
    return r.stdout


def free_base():
    """A port base whose +110, +143 are free on 127.0.0.1."""
    for base in range(33000, 60000, 1000):
        ok = True
        for off in (25, 110, 143, 587, 465, 993, 995):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", base + off))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    raise RuntimeError("no free port base")


def wait_port(port, secs=20):
    """Wait until 127.0.0.1:PORT accepts."""
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("port %d never answered" % port)


def mail_ids():
    """uid/gid the Maildirs belong to: zest-vmail when root, else ours."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    try:
        p = pwd.getpwnam("zest-vmail")
        return p.pw_uid, p.pw_gid
    except KeyError:
        return None


def link_copy(src, dst, ids):
    """A hard-linked copy of Maildir SRC at DST, owned by IDS."""
    run(["cp", "-al", src, dst])
    if ids and os.getuid() == 0:
        run(["chown", "-R", "%d:%d" % ids, dst])


def warm(path):
    """Read every file once: the page cache is warm for both sides."""
    subprocess.run("find %s -type f -print0 | xargs -0 cat > /dev/null" %
                   path, shell=True, check=False)


def anchor(cfg, imap_port, pop3_port, skip, pid, json_path):
    """Run anchor-imap.py; its figures as {name: value}."""
    argv = [sys.executable, cfg.anchor, "--port", str(imap_port),
            "--pop3-port", str(pop3_port), "--user", "user1",
            "--pop3-user", "user2", "--password", PASSWORD,
            "--idle-sessions", str(cfg.sessions),
            "--idle-users", str(cfg.users), "--json", json_path]
    if skip:
        argv += ["--skip", ",".join(sorted(skip))]
    if pid:
        argv += ["--server-pid", str(pid)]
    out = run(argv, timeout=3600)
    figs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("#"):
            try:
                figs[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return figs


class Zest:
    name = "Zest"

    def __init__(self, cfg, work):
        self.cfg = cfg
        self.dir = os.path.join(work, "zest")
        self.base = None
        self.have_imap = os.access(os.path.join(cfg.bin, "imapd"), os.X_OK)
        self.have_pop3 = os.access(os.path.join(cfg.bin, "pop3d"), os.X_OK)

    def zest(self, *args):
        return run([self.cfg.zest, "-C", self.dir] + list(args))

    def setup(self, corpus, ids):
        """A fresh instance with users user1..userN, user1/user2 = corpus."""
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        self.base = free_base()
        run([self.cfg.zest, "init", self.dir, "--port-base", str(self.base)])
        for i in range(1, self.cfg.users + 1):
            self.zest("useradd", "user%d" % i, PASSWORD)
        for u in ("user1", "user2"):
            md = os.path.join(self.dir, "mail", u)
            owner = os.stat(md)
            shutil.rmtree(md)
            link_copy(corpus, md, (owner.st_uid, owner.st_gid))

    def start(self):
        self.zest("start")

    def stop(self):
        subprocess.run([self.cfg.zest, "-C", self.dir, "stop"],
                       capture_output=True)

    def ports(self):
        return self.base + 143, self.base + 110

    def skip(self):
        s = set()
        if not self.have_imap:
            s |= {"imap", "mem"}
        if not self.have_pop3:
            s.add("pop3")
        return s

    def pid(self):
        return None


class Dovecot:
    name = "Dovecot"

    def __init__(self, cfg, work, ids):
        self.cfg = cfg
        self.dir = os.path.join(work, "dovecot")
        self.ids = ids
        self.proc = None
        self.base = None
        self.usable = (os.access(cfg.dovecot, os.X_OK) and
                       os.path.exists("/usr/lib/dovecot/imap") and
                       os.path.exists("/usr/lib/dovecot/pop3"))

    def setup(self, corpus, ids):
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        self.base = free_base()
        run_dir = os.path.join(self.dir, "run")
        mail = os.path.join(self.dir, "mail")
        os.makedirs(run_dir)
        os.makedirs(mail)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for i in range(1, self.cfg.users + 1):
                f.write("user%d:{CRYPT}%s::::::\n" %
                        (i, self.cfg.hashes["user%d" % i]))
        for i in range(1, self.cfg.users + 1):
            home = os.path.join(mail, "user%d" % i)
            os.mkdir(home)
            if i <= 2:
                link_copy(corpus, os.path.join(home, "Maildir"), ids)
            else:
                for sub in ("cur", "new", "tmp"):
                    os.makedirs(os.path.join(home, "Maildir", sub))
        if ids and os.getuid() == 0:
            run(["chown", "-R", "%d:%d" % ids, mail])
        uid, gid = ids if ids else (os.getuid(), os.getgid())
        logf = os.path.join(self.dir, "dovecot.log")
        conf = os.path.join(self.dir, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(
                "# imap-bench.py: a private Dovecot, Debian's defaults but "
                "paths and ports\n"
                "base_dir = %(run)s\nstate_dir = %(run)s\n"
                "log_path = %(log)s\ninfo_log_path = %(log)s\n"
                "protocols = imap pop3\nlisten = 127.0.0.1\nssl = no\n"
                "disable_plaintext_auth = no\n"
                "auth_mechanisms = plain login\n"
                "first_valid_uid = 1\nfirst_valid_gid = 1\n"
                "passdb {\n  driver = passwd-file\n"
                "  args = scheme=CRYPT username_format=%%n %(dir)s/passwd\n}\n"
                "userdb {\n  driver = static\n"
                "  args = uid=%(uid)d gid=%(gid)d home=%(mail)s/%%n\n}\n"
                "mail_location = maildir:~/Maildir\n"
                "pop3_uidl_format = %%08Xu%%08Xv\n"
                "service imap-login {\n  inet_listener imap {\n"
                "    port = %(imap)d\n  }\n  inet_listener imaps {\n"
                "    port = 0\n  }\n}\n"
                "service pop3-login {\n  inet_listener pop3 {\n"
                "    port = %(pop3)d\n  }\n  inet_listener pop3s {\n"
                "    port = 0\n  }\n}\n"
                "service anvil {\n  chroot =\n}\n"
                % {"run": run_dir, "log": logf, "dir": self.dir,
                   "mail": mail, "uid": uid, "gid": gid,
                   "imap": self.base + 143, "pop3": self.base + 110})
        self.conf = conf

    def start(self):
        self.proc = subprocess.Popen([self.cfg.dovecot, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.base + 143)
        wait_port(self.base + 110)

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def ports(self):
        return self.base + 143, self.base + 110

    def skip(self):
        return set()

    def pid(self):
        return self.proc.pid if self.proc else None


def password_hashes(cfg, work):
    """The users' crypt(3) hashes as `zest useradd` makes them (yescrypt),
    from a scratch instance: Dovecot's passdb checks the same hashes
    ({CRYPT} scheme), so both sides pay the same for each login."""
    d = os.path.join(work, "zest-hashes")
    run([cfg.zest, "init", d, "--port-base", str(free_base())])
    for i in range(1, cfg.users + 1):
        run([cfg.zest, "-C", d, "useradd", "user%d" % i, PASSWORD])
    hashes = {}
    with open(os.path.join(d, "tables", "users")) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                hashes[parts[0]] = parts[1]
    shutil.rmtree(d, ignore_errors=True)
    return hashes


def deliver_worker(cfg, zdir, user, files):
    """Deliver FILES to USER through one `deliver -S` worker, as the
    spawner does (a job per message on a SOCK_SEQPACKET socket, the file's
    descriptor by SCM_RIGHTS, up to 64 jobs in flight)."""
    import array
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    p = subprocess.Popen([os.path.join(cfg.bin, "deliver"), "-C", zdir,
                          "-S", "-d", user], stdin=theirs,
                         stdout=subprocess.DEVNULL)
    theirs.close()
    pending = 0
    sent = 0
    failed = []
    try:
        while sent < len(files) or pending:
            while sent < len(files) and pending < 64:
                fd = os.open(files[sent], os.O_RDONLY)
                try:
                    ours.sendmsg([b"%d\0%s\0bench@localhost\0" %
                                  (sent + 1, user.encode())],
                                 [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                   array.array("i", [fd]))])
                finally:
                    os.close(fd)
                sent += 1
                pending += 1
            answer = ours.recv(4096)
            if not answer:
                raise RuntimeError("deliver -S closed its socket")
            pending -= 1
            job, code = answer.split()[:2]
            if code != b"0":
                failed.append(answer)
        # the spawner keeps an idle worker for seconds (10 by default);
        # so does this, long enough for it to settle its last batch
        time.sleep(2.5)
    finally:
        ours.close()
        p.wait()
    if failed:
        raise RuntimeError("%d deliveries failed, e.g. %r" %
                           (len(failed), failed[0]))


def delivered_figures(cfg, work, corpus):
    """Zest only: the corpus delivered through deliver (the cache filled at
    delivery), then anchor-imap.py's IMAP part on that mailbox.  Returns
    its figures ({} when imapd is not built or BENCH_IMAP_DELIVER=0)."""
    z = Zest(cfg, work)
    if not z.have_imap or not cfg.deliver:
        return {}
    z.dir = os.path.join(work, "zest-deliver")
    if os.path.exists(z.dir):
        shutil.rmtree(z.dir)
    z.base = free_base()
    run([cfg.zest, "init", z.dir, "--port-base", str(z.base)])
    z.zest("useradd", "user1", PASSWORD)
    files = [os.path.join(corpus, d, f) for d in ("cur", "new")
             for f in sorted(os.listdir(os.path.join(corpus, d)))]
    log("delivering %d messages through deliver -S" % len(files))
    t0 = time.perf_counter()
    deliver_worker(cfg, z.dir, "user1", files)
    log("delivered in %.1f s" % (time.perf_counter() - t0))
    done = time.time()
    z.start()
    try:
        import imaplib
        imap, pop3 = z.ports()
        # The first SELECT once the last batch's new/ mtime is settled
        # (two seconds): the one sync that reads new/ to check it, unless
        # the deliver worker has already done so.
        time.sleep(max(0.0, done + 2.2 - time.time()))
        c = imaplib.IMAP4("127.0.0.1", imap)
        c.login("user1", PASSWORD)
        t0 = time.perf_counter()
        typ, _ = c.select("INBOX")
        settle = time.perf_counter() - t0
        c.logout()
        if typ != "OK":
            raise RuntimeError("SELECT failed")
        figs = anchor(cfg, imap, pop3, {"pop3", "mem", "cpu"}, None,
                      os.path.join(work, "zest-deliver.json"))
        times = []
        for _ in range(3):
            c = imaplib.IMAP4("127.0.0.1", imap)
            c.login("user1", PASSWORD)
            t0 = time.perf_counter()
            typ, _ = c.select("INBOX")
            times.append(time.perf_counter() - t0)
            c.logout()
            if typ != "OK":
                raise RuntimeError("SELECT failed")
        figs["select_only"] = statistics.median(times)
        figs["select_settle"] = settle
        return figs
    finally:
        z.stop()


ROWS = [
    # figure, label, lower is better
    ("imap.login_select.first", "LOGIN+SELECT, first (index build)", True),
    ("imap.login_select.warm", "LOGIN+SELECT, second", True),
    ("imap.login_select.warm2", "LOGIN+SELECT, steady", True),
    ("imap.fetch_uid_flags", "FETCH 1:* (UID FLAGS)", True),
    ("imap.uid_fetch_envelope.first", "UID FETCH 1:* (ENVELOPE), first", True),
    ("imap.uid_fetch_envelope.repeat", "UID FETCH 1:* (ENVELOPE), repeat",
     True),
    ("imap.fetch_bodystructure.first", "FETCH 1:1000 (BODYSTRUCTURE)", True),
    ("imap.uid_search_subject.first", "UID SEARCH SUBJECT, first", True),
    ("imap.uid_search_subject.repeat", "UID SEARCH SUBJECT, repeat", True),
    ("imap.uid_search_body.first", "UID SEARCH BODY, first", True),
    ("imap.uid_search_body.repeat", "UID SEARCH BODY, repeat", True),
    ("imap.store_flags", "STORE 1:10000 +FLAGS", True),
    ("pop3.login_stat.first", "POP3 login+STAT, first", True),
    ("pop3.login_stat.warm2", "POP3 login+STAT, steady", True),
    ("pop3.uidl", "POP3 UIDL", True),
    ("pop3.list", "POP3 LIST", True),
    ("pop3.retr", "POP3 RETR x1000", True),
    ("mem.session.rss", "idle session RSS (KiB)", True),
    ("mem.session.pss", "idle session PSS (KiB)", True),
    ("mem.idle_sessions.total_pss", "%d sessions, total PSS (KiB)", True),
]


def table(cfg, res, extra):
    lines = ["IMAP/POP3 on a %d-message mailbox: Zest against Dovecot; "
             "medians of %d runs, seconds unless said" % (cfg.n, cfg.runs),
             "",
             "%-36s %10s %10s %9s" % ("figure", "Zest", "Dovecot", "speed-up")]
    for key, label, lower in ROWS:
        if "%d" in label:
            label = label % cfg.sessions
        z = [r[key] for r in res["Zest"] if key in r]
        d = [r[key] for r in res["Dovecot"] if key in r]
        zm = statistics.median(z) if z else None
        dm = statistics.median(d) if d else None
        ratio = ""
        if zm and dm:
            ratio = "%.2fx" % ((dm / zm) if lower else (zm / dm))
        lines.append("%-36s %10s %10s %9s" % (
            label, "%.4g" % zm if zm is not None else "-",
            "%.4g" % dm if dm is not None else "-", ratio))
    if extra:
        lines.append("")
        lines.append("The same corpus delivered through deliver (cache filled "
                     "at delivery), Zest only, against Dovecot's figures above:")
        dv = {}
        for key in ("imap.uid_fetch_envelope.repeat",
                    "imap.login_select.warm2"):
            d = [r[key] for r in res["Dovecot"] if key in r]
            dv[key] = statistics.median(d) if d else None
        for key, label, against in (
                ("select_only", "SELECT alone (no LOGIN)", None),
                ("select_settle", "SELECT, first 2 s after delivery", None),
                ("imap.login_select.first", "LOGIN+SELECT, first",
                 "imap.login_select.warm2"),
                ("imap.uid_fetch_envelope.first",
                 "UID FETCH 1:* (ENVELOPE), first",
                 "imap.uid_fetch_envelope.repeat")):
            zm = extra.get(key)
            dm = dv.get(against) if against else None
            lines.append("%-36s %10s %10s %9s" % (
                label, "%.4g" % zm if zm is not None else "-",
                "%.4g" % dm if dm is not None else "-",
                "%.2fx" % (dm / zm) if zm and dm else ""))
        lines.append("(Dovecot column here: its steady LOGIN+SELECT and its "
                     "repeat ENVELOPE fetch)")
    lines.append("")
    lines.append("(speed-up: Dovecot's time over Zest's; above 1 Zest is "
                 "faster. '-': not measured, e.g. daemon not built)")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zest", required=True)
    ap.add_argument("--out", required=True)
    cfg = Cfg(ap.parse_args())
    work = tempfile.mkdtemp(prefix="zest-imap-bench.", dir=cfg.tmp)
    os.chmod(work, 0o755)
    ids = mail_ids()
    sides = [Zest(cfg, work), Dovecot(cfg, work, ids)]
    if not sides[1].usable:
        log("no dovecot-imapd/dovecot-pop3d: Dovecot not measured")
        sides.pop()
    res = {"Zest": [], "Dovecot": []}
    extra = {}
    try:
        corpus = os.path.join(work, "corpus")
        log("generating %d messages" % cfg.n)
        run([sys.executable, cfg.gen, "--count", str(cfg.n), "--seed", "1",
             "--dir", corpus])
        cfg.hashes = password_hashes(cfg, work)
        for r in range(cfg.runs):
            order = sides if r % 2 == 0 else list(reversed(sides))
            for side in order:
                skip = side.skip()
                if {"imap", "pop3"} <= skip:
                    log("run %d: %s has no imapd/pop3d: skipped" %
                        (r + 1, side.name))
                    continue
                side.setup(corpus, ids)
                warm(corpus)
                side.start()
                try:
                    imap, pop3 = side.ports()
                    log("run %d: %s" % (r + 1, side.name))
                    figs = anchor(cfg, imap, pop3, skip, side.pid(),
                                  os.path.join(work, "%s-%d.json" %
                                               (side.name, r)))
                    res[side.name].append(figs)
                finally:
                    side.stop()
        extra = delivered_figures(cfg, work, corpus)
    finally:
        for side in sides:
            side.stop()
        text = table(cfg, res, extra)
        sys.stdout.write(text)
        with open(cfg.out, "w") as f:
            f.write(text)
            f.write("\nall runs:\n" + json.dumps(res, indent=1) + "\n")
            f.write("\ndelivered mailbox:\n" + json.dumps(extra, indent=1) +
                    "\n")
        if not cfg.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
