"""The seccomp allow-lists (README "Processes", SPEC 14; src/util/sandbox.c):
once started, the daemon and popgate-keys run with PR_SET_NO_NEW_PRIVS and
a seccomp filter on every thread; mail still works under it (SMTP
delivery into a Maildir, POP3 and IMAP logins, STARTTLS and implicit TLS,
a reload by SIGHUP, a SIGKILL of popgate-keys and its restart), all on
one shared daemon; a call off the list made inside the running daemon
(through gdb) kills it with SIGSYS; `sandbox = no` leaves the daemon
unfiltered and says so; a bad value is refused by name."""
import imaplib
import os
import poplib
import re
import resource
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess

import pytest

import harness
from delivery_helpers import wait_log
from smtp_helpers import messages, wait_for

TIMEOUT = 10
USER = "ann@acme.test"
PASSWORD = "s3cret"
# personality(0xffffffff) only reads the persona: harmless if the filter
# let it through, and never on a list.
PERSONALITY = 135


def status(pid):
    """/proc/PID/status as {field: value}."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f
                    if ":\t" in line)


def assert_confined(pid, what):
    st = status(pid)
    assert st["NoNewPrivs"] == "1", f"{what}: {st['NoNewPrivs']}"
    assert st["Seccomp"] == "2", f"{what}: Seccomp {st['Seccomp']}"
    assert int(st["Seccomp_filters"]) >= 1, f"{what}: {st}"


def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def keys_pid(inst, not_this=None):
    """The popgate-keys of the daemon's popgate-priv (another than
    NOT_THIS)."""
    def find():
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == not_this:
                continue
            try:
                with open(f"/proc/{p}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if comm == "popgate-keys" and parent(ppid) == inst.pid:
                return int(p)
        return None
    return wait_for(find, timeout=TIMEOUT, what="popgate-keys")


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def deliver(inst, subject):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                      timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        c.sendmail("bob@example.org", [USER],
                   f"Subject: {subject}\r\n\r\nHello.\r\n".encode())
    wait_for(lambda: any(f"Subject: {subject}".encode() in data
                         for _, data in messages(inst, USER)),
             timeout=TIMEOUT, what=f"{subject} in the Maildir")


@pytest.fixture(scope="module")
def daemon(tls_files):
    inst = harness.Instance(tls=tls_files)
    try:
        inst.setup_mailbox(USER, PASSWORD)
        inst.start()
        yield inst
        if inst.running:
            inst.stop()
    finally:
        inst.cleanup()


def test_daemon_is_confined_on_every_thread(daemon):
    assert "sandbox=seccomp" in daemon.log(daemon.log_offset)
    threads = os.listdir(f"/proc/{daemon.pid}/task")
    assert len(threads) > 1, "no worker threads to check"
    for tid in threads:
        assert_confined(f"{daemon.pid}/task/{tid}", f"thread {tid}")


def test_keys_process_is_confined(daemon):
    assert_confined(keys_pid(daemon), "popgate-keys")


def test_smtp_delivery_and_pop3_login(daemon):
    deliver(daemon, "under the filter")
    p = poplib.POP3("127.0.0.1", daemon.ports["pop3"], timeout=TIMEOUT)
    try:
        p.user(USER)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        count, _ = p.stat()
        assert count >= 1
        assert b"Subject: under the filter" in b"\r\n".join(p.retr(1)[1])
    finally:
        p.quit()


def test_imap_login_with_starttls_and_implicit_tls(daemon):
    with imaplib.IMAP4("127.0.0.1", daemon.ports["imap"],
                       timeout=TIMEOUT) as c:
        assert c.starttls(ssl_context=tls_context())[0] == "OK"
        assert c.login(USER, PASSWORD)[0] == "OK"
        assert c.select("INBOX")[0] == "OK"
    with imaplib.IMAP4_SSL("127.0.0.1", daemon.ports["imaps"],
                           ssl_context=tls_context(),
                           timeout=TIMEOUT) as c:
        assert c.login(USER, PASSWORD)[0] == "OK"


def test_smtp_starttls(daemon):
    with smtplib.SMTP("127.0.0.1", daemon.ports["submission"],
                      timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        assert c.starttls(context=tls_context())[0] == 220
        c.ehlo("client.example")
        c.login(USER, PASSWORD)
        assert c.noop()[0] == 250


def test_reload_by_sighup(daemon):
    since = len(daemon.log().encode())
    daemon.send_signal(signal.SIGHUP)
    wait_log(daemon, r"reload done", since)
    deliver(daemon, "after the reload")
    assert daemon.running


def test_killed_keys_process_is_restarted_confined(daemon):
    old = keys_pid(daemon)
    since = len(daemon.log().encode())
    os.kill(old, signal.SIGKILL)
    wait_log(daemon, rf"popgate-keys pid={old} killed by signal 9", since)
    new = keys_pid(daemon, not_this=old)
    wait_log(daemon, rf"popgate-keys pid={new} holds generation", since)
    # Started by popgate-priv, not by the filtered daemon: its own.
    assert_confined(new, "the new popgate-keys")
    with socket.create_connection(("127.0.0.1", daemon.ports["pop3s"]),
                                  timeout=TIMEOUT) as r:
        with tls_context().wrap_socket(r) as t:
            assert t.recv(100).startswith(b"+OK")
    assert daemon.running


def call_kills_the_daemon(inst, call):
    """CALL (a gdb expression) made by the daemon kills it with SIGSYS."""
    assert_confined(inst.pid, "daemon")
    # gdb itself may crash when its inferior vanishes under a call:
    # no core file of it in the test's directory.
    p = subprocess.run(
        ["gdb", "-p", str(inst.pid), "-batch", "-nx", "-ex", f"call {call}"],
        capture_output=True, text=True, timeout=120, cwd=inst.dir,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE,
                                              (0, 0)))
    assert "ptrace: Operation not permitted" not in p.stderr, p.stderr
    rc = inst.proc.wait(timeout=TIMEOUT)
    assert rc == -signal.SIGSYS, \
        f"exit {rc}, not SIGSYS\n{p.stdout}\n{p.stderr}\n{inst.log()}"
    inst.proc = None


@pytest.mark.skipif(shutil.which("gdb") is None,
                    reason="gdb (scripts/bootstrap installs it)")
def test_forbidden_call_kills_the_daemon(make_instance):
    inst = make_instance()
    call_kills_the_daemon(inst, f"(long)syscall({PERSONALITY}, 0xffffffffL)")


@pytest.mark.skipif(shutil.which("gdb") is None,
                    reason="gdb (scripts/bootstrap installs it)")
@pytest.mark.skipif(os.geteuid() != 0,
                    reason="popgate-priv owns the children of a daemon "
                    "that gives up root")
@pytest.mark.parametrize("call", ["(int)fork()",
                                  "(int)execl(\"/bin/sh\", \"sh\", 0)"])
def test_daemon_makes_no_process(make_instance, call):
    """popgate-priv starts, kills and reaps popgate-lookup and
    popgate-keys, so the network process may not fork or exec at all."""
    inst = make_instance()
    call_kills_the_daemon(inst, call)


def test_sandbox_no_leaves_the_daemon_unfiltered(make_instance):
    inst = make_instance(config={"sandbox": "no"})
    st = status(inst.pid)
    assert st["Seccomp"] == "0", st
    log = inst.log(inst.log_offset)
    assert re.search(r"sandbox = no in \S+: the daemon runs without its "
                     r"seccomp filter", log), log
    assert "sandbox=off" in log
    inst.stop()


def test_bad_value_refused(instance):
    instance.config_overrides["sandbox"] = "maybe"
    instance.write_config()
    p = instance.cli("check-config")
    assert p.returncode != 0
    assert re.search(r"popgate\.conf:\d+: bad value for 'sandbox': "
                     r"'maybe' \(expected yes or no\)",
                     p.stderr), p.stderr
