"""popgate backup DIR / popgate restore DIR (operations issue, point 6):
a backup of a live instance (accounts, an alias, a relay authorization
from a POP3 login, deferred mail in the queue) restored into a fresh
data directory serves the same accounts, keeps the authorization and
delivers the queued mail; what either command refuses, and a backup
taken while mail is being submitted and delivered holds only whole
messages."""
import os
import shutil
import stat
import tempfile
import threading

import pytest

from delivery_helpers import (FAST, PASSWORD, Smtp, closed_port,
                              dlv_instance, message, pop3_login,
                              queue_rows, relay_send, sinks,
                              transport_lines, wait_queue_empty, wait_rows)
from harness import IS_ROOT, daemon_ids, run_popgate

assert sinks  # the fixture

DEFER = "451 4.3.0 try again later"


@pytest.fixture
def backup_dir():
    """A path for a backup: in a fresh directory, not made yet."""
    base = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-backup-")
    yield os.path.join(base, "b")
    if os.environ.get("POPGATE_KEEP") != "1":
        shutil.rmtree(base, ignore_errors=True)


def manifest(path):
    """DIR/MANIFEST as {key: value} (comment lines left out)."""
    out = {}
    with open(os.path.join(path, "MANIFEST")) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out[k] = v
    return out


def queue_ids(data_dir):
    d = os.path.join(data_dir, "queue", "msg")
    try:
        return sorted(n for n in os.listdir(d) if not n.startswith("."))
    except FileNotFoundError:
        return []


def fresh(make_instance, routes=None):
    """An instance with nothing in its store, relay table or queue (the
    harness's data_dir: mail/ and tls/ only), not started."""
    return make_instance(config=dict(FAST),
                         extra_lines=transport_lines(routes),
                         start=False)


def assert_private(path):
    """Everything under PATH is 0600 (directories 0700)."""
    for root, dirs, files in os.walk(path):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
        for f in files:
            p = os.path.join(root, f)
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


@pytest.mark.parametrize("cmd", ["backup", "restore"])
def test_help_and_usage(cmd):
    env = {"POPGATE_CONFIG": "/nonexistent/popgate.conf"}
    p = run_popgate(cmd, "--help", env=env)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout.startswith(f"usage: popgate {cmd} DIR\n"), p.stdout
    p = run_popgate(cmd, env=env)
    assert p.returncode == 1 and "missing arguments" in p.stderr, p.stderr
    p = run_popgate(cmd, "a", "b", env=env)
    assert p.returncode == 1 and "too many arguments" in p.stderr, p.stderr
    assert f"  {cmd} " in run_popgate("--help").stdout


def test_backup_restore_live_instance(make_instance, sinks, backup_dir):
    sink = sinks()
    sink.rcpt_reply = lambda addr: DEFER
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"info@acme.test": ["ann@acme.test"]})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"],
                     message(subject="kept across restore"))
    # The POP3 login of relay_send opened the relay for 127.0.0.1.
    [auth] = inst.cli_json("relay", "list")
    assert auth["customer"] == "acme" and auth["address"] == "127.0.0.1"
    wait_rows(inst, lambda rows: any(r["id"] == qid and
                                     r["state"] == "deferred" and
                                     "451" in r["last_error"]
                                     for r in rows), what="deferred")

    dkim = inst.cli_json("domain", "dkim", "show", "acme.test")
    p = inst.cli("backup", backup_dir)
    assert p.returncode == 0, p.stderr
    assert "done" in p.stdout and p.stderr == "", (p.stdout, p.stderr)
    m = manifest(backup_dir)
    assert m["complete"] == "yes" and m["format"] == "1"
    assert m["popgate_version"] and m["created"] and m["hostname"]
    assert m["store_customers"] == "1"
    assert m["store_mailboxes"] == "2"
    assert m["store_alias_targets"] == "1"
    assert m["relay_authorizations"] == "1"
    assert m["queue_messages"] == "1"
    assert "mail_dir" in m["mail"]
    assert queue_ids(backup_dir) == [qid]
    assert not os.path.exists(os.path.join(backup_dir, "queue", "tmp"))
    assert_private(backup_dir)

    # A directory that is not empty is refused, and left as it was.
    before = sorted(os.listdir(backup_dir))
    p = inst.cli("backup", backup_dir)
    assert p.returncode == 1
    assert "is not empty" in p.stderr and backup_dir in p.stderr, p.stderr
    assert sorted(os.listdir(backup_dir)) == before
    inst.stop()

    new = fresh(make_instance, routes={"example.org": sink})
    # As after `popgate init` and a first start: an empty store with its
    # schema, an empty relay table.
    new.cli("customer", "list", check=True)
    new.cli("relay", "list", check=True)
    assert {"store.db", "relay.db"} <= set(os.listdir(new.data_dir))
    p = new.cli("restore", backup_dir)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "done" in p.stdout, p.stdout
    if IS_ROOT:
        uid, gid = daemon_ids()
        for name in ("store.db", "relay.db", "queue", "queue/msg",
                     f"queue/msg/{qid}", f"queue/state/{qid}"):
            st = os.lstat(os.path.join(new.data_dir, name))
            assert (st.st_uid, st.st_gid) == (uid, gid), name
    new.start()
    assert [c["name"] for c in new.cli_json("customer", "list")] == ["acme"]
    assert new.cli_json("alias", "show", "info@acme.test")
    # The DKIM keys too: the restored host signs as the old one did.
    assert new.cli_json("domain", "dkim", "show", "acme.test") == dkim
    # The authorization came with the backup, before any login here.
    [auth2] = new.cli_json("relay", "list")
    assert auth2 == auth
    pop3_login(new, "bob@acme.test", PASSWORD)
    # The queued mail is delivered once the destination takes it.
    sink.rcpt_reply = lambda addr: "250 2.1.5 Ok"
    new.cli("queue", "flush", check=True)
    assert sink.wait_for(1), new.log()
    assert b"Subject: kept across restore" in sink.messages[0].data
    assert sink.messages[0].data.count(b"DKIM-Signature: ") == 2
    assert sink.messages[0].rcpts == ["bob@example.org"]
    wait_queue_empty(new)


def test_held_message_stays_held(make_instance, backup_dir):
    """The hold is in the message's state file: a restored message is
    held as it was, with its reason."""
    inst = dlv_instance(make_instance, routes={"example.org": closed_port()})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    inst.cli("queue", "hold", qid, "looks like spam", check=True)
    inst.cli("backup", backup_dir, check=True)
    inst.stop()
    new = fresh(make_instance)
    new.cli("restore", backup_dir, check=True)
    rows = [r for r in queue_rows(new) if r["id"] == qid]
    assert rows and all(r["held"] == "looks like spam" for r in rows), rows


def test_restore_refusals(make_instance, backup_dir):
    inst = dlv_instance(make_instance, routes={"example.org": closed_port()})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    inst.cli("backup", backup_dir, check=True)

    # The running daemon's own data directory.
    p = inst.cli("restore", backup_dir)
    assert p.returncode == 1, p.stderr
    assert f"a popgate daemon (pid {inst.pid}) runs on {inst.data_dir}" \
        in p.stderr, p.stderr
    inst.stop()

    # A store that holds accounts.
    before = inst.store_dump()
    p = inst.cli("restore", backup_dir)
    assert p.returncode == 1 and p.stdout == "", p.stdout + p.stderr
    assert "already holds 1 customer(s)" in p.stderr, p.stderr
    assert inst.store_dump() == before

    # A queue that holds a message (the store there is empty).
    other = fresh(make_instance)
    os.makedirs(os.path.join(other.data_dir, "queue", "msg"))
    os.makedirs(os.path.join(other.data_dir, "queue", "state"))
    shutil.copy(os.path.join(backup_dir, "queue", "msg", qid),
                os.path.join(other.data_dir, "queue", "msg", qid))
    other.chown_data()
    p = other.cli("restore", backup_dir)
    assert p.returncode == 1, p.stderr
    assert "already holds 1 message(s)" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(other.data_dir, "store.db"))


def test_restore_refuses_bad_backups(make_instance, backup_dir):
    inst = dlv_instance(make_instance, routes={"example.org": closed_port()})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    inst.cli("backup", backup_dir, check=True)
    inst.stop()
    target = fresh(make_instance)

    def refused(text):
        p = target.cli("restore", backup_dir)
        assert p.returncode == 1, p.stdout + p.stderr
        assert text in p.stderr, p.stderr
        assert sorted(os.listdir(target.data_dir)) == ["mail", "tls"], \
            "a refused restore wrote into the data directory"

    man = os.path.join(backup_dir, "MANIFEST")
    os.rename(man, man + ".away")
    refused("not a popgate backup, or one that did not finish")
    os.rename(man + ".away", man)
    # One octet of the queued message changed: its checksum fails.
    path = os.path.join(backup_dir, "queue", "msg", qid)
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0x20
        f.seek(0)
        f.write(data)
    refused(f"queue/msg/{qid} does not read (checksum mismatch")
    os.unlink(path)
    refused("holds 0 queue message(s), its manifest says 1")
    p = target.cli("restore", "/nonexistent/backup")
    assert p.returncode == 1 and "cannot open the backup" in p.stderr


def submit_until(inst, stop, ids, errors):
    """Sends messages of about 100 KiB from 127.0.0.1 until STOP is set,
    alternately to the sink (delivered and removed at once) and to a
    refusing destination (deferred, stays); queue ids into IDS."""
    body = (b"x" * 998 + b"\r\n") * 100
    n = 0
    try:
        while not stop.is_set():
            with Smtp(inst.ports["smtp"]) as c:
                for _ in range(5):
                    rcpt = ("r%d@example.org" if n % 2 else
                            "r%d@example.net") % n
                    ids.append(c.mail("ann@acme.test", [rcpt],
                                      message(subject=f"m {n}", body=body,
                                              rcpt=rcpt)))
                    n += 1
    except Exception as e:      # reported by the test, not lost
        errors.append(e)


def add_customers_until(inst, stop, added, errors):
    """Adds customers (one transaction of the store each) until STOP."""
    n = 0
    while not stop.is_set():
        p = inst.cli("customer", "add", f"c{n}")
        if p.returncode != 0:
            errors.append(p.stderr)
            return
        added.append(f"c{n}")
        n += 1


def test_backup_during_submission_has_whole_messages(make_instance, sinks,
                                                      backup_dir):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink,
                                               "example.net": closed_port()})
    pop3_login(inst, "ann@acme.test")
    stop, ids, errors = threading.Event(), [], []
    added = []
    t = threading.Thread(target=submit_until, args=(inst, stop, ids, errors))
    t2 = threading.Thread(target=add_customers_until,
                          args=(inst, stop, added, errors))
    t.start()
    t2.start()
    backups = []
    try:
        wait_rows(inst, lambda rows: len(rows) >= 3, what="3 queued")
        for i in range(3):
            d = f"{backup_dir}{i}"
            p = inst.cli("backup", d)
            assert p.returncode == 0, p.stdout + p.stderr
            assert "warning" not in p.stderr, p.stderr
            backups.append(d)
    finally:
        stop.set()
        t.join(60)
        t2.join(60)
    assert not errors, errors
    inst.stop()
    for d in backups:
        m = manifest(d)
        got = queue_ids(d)
        assert m["queue_messages"] == str(len(got))
        assert m["queue_damaged_skipped"] == "0"
        assert got and set(got) <= set(ids), (got, ids)
        target = fresh(make_instance)
        # restore checks the store it wrote against the manifest's counts.
        target.cli("restore", d, check=True)
        names = {c["name"] for c in target.cli_json("customer", "list")}
        assert len(names) == int(m["store_customers"])
        assert names <= {"acme", *added}, names
        rows = queue_rows(target)
        assert {r["id"] for r in rows} == set(got)
        assert all(r["state"] != "damaged" for r in rows), rows
        for qid in got:
            p = target.cli("queue", "show", qid)
            assert p.returncode == 0 and qid in p.stdout, p.stderr
        target.cleanup()


def test_backup_failures_leave_nothing(make_instance, backup_dir):
    """Exit 1 for a store the configuration names but that is not there,
    2 for a data directory that cannot be opened; either way nothing of
    the backup is left (DIR too, when the backup made it)."""
    inst = fresh(make_instance)
    p = inst.cli("backup", backup_dir)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"no account store at {inst.data_dir}/store.db" in p.stderr
    assert not os.path.exists(backup_dir)
    os.mkdir(backup_dir)
    shutil.rmtree(inst.data_dir)
    p = inst.cli("backup", backup_dir)
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"data directory {inst.data_dir}: No such file" in p.stderr
    assert os.listdir(backup_dir) == []


def test_backup_failing_half_way_removes_what_it_wrote(make_instance,
                                                        backup_dir):
    """The store is copied, then the relay table cannot be read: exit 2,
    and the store's copy is gone again."""
    inst = dlv_instance(make_instance, start=False)
    with open(os.path.join(inst.data_dir, "relay.db"), "w") as f:
        f.write("this is no SQLite database\n")
    p = inst.cli("backup", backup_dir)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "store   1 customer(s)" in p.stdout, p.stdout
    assert f"cannot open {inst.data_dir}/relay.db" in p.stderr, p.stderr
    assert f"nothing of the backup is left in {backup_dir}" in p.stderr
    assert not os.path.exists(backup_dir)


def test_stopped_instance_and_non_sqlite_stores(make_instance, backup_dir):
    """A backup of an instance whose daemon is not running, as root,
    leaves nothing of root's in its data directory; a PostgreSQL store
    and a Redis relay table are notes in the manifest (no password), and
    restore into such a configuration says what it did not restore."""
    inst = dlv_instance(make_instance, start=False)
    inst.cli("relay", "allow", "127.0.0.7", "--customer", "acme",
             check=True)
    p = inst.cli("backup", backup_dir)
    assert p.returncode == 0, p.stderr
    m = manifest(backup_dir)
    assert (m["store_customers"], m["relay_authorizations"],
            m["queue_messages"]) == ("1", "1", "0")
    if IS_ROOT:
        uid, _ = daemon_ids()
        for root, dirs, files in os.walk(inst.data_dir):
            for name in dirs + files:
                st = os.lstat(os.path.join(root, name))
                assert st.st_uid == uid, os.path.join(root, name)

    remote = make_instance(config={
        "store": "postgresql://popgate:SECRET@127.0.0.1:9/popdb",
        "relay_store": "redis://:RSECRET@127.0.0.1:9/0"}, start=False)
    d2 = backup_dir + "-remote"
    p = remote.cli("backup", d2)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(os.path.join(d2, "MANIFEST")) as f:
        text = f.read()
    assert "SECRET" not in text and "SECRET" not in p.stdout, text
    m = manifest(d2)
    assert m["store"] == "postgresql://popgate:***@127.0.0.1:9/popdb"
    assert m["store_file"] == "none" and "pg_dump" in m["store_note"]
    assert "'popdb'" in m["store_note"]
    assert m["relay_file"] == "none" and "Redis" in m["relay_note"]
    assert sorted(os.listdir(d2)) == ["MANIFEST"]
    assert "pg_dump -Fc" in p.stdout and "dbname=popdb" in p.stdout

    p = remote.cli("restore", backup_dir)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "NOT RESTORED: the store is PostgreSQL" in p.stdout, p.stdout
    assert f"store copy --from sqlite:{backup_dir}/store.db" in p.stdout
    assert "NOT RESTORED: the relay table is Redis" in p.stdout, p.stdout
    assert not os.path.exists(os.path.join(remote.data_dir, "store.db"))


@pytest.mark.skipif(not IS_ROOT, reason="the check is root's")
def test_root_follows_no_link_in_data_dir(make_instance, backup_dir):
    """As root neither command reads or writes through a symbolic link
    the daemon's user put where a file of the data directory goes."""
    inst = dlv_instance(make_instance, start=False)
    inst.cli("backup", backup_dir, check=True)
    secret = os.path.join(inst.dir, "root-only.db")
    shutil.copy(os.path.join(inst.data_dir, "store.db"), secret)
    os.chmod(secret, 0o600)
    store = os.path.join(inst.data_dir, "store.db")
    os.unlink(store)
    os.symlink(secret, store)
    p = inst.cli("backup", backup_dir + "2")
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{store} is a symbolic link: not read through as root" \
        in p.stderr, p.stderr
    assert not os.path.exists(backup_dir + "2")

    target = fresh(make_instance)
    os.makedirs(os.path.join(target.data_dir, "elsewhere"))
    os.symlink(os.path.join(target.data_dir, "elsewhere"),
               os.path.join(target.data_dir, "queue"))
    p = target.cli("restore", backup_dir)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "queue is a symbolic link: not written through as root" \
        in p.stderr, p.stderr
    assert os.listdir(os.path.join(target.data_dir, "elsewhere")) == []
