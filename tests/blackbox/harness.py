"""harness.py - run real popgate installations for the black-box tests.

An `Instance` is one popgate installation in a fresh directory under /tmp:

    DIR/popgate.conf        the configuration the harness writes
    DIR/serve.log           stdout + stderr of `popgate serve`
    DIR/data/               data_dir (store.db, queue, ...)
    DIR/data/mail/          mail_dir (Maildirs: DOMAIN/LOCAL/)
    DIR/data/tls/           cert.pem + key.pem (one self-signed pair per run)

Every listener is on 127.0.0.1 on a free port; `inst.ports` maps a role
name ("smtp", "smtp2", "submission", "submissions", "pop3", "pop3s",
"smtp_gate") to its port. As root the config has `user = popgate` and
data_dir belongs to popgate, so the daemon and the CLI drop privileges as
they would in production.

    inst = Instance(config={"relay_window": "2h"},
                    extra_lines=["transport example.org = 127.0.0.1:2600"])
    inst.setup_mailbox("ann@acme.test", "s3cret")
    inst.start()            # waits until every port listens
    ...                     # smtplib / poplib against inst.ports[...]
    inst.stop()             # SIGTERM; exit 0 and no sanitizer report
    inst.cleanup()

The API, in short:
    Instance(config={}, extra_lines=[], listeners={}, tls=(cert, key))
    inst.dir, .conf_path, .data_dir, .mail_dir, .log_path, .ports
    inst.cli(*args, input=None, check=False) -> CompletedProcess
    inst.cli_json(*args) -> parsed `--json` output
    inst.cli_refused(*args, message=, input=None, code=1)
                                   exit CODE, MESSAGE, store unchanged
    inst.setup_mailbox(address, password, customer="acme", quota=None)
    inst.start() / .stop(sig=SIGTERM) / .kill() / .spawn() + .wait()
    inst.running, .pid, .log(since=0), .check_log(), .chown_data()
    inst.maildir(address), .store_dump(), .probe_ports(), .fd_count(),
    inst.wait_fds(n), .listening_ports(), .proc_status()
    Instance.adopt(dir, ports)     an installation `popgate init` wrote
    run_popgate(*args, input=None, env=None) -> CompletedProcess
    parse_table(text) -> [{column: cell}]   (checks the alignment)
    crypt_verify(password, hash), free_ports(n), port_is_free(port),
    port_accepts(port), find_port_base(offsets), IS_ROOT, daemon_ids()

The pytest fixtures in conftest.py (`instance`, `server`, `make_instance`)
do the start/stop/cleanup bookkeeping; POPGATE_KEEP=1 keeps the
directories. Sanitizer reports (ASan, LSan, UBSan) in the output of any
CLI command or in serve.log at stop() fail the test. No test may use the
system resolver: `reverse_dns = no`, and `dns_servers` points at a
loopback port where nothing answers (so an MX lookup of a relayed
message fails at once as temporary and the message stays queued) unless
a test sets it, e.g. to a tests/blackbox/dnsstub.py stub.
"""
import ctypes
import ctypes.util
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import sqlite3
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("POPGATE_BIN",
                     os.path.join(REPO, "build", "asan", "popgate"))

IS_ROOT = os.geteuid() == 0
# dns_servers by default: a loopback port where nothing answers.
NO_DNS = "127.0.0.1:9"
DAEMON_USER = "popgate"      # created by scripts/bootstrap

# Listeners of every instance unless a test passes its own `listeners`:
# name -> role (and options) as written after "listen = 127.0.0.1:PORT".
DEFAULT_LISTENERS = {
    "smtp": "smtp",
    "smtp2": "smtp",                    # the port-2525 twin
    "submission": "submission",
    "submissions": "submissions",
    "pop3": "pop3",
    "pop3s": "pop3s",
    "imap": "imap",
    "imaps": "imaps",
    "smtp_gate": "smtp gate=connect",
}

CLI_TIMEOUT = 30        # seconds for one CLI command (ASan is slow)
START_TIMEOUT = 10      # seconds until every port accepts
STOP_TIMEOUT = 10       # seconds from SIGTERM to exit

# Text that means a sanitizer found something; any of it fails the test.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

# Sanitizer reports go to stderr (and so to serve.log); keep going after
# a recoverable report so the whole report is written.
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1",
}


def popgate_env(extra=None):
    """The environment for popgate processes: no inherited
    POPGATE_CONFIG (tests always say which config), sanitizer options
    unless the caller's environment already sets them."""
    env = dict(os.environ)
    env.pop("POPGATE_CONFIG", None)
    for k, v in SAN_ENV.items():
        env.setdefault(k, v)
    env.update(extra or {})
    return env


def sanitizer_report(text):
    """The first sanitizer marker found in TEXT, or None."""
    for m in SANITIZER_MARKERS:
        if m in text:
            return m
    return None


def run_popgate(*args, input=None, env=None, cwd=None, timeout=CLI_TIMEOUT):
    """Runs `popgate ARGS` (no config added) and returns the
    CompletedProcess (text). stdin is empty unless INPUT is given, so a
    password prompt can never hang. Fails the test on a sanitizer report."""
    p = subprocess.run([BIN, *map(str, args)], input=input if input is not
                       None else "", capture_output=True, text=True,
                       env=popgate_env(env), cwd=cwd, timeout=timeout)
    marker = sanitizer_report(p.stderr)
    if marker:
        pytest.fail(f"{marker} in `popgate {' '.join(map(str, args))}`:\n"
                    f"{p.stderr}")
    return p


def free_ports(n):
    """N distinct ports that were free on 127.0.0.1 a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def port_is_free(port):
    """True when nothing listens on 127.0.0.1:PORT (we can bind it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    """True when a TCP connection to HOST:PORT succeeds (it is closed
    at once)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_port_base(offsets, lo=20000, hi=40000, tries=200):
    """A base B such that every B+OFFSET is free (for `init --port-base`)."""
    for _ in range(tries):
        base = random.randrange(lo, hi)
        if all(port_is_free(base + o) for o in offsets):
            return base
    raise RuntimeError("no free port base found")


_tls_dir = None


def tls_pair():
    """(cert, key) paths of the self-signed pair of this test run, made
    once with the openssl command line (CN=localhost, P-256)."""
    global _tls_dir
    if _tls_dir is None:
        d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-tls-")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
             "-subj", "/CN=localhost", "-keyout", os.path.join(d, "key.pem"),
             "-out", os.path.join(d, "cert.pem")],
            check=True, capture_output=True, timeout=60)
        _tls_dir = d
    return os.path.join(_tls_dir, "cert.pem"), os.path.join(_tls_dir,
                                                          "key.pem")



def make_cert(d, stem, name):
    """A self-signed P-256 certificate for NAME (CN and SAN) in D; its
    (cert, key) paths, the key 0600."""
    cert, key = os.path.join(d, stem + ".pem"), os.path.join(d, stem + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}", "-days", "2",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def der(cert_path):
    """The certificate of the PEM file CERT_PATH, DER-encoded."""
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())

def tls_cleanup():
    global _tls_dir
    if _tls_dir is not None:
        shutil.rmtree(_tls_dir, ignore_errors=True)
        _tls_dir = None


def chown_tree(path, user=DAEMON_USER):
    """chown -R USER:USER's-group PATH (root only; a no-op otherwise)."""
    if not IS_ROOT:
        return
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for p in [root] + [os.path.join(root, n) for n in dirs + files]:
            # A file may go while we walk: after a kill -9 the old
            # popgate-lookup closes the store (its -shm, -wal) late.
            try:
                os.lchown(p, pw.pw_uid, pw.pw_gid)
            except FileNotFoundError:
                pass


_libcrypt = None


def crypt_verify(password, hash):
    """True when HASH (any crypt(3) scheme libxcrypt knows: $y$, $6$,
    $2b$...) is a hash of PASSWORD; via libcrypt, as popgate checks it."""
    global _libcrypt
    if _libcrypt is None:
        _libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
        _libcrypt.crypt.restype = ctypes.c_char_p
        _libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = _libcrypt.crypt(password.encode(), hash.encode())
    return out is not None and out.decode() == hash


def parse_table(text):
    """Parses the aligned-column output of a `list` command into a list
    of dicts (keys: the lower-case header words). Asserts the layout: a
    header of upper-case words, and every cell of a row starting at the
    column of its header word, after at least one blank. Only the last
    column may contain blanks (so not for quoted local parts like
    "john doe"@x)."""
    lines = text.rstrip("\n").split("\n")
    assert lines and lines[0].strip(), f"no header in:\n{text}"
    header = lines[0]
    assert header == header.upper(), f"header not upper-case: {header!r}"
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = [m.group().lower() for m in re.finditer(r"\S+", header)]
    assert starts[0] == 0, f"header does not start at column 0: {header!r}"
    rows = []
    for line in lines[1:]:
        cells = []
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(line)
            assert len(line) > start and line[start] != " ", \
                f"column {names[i]!r} not aligned in row {line!r}\n{text}"
            if i > 0:
                assert line[start - 1] == " ", \
                    f"no blank before column {names[i]!r}: {line!r}\n{text}"
            cells.append(line[start:end].rstrip() if i + 1 < len(starts)
                         else line[start:])
            if i + 1 < len(starts):
                assert " " not in cells[-1], \
                    f"cell overflows column {names[i]!r}: {line!r}\n{text}"
        rows.append(dict(zip(names, cells)))
    return rows


class Instance:
    """One popgate installation in a fresh temporary directory (see the
    module docstring). Nothing runs until start() or cli()."""

    def __init__(self, config=None, extra_lines=None, listeners=None,
                 tls=None):
        """CONFIG: {key: value} added to / overriding the harness's keys
        (value None drops the key). EXTRA_LINES: raw lines appended, e.g.
        "transport example.org = 127.0.0.1:2600". LISTENERS: {name: role}
        instead of DEFAULT_LISTENERS. TLS: (cert, key) to copy instead of
        the shared test pair."""
        self.dir = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-")
        os.chmod(self.dir, 0o755)
        self.conf_path = os.path.join(self.dir, "popgate.conf")
        self.data_dir = os.path.join(self.dir, "data")
        self.mail_dir = os.path.join(self.data_dir, "mail")
        self.log_path = os.path.join(self.dir, "serve.log")
        self.proc = None
        self.log_offset = 0
        self.listeners = dict(listeners if listeners is not None
                              else DEFAULT_LISTENERS)
        self.ports = dict(zip(self.listeners, free_ports(len(self.listeners))))
        self.config = {}
        self.config_overrides = dict(config or {})
        self.extra_lines = list(extra_lines or [])

        tls_dir = os.path.join(self.data_dir, "tls")
        os.makedirs(self.mail_dir, mode=0o750)
        os.makedirs(tls_dir, mode=0o700)
        cert, key = tls if tls is not None else tls_pair()
        shutil.copyfile(cert, os.path.join(tls_dir, "cert.pem"))
        shutil.copyfile(key, os.path.join(tls_dir, "key.pem"))
        os.chmod(os.path.join(tls_dir, "cert.pem"), 0o644)
        os.chmod(os.path.join(tls_dir, "key.pem"), 0o600)
        os.chmod(self.data_dir, 0o750)
        self.write_config()
        self.chown_data()

    @classmethod
    def adopt(cls, base_dir, ports):
        """An Instance for an installation someone else wrote (e.g.
        `popgate init BASE_DIR`): BASE_DIR/popgate.conf and BASE_DIR/data,
        PORTS as {name: port}. The config is not rewritten."""
        self = cls.__new__(cls)
        self.dir = base_dir
        self.conf_path = os.path.join(base_dir, "popgate.conf")
        self.data_dir = os.path.join(base_dir, "data")
        self.mail_dir = os.path.join(self.data_dir, "mail")
        self.log_path = os.path.join(base_dir, "serve.log")
        self.proc = None
        self.log_offset = 0
        self.listeners = {name: "?" for name in ports}
        self.ports = dict(ports)
        self.config = None
        self.config_overrides = {}
        self.extra_lines = []
        return self

    # ---- configuration ----

    def base_config(self):
        """The keys the harness writes before the test's overrides."""
        c = {
            "hostname": "mail.test.example",
            "data_dir": self.data_dir,
            "mail_dir": self.mail_dir,
            "tls_cert": os.path.join(self.data_dir, "tls", "cert.pem"),
            "tls_key": os.path.join(self.data_dir, "tls", "key.pem"),
            "log": "stderr",
            "reverse_dns": "no",
            # Never the machine's resolver: nothing listens on UDP 9.
            "dns_servers": NO_DNS,
            # SPF, DKIM, DMARC and ARC ask DNS about every inbound
            # message: tests/blackbox/test_mauth.py turns them on with
            # a stub; the others would wait for NO_DNS to time out.
            "inbound_auth": "no",
            # The tests' passwords are short ("s3cret", "y"); the
            # default minimum (8) is tested with None for this key.
            "password_min_length": "1",
        }
        if IS_ROOT:
            c["user"] = DAEMON_USER
        return c

    def write_config(self):
        """(Re)writes DIR/popgate.conf from base_config(), the overrides,
        the listeners and the extra lines. Call it after changing
        `inst.config_overrides`, `inst.extra_lines` or `inst.ports`."""
        c = self.base_config()
        for k, v in self.config_overrides.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        self.config = c
        lines = ["# written by tests/blackbox/harness.py"]
        lines += [f"{k} = {v}" for k, v in c.items()]
        lines += [f"listen = 127.0.0.1:{self.ports[name]} {role}"
                  for name, role in self.listeners.items()]
        lines += self.extra_lines
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf_path, 0o644)

    def chown_data(self):
        """Gives data_dir to the daemon's user (as root). The harness does
        it before each start(); call it after writing files into data_dir
        as root while the daemon runs (e.g. messages into a Maildir)."""
        chown_tree(self.data_dir)

    # ---- the command line ----

    def cli(self, *args, input=None, check=False, env=None,
            timeout=CLI_TIMEOUT):
        """Runs `popgate ARGS -c DIR/popgate.conf`; returns the
        CompletedProcess (text). INPUT is fed to stdin (else it is empty).
        CHECK: fail the test unless the exit status is 0."""
        args = [*map(str, args), "-c", self.conf_path]
        p = run_popgate(*args, input=input, env=env, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"`popgate {' '.join(args)}` exited "
                        f"{p.returncode}\nstdout:\n{p.stdout}\n"
                        f"stderr:\n{p.stderr}")
        return p

    def cli_json(self, *args):
        """Runs a list/show command with --json; returns the parsed
        output."""
        p = self.cli(*args, "--json", check=True)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            pytest.fail(f"`popgate {' '.join(args)} --json` printed no "
                        f"JSON ({e}):\n{p.stdout}")

    def cli_refused(self, *args, message, input=None, code=1):
        """Runs `popgate ARGS` expecting a refusal: exit CODE (1, the
        request was wrong), MESSAGE on stderr, nothing on stdout, and the
        store unchanged (store_dump() before and after). Returns the
        CompletedProcess."""
        if not self.store_dump():
            self.cli("customer", "list", check=True)    # create the store
        before = self.store_dump()
        p = self.cli(*args, input=input)
        assert p.returncode == code, \
            f"exit {p.returncode}, not {code}\n{p.stdout}\n{p.stderr}"
        assert message in p.stderr, f"{message!r} not in:\n{p.stderr}"
        assert p.stdout == "", f"a refusal printed on stdout:\n{p.stdout}"
        assert self.store_dump() == before, \
            "a refused command changed the store"
        return p

    def setup_mailbox(self, address, password, customer="acme",
                      quota=None):
        """Creates CUSTOMER, the address's domain and the mailbox, each
        unless it exists. Returns the mailbox as `mailbox show --json`."""
        domain = address.rsplit("@", 1)[1]
        if self.cli("customer", "show", customer).returncode != 0:
            self.cli("customer", "add", customer, check=True)
        if self.cli("domain", "show", domain).returncode != 0:
            self.cli("domain", "add", domain, "--customer", customer,
                     check=True)
        if self.cli("mailbox", "show", address).returncode != 0:
            extra = ["--quota", quota] if quota is not None else []
            self.cli("mailbox", "add", address, *extra,
                     input=password + "\n", check=True)
        return self.cli_json("mailbox", "show", address)

    # ---- the daemon ----

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def spawn(self, *extra_args):
        """Starts `popgate serve -c CONF` without waiting; the log goes to
        DIR/serve.log (appended). Returns the Popen."""
        assert not self.running, "the daemon is already running"
        self.chown_data()
        log = open(self.log_path, "ab")
        self.log_offset = log.tell()
        try:
            self.proc = subprocess.Popen(
                [BIN, "serve", "-c", self.conf_path, *extra_args],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=popgate_env())
        finally:
            log.close()
        return self.proc

    def start(self, timeout=START_TIMEOUT):
        """Starts the daemon and waits until it is ready: every listener
        port is in LISTEN state on a socket of the daemon (so it accepts
        TCP connections), SIGTERM/SIGINT are caught, so stop() right
        away is a clean stop, and it has logged "daemon started". Readiness is read from /proc, not probed
        with connections: a probe would be a session the daemon logs and
        counts against 127.0.0.1's limits.
        Fails the test, with the log, when it exits or is not ready in
        time. When a port was taken meanwhile by someone else, new ports
        are picked (a few times). Returns self."""
        for attempt in range(3):
            self.spawn()
            deadline = time.monotonic() + timeout
            waiting = set(self.ports.values())
            while self.proc.poll() is None:
                waiting -= self.listening_ports()
                # Bound ports come first (as root); "daemon started" is
                # logged once the workers have their store handles too.
                if (not waiting and self.handles_stop_signals() and
                        "daemon started" in self.log(self.log_offset)):
                    return self
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(f"popgate serve not ready after {timeout}s "
                                f"(ports {sorted(waiting)} not listening, "
                                f"or SIGTERM not handled yet):\n{self.log()}")
                time.sleep(0.02)
            rc = self.proc.returncode
            if ("Address already in use" in self.log(self.log_offset) and
                    self.config is not None and attempt < 2):
                self.ports = dict(zip(self.listeners,
                                      free_ports(len(self.listeners))))
                self.write_config()
                continue
            pytest.fail(f"popgate serve exited {rc} at start:\n{self.log()}")
        return self

    def handles_stop_signals(self):
        """True when the daemon catches SIGTERM and SIGINT (or blocks
        them, as a signalfd user does)."""
        try:
            st = self.proc_status()
            handled = int(st["SigCgt"], 16) | int(st["SigBlk"], 16)
        except (OSError, KeyError, ValueError):
            return False
        return all(handled & (1 << (s - 1))
                   for s in (signal.SIGTERM, signal.SIGINT))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the daemon to exit; its exit status. Fails the test
        (after SIGKILL) when it does not exit in time."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"popgate serve did not exit within {timeout}s:\n"
                        f"{self.log()}")

    def stop(self, sig=signal.SIGTERM):
        """Stops the daemon with SIG (SIGTERM) and checks it shut down
        cleanly: exit status 0 and no sanitizer report in the log."""
        assert self.proc is not None, "the daemon was never started"
        if self.proc.poll() is None:
            self.send_signal(sig)
        rc = self.wait()
        self.proc = None
        self.check_log()
        if rc != 0:
            pytest.fail(f"popgate serve exited {rc} after "
                        f"{signal.Signals(sig).name}:\n{self.log()}")

    def kill(self):
        """SIGKILL, no checks (for crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self, since=0):
        """The text of DIR/serve.log ('' before the first start), from
        byte offset SINCE. Each start appends: `inst.log(inst.log_offset)`
        is the last run's."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def check_log(self):
        """Fails the test when serve.log holds a sanitizer report."""
        text = self.log()
        marker = sanitizer_report(text)
        if marker:
            pytest.fail(f"{marker} in serve.log:\n{text}")

    def cleanup(self):
        """Kills a daemon still running and removes DIR (kept when the
        environment has POPGATE_KEEP=1)."""
        self.kill()
        if os.environ.get("POPGATE_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- inspection ----

    def maildir(self, address):
        """The Maildir of ADDRESS: DIR/data/mail/DOMAIN/LOCAL, lower-case
        (dot-atom local parts only: popgate encodes others)."""
        local, domain = address.rsplit("@", 1)
        return os.path.join(self.mail_dir, domain.lower(), local.lower())

    def store_dump(self):
        """Every row of every table of data/store.db, read-only: {table:
        sorted list of row tuples}; {} when there is no store yet (any
        CLI command creates it). Compare a dump before and after a
        refused command to check it changed nothing."""
        path = os.path.join(self.data_dir, "store.db")
        if not os.path.exists(path):
            return {}
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            return {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(),
                              key=repr)
                    for t in tables}
        finally:
            db.close()

    def listening_ports(self):
        """The TCP ports the daemon listens on (from /proc/net/tcp{,6}
        and its own socket descriptors)."""
        try:
            inodes = set()
            for fd in os.listdir(f"/proc/{self.pid}/fd"):
                link = os.readlink(f"/proc/{self.pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            return set()
        ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        if fields[3] == "0A" and fields[9] in inodes:
                            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
            except OSError:
                pass
        return ports

    def probe_ports(self, timeout=5):
        """Connects to every port and closes at once; then waits (up to
        TIMEOUT) until the daemon has let go of those connections (its
        descriptor count is back where it was). Returns the ports that
        accepted."""
        before = self.fd_count()
        ok = {p for p in self.ports.values() if port_accepts(p)}
        self.wait_fds(before, timeout)
        return ok

    def wait_fds(self, at_most, timeout=5):
        """Waits until the daemon has at most AT_MOST descriptors open;
        fails the test after TIMEOUT seconds (a descriptor leak)."""
        deadline = time.monotonic() + timeout
        while self.fd_count() > at_most:
            if time.monotonic() > deadline:
                pytest.fail(f"the daemon still has {self.fd_count()} "
                            f"descriptors open, {at_most} before")
            time.sleep(0.02)

    def fd_count(self):
        """How many descriptors the daemon has open (for leak checks:
        poll until it is back to a baseline)."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def proc_status(self):
        """/proc/PID/status of the daemon as {field: value}."""
        with open(f"/proc/{self.pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f
                        if ":\t" in line)


def daemon_ids():
    """(uid, gid) of the daemon's user."""
    pw = pwd.getpwnam(DAEMON_USER)
    return pw.pw_uid, pw.pw_gid
