"""imap_helpers.py - what the IMAP black-box tests share: a raw client
that sees the exact bytes (tagged and untagged lines, literals), and
python's imaplib set up for the commands it does not know.

    c = Imap(inst.ports["imap"], source="127.0.0.2")   # reads the greeting
    r = c.cmd("LOGIN ann@acme.test s3cret")           # -> Reply
    assert r.status == "OK" and r.untagged == [...]
    c.send(b"a1 LOGIN {14}\\r\\n"); c.line()          # "+ Ready ..."

Accounts: relay_helpers.relay_instance() (ann@acme.test and the others,
password PASSWORD).
"""
import imaplib
import itertools
import socket
import ssl

TIMEOUT = 15

# imaplib refuses commands it has no state table for.
for _name, _states in (("ID", ("NONAUTH", "AUTH", "SELECTED")),
                       ("NAMESPACE", ("AUTH", "SELECTED")),
                       ("ENABLE", ("AUTH",)),
                       ("UNSELECT", ("SELECTED",)),
                       ("IDLE", ("AUTH", "SELECTED")),
                       ("MOVE", ("SELECTED",))):
    imaplib.Commands.setdefault(_name, _states)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Reply:
    """The untagged lines (text, CRLF off; literals inline) and the
    tagged line of one command."""

    def __init__(self, untagged, tagged):
        self.untagged = untagged
        self.tagged = tagged
        parts = tagged.split(" ", 2)
        self.status = parts[1] if len(parts) > 1 else ""
        self.text = parts[2] if len(parts) > 2 else ""

    def __repr__(self):
        return f"Reply({self.untagged!r}, {self.tagged!r})"


class Imap:
    """A raw IMAP client on one connection."""

    def __init__(self, port, source=None, tls=False, timeout=TIMEOUT):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.tags = (f"t{i}" for i in itertools.count(1))
        self.greeting = self.line()

    def line(self):
        """One line, with any literals it announces read inline."""
        out = b""
        while True:
            l = self.f.readline()
            assert l.endswith(b"\r\n"), f"IMAP line {l!r}"
            out += l[:-2]
            if l.rstrip().endswith(b"}") and b"{" in l:
                n = int(l[l.rindex(b"{") + 1:l.rindex(b"}")].rstrip(b"+"))
                out += b"\r\n" + self.f.read(n)
                continue
            return out.decode("utf-8", "replace")

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text, tag=None):
        """Sends TAG TEXT and reads to its tagged reply."""
        tag = tag or next(self.tags)
        self.send(f"{tag} {text}\r\n".encode())
        return self.until(tag)

    def until(self, tag):
        untagged = []
        while True:
            l = self.line()
            if l.startswith(tag + " "):
                return Reply(untagged, l)
            untagged.append(l)

    def login(self, user, password):
        r = self.cmd(f'LOGIN "{user}" "{password}"')
        assert r.status == "OK", r
        return r

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.status == "OK", r
        self.sock = tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def closed(self):
        """True when the server has closed the connection."""
        try:
            return self.f.readline() == b""
        except (ConnectionError, socket.timeout):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def imap_login(inst, user, password, source="127.0.0.1", port="imap"):
    """A LOGIN from SOURCE, then LOGOUT; the tagged reply."""
    with Imap(inst.ports[port], source=source, tls=port == "imaps") as c:
        r = c.cmd(f'LOGIN "{user}" "{password}"')
        c.cmd("LOGOUT")
        return r


# ---- for the client tests (test_imap_clients, _dovecot, _crash) ----

PASSWORD = "s3cret"
CLIENT_DOMAIN = "acme.test"


def imap_instance(users, config=None, tls=None):
    """A started harness.Instance (not through a fixture: for module
    scope) with the mailboxes USERS (local parts of CLIENT_DOMAIN,
    customer acme, password PASSWORD), TLS (cert, key) as
    harness.Instance takes it. The caller stops it (inst.stop();
    inst.cleanup())."""
    import harness
    cfg = {"auth_failure_delay": "0"}
    cfg.update(config or {})
    inst = harness.Instance(config=cfg, tls=tls)
    try:
        inst.cli("customer", "add", "acme", check=True)
        inst.cli("domain", "add", CLIENT_DOMAIN, "--customer", "acme",
                 check=True)
        for u in users:
            inst.cli("mailbox", "add", f"{u}@{CLIENT_DOMAIN}",
                     input=PASSWORD + "\n", check=True)
        inst.start()
    except BaseException:
        inst.cleanup()
        raise
    return inst


def ip_cert(directory):
    """(cert, key): a self-signed pair for CN=127.0.0.1 in DIRECTORY, for
    clients that check the host name even against a certificate they
    were told to trust (mbsync)."""
    import os
    import subprocess
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
         "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    return cert, key


def deliver(inst, rcpt, data, sender="bob@example.org"):
    """Sends DATA (bytes, CRLF) to RCPT over SMTP (smtplib, the smtp
    port); returns the time.monotonic() of the 250."""
    import smtplib
    import time
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                      local_hostname="client.test", timeout=TIMEOUT) as s:
        refused = s.sendmail(sender, [rcpt], data)
        assert refused == {}, refused
        return time.monotonic()


def mail(subject, body="Hello.\r\n", sender="Bob Example <bob@example.org>",
         to=None, msgid=None, date="Mon, 01 Jan 2024 10:00:00 +0000",
         extra=""):
    """A small RFC 5322 message (bytes, CRLF)."""
    import uuid
    msgid = msgid or f"<{uuid.uuid4().hex}@example.org>"
    to = to or f"ann@{CLIENT_DOMAIN}"
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: {msgid}\r\n{extra}\r\n"
            f"{body}").encode()


# ---- parsing IMAP data (FETCH, LIST, STATUS) ----

class Literal(bytes):
    """A literal's octets (so a value can tell literal from string)."""


def parse_sexp(data):
    """Parses IMAP response data (str or bytes; literals as "{N}\\r\\n"
    then N octets) into Python values: lists for parenthesised lists,
    str for atoms and quoted strings, Literal for literals, None for
    NIL. Atoms with a [section] keep it ("BODY[HEADER.FIELDS (A B)]"),
    and a partial "<0.10>" too. Returns the list of top-level values."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    pos = 0
    n = len(data)

    def value():
        nonlocal pos
        c = data[pos:pos + 1]
        if c == b"(":
            pos += 1
            out = []
            while True:
                while data[pos:pos + 1] == b" ":
                    pos += 1
                if data[pos:pos + 1] == b")":
                    pos += 1
                    return out
                out.append(value())
        if c == b'"':
            pos += 1
            s = bytearray()
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                s += data[pos:pos + 1]
                pos += 1
                assert pos < n, f"unterminated string in {data!r}"
            pos += 1
            return s.decode("utf-8", "replace")
        if c == b"{" or data[pos:pos + 2] == b"~{":
            if c == b"~":
                pos += 1
            end = data.index(b"}", pos)
            size = int(data[pos + 1:end].rstrip(b"+"))
            assert data[end + 1:end + 3] == b"\r\n", data[pos:end + 3]
            pos = end + 3
            lit = Literal(data[pos:pos + size])
            pos += size
            return lit
        start = pos
        depth = 0
        while pos < n:
            c = data[pos:pos + 1]
            if c == b"[":
                depth += 1
            elif c == b"]":
                depth -= 1
            elif depth == 0 and c in (b" ", b"(", b")"):
                break
            pos += 1
        atom = data[start:pos].decode("utf-8", "replace")
        assert atom, f"empty atom at {start} in {data!r}"
        return None if atom.upper() == "NIL" else atom

    out = []
    while pos < n:
        if data[pos:pos + 1] in (b" ", b"\r", b"\n"):
            pos += 1
            continue
        out.append(value())
    return out


def imaplib_join(data):
    """imaplib's response list (bytes and (head, literal) tuples) as one
    byte string with the literals inline ("{N}\\r\\n" then N octets)."""
    return b" ".join(d[0] + b"\r\n" + d[1] if isinstance(d, tuple) else d
                     for d in data if d is not None)


def fetch_items(data):
    """{seq: {ITEM (upper-case): value}} from FETCH response data: an
    imaplib response list, or untagged lines of the raw client."""
    if isinstance(data, list) and data and isinstance(data[0], str):
        vals = parse_sexp(" ".join(l[2:] for l in data
                                   if l.startswith("* ") and " FETCH " in l))
    else:
        vals = parse_sexp(imaplib_join(data))
    out = {}
    i = 0
    while i < len(vals):
        seq = int(vals[i])
        if vals[i + 1] == "FETCH":
            i += 1
        items = vals[i + 1]
        d = out.setdefault(seq, {})
        for k in range(0, len(items), 2):
            d[items[k].upper()] = items[k + 1]
        i += 2
    return out
