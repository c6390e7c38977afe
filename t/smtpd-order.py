#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Write smtpd/smtpd.order, the function order of the static smtpd (lld's
--symbol-ordering-file, see the Makefile): the functions an smtpd worker
runs, found by running one under valgrind's callgrind through a plain
session with a message and a STARTTLS session, first; then every ifunc
resolver (all of them run at start); then the string functions' CPU
variants, grouped by instruction set (a machine uses mostly one group).
The kernel maps a program's pages around each fault (fault-around, large
folios): with the code that runs packed together, an idle session maps
about half of smtpd's text instead of all of it.

usage: ZEST_BIN=build/bin python3 t/smtpd-order.py [OUT]
Needs root (the worker drops to zest-smtpd, as under zest start) and
valgrind.  Only the layout depends on the list: a stale or partial one
costs memory, never correctness."""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "integration"))
from zesttest import BIN, Instance  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "smtpd", "smtpd.order")
SMTPD = os.path.join(BIN, "smtpd")
# What callgrind does not see: the static-pie start-up before main(), and
# the child half of posix_spawn (queue-inject), which runs in smtpd's own
# address space (CLONE_VM) until its exec; then fork (tlsrelay).
START = """_start _dl_relocate_static_pie __libc_start_main_impl
__libc_start_call_main _dl_aux_init __libc_setup_tls __tls_pre_init_tp
__tunables_init init_cpu_features update_active _dl_non_dynamic_init
_dl_init_paths __libc_init_secure __libc_init_first __libc_early_init
_dl_call_libc_early_init _dl_debug_initialize _dl_new_object
__lll_elision_init __getrlimit __cxa_atexit __internal_atexit __new_exitfn
frame_dummy register_tm_clones deregister_tm_clones _IO_init
__posix_spawn __spawni __spawnix __spawni_child __clone_internal __clone3
__clone __libc_sigaction __sigaction sigprocmask __pthread_sigmask
pthread_sigmask sigfillset sigemptyset sigaddset __dup2 dup2 __execve
execve __close_range __closefrom closefrom _Exit _exit __libc_fork _Fork
__run_fork_handlers""".split()
ISA = re.compile(r"_(evex|avx512|avx2|avx|sse2|ssse3|sse4_1|sse4_2|sse42|"
                 r"erms|rtm|unaligned|aligned)[a-z0-9_]*$")


def reply(f):
    while True:
        line = f.readline()
        if len(line) < 4 or line[3:4] != b"-":
            return line


def session(ctl, tls):
    c1, c2 = socket.socketpair()
    socket.send_fds(ctl, [b"192.0.2.1 4000 127.0.0.1 25"], [c2.fileno()])
    c2.close()
    c1.settimeout(120)
    s = c1
    f = s.makefile("rb")
    reply(f)
    if tls:
        s.sendall(b"EHLO x.example\r\n")
        reply(f)
        s.sendall(b"STARTTLS\r\n")
        reply(f)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(c1)
        f = s.makefile("rb")
    for cmd in (b"EHLO x.example", b"MAIL FROM:<a@example.org> SIZE=100",
                b"RCPT TO:<alice@localhost>", b"RCPT TO:<nobody@localhost>",
                b"DATA"):
        s.sendall(cmd + b"\r\n")
        reply(f)
    s.sendall(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    reply(f)
    s.sendall(b"NOOP\r\nRSET\r\nVRFY x\r\nHELP\r\nBOGUS\r\nQUIT\r\n")
    for _ in range(6):
        reply(f)
    s.close()
    if ctl.recv(16) != b"d":
        sys.exit("worker did not say done")


def profile(inst, out):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # the worker drops root before it writes the profile
    open(out, "w").close()
    os.chmod(out, 0o666)
    os.chmod(os.path.dirname(out), 0o1777)
    p = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
         SMTPD, "-C", inst.dir], pass_fds=(b.fileno(),),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, ZEST_LISTEN_FD=str(b.fileno())))
    b.close()
    a.settimeout(120)
    if a.recv(16) != b"r":
        sys.exit("worker did not say ready")
    session(a, False)
    session(a, True)
    a.close()
    p.wait(120)
    names = []
    for line in open(out, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line)
        if m and not m.group(1).startswith(("(", "0x")):
            names.append(m.group(1).strip())
    return names


def main():
    tmp = tempfile.mkdtemp(prefix="zest-order-")
    inst = Instance(port_base=41800)
    try:
        inst.useradd("alice")
        inst.zest("start")
        ran = profile(inst, os.path.join(tmp, "callgrind.out"))
    finally:
        inst.zest("stop")
        inst.cleanup()
        subprocess.run(["rm", "-rf", tmp])
    nm = subprocess.run(["nm", SMTPD], capture_output=True, text=True,
                        check=True).stdout.split("\n")
    syms = [l.split() for l in nm if len(l.split()) == 3]
    resolvers = sorted({n for _a, t, n in syms if n.endswith("_ifunc")})
    variants = sorted({n for _a, t, n in syms if t in "tT" and ISA.search(n)})
    groups = [[v for v in variants if re.search("evex|avx512", v)],
              [v for v in variants if "avx2" in v and
               not re.search("evex|avx512", v)],
              [v for v in variants if not re.search("evex|avx512|avx2", v)]]
    order, seen = [], set()
    for n in START + resolvers + [n for n in ran if not ISA.search(n)] + \
            groups[0] + groups[1] + groups[2]:
        if n not in seen:
            seen.add(n)
            order.append(n)
    with open(OUT, "w") as f:
        f.write("# smtpd's function order for lld --symbol-ordering-file "
                "(see the Makefile).\n# Made by t/smtpd-order.py; do not "
                "edit by hand.\n")
        f.write("\n".join(order) + "\n")
    print("%s: %d symbols (%d run, %d resolvers, %d variants)" % (
        OUT, len(order), len(ran), len(resolvers), len(variants)))


main()
