"""pop3_helpers.py - what the POP3 black-box tests share.

    c = Client(inst.ports["pop3"], source="127.0.0.2")  # reads the greeting
    c.ok("USER ann@acme.test"); c.ok("PASS s3cret")     # or c.login(...)
    body = c.retr(1)        # the octets RETR sent, unstuffed, terminator off
    c.err("RETR 0")         # asserts "-ERR", returns the line
    c.send(b"NOOP\r\nNOOP\r\n"); c.line(); c.line()     # pipelining
    c.starttls()            # STLS + handshake
    assert c.closed()       # the server hung up

Maildir files are written straight into new/ or cur/ with put_file();
retr_form() is what RETR must send for a file (bare LF -> CRLF, a final
line end added), before dot-stuffing.

start_pop3(make_instance) starts an instance with ann@acme.test / s3cret
and a short auth_failure_delay.
"""
import base64
import itertools
import os
import poplib
import re
import socket
import ssl
import subprocess
import time

import pytest

import harness

USER = "ann@acme.test"
PASS = "s3cret"
TIMEOUT = 10            # seconds for any one reply (ASan is slow)

# Failed logins are answered after auth_failure_delay: keep the suite
# fast, but long enough to be measured.
FAST = {"auth_failure_delay": "1s"}

_seq = itertools.count(1)


def tls_context():
    """A client context that accepts the test run's self-signed pair."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Client:
    """A raw POP3 client on one TCP connection, reading bytes exactly as
    the server sent them. Every method fails the test on a timeout."""

    def __init__(self, port, source=None, tls=False, host="127.0.0.1",
                 timeout=TIMEOUT, greeting=True):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock,
                                                  server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line() if greeting else None

    # ---- bytes ----

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buf += chunk

    def raw_line(self):
        """The next line as sent, CRLF included."""
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        assert line.endswith(b"\r\n"), f"line without CRLF: {line!r}"
        return line

    def line(self):
        """The next line, decoded, without CRLF."""
        return self.raw_line()[:-2].decode("utf-8", "replace")

    def multi_raw(self):
        """The lines of a multi-line body as sent (still dot-stuffed),
        CRLF included, up to and without the ".\\r\\n" terminator."""
        lines = []
        while True:
            line = self.raw_line()
            if line == b".\r\n":
                return lines
            lines.append(line)

    def multi(self):
        """The lines of a multi-line body, unstuffed, without CRLF."""
        return [unstuff(l)[:-2].decode("utf-8", "replace")
                for l in self.multi_raw()]

    # ---- commands ----

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def ok(self, text):
        r = self.cmd(text)
        assert r.startswith("+OK"), f"{text!r} -> {r!r}"
        return r

    def err(self, text, start="-ERR"):
        r = self.cmd(text)
        assert r.startswith(start), f"{text!r} -> {r!r}, not {start!r}"
        return r

    def login(self, user=USER, password=PASS):
        self.ok(f"USER {user}")
        return self.ok(f"PASS {password}")

    def stat(self):
        r = self.ok("STAT").split()
        return int(r[1]), int(r[2])

    def list(self):
        """LIST as {number: size}."""
        self.ok("LIST")
        return {int(a): int(b) for a, b in (l.split() for l in self.multi())}

    def uidl(self):
        """UIDL as {number: uid}."""
        self.ok("UIDL")
        return {int(a): b for a, b in (l.split() for l in self.multi())}

    def retr(self, n):
        """The message octets RETR sent, unstuffed (the size LIST must
        report), after checking the "+OK SIZE octets" line."""
        r = self.ok(f"RETR {n}")
        body = b"".join(unstuff(l) for l in self.multi_raw())
        assert r.split()[1] == str(len(body)), \
            f"RETR {n} said {r!r} but sent {len(body)} octets"
        return body

    def top(self, n, lines):
        self.ok(f"TOP {n} {lines}")
        return b"".join(unstuff(l) for l in self.multi_raw())

    def capa(self):
        self.ok("CAPA")
        return self.multi()

    def quit(self):
        r = self.ok("QUIT")
        assert self.closed(), "QUIT did not close the connection"
        return r

    def starttls(self):
        self.ok("STLS")
        assert self.buf == b"", f"bytes after the STLS reply: {self.buf!r}"
        self.sock = tls_context().wrap_socket(self.sock,
                                              server_hostname="localhost")

    # ---- the connection ----

    def closed(self, timeout=TIMEOUT):
        """True when the server closes the connection within TIMEOUT
        (anything it still sends is collected into self.buf)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True
        finally:
            self.sock.settimeout(TIMEOUT)

    def silent(self, seconds=0.5):
        """Asserts the server sends nothing (and stays up) for SECONDS."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = None
        finally:
            self.sock.settimeout(TIMEOUT)
        assert data is None and self.buf == b"", \
            f"the server sent {self.buf + (data or b'')!r} unasked"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class POP3From(poplib.POP3):
    """poplib.POP3 from a given source address."""

    def __init__(self, host, port, source, timeout=TIMEOUT):
        self.source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))


def unstuff(line):
    return line[1:] if line.startswith(b".") else line


def retr_form(data):
    """What RETR sends for a file holding DATA, before dot-stuffing."""
    out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if data and not data.endswith(b"\n"):
        out += b"\r\n"
    return out


def top_form(data, n):
    """What TOP N sends for DATA: the headers, the blank line, N lines."""
    lines = retr_form(data).split(b"\r\n")[:-1]
    if b"" not in lines:
        return retr_form(data)
    end = lines.index(b"") + 1 + n
    return b"".join(l + b"\r\n" for l in lines[:end])


def message(subject="hello", body="Hello Ann.\n", sender="bob@example.org"):
    """A small RFC 5322 message with bare-LF line ends."""
    return (f"From: {sender}\nTo: {USER}\nSubject: {subject}\n"
            f"Message-ID: <{next(_seq)}.{time.time_ns()}@test>\n\n"
            f"{body}").encode()


def put_file(inst, data, address=USER, name=None, sub="new"):
    """Writes DATA as one message file into the Maildir of ADDRESS (in
    new/, or cur/ with a ":2," suffix) and gives it to the daemon's user.
    Returns the unique part of the name (the UIDL)."""
    md = inst.maildir(address)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    uniq = name or f"{time.time_ns()}.P{os.getpid()}Q{next(_seq)}.test"
    fname = uniq + (":2," if sub == "cur" else "")
    with open(os.path.join(md, sub, fname), "wb") as f:
        f.write(data)
    inst.chown_data()
    return uniq


def maildir_files(inst, address=USER):
    """{"new": [names], "cur": [names]} of ADDRESS's Maildir, sorted."""
    md = inst.maildir(address)
    return {d: sorted(os.listdir(os.path.join(md, d)))
            for d in ("new", "cur") if os.path.isdir(os.path.join(md, d))}


def message_files(inst, address=USER):
    """The message files of ADDRESS's Maildir, new/ and cur/ together
    (popgate leaves each where it is), sorted."""
    f = maildir_files(inst, address)
    return sorted(f.get("new", []) + f.get("cur", []))


def relay_list(inst):
    return inst.cli_json("relay", "list")


def relay_for(inst, address):
    return [e for e in relay_list(inst) if e["address"] == address]


def plain(user=USER, password=PASS, authzid=""):
    """The base64 AUTH PLAIN response."""
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()
                            ).decode()


def wait_for(cond, timeout=5, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def start_pop3(make_instance, config=None, more_mailboxes=()):
    """A started instance (from the `make_instance` fixture) with
    ann@acme.test / s3cret, a 1s auth_failure_delay unless CONFIG says
    otherwise, and MORE_MAILBOXES as (address, password, customer)."""
    inst = make_instance(config={**FAST, **(config or {})}, start=False)
    inst.setup_mailbox(USER, PASS)
    for address, password, customer in more_mailboxes:
        inst.setup_mailbox(address, password, customer=customer)
    inst.start()
    return inst


def extra_listener(make_instance, address, role="pop3", config=None):
    """A started instance with one more listener on ADDRESS ("192.0.2.2"
    or "[::1]": an address that is not 127.0.0.1, which the harness's
    listeners all use). Returns (inst, port)."""
    port = harness.free_ports(1)[0]
    inst = make_instance(config={**FAST, **(config or {})},
                         extra_lines=[f"listen = {address}:{port} {role}"],
                         start=False)
    inst.setup_mailbox(USER, PASS)
    inst.start()
    wait_for(lambda: port in inst.listening_ports(), what="the listener")
    return inst, port


def host_address(family=socket.AF_INET):
    """A non-loopback address of this host in FAMILY, or None."""
    out = subprocess.run(["ip", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    key = "inet" if family == socket.AF_INET else "inet6"
    for line in out.splitlines():
        f = line.split()
        if len(f) > 3 and f[2] == key:
            return f[3].split("/")[0]
    return None
