"""hardening_helpers.py - what the hardening tests (issue 8:
test_hardening_*.py) share: self-checking messages, a forgiving raw SMTP
client, the accounts of a hardening instance, Maildir scans, tmpfs mounts
and process figures.

    inst = hardening_instance(make_instance, routes={"example.org": sink})
    data = make_message("m0001", "ann@acme.test", "bob@example.org")
    with Session(inst.ports["smtp"]) as s:
        s.ehlo()
        r = s.transaction("ann@acme.test", ["bob@example.org"], data)
    found = scan_maildirs(inst, MAILBOXES)     # {addr: {mid: [names]}}

Every message carries its id (X-Test-Id) and the SHA-256 of its body
(X-Body-SHA256, over the body with CRLF line ends): check_message()
tells a complete copy from a truncated or mangled one wherever it ends
up (a Maildir with LF line ends, the sink with CRLF, popgate's trace
fields prepended or not).

Accounts of hardening_instance(): customer acme owns acme.test with the
mailboxes MAILBOXES (password PASSWORD) and the aliases ALIASES, which
forward to example.org (route it to a sink). Standard library only.
"""
import contextlib
import hashlib
import os
import re
import resource
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import harness
from delivery_helpers import (transport_lines,  # noqa: F401 (re-exported)
                              wait_until)

PASSWORD = "s3cret"
HOSTNAME = "mail.test.example"
TIMEOUT = 20            # seconds for one reply (ASan, a busy machine)

MAILBOXES = ["ann@acme.test", "bob@acme.test", "carol@acme.test",
             "dave@acme.test"]
# fwd: forwarded to the outside only; mix: one local copy and one
# forwarded (the queue file and a Maildir copy in one transaction).
ALIASES = {
    "fwd@acme.test": ["out@example.org"],
    "mix@acme.test": ["carol@acme.test", "mixout@example.org"],
}
# No relay limit may get in the way of the volume tests.
UNLIMITED = {
    "auth_failure_delay": "0",
    "relay_max_messages_per_hour": "10000000",
    "relay_max_recipients_per_hour": "10000000",
    "retry_min": "1s",
    "retry_max": "2s",
    "max_queue_lifetime": "1h",
    "delay_warning": "0",
    "connect_timeout": "3s",
}


# ---- self-checking messages ----

def make_message(mid, sender="sender@example.net", rcpt="ann@acme.test",
                 size=None):
    """The message MID (bytes, CRLF line ends, not dot-stuffed): header
    fields with the id and the body's SHA-256, a body of about SIZE
    octets (default: 1 to 6 KB, different for every id) whose lines
    start with a dot now and then."""
    h = hashlib.sha256(mid.encode()).hexdigest()
    if size is None:
        size = 1000 + int(h[:4], 16) % 5000
    lines = [f"first line of {mid}"]
    i = 0
    total = len(lines[0]) + 2
    while total < size:
        lead = "." if i % 13 == 0 else ""
        line = f"{lead}{mid} line {i:05d} {h}"
        lines.append(line)
        total += len(line) + 2
        i += 1
    lines.append(f"last line of {mid}")
    body = ("\r\n".join(lines) + "\r\n").encode()
    digest = hashlib.sha256(body).hexdigest()
    head = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\n"
            f"Subject: hardening {mid}\r\n"
            f"Message-ID: <{mid}@hardening.test>\r\n"
            f"X-Test-Id: {mid}\r\nX-Body-SHA256: {digest}\r\n\r\n")
    return head.encode() + body


def dot_stuff(data):
    """DATA bytes on the wire for DATA (CRLF), without the final dot."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", data)


_ID_RE = re.compile(rb"^X-Test-Id: (\S+)\r?$", re.M)
_SUM_RE = re.compile(rb"^X-Body-SHA256: ([0-9a-f]{64})\r?$", re.M)


def check_message(raw):
    """(mid, problem): the X-Test-Id of RAW and None when it is complete
    and intact, else a text saying what is wrong (mid may be None)."""
    sep = re.search(rb"\r?\n\r?\n", raw)
    if sep is None:
        return None, "no end of the header section"
    head, body = raw[:sep.start() + 1], raw[sep.end():]
    m = _ID_RE.search(head)
    if m is None:
        return None, f"no X-Test-Id in {head[:300]!r}"
    mid = m.group(1).decode()
    s = _SUM_RE.search(head)
    if s is None:
        return mid, "no X-Body-SHA256"
    crlf = re.sub(rb"\r?\n", b"\r\n", body)
    if hashlib.sha256(crlf).hexdigest() != s.group(1).decode():
        return mid, (f"body checksum mismatch ({len(crlf)} octets, ends "
                     f"{crlf[-80:]!r})")
    return mid, None


# ---- a forgiving SMTP client ----

class Gone(Exception):
    """The connection broke (reset, EOF, timeout)."""


class Session:
    """A raw SMTP client that turns every connection failure into Gone
    (for tests that kill the server under it). SOURCE: a local address
    such as 127.0.0.5."""

    def __init__(self, port, source=None, timeout=TIMEOUT, greet=True):
        try:
            self.sock = socket.create_connection(
                ("127.0.0.1", port), timeout=timeout,
                source_address=(source, 0) if source else None)
        except OSError as e:
            raise Gone(f"connect: {e}") from e
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def reply(self):
        """The next reply as text (lines joined by \\n)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                try:
                    chunk = self.sock.recv(65536)
                except OSError as e:
                    raise Gone(f"recv: {e}") from e
                if not chunk:
                    raise Gone(f"EOF after {lines!r} {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            line = line.decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Gone(f"send: {e}") from e

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        r = self.cmd(f"EHLO {name}")
        if not r.startswith("250"):
            raise AssertionError(f"EHLO: {r!r}")
        return r

    def transaction(self, sender, rcpts, data, on_dot=None):
        """MAIL, RCPTs, DATA and the message (bytes, CRLF, not stuffed).
        Returns the first reply that is not the expected 250/354 (the
        transaction is then reset), or the reply to the final dot. ON_DOT
        is called just before the final dot goes out."""
        r = self.cmd(f"MAIL FROM:<{sender}>")
        if not r.startswith("250"):
            return r
        for rc in rcpts:
            r = self.cmd(f"RCPT TO:<{rc}>")
            if not r.startswith("250"):
                self.cmd("RSET")
                return r
        r = self.cmd("DATA")
        if not r.startswith("354"):
            return r
        self.send(dot_stuff(data))
        if on_dot is not None:
            on_dot()
        self.send(b".\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def quit(self):
        try:
            self.cmd("QUIT")
        except Gone:
            pass
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as [0-9a-f]+$")


def pop3_login(port, user, password=PASSWORD, source=None,
               timeout=TIMEOUT):
    """USER/PASS over plain POP3 (loopback); returns the PASS reply line
    (the caller asserts). Opens the relay for SOURCE on success."""
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=timeout,
        source_address=(source, 0) if source else None)
    f = sock.makefile("rb")
    try:
        def line():
            return f.readline().decode("utf-8", "replace").rstrip("\r\n")
        greeting = line()
        assert greeting.startswith("+OK"), greeting
        sock.sendall(f"USER {user}\r\n".encode())
        r = line()
        if not r.startswith("+OK"):
            return r
        sock.sendall(f"PASS {password}\r\n".encode())
        r = line()
        try:
            sock.sendall(b"QUIT\r\n")
            line()
        except OSError:
            pass
        return r
    finally:
        f.close()
        sock.close()


# ---- instances ----

def setup_accounts(inst, mailboxes=MAILBOXES, aliases=ALIASES):
    """Customer acme, domain acme.test, MAILBOXES and ALIASES (CLI)."""
    for a in mailboxes:
        inst.setup_mailbox(a, PASSWORD)
    for name, targets in (aliases or {}).items():
        inst.cli("alias", "add", name, *targets, check=True)


def hardening_instance(make_instance, config=None, extra_lines=None,
                       routes=None, start=True, aliases=ALIASES,
                       accounts=True):
    """An instance with the accounts above (unless ACCOUNTS is false:
    call setup_accounts() later), UNLIMITED relay settings (overridden
    by CONFIG) and one `transport` line per ROUTES entry ({domain: sink
    or port}); started unless START is false."""
    cfg = dict(UNLIMITED)
    cfg.update(config or {})
    lines = list(extra_lines or []) + transport_lines(routes)
    inst = make_instance(config=cfg, extra_lines=lines, start=False)
    if accounts:
        setup_accounts(inst, aliases=aliases)
    if start:
        inst.start()
    return inst


def recording_sink():
    """An SmtpSink with an explicit SIZE (see delivery_helpers)."""
    from smtpsink import SmtpSink
    s = SmtpSink()
    s.size = 64 * 1024 * 1024
    return s.start()


# ---- Maildirs and the queue ----

def maildir_files(inst, address, subs=("new", "cur")):
    """[(sub, name, bytes)] of ADDRESS's Maildir."""
    out = []
    for sub in subs:
        d = os.path.join(inst.maildir(address), sub)
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            continue
        for n in names:
            try:
                with open(os.path.join(d, n), "rb") as f:
                    out.append((sub, n, f.read()))
            except FileNotFoundError:
                pass        # moved by a POP3 session meanwhile
    return out


def scan_maildirs(inst, addresses=MAILBOXES):
    """({address: {mid: [file names]}}, [problems]) over new/ and cur/:
    a problem is any file that is not a complete test message."""
    found, problems = {}, []
    for a in addresses:
        per = found.setdefault(a, {})
        for sub, name, raw in maildir_files(inst, a):
            mid, problem = check_message(raw)
            if problem is not None:
                problems.append(f"{a}/{sub}/{name}: {problem}")
                continue
            per.setdefault(mid, []).append(f"{sub}/{name}")
    return found, problems


def queue_check(inst):
    """`popgate queue list` (table and JSON) works and shows nothing
    damaged; returns the JSON rows."""
    p = inst.cli("queue", "list")
    assert p.returncode == 0, f"queue list exited {p.returncode}:\n" \
        f"{p.stdout}\n{p.stderr}"
    assert "damaged" not in p.stdout, f"damaged queue file:\n{p.stdout}"
    return inst.cli_json("queue", "list")


def store_check(inst):
    """`popgate mailbox list` works (the store opens cleanly) and lists
    every mailbox."""
    p = inst.cli("mailbox", "list")
    assert p.returncode == 0, f"mailbox list exited {p.returncode}:\n" \
        f"{p.stdout}\n{p.stderr}"
    for a in MAILBOXES:
        assert a in p.stdout, (a, p.stdout)


# ---- the system ----

def raise_nofile(want):
    """Raises this process's descriptor soft limit to at least WANT (up
    to the hard limit, or beyond it as root); returns the new soft
    limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    if hard < want and harness.IS_ROOT:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    new = min(want, hard) if hard != resource.RLIM_INFINITY else want
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def status_kib(pid, field="VmRSS"):
    """A "kB" field of /proc/PID/status (VmRSS, VmHWM...) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


@contextlib.contextmanager
def tmpfs(path, size="2m", mode=0o750, owner=True):
    """Mounts a tmpfs of SIZE on PATH (an existing directory) for the
    block, owned by the daemon's user (OWNER, as root); skips the test
    when mounting is not permitted. Unmounted afterwards."""
    if not harness.IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        f"size={size},mode={mode:o}", "tmpfs", path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {p.stderr.strip()}")
    try:
        if owner:
            uid, gid = harness.daemon_ids()
            os.chown(path, uid, gid)
        yield path
    finally:
        for attempt in range(50):
            q = subprocess.run(["umount", path], capture_output=True,
                               text=True)
            if q.returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", path], capture_output=True)


def first_line(sock, timeout=10):
    """The first line SOCK sends (a greeting), without CRLF; what came
    when the peer closes or the time runs out."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n" not in buf:
        try:
            chunk = sock.recv(1024)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\r\n", 1)[0].decode("utf-8", "replace").strip()


def fs_free(path):
    """Free octets on the filesystem of PATH."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def sink_ids(sink):
    """({mid: count}, [problems]) of what SINK received."""
    with sink.lock:
        msgs = list(sink.messages)
    ids, problems = {}, []
    for m in msgs:
        mid, problem = check_message(m.data)
        if problem is not None:
            problems.append(f"sink conn {m.conn} to {m.rcpts}: {problem}")
            continue
        ids[mid] = ids.get(mid, 0) + 1
    return ids, problems


def temp_dir(prefix):
    d = tempfile.mkdtemp(dir="/tmp", prefix=prefix)
    os.chmod(d, 0o755)
    return d


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
