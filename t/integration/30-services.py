# SPDX-License-Identifier: ISC
"""listen(8) on its own (UCSPI-TCP environment, -u, -c, -i, -b, SIGTERM,
pid file), then zest start/stop/status: first with stand-in programs (a
shell smtpd, a shell spawner) so that the machinery is tested whatever else
is built, then with the real smtpd and spawner when they exist."""
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa

ZEST = os.path.join(BIN, "zest")
LISTEN = os.path.join(BIN, "listen")
ROOT = os.geteuid() == 0
BASE = 30000 + os.getpid() % 1000 * 10
SLOW = 3 if ASAN else 1


def have(path):
    return os.access(path, os.X_OK)


def alive(pid):
    try:
        st = open("/proc/%d/stat" % pid).read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] not in "ZX"


def wait_for(cond, secs, what):
    end = time.time() + secs * SLOW
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    fail("timed out waiting: %s" % what)


def connect(port, host="127.0.0.1", src=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5 * SLOW)
    if src:
        s.bind((src, 0))
    s.connect((host, port))
    return s


def refused(port):
    try:
        connect(port).close()
        return False
    except ConnectionRefusedError:
        return True


def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            c = s.recv(1)
        except (ConnectionResetError, socket.timeout):
            break
        if not c:
            break
        buf += c
    return buf.decode(errors="replace")


def script(path, text):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)


def read_pid(path):
    try:
        return int(open(path).read().strip())
    except (OSError, ValueError):
        return 0


# ---------------------------------------------------------------- listen


class Listen:
    def __init__(self, tmp, port, *args, addr="127.0.0.1", prog=None):
        self.pidfile = os.path.join(tmp, "listen-%d.pid" % port)
        self.errlog = os.path.join(tmp, "listen-%d.err" % port)
        self.port = port
        env = dict(os.environ, ZEST_LOG="stderr")
        cmd = [LISTEN, "-v", "-p", self.pidfile] + list(args) + \
            [addr, str(port)] + prog
        self.p = subprocess.Popen(cmd, env=env, stderr=open(self.errlog, "w"))
        wait_for(lambda: os.path.exists(self.pidfile) or
                 self.p.poll() is not None, 5, "listen pid file")
        check(self.p.poll() is None, "listen exited: %s" % self.log())
        check(read_pid(self.pidfile) == self.p.pid, "pid file content")

    def log(self):
        return open(self.errlog).read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.p.wait(10)


def test_listen(tmp):
    env_sh = os.path.join(tmp, "env.sh")
    script(env_sh, 'echo "$PROTO $TCPREMOTEIP $TCPREMOTEPORT $TCPLOCALIP '
           '$TCPLOCALPORT $(id -u) ${TCPREMOTEHOST-unset}"\nexec cat\n')
    os.environ["TCPREMOTEHOST"] = "stale.example"   # must not leak through
    user_args, want_uid = [], os.geteuid()
    if ROOT:
        user_args, want_uid = ["-u", "nobody"], pwd.getpwnam("nobody").pw_uid

    # the environment, privileges, data both ways
    port = BASE + 1
    ln = Listen(tmp, port, *user_args, prog=[env_sh])
    s = connect(port)
    f = readline(s).split()
    check(f == ["TCP", "127.0.0.1", str(s.getsockname()[1]), "127.0.0.1",
                str(port), str(want_uid), "unset"], "environment: %r" % f)
    s.sendall(b"ping\n")
    check(readline(s) == "ping\n", "echo through the child")

    # SIGTERM: listener gone, pid file removed, the running child stays
    check(ln.stop() == 0, "listen exit status on SIGTERM")
    check(not os.path.exists(ln.pidfile), "pid file left after SIGTERM")
    check(refused(port), "port still open after SIGTERM")
    s.sendall(b"after\n")
    check(readline(s) == "after\n", "child died with listen")
    s.close()
    check("stopped listening; 1 connection" in ln.log(), "stop log: %s" % ln.log())

    # IPv6
    try:
        t = socket.socket(socket.AF_INET6)
        t.bind(("::1", 0))
        t.close()
        v6 = True
    except OSError:
        v6 = False
    if v6:
        ln = Listen(tmp, BASE + 2, addr="::1", prog=[env_sh])
        s = connect(BASE + 2, "::1")
        f = readline(s).split()
        check(f[:2] == ["TCP", "::1"] and f[3] == "::1", "IPv6 env %r" % f)
        s.close()
        check(ln.stop() == 0, "listen v6 stop")

    # -c 2 with a busy line: the third is refused, a freed slot is reused
    ln = Listen(tmp, BASE + 3, "-c", "2", "-b", "421 busy", prog=[env_sh])
    a, b = connect(BASE + 3), connect(BASE + 3)
    check(readline(a).startswith("TCP") and readline(b).startswith("TCP"),
          "two served")
    c = connect(BASE + 3)
    check(readline(c) == "421 busy\r\n", "busy line")
    check(readline(c) == "", "refused connection not closed")
    c.close()
    a.close()

    def served():
        s = connect(BASE + 3)
        ok = readline(s).startswith("TCP")
        s.close()
        return ok
    wait_for(served, 5, "slot freed after a client left")
    b.close()
    check("refused 127.0.0.1: too many connections" in ln.log(), "refusal logged")
    check(ln.stop() == 0, "listen -c stop")

    # -i 1: one per address; 127.0.0.2 is another address
    ln = Listen(tmp, BASE + 4, "-c", "10", "-i", "1", prog=[env_sh])
    a = connect(BASE + 4)
    check(readline(a).startswith("TCP"), "first served")
    b = connect(BASE + 4)
    check(readline(b) == "", "second from the same address served")
    b.close()
    c = connect(BASE + 4, src="127.0.0.2")
    f = readline(c).split()
    check(f[:2] == ["TCP", "127.0.0.2"], "other address refused: %r" % f)
    a.close()
    c.close()
    check(ln.stop() == 0, "listen -i stop")

    # a program that cannot run: the connection closes, listen goes on
    ln = Listen(tmp, BASE + 5, prog=[os.path.join(tmp, "nonexistent")])
    for i in range(2):
        s = connect(BASE + 5)
        check(readline(s) == "", "nonexistent program")
        s.close()
    check(ln.p.poll() is None, "listen died on exec failure")
    check(ln.stop() == 0, "listen stop")

    # a live pid in the pid file, a busy port, bad arguments
    pidfile = os.path.join(tmp, "live.pid")
    open(pidfile, "w").write("%d\n" % os.getpid())
    r = subprocess.run([LISTEN, "-p", pidfile, "127.0.0.1", str(BASE + 6),
                        "/bin/true"], capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and "already running" in r.stderr,
          "live pid file: %d %s" % (r.returncode, r.stderr))
    check(read_pid(pidfile) == os.getpid(), "live pid file overwritten")
    hold = socket.socket()
    hold.bind(("127.0.0.1", BASE + 6))
    hold.listen(1)
    r = subprocess.run([LISTEN, "127.0.0.1", str(BASE + 6), "/bin/true"],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 69 and "bind" in r.stderr, "busy port: %d %s" %
          (r.returncode, r.stderr))
    hold.close()
    for args in ([], ["127.0.0.1", "25"], ["127.0.0.1", "99999", "x"],
                 ["-c", "0", "127.0.0.1", "25", "x"], ["-i", "x", "a", "1", "x"],
                 ["localhost", "25", "x"], ["-b", "a\rb", "127.0.0.1", "1", "x"]):
        r = subprocess.run([LISTEN] + args, capture_output=True, timeout=10)
        check(r.returncode == 64, "usage %r: %d" % (args, r.returncode))
    del os.environ["TCPREMOTEHOST"]
    print("ok listen")


# ---------------------------------------------------------------- zest


def zest(inst, *args):
    return inst.zest(*args)


def status(inst):
    r = zest(inst, "status")
    check(r.returncode == 0, "status: %s" % r.stderr)
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(": ")
        out[k] = v
    return out


def start(inst, want=0):
    r = zest(inst, "start")
    if want is not None:
        check(r.returncode == want, "start exit %d, want %d: %s %s" %
              (r.returncode, want, r.stdout, r.stderr))
    return r


def stop(inst):
    r = zest(inst, "stop")
    check(r.returncode == 0, "stop exit %d: %s %s" %
          (r.returncode, r.stdout, r.stderr))
    return r


def pids(inst):
    run = os.path.join(inst.dir, "run")
    return {n: read_pid(os.path.join(run, n + ".pid"))
            for n in ("smtp", "queue")
            if os.path.exists(os.path.join(run, n + ".pid"))}


def instance_procs(inst):
    """Processes whose command line names the instance."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % d, "rb").read()
        except OSError:
            continue
        if inst.dir.encode() in cmd.split(b"\0") and alive(int(d)):
            out.append((int(d), cmd.replace(b"\0", b" ").decode()))
    return out


def check_stopped(inst, old):
    for name, pid in old.items():
        check(not alive(pid), "%s pid %d still alive after stop" % (name, pid))
    check(pids(inst) == {}, "pid files left: %r" % pids(inst))


def test_fake_services(tmp):
    inst = Instance(port_base=BASE)
    try:
        lx = os.path.join(inst.base, "libexec")
        os.mkdir(lx)
        os.chmod(lx, 0o755)
        os.symlink(LISTEN, os.path.join(lx, "listen"))
        script(os.path.join(lx, "smtpd"),
               'echo "220 fake $(id -un) $TCPREMOTEIP $1 $2"\nread x\n')
        spawner = os.path.join(lx, "spawner")
        script(spawner, 'trap "kill \\$! 2>/dev/null; exit 0" TERM\n'
               'sleep 1000 &\nwait\n')
        script(os.path.join(lx, "queue-inject"), "echo fake\n")
        inst.set_conf("libexec_dir", lx)
        # the stand-in smtpd serves fd 0/1 only: no worker pool for it
        inst.set_conf("smtpd_max_use", "1")
        smtp_port = BASE + 25

        st = status(inst)
        check(st.get("service smtp") == "stopped on 127.0.0.1 port %d" %
              smtp_port, "status smtp %r" % st)
        check(st.get("state") == "stopped", "state %r" % st)
        check(stop(inst).stdout.strip() == "zest: was not running",
              "stop when stopped")
        # a pid file naming a live process that is not listen (a reused
        # pid: here this test itself) is removed, never signalled
        smtp_pid = os.path.join(inst.dir, "run", "smtp.pid")
        open(smtp_pid, "w").write("%d\n" % os.getpid())
        check(status(inst).get("service smtp", "").startswith("stopped"),
              "foreign pid taken for smtp")
        r = stop(inst)
        check("was not running" in r.stdout and "stale" in r.stdout and
              not os.path.exists(smtp_pid), "foreign pid: %s" % r.stdout)

        r = start(inst)
        check(("not run as root" in r.stdout) == (not ROOT) and
              r.stdout.count("not run as root") <= 1, "root note: %s" % r.stdout)
        p = pids(inst)
        check(set(p) == {"smtp", "queue"} and all(alive(x) for x in p.values()),
              "pids after start %r" % p)
        s = connect(smtp_port)
        f = readline(s).split()
        # smtpd drops to zest-smtpd itself (after reading the TLS key)
        user = pwd.getpwuid(os.geteuid()).pw_name
        check(f == ["220", "fake", user, "127.0.0.1", "-C", inst.dir],
              "greeting %r" % f)
        s.close()
        st = status(inst)
        check(st.get("service smtp") == "running, pid %d on 127.0.0.1 port %d"
              % (p["smtp"], smtp_port), "status %r" % st)
        check(st.get("service queue") == "running, pid %d" % p["queue"],
              "status %r" % st)
        check(st.get("state") == "running", "state %r" % st)
        if ROOT:
            qi = os.stat(os.path.join(inst.dir, "run", "bin", "queue-inject"))
            q = pwd.getpwnam("zest-queue")
            check(qi.st_uid == q.pw_uid and qi.st_gid == q.pw_gid and
                  stat.S_IMODE(qi.st_mode) == 0o6755, "queue-inject copy")
        check("already running" in start(inst).stdout, "second start")
        check(pids(inst) == p, "second start changed pids")

        stop(inst)
        check_stopped(inst, p)
        check(refused(smtp_port), "smtp port open after stop")
        check(status(inst).get("state") == "stopped", "state after stop")

        # SIGKILL one daemon, then stop: still clean
        for victim in ("smtp", "queue"):
            start(inst)
            p = pids(inst)
            os.kill(p[victim], signal.SIGKILL)
            wait_for(lambda: not alive(p[victim]), 5, "SIGKILL")
            check(status(inst).get("state") == "partly running",
                  "state after SIGKILL of %s" % victim)
            r = stop(inst)
            check("stale pid file" in r.stdout, "stale note: %s" % r.stdout)
            check_stopped(inst, p)

        # start again after a SIGKILL left a stale pid file behind
        start(inst)
        p = pids(inst)
        os.kill(p["smtp"], signal.SIGKILL)
        wait_for(lambda: not alive(p["smtp"]), 5, "SIGKILL")
        start(inst)
        check(readline(connect(smtp_port)).startswith("220 fake"),
              "smtp back after restart")
        stop(inst)
        check_stopped(inst, pids(inst))

        # the port is taken: start fails and undoes what it launched
        hold = socket.socket()
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hold.bind(("127.0.0.1", smtp_port))
        hold.listen(1)
        r = start(inst, want=1)
        hold.close()
        check("smtp: exited at start" in r.stderr, "failure: %s" % r.stderr)
        check(pids(inst) == {}, "pid files after failed start %r" % pids(inst))
        check(instance_procs(inst) == [], "left running: %r" %
              instance_procs(inst))
        check("bind" in open(os.path.join(inst.dir, "log", "smtp.log")).read(),
              "bind error not in log/smtp.log")

        # a daemon that dies at once: its pid file goes too
        script(spawner, 'exit 3\n')
        r = start(inst, want=1)
        check("queue: exited at start (status 3)" in r.stderr,
              "dying spawner: %s" % r.stderr)
        check(pids(inst) == {}, "pid files after dying spawner %r" % pids(inst))
        check(instance_procs(inst) == [], "left running: %r" %
              instance_procs(inst))

        # a daemon deaf to SIGTERM is killed after the grace period
        script(spawner, 'trap "" TERM\nwhile :; do sleep 1; done\n')
        start(inst)
        p = pids(inst)
        t0 = time.time()
        r = stop(inst)
        check("killing it" in r.stderr and time.time() - t0 >= 9,
              "SIGKILL escalation: %s" % r.stderr)
        check_stopped(inst, p)

        # a program missing from libexec_dir is skipped with a note
        os.unlink(spawner)
        r = start(inst)
        check("queue skipped" in r.stdout, "skip note: %s" % r.stdout)
        st = status(inst)
        check(st.get("service queue") == "not installed" and
              st.get("state") == "running", "status %r" % st)
        stop(inst)
        check_stopped(inst, {})
    finally:
        zest(inst, "stop")
        inst.cleanup()
    print("ok zest start/stop/status with stand-in programs")


def test_real_services():
    smtpd = have(os.path.join(BIN, "smtpd"))
    spawner = have(os.path.join(BIN, "spawner"))
    if not (smtpd or spawner):
        print("skip: no smtpd or spawner in %s" % BIN)
        return False
    inst = Instance(port_base=BASE)
    try:
        inst.set_conf("libexec_dir", BIN)
        r = start(inst)
        p = pids(inst)
        if smtpd:
            s = connect(BASE + 25)
            g = readline(s)
            check(g.startswith("220 "), "smtpd greeting %r" % g)
            s.sendall(b"QUIT\r\n")
            readline(s)
            s.close()
        if spawner:
            check("queue" in p and alive(p["queue"]), "spawner %r" % p)
        for round in (1, 2):
            stop(inst)
            check_stopped(inst, p)
            wait_for(lambda: instance_procs(inst) == [], 5,
                     "processes of the instance: %r" % instance_procs(inst))
            if round == 1:
                start(inst)
                p = pids(inst)
                name = "queue" if spawner else "smtp"
                os.kill(p[name], signal.SIGKILL)
                wait_for(lambda: not alive(p[name]), 5, "SIGKILL")
    finally:
        zest(inst, "stop")
        inst.cleanup()
    print("ok real services")
    return True


def main():
    if not have(ZEST) or not have(LISTEN):
        skip("skip: no zest or listen in %s" % BIN)
    tmp = tempfile.mkdtemp(prefix="zest-svc-")
    os.chmod(tmp, 0o755)
    try:
        test_listen(tmp)
        test_fake_services(tmp)
        test_real_services()
    finally:
        subprocess.run(["rm", "-rf", tmp])
    print("all passed")


main()
