"""milter_helpers.py - the real content filters (milters) of the milter
black-box tests (test_milter_*.py; SPEC section 11, issue 16), and what
those tests share on popgate's side.

Each filter is started by a module-scoped fixture from the Debian
packages (scripts/bootstrap installs them) on a free 127.0.0.1 port with
a temporary directory, as an unprivileged user from exec on when the
tests run as root, never with the network or the system resolver:

    rspamd_milter     rspamd 3.x, its proxy worker in milter mode scanning
                      by itself (self_scan upstream); GTUBE is rejected
                      (554 5.7.1), a clean message gets X-Spamd-Result,
                      X-Rspamd-Server, X-Rspamd-Queue-Id, X-Spam-Status;
                      its DNS goes to a DnsStub (dnsstub.py); no redis, no
                      module that would fetch maps or query lists
    clamav_milter     clamd with one signature file written here (TEST_VIRUS,
                      an EICAR-like string, in a .ndb; no main.cvd, nothing
                      downloaded, freshclam never runs) and clamav-milter
                      in front of it: a message holding the string is
                      rejected (550 5.7.1 Virus found: ...), a clean one
                      gets X-Virus-Scanned and X-Virus-Status: Clean
    opendkim_milter   OpenDKIM signing (mode s) mail from DKIM_DOMAIN with
                      selector DKIM_SELECTOR and a key made here by
                      openssl; dkim_verify() checks a signature with
                      python3-dkim, the key lookup answered without DNS
    scripted_milter   a milter_proto.ScriptedMilter for the module

Each is a `Daemon` (clamav_milter two): `.addr` is the value for popgate's
`milter = NAME ADDR` ("inet:127.0.0.1:PORT"), `.port`, `.dir`,
`.start_time` (seconds from exec to ready, also in START_TIMES), `.log()`.
Readiness is an event: the port in LISTEN state (read from /proc/net/tcp,
so no probe connection reaches the filter) and, for rspamd, the log line
of its proxy worker starting; never a fixed sleep.

On popgate's side: `milter_instance(make, milters=[(name, addr)], ...)`
writes the milter lines of the configuration (SPEC 11, issue 16):

    milter = NAME unix:/path | inet:HOST:PORT     (repeatable, in order)
    milter_apply NAME = inbound | relay | all
    milter_connect_timeout, milter_command_timeout, milter_total_timeout,
    milter_default_action = tempfail | accept     (and per NAME)

and `transaction()` runs one SMTP transaction with smtplib and reports
the reply of each command.
"""

import atexit
import base64
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import harness
from smtp_helpers import Client
from dnsstub import DnsStub
from milter_proto import (  # noqa: F401 (re-exported for the tests)
    ACCEPT, ADDHDRS, ADDRCPT, ADDRCPT_PAR, ALL_ACTIONS, ALL_PROTOCOL,
    CHGBODY, CHGFROM, CHGHDRS, CONTINUE, DELRCPT, DISCARD, FINAL, MODS,
    P, PROGRESS, QUARANTINE, REJECT, SETSYMLIST, SKIP, STEP_FLAGS,
    TEMPFAIL, VERSION, Close, Hang, MilterClient, Progress, Raw, Result,
    ScriptedMilter, Session, add_header, add_rcpt, change_from,
    change_header, del_rcpt, insert_header, packet, parse_header_fields,
    quarantine, read_packet, replace_body, replycode, split_z, z)

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# The "virus" of the ClamAV fixture: any message holding it is infected.
TEST_VIRUS = "POPGATE-TEST-VIRUS-5f1c9a2e-NOT-A-REAL-VIRUS-EICAR-LIKE"
TEST_VIRUS_NAME = "Popgate.Test.Virus"

DKIM_DOMAIN = "acme.test"
DKIM_SELECTOR = "pgtest"

IS_ROOT = os.geteuid() == 0
START_TIMEOUT = 60

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
    that verifies with PUBLIC_KEY (the only key lookup answers it).
    popgate's own signatures (its keys, other selectors) are there too
    and do not count."""
    import dkim
    want = f"{DKIM_SELECTOR}._domainkey.{DKIM_DOMAIN}".encode()

    def dnsfunc(name, timeout=5):
        if name.rstrip(b".") == want:
            return dkim_record(public_key).encode()
        return None

    d = dkim.DKIM(message)
    n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
    for i in range(n):
        try:
            if d.verify(idx=i, dnsfunc=dnsfunc):
                return True
        except dkim.DKIMException:
            pass
    return False


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


# ---- popgate with milters ----
#
# Mailboxes of every milter_instance(): customer acme owns acme.test
# (ann, bob, carol), customer beta owns beta.test (dave); passwords
# PASSWORD. Mail to example.org is relayed (to a sink when the test
# routes it there with `transport`, else it stays queued: no DNS).

PASSWORD = "s3cret"
MAILBOXES = {"acme": ["ann@acme.test", "bob@acme.test", "carol@acme.test"],
             "beta": ["dave@beta.test"]}
# Fast failures; filters answer at once unless a test scripts otherwise.
MILTER_DEFAULTS = {
    "auth_failure_delay": "0",
    "retry_min": "1s",
    "retry_max": "2s",
    "milter_connect_timeout": "2s",
    "milter_command_timeout": "10s",
    "milter_total_timeout": "1m",
}

_template = None


def _cleanup_template():
    if _template is not None:
        shutil.rmtree(_template, ignore_errors=True)


atexit.register(_cleanup_template)


def milter_lines(milters, apply=None, per_filter=None):
    """The configuration lines: MILTERS [(name, addr or object with
    .addr)], APPLY {name: inbound|relay|all}, PER_FILTER {(key, name):
    value}, e.g. {("milter_default_action", "x"): "accept"}."""
    lines = []
    for name, addr in milters:
        lines.append(f"milter = {name} {getattr(addr, 'addr', addr)}")
    for name, how in (apply or {}).items():
        lines.append(f"milter_apply {name} = {how}")
    for (key, name), value in (per_filter or {}).items():
        lines.append(f"{key} {name} = {value}")
    return lines


def milter_instance(tls_files, milters, apply=None, per_filter=None,
                    config=None, extra_lines=None, start=True):
    """A harness.Instance (not through make_instance, so a module may
    share it) with MAILBOXES, MILTER_DEFAULTS overridden by CONFIG and
    the milter lines of milter_lines(); started unless START is false.
    The caller stops and removes it (finish())."""
    global _template
    cfg = dict(MILTER_DEFAULTS)
    cfg.update(config or {})
    lines = milter_lines(milters, apply, per_filter) + list(extra_lines or [])
    inst = harness.Instance(config=cfg, extra_lines=lines, tls=tls_files)
    try:
        if _template is None:
            for customer, boxes in MAILBOXES.items():
                for box in boxes:
                    inst.setup_mailbox(box, PASSWORD, customer=customer)
            tmp = tempfile.mkdtemp(dir="/tmp", prefix="popgate-milter-tmpl-")
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
    except BaseException:
        inst.cleanup()
        raise
    return inst


def finish(inst):
    try:
        if inst.running:
            inst.stop()
    finally:
        inst.cleanup()


# ---- SMTP against popgate ----

def session(inst, helo, port="smtp", source=None):
    c = Client(inst.ports[port], source=source)
    c.ehlo(helo)
    return c


def auth(c, user="ann@acme.test"):
    token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
    assert_reply(c.cmd(f"AUTH PLAIN {token}"), "235 2.7.0")


def first_only(answer):
    """A handler giving ANSWER to the first call only (headers and
    body chunks come several times)."""
    calls = []

    def h(s, a):
        calls.append(1)
        return [answer] if len(calls) == 1 else None
    return h


def assert_reply(reply, code):
    """Every line of REPLY (smtp_helpers.Reply) starts with CODE, e.g.
    "550 5.7.1": the basic code and the enhanced code."""
    basic, enhanced = code.split(" ")
    for i, line in enumerate(reply.raw):
        sep = " " if i == len(reply.raw) - 1 else "-"
        assert line.startswith(f"{basic}{sep}{enhanced} ") or \
            line == f"{basic}{sep}{enhanced}", \
            f"expected {code}, got:\n{reply.text}"
    return reply


def queued_id(reply):
    m = re.match(r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$", reply.text)
    assert m, f"not a queued reply: {reply.text}"
    return m.group(1)


class Missing:
    """The reply to a command never sent (the transaction stopped
    before it): false, and a failing assert_reply() shows the Outcome."""

    code = 0

    def __init__(self, what, outcome):
        self.what, self.outcome = what, outcome

    def __bool__(self):
        return False

    @property
    def raw(self):
        return [f"(no {self.what} reply: the transaction stopped before; "
                f"{self.outcome!r})"]

    @property
    def text(self):
        return self.raw[0]

    def __repr__(self):
        return self.text


class Outcome:
    """The replies of one transaction: MAIL, RCPTS [one per recipient],
    DATA (354 or the refusal), END (the final reply). A command never
    sent has a Missing reply (false). LAST: the last reply received."""

    def __init__(self):
        self._r = {}
        self.rcpts = []
        self.last = None

    def _get(self, what):
        return self._r.get(what) or Missing(what, self)

    mail = property(lambda self: self._get("mail"),
                    lambda self, v: self._r.__setitem__("mail", v))
    data = property(lambda self: self._get("data"),
                    lambda self, v: self._r.__setitem__("data", v))
    end = property(lambda self: self._get("end"),
                   lambda self, v: self._r.__setitem__("end", v))

    @property
    def qid(self):
        return queued_id(self.end)

    def __repr__(self):
        return (f"<Outcome mail={self._r.get('mail')} rcpts={self.rcpts} "
                f"data={self._r.get('data')} end={self._r.get('end')}>")


def send(c, sender, rcpts, message, mail_args="", bdat=None):
    """One transaction on smtp_helpers.Client C: MAIL FROM:<SENDER>
    MAIL_ARGS, RCPT TO each (refusals are recorded, the others go on),
    then DATA (dot-stuffed MESSAGE, bytes with CRLF) or, with BDAT a
    list of chunk sizes, BDAT chunks (the last one LAST). Stops (with
    RSET) at a refused MAIL, when no recipient was accepted, or at a
    refused DATA. Returns an Outcome."""
    o = Outcome()
    o.mail = o.last = c.cmd(f"MAIL FROM:<{sender}>{mail_args}")
    if o.mail.code != 250:
        return o
    for r in rcpts:
        o.last = c.cmd(f"RCPT TO:<{r}>")
        o.rcpts.append(o.last)
    if not any(r.code == 250 for r in o.rcpts):
        c.cmd("RSET")
        return o
    if bdat:
        o.end = o.last = send_bdat(c, message, bdat)
        return o
    o.data = o.last = c.cmd("DATA")
    if o.data.code != 354:
        return o
    c.send(dot_stuff(message) + b".\r\n")
    o.end = o.last = c.reply()
    return o


def send_bdat(c, message, sizes):
    """BDAT chunks of MESSAGE of the SIZES (the rest in the last one);
    each non-last chunk must get 250 2.0.0; the reply to the last."""
    pos = 0
    for n in sizes:
        chunk = message[pos:pos + n]
        pos += n
        c.send(f"BDAT {len(chunk)}\r\n".encode() + chunk)
        r = c.reply()
        if r.code != 250:
            return r
    rest = message[pos:]
    c.send(f"BDAT {len(rest)} LAST\r\n".encode() + rest)
    return c.reply()


def dot_stuff(message):
    if isinstance(message, str):
        message = message.encode()
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l
                        for l in lines)


def delivered(inst, address):
    """The messages (bytes, LF) in ADDRESS's Maildir new/, by name."""
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


def delivered_with(inst, address, tag, timeout=10):
    """The one message in ADDRESS's Maildir holding TAG (bytes),
    waited for (delivery is done by the final 250, but be lenient)."""
    tag = tag.encode() if isinstance(tag, str) else tag
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in delivered(inst, address) if tag in m]
        if got:
            assert len(got) == 1, f"{len(got)} copies of {tag!r}"
            return got[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no message with {tag!r} for {address}")
        time.sleep(0.02)


def not_delivered(inst, tag, addresses=None):
    """No Maildir of ADDRESSES (default: all of MAILBOXES) holds TAG."""
    tag = tag.encode() if isinstance(tag, str) else tag
    for boxes in ([addresses] if addresses else MAILBOXES.values()):
        for a in boxes:
            for m in delivered(inst, a):
                assert tag not in m, f"{a} got the message {tag!r}"


def header_fields(msg):
    """[(name, value)] of a delivered message (bytes, LF), in order; a
    folded value keeps its LF + white space, the value is stripped."""
    head = msg.split(b"\n\n", 1)[0]
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += "\n" + line.decode("utf-8", "replace")
            continue
        name, _, value = line.decode("utf-8", "replace").partition(":")
        fields.append([name, value])
    return [(n, v.strip()) for n, v in fields]


def body_of(msg):
    return msg.split(b"\n\n", 1)[1]


def tagged_message(tag, sender="someone@example.org", rcpt="ann@acme.test",
                   extra_headers="", body=None):
    """A message (bytes, CRLF) whose Subject and body hold TAG."""
    body = body if body is not None else f"body of {tag}\r\n"
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@example.org>\r\n"
            f"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n{extra_headers}"
            f"\r\n{body}").encode()


def queue_json(inst):
    return inst.cli_json("queue", "list")


class Blackhole:
    """A listening socket on 127.0.0.1 whose accept queue is full (one
    connection of ours waits in it, never accepted): a connect() to it
    gets no answer, so it times out (milter_connect_timeout)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.addr = f"inet:127.0.0.1:{self.port}"
        self.filler = socket.create_connection(("127.0.0.1", self.port),
                                               timeout=2)

    def stop(self):
        for s in (self.filler, self.sock):
            try:
                s.close()
            except OSError:
                pass


def closed_port():
    """A loopback port where nothing listens (connection refused)."""
    return free_port()
