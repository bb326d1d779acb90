"""popgate-keys (README "Processes", SPEC 14): the TLS private keys live in
a process of their own, and the daemon, which parses everything of the
network, never holds them. With an RSA and with an ECDSA certificate,
STARTTLS and implicit TLS work (TLS 1.3, TLS 1.2 with PKCS#1 v1.5, PSS
and ECDSA signatures, each verified by the client against the
certificate; RSA key exchange, a decryption, is not offered); a process below the daemon named popgate-keys exists, as the
daemon's user; the daemon has no descriptor of the key file and no copy
of the key in its memory (the PEM text, the private exponent or scalar)
while popgate-keys has it. popgate-keys killed is logged and replaced,
and the next handshake works; a reload to a new certificate and key
serves the new pair; an Ed25519 key is refused at start by name. The
key files never pass through the daemon (start, reload, restart); a
restart loads the keys in use whatever the file says by then, and does
not hold up the event loop."""
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

import harness
from harness import der
from delivery_helpers import wait_log

TIMEOUT = 10
NAME = "mail.keys.test"
KINDS = {
    "rsa": ["-newkey", "rsa:2048"],
    "ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ed25519": ["-newkey", "ed25519"],
}


def make_pair(d, kind):
    """A self-signed certificate of KIND for NAME in D: (cert, key), the
    key 0600 and root's when the tests run as root (as certbot leaves
    them: the daemon's user cannot read it)."""
    cert, key = os.path.join(d, kind + ".pem"), os.path.join(d, kind + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", *KINDS[kind], "-nodes",
         "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}",
         "-days", "2", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="module")
def pairs():
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-keys-")
    os.chmod(d, 0o755)
    try:
        yield {k: make_pair(d, k) for k in KINDS} | {"dir": d}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def keyed(make_instance, pair, start=True):
    cert, key = pair
    return make_instance(config={"tls_cert": cert, "tls_key": key},
                         start=start)


# ---- processes ----

def children(ppid):
    """{pid: comm} of the processes whose parent is PPID."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            if stat.rsplit(")", 1)[1].split()[1] != str(ppid):
                continue
            with open(f"/proc/{p}/comm") as f:
                out[int(p)] = f.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def descendants(pid):
    """{pid: comm} of the processes below PID (children, theirs, ...)."""
    out, todo = {}, [pid]
    while todo:
        below = children(todo.pop())
        out.update(below)
        todo.extend(below)
    return out


def keys_pid(inst, not_this=None, timeout=TIMEOUT):
    """The pid of the daemon's popgate-keys (another than NOT_THIS),
    waiting for it at most TIMEOUT seconds: a child of the privileged
    helper (popgate-priv) when the daemon gives up root, else of the
    daemon."""
    deadline = time.monotonic() + timeout
    while True:
        found = [p for p, c in descendants(inst.pid).items()
                 if c == "popgate-keys" and p != not_this]
        if found:
            assert len(found) == 1, found
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no popgate-keys below {inst.pid}: "
                        f"{descendants(inst.pid)}")
        time.sleep(0.05)


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line")


def open_files(pid):
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return out


# ---- memory ----

def key_number(key, label="privateExponent|priv"):
    """A number of KEY's text form, big-endian: by default the private
    exponent (RSA) or scalar (EC)."""
    text = subprocess.run(["openssl", "pkey", "-in", key, "-text",
                           "-noout"], check=True, capture_output=True,
                          text=True, timeout=30).stdout
    m = re.search(rf"^(?:{label}):\s*\n((?:\s+[0-9a-f:]+\n)+)", text,
                  re.M)
    assert m, text
    raw = bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
    return raw.lstrip(b"\0")


def pem_lines(key):
    """The base64 lines of KEY's PEM (each 64 characters)."""
    with open(key, "rb") as f:
        return [l for l in f.read().splitlines()
                if len(l) == 64 and not l.startswith(b"-----")]


def memory_has(pid, needles):
    """The needles found anywhere in the readable memory of PID (regions
    over 1 GiB, ASan's shadow, are left out: not the heap). Fails when
    less than 4 MiB could be read: a search of nothing proves nothing."""
    found, nread = set(), 0
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if parts[1][0] != "r" or hi - lo > 1 << 30 or \
                    (len(parts) > 5 and parts[5] in ("[vvar]",
                                                     "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            nread += len(data)
            for n in needles:
                if n in data:
                    found.add(n)
    assert nread > 4 << 20, f"only {nread} bytes of {pid} readable"
    return found


def secrets_of(key):
    d = key_number(key)
    # BIGNUM words are little-endian on this machine: both orders.
    return [d, d[::-1]] + pem_lines(key)[1:3]


# ---- clients ----

def verifying(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False      # the address is 127.0.0.1
    return ctx


def implicit_tls(port, ctx, maximum=None):
    if maximum is not None:
        ctx.maximum_version = maximum
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as r:
        with ctx.wrap_socket(r, server_hostname=NAME) as t:
            assert t.recv(100).startswith(b"+OK")
            return t.version(), t.getpeercert(binary_form=True)


def smtp_starttls(port, ctx):
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        assert c.starttls(context=ctx)[0] == 220
        assert c.noop()[0] == 250
        return c.sock.version()


def s_client(port, cert, *args):
    """openssl s_client on implicit TLS (POP3S) with ARGS; its output
    after QUIT."""
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
         "-CAfile", cert, "-verify_return_error", "-ign_eof", *args],
        input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


# ---- tests ----

@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_tls_works_with_the_key_elsewhere(make_instance, pairs, kind):
    cert, key = pairs[kind]
    inst = keyed(make_instance, pairs[kind])
    port = inst.ports["pop3s"]
    assert implicit_tls(port, verifying(cert))[0] == "TLSv1.3"
    version, served = implicit_tls(port, verifying(cert),
                                   ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2" and served == der(cert)
    assert smtp_starttls(inst.ports["smtp"], verifying(cert)) == "TLSv1.3"
    sigalgs = "RSA+SHA256" if kind == "rsa" else "ECDSA+SHA256"
    rc, out = s_client(port, cert, "-tls1_2", "-sigalgs", sigalgs)
    assert rc == 0 and "+OK" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    if kind == "rsa":
        rc, out = s_client(port, cert, "-tls1_2", "-sigalgs",
                           "RSA-PSS+SHA256")
        assert rc == 0 and "+OK" in out, out
        # RSA key exchange would need a decryption: not offered.
        rc, out = s_client(port, cert, "-tls1_2", "-cipher",
                           "AES128-GCM-SHA256")
        assert rc != 0 and "+OK" not in out, out

    kp = keys_pid(inst)
    with open(f"/proc/{kp}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"popgate-keys"
    if harness.IS_ROOT:
        assert uid_of(kp) == harness.daemon_ids()[0]
    # The daemon (the process listening) holds no descriptor of the key
    # file and no copy of the key.
    assert port in inst.listening_ports()
    files = open_files(inst.pid)
    assert key not in files and os.path.realpath(key) not in files, files
    secrets = secrets_of(key)
    if kind == "rsa":
        # The search can fail: the daemon has the public modulus.
        n = key_number(key, "modulus")
        secrets += [n, n[::-1]]
        found = memory_has(inst.pid, secrets)
        assert found & {n, n[::-1]}, "the modulus is not found"
        secrets = secrets[:-2]
        assert found - {n, n[::-1]} == set()
    else:
        assert memory_has(inst.pid, secrets) == set()
    if harness.IS_ROOT:
        # The search can fail: popgate-keys has the private number.
        found = memory_has(kp, secrets)
        assert secrets[0] in found or secrets[1] in found, found
    inst.stop()


def test_killed_keys_process_is_replaced(make_instance, pairs):
    cert, key = pairs["rsa"]
    inst = keyed(make_instance, pairs["rsa"])
    port = inst.ports["pop3s"]
    old = keys_pid(inst)
    wait_log(inst, rf"popgate-keys started pid={old}")
    since = len(inst.log().encode())
    os.kill(old, signal.SIGKILL)
    wait_log(inst, rf"popgate-keys pid={old} killed by signal 9", since)
    new = keys_pid(inst, not_this=old)
    wait_log(inst, rf"popgate-keys pid={new} holds generation", since)
    assert implicit_tls(port, verifying(cert))[1] == der(cert)
    assert smtp_starttls(inst.ports["submission"], verifying(cert))
    assert key not in open_files(inst.pid)
    inst.stop()


def test_reload_to_a_new_pair(make_instance, pairs):
    """From the run's ECDSA pair to the RSA one by a reload: served at
    once, the daemon still without the key; killed afterwards, the new
    popgate-keys gets the reloaded key."""
    cert, key = pairs["rsa"]
    inst = make_instance()
    port = inst.ports["imaps"]
    inst.config_overrides.update({"tls_cert": cert, "tls_key": key})
    inst.write_config()
    out = inst.cli("reload")
    assert out.returncode == 0, out
    ctx = verifying(cert)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as r:
        with ctx.wrap_socket(r, server_hostname=NAME) as t:
            assert t.recv(100).startswith(b"* OK")
            assert t.getpeercert(binary_form=True) == der(cert)
    assert key not in open_files(inst.pid)
    assert memory_has(inst.pid, secrets_of(key)) == set()
    old = keys_pid(inst)
    since = len(inst.log().encode())
    os.kill(old, signal.SIGKILL)
    new = keys_pid(inst, not_this=old)
    wait_log(inst, rf"popgate-keys pid={new} holds generation 2", since)
    assert implicit_tls(inst.ports["pop3s"], verifying(cert))[1] == der(cert)
    inst.stop()


class FdWatch:
    """A thread reading /proc/PID/fd of INST's daemon as fast as it can,
    from the moment it exists until stop(): every descriptor target
    seen, and how many times the table was read whole."""

    def __init__(self, inst):
        self.inst, self.seen, self.reads = inst, set(), 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            pid = self.inst.pid
            if pid is None:
                time.sleep(0.001)
                continue
            try:
                self.seen |= open_files(pid)
                self.reads += 1
            except (FileNotFoundError, ProcessLookupError):
                pass

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.seen


def host_lines(pair, n):
    cert, key = pair
    return [f"tls_host = h{i}.keys.test {cert} {key}" for i in range(n)]


@pytest.mark.skipif(not harness.IS_ROOT,
                    reason="without root the daemon opens the keys itself")
def test_daemon_never_holds_a_key_descriptor(make_instance, pairs):
    """The key files go from their owner (popgate-priv) to popgate-keys
    directly: /proc/PID/fd of the daemon, read all along its start, a
    reload and a restart of a killed popgate-keys, never shows one (30
    tls_host lines make each load long enough to be seen if they passed
    through it), and TLS works after each."""
    cert, key = pairs["rsa"]
    ecert, ekey = pairs["ecdsa"]
    keys = {key, os.path.realpath(key), ekey, os.path.realpath(ekey)}
    inst = keyed(make_instance, pairs["rsa"], start=False)
    inst.extra_lines = host_lines(pairs["rsa"], 30)
    inst.write_config()
    watch = FdWatch(inst)
    try:
        inst.start()
        assert implicit_tls(inst.ports["pop3s"], verifying(cert))[1] == \
            der(cert)
        inst.config_overrides.update({"tls_cert": ecert, "tls_key": ekey})
        inst.extra_lines = host_lines(pairs["ecdsa"], 30)
        inst.write_config()
        out = inst.cli("reload")
        assert out.returncode == 0, out
        assert implicit_tls(inst.ports["pop3s"], verifying(ecert))[1] == \
            der(ecert)
        old = keys_pid(inst)
        since = len(inst.log().encode())
        os.kill(old, signal.SIGKILL)
        new = keys_pid(inst, not_this=old)
        wait_log(inst, rf"popgate-keys pid={new} holds generation 2", since)
        assert implicit_tls(inst.ports["pop3s"], verifying(ecert))[1] == \
            der(ecert)
    finally:
        seen = watch.stop()
    assert watch.reads > 100, watch.reads
    assert not seen & keys, seen & keys
    # The watch does see what the daemon holds: its certificates.
    assert ecert in seen or os.path.realpath(ecert) in seen, seen
    if harness.IS_ROOT:
        assert uid_of(new) == harness.daemon_ids()[0]
    inst.stop()


def test_restart_loads_the_keys_in_use(make_instance, pairs):
    """The configuration on disk names other keys (another pair, one
    more tls_host) than the generation in use, not reloaded: a killed
    popgate-keys is replaced once, by one holding the keys in use, and
    the certificate in use is served; no restart after restart."""
    cert, key = pairs["rsa"]
    inst = keyed(make_instance, pairs["rsa"])
    old = keys_pid(inst)
    inst.config_overrides.update({"tls_cert": pairs["ecdsa"][0],
                                  "tls_key": pairs["ecdsa"][1]})
    inst.extra_lines = host_lines(pairs["ecdsa"], 1)
    inst.write_config()
    since = len(inst.log().encode())
    os.kill(old, signal.SIGKILL)
    new = keys_pid(inst, not_this=old)
    wait_log(inst, rf"popgate-keys pid={new} holds generation 1", since)
    assert implicit_tls(inst.ports["pop3s"], verifying(cert))[1] == der(cert)
    assert smtp_starttls(inst.ports["smtp"], verifying(cert)) == "TLSv1.3"
    log = inst.log(since)
    assert len(re.findall(r"popgate-keys started pid=", log)) == 1, log
    assert "is not the one in use" not in log, log
    assert keys_pid(inst) == new
    inst.stop()


def smtp_banner_time(port):
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        assert s.recv(100).startswith(b"220")
    return time.monotonic() - t0


@pytest.mark.skipif(not harness.IS_ROOT, reason="popgate-priv runs as root")
def test_loop_serves_while_keys_restart(make_instance, pairs):
    """A restart of popgate-keys waits for popgate-priv (stopped here, so
    its answer takes seconds): on a worker thread, not on the event
    loop, which greets new SMTP sessions at once meanwhile; popgate-priv
    continued, the restart completes and TLS works again."""
    cert, key = pairs["rsa"]
    inst = keyed(make_instance, pairs["rsa"])
    priv = [p for p, c in children(inst.pid).items() if c == "popgate-priv"]
    assert len(priv) == 1, children(inst.pid)
    old = keys_pid(inst)
    since = len(inst.log().encode())
    os.kill(priv[0], signal.SIGSTOP)
    try:
        os.kill(old, signal.SIGKILL)
        # The restart starts within RESTART_GAP (1 s) of the end.
        deadline = time.monotonic() + 3
        slowest = 0
        while time.monotonic() < deadline:
            slowest = max(slowest, smtp_banner_time(inst.ports["smtp"]))
    finally:
        os.kill(priv[0], signal.SIGCONT)
    assert slowest < 1, f"a banner took {slowest:.1f}s"
    new = keys_pid(inst, not_this=old)
    wait_log(inst, rf"popgate-keys pid={new} holds generation 1", since)
    assert implicit_tls(inst.ports["pop3s"], verifying(cert))[1] == der(cert)
    inst.stop()


def test_restarts_stop_after_failing_in_a_row(make_instance, pairs):
    """A popgate-keys that ends soon after each start (killed here at
    once, five times) is not started again and again: the daemon says
    it gives up and starts none; a reload starts one, and TLS works."""
    cert, key = pairs["rsa"]
    inst = keyed(make_instance, pairs["rsa"])
    since = len(inst.log().encode())
    pid = keys_pid(inst)
    for _ in range(5):
        os.kill(pid, signal.SIGKILL)
        if _ < 4:
            pid = keys_pid(inst, not_this=pid)
    wait_log(inst, r"popgate-keys: not started again \(5 failed starts "
             r"in a row\)", since)
    assert [p for p, c in descendants(inst.pid).items()
            if c == "popgate-keys"] == []
    out = inst.cli("reload")
    assert out.returncode == 0, out
    assert implicit_tls(inst.ports["pop3s"], verifying(cert))[1] == der(cert)
    inst.stop()


def test_ed25519_key_refused_at_start(make_instance, pairs):
    cert, key = pairs["ed25519"]
    inst = keyed(make_instance, pairs["ed25519"], start=False)
    inst.spawn()
    rc = inst.wait()
    log = inst.log()
    assert rc == 2, log
    assert f"TLS: {cert}: ED25519 keys are not supported (popgate-keys " \
        "signs with RSA and ECDSA keys only)" in log, log
