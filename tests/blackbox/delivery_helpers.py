"""delivery_helpers.py - what the outbound delivery tests
(test_delivery*.py) share: an instance with accounts and fast retry
settings, a raw SMTP client, POP3 login (opens the relay), a recording
SMTP sink, the queue (through `popgate queue list --json`), Maildirs and
the DSNs popgate writes into them.

    sink = RecordingSink().start()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"], body)
    assert sink.wait_for(1)
    wait_rows(inst, lambda rows: not rows)          # queue empty
    [dsn] = wait_notices(inst, "ann@acme.test", 1)  # parsed bounce

Accounts: customer acme owns acme.test with mailboxes ann and bob
(password PASSWORD). Standard library only.
"""
import email
import email.policy
import os
import re
import shutil
import socket
import tempfile
import threading
import atexit
import time

import pytest

from smtpsink import SmtpSink

PASSWORD = "s3cret"
HOSTNAME = "mail.test.example"
TIMEOUT = 20            # seconds for one reply (ASan is slow)
MAILBOXES = ["ann@acme.test", "bob@acme.test"]

# Short delivery timings unless a test says otherwise.
FAST = {
    "auth_failure_delay": "0",
    "retry_min": "1s",
    "retry_max": "2s",
    "max_queue_lifetime": "1h",
    "delay_warning": "0",
    "connect_timeout": "3s",
}

_template = None


def _cleanup_template():
    if _template is not None:
        shutil.rmtree(_template, ignore_errors=True)


atexit.register(_cleanup_template)


def transport_lines(routes):
    """`transport` lines for ROUTES ({domain: sink or port})."""
    lines = []
    for dom, dest in (routes or {}).items():
        port = dest.port if hasattr(dest, "port") else int(dest)
        lines.append(f"transport {dom} = 127.0.0.1:{port}")
    return lines


def dlv_instance(make_instance, config=None, extra_lines=None, routes=None,
                 aliases=None, start=True):
    """An instance with MAILBOXES (made with the CLI once per run, then
    copied), FAST settings overridden by CONFIG, a `transport` line per
    ROUTES entry ({domain: sink or port}), ALIASES ({alias: [targets]})
    added with the CLI, started unless START is false."""
    global _template
    cfg = dict(FAST)
    cfg.update(config or {})
    lines = list(extra_lines or []) + transport_lines(routes)
    inst = make_instance(config=cfg, extra_lines=lines, start=False)
    if _template is None:
        for addr in MAILBOXES:
            inst.setup_mailbox(addr, PASSWORD)
        tmp = tempfile.mkdtemp(dir="/tmp", prefix="popgate-dlv-tmpl-")
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
    for alias, targets in (aliases or {}).items():
        inst.cli("alias", "add", alias, *targets, check=True)
    if start:
        inst.start()
    return inst


def wait_until(fn, timeout=15, interval=0.05, what=None):
    """Polls FN until it returns something true; returns it. Fails the
    test after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for "
                        f"{what or fn}")
        time.sleep(interval)


def closed_port():
    """A loopback port where nothing listens (connections are refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- SMTP client ----

class Smtp:
    """A raw SMTP client: exact bytes on the wire."""

    def __init__(self, port, source="127.0.0.1", timeout=TIMEOUT):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0))
        self.f = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        lines = []
        while True:
            l = self.f.readline()
            assert l.endswith(b"\r\n"), f"SMTP reply line {l!r}"
            l = l[:-2].decode("utf-8", "replace")
            lines.append(l)
            if len(l) < 4 or l[3] == " ":
                return "\n".join(lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def expect(self, line, prefix):
        r = self.cmd(line)
        assert r.startswith(prefix), f"{line!r}: {r!r}"
        return r

    def mail(self, sender, rcpts, data, params=""):
        """One transaction. DATA is the message as bytes with CRLF line
        ends, not dot-stuffed (this does it). Returns the queue id."""
        self.expect(f"MAIL FROM:<{sender}>{params}", "250")
        for r in rcpts:
            self.expect(f"RCPT TO:<{r}>", "250")
        self.expect("DATA", "354")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        stuffed = re.sub(rb"(?m)^\.", b"..", data)
        self.sock.sendall(stuffed + b".\r\n")
        r = self.reply()
        m = re.match(r"^250 2\.0\.0 Ok: queued as ([0-9a-f]+)$", r)
        assert m, f"end of DATA: {r!r}"
        return m.group(1)

    def close(self):
        try:
            self.cmd("QUIT")
        except (OSError, AssertionError):
            pass
        self.f.close()
        self.sock.close()

    def __enter__(self):
        self.expect("EHLO client.test", "250")
        return self

    def __exit__(self, *exc):
        self.close()


def pop3_login(inst, user, password=PASSWORD, source="127.0.0.1"):
    """A POP3 USER/PASS login from SOURCE (opens the relay for it)."""
    sock = socket.create_connection(("127.0.0.1", inst.ports["pop3"]),
                                    timeout=TIMEOUT,
                                    source_address=(source, 0))
    f = sock.makefile("rb")
    try:
        def cmd(text):
            if text is not None:
                sock.sendall(text.encode() + b"\r\n")
            return f.readline().decode()
        assert cmd(None).startswith("+OK")
        assert cmd(f"USER {user}").startswith("+OK")
        r = cmd(f"PASS {password}")
        assert r.startswith("+OK"), f"POP3 login of {user}: {r}"
        cmd("QUIT")
    finally:
        f.close()
        sock.close()


def message(subject="delivery test", body=b"hello\r\n", sender="ann@acme.test",
            rcpt="bob@example.org", extra=b""):
    """A small message (bytes, CRLF)."""
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@acme.test>\r\n"
            ).encode() + extra + b"\r\n" + body


def relay_send(inst, sender, rcpts, data=None, login=True, params="",
               port="smtp"):
    """Sends one message from 127.0.0.1 after a POP3 login of SENDER
    (LOGIN false: no login, e.g. to a hosted alias). The queue id."""
    if login:
        pop3_login(inst, sender)
    if data is None:
        data = message(sender=sender, rcpt=rcpts[0])
    with Smtp(inst.ports[port]) as c:
        return c.mail(sender, rcpts, data, params)


# ---- the sink ----

class _Tap:
    """A socket as SmtpSink._serve uses it: records the command lines
    read, and plays the sink's extra tricks (refuse_ehlo,
    drop_after_dot)."""

    def __init__(self, sock, sink, cid):
        self._sock, self._sink, self._cid = sock, sink, cid
        self._file = None

    def makefile(self, mode):
        self._file = _TapFile(self._sock.makefile(mode), self._sink,
                              self._cid, self._sock)
        return self._file

    def sendall(self, data):
        if data.startswith(b"354") and self._file is not None:
            self._file.in_data = True
        return self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _TapFile:
    def __init__(self, f, sink, cid, sock):
        self._f, self._sink, self._cid, self._sock = f, sink, cid, sock
        self.in_data = False

    def readline(self):
        l = self._f.readline()
        sink = self._sink
        # Commands only (not the message lines between 354 and ".").
        if self.in_data:
            if l == b".\r\n":
                self.in_data = False
                with sink.lock:
                    drop = sink.drop_after_dot > 0
                    if drop:
                        sink.drop_after_dot -= 1
                if drop:
                    # The whole message came, and then the line drops
                    # before any reply.
                    try:
                        self._sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return b""
        elif l:
            cmd = l.rstrip(b"\r\n").decode("utf-8", "replace")
            with sink.lock:
                sink.commands.append((self._cid, cmd))
            if sink.refuse_ehlo and cmd[:4].upper() == "EHLO":
                return b"XEHL\r\n"      # the sink answers 502
        return l

    def close(self):
        self._f.close()


class RecordingSink(SmtpSink):
    """SmtpSink that also records every command line it reads:
    `commands` [(connection number, line)]; counts connections open at
    once (`active`, `max_active`) and when each was open (`spans`, the
    monotonic clock). refuse_ehlo: answer EHLO with 502.
    drop_after_dot: that many times, close the connection after the
    final "." without a reply."""

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.commands = []
        self.refuse_ehlo = False
        self.drop_after_dot = 0
        self.active = 0
        self.max_active = 0
        self.spans = []         # (opened, closed) per connection
        # SmtpSink advertises a bare "SIZE" by default; popgate misreads
        # that (see test_bare_size_keyword), so the other tests give the
        # sink an explicit, generous limit.
        self.size = 64 * 1024 * 1024

    def _serve(self, c, cid):
        opened = time.monotonic()
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            super()._serve(_Tap(c, self, cid), cid)
        finally:
            with self.lock:
                self.active -= 1
                self.spans.append((opened, time.monotonic()))

    def cmds(self, verb):
        with self.lock:
            return [l for _, l in self.commands
                    if l.upper().startswith(verb)]


class SinkSet:
    """Sinks to stop at the end of a test (a fixture uses it)."""

    def __init__(self):
        self.sinks = []

    def __call__(self, host="127.0.0.1", port=0):
        s = RecordingSink(host, port).start()
        self.sinks.append(s)
        return s

    def stop(self):
        for s in self.sinks:
            s.stop()


# ---- the queue ----

def queue_rows(inst):
    """`popgate queue list --json`: one dict per recipient."""
    return inst.cli_json("queue", "list")


def rows_of(inst, qid):
    return {r["recipient"]: r for r in queue_rows(inst) if r["id"] == qid}


def wait_rows(inst, pred, timeout=15, what=None):
    """Polls `queue list` until PRED(rows) is true; returns the rows."""
    last = []

    def check():
        last[:] = [queue_rows(inst)]
        return pred(last[0])
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"queue never reached {what or pred}: {last[0]}\n"
                        f"{inst.log()[-3000:]}")
        time.sleep(0.1)
    return last[0]


def queue_files(inst):
    d = os.path.join(inst.data_dir, "queue", "msg")
    try:
        return sorted(n for n in os.listdir(d) if not n.startswith("."))
    except FileNotFoundError:
        return []


def wait_queue_empty(inst, timeout=15):
    wait_until(lambda: not queue_files(inst), timeout,
               what="an empty queue")


# ---- Maildirs and notices ----

def maildir_messages(inst, address):
    """The messages in ADDRESS's Maildir new/ (bytes), oldest name
    first."""
    d = os.path.join(inst.maildir(address), "new")
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            out.append(f.read())
    return out


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def notices(inst, address):
    """The DSNs (multipart/report) in ADDRESS's Maildir, parsed."""
    return [parse(m) for m in maildir_messages(inst, address)
            if b"report-type=delivery-status" in m]


def wait_notices(inst, address, n, timeout=15):
    return wait_until(lambda: len(notices(inst, address)) >= n and
                      notices(inst, address), timeout,
                      what=f"{n} notice(s) for {address}")


class Dsn:
    """The parts of an RFC 3464 notice: MSG (the whole), TEXT, the
    per-message fields, RECIPIENTS (list of field blocks), HEADERS (the
    returned header section, text), RETURNED (its content type:
    text/rfc822-headers, or message/rfc822 for the whole message, then
    in FULL, bytes)."""

    def __init__(self, msg):
        assert msg.get_content_type() == "multipart/report", \
            msg.get_content_type()
        assert msg.get_param("report-type") == "delivery-status"
        parts = msg.get_payload()
        assert len(parts) == 3, [p.get_content_type() for p in parts]
        types = [p.get_content_type() for p in parts]
        assert types[:2] == ["text/plain", "message/delivery-status"] and \
            types[2] in ("text/rfc822-headers", "message/rfc822"), types
        self.msg = msg
        self.text = parts[0].get_content()
        blocks = parts[1].get_payload()
        self.fields = blocks[0]
        self.recipients = blocks[1:]
        self.returned = types[2]
        self.full = None
        if types[2] == "message/rfc822":
            inner = parts[2].get_payload()[0]
            self.full = inner.as_bytes()
            self.headers = "".join(f"{k}: {v}\n"
                                   for k, v in inner.items())
        else:
            self.headers = parts[2].get_payload(decode=True).decode(
                "utf-8", "replace")

    def recipient(self, address):
        for b in self.recipients:
            if b["Final-Recipient"].split(";", 1)[1].strip() == address:
                return b
        raise AssertionError(f"no Final-Recipient {address} in "
                             f"{[str(b['Final-Recipient']) for b in self.recipients]}")

    def final_recipients(self):
        return sorted(b["Final-Recipient"].split(";", 1)[1].strip()
                      for b in self.recipients)


def log_since(inst, offset):
    return inst.log(offset)


def log_size(inst):
    try:
        return os.path.getsize(inst.log_path)
    except FileNotFoundError:
        return 0


def wait_log(inst, pattern, since=0, timeout=15):
    """The first log line (from byte SINCE) matching the regex PATTERN."""
    rx = re.compile(pattern)

    def find():
        for l in inst.log(since).splitlines():
            if rx.search(l):
                return l
        return None
    deadline = time.monotonic() + timeout
    while True:
        l = find()
        if l:
            return l
        if time.monotonic() > deadline:
            pytest.fail(f"no log line matching {pattern!r}:\n"
                        f"{inst.log(since)[-3000:]}")
        time.sleep(0.05)


def log_count(inst, pattern, since=0):
    rx = re.compile(pattern)
    return sum(1 for l in inst.log(since).splitlines() if rx.search(l))


def can_bind(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Counter:
    """A thread-safe counter for sink reply scripts."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.n += 1
            return self.n


@pytest.fixture
def sinks():
    """sinks() -> a started RecordingSink; all stopped afterwards."""
    s = SinkSet()
    yield s
    s.stop()
