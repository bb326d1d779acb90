"""milter_proto.py - the milter protocol (version 6, Sendmail's mfdef.h)
for the milter black-box tests: the packets, a milter CLIENT (the MTA
side, to prove the real filters of milter_helpers.py on their own) and
a scripted/hostile FILTER (the filter side, for the actions and the
failures the real filters do not produce).

    with MilterClient(port) as c:          # the MTA side
        c.negotiate()
        r = c.transaction(message=b"Subject: hi\r\n\r\nbody\r\n",
                          sender="<a@x.test>", rcpts=["<b@y.test>"])
        r.stage, r.action, r.text, r.mods  # where it ended and how

    m = ScriptedMilter().start()           # the filter side; m.addr
    m.on["R"] = lambda s, args: [replycode("550 5.7.1 no")] \
        if args[0] == "<bad@acme.test>" else None
    m.on["E"] = lambda s, _: [add_header("X-Scripted", "yes"), ACCEPT]

A handler gets the `Session` (its commands, macros, HELO name, client
address, ...) and the command's arguments, and returns the packets to
answer with (None: the default, continue, or accept at the end of the
message), or Hang(), Close(prefix), Raw(bytes), Progress(...) for the
hostile ones; `m.on["O"]` replaces the option negotiation reply.

Standard library only.
"""
import os
import socket
import struct
import threading
import time

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
    """What a filter saw on one connection: COMMANDS [(letter, data)],
    MACROS {letter: {name: value}} (the last of each stage), MACRO_LOG
    [(letter, {name: value})] in order, OPTNEG (version, actions,
    protocol) offered, HELO, CLIENT (hostname, family, port, address),
    SENDER [address, args...], RCPTS [[address, args...]], HEADERS
    [(name, value)] and BODY of the current message, ABORTS, MESSAGES
    (EOMs seen), ENDED (how: "quit", "closed", "closed by filter").
    wait_for(letter) waits until that command has come."""

    def __init__(self, number):
        self.number = number
        self.commands = []
        self.macros = {}
        self.macro_log = []
        self.optneg = None
        self.helo = None
        self.client = None
        self.sender = None
        self.rcpts = []
        self.headers = []
        self.body = b""
        self.ended = None
        self.messages = 0
        self.aborts = 0
        self.done = threading.Event()
        self.changed = threading.Condition()

    def letters(self):
        """The command letters in order, macros (D) left out."""
        return [c for c, _ in list(self.commands) if c != "D"]

    def macro(self, name):
        """The last value sent for macro NAME (any stage), or None."""
        for _, m in reversed(list(self.macro_log)):
            if name in m:
                return m[name]
        return None

    def note(self, cmd, data):
        with self.changed:
            self.commands.append((cmd, data))
            self.changed.notify_all()

    def wait_for(self, letter, count=1, timeout=15):
        """Waits until COUNT commands LETTER came (or the connection
        ended, then asserts); returns self."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.letters().count(letter) < count:
                left = deadline - time.monotonic()
                if left <= 0 or (self.done.is_set()):
                    raise AssertionError(
                        f"milter session {self.number}: {count} x "
                        f"{letter!r} not seen, only {self.letters()} "
                        f"(ended: {self.ended})")
                self.changed.wait(min(left, 0.2))
        return self

    def wait_end(self, timeout=15):
        assert self.done.wait(timeout), \
            f"milter session {self.number} still open: {self.letters()}"
        return self


class ScriptedMilter:
    """A filter on 127.0.0.1 (a free port) answering from `on` handlers;
    every connection is a Session in `sessions`. ACTIONS and PROTOCOL
    are what it asks for in the option negotiation (intersected with
    the MTA's offer)."""

    def __init__(self, actions=ALL_ACTIONS, protocol=0, name="scripted",
                 unix_path=None):
        self.name = name
        self.actions, self.protocol = actions, protocol
        self.on = {}
        self.sessions = []
        self.lock = threading.Lock()
        self.unix_path = unix_path
        if unix_path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.addr = f"inet:127.0.0.1:{self.port}"
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o777)   # popgate runs as its own user
            self.port = None
            self.addr = f"unix:{unix_path}"
        self.sock.listen(64)
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
        if self.unix_path is not None:
            try:
                os.unlink(self.unix_path)
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

    def session(self, timeout=5, helo=None):
        """The first session (with HELO name HELO, once it is known)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for x in self.sessions:
                    if helo is None or x.helo == helo:
                        return x
            time.sleep(0.01)
        raise AssertionError(f"no milter session (helo {helo!r}) of "
                             f"{len(self.sessions)}")

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
            if cmd == "D":
                name_vals = split_z(data[1:])
                values = dict(zip(name_vals[::2], name_vals[1::2]))
                s.macros[chr(data[0]) if data else "?"] = values
                s.macro_log.append((chr(data[0]) if data else "?", values))
                s.note(cmd, data)
                continue
            if cmd == "Q":
                s.ended = "quit"
                s.note(cmd, data)
                return
            if cmd in "AK":             # abort; quit, new connection
                s.aborts += cmd == "A"
                handler = self.on.get(cmd)
                s.note(cmd, data)
                if handler is not None:
                    handler(s, data)
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
        s.note(cmd, data)
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
