"""The fail2ban filter and jail of contrib/fail2ban against a real log
(ISSUE13 point 10): a login name a client chose is one quoted value in
popgate's key=value lines, so the filter bans the address the connection
came from, never an address written into the name.

Runs Debian's fail2ban-regex (and fail2ban-client -t for the jail) on the
serve.log of a real `popgate serve`; skips only where fail2ban is not
installed (scripts/bootstrap installs it).
"""
import base64
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

from relay_helpers import PASSWORD, Smtp, log_lines, log_size, relay_instance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FILTER = os.path.join(ROOT, "contrib", "fail2ban", "filter.d", "popgate.conf")
JAIL = os.path.join(ROOT, "contrib", "fail2ban", "jail.d", "popgate.conf")

SMTP_CLIENT = "127.0.0.1"
POP3_CLIENT = "127.0.0.5"

# Login names written to forge a client= field, or a whole line.
CRAFTED = [
    b"evil client=6.6.6.6",
    b"client=6.6.6.6",
    b'x" client=6.6.6.6 "',
    b'x\\" client=6.6.6.6 \\"',
    b"x\\",
    b'6.6.6.6" client=6.6.6.6',
    b"a=b client=6.6.6.6",
    b"x\\x0d\\x0a2026-01-01T00:00:00.000Z popgate[1]: sess=1 smtp "
    b"auth-failed user=a client=6.6.6.6",
    b"x\r\n2026-01-01T00:00:00.000Z popgate[1]: sess=1 pop3 login-failed "
    b"user=a client=6.6.6.6",
    b"\xc3\xa9vil\t client=6.6.6.6",
    b"nobody@acme.test",
]


def fail2ban_regex():
    exe = shutil.which("fail2ban-regex")
    if exe is None:
        pytest.skip("fail2ban-regex is not installed (scripts/bootstrap)")
    return exe


def plain(user):
    return base64.b64encode(b"\0" + user + b"\0wrong").decode()


def smtp_failures(inst):
    """AUTH PLAIN with every crafted name, one connection each (a session
    ends after three failures); the number refused with 535."""
    n = 0
    for user in CRAFTED:
        with Smtp(inst.ports["submission"], source=SMTP_CLIENT) as c:
            c.ehlo()
            r = c.cmd("AUTH PLAIN " + plain(user))
            assert r.code in (501, 535), (user, r)
            n += r.code == 535
    with Smtp(inst.ports["submission"], source=SMTP_CLIENT) as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN " + base64.b64encode(
            f"\0ann@acme.test\0{PASSWORD}".encode()).decode())
        assert r.code == 235, r
    return n


def pop3_failure(inst, user):
    """Whether POP3 AUTH PLAIN as USER was refused as a failed login."""
    sock = socket.create_connection(("127.0.0.1", inst.ports["pop3"]),
                                    timeout=10,
                                    source_address=(POP3_CLIENT, 0))
    f = sock.makefile("rb")
    try:
        assert f.readline().startswith(b"+OK")
        sock.sendall(b"AUTH PLAIN " + plain(user).encode() + b"\r\n")
        r = f.readline()
        assert r.startswith(b"-ERR"), (user, r)
        sock.sendall(b"QUIT\r\n")
        f.readline()
        return b"[AUTH]" in r
    finally:
        f.close()
        sock.close()


def pop3_failures(inst):
    """POP3 AUTH PLAIN with every crafted name; the number refused."""
    return sum(pop3_failure(inst, user) for user in CRAFTED)


def test_fail2ban_bans_only_the_real_client(make_instance):
    exe = fail2ban_regex()
    inst = relay_instance(make_instance, config={"auth_max_failures": "1000"})
    since = log_size(inst)
    nsmtp = smtp_failures(inst)
    npop3 = pop3_failures(inst)
    assert nsmtp == len(CRAFTED) and npop3 == len(CRAFTED)
    failed = log_lines(inst, since, r" (smtp auth|pop3 login)-failed ")
    assert len(failed) == nsmtp + npop3, "\n".join(failed)
    assert log_lines(inst, since,
                     r' smtp auth-failed user="evil client=6\.6\.6\.6" '
                     r'client=127\.0\.0\.1$')
    assert log_lines(inst, since, r' pop3 login-failed user='
                     r'"x\\" client=6\.6\.6\.6 \\"" client=127\.0\.0\.5$')
    assert log_lines(inst, since, r" smtp auth user=ann@acme\.test ")

    with tempfile.TemporaryDirectory(prefix="popgate-f2b-") as tmp:
        log = os.path.join(tmp, "serve.log")
        with open(log, "w") as out:
            out.write(inst.log(since))
        p = subprocess.run([exe, "-o", "ip", log, FILTER],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        ips = p.stdout.split()
        assert sorted(ips) == sorted([SMTP_CLIENT] * nsmtp +
                                     [POP3_CLIENT] * npop3), p.stdout
        # The summary agrees: every failure line matched, nothing else.
        p = subprocess.run([exe, log, FILTER], capture_output=True,
                           text=True, timeout=120)
        m = re.search(r"Lines: (\d+) lines, 0 ignored, (\d+) matched",
                      p.stdout)
        assert m and int(m.group(2)) == nsmtp + npop3, p.stdout


def test_fail2ban_counts_throttled_tries(make_instance):
    """Past auth_max_failures an address is refused without a check
    (login-throttled); those tries count for fail2ban too."""
    exe = fail2ban_regex()
    inst = relay_instance(make_instance, config={"auth_max_failures": "2"})
    since = log_size(inst)
    tries = [pop3_failure(inst, b"nobody@acme.test") for _ in range(4)]
    assert all(tries)
    assert len(log_lines(inst, since, r" pop3 login-failed ")) == 2
    assert len(log_lines(inst, since, r" pop3 login-throttled ")) == 2
    with tempfile.TemporaryDirectory(prefix="popgate-f2b-") as tmp:
        log = os.path.join(tmp, "serve.log")
        with open(log, "w") as out:
            out.write(inst.log(since))
        p = subprocess.run([exe, "-o", "ip", log, FILTER],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stdout.split() == [POP3_CLIENT] * 4, p.stdout


def test_fail2ban_jail_loads():
    fail2ban_regex()
    client = shutil.which("fail2ban-client")
    if client is None or not os.path.isdir("/etc/fail2ban"):
        pytest.skip("fail2ban-client or /etc/fail2ban is missing")
    with tempfile.TemporaryDirectory(prefix="popgate-f2b-") as tmp:
        conf = os.path.join(tmp, "conf")
        shutil.copytree("/etc/fail2ban", conf, symlinks=True)
        for d in ("jail.d", "filter.d"):
            os.makedirs(os.path.join(conf, d), exist_ok=True)
        for name in os.listdir(os.path.join(conf, "jail.d")):
            os.unlink(os.path.join(conf, "jail.d", name))
        log = os.path.join(tmp, "mail.log")
        open(log, "w").close()
        shutil.copy(FILTER, os.path.join(conf, "filter.d"))
        with open(JAIL) as f:
            jail = re.sub(r"(?m)^logpath\s*=.*$", f"logpath = {log}",
                          f.read())
        with open(os.path.join(conf, "jail.d", "popgate.conf"), "w") as f:
            f.write(jail)
        p = subprocess.run([client, "-c", conf, "-t"], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        p = subprocess.run([client, "-c", conf, "-d"], capture_output=True,
                           text=True, timeout=120)
        assert "['add', 'popgate', " in p.stdout, p.stdout + p.stderr
        assert re.search(r"\['set', 'popgate', 'maxretry', \d+\]", p.stdout)
