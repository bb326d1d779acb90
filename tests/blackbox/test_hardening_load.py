"""Load (issue 8, point 4; SPEC 3 "a cap on concurrent connections in
total and per client IP, a cap on errors per session"):

- thousands of idle connections (from 50 loopback addresses), 20
  slowloris clients (one byte per second) and 20 clients flooding bad
  commands: a normal client's whole transaction (EHLO, MAIL, RCPT, DATA,
  QUIT) and a POP3 login still complete within TRANSACTION_BOUND, and
  the daemon's resident memory stays under RSS_BOUND; when they all
  leave, its descriptors go back to where they were;
- max_connections_per_ip holds: the 6th connection from one address
  (SMTP and POP3 listeners together) gets 421 4.7.0 / -ERR [SYS/TEMP],
  other addresses are served, and a slot freed is a slot again;
- max_connections holds over all addresses.

The big test opens 5 000 connections (a few seconds under ASan on two
cores) and keeps the load up for 6 s; POPGATE_LOAD_FULL=1 keeps it up
for a minute. With a descriptor limit below ~5 400 it opens fewer.
"""
import os
import re
import selectors
import socket
import threading
import time

import pytest

import harness
from hardening_helpers import (QUEUED_RE, Session, first_line,
                               hardening_instance,
                               make_message, pop3_login, raise_nofile,
                               status_kib, wait_until)

FULL = os.environ.get("POPGATE_LOAD_FULL") == "1"
CONNECTIONS = 5000
SLOWLORIS = 20
FLOODERS = 20
# How long the load is kept up while normal clients are timed.
LOAD_SECONDS = 60 if FULL else 6
SOURCES = [f"127.0.0.{i}" for i in range(2, 52)]
TRANSACTION_BOUND = 10.0        # seconds, generous: ASan, a busy machine
# KiB. Under ASan freed memory sits in its quarantine (256 MiB by
# default), which would be measured as the daemon's: the test runs the
# daemon with a small one.
RSS_BOUND_ASAN = 300 * 1024
RSS_BOUND = 100 * 1024
ASAN_QUARANTINE = "quarantine_size_mb=16"


def is_asan(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def open_idle(port, n, sources):
    """N connections to PORT, round-robin over SOURCES, each greeted.
    Returns (sockets, {greeting: count})."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources[i % len(sources)], 0))
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    greetings = {}
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    deadline = time.monotonic() + 60
    waiting = len(socks)
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                chunk = s.recv(512)
            except OSError:
                chunk = b""
            bufs[s] += chunk
            if b"\r\n" in bufs[s] or not chunk:
                g = bufs[s].split(b"\r\n", 1)[0].decode("utf-8", "replace")
                greetings[g[:3] if g else "EOF"] = \
                    greetings.get(g[:3] if g else "EOF", 0) + 1
                sel.unregister(s)
                waiting -= 1
    sel.close()
    if waiting:
        greetings["none"] = waiting
    return socks, greetings


class Slowloris(threading.Thread):
    """SLOWLORIS connections that each send one byte per second: a
    never-ending EHLO, then NOOPs."""

    def __init__(self, port, n):
        super().__init__(daemon=True, name="slowloris")
        self.port = port
        self.n = n
        self.stop = threading.Event()
        self.sent = 0
        self.socks = []

    def run(self):
        text = b"EHLO slowloris.test\r\n" + b"NOOP\r\n" * 1000
        for i in range(self.n):
            try:
                s = socket.create_connection(
                    ("127.0.0.1", self.port), timeout=5,
                    source_address=(f"127.0.2.{i + 1}", 0))
                s.setblocking(False)
                self.socks.append(s)
            except OSError:
                pass
        pos = 0
        while not self.stop.wait(1.0):
            for s in self.socks:
                try:
                    s.send(text[pos:pos + 1])
                    try:
                        s.recv(4096)
                    except BlockingIOError:
                        pass
                except OSError:
                    pass
            pos = (pos + 1) % len(text)
            self.sent += 1

    def open_count(self):
        """How many of the connections the server has not closed."""
        n = 0
        for s in self.socks:
            try:
                if s.recv(4096, socket.MSG_PEEK) == b"":
                    continue
            except BlockingIOError:
                pass
            except OSError:
                continue
            n += 1
        return n

    def close(self):
        self.stop.set()
        self.join(5)
        for s in self.socks:
            s.close()


class Flooder(threading.Thread):
    """Sends bad commands as fast as the replies come; reconnects each
    time the server gives up on it (max_errors)."""

    def __init__(self, port, i):
        super().__init__(daemon=True, name=f"flooder-{i}")
        self.port = port
        self.source = f"127.0.3.{i + 1}"
        self.stop = threading.Event()
        self.commands = 0
        self.disconnects = 0
        self.replies = {}

    def run(self):
        while not self.stop.is_set():
            try:
                s = Session(self.port, source=self.source, timeout=10)
            except Exception:
                time.sleep(0.1)
                continue
            try:
                while not self.stop.is_set():
                    r = s.cmd("XBAD \x01 not a command at all")
                    self.commands += 1
                    self.replies[r[:3]] = self.replies.get(r[:3], 0) + 1
                    if r.startswith("421"):
                        break
            except Exception:
                pass
            finally:
                s.close()
                self.disconnects += 1


def normal_transaction(inst, mid):
    """A whole SMTP transaction and a POP3 login; (seconds, reply)."""
    t = time.monotonic()
    with Session(inst.ports["smtp"], source="127.0.0.200",
                 timeout=TRANSACTION_BOUND * 3) as s:
        s.ehlo()
        r = s.transaction("sender@example.net", ["ann@acme.test"],
                          make_message(mid))
        q = s.cmd("QUIT")
        assert q.startswith("221"), q
    p = pop3_login(inst.ports["pop3"], "bob@acme.test", source="127.0.0.201",
                   timeout=TRANSACTION_BOUND * 3)
    assert p.startswith("+OK"), p
    return time.monotonic() - t, r


def test_thousands_of_connections_slowloris_and_floods(make_instance,
                                                      monkeypatch):
    have = raise_nofile(CONNECTIONS + 400)
    # Fewer when this process (and so the daemon) may not have that
    # many descriptors.
    conns = min(CONNECTIONS, have - 400)
    if conns < 1000:
        pytest.skip(f"descriptor limit {have}: too low for a load test")
    asan = is_asan(harness.BIN)
    if asan:
        opts = os.environ.get("ASAN_OPTIONS",
                              harness.SAN_ENV["ASAN_OPTIONS"])
        if "quarantine_size_mb" not in opts:
            monkeypatch.setenv("ASAN_OPTIONS", f"{opts}:{ASAN_QUARANTINE}")
    rss_bound = RSS_BOUND_ASAN if asan else RSS_BOUND
    inst = hardening_instance(make_instance, config={
        "max_connections": "6000",
        "max_connections_per_ip": "100000",
        "smtp_timeout": "10m",
    })
    base_fds = inst.fd_count()
    rss0 = status_kib(inst.pid)
    idle_t, base_t = normal_transaction(inst, "baseline")
    assert QUEUED_RE.match(base_t), base_t

    t0 = time.monotonic()
    slow = Slowloris(inst.ports["smtp"], SLOWLORIS)
    slow.start()
    flooders = [Flooder(inst.ports["smtp"], i) for i in range(FLOODERS)]
    for f in flooders:
        f.start()
    socks = []
    try:
        socks, greetings = open_idle(inst.ports["smtp"], conns, SOURCES)
        opened = time.monotonic() - t0
        assert greetings == {"220": conns}, greetings
        rss_loaded = status_kib(inst.pid)
        times = []
        # Normal clients, one after the other, while the load goes on.
        load_end = time.monotonic() + LOAD_SECONDS
        i = 0
        while time.monotonic() < load_end or i < 3:
            t, r = normal_transaction(inst, f"under-load-{i}")
            assert QUEUED_RE.match(r), f"under load: {r!r}"
            times.append(t)
            rss_loaded = max(rss_loaded, status_kib(inst.pid))
            i += 1
            time.sleep(0.5)
        flood_cmds = sum(f.commands for f in flooders)
        flood_kicks = sum(f.disconnects for f in flooders)
        hwm = status_kib(inst.pid, "VmHWM")
        fds = inst.fd_count()
        print(f"\nload: {conns} idle connections opened and greeted in "
              f"{opened:.1f}s; transaction+login {idle_t:.2f}s idle, under "
              f"load {len(times)} times over {LOAD_SECONDS}s: max "
              f"{max(times):.2f}s, mean {sum(times) / len(times):.2f}s; "
              f"RSS {rss0 // 1024} MiB idle, {rss_loaded // 1024} MiB "
              f"loaded ({(rss_loaded - rss0) / conns:.1f} KiB per "
              f"connection; VmHWM {hwm // 1024} MiB{', ASan' if asan else ''}"
              f"); floods: {flood_cmds} bad commands, {flood_kicks} "
              f"disconnects; slowloris {slow.sent} bytes each; daemon fds "
              f"{fds}")
        assert max(times) < TRANSACTION_BOUND, times
        assert rss_loaded < rss_bound, \
            f"RSS {rss_loaded} KiB under load (bound {rss_bound})"
        codes = {}
        for f in flooders:
            for code, n in list(f.replies.items()):
                codes[code] = codes.get(code, 0) + n
        assert flood_cmds > 0 and codes.get("421", 0) > 0, \
            f"the floods were not cut off after max_errors: {codes}"
        # Every session is still there (none dropped under load), the
        # slowloris ones included.
        assert fds >= base_fds + conns + SLOWLORIS, fds
        assert slow.open_count() == SLOWLORIS
    finally:
        slow.close()
        for f in flooders:
            f.stop.set()
        for f in flooders:
            f.join(15)
        for s in socks:
            s.close()
    # All gone: the daemon lets go of every descriptor and still serves.
    inst.wait_fds(base_fds + 5, timeout=60)
    t, r = normal_transaction(inst, "after-load")
    assert QUEUED_RE.match(r), r
    assert not any(f.is_alive() for f in flooders)


def greeting(port, source, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0))
    return s, first_line(s, timeout)


def closed_soon(s, timeout=5):
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(512):
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True


def test_per_ip_limit(make_instance):
    inst = hardening_instance(make_instance,
                              config={"max_connections_per_ip": "5"})
    ip = "127.0.0.7"
    held = []
    try:
        for role in ("smtp", "smtp", "smtp", "pop3", "pop3"):
            s, g = greeting(inst.ports[role], ip)
            held.append(s)
            assert g.startswith("220 " if role == "smtp" else "+OK"), g
        s, g = greeting(inst.ports["smtp"], ip)
        assert g.startswith("421 4.7.0"), f"6th SMTP connection: {g!r}"
        assert closed_soon(s), "a refused connection stays open"
        s.close()
        s, g = greeting(inst.ports["pop3"], ip)
        assert g.startswith("-ERR [SYS/TEMP]"), f"6th POP3 connection: {g!r}"
        s.close()
        assert "reason=max_connections_per_ip" in inst.log(inst.log_offset)
        # Others are served meanwhile, fully.
        with Session(inst.ports["smtp"], source="127.0.0.8") as c:
            c.ehlo()
            r = c.transaction("sender@example.net", ["ann@acme.test"],
                              make_message("per-ip-other"))
            assert QUEUED_RE.match(r), r
            c.quit()
        # A slot freed is a slot again.
        held.pop(0).close()
        wait_until(lambda: greeting_ok(inst, ip, held), timeout=10,
                   what="a new connection from the address")
        s, g = greeting(inst.ports["smtp"], ip)
        assert g.startswith("421 4.7.0"), f"again over the limit: {g!r}"
        s.close()
    finally:
        for s in held:
            s.close()


def refused_counts(inst):
    """(lines, refusals) of the "conn refused" warnings of the last run:
    every line, and the refusals they stand for (one a line with a client,
    N a "suppressed=N" line)."""
    lines = [l for l in inst.log(inst.log_offset).splitlines()
             if "warning: conn refused " in l]
    n = 0
    for l in lines:
        m = re.search(r" conn refused suppressed=(\d+) period=1s$", l)
        if m:
            n += int(m.group(1))
        else:
            assert " conn refused client=" in l, l
            n += 1
    return len(lines), n


def test_refused_lines_once_a_second(make_instance):
    """A flood of refused clients is not a flood of warnings (1 000 lines
    in 30 ms before): at most one "conn refused" line a second, and a
    count of the ones left out, so that every refusal is still counted."""
    inst = hardening_instance(make_instance, accounts=False,
                              config={"max_connections_per_ip": "1"})
    ip = "127.0.0.9"
    n = 300
    held, g = greeting(inst.ports["smtp"], ip)
    try:
        assert g.startswith("220 "), g
        t0 = time.monotonic()
        for _ in range(n):
            s, g = greeting(inst.ports["smtp"], ip)
            s.close()
            assert g.startswith("421 4.7.0"), g
        elapsed = time.monotonic() - t0
        # The count of the last second comes a second after it began.
        wait_until(lambda: refused_counts(inst)[1] == n, timeout=10,
                   what=f"{n} refusals in the log")
        nlines, _ = refused_counts(inst)
        assert 2 <= nlines <= int(elapsed) + 3, (nlines, elapsed)
        time.sleep(1.5)
        assert refused_counts(inst) == (nlines, n), "lines after the flood"
        # Quiet again: the next refusal is logged at once.
        s, g = greeting(inst.ports["smtp"], ip)
        s.close()
        assert g.startswith("421 4.7.0"), g
        wait_until(lambda: refused_counts(inst) == (nlines + 1, n + 1),
                   timeout=5, what="the refusal after a quiet second")
    finally:
        held.close()


def greeting_ok(inst, ip, held):
    s, g = greeting(inst.ports["smtp"], ip)
    if g.startswith("220 "):
        held.append(s)
        return True
    s.close()
    return False


def test_total_limit(make_instance):
    inst = hardening_instance(make_instance,
                              config={"max_connections": "12",
                                      "max_connections_per_ip": "100"})
    held = []
    try:
        for i in range(12):
            s, g = greeting(inst.ports["smtp"], SOURCES[i % 4])
            held.append(s)
            assert g.startswith("220 "), (i, g)
        for ip in ("127.0.0.99", SOURCES[0]):
            s, g = greeting(inst.ports["smtp"], ip)
            assert g.startswith("421 4.7.0"), (ip, g)
            s.close()
        assert "reason=max_connections" in inst.log(inst.log_offset)
        held.pop().close()
        wait_until(lambda: greeting_ok(inst, "127.0.0.99", held),
                   timeout=10, what="a freed slot")
    finally:
        for s in held:
            s.close()
