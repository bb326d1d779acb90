"""smtp_helpers.py - shared helpers of the SMTP black-box tests.

    Client(port)            a raw SMTP client on a socket: exact bytes out,
                            whole (multi-line) replies in
    mx_instance(tls_files)  an Instance with the standard test accounts
                            (see ACCOUNTS / ALIASES), started
    messages(inst, addr)    the messages in a Maildir's new/ as
                            [(file name, bytes)]
    mail_files(inst)        every file under any Maildir (new/, cur/,
                            tmp/, the system postmaster Maildir) and the
                            queue, for "nothing was delivered" checks
    stored(data)            what a DATA body looks like in a Maildir
                            (CRLF -> LF, dots unstuffed)
    check_maildir_name(...) the ,S= and ,W= sizes in a Maildir file name

Everything is the standard library only.
"""
import os
import re
import socket
import ssl
import time

import pytest

import harness

PASSWORD = "s3cret"
HOSTNAME = "mail.test.example"

# Mailboxes of mx_instance(): all of customer acme.
ACCOUNTS = ["ann@acme.test", "bob@acme.test", "carol@acme.test",
            "dave@beta.test"]
# Aliases of mx_instance(), added in this order (`alias add` appends a
# target to an existing alias; a target must exist when it is added):
ALIAS_STEPS = [
    ("sales@acme.test", ["ann@acme.test", "bob@acme.test"]),
    # nested: team -> sales -> ann, bob; and carol
    ("team@acme.test", ["sales@acme.test", "carol@acme.test"]),
    # a loop that reaches mailboxes: loop1 -> loop2 -> loop1
    ("loop1@acme.test", ["ann@acme.test"]),
    ("loop2@acme.test", ["loop1@acme.test", "bob@acme.test"]),
    ("loop1@acme.test", ["loop2@acme.test"]),
    # a loop without any mailbox: ring1 -> ring1, ring2 -> ring1 -> ring2
    ("ring1@acme.test", ["ring1@acme.test"]),
    ("ring2@acme.test", ["ring1@acme.test"]),
    ("ring1@acme.test", ["ring2@acme.test"]),
]
ALIASES = {}
for _name, _targets in ALIAS_STEPS:
    ALIASES.setdefault(_name, []).extend(_targets)

TIMEOUT = 10


class Reply:
    """One SMTP reply: CODE (int), LINES (text of each line without the
    code and separator), TEXT (the whole reply as received, CRLF -> \\n,
    no trailing newline)."""

    def __init__(self, raw_lines):
        self.raw = raw_lines
        self.code = int(raw_lines[0][:3])
        self.lines = [l[4:] for l in raw_lines]
        self.text = "\n".join(raw_lines)

    def __str__(self):
        return self.text

    __repr__ = __str__

    def startswith(self, prefix):
        return self.text.startswith(prefix)


class Client:
    """A raw SMTP client. All input is kept in one buffer, so replies to
    pipelined commands can be read one at a time."""

    def __init__(self, port, greet=True, timeout=TIMEOUT, source=None):
        self.port = port
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False
        self.greeting = None
        if greet:
            self.greeting = self.reply()
            assert self.greeting.text == f"220 {HOSTNAME} ESMTP popgate", \
                self.greeting

    # ---- output ----

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    # ---- input ----

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None
                             else self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def line(self):
        while b"\r\n" not in self.buf:
            if self.eof or not self._fill():
                raise AssertionError(
                    f"connection closed, no complete reply line; "
                    f"buffered {self.buf!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")

    def reply(self):
        """The next whole reply (waits for it)."""
        lines = []
        while True:
            line = self.line()
            assert re.match(r"^[2-5]\d\d[ -]", line) or \
                re.match(r"^[2-5]\d\d$", line), f"bad reply line {line!r}"
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        """Sends LINE + CRLF, returns the reply."""
        self.send(line + "\r\n" if isinstance(line, str)
                  else line + b"\r\n")
        return self.reply()

    def expect(self, line, prefix):
        """Sends LINE, asserts the reply starts with PREFIX; the reply."""
        r = self.cmd(line)
        assert r.text.startswith(prefix), \
            f"{line!r}: expected {prefix!r}, got {r.text!r}"
        return r

    def ehlo(self, name="client.test"):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def no_more(self, wait=0.3):
        """Asserts that nothing more arrives within WAIT seconds (and the
        connection stays open)."""
        assert self.buf == b"", f"unexpected input: {self.buf!r}"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                got = self._fill(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                break
            assert got, "connection closed"
            assert self.buf == b"", f"unexpected input: {self.buf!r}"

    def closed(self, timeout=5):
        """True when the server closes the connection (after any
        buffered input) within TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._fill(left)
            except socket.timeout:
                return False
        return True

    def alive(self):
        """The session still answers: NOOP -> 250 2.0.0."""
        r = self.cmd("NOOP")
        assert r.text == "250 2.0.0 Ok", r
        return True

    def starttls(self):
        """STARTTLS and the handshake; the Client then speaks TLS."""
        r = self.cmd("STARTTLS")
        assert r.text == "220 2.0.0 Ready to start TLS", r
        assert self.buf == b"", f"data after 220 in the clear: {self.buf!r}"
        self.sock = tls_context().wrap_socket(self.sock)
        return self.sock

    def transaction(self, sender, rcpts, data, ehlo=False):
        """MAIL, RCPTs (each must be accepted), DATA, the body (DATA
        bytes, sent as given, then ".\\r\\n" unless it already ends in
        "\\r\\n.\\r\\n"); the final reply."""
        if ehlo:
            self.ehlo()
        self.expect(f"MAIL FROM:<{sender}>", "250 2.1.0")
        for r in rcpts:
            self.expect(f"RCPT TO:<{r}>", "250 2.1.5")
        self.expect("DATA", "354 ")
        if isinstance(data, str):
            data = data.encode()
        if not data.endswith(b"\r\n.\r\n"):
            data += b".\r\n"
        self.send(data)
        return self.reply()

    def quit(self):
        try:
            r = self.cmd("QUIT")
            assert r.text == "221 2.0.0 Bye", r
            assert self.closed(), "no close after QUIT"
        finally:
            self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$")


def queued_id(reply):
    """The queue id of a "250 2.0.0 Ok: queued as ID" reply (asserted)."""
    m = QUEUED_RE.match(str(reply))
    assert m, f"not a queued reply: {reply}"
    return m.group(1)


# ---- instances ----

def setup_accounts(inst):
    for a in ACCOUNTS:
        inst.setup_mailbox(a, PASSWORD,
                           customer="acme" if a.endswith("@acme.test")
                           else "beta")
    for name, targets in ALIAS_STEPS:
        inst.cli("alias", "add", name, *targets, check=True)


def mx_instance(tls_files, config=None, start=True, extra_lines=None):
    inst = harness.Instance(config=config, tls=tls_files,
                            extra_lines=extra_lines)
    try:
        setup_accounts(inst)
        if start:
            inst.start()
    except BaseException:
        inst.cleanup()
        raise
    return inst


def finish(inst):
    try:
        if inst.running:
            inst.stop()
    finally:
        inst.cleanup()


# ---- Maildirs ----

def messages(inst, address, sub="new"):
    """[(name, bytes)] of the files in the Maildir's SUB/, sorted by
    name; address "postmaster" is the system Maildir."""
    if address == "postmaster":
        d = os.path.join(inst.data_dir, "postmaster", sub)
    else:
        d = os.path.join(inst.maildir(address), sub)
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            out.append((n, f.read()))
    return out


def mail_files(inst):
    """Every file in any Maildir (new/, cur/, tmp/ of mail_dir/*/*/ and
    of the system postmaster Maildir) and in the queue directory."""
    found = set()
    roots = [inst.mail_dir, os.path.join(inst.data_dir, "postmaster"),
             os.path.join(inst.data_dir, "queue")]
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                found.add(os.path.join(d, f))
    return found


def new_files(inst, before):
    return sorted(mail_files(inst) - before)


def stored(data):
    """The body of a DATA transfer (bytes as sent, the final
    CRLF.CRLF excluded) as the Maildir holds it: dot-unstuffed, LF."""
    if isinstance(data, str):
        data = data.encode()
    lines = data.split(b"\r\n")
    assert lines[-1] == b"", "DATA must end in CRLF"
    out = []
    for l in lines[:-1]:
        assert b"\r" not in l and b"\n" not in l
        out.append(l[1:] if l.startswith(b".") else l)
    return b"".join(l + b"\n" for l in out)


def split_message(msg):
    """(trace, rest): the Return-Path: and Received: fields popgate
    prepended, and the message as the client sent it (LF line ends).
    The Received: field is the one popgate added (first of them)."""
    assert msg.startswith(b"Return-Path: <"), msg[:200]
    rp_end = msg.index(b"\n") + 1
    assert msg[rp_end:].startswith(b"Received: "), msg[:400]
    i = rp_end
    # The Received: field ends at the first line that is not folded.
    j = msg.index(b"\n", i) + 1
    while msg[j:j + 1] in (b"\t", b" "):
        j = msg.index(b"\n", j) + 1
    return msg[:j], msg[j:]


def received_field(msg):
    trace, _ = split_message(msg)
    rp_end = trace.index(b"\n") + 1
    return trace[rp_end:].decode()


def check_maildir_name(name, content):
    """The name has ,S=<size> and ,W=<size with CRLF line ends>."""
    m = re.search(r",S=(\d+),W=(\d+)", name)
    assert m, f"no ,S=,W= in {name!r}"
    assert int(m.group(1)) == len(content), (name, len(content))
    assert int(m.group(2)) == len(content) + content.count(b"\n"), \
        (name, len(content) + content.count(b"\n"))
    assert ":" not in name and "/" not in name


def wait_for(pred, timeout=5, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval)


def body_message(tag, extra=b""):
    """A small message with a unique TAG (bytes, CRLF, no final dot)."""
    if isinstance(tag, str):
        tag = tag.encode()
    return (b"From: sender@example.org\r\nTo: ann@acme.test\r\n"
            b"Subject: test " + tag + b"\r\n\r\nbody of " + tag + b"\r\n" +
            extra)
