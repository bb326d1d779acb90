"""`popgate serve` (SPEC 2, 7): starts on loopback ports, stops cleanly on
SIGTERM and SIGINT, refuses a bad config before it binds anything, drops
root before it reads from the network, and sees CLI changes at once.

Until the protocols land the listeners' greeting is a placeholder: only
TCP accepts are asserted here, never the text."""
import os
import signal
import socket
import sqlite3
import struct
import time

import pytest

import harness

root_only = pytest.mark.skipif(not harness.IS_ROOT, reason="needs root")


def closed(inst):
    """True when no port of INST accepts connections any more."""
    return not any(harness.port_accepts(p) for p in inst.ports.values())


def test_serves_every_listener_and_stops_on_sigterm(server):
    assert server.probe_ports() == set(server.ports.values())
    server.stop(signal.SIGTERM)
    assert closed(server)
    assert all(harness.port_is_free(p) for p in server.ports.values())


def test_stops_on_sigint(server):
    server.stop(signal.SIGINT)
    assert closed(server)


def test_restart(server):
    server.stop()
    server.start()
    assert server.probe_ports() == set(server.ports.values())
    server.stop()


def test_sigterm_right_after_the_ports_open(instance):
    # A supervisor may stop the daemon as soon as its ports accept. BUG:
    # the ports are bound before the SIGTERM/SIGINT handlers are set up
    # (after the privilege drop and the store migration), so an early
    # SIGTERM kills it by the default action (exit status -15, no clean
    # shutdown). To hit that window every time, the test holds the
    # store's write lock while it signals: the daemon waits for the store
    # (busy timeout, 2 s) with its ports already open.
    instance.cli("customer", "list", check=True)        # create the store
    db = sqlite3.connect(os.path.join(instance.data_dir, "store.db"),
                         isolation_level=None, timeout=5)
    try:
        db.execute("BEGIN IMMEDIATE")
        instance.spawn()
        deadline = time.monotonic() + harness.START_TIMEOUT
        while instance.listening_ports() != set(instance.ports.values()):
            assert instance.proc.poll() is None, instance.log()
            assert time.monotonic() < deadline, instance.log()
            time.sleep(0.01)
        instance.send_signal(signal.SIGTERM)
        time.sleep(0.1)
    finally:
        db.execute("ROLLBACK")
        db.close()
    rc = instance.wait()
    assert rc == 0, f"exit status {rc}\n{instance.log()}"
    instance.check_log()


@root_only
def test_runs_as_the_unprivileged_user(server):
    uid, gid = harness.daemon_ids()
    st = server.proc_status()
    uids = [int(x) for x in st["Uid"].split()]
    assert uids == [uid] * 4, f"real/effective/saved/fs uid: {st['Uid']}"
    assert [int(x) for x in st["Gid"].split()] == [gid] * 4, st["Gid"]
    assert 0 not in [int(x) for x in st["Groups"].split()], st["Groups"]
    assert server.probe_ports() == set(server.ports.values())


def test_config_error_exits_1_before_binding(instance):
    # A bad line after the listen lines, and one of the ports taken by
    # us: had serve bound anything first, it would fail with "Address
    # already in use" (exit 2) instead.
    instance.extra_lines.append("relay_window = soon")
    instance.write_config()
    n = len(open(instance.conf_path).read().splitlines())
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", instance.ports["pop3"]))
    blocker.listen()
    try:
        instance.spawn()
        rc = instance.wait()
    finally:
        blocker.close()
    log = instance.log()
    assert rc == 1, log
    assert f"{instance.conf_path}:{n}:" in log and "relay_window" in log
    assert "in use" not in log
    assert all(harness.port_is_free(p) for p in instance.ports.values())
    instance.check_log()


def test_port_in_use(server, make_instance):
    # A second daemon on the same ports fails clearly; the first goes on.
    other = make_instance(start=False)
    other.ports = dict(server.ports)
    other.write_config()
    other.spawn()
    rc = other.wait()
    assert rc != 0
    assert f"127.0.0.1:{server.ports['smtp']}" in other.log()
    assert "in use" in other.log()
    other.check_log()
    assert server.probe_ports() == set(server.ports.values())


def test_port_in_use_releases_the_other_ports(instance):
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", instance.ports["pop3s"]))
    blocker.listen()
    try:
        instance.spawn()
        rc = instance.wait()
    finally:
        blocker.close()
    assert rc == 2, instance.log()
    assert f"127.0.0.1:{instance.ports['pop3s']}" in instance.log()
    assert all(harness.port_is_free(p) for p in instance.ports.values())
    instance.check_log()


def test_missing_tls_certificate(make_instance):
    inst = make_instance(start=False,
                         config={"tls_cert": "/nonexistent/cert.pem"})
    inst.spawn()
    rc = inst.wait()
    assert rc == 2, inst.log()
    assert "/nonexistent/cert.pem" in inst.log()
    assert all(harness.port_is_free(p) for p in inst.ports.values())
    inst.check_log()


def test_unknown_option(instance):
    p = harness.run_popgate("serve", "--bogus", "-c", instance.conf_path)
    assert p.returncode == 1
    assert "unknown option '--bogus'" in p.stderr


def test_missing_config():
    p = harness.run_popgate("serve", "-c", "/nonexistent/popgate.conf",
                            timeout=10)
    assert p.returncode == 1
    assert "/nonexistent/popgate.conf" in p.stderr


@root_only
def test_refuses_root_without_user(make_instance):
    inst = make_instance(start=False, config={"user": None})
    inst.spawn()
    rc = inst.wait()
    assert rc == 1, inst.log()
    assert "user" in inst.log()
    assert all(harness.port_is_free(p) for p in inst.ports.values())


@root_only
def test_data_dir_the_user_cannot_use(instance):
    os.chown(instance.data_dir, 0, 0)
    os.chmod(instance.data_dir, 0o700)
    instance.chown_data = lambda: None      # keep it root's
    instance.spawn()
    rc = instance.wait()
    assert rc == 2, instance.log()
    assert instance.data_dir in instance.log()
    assert "popgate" in instance.log()
    instance.check_log()


def test_cli_works_against_the_running_instance(server):
    server.setup_mailbox("ann@acme.test", "s3cret")
    server.cli("alias", "add", "info@acme.test", "ann@acme.test",
               "x@example.org", check=True)
    server.cli("mailbox", "quota", "ann@acme.test", "10M", check=True)
    server.cli("customer", "suspend", "acme", check=True)
    server.cli("customer", "resume", "acme", check=True)
    assert server.running
    assert [m["address"] for m in server.cli_json("mailbox", "list")] == \
        ["ann@acme.test"]
    assert len(server.cli_json("alias", "list")) == 2
    assert server.probe_ports() == set(server.ports.values())
    server.stop()


def test_connections_dropped_at_once(server):
    # Clients that vanish at once, politely (FIN) or not (RST): the
    # daemon frees them (its descriptors are back to where they were),
    # carries on and shuts down cleanly.
    before = server.fd_count()
    for port in server.ports.values():
        for i in range(5):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            s.close()
    server.wait_fds(before)
    assert server.running
    assert server.probe_ports() == set(server.ports.values())
    server.stop()


@pytest.mark.parametrize("names", [
    ["smtp", "smtp2", "submission", "pop3", "smtp_gate"],
    ["submissions", "pop3s"]], ids=["plain", "implicit-tls"])
def test_idle_connections_at_stop(server, names):
    # Connections still open at SIGTERM must not keep the daemon from
    # exiting, nor leak: stop() fails on a LeakSanitizer report. BUG:
    # the connections waiting in the TLS handshake (submissions, pop3s)
    # are never freed (conn_hub_free does not free live connections).
    # (2 per port: under max_connections_per_ip = 20.)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5)
             for port in [server.ports[n] for n in names]
             for _ in range(2)]
    try:
        time.sleep(0.2)     # let the daemon accept them
        server.stop()
    finally:
        for s in socks:
            s.close()


# ---- one daemon per data directory (DATA_DIR/popgate.pid) ----

def pid_file(inst):
    return os.path.join(inst.data_dir, "popgate.pid")


def read_pid_file(inst):
    with open(pid_file(inst)) as f:
        return f.read()


def answers(inst):
    """True when INST's SMTP and POP3 listeners greet and its control
    socket answers the CLI (`queue flush` goes through it)."""
    with socket.create_connection(("127.0.0.1", inst.ports["smtp"]),
                                  timeout=10) as s:
        if not s.recv(512).startswith(b"220 "):
            return False
    with socket.create_connection(("127.0.0.1", inst.ports["pop3"]),
                                  timeout=10) as s:
        if not s.recv(512).startswith(b"+OK"):
            return False
    p = inst.cli("queue", "flush")
    return p.returncode == 0 and "to be tried now" in p.stdout


def same_data_dir(make_instance, server):
    """A second installation's config: its own ports, SERVER's data_dir
    (the case where nothing but the lock stops the second daemon)."""
    other = make_instance(start=False, config={
        "data_dir": server.data_dir,
        "mail_dir": server.mail_dir,
        "tls_cert": server.config["tls_cert"],
        "tls_key": server.config["tls_key"],
    })
    return other


@pytest.mark.parametrize("ports", ["same", "other"])
def test_second_daemon_on_the_data_dir_refused(server, make_instance, ports):
    assert answers(server)
    control = os.path.join(server.data_dir, "control")
    assert os.path.exists(control)
    assert read_pid_file(server) == f"{server.pid}\n"
    if ports == "same":
        conf = server.conf_path
        other_ports = []
    else:
        other = same_data_dir(make_instance, server)
        conf = other.conf_path
        other_ports = list(other.ports.values())
    before = {n: os.stat(os.path.join(server.data_dir, n)).st_ino
              for n in ("control", "popgate.pid")}
    p = harness.run_popgate("serve", "-c", conf, timeout=30)
    assert p.returncode == 1, p.stderr
    assert (f"data directory {server.data_dir} is in use by popgate pid "
            f"{server.pid} (lock {server.data_dir}/popgate.pid)") \
        in p.stderr, p.stderr
    # It stopped before binding anything or making its own socket.
    assert "in use" not in p.stderr.replace("is in use by popgate", "")
    assert "daemon started" not in p.stderr
    assert all(harness.port_is_free(port) for port in other_ports)
    # The first daemon's files are the same files, and it works on.
    assert {n: os.stat(os.path.join(server.data_dir, n)).st_ino
            for n in ("control", "popgate.pid")} == before
    assert read_pid_file(server) == f"{server.pid}\n"
    assert server.running
    assert answers(server)
    assert server.probe_ports() == set(server.ports.values())
    server.stop()
    # A clean stop empties the pid file; the lock is free again.
    assert read_pid_file(server) == ""
    assert not os.path.exists(control)


def test_lock_survives_privilege_drop_and_is_cloexec(server):
    # The daemon holds the lock file open (so the lock stays after the
    # drop to `user`), close-on-exec, and flock(2) shows it in
    # /proc/locks against that file.
    path = pid_file(server)
    fds = [fd for fd in os.listdir(f"/proc/{server.pid}/fd")
           if os.readlink(f"/proc/{server.pid}/fd/{fd}") == path]
    assert len(fds) == 1, fds
    with open(f"/proc/{server.pid}/fdinfo/{fds[0]}") as f:
        info = dict(line.split(":", 1) for line in f if ":" in line)
    flags = int(info["flags"].strip(), 8)
    assert flags & os.O_CLOEXEC, oct(flags)
    assert flags & os.O_ACCMODE == os.O_RDWR, oct(flags)
    ino = os.stat(path).st_ino
    with open("/proc/locks") as f:
        locks = [line.split() for line in f]
    assert any(l[1] == "FLOCK" and l[3] == "WRITE" and
               l[5].endswith(f":{ino}") for l in locks), locks
    st = os.stat(path)
    assert st.st_mode & 0o007 == 0, oct(st.st_mode)
    if harness.IS_ROOT:
        assert (st.st_uid, st.st_gid) == harness.daemon_ids()


def test_stale_lock_file_after_kill_9(server):
    old = server.pid
    server.kill()
    # The file is left with the dead daemon's pid, and the control
    # socket too: neither may stop the next start.
    assert read_pid_file(server) == f"{old}\n"
    server.start()
    assert server.pid != old
    assert read_pid_file(server) == f"{server.pid}\n"
    assert answers(server)
    # And the new one holds the lock: a second start is refused.
    p = harness.run_popgate("serve", "-c", server.conf_path, timeout=30)
    assert p.returncode == 1, p.stderr
    assert f"in use by popgate pid {server.pid}" in p.stderr
    assert answers(server)
    server.stop()


def test_cli_works_while_the_daemon_holds_the_lock(server):
    # The commands that work on data_dir directly take no lock.
    server.setup_mailbox("ann@acme.test", "s3cret")
    assert [m["address"] for m in server.cli_json("mailbox", "list")] == \
        ["ann@acme.test"]
    assert server.cli_json("queue", "list") == []
    assert answers(server)
    server.stop()
