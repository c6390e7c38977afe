# SPDX-License-Identifier: ISC
"""An upgrade: messages left in the queue by the previous queue-inject, as
V1 entries (env/<id> the envelope alone, msg/<id> the message), are still
delivered, byte for byte, beside new V2 ones (one file, the envelope then
the message): one to local users, one through an alias (its resolved
envelope goes to exp/<id> and env/<id> is left as it was), one whose
recipient is unknown (its DSN quotes the message); `zest queue` lists
both kinds with their message sizes, and the queue is empty in the end,
msg/ and exp/ included."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from zesttest import *  # noqa


def body(token):
    return ("From: bob@localhost\r\nTo: alice@localhost\r\n"
            "Subject: test %s\r\nMessage-ID: <%s@test>\r\n\r\n"
            "line one of %s\r\nRfake envelope line\r\n" % (token, token, token)
            ).encode()


def put_v1(inst, qid, sender, rcpts, msg, t=None):
    """Write a V1 entry as the previous version did: msg/<id>, then
    env/<id>, both the queue owner's, mode 0600."""
    st = os.stat(inst.queue_dir())
    env = "V1\nI%s\nT%d\nA0\nF%s\n" % (qid, t or int(time.time()), sender)
    env += "".join("R%s\t\t\n" % r for r in rcpts)
    for sub, data in (("msg", msg), ("env", env.encode())):
        os.makedirs(inst.queue_dir(sub), mode=0o700, exist_ok=True)
        os.chown(inst.queue_dir(sub), st.st_uid, st.st_gid)
        p = inst.queue_dir(sub, qid)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o600)
        os.chown(p, st.st_uid, st.st_gid)


def with_token(inst, user, token):
    return [m for m in inst.maildir_msgs(user)
            if re.search(rb"^Subject: test " + token.encode() + rb"\r?$",
                         m, re.M)]


inst = Instance()
try:
    for u in ("alice", "bob", "carol"):
        inst.useradd(u)
    with open(os.path.join(inst.dir, "tables", "aliases"), "a") as f:
        f.write("team alice, carol\n")
    check(inst.zest("makemap", "aliases").returncode == 0, "makemap")
    pid = os.getpid()
    now = int(time.time())
    ids = {tok: "%x.%x.%x" % (now - 10, i, pid)
           for i, tok in enumerate(("v1plain", "v1alias", "v1unknown"))}
    msgs = {tok: body(tok) for tok in ids}
    put_v1(inst, ids["v1plain"], "bob@localhost",
           ["alice@localhost", "bob@localhost"], msgs["v1plain"])
    put_v1(inst, ids["v1alias"], "bob@localhost", ["team@localhost"],
           msgs["v1alias"])
    put_v1(inst, ids["v1unknown"], "bob@localhost",
           ["nobody-here@localhost"], msgs["v1unknown"])
    # and a new one beside them
    m2 = body("v2")
    rc, out, err = inst.inject("bob@localhost", ["carol@localhost"], m2)
    check(rc == 0 and out.startswith("ok "), "inject: %r %s" % (out, err))
    v2 = out.split()[1]
    check(open(inst.queue_dir("env", v2), "rb").read(3) == b"V2 " and
          not os.path.exists(inst.queue_dir("msg", v2)), "a V2 entry")

    q = inst.zest("queue").stdout
    for tok, qid in ids.items():
        check(re.search(r"^%s %d \S+ <bob@localhost>$" % (re.escape(qid),
                        len(msgs[tok])), q, re.M), "zest queue, V1: %s" % q)
    check(re.search(r"^%s %d \S+ <bob@localhost>$" % (re.escape(v2),
                    len(m2)), q, re.M), "zest queue, V2: %s" % q)

    inst.spawner_start()
    inst.wait_queue_empty(60)
    deadline = time.time() + 20
    while time.time() < deadline and not with_token(inst, "bob", "v1unknown"):
        time.sleep(0.05)
    # the janitor removes the rest while queued runs
    deadline = time.time() + 20
    for sub in ("env", "msg", "state", "exp", "done", "tmp"):
        d = inst.queue_dir(sub)
        while os.path.isdir(d) and os.listdir(d) and time.time() < deadline:
            time.sleep(0.05)
        check(not os.path.isdir(d) or not os.listdir(d),
              "queue/%s not empty: %s" % (sub, os.listdir(d)))
    inst.spawner_stop()

    for tok, users in (("v1plain", ("alice", "bob")),
                       ("v1alias", ("alice", "carol")), ("v2", ("carol",))):
        for u in users:
            got = with_token(inst, u, tok)
            check(len(got) == 1, "%s to %s: %d copies" % (tok, u, len(got)))
            m = msgs.get(tok, m2).replace(b"\r\n", b"\n")  # Maildir: LF
            check(got[0].endswith(b"Delivered-To: %s@localhost\n" %
                                  u.encode() + m), "%s to %s differs:\n%r" %
                  (tok, u, got[0][-300:]))
    dsn = [m for m in inst.maildir_msgs("bob")
           if b"report-type=delivery-status" in m]
    check(len(dsn) == 1 and b"nobody-here@localhost" in dsn[0] and
          b"line one of v1unknown" in dsn[0], "DSN of the V1 message: %r" %
          [d[-500:] for d in dsn])
    check(os.path.isdir(inst.queue_dir("exp")), "the alias went to exp/")
    print("ok: V1 entries delivered (plain, alias, DSN) beside a V2 one")
finally:
    inst.cleanup()
