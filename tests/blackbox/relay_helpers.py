"""relay_helpers.py - what the relay black-box tests (test_relay*.py)
share: a raw SMTP client, POP3 logins that open the relay, the queue,
and an instance with the standard relay accounts.

    inst = relay_instance(make_instance, config={...})
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")   # opens relay
    with Smtp(inst.ports["smtp"], source="127.0.0.2") as c:
        c.ehlo()
        c.expect("MAIL FROM:<ann@acme.test>", "250 2.1.0")
        r = c.cmd("RCPT TO:<bob@example.org>")
    queued(inst)            # [QueueFile], one per accepted message

Accounts of relay_instance(): customer acme owns acme.test (ann, bob,
alias sales -> ann) and acme2.test (carl); customer beta owns beta.test
(dave); customer gamma owns gamma.test (gina). All passwords: PASSWORD.

Everything is the standard library only; nothing here depends on the
other test files' helpers.
"""
import atexit
import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import struct
import tempfile
import time

import pytest

PASSWORD = "s3cret"
HOSTNAME = "mail.test.example"
TIMEOUT = 15            # seconds for any one reply (ASan is slow)

# Customer -> [(domain, [mailboxes])]
ACCOUNTS = {
    "acme": [("acme.test", ["ann", "bob"]), ("acme2.test", ["carl"])],
    "beta": [("beta.test", ["dave"])],
    "gamma": [("gamma.test", ["gina"])],
}
ALIASES = {"sales@acme.test": ["ann@acme.test"]}

# The reply text of the "authorized" rule (SPEC 1), up to where to SMTP
# AUTH: the instance's submission ports (denied_text).
DENIED_TEXT = ("Relay access denied: check your mail first (POP3 login), "
               "or use SMTP AUTH on ")


def denied_text(inst):
    """The whole text of the "authorized" rule for INST: it names the
    ports of its submission listeners."""
    ports = []
    for name, role in inst.listeners.items():
        if role.split()[0] == "submission" and inst.ports[name] not in ports:
            ports.append(inst.ports[name])
    if not ports:
        return DENIED_TEXT + "the submission port"
    if len(ports) == 1:
        return DENIED_TEXT + f"port {ports[0]}"
    return (DENIED_TEXT + "ports " + ", ".join(map(str, ports[:-1])) +
            f" or {ports[-1]}")

# Keeps failure tests fast.
FAST = {"auth_failure_delay": "0"}


_template = None       # a directory with store.db and mail/ of ACCOUNTS


def _cleanup_template():
    if _template is not None:
        shutil.rmtree(_template, ignore_errors=True)


atexit.register(_cleanup_template)


def relay_instance(make_instance, config=None, extra_lines=None,
                   listeners=None, start=True):
    """An instance (through the make_instance fixture) with ACCOUNTS and
    ALIASES, started unless START is false. The accounts are made with
    the CLI once per test run; later instances get a copy of that store
    and its Maildirs (the CLI under ASan is slow)."""
    global _template
    cfg = dict(FAST)
    cfg.update(config or {})
    inst = make_instance(config=cfg, extra_lines=extra_lines,
                         listeners=listeners, start=False)
    if _template is None:
        for customer, domains in ACCOUNTS.items():
            inst.cli("customer", "add", customer, check=True)
            for domain, boxes in domains:
                inst.cli("domain", "add", domain, "--customer", customer,
                         check=True)
                for box in boxes:
                    inst.cli("mailbox", "add", f"{box}@{domain}",
                             input=PASSWORD + "\n", check=True)
        for name, targets in ALIASES.items():
            inst.cli("alias", "add", name, *targets, check=True)
        tmp = tempfile.mkdtemp(dir="/tmp", prefix="popgate-relay-tmpl-")
        shutil.copyfile(os.path.join(inst.data_dir, "store.db"),
                        os.path.join(tmp, "store.db"))
        shutil.copytree(inst.mail_dir, os.path.join(tmp, "mail"))
        _template = tmp
    else:
        shutil.copyfile(os.path.join(_template, "store.db"),
                        os.path.join(inst.data_dir, "store.db"))
        shutil.copytree(os.path.join(_template, "mail"), inst.mail_dir,
                        dirs_exist_ok=True)
        inst.chown_data()
    if start:
        inst.start()
    return inst


# ---- SMTP ----

class Reply:
    """One SMTP reply: CODE (int), LINES (text after the code of each
    line), TEXT (all of it, lines joined by \\n)."""

    def __init__(self, raw_lines):
        self.raw = raw_lines
        self.code = int(raw_lines[0][:3])
        self.lines = [l[4:] for l in raw_lines]
        self.text = "\n".join(raw_lines)

    def __str__(self):
        return self.text

    __repr__ = __str__


class Smtp:
    """A raw SMTP client on one connection from SOURCE (127.0.0.x)."""

    def __init__(self, port, source="127.0.0.1", greet=True, tls=False,
                 timeout=TIMEOUT):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0))
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.greeting = self.reply() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None
                             else self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def line(self):
        while b"\r\n" not in self.buf:
            if self.eof or not self._fill():
                raise AssertionError(f"connection closed, no complete "
                                     f"reply; buffered {self.buf!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            assert re.match(r"^[2-5]\d\d([ -]|$)", line), \
                f"bad reply line {line!r}"
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, line, prefix):
        r = self.cmd(line)
        assert r.text.startswith(prefix), \
            f"{line!r}: expected {prefix!r}, got {r.text!r}"
        return r

    def ehlo(self, name="client.test"):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def starttls(self):
        self.expect("STARTTLS", "220 2.0.0")
        assert self.buf == b"", f"data after 220: {self.buf!r}"
        self.sock = tls_context().wrap_socket(self.sock)

    def auth_plain(self, user, password=PASSWORD):
        return self.cmd("AUTH PLAIN " + plain_b64(user, password))

    def data(self, body):
        """DATA, the body (CRLF line ends; the terminator is added), and
        the final reply."""
        self.expect("DATA", "354 ")
        if isinstance(body, str):
            body = body.encode()
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")
        return self.reply()

    def send_mail(self, sender, rcpts, body=None, size=None):
        """One transaction; every reply up to the refusal (or the final
        one), as [Reply]: MAIL, each RCPT, and the end of DATA when every
        RCPT was accepted. The transaction is RSET after a refusal."""
        out = []
        mail = f"MAIL FROM:<{sender}>"
        if size is not None:
            mail += f" SIZE={size}"
        out.append(self.cmd(mail))
        if out[-1].code != 250:
            return out
        for r in rcpts:
            out.append(self.cmd(f"RCPT TO:<{r}>"))
            if out[-1].code != 250:
                self.expect("RSET", "250")
                return out
        if body is None:
            body = message(sender, rcpts[0])
        out.append(self.data(body))
        return out

    def closed(self, timeout=5):
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

    def quit(self):
        try:
            self.cmd("QUIT")
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


def plain_b64(user, password=PASSWORD):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def message(sender, rcpt, subject="relay test", from_header=None,
            extra_headers="", body="hello\r\n"):
    """A small message (CRLF, no terminator)."""
    fh = from_header if from_header is not None else f"<{sender}>"
    return (f"From: {fh}\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"{extra_headers}\r\n{body}")


def ehlo_keywords(reply):
    """{KEYWORD: rest of line} of an EHLO reply (first line excluded)."""
    out = {}
    for l in reply.lines[1:]:
        k, _, v = l.partition(" ")
        out[k.upper()] = v
    return out


QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$")


def queued_id(reply):
    m = QUEUED_RE.match(str(reply))
    assert m, f"not a queued reply: {reply}"
    return m.group(1)


# ---- POP3 ----

def pop3_login(inst, user, password=PASSWORD, source="127.0.0.1",
               how="user", expect_ok=True, tls=False):
    """Logs in over POP3 from SOURCE (USER/PASS, or AUTH PLAIN with
    how="plain"; on pop3s with TLS), then QUIT. Returns the reply to the
    login."""
    sock = socket.create_connection(
        ("127.0.0.1", inst.ports["pop3s" if tls else "pop3"]),
        timeout=TIMEOUT, source_address=(source, 0))
    if tls:
        sock = tls_context().wrap_socket(sock)
    f = sock.makefile("rb")

    def line():
        l = f.readline()
        assert l.endswith(b"\r\n"), f"POP3: {l!r}"
        return l[:-2].decode()

    def cmd(text):
        sock.sendall(text.encode() + b"\r\n")
        return line()

    try:
        assert line().startswith("+OK"), "POP3 greeting"
        if how == "user":
            r = cmd(f"USER {user}")
            assert r.startswith("+OK"), r
            r = cmd(f"PASS {password}")
        else:
            r = cmd("AUTH PLAIN " + plain_b64(user, password))
        if expect_ok:
            assert r.startswith("+OK"), f"POP3 login of {user}: {r}"
        else:
            assert r.startswith("-ERR"), f"POP3 login of {user}: {r}"
        cmd("QUIT")
        return r
    finally:
        f.close()
        sock.close()


# ---- the queue ----

class QueueFile:
    """A queue file (queue/msg/ID): its records by type, and MESSAGE,
    the message text as queued (bytes).

    Decoded here from the format (src/queue/queue_file.c), as strictly as
    the daemon reads it: envelope records, the message last but one, an
    END record last holding the SHA-256 of all before it. This is the
    tests' own reading of the file format, kept apart from the C reader
    on purpose (a writer and a reader that agree on a wrong format would
    pass a test that asked only the C side); queued() also asks the C
    reader, through `popgate queue list`, and requires both to agree."""

    def __init__(self, path):
        self.path = path
        self.id = os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read()
        assert data[:10] == b"POPGATEQ1\n", f"{path}: bad magic"
        self.records = {}
        i = 10
        while i + 9 <= len(data):
            t = chr(data[i])
            (n,) = struct.unpack(">Q", data[i + 1:i + 9])
            assert i + 9 + n <= len(data), f"{path}: truncated record"
            if t == "Z":
                break
            assert "M" not in self.records, f"{path}: record after M"
            self.records.setdefault(t, []).append(data[i + 9:i + 9 + n])
            i += 9 + n
        assert data[i:i + 9] == b"Z" + struct.pack(">Q", 32) and \
            i + 9 + 32 == len(data), f"{path}: no END record last"
        assert hashlib.sha256(data[:i]).digest() == data[i + 9:], \
            f"{path}: checksum mismatch"
        assert len(self.records.get("M", [])) == 1, f"{path}: no message"
        self.message = self.records["M"][0]
        self.sender = self.text("S")
        self.rcpts = [r.decode() for r in self.records.get("R", [])]
        self.auth = self.text("A")

    def text(self, t):
        v = self.records.get(t)
        return v[0].decode("utf-8", "replace") if v else None

    def received(self):
        """The first Received: field, unfolded lines joined by \\n."""
        m = self.message
        i = m.index(b"Received: ")
        j = m.index(b"\n", i) + 1
        while m[j:j + 1] in (b"\t", b" "):
            j = m.index(b"\n", j) + 1
        return m[i:j].decode()


def queue_dir(inst):
    return os.path.join(inst.data_dir, "queue", "msg")


def queue_ids(inst):
    try:
        return sorted(n for n in os.listdir(queue_dir(inst))
                      if not n.startswith("."))
    except FileNotFoundError:
        return []


def queued(inst):
    """The queued messages, read by QueueFile and by the daemon's own
    reader (`popgate queue list`, which opens each file as the delivery
    does): both must take every file and agree on it."""
    files = [QueueFile(os.path.join(queue_dir(inst), n))
             for n in queue_ids(inst)]
    if files:
        rows = {}
        for row in inst.cli_json("queue", "list"):
            rows.setdefault(row["id"], []).append(row)
        for q in files:
            got = rows.get(q.id)
            if got is None:
                continue        # delivered between the two readings
            assert all(r["state"] != "damaged" for r in got), got
            assert [r["recipient"] for r in got] == q.rcpts, (got, q.rcpts)
            assert {r["sender"] for r in got} == {q.sender or "<>"}, got
            size = len(q.message) + q.message.count(b"\n")
            assert {r["size"] for r in got} == {size}, (got, size)
    return files


def maildir_new(inst, address):
    d = os.path.join(inst.maildir(address), "new")
    try:
        return sorted(os.listdir(d))
    except FileNotFoundError:
        return []


def read_maildir(inst, address):
    d = os.path.join(inst.maildir(address), "new")
    return [open(os.path.join(d, n), "rb").read()
            for n in maildir_new(inst, address)]


# ---- the log ----

def log_lines(inst, since=0, pattern=None):
    lines = inst.log(since).splitlines()
    if pattern is None:
        return lines
    return [l for l in lines if re.search(pattern, l)]


def wait_log(inst, pattern, since=0, timeout=5):
    """The first log line matching PATTERN (regex), waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        got = log_lines(inst, since, pattern)
        if got:
            return got[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no log line matching {pattern!r}:\n"
                        f"{inst.log(since)[-4000:]}")
        time.sleep(0.02)


def log_size(inst):
    try:
        return os.path.getsize(inst.log_path)
    except FileNotFoundError:
        return 0
