# SPDX-License-Identifier: ISC
"""Helpers for the integration tests: a Zest instance in a temporary
directory, driven only through the instance contract (zest init, useradd,
...) and the programs' command lines.  ZEST_BIN names the build's bin/."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("ZEST_BIN") or os.path.abspath("build/bin")
ASAN = os.environ.get("ZEST_ASAN") == "1"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def skip(msg):
    print(msg)
    sys.exit(77)


class Instance:
    def __init__(self, port_base=None, domain="localhost"):
        base = tempfile.mkdtemp(prefix="zest-it-")
        os.chmod(base, 0o755)  # the mail uid must reach the instance
        self.base = base
        self.dir = os.path.join(base, "inst")
        args = ["init", self.dir, "--domain", domain]
        if port_base is not None:
            args += ["--port-base", str(port_base)]
        r = self.zest(*args)
        check(r.returncode == 0, "zest init: %s" % r.stderr)

    def zest(self, *args, input=None):
        cmd = [os.path.join(BIN, "zest"), "-C", self.dir] if args[0] != "init" \
            else [os.path.join(BIN, "zest")]
        return subprocess.run(cmd + list(args), input=input,
                              capture_output=True, text=True)

    def useradd(self, name, pw="secret"):
        r = self.zest("useradd", name, pw)
        check(r.returncode == 0, "useradd %s: %s" % (name, r.stderr))
        return os.path.join(self.dir, "mail", name)

    def set_conf(self, key, value):
        path = os.path.join(self.dir, "zest.conf")
        lines = open(path).read().splitlines()
        out = [l for l in lines if not re.match(r"\s*%s\s*=" % re.escape(key), l)]
        out.append("%s = %s" % (key, value))
        open(path, "w").write("\n".join(out) + "\n")

    def deliver_cmd(self, *args):
        return [os.path.join(BIN, "deliver"), "-C", self.dir] + list(args)

    def deliver(self, data, *args):
        if isinstance(data, str):
            data = data.encode()
        return subprocess.run(self.deliver_cmd(*args), input=data,
                              capture_output=True)

    def dump(self, who, sync=True, ok=True):
        args = ["dump"] + ([] if sync else ["-n"]) + [who]
        r = self.zest(*args)
        if ok:
            check(r.returncode == 0, "dump %s: rc %d %s %s" %
                  (who, r.returncode, r.stderr, r.stdout[-500:]))
        return parse_dump(r.stdout), r

    def cleanup(self):
        self.spawner_stop(signal.SIGKILL)
        if os.environ.get("ZEST_KEEP"):
            print("kept", self.base)
            return
        shutil.rmtree(self.base, ignore_errors=True)

    # --- the queue (docs/QUEUE.md) ---

    def queue_dir(self, *sub):
        return os.path.join(self.dir, "queue", *sub)

    def inject(self, sender, rcpts, msg, extra="", cmd=None, **kw):
        """Run queue-inject; returns (returncode, answer, stderr)."""
        data = queue_input(sender, rcpts, msg, extra)
        cmd = cmd or [os.path.join(BIN, "queue-inject"), "-C", self.dir]
        r = subprocess.run(cmd, input=data, capture_output=True, **kw)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    spawner = None

    def spawner_start(self, wait=True):
        """Start the spawner (and so queued) in the background, logging to
        BASE/spawner.log; wait until queued reads its trigger FIFO."""
        log = open(os.path.join(self.base, "spawner.log"), "ab")
        self.spawner = subprocess.Popen(
            [os.path.join(BIN, "spawner"), "-C", self.dir, "-p",
             os.path.join(self.dir, "run", "queue.pid")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()
        deadline = time.time() + 20
        while wait and time.time() < deadline:
            try:
                fd = os.open(self.queue_dir("trigger"),
                             os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
                return self.spawner
            except OSError:
                check(self.spawner.poll() is None, "spawner exited: %s" %
                      self.spawner_log()[-2000:])
                time.sleep(0.02)
        check(not wait, "queued did not start")
        return self.spawner

    def spawner_stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the spawner; SIGKILL kills its whole process group (queued
        and the deliveries too).  Returns its exit status."""
        p, self.spawner = self.spawner, None
        if p is None:
            return None
        try:
            if sig == signal.SIGKILL:
                os.killpg(p.pid, sig)
            else:
                p.send_signal(sig)
        except ProcessLookupError:
            pass
        return p.wait(timeout=timeout)

    def spawner_log(self):
        try:
            return open(os.path.join(self.base, "spawner.log"),
                        errors="replace").read()
        except OSError:
            return ""

    def queue_ids(self):
        return sorted(os.listdir(self.queue_dir("env")))

    def wait_queue_empty(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.queue_ids():
                return
            time.sleep(0.05)
        fail("queue not empty: %s\n%s" % (self.zest("queue").stdout[-3000:],
                                          self.spawner_log()[-3000:]))

    def maildir_msgs(self, user):
        """The messages in user's new/ and cur/, as bytes, oldest first."""
        md = os.path.join(self.dir, "mail", user)
        return [open(os.path.join(md, f), "rb").read()
                for f in sorted(files_in(md), key=lambda f: f.split("/")[1])]


class Proc:
    """What /proc says of one process: uid, ppid, root (its chroot, or None
    when unreadable) and cmd (argv as bytes)."""

    def __init__(self, pid):
        st = open("/proc/%d/status" % pid).read()
        self.uid = int(re.search(r"^Uid:\s+(\d+)", st, re.M).group(1))
        self.ppid = int(re.search(r"^PPid:\s+(\d+)", st, re.M).group(1))
        try:
            self.root = os.readlink("/proc/%d/root" % pid)
        except OSError:
            self.root = None
        self.cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")

    def __repr__(self):
        return "Proc(uid=%d ppid=%d root=%r cmd=%r)" % (
            self.uid, self.ppid, self.root, self.cmd)


def daemon_procs(inst, name):
    """{pid: Proc} of the processes of daemon name (argv[0] ending in it,
    "imapd" or "pop3d") serving instance inst."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            p = Proc(int(d))
        except (OSError, AttributeError):
            continue
        if p.cmd and p.cmd[0].endswith(name.encode()) and \
                inst.dir.encode() in p.cmd:
            out[int(d)] = p
    return out


def queue_input(sender, rcpts, msg, extra=""):
    """queue-inject's input: ENV text, ".", the message in chunks, "E".
    rcpts are addresses or (address, notify, orcpt) tuples."""
    lines = ["V1", "F" + sender]
    for r in rcpts:
        a, n, o = r if isinstance(r, tuple) else (r, "", "")
        lines.append("R%s\t%s\t%s" % (a, n, o))
    env = "\n".join(lines) + "\n" + extra + ".\n"
    if isinstance(msg, str):
        msg = msg.encode()
    out = env.encode()
    for i in range(0, len(msg), 65536):
        part = msg[i:i + 65536]
        out += b"D%d\n" % len(part) + part
    return out + b"E\n"


def parse_dump(text):
    """{'header': {...}, 'msgs': [{'uid':..,'size':..,'flags':..,'file':..}]}"""
    hdr, msgs = {}, []
    for line in text.splitlines():
        if line.startswith("mailbox "):
            f = line.split()
            hdr = {f[i]: f[i + 1] for i in range(2, len(f) - 1, 2)}
            hdr = {k: int(v) for k, v in hdr.items()}
        elif line.startswith("uid "):
            m = re.match(r"uid (\d+) size (\d+) modseq (\d+) date (-?\d+) "
                         r"flags \(([^)]*)\) (raw|text) (\S+)( missing)?$", line)
            check(m is not None, "bad dump line: %r" % line)
            msgs.append({"uid": int(m.group(1)), "size": int(m.group(2)),
                         "modseq": int(m.group(3)), "flags": m.group(5),
                         "raw": m.group(6) == "raw", "file": m.group(7),
                         "missing": m.group(8) is not None})
    return {"header": hdr, "msgs": msgs}


def wire_size(path, raw):
    data = open(path, "rb").read()
    return len(data) if raw else len(data) + data.count(b"\n")


def message(token, body_lines=3, extra=""):
    body = "".join("line %d of %s\n" % (i, token) for i in range(body_lines))
    return ("From: sender@example.org\nTo: alice@localhost\n"
            "Subject: test %s\nMessage-ID: <%s@test>\n%s\n%s" %
            (token, token, extra, body))


def files_in(maildir):
    out = []
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(maildir, sub)):
            if not n.startswith("."):
                out.append(sub + "/" + n)
    return sorted(out)


def token_of(path):
    m = re.search(rb"^Subject: test (\S+)", open(path, "rb").read(), re.M)
    return m.group(1).decode() if m else None
