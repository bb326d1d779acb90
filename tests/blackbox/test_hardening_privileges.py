"""Privileges (issue 8, point 6; SPEC 2 "binds as root if it must, then
drops to an unprivileged user before it reads a byte from the network"):
started as root with `user = popgate`,

- no process or thread of the daemon keeps uid 0, gid 0, group 0 or any
  capability once it serves (every /proc/PID/task/*/status), even with a
  port below 1024 bound, but the privileged helper that reloads need
  (popgate(8)): one thread, and no descriptor but its sockets to the
  daemon and to popgate-keys and the TLS key files in use, read-only
  (no listener, no other file of the data directory);
- what the daemon and the CLI create belongs to that user, and nothing
  in the data directory is open to others (data_dir, store.db, relay.db
  and their -wal/-shm, queue/, mail/, tmp/, tls/ - the certificate
  aside); TLS keys are 0600; the control socket is 0600 (or in a 0700
  directory);
- the same for an installation made by `popgate init`.

The umask is set to 022 (a usual admin shell, systemd's default) for
these tests, so they do not depend on the caller's. Root only.
"""
import os
import shutil
import stat
import tempfile

import pytest

import harness
from hardening_helpers import (PASSWORD, QUEUED_RE, Session,
                               hardening_instance, make_message, pop3_login,
                               recording_sink, wait_until)

pytestmark = pytest.mark.skipif(not harness.IS_ROOT,
                                reason="privilege drop needs root")

OFFSETS = {"smtp": 25, "smtp2": 2525, "submission": 587,
           "submissions": 465, "pop3": 110, "pop3s": 995,
           "smtp_gate": 2526}


@pytest.fixture(autouse=True)
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def daemon_pids(pid):
    """PID and every process below it."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def privileged_helper(p):
    """True for the privileged helper, after checking that it holds
    nothing but its socket to the daemon."""
    try:
        with open(f"/proc/{p}/comm") as f:
            if f.read().strip() != "popgate-priv":
                return False
        fds = sorted(int(f) for f in os.listdir(f"/proc/{p}/fd"))
        tasks = os.listdir(f"/proc/{p}/task")
    except FileNotFoundError:
        return False
    assert fds[:4] == [0, 1, 2, 3], f"privileged helper {p}: descriptors {fds}"
    assert os.readlink(f"/proc/{p}/fd/3").startswith("socket:")
    with open("/proc/net/unix") as f:
        unix = {l.split()[6] for l in list(f)[1:] if len(l.split()) > 6}
    sockets = pidfds = 0
    for fd in fds[3:]:
        target = os.readlink(f"/proc/{p}/fd/{fd}")
        if target.startswith("socket:"):
            # The pairs to the daemon and to popgate-keys, no listener.
            assert target[len("socket:["):-1] in unix, \
                f"privileged helper {p}: fd {fd} {target}"
            sockets += 1
            continue
        if target == "anon_inode:[pidfd]":
            # popgate-lookup's, its child: to see it end.
            pidfds += 1
            continue
        # A TLS key of the configuration (for a restart of popgate-keys).
        with open(f"/proc/{p}/fdinfo/{fd}") as f:
            flags = int(f.read().split("flags:")[1].split()[0], 8)
        with open(target, "rb") as f:
            head = f.read(64)
        assert flags & 0o3 == os.O_RDONLY and b"PRIVATE KEY" in head, \
            f"privileged helper {p}: fd {fd} {target}"
    assert sockets == 2, f"privileged helper {p}: {sockets} sockets"
    assert pidfds <= 1, f"privileged helper {p}: {pidfds} pidfds"
    assert len(tasks) == 1, f"privileged helper {p}: threads {tasks}"
    return True


def check_credentials(pid):
    """Every thread of every process of the daemon: uid/gid (real,
    effective, saved, fs) the daemon user's, supplementary groups the
    user's own (no 0), no capabilities. Returns the number of threads
    checked."""
    uid, gid = harness.daemon_ids()
    groups = set(os.getgrouplist(harness.DAEMON_USER, gid))
    n = 0
    for p in daemon_pids(pid):
        if p != pid and privileged_helper(p):
            continue
        for t in os.listdir(f"/proc/{p}/task"):
            try:
                with open(f"/proc/{p}/task/{t}/status") as f:
                    st = dict(l.rstrip("\n").split(":\t", 1) for l in f
                              if ":\t" in l)
            except FileNotFoundError:
                continue        # the thread ended meanwhile
            where = f"pid {p} task {t} ({st.get('Name')})"
            assert st["Uid"].split() == [str(uid)] * 4, \
                f"{where}: Uid {st['Uid']}"
            assert st["Gid"].split() == [str(gid)] * 4, \
                f"{where}: Gid {st['Gid']}"
            sup = {int(g) for g in st["Groups"].split()}
            assert 0 not in sup and sup <= groups, \
                f"{where}: Groups {st['Groups']} (user's: {groups})"
            for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                assert int(st.get(cap, "0"), 16) == 0, \
                    f"{where}: {cap} {st[cap]}"
            n += 1
    return n


def low_free_port():
    """A free port below 1024 on 127.0.0.1."""
    for port in range(990, 600, -1):
        if harness.port_is_free(port):
            return port
    pytest.skip("no free port below 1024")


def exercise(inst, sink=None):
    """Some of everything: SMTP to a mailbox and to an alias forwarded to
    SINK (when given), a POP3 login that retrieves, a relay login."""
    with Session(inst.ports["smtp"]) as s:
        s.ehlo()
        rcpts = ["ann@acme.test"] + (["fwd@acme.test"] if sink else [])
        r = s.transaction("sender@example.net", rcpts,
                          make_message("privileges"))
        assert QUEUED_RE.match(r), r
        s.quit()
    assert pop3_login(inst.ports["pop3"], "ann@acme.test").startswith("+OK")
    if sink is not None:
        assert sink.wait_for(1), "the forwarded message never arrived"


def test_no_root_after_binding(make_instance):
    sink = recording_sink()
    try:
        inst = hardening_instance(make_instance, start=False,
                                  routes={"example.org": sink})
        assert inst.config["user"] == harness.DAEMON_USER
        # A privileged port: binding it needs root, serving it must not.
        inst.ports["smtp"] = low_free_port()
        inst.write_config()
        inst.start()
        assert inst.ports["smtp"] in inst.listening_ports()
        n_idle = check_credentials(inst.pid)
        exercise(inst, sink)
        # Threads started for the work (workers, delivery) as well.
        n_busy = check_credentials(inst.pid)
        assert n_busy >= n_idle > 1
        # A SIGTERM and a restart drop privileges the same way.
        inst.stop()
        inst.start()
        check_credentials(inst.pid)
    finally:
        sink.stop()


def check_private(data_dir, path_label=""):
    """Nothing below DATA_DIR is open to others (the certificate aside),
    everything belongs to the daemon user, keys are 0600, the control
    socket is 0600 or sits in a 0700 directory. Returns the paths that
    break a rule, with the reason."""
    uid, gid = harness.daemon_ids()
    bad = []
    for root, dirs, files in os.walk(data_dir):
        for path in [root] + [os.path.join(root, f) for f in files]:
            st = os.lstat(path)
            rel = os.path.relpath(path, data_dir)
            mode = stat.S_IMODE(st.st_mode)
            if st.st_uid != uid:
                bad.append(f"{rel}: owner uid {st.st_uid}, not {uid}")
            if rel == os.path.join("tls", "cert.pem"):
                continue
            if rel.endswith("key.pem") and mode & 0o077:
                bad.append(f"{rel}: key mode {mode:04o}, not 0600")
            elif stat.S_ISSOCK(st.st_mode):
                parent = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
                if mode & 0o077 and parent & 0o077:
                    bad.append(f"{rel}: socket mode {mode:04o} in a "
                               f"{parent:04o} directory")
            elif mode & 0o007:
                bad.append(f"{rel}: mode {mode:04o} (open to others)")
    return bad


def test_data_dir_private(make_instance):
    sink = recording_sink()
    try:
        inst = hardening_instance(make_instance,
                                  routes={"example.org": sink})
        exercise(inst, sink)
        # The CLI beside the running daemon: a new mailbox (its Maildir),
        # a relay grant (relay.db), a queue listing.
        inst.cli("mailbox", "add", "new@acme.test", input=PASSWORD + "\n",
                 check=True)
        inst.cli("relay", "allow", "192.0.2.1", "--customer", "acme",
                 check=True)
        inst.cli("queue", "list", check=True)
        names = set(os.listdir(inst.data_dir))
        for want in ("store.db", "relay.db", "queue", "mail", "control"):
            assert want in names, (want, names)
        bad = check_private(inst.data_dir)
        assert not bad, "data directory:\n" + "\n".join(bad)
    finally:
        sink.stop()


def test_parents_of_data_dir_need_no_permission(make_instance):
    """The daemon and the CLI open data_dir as root, before dropping to
    the user, and reach every file below that descriptor (queue, Maildirs,
    store.db, relay.db, the control socket): a parent the user cannot
    search stops neither."""
    sink = recording_sink()
    try:
        inst = hardening_instance(make_instance, start=False,
                                  routes={"example.org": sink})
        os.chown(inst.dir, 0, 0)
        os.chmod(inst.dir, 0o700)
        uid, _ = harness.daemon_ids()
        assert os.stat(inst.data_dir).st_uid == uid
        inst.start()
        check_credentials(inst.pid)
        exercise(inst, sink)
        inst.cli("mailbox", "add", "new@acme.test", input=PASSWORD + "\n",
                 check=True)
        inst.cli("relay", "allow", "192.0.2.1", "--customer", "acme",
                 check=True)
        inst.cli("queue", "list", check=True)
        p = inst.cli("queue", "flush", check=True)     # the control socket
        assert "to be tried now" in p.stdout, p.stdout
        assert os.path.isdir(os.path.join(inst.maildir("new@acme.test"),
                                          "new"))
        inst.stop()
        inst.start()
        assert inst.running
    finally:
        sink.stop()


def test_init_installation_private():
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-priv-")
    os.chmod(d, 0o755)
    inst = None
    try:
        base = harness.find_port_base(OFFSETS.values())
        p = harness.run_popgate("init", "--dev", "--port-base", base, d)
        assert p.returncode == 0, p.stderr
        data = os.path.join(d, "data")
        key = os.path.join(data, "tls", "key.pem")
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, \
            f"init: key mode {stat.S_IMODE(os.stat(key).st_mode):04o}"
        conf = os.path.join(d, "popgate.conf")
        assert not os.stat(conf).st_mode & 0o002
        bad = check_private(data)
        assert not bad, "after init:\n" + "\n".join(bad)

        inst = harness.Instance.adopt(
            d, {name: base + off for name, off in OFFSETS.items()})
        inst.start()
        check_credentials(inst.pid)
        with Session(inst.ports["smtp"]) as s:
            s.ehlo()
            r = s.transaction("sender@example.net", ["demo@demo.test"],
                              make_message("init-privileges"))
            assert QUEUED_RE.match(r), r
            s.quit()
        wait_until(lambda: os.listdir(os.path.join(
            data, "mail", "demo.test", "demo", "new")), timeout=10)
        bad = check_private(data)
        assert not bad, "init installation, served:\n" + "\n".join(bad)
        inst.stop()
    finally:
        if inst is not None:
            inst.kill()
        shutil.rmtree(d, ignore_errors=True)
