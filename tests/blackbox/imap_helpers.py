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
