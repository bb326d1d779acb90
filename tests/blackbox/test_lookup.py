"""popgate-lookup (README "Processes", SPEC 14): the account store and the
relay table are opened by a process of their own, which alone reads the
password hashes and checks logins; the daemon, which parses everything of
the network, asks it.

On a running instance: a child of the daemon named popgate-lookup holds
store.db and relay.db and the daemon holds no descriptor or mapping of
them; after POP3, IMAP and SMTP AUTH logins (good and bad), deliveries,
relay look-ups and API reads, no password hash is anywhere in the
daemon's memory while popgate-lookup's has it. A reload reaches
popgate-lookup (a new login_default_domain takes effect there). While
popgate-lookup is stopped a login is a temporary failure, never an
accepted one, and a recipient a 451, and the daemon kills it after the
wait so that what was queued to it never runs; killed, it is logged and
replaced, and sessions logged in before it go on."""
import concurrent.futures
import imaplib
import json
import os
import poplib
import re
import signal
import smtplib
import sqlite3
import time
import urllib.request

import pytest

from delivery_helpers import wait_log
from test_keys import children, memory_has, open_files

TIMEOUT = 10
PASSWORD = "s3cret-lookup"


@pytest.fixture(scope="module")
def inst(tls_files):
    import harness
    i = harness.Instance(
        listeners={"smtp": "smtp", "submission": "submission",
                   "pop3": "pop3", "imap": "imap", "http": "http"},
        tls=tls_files)
    i.setup_mailbox("ann@lookup.test", PASSWORD)
    i.setup_mailbox("bob@lookup.test", PASSWORD)
    i.start()
    yield i
    try:
        if i.running:
            i.stop()
    finally:
        i.cleanup()


def owner_pid(inst):
    """popgate-lookup's parent: popgate-priv when the daemon gave up root
    (the network process neither forks nor signals it), else the
    daemon."""
    priv = [p for p, c in children(inst.pid).items() if c == "popgate-priv"]
    return priv[0] if priv else inst.pid


def lookup_pid(inst, not_this=None, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    owner = owner_pid(inst)
    while True:
        found = [p for p, c in children(owner).items()
                 if c == "popgate-lookup" and p != not_this]
        if found:
            assert len(found) == 1, found
            if owner != inst.pid:
                assert "popgate-lookup" not in children(inst.pid).values()
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no popgate-lookup below {owner}: "
                        f"{children(owner)}")
        time.sleep(0.05)


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def hashes(inst):
    db = sqlite3.connect(os.path.join(inst.data_dir, "store.db"))
    try:
        return [r[0].encode() for r in
                db.execute("SELECT password FROM mailboxes")]
    finally:
        db.close()


def pop3_login(inst, user, password):
    c = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=TIMEOUT * 2)
    try:
        c.user(user)
        return c.pass_(password).decode()
    except poplib.error_proto as e:
        return e.args[0].decode()
    finally:
        try:
            c.quit()
        except (poplib.error_proto, OSError):
            pass


def store_files(files):
    return {f for f in files
            if os.path.basename(f).split("-")[0] in ("store.db", "relay.db")}


def test_only_lookup_holds_the_store(inst):
    pid = lookup_pid(inst)
    assert pop3_login(inst, "ann@lookup.test", PASSWORD).startswith("+OK")
    assert store_files(open_files(inst.pid)) == set()
    with open(f"/proc/{inst.pid}/maps") as f:
        maps = f.read()
    assert "store.db" not in maps and "relay.db" not in maps
    held = {os.path.basename(f) for f in store_files(open_files(pid))}
    assert "store.db" in held and "relay.db" in held, held
    with open(f"/proc/{pid}/status") as f:
        assert "NoNewPrivs:\t1" in f.read()


def test_no_hash_in_the_daemon(inst):
    # Every path that used to read a mailbox row: logins of every
    # protocol, good and bad, a delivery, the API's mailbox reads.
    assert pop3_login(inst, "ann@lookup.test", PASSWORD).startswith("+OK")
    assert pop3_login(inst, "bob@lookup.test", "wrong").startswith("-ERR")
    with imaplib.IMAP4("127.0.0.1", inst.ports["imap"],
                       timeout=TIMEOUT) as c:
        c.login("bob@lookup.test", PASSWORD)
        c.logout()
    with smtplib.SMTP("127.0.0.1", inst.ports["submission"],
                      timeout=TIMEOUT) as c:
        c.starttls()
        c.login("ann@lookup.test", PASSWORD)
        c.sendmail("ann@lookup.test", ["bob@lookup.test"],
                   b"Subject: hi\r\n\r\nbody\r\n")
    token = inst.cli("token", "add", "lookup-test", "--scope", "admin",
                     check=True)
    secret = token.stdout.strip().splitlines()[-1]
    req = urllib.request.Request(
        f"http://127.0.0.1:{inst.ports['http']}/api/v1/mailboxes",
        headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        body = json.load(r)
    assert "ann@lookup.test" in json.dumps(body)
    assert "$" not in json.dumps(body)
    want = hashes(inst)
    assert len(want) == 2 and all(len(h) > 20 for h in want)
    assert memory_has(inst.pid, want) == set()
    # The scan sees what is there: popgate-lookup read the rows.
    assert memory_has(lookup_pid(inst), want) != set()


def test_reload_reaches_lookup(inst):
    assert pop3_login(inst, "ann", PASSWORD).startswith("-ERR")
    with open(inst.conf_path) as f:
        conf = f.read()
    try:
        with open(inst.conf_path, "a") as f:
            f.write("login_default_domain = lookup.test\n")
        since = len(inst.log())
        inst.send_signal(signal.SIGHUP)
        wait_log(inst, "reload done", since=since)
        deadline = time.monotonic() + TIMEOUT
        while not pop3_login(inst, "ann", PASSWORD).startswith("+OK"):
            assert time.monotonic() < deadline, "the reload did not " \
                "reach popgate-lookup"
            time.sleep(0.1)
    finally:
        with open(inst.conf_path, "w") as f:
            f.write(conf)
        since = len(inst.log())
        inst.send_signal(signal.SIGHUP)
        wait_log(inst, "reload done", since=since)


def rcpt_reply(inst, rcpt):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                      timeout=TIMEOUT * 2) as c:
        c.ehlo("client.example")
        c.mail("someone@example.org")
        return c.rcpt(rcpt)


def test_stopped_lookup_is_a_temporary_failure(inst):
    pid = lookup_pid(inst)
    since = len(inst.log())
    os.kill(pid, signal.SIGSTOP)
    try:
        # A signal takes effect when the process next runs.
        deadline = time.monotonic() + TIMEOUT
        while proc_state(pid) != "T":
            assert time.monotonic() < deadline, proc_state(pid)
            time.sleep(0.01)
        # Both wait on it at once; neither is accepted.
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            login = ex.submit(pop3_login, inst, "ann@lookup.test", PASSWORD)
            rcpt = ex.submit(rcpt_reply, inst, "bob@lookup.test")
            reply, (code, msg) = login.result(), rcpt.result()
        assert reply.startswith("-ERR [SYS/TEMP]"), reply
        assert code == 451, (code, msg)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    # It was killed, so that the requests queued to it never run, and
    # another serves.
    wait_log(inst, f"popgate-lookup pid={pid} did not answer in time: "
             "killed", since=since)
    lookup_pid(inst, not_this=pid)
    deadline = time.monotonic() + TIMEOUT
    while not pop3_login(inst, "ann@lookup.test",
                         PASSWORD).startswith("+OK"):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_killed_lookup_is_replaced(inst):
    pid = lookup_pid(inst)
    imap = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=TIMEOUT)
    imap.login("ann@lookup.test", PASSWORD)
    since = len(inst.log())
    os.kill(pid, signal.SIGKILL)
    wait_log(inst, f"popgate-lookup pid={pid} killed by signal 9",
             since=since)
    new = lookup_pid(inst, not_this=pid)
    assert new != pid
    # The session of before goes on; new logins work.
    assert imap.select("INBOX")[0] == "OK"
    imap.logout()
    assert pop3_login(inst, "ann@lookup.test", PASSWORD).startswith("+OK")
    assert pop3_login(inst, "ann@lookup.test", "bad").startswith("-ERR")
    assert inst.running


def test_store_newer_than_popgate_stops_the_start(make_instance):
    """popgate-lookup migrates the store (the daemon opens none): a store
    of a newer schema makes it say so, and the daemon does not start."""
    inst = make_instance(start=False)
    inst.setup_mailbox("ann@lookup.test", PASSWORD)
    db = sqlite3.connect(os.path.join(inst.data_dir, "store.db"))
    with db:
        db.execute("UPDATE schema_version SET version = 9999")
    db.close()
    inst.spawn()
    rc = inst.proc.wait(timeout=60)
    log = inst.log()
    inst.proc = None
    assert rc != 0, log
    assert re.search(r"popgate-lookup: cannot start it: store: the store "
                     r"has schema version 9999, newer than this popgate "
                     r"knows \(\d+\): upgrade popgate", log), log
    assert "daemon started" not in log
