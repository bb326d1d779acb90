"""Faults (issue 8, point 3; SPEC 4, STYLE 11 "can a temporary failure
turn into a 5xx?"):

- disk full: the Maildirs (or the queue) on a small tmpfs; popgate
  answers 452 4.3.1 at the end of DATA, loses and truncates nothing,
  keeps answering, and delivers again once there is space;
- file descriptors exhausted (a low RLIMIT_NOFILE): new clients get 421
  (SMTP) or -ERR [SYS/TEMP] (POP3), sessions already open still finish a
  transaction, and new clients are served again once some close;
- the SQLite store locked: by another writer (WAL: the daemon, a reader,
  goes on; CLI writers are refused as busy, exit 2), and so that even
  readers cannot get in (451 4.3.0 at RCPT, -ERR [SYS/TEMP] at login,
  never a 5xx or -ERR [AUTH]); the relay table locked by another writer
  never turns into a 5xx either.

The tmpfs tests need root (mount); they skip otherwise.
"""
import fcntl
import os
import socket
import sqlite3
import threading
import time

import pytest

import harness
import pop3_helpers
from hardening_helpers import (MAILBOXES, PASSWORD, QUEUED_RE, Session,
                               dot_stuff, first_line,
                               fs_free, hardening_instance, make_message,
                               maildir_files, pop3_login, queue_check,
                               scan_maildirs, setup_accounts, tmpfs)

DISK_FULL = "452 4.3.1 Insufficient system storage"


def maildir_tmp_files(inst, addresses=MAILBOXES):
    return [f"{a}/tmp/{n}" for a in addresses
            for _, n, _ in maildir_files(inst, a, subs=("tmp",))]


# ---- disk full ----

def fill_until_full(inst, rcpts_of, size, limit=400, qids=None):
    """Sends messages of SIZE octets (recipients RCPTS_OF(i)) until one
    is answered 452 4.3.1; returns (acked {mid: rcpts}, refused {mid:
    rcpts}, the 452 reply); QIDS (a dict) gets {mid: queue id}. Any
    other reply fails the test."""
    acked, refused = {}, {}
    with Session(inst.ports["smtp"]) as s:
        s.ehlo()
        for i in range(limit):
            mid = f"fill-{i:04d}"
            rcpts = rcpts_of(i)
            r = s.transaction("sender@example.net", rcpts,
                              make_message(mid, rcpt=rcpts[0], size=size))
            if QUEUED_RE.match(r):
                acked[mid] = rcpts
                if qids is not None:
                    qids[mid] = r.rsplit(" ", 1)[1]
                continue
            assert r.startswith("452 4.3.1"), f"message {i}: {r!r}"
            refused[mid] = rcpts
            # The session goes on after the refusal.
            assert s.cmd("NOOP").startswith("250"), "no NOOP after 452"
            s.quit()
            return acked, refused, r
    pytest.fail(f"the disk never filled after {limit} messages")


def test_disk_full_maildirs(make_instance):
    """mail_dir on a 2 MiB tmpfs: a filler takes most of it; messages to
    one or two mailboxes (the second a hard link) until 452 4.3.1."""
    inst = hardening_instance(make_instance, start=False, accounts=False)
    with tmpfs(inst.mail_dir, size="2m"):
        setup_accounts(inst)
        filler = os.path.join(inst.mail_dir, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, fs_free(inst.mail_dir) - 600 * 1024))
        inst.start()
        try:
            acked, refused, reply = fill_until_full(
                inst, lambda i: (["ann@acme.test", "bob@acme.test"]
                                 if i % 3 == 2 else ["ann@acme.test"]),
                size=40_000)
            assert reply == DISK_FULL, reply
            assert acked, "not one message fitted"
            print(f"\nMaildirs full after {len(acked)} messages")
            assert "disk full" in inst.log(inst.log_offset)

            def check_nothing_lost(acked, refused):
                found, problems = scan_maildirs(inst)
                assert not problems, "\n".join(problems)
                for mid, rcpts in acked.items():
                    for a in rcpts:
                        assert len(found[a].get(mid, [])) == 1, (mid, a)
                for mid, rcpts in refused.items():
                    # A refused message is nowhere, not even one copy.
                    for a in MAILBOXES:
                        assert mid not in found[a], (mid, a, found[a][mid])
                assert not maildir_tmp_files(inst), \
                    f"left in tmp/: {maildir_tmp_files(inst)}"
            check_nothing_lost(acked, refused)

            # Full, but still answering: another refusal, and POP3 reads.
            with Session(inst.ports["smtp"]) as s:
                s.ehlo()
                r = s.transaction("sender@example.net", ["bob@acme.test"],
                                  make_message("full-again", size=40_000))
                assert r == DISK_FULL, r
                s.quit()
            r = pop3_login(inst.ports["pop3"], "ann@acme.test")
            assert r.startswith("+OK"), r

            # Space again: delivery resumes.
            os.unlink(filler)
            with Session(inst.ports["smtp"]) as s:
                s.ehlo()
                for i in range(3):
                    mid = f"after-{i}"
                    r = s.transaction("sender@example.net",
                                      ["ann@acme.test", "bob@acme.test"],
                                      make_message(mid, size=40_000))
                    assert QUEUED_RE.match(r), r
                    acked[mid] = ["ann@acme.test", "bob@acme.test"]
                s.quit()
            refused["full-again"] = ["bob@acme.test"]
            check_nothing_lost(acked, refused)
            inst.stop()
        finally:
            inst.kill()


def test_disk_full_queue(make_instance):
    """The queue on a 1 MiB tmpfs: forwarded mail (an alias to the
    outside; nothing delivers it, DNS fails) until 452 4.3.1; every
    acknowledged queue file parses, none is lost, none is partial."""
    inst = hardening_instance(make_instance, start=False)
    qdir = os.path.join(inst.data_dir, "queue")
    os.makedirs(qdir, mode=0o700)
    with tmpfs(qdir, size="1m", mode=0o700):
        inst.start()
        try:
            qids = {}
            acked, refused, reply = fill_until_full(
                inst, lambda i: ["fwd@acme.test"], size=60_000, qids=qids)
            assert reply == DISK_FULL, reply
            print(f"\nqueue full after {len(acked)} messages")
            rows = queue_check(inst)
            queued = {r["id"] for r in rows}
            # Every acknowledged message is queued (and parses: no
            # "damaged" row), nothing else is.
            assert queued == set(qids.values()), (queued, qids)
            assert all(r["recipient"] == "out@example.org" for r in rows)
            # Nothing half-written left in queue/msg.
            for name in os.listdir(os.path.join(qdir, "msg")):
                assert name in queued, f"stray queue file {name}"
            # Room again (a queued message deleted): accepted again.
            victim = sorted(queued)[0]
            inst.cli("queue", "delete", victim, check=True)
            with Session(inst.ports["smtp"]) as s:
                s.ehlo()
                r = s.transaction("sender@example.net", ["fwd@acme.test"],
                                  make_message("after", size=10_000))
                assert QUEUED_RE.match(r), r
                s.quit()
            assert len({r["id"] for r in queue_check(inst)}) == len(acked)
            inst.stop()
        finally:
            inst.kill()


# ---- file descriptors ----

# Descriptors above what the daemon uses when idle (~155 with its 34
# worker threads' store and relay handles): room for a few dozen
# sessions, and for a daemon that keeps a reserve for its own files.
HEADROOM = 100


def greeting_of(sock, timeout=10):
    return first_line(sock, timeout)


def test_descriptors_exhausted(make_instance, monkeypatch, tmp_path):
    inst = hardening_instance(make_instance,
                              config={"max_connections_per_ip": "100000",
                                      "max_connections": "100000"})
    idle = inst.fd_count()
    inst.stop()
    limit = idle + HEADROOM
    # The harness runs harness.BIN: a wrapper that lowers both limits
    # (popgate raises its soft limit to the hard one).
    wrapper = tmp_path / "popgate-lowfd"
    wrapper.write_text(f"#!/bin/sh\nulimit -n {limit} || exit 99\n"
                       f"exec {harness.BIN} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(harness, "BIN", str(wrapper))
    inst.start()
    problems = []
    with open(f"/proc/{inst.pid}/limits") as f:
        nofile = [l for l in f if l.startswith("Max open files")][0].split()
    assert nofile[3] == nofile[4] == str(limit), nofile
    start_fds = inst.fd_count()

    # Sessions in progress before the flood: two SMTP, one POP3 with a
    # message to read.
    with Session(inst.ports["smtp"]) as s:
        s.ehlo()
        r = s.transaction("sender@example.net", ["bob@acme.test"],
                          make_message("fd-for-pop3"))
        assert QUEUED_RE.match(r), f"{r!r}\n{inst.log()[-4000:]}"
        s.quit()
    pop = pop3_helpers.Client(inst.ports["pop3"], source="127.0.0.5")
    pop.login("bob@acme.test", PASSWORD)
    old = Session(inst.ports["smtp"])
    old.ehlo()
    assert old.cmd("MAIL FROM:<sender@example.net>").startswith("250")
    assert old.cmd("RCPT TO:<ann@acme.test>").startswith("250")
    old2 = Session(inst.ports["smtp"])
    old2.ehlo()

    flood, refused = [], None
    try:
        for i in range(HEADROOM * 3):
            s = socket.create_connection(
                ("127.0.0.1", inst.ports["smtp"]), timeout=10,
                source_address=(f"127.0.1.{1 + i % 200}", 0))
            g = greeting_of(s)
            if g.startswith("220 "):
                flood.append(s)
                continue
            refused = g
            s.close()
            break
        in_use = inst.fd_count()
        print(f"\ndescriptors: {start_fds} at start, limit {limit}, "
              f"{len(flood)} + 2 sessions open when refused, {in_use} in use")
        assert refused is not None, \
            f"{len(flood)} connections and no refusal ({in_use} fds)"
        assert refused.startswith("421 4."), refused
        assert "conn refused" in inst.log(inst.log_offset)
        # POP3 is refused the same way.
        p = socket.create_connection(("127.0.0.1", inst.ports["pop3"]),
                                     timeout=10)
        g = greeting_of(p)
        p.close()
        if not g.startswith("-ERR [SYS/TEMP]"):
            problems.append(f"POP3 at the descriptor limit: {g!r}")

        # Sessions already open finish their transactions.
        old.send(b"DATA\r\n")
        r = old.reply()
        if not r.startswith("354"):
            problems.append(f"open session, DATA at the limit: {r!r}")
        else:
            old.send(dot_stuff(make_message("fd-old-1")) + b".\r\n")
            r = old.reply()
            if not QUEUED_RE.match(r):
                problems.append(f"open session, end of DATA at the "
                                f"limit: {r!r}")
        r = old2.transaction("sender@example.net",
                             ["ann@acme.test", "bob@acme.test"],
                             make_message("fd-old-2"))
        if not QUEUED_RE.match(r):
            problems.append(f"second open session, a whole transaction "
                            f"at the limit: {r!r}")
        assert old.cmd("NOOP").startswith("250")
        r = pop.cmd("RETR 1")
        if r.startswith("+OK"):
            body = b"".join(pop3_helpers.unstuff(l) for l in pop.multi_raw())
            if b"X-Test-Id: fd-for-pop3" not in body:
                problems.append("POP3 RETR at the limit: not the message")
        else:
            problems.append(f"open POP3 session, RETR at the limit: {r!r}")
        r = pop.cmd("DELE 1")
        if not r.startswith("+OK"):
            problems.append(f"open POP3 session, DELE at the limit: {r!r}")
        r = pop.cmd("QUIT")
        if not r.startswith("+OK"):
            problems.append(f"open POP3 session, QUIT at the limit: {r!r}")

        # Some leave: new clients are served again.
        for s in flood[:10]:
            s.close()
        del flood[:10]
        inst.wait_fds(in_use - 10, timeout=10)
        with Session(inst.ports["smtp"]) as s:
            assert s.greeting.startswith("220 "), s.greeting
            s.ehlo()
            r = s.transaction("sender@example.net", ["ann@acme.test"],
                              make_message("fd-new"))
            assert QUEUED_RE.match(r), f"after some closed: {r!r}"
            s.quit()
        r = pop3_login(inst.ports["pop3"], "ann@acme.test")
        assert r.startswith("+OK"), \
            f"POP3 after some closed: {r!r}\n{inst.log()[-3000:]}"
    finally:
        for s in flood:
            s.close()
        old.close()
        old2.close()
        pop.close()
    found, bad = scan_maildirs(inst)
    assert not bad, bad
    assert "fd-new" in found["ann@acme.test"]
    assert not problems, "at the descriptor limit:\n" + "\n".join(problems)
    for mid in ("fd-old-1", "fd-old-2"):
        assert mid in found["ann@acme.test"], mid
    inst.stop()


# ---- a locked store ----

HOLD = 3.0          # seconds: longer than the busy timeout (2 s)


class Writer:
    """Another process's writer: an exclusive write transaction on
    DB_PATH, held until release()."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self.db.execute("BEGIN EXCLUSIVE")
        self.db.execute("CREATE TABLE IF NOT EXISTS hardening_lock (x)")
        self.db.execute("INSERT INTO hardening_lock VALUES (1)")

    def release(self):
        self.db.execute("ROLLBACK")
        self.db.close()


def in_thread(fn):
    """Runs FN in a thread; returns a function that joins it and returns
    (result, seconds) or raises its exception."""
    out = {}

    def run():
        t = time.monotonic()
        try:
            out["r"] = fn()
        except BaseException as e:      # re-raised by the joiner
            out["e"] = e
        out["t"] = time.monotonic() - t
    th = threading.Thread(target=run, daemon=True)
    th.start()

    def join(timeout=60):
        th.join(timeout)
        assert not th.is_alive(), "no answer within 60 s"
        if "e" in out:
            raise out["e"]
        return out["r"], out["t"]
    return join


def rcpt_reply(inst, rcpt="ann@acme.test", source=None):
    with Session(inst.ports["smtp"], source=source, timeout=60) as s:
        s.ehlo()
        assert s.cmd("MAIL FROM:<sender@example.net>").startswith("250")
        r = s.cmd(f"RCPT TO:<{rcpt}>")
        s.quit()
        return r


def test_store_locked_by_another_writer(make_instance):
    """WAL: a writer holding store.db does not stop the daemon, which
    only reads it; the CLI's own writes wait the busy timeout and are
    refused as a system failure (exit 2), changing nothing."""
    inst = hardening_instance(make_instance)
    w = Writer(os.path.join(inst.data_dir, "store.db"))
    try:
        rcpt = in_thread(lambda: rcpt_reply(inst))
        login = in_thread(lambda: pop3_login(inst.ports["pop3"],
                                             "ann@acme.test", timeout=60))
        cli = in_thread(lambda: inst.cli("mailbox", "add", "new@acme.test",
                                         input="pw\n"))
        time.sleep(HOLD)
        r, _ = rcpt()
        assert not r.startswith("5"), f"RCPT with store.db locked: {r!r}"
        assert r.startswith("250 2.1.5") or r.startswith("451 4.3.0"), r
        r, _ = login()
        assert r.startswith("+OK") or r.startswith("-ERR [SYS/TEMP]"), r
        p, t = cli()
        assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
        assert "busy" in p.stderr, p.stderr
    finally:
        w.release()
    assert inst.cli("mailbox", "show", "new@acme.test").returncode == 1
    assert rcpt_reply(inst).startswith("250 2.1.5")
    assert pop3_login(inst.ports["pop3"], "ann@acme.test").startswith("+OK")
    inst.cli("mailbox", "add", "new@acme.test", input="pw\n", check=True)
    assert rcpt_reply(inst, "new@acme.test").startswith("250 2.1.5")


def lock_shm(path):
    """Takes every WAL lock of the SQLite file PATH (its -shm bytes
    120-127: write, checkpoint, recover, read marks) as a stuck process
    would: no reader can start a transaction. Returns the descriptor;
    close it to release."""
    fd = os.open(path + "-shm", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)
    except OSError:
        os.close(fd)
        raise
    return fd


def test_store_unreadable_is_a_temporary_failure(make_instance):
    """store.db locked so that not even readers get in: RCPT to a hosted
    mailbox is 451 4.3.0 and a POP3 login -ERR [SYS/TEMP] (SQLite gives
    up after its own retries, ~10 s), never 550 5.1.1 "no such user" or
    -ERR [AUTH]; afterwards both work again."""
    inst = hardening_instance(make_instance)
    # Every worker's handle has read the store once (WAL index mapped).
    assert rcpt_reply(inst).startswith("250 2.1.5")
    fd = lock_shm(os.path.join(inst.data_dir, "store.db"))
    try:
        rcpt = in_thread(lambda: rcpt_reply(inst))
        login = in_thread(lambda: pop3_login(inst.ports["pop3"],
                                             "bob@acme.test", timeout=60))
        r, t_rcpt = rcpt()
        l, t_login = login()
    finally:
        os.close(fd)
    print(f"\nstore unreadable: RCPT {r!r} after {t_rcpt:.1f}s, "
          f"login {l!r} after {t_login:.1f}s")
    assert r.startswith("451 4.3.0"), f"RCPT: {r!r}"
    assert l.startswith("-ERR [SYS/TEMP]"), f"POP3 login: {l!r}"
    r = rcpt_reply(inst)
    assert r.startswith("250 2.1.5"), f"{r!r}\n{inst.log()[-3000:]}"
    assert pop3_login(inst.ports["pop3"], "bob@acme.test").startswith("+OK")
    with Session(inst.ports["smtp"]) as s:
        s.ehlo()
        r = s.transaction("sender@example.net", ["ann@acme.test"],
                          make_message("after-unlock"))
        assert QUEUED_RE.match(r), r
        s.quit()


def test_relay_table_locked_by_another_writer(make_instance):
    """relay.db held by another writer longer than the busy timeout: a
    POP3 login still reads mail (its relay window may not open), a relay
    transaction of an IP authorized before is answered 250 or 451, never
    5xx (451 4.7.1 at RCPT when its hold on the hourly caps cannot be
    written: the caps are never passed unchecked); afterwards logins
    open the relay again."""
    inst = hardening_instance(make_instance)
    assert pop3_login(inst.ports["pop3"], "ann@acme.test",
                      source="127.0.0.3").startswith("+OK")
    w = Writer(os.path.join(inst.data_dir, "relay.db"))
    try:
        login = in_thread(lambda: pop3_login(inst.ports["pop3"],
                                             "ann@acme.test",
                                             source="127.0.0.4",
                                             timeout=60))

        def relay():
            with Session(inst.ports["smtp"], source="127.0.0.3",
                         timeout=60) as s:
                s.ehlo()
                r = s.transaction("ann@acme.test", ["x@example.org"],
                                  make_message("locked-relay",
                                               "ann@acme.test",
                                               "x@example.org"))
                s.quit()
                return r
        rel = in_thread(relay)
        time.sleep(HOLD)
        r, _ = login()
        assert r.startswith("+OK") or r.startswith("-ERR [SYS/TEMP]"), r
        r, _ = rel()
        assert QUEUED_RE.match(r) or r.startswith("451 4.3.0") or \
            r.startswith("451 4.7.1"), f"relay with relay.db locked: {r!r}"
    finally:
        w.release()
    assert pop3_login(inst.ports["pop3"], "ann@acme.test",
                      source="127.0.0.4").startswith("+OK")
    with Session(inst.ports["smtp"], source="127.0.0.4") as s:
        s.ehlo()
        r = s.transaction("ann@acme.test", ["x@example.org"],
                          make_message("after-relay-lock", "ann@acme.test",
                                       "x@example.org"))
        assert QUEUED_RE.match(r), r
        s.quit()
