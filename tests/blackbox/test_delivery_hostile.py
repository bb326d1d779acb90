"""Outbound delivery against hostile remote servers (issue 13, points 1
to 3). Each hostile MX is written here (`HostileMx`, one misbehaviour
per server) and sits beside a canary destination that must keep
getting its mail:

  1. a malformed, over-long or endless reply before a transaction
     (greeting, EHLO, STARTTLS) is one logged failure: the recipients
     are deferred with a 4.x.x reason and a next try, the destination is
     held (no reconnection loop), and max_queue_lifetime is enforced by
     the scheduler even when the back-off is longer;
  2. bytes after the 220 to STARTTLS (client side of CVE-2011-0411) drop
     and defer the connection; nothing injected is used; others go on;
  3. with tls_verify_peer = yes nothing goes out in clear text: no
     STARTTLS, a refusal, a failed handshake or an untrusted certificate
     are each a 4.7.5 deferral; a certificate from tls_ca_file's CA is
     verified and delivered to.

Three instances are shared by the whole file (module fixtures): `gate`
(opportunistic TLS), `strict` (tls_verify_peer = yes) and `expiring`
(a lifetime shorter than the back-off). Retries are an hour away, so any
second connection to a hostile server is a reconnection loop.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

import harness
from delivery_helpers import (Dsn, RecordingSink, dlv_instance, log_count,
                              message, relay_send, wait_log, wait_notices,
                              wait_rows, wait_until)

SLOW = {"retry_min": "1h", "retry_max": "2h"}

# Misbehaviours before any transaction (point 1), each its own server.
PRE_TX = ["greeting-garbage", "greeting-endless", "greeting-long",
          "ehlo-endless", "ehlo-long", "starttls-garbage"]
# What tls_verify_peer = yes must defer (point 3).
NO_TLS = ["no-starttls", "starttls-refused", "handshake-fails", "untrusted"]


# ---- certificates: a CA of this file, a server certificate from it ----

def make_ca(d):
    """CA and a certificate for 127.0.0.1 signed by it, in D (readable by
    the daemon's user after its privilege drop)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True,
                       timeout=60, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-days", "3650", "-subj", "/CN=popgate test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", "mx.key",
        "-out", "mx.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "mx.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-extfile", "ext.cnf",
        "-out", "mx.pem")
    os.chmod(d, 0o755)
    for n in os.listdir(d):
        os.chmod(os.path.join(d, n), 0o644)
    return os.path.join(d, "ca.pem")


def server_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---- the hostile MX ----

class HostileMx:
    """A remote MX on loopback that misbehaves as MODE says, and is a
    plain SMTP sink otherwise. Records `opened` (one monotonic time per
    connection), `commands` (every command line, "TLS " prefixed when
    over TLS) and `messages` ((rcpts, over_tls) per accepted DATA).
    CTX: its TLS context (the CA-signed one, or an untrusted one)."""

    def __init__(self, mode, ctx):
        self.mode, self.ctx = mode, ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.opened, self.commands, self.messages = [], [], []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def connections(self):
        with self.lock:
            return len(self.opened)

    def mail_commands(self):
        with self.lock:
            return [c for c in self.commands
                    if re.match(r"(TLS )?MAIL ", c, re.I)]

    def stop(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.opened.append(time.monotonic())
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        c.settimeout(10)
        try:
            self._script(c)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    @staticmethod
    def _flood(c, line):
        """An endless reply: LINE over and over until the client hangs
        up (bounded, should it never)."""
        for _ in range(2000):
            c.sendall(line * 64)

    def _script(self, c):
        m = self.mode
        if m == "greeting-garbage":
            c.sendall(b"hello, this is no SMTP server\r\n")
        elif m == "greeting-endless":
            self._flood(c, b"220-and there is more\r\n")
        elif m == "greeting-long":
            c.sendall(b"220 " + b"x" * 20000 + b"\r\n")
        else:
            c.sendall(b"220 hostile.test ESMTP\r\n")
        self._session(c, c.makefile("rb"), False)

    def _session(self, c, f, tls):
        m = self.mode
        while True:
            line = f.readline(8192)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            with self.lock:
                self.commands.append(("TLS " if tls else "") + cmd)
            if verb in ("EHLO", "HELO"):
                if m == "ehlo-endless":
                    self._flood(c, b"250-HOSTILE\r\n")
                    return
                if m == "ehlo-long":
                    c.sendall(b"250-" + b"y" * 20000 + b"\r\n250 OK\r\n")
                    continue
                ext = [b"PIPELINING", b"8BITMIME"]
                if m != "no-starttls" and not tls:
                    ext.append(b"STARTTLS")
                lines = [b"hostile.test"] + ext
                c.sendall(b"".join(
                    b"250" + (b" " if i == len(lines) - 1 else b"-") + l +
                    b"\r\n" for i, l in enumerate(lines)))
            elif verb == "STAR":
                if m == "starttls-garbage":
                    c.sendall(b"what do you mean, TLS?\r\n")
                    continue
                if m == "starttls-refused":
                    c.sendall(b"454 4.7.0 TLS not available\r\n")
                    continue
                if m == "starttls-inject":
                    # One packet: the 220 and a reply to a command the
                    # client has not sent yet (CVE-2011-0411).
                    c.sendall(b"220 2.0.0 Ready to start TLS\r\n"
                              b"250 2.1.0 injected\r\n")
                else:
                    c.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                if m == "handshake-fails":
                    c.recv(4096)                    # the ClientHello
                    c.sendall(b"this is not TLS at all\r\n" * 8)
                    return
                t = self.ctx.wrap_socket(c, server_side=True)
                return self._session(t, t.makefile("rb"), True)
            elif verb == "MAIL":
                c.sendall(b"250 2.1.0 Ok\r\n")
                rcpts = []
            elif verb == "RCPT":
                rcpts.append(cmd[cmd.index("<") + 1:cmd.index(">")])
                c.sendall(b"250 2.1.5 Ok\r\n")
            elif verb == "DATA":
                c.sendall(b"354 go ahead\r\n")
                while f.readline(65536) not in (b".\r\n", b""):
                    pass
                with self.lock:
                    self.messages.append((rcpts, tls))
                c.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == "QUIT":
                c.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                c.sendall(b"250 2.0.0 Ok\r\n")


# ---- the shared instances ----

class World:
    """The servers and instances of this file."""

    def __init__(self, tls_files):
        self.dir = tempfile.mkdtemp(dir="/tmp", prefix="popgate-hostile-")
        self.ca = make_ca(self.dir)
        good = server_ctx(os.path.join(self.dir, "mx.pem"),
                          os.path.join(self.dir, "mx.key"))
        # The run's self-signed pair: a certificate no CA here vouches for.
        untrusted = server_ctx(*tls_files)
        self.mx = {}
        for mode in PRE_TX + ["starttls-inject", "trusted"] + NO_TLS:
            self.mx[mode] = HostileMx(mode, untrusted if mode == "untrusted"
                                      else good)
        self.mx["garbage-held"] = HostileMx("greeting-garbage", good)
        self.expiring_mx = HostileMx("greeting-garbage", good)
        self.canary = RecordingSink().start()
        self.made = []
        self.tls_files = tls_files

    def make(self, config=None, extra_lines=None, listeners=None,
             start=True):
        inst = harness.Instance(config=config, extra_lines=extra_lines,
                                listeners=listeners, tls=self.tls_files)
        self.made.append(inst)
        if start:
            inst.start()
        return inst

    def close(self):
        try:
            for inst in self.made:
                if inst.running:
                    inst.stop()
        finally:
            for inst in self.made:
                inst.cleanup()
            for mx in list(self.mx.values()) + [self.expiring_mx]:
                mx.stop()
            self.canary.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def world(tls_files):
    w = World(tls_files)
    yield w
    w.close()


def domain(mode):
    return f"{mode}.test"


@pytest.fixture(scope="module")
def gate(world):
    routes = {domain(m): mx for m, mx in world.mx.items()}
    routes["canary.test"] = world.canary
    return dlv_instance(world.make, config=SLOW, routes=routes)


@pytest.fixture(scope="module")
def strict(world):
    routes = {domain(m): world.mx[m] for m in NO_TLS + ["trusted"]}
    cfg = dict(SLOW, tls_verify_peer="yes", tls_ca_file=world.ca)
    return dlv_instance(world.make, config=cfg, routes=routes)


@pytest.fixture(scope="module")
def expiring(world):
    cfg = dict(SLOW, max_queue_lifetime="4s")
    return dlv_instance(world.make, config=cfg,
                        routes={"expiring.test": world.expiring_mx})


def deferred(inst, qid, timeout=10):
    """The queue row of QID once deferred; every row of every message
    then has a next try (the invariant of point 1)."""
    rows = wait_rows(inst, lambda rows: any(
        r["id"] == qid and r["state"] == "deferred" for r in rows),
        timeout=timeout, what=f"{qid} deferred")
    for r in rows:
        assert r["state"] != "deferred" or r["next_try"], r
    [row] = [r for r in rows if r["id"] == qid]
    assert int(row["attempts"]) == 1 and row["next_try"], row
    return row


def canary_goes_on(inst, sink, tag):
    """A message to the canary destination arrives meanwhile."""
    rcpt = f"{tag}@canary.test"
    relay_send(inst, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    wait_until(lambda: any(rcpt in m.rcpts for m in sink.messages),
               timeout=10, what=f"the canary message to {rcpt}")


def no_transaction(mx):
    assert mx.mail_commands() == [] and mx.messages == [], mx.commands


# ---- 1. no error path loops or strands mail ----

@pytest.mark.parametrize("mode", PRE_TX)
def test_bad_reply_before_a_transaction_defers_once(world, gate, mode):
    mx = world.mx[mode]
    rcpt = f"bob@{domain(mode)}"
    qid = relay_send(gate, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    row = deferred(gate, qid)
    assert re.match(r"451 4\.5\.0 protocol error from \S+\[127\.0\.0\.1\]:"
                    rf"{mx.port} \(", row["last_error"]), row
    wait_log(gate, rf"delivery to={re.escape(domain(mode))} failed "
             r"state=\w+: 451 4\.5\.0 protocol error")
    wait_log(gate, rf"qid={qid} delivery to=<{re.escape(rcpt)}> .*"
             r"attempts=1 status=deferred dsn=4\.5\.0")
    canary_goes_on(gate, world.canary, mode)
    # One connection: no reconnection loop while the destination is held.
    assert mx.connections == 1, mx.connections
    no_transaction(mx)


def test_a_failed_destination_is_held(world, gate):
    """Back-off per destination: after a failed connection, more mail
    for it is deferred with the same reason, without a new connection."""
    mx = world.mx["garbage-held"]
    rcpt = f"bob@{domain('garbage-held')}"
    first = relay_send(gate, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    reason = deferred(gate, first)["last_error"]
    wait_log(gate, r"delivery to=garbage-held\.test held for \d+s after 1 "
             r"failed connection")
    second = relay_send(gate, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    assert deferred(gate, second)["last_error"] == reason
    assert mx.connections == 1, mx.connections


def test_lifetime_is_enforced_by_the_scheduler(world, expiring):
    """The back-off (an hour) is longer than max_queue_lifetime (4s):
    the message still bounces at expiry, after its one attempt."""
    qid = relay_send(expiring, "ann@acme.test", ["bob@expiring.test"],
                     message(subject="never delivered",
                             rcpt="bob@expiring.test"))
    deferred(expiring, qid)
    [msg] = wait_notices(expiring, "ann@acme.test", 1, timeout=20)
    r = Dsn(msg).recipient("bob@expiring.test")
    assert r["Action"] == "failed" and r["Status"] == "5.4.7", r
    assert "expired" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    assert "protocol error" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    wait_log(expiring, rf"qid={qid} delivery to=<bob@expiring\.test> "
             r"status=expired")
    wait_rows(expiring, lambda rows: not rows, what="an empty queue")
    assert world.expiring_mx.connections == 1


# ---- 2. one hostile destination never stalls the others ----

def test_starttls_injection_is_dropped_and_others_go_on(world, gate):
    mx = world.mx["starttls-inject"]
    rcpt = f"bob@{domain('starttls-inject')}"
    qid = relay_send(gate, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    row = deferred(gate, qid)
    assert row["last_error"].startswith("451 4.5.0 protocol error"), row
    assert "data after its 220 reply to STARTTLS" in row["last_error"], row
    canary_goes_on(gate, world.canary, "after-injection")
    # Nothing after the injection: no handshake used, no transaction.
    assert not any(c.startswith("TLS ") for c in mx.commands), mx.commands
    no_transaction(mx)
    assert mx.connections == 1, mx.connections


# ---- 3. tls_verify_peer = yes means no clear text ----

@pytest.mark.parametrize("mode", NO_TLS)
def test_verify_peer_never_falls_back_to_clear_text(world, strict, mode):
    mx = world.mx[mode]
    rcpt = f"bob@{domain(mode)}"
    qid = relay_send(strict, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    row = deferred(strict, qid)
    assert row["last_error"].startswith("451 4.7.5 "), row
    wait_log(strict, rf"qid={qid} delivery to=<{re.escape(rcpt)}> .*"
             r"status=deferred dsn=4\.7\.5")
    no_transaction(mx)
    assert mx.connections == 1, mx.connections


def test_verify_peer_against_tls_ca_file(world, strict):
    """The canary of the strict instance: a certificate for 127.0.0.1
    from tls_ca_file's CA is verified, and the mail goes over TLS."""
    mx = world.mx["trusted"]
    rcpt = f"bob@{domain('trusted')}"
    qid = relay_send(strict, "ann@acme.test", [rcpt], message(rcpt=rcpt))
    wait_log(strict, rf"qid={qid} delivery to=<{re.escape(rcpt)}> .*"
             r"status=sent")
    assert mx.messages == [([rcpt], True)], mx.messages
    line = wait_log(strict, r"delivery tls peer=\S+:%d " % mx.port)
    assert "verify=yes" in line, line
    assert all(c.startswith("TLS ") for c in mx.mail_commands()), \
        mx.commands
    assert log_count(strict, rf"peer=\S+:{mx.port} failed; retrying "
                     r"without TLS") == 0
