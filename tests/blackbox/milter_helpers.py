"""milter_helpers.py - content filters (milters) for the milter black-box
tests (test_milter_*.py; SPEC section 11, issue 16).

Real filters, each started by a module-scoped fixture from the Debian
packages (scripts/bootstrap installs them) on a free 127.0.0.1 port with
a temporary directory, as an unprivileged user when the tests run as
root, and never with the network or the system resolver:

    rspamd_milter     rspamd 3.x, its proxy worker in milter mode scanning
                      itself (self_scan); GTUBE is rejected, a clean message
                      gets X-Spamd-Result, X-Rspamd-Server, X-Rspamd-Queue-Id;
                      its DNS goes to a DnsStub (dnsstub.py); no redis
    clamav_milter     clamd with one signature file written here (TEST_VIRUS,
                      an EICAR-like string; no main.cvd, nothing downloaded)
                      and clamav-milter in front of it: a message carrying
                      the string is rejected, a clean one gets X-Virus-Status
    opendkim_milter   OpenDKIM signing (mode s) for DKIM_DOMAIN with a key
                      made here by openssl; dkim_verify() checks its
                      signatures with python3-dkim and no DNS

Each is a `Daemon` (or two): `.addr` is the value for popgate's
`milter = NAME ADDR` ("inet:127.0.0.1:PORT"), `.port`, `.dir`,
`.start_time` (seconds from exec to ready), `.log()`. Readiness is an
event: the port in LISTEN state (from /proc/net/tcp) and, where the
daemon logs one, its ready line; never a fixed sleep.

Filters written in Python, for the actions and failures the real ones do
not produce:

    m = ScriptedMilter().start()        # m.addr, m.sessions
    m.on["R"] = lambda s, args: [replycode("550 5.7.1 no")] \\
        if args[0] == "<bad@acme.test>" else None
    m.on["E"] = lambda s, _: [add_header("X-Scripted", "yes"), ACCEPT]

A handler gets the `Session` (its commands, macros, HELO name, client
address, ...) and the command's arguments, and returns the packets to
answer with (None: the default, continue / accept at the end of the
message), or one of Hang(), Close(), Raw(bytes), Progress(...) for the
hostile ones; `m.on["O"]` replaces the option negotiation reply.

A milter CLIENT (the MTA side), to prove the filters on their own:

    with MilterClient(m.port) as c:
        c.negotiate()
        r = c.transaction(sender="<a@x.test>", rcpts=["<b@y.test>"],
                          message=b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
        r.stage, r.action, r.text, r.mods    # where it ended and how

Standard library only, plus python3-dkim for dkim_verify().
"""
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from dnsstub import DnsStub

# ---- the milter protocol (Sendmail's mfdef.h), version 6 ----

VERSION = 6
# Actions (SMFIF_*).
ADDHDRS, CHGBODY, ADDRCPT, DELRCPT, CHGHDRS, QUARANTINE, CHGFROM, \
    ADDRCPT_PAR, SETSYMLIST = (1 << i for i in range(9))
ALL_ACTIONS = 0x1FF
# Protocol steps and flags (SMFIP_*).
P = {name: 1 << i for i, name in enumerate([
    "NOCONNECT", "NOHELO", "NOMAIL", "NORCPT", "NOBODY", "NOHDRS",
    "NOEOH", "NR_HDR", "NOUNKNOWN", "NODATA", "SKIP", "RCPT_REJ",
    "NR_CONN", "NR_HELO", "NR_MAIL", "NR_RCPT", "NR_DATA", "NR_UNKN",
    "NR_EOH", "NR_BODY", "HDR_LEADSPC"])}
ALL_PROTOCOL = (1 << 21) - 1
# For each command: the flag that skips it and the one that says it
# gets no reply.
STEP_FLAGS = {"C": ("NOCONNECT", "NR_CONN"), "H": ("NOHELO", "NR_HELO"),
              "M": ("NOMAIL", "NR_MAIL"), "R": ("NORCPT", "NR_RCPT"),
              "T": ("NODATA", "NR_DATA"), "L": ("NOHDRS", "NR_HDR"),
              "N": ("NOEOH", "NR_EOH"), "B": ("NOBODY", "NR_BODY"),
              "U": ("NOUNKNOWN", "NR_UNKN")}
# Replies that end a command; the others (modifications, progress) come
# before one of these.
FINAL = {"a": "accept", "c": "continue", "r": "reject", "t": "tempfail",
         "d": "discard", "y": "replycode", "s": "skip", "f": "connfail",
         "4": "shutdown"}
MODS = {"h": "addheader", "i": "insheader", "m": "chgheader",
        "b": "replbody", "+": "addrcpt", "2": "addrcpt_par",
        "-": "delrcpt", "e": "chgfrom", "q": "quarantine"}
MAX_PACKET = 1 << 20      # what our client accepts from a filter

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# The "virus" of the ClamAV fixture: any message holding it is infected.
TEST_VIRUS = "POPGATE-TEST-VIRUS-5f1c9a2e-NOT-A-REAL-VIRUS-EICAR-LIKE"
TEST_VIRUS_NAME = "Popgate.Test.Virus"

DKIM_DOMAIN = "acme.test"
DKIM_SELECTOR = "pgtest"

IS_ROOT = os.geteuid() == 0
START_TIMEOUT = 60


def packet(cmd, data=b""):
    """One milter packet: a 4-octet length (command + data), CMD, DATA."""
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">I", len(data) + 1) + cmd.encode() + data


def z(*strings):
    """The strings, each NUL-terminated (bytes)."""
    return b"".join((s.encode() if isinstance(s, str) else s) + b"\0"
                    for s in strings)


def split_z(data):
    """NUL-terminated strings of DATA (a last unterminated one too)."""
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "replace") for p in parts]


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} octets")
        buf += chunk
    return buf


def read_packet(sock, limit=MAX_PACKET):
    """(command letter, data) of the next packet on SOCK."""
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    if n < 1 or n > limit:
        raise ValueError(f"bad packet length {n}")
    body = recv_exact(sock, n)
    return chr(body[0]), body[1:]


# Filter replies, as packets (for ScriptedMilter handlers).
ACCEPT = packet("a")
CONTINUE = packet("c")
REJECT = packet("r")
TEMPFAIL = packet("t")
DISCARD = packet("d")
SKIP = packet("s")
PROGRESS = packet("p")


def replycode(text):
    """SMFIR_REPLYCODE: "550 5.7.1 text" (lines joined by CRLF)."""
    return packet("y", z(text))


def add_header(name, value):
    return packet("h", z(name, value))


def insert_header(index, name, value):
    return packet("i", struct.pack(">I", index) + z(name, value))


def change_header(name, value, index=1):
    """The INDEX-th (from 1) NAME header gets VALUE; "" deletes it."""
    return packet("m", struct.pack(">I", index) + z(name, value))


def replace_body(body):
    return packet("b", body)


def add_rcpt(rcpt, args=None):
    return packet("2", z(rcpt, args)) if args is not None \
        else packet("+", z(rcpt))


def del_rcpt(rcpt):
    return packet("-", z(rcpt))


def change_from(sender, args=None):
    return packet("e", z(sender) if args is None else z(sender, args))


def quarantine(reason):
    return packet("q", z(reason))


# ---- the client (the MTA side) ----

class Result:
    """How a command or a transaction ended: ACTION ("continue", "accept",
    "reject", "tempfail", "discard", "replycode", "skip", ...), TEXT (of
    a replycode), MODS [(kind, fields)] (modifications before it, e.g.
    ("addheader", ["X-Spam", "Yes"])), STAGE (the command letter it
    answered)."""

    def __init__(self, stage, action, text=None, mods=None):
        self.stage, self.action, self.text = stage, action, text
        self.mods = mods or []

    def headers_added(self):
        """[(name, value)] of addheader and insheader modifications."""
        out = []
        for kind, fields in self.mods:
            if kind == "addheader":
                out.append((fields[0], fields[1]))
            elif kind == "insheader":
                out.append((fields[1], fields[2]))
        return out

    def __repr__(self):
        return (f"<Result {self.stage}: {self.action} {self.text!r} "
                f"mods={self.mods}>")


class MilterClient:
    """One connection to a filter, speaking as an MTA would (Postfix's
    order: OPTNEG, then per stage its macros and the command)."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.version = self.actions = self.protocol = None
        self.symlists = {}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, cmd, data=b""):
        self.sock.sendall(packet(cmd, data))

    def negotiate(self, actions=ALL_ACTIONS, protocol=ALL_PROTOCOL):
        """OPTNEG: offers version 6, ACTIONS, PROTOCOL; returns the
        filter's (version, actions, protocol)."""
        self.send("O", struct.pack(">III", VERSION, actions, protocol))
        cmd, data = read_packet(self.sock)
        assert cmd == "O", f"OPTNEG answered with {cmd!r}"
        self.version, self.actions, self.protocol = \
            struct.unpack(">III", data[:12])
        rest = data[12:]
        while len(rest) >= 5:           # SETSYMLIST in the reply
            (where,) = struct.unpack(">I", rest[:4])
            names, _, rest = rest[4:].partition(b"\0")
            self.symlists[where] = names.decode().split()
        return self.version, self.actions, self.protocol

    def flag(self, name):
        return bool(self.protocol & P[name])

    def macros(self, cmd, values):
        if values:
            self.send("D", cmd.encode() + z(*[x for kv in values.items()
                                                for x in kv]))

    def read_result(self, stage):
        mods = []
        while True:
            cmd, data = read_packet(self.sock)
            if cmd == "p":
                continue
            if cmd in MODS:
                mods.append((MODS[cmd], self.decode_mod(cmd, data)))
                continue
            if cmd in FINAL:
                text = split_z(data)[0] if cmd == "y" and data else None
                return Result(stage, FINAL[cmd], text, mods)
            raise AssertionError(f"unknown reply {cmd!r} {data!r}")

    @staticmethod
    def decode_mod(cmd, data):
        if cmd in "im":
            (idx,) = struct.unpack(">I", data[:4])
            return [idx] + split_z(data[4:])
        if cmd == "b":
            return [data]
        return split_z(data)

    def step(self, cmd, data=b"", macros=None):
        """Sends CMD (with its macros first) unless the filter skipped the
        step; reads the reply unless the filter said it sends none.
        Returns a Result (action "continue" when there was no reply)."""
        if cmd in STEP_FLAGS:
            no, nr = STEP_FLAGS[cmd]
            if self.flag(no):
                return Result(cmd, "continue")
        self.macros(cmd, macros)
        self.send(cmd, data)
        if cmd in STEP_FLAGS and self.flag(STEP_FLAGS[cmd][1]):
            return Result(cmd, "continue")
        return self.read_result(cmd)

    def connect(self, hostname="client.test", addr="127.0.0.1", port=40000,
                macros=None):
        fam = "6" if ":" in addr else "4"
        m = {"j": "mx.test.example", "_": f"{hostname} [{addr}]",
             "{daemon_name}": "popgate", "{if_addr}": "127.0.0.1",
             "{client_addr}": addr, "{client_name}": hostname}
        m.update(macros or {})
        return self.step("C", z(hostname) + fam.encode() +
                         struct.pack(">H", port) + z(addr), m)

    def helo(self, name="client.test"):
        return self.step("H", z(name))

    def mail(self, sender, args=(), macros=None):
        m = {"{mail_addr}": sender.strip("<>"), "i": "4A1B2C3D"}
        m.update(macros or {})
        return self.step("M", z(sender, *args), m)

    def rcpt(self, rcpt, args=()):
        return self.step("R", z(rcpt, *args),
                         {"{rcpt_addr}": rcpt.strip("<>")})

    def data(self):
        return self.step("T")

    def header(self, name, value):
        if self.flag("HDR_LEADSPC"):
            value = " " + value
        return self.step("L", z(name, value))

    def eoh(self):
        return self.step("N")

    def body(self, chunk):
        return self.step("B", chunk)

    def eom(self):
        self.macros("E", {"i": "4A1B2C3D"})
        self.send("E")
        return self.read_result("E")

    def abort(self):
        self.send("A")

    def quit(self):
        try:
            self.send("Q")
        except OSError:
            pass

    def transaction(self, message, sender="<sender@example.org>",
                    rcpts=("<rcpt@acme.test>",), helo="client.test",
                    addr="127.0.0.1", macros=None):
        """CONNECT, HELO, MAIL, RCPT..., DATA, the header fields, EOH,
        the body (64 KiB chunks), EOM: the Result of the first command
        that did not answer "continue" (its STAGE says which), else that
        of EOM. MESSAGE is bytes with CRLF line ends."""
        steps = [lambda: self.connect(helo, addr, macros=macros),
                 lambda: self.helo(helo),
                 lambda: self.mail(sender, macros=macros)]
        steps += [lambda r=r: self.rcpt(r) for r in rcpts]
        steps.append(self.data)
        head, _, body = message.partition(b"\r\n\r\n")
        for name, value in parse_header_fields(head):
            steps.append(lambda n=name, v=value: self.header(n, v))
        steps.append(self.eoh)
        for i in range(0, len(body), 65535):
            steps.append(lambda c=body[i:i + 65535]: self.body(c))
        for s in steps:
            r = s()
            if r.action == "skip" and r.stage == "B":
                break
            if r.action != "continue":
                return r
        return self.eom()


def parse_header_fields(head):
    """[(name, value)] of a header block (bytes, CRLF): a folded value
    keeps its CRLF + white space, the value has no leading space."""
    fields = []
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += "\r\n" + line.decode()
            continue
        name, _, value = line.decode().partition(":")
        fields.append([name, value[1:] if value.startswith(" ")
                       else value])
    return [tuple(f) for f in fields]


# ---- the scripted / hostile filter (the filter side) ----

class Hang:
    """A handler's answer: say nothing (until the client closes, or
    SECONDS)."""

    def __init__(self, seconds=None):
        self.seconds = seconds


class Close:
    """A handler's answer: send PREFIX (e.g. half a packet), then close."""

    def __init__(self, prefix=b""):
        self.prefix = prefix


class Raw:
    """A handler's answer: these octets, as they are (garbage, a wrong
    length, an oversized packet), then carry on reading."""

    def __init__(self, data, then_hang=False):
        self.data, self.then_hang = data, then_hang


class Progress:
    """A handler's answer: SMFIR_PROGRESS every EVERY seconds, COUNT times
    (None: until the client goes), then THEN (packets)."""

    def __init__(self, every=0.5, count=None, then=(CONTINUE,)):
        self.every, self.count, self.then = every, count, list(then)


class Session:
    """What a filter saw on one connection: COMMANDS [(letter, args)],
    MACROS {letter: {name: value}}, OPTNEG (version, actions, protocol)
    offered, HELO, CLIENT (hostname, family, port, address), HEADERS
    [(name, value)], BODY, ENDED (how: "quit", "quit_nc", "closed")."""

    def __init__(self, number):
        self.number = number
        self.commands = []
        self.macros = {}
        self.optneg = None
        self.helo = None
        self.client = None
        self.sender = None
        self.rcpts = []
        self.headers = []
        self.body = b""
        self.ended = None
        self.messages = 0
        self.done = threading.Event()


class ScriptedMilter:
    """A filter on 127.0.0.1 (a free port) answering from `on` handlers;
    every connection is a Session in `sessions`. ACTIONS and PROTOCOL
    are what it asks for in the option negotiation (intersected with
    the MTA's offer)."""

    def __init__(self, actions=ALL_ACTIONS, protocol=0, name="scripted"):
        self.name = name
        self.actions, self.protocol = actions, protocol
        self.on = {}
        self.sessions = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = f"inet:127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._conns = []

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self._conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass

    def reset(self):
        """Forgets the handlers and the sessions (between tests)."""
        with self.lock:
            self.on = {}
            self.sessions = []

    def wait_sessions(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.sessions) >= n:
                    return list(self.sessions)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.sessions)} milter sessions, "
                             f"not {n}")

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                s = Session(len(self.sessions) + 1)
                self.sessions.append(s)
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, s),
                             daemon=True).start()

    def _serve(self, conn, s):
        try:
            self._loop(conn, s)
        except (OSError, ConnectionError, ValueError):
            s.ended = s.ended or "closed"
        finally:
            s.ended = s.ended or "closed"
            s.done.set()
            try:
                conn.close()
            except OSError:
                pass

    def _loop(self, conn, s):
        conn.settimeout(None)
        while not self._stop.is_set():
            cmd, data = read_packet(conn, limit=1 << 24)
            s.commands.append((cmd, data))
            if cmd == "D":
                name_vals = split_z(data[1:])
                s.macros.setdefault(chr(data[0]), {}).update(
                    dict(zip(name_vals[::2], name_vals[1::2])))
                continue
            if cmd == "Q":
                s.ended = "quit"
                return
            if cmd == "K":
                s.ended = "quit_nc"
                s.messages += 0
                continue
            if cmd == "A":
                self.record(s, cmd, data)
                continue
            answer = self.answer(s, cmd, data)
            if not self.play(conn, s, answer):
                return

    def record(self, s, cmd, data):
        if cmd == "O":
            s.optneg = struct.unpack(">III", data[:12])
        elif cmd == "C":
            host, rest = data.split(b"\0", 1)
            fam = chr(rest[0])
            port = struct.unpack(">H", rest[1:3])[0] if fam in "46" else 0
            addr = split_z(rest[3:])[0] if fam in "46L" else ""
            s.client = (host.decode(), fam, port, addr)
        elif cmd == "H":
            s.helo = split_z(data)[0]
        elif cmd == "M":
            s.sender = split_z(data)
            s.rcpts, s.headers, s.body = [], [], b""
        elif cmd == "R":
            s.rcpts.append(split_z(data))
        elif cmd == "L":
            nv = split_z(data)
            s.headers.append((nv[0], nv[1] if len(nv) > 1 else ""))
        elif cmd == "B":
            s.body += data
        elif cmd == "E":
            s.messages += 1

    def args(self, cmd, data):
        if cmd in "HMRLU":
            return split_z(data)
        if cmd == "C":
            return [split_z(data.split(b"\0", 1)[0])[0]]
        return data

    def answer(self, s, cmd, data):
        self.record(s, cmd, data)
        handler = self.on.get(cmd)
        if handler is not None:
            got = handler(s, self.args(cmd, data))
            if got is not None:
                return got
        if cmd == "O":
            _, act, proto = s.optneg
            return [packet("O", struct.pack(
                ">III", VERSION, self.actions & act, self.protocol & proto))]
        if cmd in STEP_FLAGS:
            if self.protocol & P[STEP_FLAGS[cmd][1]]:
                return []
            return [CONTINUE]
        if cmd == "E":
            return [ACCEPT]
        return [CONTINUE]

    def play(self, conn, s, answer):
        """Sends ANSWER; False when the connection is to end."""
        if isinstance(answer, (bytes, Raw, Hang, Close, Progress)):
            answer = [answer]
        for a in answer:
            if isinstance(a, bytes):
                conn.sendall(a)
            elif isinstance(a, Raw):
                conn.sendall(a.data)
                if a.then_hang:
                    return self.hang(conn, None)
            elif isinstance(a, Close):
                if a.prefix:
                    conn.sendall(a.prefix)
                s.ended = "closed by filter"
                return False
            elif isinstance(a, Hang):
                return self.hang(conn, a.seconds)
            elif isinstance(a, Progress):
                n = 0
                while a.count is None or n < a.count:
                    if self._stop.wait(a.every):
                        return False
                    conn.sendall(PROGRESS)
                    n += 1
                for p in a.then:
                    conn.sendall(p)
        return True

    def hang(self, conn, seconds):
        """Reads and drops until the peer closes (or SECONDS pass)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        conn.settimeout(0.2)
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() > deadline:
                conn.settimeout(None)
                return True
            try:
                if not conn.recv(65536):
                    return False
            except socket.timeout:
                continue
        return False


# ---- the real daemons ----

def listening(port):
    """True when some socket listens on 127.0.0.1:PORT (/proc/net/tcp;
    no connection made, so a filter sees no probe session)."""
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            return any(l.split()[1] == want and l.split()[3] == "0A"
                       for l in f)
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def owner_ids(user):
    """(uid, gid) of USER when we are root, else None (run as ourselves)."""
    if not IS_ROOT:
        return None
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


def give(path, ids):
    """chown -R PATH to IDS (when root)."""
    if ids is None:
        return
    os.chown(path, *ids)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), *ids)


class Daemon:
    """One filter process: ARGV run in DIR, stdout+stderr in DIR/NAME.out;
    ready when PORT listens and READY_LINE (if any) is in LOGFILE (or
    the .out file). IDS (uid, gid): the whole process runs as them from
    exec on (as root), not only the workers a daemon would drop."""

    def __init__(self, name, argv, port, workdir, logfile=None,
                 ready_line=None, env=None, ids=None):
        self.name, self.argv, self.port, self.dir = name, argv, port, workdir
        self.ids = ids
        self.out_path = os.path.join(workdir, f"{name}.out")
        self.logfile = logfile or self.out_path
        self.ready_line = ready_line
        self.env = env
        self.proc = None
        self.start_time = None
        self.addr = f"inet:127.0.0.1:{port}"

    def log(self):
        text = ""
        for p in dict.fromkeys([self.out_path, self.logfile]):
            try:
                with open(p, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def start(self, timeout=START_TIMEOUT):
        t0 = time.monotonic()
        out = open(self.out_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True, **self.credentials())
        finally:
            out.close()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited "
                                   f"{self.proc.returncode} at start:\n"
                                   f"{self.log()[-4000:]}")
            if listening(self.port) and (
                    self.ready_line is None or self.ready_line in self.log()):
                self.start_time = time.monotonic() - t0
                return self
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"{self.name} not ready after "
                                   f"{timeout}s:\n{self.log()[-4000:]}")
            time.sleep(0.01)

    GRACE = 1

    def credentials(self):
        if self.ids is None:
            return {}
        return {"user": self.ids[0], "group": self.ids[1],
                "extra_groups": []}

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM to its process group (it is its own session leader),
        SIGKILL after GRACE seconds (rspamd would wait for its workers
        for up to 16 s; nothing of a test filter needs keeping)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(self.GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:                    # workers left behind (rspamd's)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def workdir(prefix):
    d = tempfile.mkdtemp(dir="/tmp", prefix=f"popgate-milter-{prefix}-")
    os.chmod(d, 0o755)
    return d


def cleanup_dir(d):
    if os.environ.get("POPGATE_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)


# ---- rspamd ----

RSPAMD_CONF = """\
# rspamd for the popgate tests: no default modules config (no network
# lists, no redis), the proxy worker as a milter scanning by itself.
.include "$CONFDIR/actions.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    filters = "";
    dns {{
        nameserver = ["{dns}"];
        timeout = 1s;
        retransmits = 1;
    }}
    control_socket = "$RUNDIR/rspamd.sock mode=0600";
    cache_file = "$DBDIR/symbols.cache";
    # A few suffixes, not the 9628 of the public list (12 s to compile).
    url_tld = "{dir}/tld.dat";
    local_addrs = [];
    hs_cache_dir = "$DBDIR";
}}
logging {{
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}}
modules {{
    path = "${{PLUGINSDIR}}";
}}
milter_headers {{
    use = ["x-spamd-result", "x-rspamd-server", "x-rspamd-queue-id",
           "x-spam-status"];
    skip_local = false;
    skip_authenticated = false;
}}
worker "rspamd_proxy" {{
    bind_socket = "127.0.0.1:{port}";
    milter = yes;
    count = 1;
    upstream "local" {{
        default = yes;
        self_scan = yes;
    }}
    timeout = 120s;
    discard_on_reject = false;
    quarantine_on_reject = false;
    reject_message = "Spam message rejected";
}}
"""


class Rspamd(Daemon):
    """rspamd's proxy worker in milter mode (self_scan), DNS to DNS_SERVER
    ("127.0.0.1:PORT" of a DnsStub)."""

    def __init__(self, dns_server):
        d = workdir("rspamd")
        port = free_port()
        for sub in ("db", "run", "log", "local"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "tld.dat"), "w") as f:
            f.write("com\norg\nnet\ntest\nexample\n")
        conf = os.path.join(d, "rspamd.conf")
        with open(conf, "w") as f:
            f.write(RSPAMD_CONF.format(dns=dns_server, dir=d, port=port))
        ids = owner_ids("_rspamd")
        give(d, ids)
        argv = ["rspamd", "-f", "-c", conf,
                f"--var=LOCAL_CONFDIR={d}/local", f"--var=DBDIR={d}/db",
                f"--var=RUNDIR={d}/run", f"--var=LOGDIR={d}/log"]
        super().__init__("rspamd", argv, port, d,
                         logfile=os.path.join(d, "log", "rspamd.log"),
                         ready_line="starting rspamd_proxy process", ids=ids)


# ---- ClamAV ----

def clamav_signature():
    """The .ndb line of TEST_VIRUS: any file type, anywhere."""
    return f"{TEST_VIRUS_NAME}:0:*:{TEST_VIRUS.encode().hex()}\n"


class Clamd(Daemon):
    def __init__(self):
        d = workdir("clamd")
        port = free_port()
        db = os.path.join(d, "db")
        os.makedirs(db)
        with open(os.path.join(db, "popgate-test.ndb"), "w") as f:
            f.write(clamav_signature())
        ids = owner_ids("clamav")
        conf = os.path.join(d, "clamd.conf")
        lines = [
            "Foreground yes", f"LogFile {d}/clamd.log", "LogTime yes",
            "LogVerbose no", f"PidFile {d}/clamd.pid",
            f"DatabaseDirectory {db}", f"TemporaryDirectory {d}",
            f"TCPSocket {port}", "TCPAddr 127.0.0.1", "MaxThreads 4",
            "ScanMail yes", "Bytecode no", "SelfCheck 0",
            "ConcurrentDatabaseReload no",
        ]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        give(d, ids)
        super().__init__("clamd", ["clamd", "-c", conf], port, d,
                         logfile=os.path.join(d, "clamd.log"), ids=ids)


class ClamavMilter(Daemon):
    def __init__(self, clamd_port):
        d = workdir("clamav-milter")
        port = free_port()
        ids = owner_ids("clamav")
        conf = os.path.join(d, "clamav-milter.conf")
        lines = [
            f"MilterSocket inet:{port}@127.0.0.1", "Foreground yes",
            f"PidFile {d}/clamav-milter.pid", f"TemporaryDirectory {d}",
            f"ClamdSocket tcp:127.0.0.1:{clamd_port}",
            f"LogFile {d}/clamav-milter.log", "LogTime yes",
            "LogInfected Basic", "LogClean Basic",
            "OnClean Accept", "OnInfected Reject", "OnFail Defer",
            'RejectMsg "Virus found: %v"', "AddHeader Replace",
            "ReadTimeout 60",
        ]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        give(d, ids)
        super().__init__("clamav-milter", ["clamav-milter", "-c", conf],
                         port, d, ids=ids,
                         logfile=os.path.join(d, "clamav-milter.log"))


class Clamav:
    """clamd + clamav-milter: .addr/.port are the milter's; start_time is
    (clamd's, clamav-milter's)."""

    def __init__(self):
        self.clamd = Clamd()
        self.milter = ClamavMilter(self.clamd.port)
        self.addr, self.port = self.milter.addr, self.milter.port

    def start(self):
        self.clamd.start()
        self.milter.start()
        self.start_time = (self.clamd.start_time, self.milter.start_time)
        return self

    def log(self):
        return self.clamd.log() + self.milter.log()

    def stop(self):
        self.milter.stop()
        self.clamd.stop()

    def cleanup(self):
        cleanup_dir(self.clamd.dir)
        cleanup_dir(self.milter.dir)


# ---- OpenDKIM ----

def rsa_keypair(directory, bits=2048):
    """(private key PEM path, public key base64 for the p= tag)."""
    key = os.path.join(directory, f"{DKIM_SELECTOR}.private")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                    "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", key],
                   check=True, capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64
    return key, base64.b64encode(pub).decode()


class OpenDkim(Daemon):
    """OpenDKIM signing (mode s) mail from DKIM_DOMAIN with selector
    DKIM_SELECTOR; .public_key is the p= of its DNS record."""

    def __init__(self, internal_hosts="127.0.0.0/8"):
        d = workdir("opendkim")
        port = free_port()
        key, self.public_key = rsa_keypair(d)
        os.chmod(key, 0o600)
        ids = owner_ids("opendkim")
        conf = os.path.join(d, "opendkim.conf")
        lines = [
            "Background no", "Syslog no", "Mode s",
            f"Domain {DKIM_DOMAIN}", f"Selector {DKIM_SELECTOR}",
            f"KeyFile {key}", f"Socket inet:{port}@127.0.0.1",
            f"PidFile {d}/opendkim.pid", "Canonicalization relaxed/simple",
            "SignatureAlgorithm rsa-sha256", "OversignHeaders From",
            f"InternalHosts {internal_hosts}", "RequireSafeKeys no",
            "SubDomains no", "UMask 002",
        ]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        give(d, ids)
        super().__init__("opendkim", ["opendkim", "-f", "-x", conf], port,
                         d, ids=ids)


def dkim_record(public_key):
    return f"v=DKIM1; k=rsa; p={public_key}"


def dkim_verify(message, public_key):
    """True when MESSAGE (bytes, as delivered) holds a DKIM-Signature
    that verifies with PUBLIC_KEY (the only key lookup answers it)."""
    import dkim
    want = f"{DKIM_SELECTOR}._domainkey.{DKIM_DOMAIN}".encode()

    def dnsfunc(name, timeout=5):
        if name.rstrip(b".") == want:
            return dkim_record(public_key).encode()
        return None

    return dkim.verify(message, dnsfunc=dnsfunc)


# ---- fixtures ----

START_TIMES = {}


def _started(daemon, name):
    daemon.start()
    START_TIMES[name] = daemon.start_time
    return daemon


@pytest.fixture(scope="module")
def dns_stub():
    """A DnsStub with no records (every name NXDOMAIN), for rspamd."""
    stub = DnsStub({}).start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def rspamd_milter(dns_stub):
    r = Rspamd(dns_stub.server)
    try:
        yield _started(r, "rspamd")
    finally:
        r.stop()
        cleanup_dir(r.dir)


@pytest.fixture(scope="module")
def clamav_milter():
    c = Clamav()
    try:
        yield _started(c, "clamav")
    finally:
        c.stop()
        c.cleanup()


@pytest.fixture(scope="module")
def opendkim_milter():
    o = OpenDkim()
    try:
        yield _started(o, "opendkim")
    finally:
        o.stop()
        cleanup_dir(o.dir)


@pytest.fixture(scope="module")
def scripted_milter():
    """A ScriptedMilter for the whole module; reset() between tests."""
    m = ScriptedMilter().start()
    yield m
    m.stop()


# ---- messages ----

def clean_message(sender="someone@example.org", rcpt="ann@acme.test",
                  subject="a clean message", body="Hello Ann,\r\n\r\n"
                  "the minutes of Tuesday's meeting are below.\r\n"):
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash(subject))}.{time.time_ns()}@example.org>"
            f"\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; "
            f"charset=us-ascii\r\n\r\n{body}").encode()


def gtube_message(sender="spammer@example.org", rcpt="ann@acme.test"):
    return clean_message(sender, rcpt, "GTUBE",
                         f"This is the GTUBE test.\r\n\r\n{GTUBE}\r\n")


def virus_message(sender="someone@example.org", rcpt="ann@acme.test"):
    return clean_message(sender, rcpt, "a test virus",
                         f"Look at this:\r\n{TEST_VIRUS}\r\n")
