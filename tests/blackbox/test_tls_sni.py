"""TLS certificates per host name, chosen by SNI (SPEC 14, popgate.conf(5)
tls_host): on every TLS listener and for STARTTLS/STLS, a client asking
for mail.customer.example gets that name's certificate, one asking for
a.hosted.example the wildcard's, anyone else (no SNI, a name two labels
below the wildcard, an unknown name) tls_cert. A real client verifying
the name against the customer's certificate as its only CA connects. A
failed handshake is logged once with OpenSSL's reason; a client that
connects and leaves without a byte only at info level. A tls_host whose
files cannot be used stops check-config and serve, naming the file."""
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import harness
from harness import der, make_cert

CUSTOMER = "mail.customer.example"
WILDCARD = "*.hosted.example"
TIMEOUT = 10


@pytest.fixture(scope="module")
def certs():
    """The customer's and the wildcard's pairs, in a directory only its
    owner reads: as root the daemon must load them before it drops to
    `user`, which could not."""
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-sni-")
    os.chmod(d, 0o700)
    try:
        yield {"customer": make_cert(d, "customer", CUSTOMER),
               "wildcard": make_cert(d, "wildcard", WILDCARD),
               "dir": d}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def host_lines(certs):
    return [f"tls_host = {CUSTOMER} {' '.join(certs['customer'])}",
            f"tls_host = {WILDCARD} {' '.join(certs['wildcard'])}"]


@pytest.fixture
def sni_server(make_instance, certs):
    inst = make_instance(extra_lines=host_lines(certs))
    inst.certs = certs
    return inst


def no_verify():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def verifying(cafile):
    """A client that trusts CAFILE only and checks the name."""
    ctx = ssl.create_default_context(cafile=cafile)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


GREETING = {"imaps": b"* OK", "pop3s": b"+OK", "submissions": b"220 "}


def implicit(port, role, ctx, name):
    """Connects to an implicit-TLS listener asking for NAME (None: no
    SNI); the served certificate (DER) once the greeting came through."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with ctx.wrap_socket(raw, server_hostname=name) as s:
        greeting = s.recv(512)
        assert greeting.startswith(GREETING[role]), greeting
        return s.getpeercert(binary_form=True)


def quietly(close):
    """Closes a client whose TLS may have failed half-way."""
    try:
        close()
    except OSError:
        pass


def starttls(port, role, ctx, name):
    """STARTTLS (STLS for POP3) asking for NAME; the served certificate
    (DER), after one command over TLS was answered."""
    if role in ("smtp", "submission"):
        c = smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT)
        try:
            c.ehlo("client.example")
            c._host = name      # the SNI smtplib sends, not the address
            code, _ = c.starttls(context=ctx)
            assert code == 220
            assert c.noop()[0] == 250
            return c.sock.getpeercert(binary_form=True)
        finally:
            quietly(c.close)
    if role == "imap":
        c = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
        try:
            c.host = name
            assert c.starttls(ssl_context=ctx)[0] == "OK"
            assert c.noop()[0] == "OK"
            return c.sock.getpeercert(binary_form=True)
        finally:
            quietly(c.shutdown)
    c = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.host = name
        assert c.stls(context=ctx).startswith(b"+OK")
        assert "STLS" not in c.capa()     # answered, over TLS now
        return c.sock.getpeercert(binary_form=True)
    finally:
        quietly(c.close)


def served(inst, role, ctx, name):
    port = inst.ports[role]
    if role in GREETING:
        return implicit(port, role, ctx, name)
    return starttls(port, role, ctx, name)


ROLES = ["imaps", "pop3s", "submissions", "smtp", "submission", "imap",
         "pop3"]

# (the name asked for, whose certificate comes back)
CHOICES = [
    (CUSTOMER, "customer"),
    ("MAIL.Customer.Example", "customer"),
    ("a.hosted.example", "wildcard"),
    ("b.c.hosted.example", "default"),     # a wildcard is one label
    ("hosted.example", "default"),
    ("other.example", "default"),
    (None, "default"),                     # no SNI
]


@pytest.mark.parametrize("role", ROLES)
def test_certificate_chosen_by_name(sni_server, tls_files, role):
    want = {"customer": der(sni_server.certs["customer"][0]),
            "wildcard": der(sni_server.certs["wildcard"][0]),
            "default": der(tls_files[0])}
    assert len(set(want.values())) == 3
    for name, whose in CHOICES:
        got = served(sni_server, role, no_verify(), name)
        assert got == want[whose], \
            f"{role}: asking for {name!r} did not get the {whose} certificate"
    log = sni_server.log(sni_server.log_offset)
    assert f"sni={CUSTOMER}" in log
    assert "tls handshake failed" not in log, log


@pytest.mark.parametrize("role", ROLES)
def test_verifying_client_accepts_the_hosts(sni_server, role):
    """What a mail client does: trust the CA (here the self-signed
    certificate itself) and check the name."""
    customer, wildcard = (sni_server.certs[k][0]
                          for k in ("customer", "wildcard"))
    served(sni_server, role, verifying(customer), CUSTOMER)
    served(sni_server, role, verifying(wildcard), "x1.hosted.example")
    # The wildcard's certificate is not the customer's: refused.
    with pytest.raises(ssl.SSLCertVerificationError):
        served(sni_server, role, verifying(customer), "x2.hosted.example")


def wait_log(inst, pattern, timeout=5, count=1):
    """The log since the test began and PATTERN's matches, once there
    are COUNT of them (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        text = inst.log(inst.log_offset)
        found = re.findall(pattern, text, re.M)
        if len(found) >= count or time.monotonic() > deadline:
            return text, found
        time.sleep(0.05)


def session_of(text, port):
    """The session id of the connection from local PORT."""
    m = re.search(rf"sess=(\S+) \w+ connect client=127\.0\.0\.1 "
                  rf"port={port} ", text)
    assert m, f"no connect line for port {port}:\n{text}"
    return m.group(1)


FAILED = r"^.*warning: sess=(\S+) (\w+) tls handshake failed " \
         r"client=127\.0\.0\.1 reason=\"([^\"]+)\"$"


def s_client_cert(port, name, starttls=None):
    """The certificate (DER) openssl s_client gets asking for NAME."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
            "-servername", name, "-showcerts"]
    if starttls:
        args += ["-starttls", starttls]
    p = subprocess.run(args, input=b"", capture_output=True, timeout=30)
    pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE"
                    rb"-----", p.stdout, re.S)
    assert pem, p.stdout.decode() + p.stderr.decode()
    return ssl.PEM_cert_to_DER_cert(pem.group(0).decode())


def test_openssl_s_client_servername(sni_server, tls_files):
    """What an administrator checks by hand: `openssl s_client
    -servername` gets each name's certificate, on implicit TLS and with
    -starttls smtp."""
    c = sni_server.certs
    for port, st in ((sni_server.ports["imaps"], None),
                     (sni_server.ports["submission"], "smtp")):
        assert s_client_cert(port, CUSTOMER, st) == der(c["customer"][0])
        assert s_client_cert(port, "a.hosted.example", st) == \
            der(c["wildcard"][0])
        assert s_client_cert(port, "other.example", st) == \
            der(tls_files[0])


def test_garbage_on_imaps_logged_with_reason(server):
    s = socket.create_connection(("127.0.0.1", server.ports["imaps"]),
                                 timeout=TIMEOUT)
    port = s.getsockname()[1]
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(TIMEOUT)
        while s.recv(4096):
            pass
    except OSError:
        pass
    finally:
        s.close()
    text, found = wait_log(server, FAILED)
    sess = session_of(text, port)
    assert [f for f in found if f[0] == sess] == \
        [(sess, "imap", "http request")], text
    # The session still ends as sessions do, and only one failure line.
    assert re.search(rf"sess={sess} imap disconnect ", text), text


def test_unknown_ca_alert_logged(server, certs):
    """A client that does not trust the certificate sends an alert: the
    log says so (OpenSSL's "tlsv1 alert unknown ca")."""
    raw = socket.create_connection(("127.0.0.1", server.ports["pop3s"]),
                                   timeout=TIMEOUT)
    port = raw.getsockname()[1]
    wrong = verifying(certs["wildcard"][0])
    with pytest.raises(ssl.SSLCertVerificationError):
        wrong.wrap_socket(raw, server_hostname=CUSTOMER)
    raw.close()
    text, found = wait_log(server, FAILED)
    sess = session_of(text, port)
    mine = [f for f in found if f[0] == sess]
    assert len(mine) == 1 and mine[0][1] == "pop3", text
    assert "unknown ca" in mine[0][2], mine


def test_starttls_garbage_logged(server):
    s = socket.create_connection(("127.0.0.1", server.ports["smtp"]),
                                 timeout=TIMEOUT)
    port = s.getsockname()[1]
    f = s.makefile("rb")
    try:
        assert f.readline().startswith(b"220 ")
        s.sendall(b"EHLO client.example\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"220 ")
        s.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64)
        while s.recv(4096):
            pass
    except OSError:
        pass
    finally:
        f.close()
        s.close()
    text, found = wait_log(server, FAILED)
    sess = session_of(text, port)
    mine = [f for f in found if f[0] == sess]
    assert len(mine) == 1 and mine[0][1] == "smtp", text


def test_silent_client_is_no_warning(server):
    """A port scanner: connects to each TLS port and leaves."""
    ports = []
    for role in ("imaps", "pop3s", "submissions"):
        s = socket.create_connection(("127.0.0.1", server.ports[role]),
                                     timeout=TIMEOUT)
        ports.append(s.getsockname()[1])
        s.close()
    text, found = wait_log(
        server, r"^.*tls handshake not started client=127\.0\.0\.1 "
        r"reason=\"connection closed\"$", count=len(ports))
    sessions = {session_of(text, p) for p in ports}
    for line in text.splitlines():
        if any(f"sess={s} " in line for s in sessions):
            assert "warning:" not in line and "error:" not in line, line
    assert len([f for f in found]) == 3, text
    assert not re.findall(FAILED, text, re.M), text


# ---- a tls_host whose files cannot be used ----

def bad_pairs(certs):
    d = certs["dir"]
    cert, key = certs["customer"]
    return {
        "missing key": (cert, os.path.join(d, "nonexistent.key"),
                        os.path.join(d, "nonexistent.key")),
        "missing certificate": (os.path.join(d, "nonexistent.pem"), key,
                                os.path.join(d, "nonexistent.pem")),
        "key of another certificate": (cert, certs["wildcard"][1],
                                       certs["wildcard"][1]),
    }


@pytest.mark.parametrize("case", ["missing key", "missing certificate",
                                  "key of another certificate"])
def test_bad_tls_host_refused(make_instance, certs, case):
    cert, key, named = bad_pairs(certs)[case]
    inst = make_instance(start=False, extra_lines=[
        f"tls_host = {WILDCARD} {' '.join(certs['wildcard'])}",
        f"tls_host = {CUSTOMER} {cert} {key}"])
    with open(inst.conf_path) as f:
        line = f.read().splitlines().index(
            f"tls_host = {CUSTOMER} {cert} {key}") + 1
    p = inst.cli("check-config")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stdout == ""
    assert f"{inst.conf_path}:{line}: tls_host {CUSTOMER}: {named}" \
        in p.stderr, p.stderr
    inst.spawn()
    rc = inst.wait()
    log = inst.log()
    assert rc == 2, log
    assert f"{inst.conf_path}:{line}: tls_host {CUSTOMER}: {named}" in log
    assert "daemon started" not in log
    assert all(harness.port_is_free(p) for p in inst.ports.values())
    inst.check_log()


def test_check_config_prints_and_checks_hosts(make_instance, certs):
    inst = make_instance(start=False, extra_lines=host_lines(certs) + [
        f"tls_host = wrong.example {' '.join(certs['customer'])}"])
    p = inst.cli("check-config")
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stdout.splitlines() if l.startswith("tls_host")]
    assert lines == host_lines(certs) + [
        f"tls_host = wrong.example {' '.join(certs['customer'])}"]
    # A certificate that does not name its host: a warning, not an error.
    assert "tls_host wrong.example: the certificate " in p.stderr, p.stderr
    assert f"tls_host {CUSTOMER}:" not in p.stderr
    assert "*.hosted.example: the certificate" not in p.stderr


@pytest.mark.skipif(not harness.IS_ROOT, reason="needs root for runuser")
def test_check_config_as_user_skips_root_only_files(make_instance, certs):
    """As `user`, check-config cannot read root's keys: a warning (the
    daemon reads them as root), not an error; a missing file still is."""
    inst = make_instance(start=False, extra_lines=host_lines(certs))

    def as_user():
        return subprocess.run(
            ["runuser", "-u", harness.DAEMON_USER, "--", harness.BIN,
             "check-config", "-c", inst.conf_path], capture_output=True,
            text=True, env=harness.popgate_env(), timeout=harness.CLI_TIMEOUT)

    p = as_user()
    assert p.returncode == 0, p.stderr
    assert f"cannot read {certs['customer'][1]} as uid" in p.stderr
    assert "not checked" in p.stderr
    missing = "/nonexistent/privkey.pem"
    inst.extra_lines.append(
        f"tls_host = other.example {certs['customer'][0]} {missing}")
    inst.write_config()
    p = as_user()
    assert p.returncode == 1, p.stderr
    assert f"tls_host other.example: {missing}: No such file or directory" \
        in p.stderr, p.stderr
