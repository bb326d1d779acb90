"""bench/servers.py - the servers `make bench` and `make bench-compare`
measure, each a private instance on 127.0.0.1 high ports under one
temporary directory, started and stopped by bench/run.py.

    Popgate(root, build)    popgate serve, SMTP + POP3 + IMAP
    Postfix(root)           postfix -c DIR start: SMTP, virtual Maildirs
    Dovecot(root)           dovecot -c FILE: POP3 and IMAP on the same
                            Maildirs

All three share the mailbox layout (Maildir DOMAIN/LOCAL/{new,cur,tmp}
under their own mail directory), the accounts (ACCOUNTS below) and the
password hashes (made here with libcrypt, as popgate makes them), and
route the domain sink.test to the load generator's SMTP sink. Nothing
uses DNS: popgate's dns_servers is a loopback port where nothing
answers, Postfix has DNS lookups disabled.
"""
import ctypes
import ctypes.util
import os
import pwd
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time

IS_ROOT = os.geteuid() == 0
MAIL_USER = "popgate"       # created by scripts/bootstrap; owns all mail
DOMAIN = "bench.test"
SINK_DOMAIN = "sink.test"
# A hosted domain without DKIM keys (relay-1k-c50-nosign) and the domain
# of the internet's sender (local-1k-c50-auth), hosted nowhere.
NOKEY_DOMAIN = "nokeys.test"
SENDER_DOMAIN = "sender.test"
PASSWORD = "benchpass"
START_TIMEOUT = 30

# Mailboxes every server has: delivery targets, check-mail and RETR
# maildrops, and the mailboxes of the concurrent-login rows.
DELIVERY_BOXES = [f"u{i}" for i in range(100)]
LOAD_SESSIONS = 50
# The IMAP idle row on Dovecot: sessions at most, and per imap process.
DOVECOT_IDLE_SESSIONS = 10000
DOVECOT_IDLE_CLIENTS = 1000
LOAD_BOXES = {          # prefix -> password scheme
    "py": "yescrypt",
    "ps": "sha512",
    "pl": "plain",      # Dovecot only (popgate stores only crypt hashes)
}


def free_ports(n):
    """N distinct ports free on 127.0.0.1 a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def mail_ids():
    pw = pwd.getpwnam(MAIL_USER)
    return pw.pw_uid, pw.pw_gid


def chown_tree(path):
    """Gives PATH and everything below to MAIL_USER (as root)."""
    if not IS_ROOT:
        return
    uid, gid = mail_ids()
    for top, dirs, files in os.walk(path):
        os.lchown(top, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(top, name), uid, gid)


def run(cmd, **kw):
    """Runs CMD; raises with its output when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited "
                           f"{p.returncode}:\n{p.stdout}{p.stderr}")
    return p


# ---- passwords ----

_crypt = None


def crypt_hash(password, scheme):
    """A crypt(3) hash of PASSWORD: "yescrypt" as popgate's `mailbox add`
    makes it (crypt_gensalt "$y$", default cost), "sha512"
    (SHA-512-crypt, default 5000 rounds), or "sha256-1000" (SHA-256-crypt
    at its least cost, 1000 rounds: the scale rows' logins, where the
    look-up and not the hash is measured)."""
    global _crypt
    if _crypt is None:
        _crypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
        _crypt.crypt_gensalt.restype = ctypes.c_char_p
        _crypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                         ctypes.c_char_p, ctypes.c_int]
        _crypt.crypt.restype = ctypes.c_char_p
        _crypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    prefix, count = {"yescrypt": (b"$y$", 0), "sha512": (b"$6$", 0),
                     "sha256-1000": (b"$5$", 1000)}[scheme]
    salt = _crypt.crypt_gensalt(prefix, count, None, 0)
    h = _crypt.crypt(password.encode(), salt)
    if not salt or not h or h.startswith(b"*"):
        raise RuntimeError(f"libcrypt cannot make a {scheme} hash")
    return h.decode()


class Accounts:
    """Every mailbox with its hash, made once and given to every server:
    {local: (scheme, hash)}. The check-mail and RETR maildrops and the
    delivery targets use yescrypt, popgate's default; the login rows use
    the scheme of their prefix."""

    def __init__(self, mailboxes):
        self.boxes = {}
        y = crypt_hash(PASSWORD, "yescrypt")
        for local in DELIVERY_BOXES + list(mailboxes):
            self.boxes[local] = ("yescrypt", y)
        for prefix, scheme in LOAD_BOXES.items():
            for i in range(LOAD_SESSIONS):
                h = (PASSWORD if scheme == "plain"
                     else crypt_hash(PASSWORD, scheme))
                self.boxes[f"{prefix}{i}"] = (scheme, h)


# ---- Maildir contents ----

def message_text(n, size):
    """A message of about SIZE octets, LF line ends, as a server stores
    it; no line starts with "."."""
    head = (f"Return-Path: <sender@example.org>\n"
            f"Received: from client.example.org (client.example.org "
            f"[192.0.2.7])\n\tby mail.bench.test with ESMTP id {n:08x}\n"
            f"From: Sender <sender@example.org>\nTo: <box@{DOMAIN}>\n"
            f"Subject: message {n}\nMessage-ID: <{n}.bench@example.org>\n"
            f"Date: Sat, 28 Nov 2026 21:00:00 +0000\n\n")
    line = ("All work and no play makes Jack a dull boy, message "
            f"{n:08d} ") * 2
    line = line[:72] + "\n"
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).encode()


def fill_maildir(path, count, size):
    """A Maildir at PATH with COUNT new messages of about SIZE octets,
    named as popgate names them (the ,S= size and ,W= RFC 822 size in
    the name, which Dovecot reads too)."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    t = int(time.time()) - 86400
    for i in range(count):
        data = message_text(i, size)
        vsize = len(data) + data.count(b"\n")
        name = (f"{t + i // 10}.M{(i * 7919) % 1000000:06d}P4242Q{i + 1}"
                f"R{random.getrandbits(32):08x}.mail.bench.test,"
                f"S={len(data)},W={vsize}")
        with open(os.path.join(path, "new", name), "wb") as f:
            f.write(data)


def copy_maildir(template, dest):
    """A fresh copy of the Maildir TEMPLATE at DEST (hard links: the
    servers only rename and read), owned by MAIL_USER. Whatever was at
    DEST goes, index files included."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    os.makedirs(dest)
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(dest, sub))
        src = os.path.join(template, sub)
        for name in os.listdir(src):
            os.link(os.path.join(src, name), os.path.join(dest, sub, name))
    chown_tree(dest)


def empty_new(path):
    """Removes the delivered files of a Maildir's new/ and cur/."""
    for sub in ("new", "cur", "tmp"):
        d = os.path.join(path, sub)
        for name in os.listdir(d):
            try:
                os.unlink(os.path.join(d, name))
            except FileNotFoundError:
                pass


def wait_gone(pid, timeout=20):
    """Waits until PID has exited; SIGKILL after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline += 5
        time.sleep(0.05)


def read_pid(path, timeout=START_TIMEOUT):
    """The pid in PATH once it is there and alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
            if os.path.exists(f"/proc/{pid}"):
                return pid
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no live pid in {path} after {timeout}s")


def wait_listening(port, timeout=START_TIMEOUT):
    """Waits until something listens on 127.0.0.1:PORT (read from
    /proc/net/tcp: a probe connection would be a session)."""
    want = f"0100007F:{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":
                    return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after "
                       f"{timeout}s")


def raise_nofile():
    """In the child before exec: descriptors up to the hard limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---- popgate ----

class Popgate:
    """popgate serve with SMTP, POP3 and IMAP listeners (no TLS needed;
    a certificate is made because STARTTLS is offered), trusted_networks
    127.0.0.0/8 so the relay rows relay, and connection caps raised for
    the idle rows."""
    name = "popgate"

    def __init__(self, root, build, accounts, sink_port, extra=(),
                 sub="popgate"):
        """EXTRA: more configuration lines ("key = value"); SUB: its
        directory under ROOT (the scale rows have servers of their
        own)."""
        self.dir = os.path.join(root, sub)
        self.bin = os.path.join(build, "popgate")
        self.data_dir = os.path.join(self.dir, "data")
        self.mail_dir = os.path.join(self.data_dir, "mail")
        self.domain_dir = os.path.join(self.mail_dir, DOMAIN)
        self.conf = os.path.join(self.dir, "popgate.conf")
        self.log_path = os.path.join(self.dir, "serve.log")
        self.smtp_port, self.pop3_port, self.imap_port, dns_port = \
            free_ports(4)
        self.proc = None
        os.makedirs(os.path.join(self.data_dir, "tls"))
        os.makedirs(self.mail_dir)
        os.chmod(self.dir, 0o755)
        self.make_cert()
        lines = [
            "# written by bench/servers.py",
            "hostname = mail.bench.test",
            f"data_dir = {self.data_dir}",
            f"mail_dir = {self.mail_dir}",
            f"tls_cert = {self.data_dir}/tls/cert.pem",
            f"tls_key = {self.data_dir}/tls/key.pem",
            "log = stderr",
            "reverse_dns = no",
            f"dns_servers = 127.0.0.1:{dns_port}",
            "trusted_networks = 127.0.0.0/8",
            "max_connections = 15000",   # 10 000 idle + the clients
            "max_connections_per_ip = 20000",
            # As many sink connections as Postfix is given (its
            # *_destination_concurrency_limit = 50): each at its best.
            "delivery_concurrency_per_destination = 50",
            f"listen = 127.0.0.1:{self.smtp_port} smtp",
            f"listen = 127.0.0.1:{self.pop3_port} pop3",
            # LOGIN in clear: imap_plaintext_auth is "loopback" by default.
            f"listen = 127.0.0.1:{self.imap_port} imap",
            f"transport {SINK_DOMAIN} = 127.0.0.1:{sink_port}",
        ]
        if IS_ROOT:
            lines.insert(7, f"user = {MAIL_USER}")
        self.lines = lines + list(extra)
        self.configure()
        chown_tree(self.data_dir)
        self.add_accounts(accounts)

    def configure(self, milter=None, dns=None, checks=True):
        """Writes the configuration, with the content filter MILTER
        (an address "inet:HOST:PORT") if given; a running server reads it
        when it is started again. DNS ("HOST:PORT"): the inbound checks'
        set-up (the auth rows): that resolver, inbound_auth on and no
        trusted_networks, so the load generator's mail comes from the
        internet (local delivery needs no trust); CHECKS False: the
        same with inbound_auth = no."""
        lines = list(self.lines)
        if dns:
            lines = [line for line in lines if not
                     line.startswith(("trusted_networks", "dns_servers"))]
            lines += [f"dns_servers = {dns}",
                      f"inbound_auth = {'yes' if checks else 'no'}",
                      "dmarc_policy = enforce", "spoof_protection = yes"]
        more = [f"milter = noop {milter}"] if milter else []
        with open(self.conf, "w") as f:
            f.write("\n".join(lines + more) + "\n")
        os.chmod(self.conf, 0o644)

    def make_cert(self):
        tls = os.path.join(self.data_dir, "tls")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
             "/CN=mail.bench.test", "-keyout", f"{tls}/key.pem", "-out",
             f"{tls}/cert.pem"])
        os.chmod(f"{tls}/key.pem", 0o600)

    def cli(self, *args, input=""):
        env = dict(os.environ)
        env.pop("POPGATE_CONFIG", None)
        return run([self.bin, *args, "-c", self.conf], input=input,
                   env=env)

    def add_accounts(self, accounts):
        self.cli("customer", "add", "bench")
        self.cli("domain", "add", DOMAIN, "--customer", "bench")
        # domain add makes DKIM keys; this domain's are taken away.
        self.cli("domain", "add", NOKEY_DOMAIN, "--customer", "bench")
        db = sqlite3.connect(os.path.join(self.data_dir, "store.db"))
        with db:
            n = db.execute("DELETE FROM dkim_keys WHERE domain = ?",
                           (NOKEY_DOMAIN,)).rowcount
        db.close()
        if n == 0:
            raise RuntimeError(f"no DKIM keys of {NOKEY_DOMAIN} to delete")
        for local, (scheme, h) in accounts.boxes.items():
            if scheme == "plain":
                continue
            self.cli("mailbox", "add", f"{local}@{DOMAIN}", "--hash", h)
        for local in DELIVERY_BOXES:
            d = self.maildir(local)
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
        chown_tree(self.data_dir)

    def maildir(self, local):
        return os.path.join(self.domain_dir, local)

    def start(self):
        log = open(self.log_path, "ab")
        offset = log.tell()
        try:
            self.proc = subprocess.Popen(
                [self.bin, "serve", "-c", self.conf],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                if b"daemon started" in f.read():
                    break
            if self.proc.poll() is not None:
                raise RuntimeError(f"popgate serve exited "
                                   f"{self.proc.returncode}; see "
                                   f"{self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError("popgate serve did not start")
            time.sleep(0.02)
        wait_listening(self.smtp_port)
        wait_listening(self.pop3_port)
        wait_listening(self.imap_port)

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        if rc not in (0, -signal.SIGTERM):
            raise RuntimeError(f"popgate serve exited {rc} at stop; see "
                               f"{self.log_path}")

    def log_errors(self):
        """Log lines that look like trouble (for the report)."""
        out = []
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    if any(t in line for t in (": warning: ", ": error: ",
                                               ": fatal: ")):
                        out.append(line.rstrip("\n"))
        except OSError:
            pass
        return out


# ---- DNS for the inbound checks ----

class BenchDns:
    """tests/blackbox/dnsstub.py on a free port of 127.0.0.1 (a thread of
    run.py), answering RECORDS. Negative answers (NXDOMAIN, NODATA) carry
    an SOA in the authority section, as a real zone's do, so that popgate
    caches them too (RFC 2308; without one it may not, and would ask
    again for every message)."""

    def __init__(self, records):
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path.insert(0, os.path.join(top, "tests", "blackbox"))
        import dnsstub
        sys.path.pop(0)
        self.mod = dnsstub

        class Stub(dnsstub.DnsStub):
            def answer(stub, msg):
                reply = dnsstub.DnsStub.answer(stub, msg)
                if reply is None or reply[6:8] != b"\0\0":
                    return reply
                # SOA of "test": TTL and minimum 3600 s.
                soa = (dnsstub.encode_name("test") + struct.pack(
                    ">HHIH", 6, 1, 3600, 0))
                rd = (dnsstub.encode_name("ns.test") +
                      dnsstub.encode_name("hostmaster.test") +
                      struct.pack(">IIIII", 1, 3600, 600, 86400, 3600))
                soa = soa[:-2] + struct.pack(">H", len(rd)) + rd
                return reply[:8] + b"\0\1" + reply[10:] + soa

        self.stub = Stub(records)
        self.server = self.stub.server
        self.queries = self.stub.queries

    def start(self):
        self.stub.start()

    def pids(self):
        return []

    def stop(self):
        self.stub.stop()


# ---- the no-op content filter ----

class NoopMilter:
    """BUILD/bench/bench_milter (bench/bench_milter.c, on Sendmail's
    libmilter) on a free port of 127.0.0.1: answers CONTINUE to every
    step, so the server sends it every message whole. stop() reads the
    counts it prints at its end."""
    name = "bench_milter"

    def __init__(self, root, build):
        self.bin = os.path.join(build, "bench", "bench_milter")
        self.log_path = os.path.join(root, "bench_milter.log")
        self.port, = free_ports(1)
        self.address = f"inet:127.0.0.1:{self.port}"   # popgate's syntax
        self.proc = None
        self.counts = {}

    def start(self):
        if not os.access(self.bin, os.X_OK):
            raise RuntimeError(f"no {self.bin}: make B=BUILD "
                               f"BUILD/bench/bench_milter (needs "
                               f"libmilter-dev: scripts/bootstrap)")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.bin, str(self.port)],
                                         stdin=subprocess.DEVNULL,
                                         stdout=log,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=raise_nofile)
        try:
            wait_listening(self.port)
        except RuntimeError:
            self.stop()
            raise

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def cpu_secs(self):
        """utime + stime of the filter, all its threads, in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with open(self.log_path, errors="replace") as f:
            last = [line for line in f if "connections=" in line][-1:]
        for kv in (last[0].split()[1:] if last else []):
            k, _, v = kv.partition("=")
            self.counts[k] = int(v)


# ---- Postfix ----

class Postfix:
    """A private Postfix: its own config_directory, queue_directory and
    data_directory under ROOT/postfix, `postfix -c DIR start` (as root:
    the master runs as root, the daemons as the postfix user). Virtual
    Maildir mailboxes for bench.test (delivered by virtual(8) as
    MAIL_USER), sink.test relayed to the generator's sink through
    transport_maps, no chroot, no DNS. Tuned for throughput: see
    bench/README.md."""
    name = "Postfix"

    def __init__(self, root, accounts, sink_port, idle_sessions):
        self.dir = os.path.join(root, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.mail_base = os.path.join(self.dir, "mail")
        self.domain_dir = os.path.join(self.mail_base, DOMAIN)
        self.smtp_port, = free_ports(1)
        self.master_pid = None
        for d in (self.etc, self.queue, self.data, self.mail_base):
            os.makedirs(d)
        os.chmod(self.dir, 0o755)
        if IS_ROOT:
            pf = pwd.getpwnam("postfix")
            os.chown(self.data, pf.pw_uid, pf.pw_gid)
        uid, gid = mail_ids()
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for local in accounts.boxes:
                f.write(f"{local}@{DOMAIN} {DOMAIN}/{local}/\n")
        with open(os.path.join(self.etc, "transport"), "w") as f:
            f.write(f"{SINK_DOMAIN} smtp:[127.0.0.1]:{sink_port}\n")
        self.main_args = (uid, gid, idle_sessions)
        self.write_main_cf(uid, gid, idle_sessions)
        self.write_master_cf()
        for local in DELIVERY_BOXES:
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(self.maildir(local), sub))
        chown_tree(self.mail_base)

    def configure(self, milter=None):
        """Rewrites main.cf, with smtpd_milters = MILTER (an address
        "inet:HOST:PORT", the same syntax as popgate's) if given; read at
        the next start."""
        self.write_main_cf(*self.main_args, milter=milter)

    def write_main_cf(self, uid, gid, idle_sessions, milter=None):
        procs = max(200, idle_sessions + 100)
        main = f"""# written by bench/servers.py
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.localdomain
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled
relay_domains =
biff = no
maillog_file_prefixes = {self.dir}
maillog_file = {self.dir}/maillog
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.mail_base}
virtual_mailbox_maps = texthash:{self.etc}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 100
transport_maps = texthash:{self.etc}/transport
# Tuning for throughput and for many idle sessions (bench/README.md).
default_process_limit = {procs}
in_flow_delay = 0s
initial_destination_concurrency = 50
default_destination_concurrency_limit = 50
virtual_destination_concurrency_limit = 50
smtp_destination_concurrency_limit = 50
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
"""
        if milter:
            main += f"smtpd_milters = {milter}\n"
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main)

    # The package's pristine master.cf (what postinst copies to /etc),
    # never the system's, which an administrator may have edited.
    MASTER_CF_DIST = "/usr/share/postfix/master.cf.dist"

    def write_master_cf(self):
        """Debian's pristine master.cf with smtpd on our port, no chroot."""
        out = []
        smtpd = False
        with open(self.MASTER_CF_DIST) as f:
            for line in f:
                fields = line.split()
                if (line[:1].isspace() or line.startswith("#") or
                        len(fields) < 8):
                    out.append(line)
                    continue
                if fields[0] == "smtp" and fields[1] == "inet":
                    fields[0] = f"127.0.0.1:{self.smtp_port}"
                    smtpd = True
                fields[4] = "n"
                out.append("  ".join(fields) + "\n")
        if not smtpd:
            raise RuntimeError(f"{self.MASTER_CF_DIST} has no 'smtp inet' "
                               f"service line to put on our port")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.writelines(out)

    def maildir(self, local):
        return os.path.join(self.domain_dir, local)

    def postfix(self, *args):
        # Not run(): the daemons must not inherit our pipes.
        with open(os.path.join(self.dir, "postfix.log"), "ab") as out:
            rc = subprocess.call(["postfix", "-c", self.etc, *args],
                                 stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL,
                                 preexec_fn=raise_nofile)
        if rc != 0:
            raise RuntimeError(f"postfix {' '.join(args)} exited {rc}; see "
                               f"{self.dir}/postfix.log and maillog")

    def start(self):
        self.postfix("start")
        self.master_pid = read_pid(os.path.join(self.queue, "pid",
                                                "master.pid"))
        wait_listening(self.smtp_port)

    def pids(self):
        return [self.master_pid]

    def queue_empty(self):
        for q in ("incoming", "active", "deferred"):
            d = os.path.join(self.queue, q)
            for _, _, files in os.walk(d):
                if files:
                    return False
        return True

    def stop(self):
        if self.master_pid is None:
            return
        try:
            self.postfix("stop")
        except RuntimeError as e:
            print(f"bench: {e}", file=sys.stderr)
        wait_gone(self.master_pid)
        self.master_pid = None


# ---- Dovecot ----

class Dovecot:
    """A private Dovecot: `dovecot -c ROOT/dovecot/dovecot.conf` with its
    own base_dir and state_dir, POP3 and/or IMAP (PROTOCOLS) on high
    ports, passwd-file passdb and userdb (every account of Accounts, home
    = its Maildir, where Dovecot keeps its own index files), mail as
    MAIL_USER. Tuned for speed; configure(many=True) sets it up for the
    10 000 IMAP sessions of the idle row instead: see bench/README.md."""
    name = "Dovecot"

    def __init__(self, root, accounts, protocols=("pop3",)):
        self.dir = os.path.join(root, "dovecot")
        self.base_dir = os.path.join(self.dir, "run")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.domain_dir = os.path.join(self.mail_dir, DOMAIN)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.protocols = list(protocols)
        self.pop3_port, self.imap_port = free_ports(2)
        self.master_pid = None
        os.makedirs(os.path.join(self.dir, "state"))
        os.makedirs(self.domain_dir)
        os.chmod(self.dir, 0o755)
        self.uid, gid = mail_ids()
        scheme = {"yescrypt": "CRYPT", "sha512": "SHA512-CRYPT",
                  "plain": "PLAIN"}
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for local, (s, h) in accounts.boxes.items():
                f.write(f"{local}@{DOMAIN}:{{{scheme[s]}}}{h}:{self.uid}:"
                        f"{gid}::{self.maildir(local)}::\n")
        os.chmod(os.path.join(self.dir, "passwd"), 0o644)
        self.configure(many=False)
        chown_tree(self.mail_dir)

    def configure(self, many):
        """Writes the configuration the next start() uses: MANY = the
        imap processes take up to IDLE_CLIENTS sessions each (for the
        10 000 idle sessions), else one session at a time each, as the
        POP3 processes."""
        conf = f"""# written by bench/servers.py
base_dir = {self.base_dir}
state_dir = {self.dir}/state
instance_name = pgbench-dovecot
log_path = {self.log_path}
protocols = {" ".join(self.protocols)}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = {self.uid}
mail_location = maildir:~
pop3_uidl_format = %08Xu%08Xv
# Tuning (bench/README.md): only Dovecot touches its copy of the Maildirs.
pop3_no_flag_updates = yes
maildir_very_dirty_syncs = yes
auth_cache_size = 10M
auth_cache_ttl = 1 hour
auth_cache_verify_password_with_worker = yes
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
service auth {{
  client_limit = {DOVECOT_IDLE_SESSIONS + 1000 if many else 2000}
}}
"""
        if "pop3" in self.protocols:
            conf += f"""service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 2
}}
service pop3 {{
  service_count = 0
  process_min_avail = 4
}}
"""
        if "imap" in self.protocols:
            conf += self.imap_conf(many)
        with open(self.conf, "w") as f:
            f.write(conf)

    def imap_conf(self, many):
        # One process per session (process_limit = the most sessions at
        # once) would fork 10 000 imap processes for the idle row; there
        # they share processes, as Dovecot allows for IMAP.
        if many:
            procs = DOVECOT_IDLE_SESSIONS // DOVECOT_IDLE_CLIENTS + 4
            imap = (f"  client_limit = {DOVECOT_IDLE_CLIENTS}\n"
                    f"  process_limit = {procs}\n"
                    f"  vsz_limit = 2G\n")
        else:
            imap = ""
        return f"""service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 2
}}
service imap {{
  service_count = 0
  process_min_avail = 4
{imap}}}
protocol imap {{
  mail_max_userip_connections = {DOVECOT_IDLE_SESSIONS + 1000}
}}
"""

    def maildir(self, local):
        return os.path.join(self.domain_dir, local)

    def start(self):
        # Not run(): the daemon keeps inherited pipes open.
        with open(os.path.join(self.dir, "start.log"), "ab") as out:
            rc = subprocess.call(["dovecot", "-c", self.conf],
                                 stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL,
                                 preexec_fn=raise_nofile)
        if rc != 0:
            raise RuntimeError(f"dovecot exited {rc}; see {self.dir}/"
                               f"start.log and {self.log_path}")
        self.master_pid = read_pid(os.path.join(self.base_dir,
                                                "master.pid"))
        if "pop3" in self.protocols:
            wait_listening(self.pop3_port)
        if "imap" in self.protocols:
            wait_listening(self.imap_port)
        # process_min_avail processes are forked right after the start:
        # give them a moment, as a running server would have them.
        time.sleep(0.5)

    def pids(self):
        return [self.master_pid]

    def stop(self):
        if self.master_pid is None:
            return
        try:
            os.kill(self.master_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        wait_gone(self.master_pid)
        self.master_pid = None

    def log_errors(self):
        """The kinds of warnings and errors in the log, each once with
        how often it came (for the report); not the "Killed with signal
        15" of our own stop."""
        kinds = {}
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    m = re.search(r"\b(Warning|Error|Fatal|Panic): (.*)",
                                  line)
                    if m is None or "Killed with signal 15" in line:
                        continue
                    key = f"{m.group(1)}: {m.group(2)}"
                    kinds[key] = kinds.get(key, 0) + 1
        except OSError:
            pass
        return [f"{n} x {k}" for k, n in kinds.items()]
