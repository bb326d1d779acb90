"""Outbound TLS policy (issue 15 point 5): `tls_policy DOMAIN = none|may|
encrypt|verify`, MTA-STS (RFC 8461) and DANE (RFC 7672), each against
good and hostile MX hosts on loopback port 25 (root: 127.0.0.14x:25),
found through tests/blackbox/dnsstub.py.

  - none never says STARTTLS; may goes on in clear text when TLS is not
    there; encrypt and verify never do: no STARTTLS, a refusal, a
    self-signed certificate or one for another name (verify) is a 4.7.5
    deferral naming the policy, and the message stays queued;
  - MTA-STS: the policy comes over HTTPS from mta-sts.DOMAIN (one server
    here, 127.0.0.150:443, a certificate per name by SNI, all from this
    file's CA, given to popgate as tls_ca_file); enforce uses only the
    MX hosts it lists, with verified TLS (else 4.7.5; an unlisted one is
    never connected to, 4.7.0); testing delivers and logs what enforce
    would have refused; none changes nothing. The policy is kept below
    data_dir: used after a restart without a fetch, kept when a refresh
    fails, replaced when the TXT id changes;
  - DANE: with the AD bit set on the answers (a validating resolver),
    a TLSA 3 1 1 record matching the MX's key delivers over TLS verified
    by it, even with a self-signed certificate; a mismatching one
    defers; without AD the same records are ignored.
"""
import hashlib
import http.server
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest

import harness
from delivery_helpers import (can_bind, dlv_instance, log_count, log_size,
                              message, relay_send, wait_log, wait_rows)
from dnsstub import DnsStub

pytestmark = pytest.mark.skipif(not harness.IS_ROOT,
                                reason="MX hosts on port 25, HTTPS on 443")

SLOW = {"retry_min": "1h", "retry_max": "2h", "connect_timeout": "3s"}
IP = {"good": "127.0.0.141", "plain": "127.0.0.142",
      "refuse": "127.0.0.143", "self": "127.0.0.144",
      "wrong": "127.0.0.145"}
HTTPS_IP = "127.0.0.150"
DOWN_IP = "127.0.0.151"     # nothing listens there


# ---- certificates ----

def run_openssl(d, *args):
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   timeout=60, cwd=d)


EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def make_ca(d):
    run_openssl(d, "req", "-x509", *EC, "-days", "30", "-subj",
                "/CN=popgate tls policy test CA", "-addext",
                "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", "ca.key", "-out", "ca.pem")
    return os.path.join(d, "ca.pem")


def ca_cert(d, stem, name):
    """A certificate for NAME from the CA in D: (cert, key)."""
    run_openssl(d, "req", *EC, "-subj", f"/CN={name}", "-keyout",
                f"{stem}.key", "-out", f"{stem}.csr")
    with open(os.path.join(d, f"{stem}.cnf"), "w") as f:
        f.write(f"subjectAltName=DNS:{name}\n")
    run_openssl(d, "x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "30",
                "-extfile", f"{stem}.cnf", "-out", f"{stem}.pem")
    return os.path.join(d, f"{stem}.pem"), os.path.join(d, f"{stem}.key")


def spki_sha256(cert):
    """The SHA2-256 of CERT's SubjectPublicKeyInfo (TLSA 3 1 1)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey",
                          "-noout"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, check=True, capture_output=True).stdout
    return hashlib.sha256(der).digest()


def server_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---- an MX on IP:25 ----

class Mx:
    """STARTTLS as MODE says: "tls" (offered, with CTX), "plain" (not
    offered), "refuse" (454). Records `connections`, `commands` ("TLS "
    prefixed over TLS) and `messages` ([rcpts], over_tls)."""

    def __init__(self, ip, mode, ctx=None):
        self.mode, self.ctx = mode, ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 25))
        self.sock.listen(64)
        self.connections, self.commands, self.messages = 0, [], []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        c.settimeout(10)
        try:
            c.sendall(b"220 mx.test ESMTP\r\n")
            self._session(c, c.makefile("rb"), False)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            c.close()

    def _session(self, c, f, tls):
        rcpts = []
        while True:
            line = f.readline(8192)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            with self.lock:
                self.commands.append(("TLS " if tls else "") + cmd)
            if verb == "EHLO":
                ext = [b"mx.test", b"PIPELINING"]
                if self.mode != "plain" and not tls:
                    ext.append(b"STARTTLS")
                c.sendall(b"".join(
                    b"250" + (b" " if i == len(ext) - 1 else b"-") + e +
                    b"\r\n" for i, e in enumerate(ext)))
            elif verb == "STAR":
                if self.mode == "refuse":
                    c.sendall(b"454 4.7.0 TLS not available\r\n")
                    continue
                c.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                t = self.ctx.wrap_socket(c, server_side=True)
                return self._session(t, t.makefile("rb"), True)
            elif verb == "MAIL":
                rcpts = []
                c.sendall(b"250 2.1.0 Ok\r\n")
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

    def starttls_seen(self):
        with self.lock:
            return any(c.upper().startswith("STARTTLS")
                       for c in self.commands)

    def delivered(self, rcpt):
        with self.lock:
            return [tls for rcpts, tls in self.messages if rcpt in rcpts]

    def got_mail_for(self, rcpt):
        with self.lock:
            return any(rcpt in c for c in self.commands)


# ---- the MTA-STS policy server ----

class StsServer:
    """HTTPS on HTTPS_IP:443 for every mta-sts.DOMAIN: a certificate for
    the name asked by SNI (from CERTS, {name: ctx}); the answer for the
    Host from `answers` {domain: (status, content_type, body)}. Requests
    counted per domain in `requests`."""

    def __init__(self, certs, default_ctx):
        self.answers, self.requests, self.hosts = {}, {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hosts.append(self.headers.get_all("Host"))
                host = (self.headers.get("Host") or "").split(":")[0]
                dom = host[len("mta-sts."):]
                outer.requests[dom] = outer.requests.get(dom, 0) + 1
                status, ctype, body = outer.answers.get(
                    dom, (404, "text/plain", "no policy"))
                if self.path != "/.well-known/mta-sts.txt":
                    status, body = 404, "wrong path"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                if status // 100 == 3:
                    self.send_header("Location", "https://elsewhere.test/")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        def sni(sslsock, name, ctx):
            if name in certs:
                sslsock.context = certs[name]

        default_ctx.sni_callback = sni
        self.httpd = http.server.ThreadingHTTPServer((HTTPS_IP, 443),
                                                     Handler)
        self.httpd.socket = default_ctx.wrap_socket(self.httpd.socket,
                                                    server_side=True)
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def policy(mode, *mx, max_age=86400):
    return "version: STSv1\r\nmode: %s\r\n%smax_age: %d\r\n" % (
        mode, "".join(f"mx: {m}\r\n" for m in mx), max_age)


# ---- the world of this file ----

# tls_policy lines: domain -> (level, MX key)
EXPLICIT = {
    "none.tp.test": ("none", "good"),
    "may-plain.tp.test": ("may", "plain"),
    "may-self.tp.test": ("may", "self"),
    "enc-plain.tp.test": ("encrypt", "plain"),
    "enc-refuse.tp.test": ("encrypt", "refuse"),
    "enc-self.tp.test": ("encrypt", "self"),
    "ver-self.tp.test": ("verify", "self"),
    "ver-wrong.tp.test": ("verify", "wrong"),
    "ver-good.tp.test": ("verify", "good"),
}
# MTA-STS domains: domain -> (policy text, MX key)
STS = {
    "sts-good.tp.test": (policy("enforce", "mx-good.tp.test"), "good"),
    "sts-wild.tp.test": (policy("enforce", "*.tp.test"), "good"),
    "sts-plain.tp.test": (policy("enforce", "mx-plain.tp.test"), "plain"),
    "sts-refuse.tp.test": (policy("enforce", "mx-refuse.tp.test"),
                           "refuse"),
    "sts-self.tp.test": (policy("enforce", "mx-self.tp.test"), "self"),
    "sts-wrong.tp.test": (policy("enforce", "mx-wrong.tp.test"), "wrong"),
    "sts-unlisted.tp.test": (policy("enforce", "mx-good.tp.test"), "self"),
    "sts-testing.tp.test": (policy("testing", "mx-good.tp.test"), "self"),
    "sts-testing-self.tp.test": (policy("testing", "mx-self.tp.test"),
                                 "self"),
    "sts-none.tp.test": (policy("none"), "plain"),
    "sts-cache.tp.test": (policy("enforce", "mx-good.tp.test"), "good"),
}
# Policy hosts that answer badly: domain -> (status, type, body, why)
BAD = {
    "sts-redirect.tp.test": (302, "text/plain", "",
                             "redirects are not followed"),
    "sts-html.tp.test": (200, "text/html",
                         policy("enforce", "mx-good.tp.test"),
                         "not text/plain"),
    "sts-broken.tp.test": (200, "text/plain",
                           "version: STSv1\r\nmode: enforce\r\n",
                           "bad policy"),
}


class World:
    def __init__(self):
        self.dir = tempfile.mkdtemp(dir="/tmp", prefix="popgate-tlspol-")
        self.ca = make_ca(self.dir)
        d = self.dir
        good = ca_cert(d, "good", "mx-good.tp.test")
        self.self_pair = harness.make_cert(d, "self", "mx-self.tp.test")
        wrong = ca_cert(d, "wrong", "somebody-else.test")
        self.mx = {
            "good": Mx(IP["good"], "tls", server_ctx(*good)),
            "plain": Mx(IP["plain"], "plain"),
            "refuse": Mx(IP["refuse"], "refuse"),
            "self": Mx(IP["self"], "tls", server_ctx(*self.self_pair)),
            "wrong": Mx(IP["wrong"], "tls", server_ctx(*wrong)),
        }
        records = {}
        for key, ip in IP.items():
            records[f"mx-{key}.tp.test"] = {"A": [ip]}
        for dom, (_, key) in EXPLICIT.items():
            records[dom] = {"MX": [(10, f"mx-{key}.tp.test")]}
        certs = {}
        sts = dict(STS)
        sts.update({dom: (None, "self") for dom in BAD})
        for dom, (text, key) in sts.items():
            records[dom] = {"MX": [(10, f"mx-{key}.tp.test")]}
            records[f"_mta-sts.{dom}"] = {"TXT": ["v=STSv1; id=1;"]}
            records[f"mta-sts.{dom}"] = {"A": [HTTPS_IP]}
            certs[f"mta-sts.{dom}"] = server_ctx(
                *ca_cert(d, f"sts-{dom}", f"mta-sts.{dom}"))
        # DANE: the self-signed MX, its key pinned by TLSA 3 1 1
        digest = spki_sha256(self.self_pair[0])
        # PKIX-EE(1): unusable for SMTP (RFC 7672 3.1.3)
        for dom, usage, data, ad, key in (
                ("dane-ok.tp.test", 3, digest, True, "self"),
                ("dane-bad.tp.test", 3, bytes(32), True, "self"),
                ("dane-noad.tp.test", 3, bytes(32), False, "self"),
                ("dane-unusable.tp.test", 1, digest, True, "self"),
                ("dane-unusable-plain.tp.test", 1, digest, True, "plain")):
            host = f"mx.{dom}"
            records[dom] = {"MX": [(10, host)], "AD": ad}
            records[host] = {"A": [IP[key]], "AD": ad}
            records[f"_25._tcp.{host}"] = {"TLSA": [(usage, 1, 1, data)],
                                           "AD": ad}
        self.stub = DnsStub(records).start()
        self.sts = StsServer(certs, server_ctx(*good))
        for dom, (text, _) in STS.items():
            self.sts.answers[dom] = (200, "text/plain", text)
        for dom, (status, ctype, body, _) in BAD.items():
            self.sts.answers[dom] = (status, ctype, body)
        for n in os.listdir(d):
            os.chmod(os.path.join(d, n), 0o644)
        os.chmod(d, 0o755)
        self.made = []

    def make(self, config=None, extra_lines=None, listeners=None,
             start=True):
        inst = harness.Instance(config=config, extra_lines=extra_lines,
                                listeners=listeners)
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
            for mx in self.mx.values():
                mx.stop()
            self.sts.stop()
            self.stub.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def world():
    for ip in list(IP.values()):
        if not can_bind(ip, 25):
            pytest.skip(f"cannot bind {ip}:25")
    if not can_bind(HTTPS_IP, 443):
        pytest.skip(f"cannot bind {HTTPS_IP}:443")
    w = World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def gate(world):
    cfg = dict(SLOW, dns_servers=world.stub.server, tls_ca_file=world.ca)
    lines = [f"tls_policy {dom} = {level}"
             for dom, (level, _) in EXPLICIT.items()]
    return dlv_instance(world.make, config=cfg, extra_lines=lines)


def send(inst, rcpt):
    return relay_send(inst, "ann@acme.test", [rcpt], message(rcpt=rcpt))


def sent(inst, qid, rcpt):
    return wait_log(inst, rf"qid={qid} delivery to=<{re.escape(rcpt)}> .*"
                    r"status=sent")


def deferred(inst, qid, rcpt, code="4.7.5"):
    """The queue row of QID once deferred with CODE; the log line."""
    rows = wait_rows(inst, lambda rows: any(
        r["id"] == qid and r["state"] == "deferred" for r in rows),
        timeout=15, what=f"{qid} deferred")
    [row] = [r for r in rows if r["id"] == qid]
    assert row["last_error"].startswith(f"451 {code} "), row
    assert row["next_try"], row
    wait_log(inst, rf"qid={qid} delivery to=<{re.escape(rcpt)}> .*"
             rf"status=deferred dsn={re.escape(code)}")
    return row


def tls_line(inst, ip):
    return wait_log(inst, rf"delivery tls peer=\S+\[{re.escape(ip)}\]:25 ")


# ---- tls_policy ----

def test_none_never_starttls(world, gate):
    rcpt = "bob@none.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["good"].delivered(rcpt) == [False]


@pytest.mark.parametrize("dom,key,over_tls", [
    ("may-plain.tp.test", "plain", False),
    ("may-self.tp.test", "self", True),
    ("enc-self.tp.test", "self", True),
])
def test_may_and_encrypt_deliver(world, gate, dom, key, over_tls):
    rcpt = f"bob@{dom}"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx[key].delivered(rcpt) == [over_tls]
    if over_tls:
        line = wait_log(gate, rf"delivery tls peer=mx-self\S+ .*"
                        rf"policy=\"tls_policy {re.escape(dom)} = ")
        assert "verify=no" in line and "self-signed" in line, line


@pytest.mark.parametrize("dom,key,why", [
    ("enc-plain.tp.test", "plain", "offers no STARTTLS"),
    ("enc-refuse.tp.test", "refuse", "refused STARTTLS"),
    ("ver-self.tp.test", "self", "self-signed"),
    ("ver-wrong.tp.test", "wrong", "mismatch"),
])
def test_required_tls_never_clear_text(world, gate, dom, key, why):
    rcpt = f"bob@{dom}"
    qid = send(gate, rcpt)
    row = deferred(gate, qid, rcpt)
    assert why in row["last_error"], row
    assert f"tls_policy {dom} = " in row["last_error"], row
    assert not world.mx[key].got_mail_for(rcpt), world.mx[key].commands
    assert world.mx[key].delivered(rcpt) == []


def test_verify_delivers_to_a_verified_name(world, gate):
    rcpt = "bob@ver-good.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["good"].delivered(rcpt) == [True]
    line = wait_log(gate, r"delivery tls peer=mx-good\S+ .*"
                    r"policy=\"tls_policy ver-good.tp.test = verify\"")
    assert "verify=yes" in line, line


def test_tls_policy_reloads(world):
    """A reload changes the policy for the next delivery: may, then
    encrypt for the same MX without STARTTLS."""
    cfg = dict(SLOW, dns_servers=world.stub.server, tls_ca_file=world.ca)
    inst = dlv_instance(world.make, config=cfg,
                        extra_lines=["tls_policy may-plain.tp.test = may"])
    rcpt = "carol@may-plain.tp.test"
    qid = send(inst, rcpt)
    sent(inst, qid, rcpt)
    inst.extra_lines = ["tls_policy may-plain.tp.test = encrypt"]
    inst.write_config()
    assert inst.cli("reload").returncode == 0
    wait_log(inst, r"reload done")
    qid = send(inst, rcpt)
    row = deferred(inst, qid, rcpt)
    assert "tls_policy may-plain.tp.test = encrypt needs TLS" in \
        row["last_error"], row
    assert world.mx["plain"].delivered(rcpt) == [False]


# ---- MTA-STS ----

@pytest.mark.parametrize("dom", ["sts-good.tp.test", "sts-wild.tp.test"])
def test_sts_enforce_delivers_over_verified_tls(world, gate, dom):
    rcpt = f"bob@{dom}"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["good"].delivered(rcpt) == [True]
    wait_log(gate, rf"mta-sts domain={re.escape(dom)} policy fetched id=1 "
             r"mode=enforce")
    assert world.sts.requests[dom] == 1
    assert [f"mta-sts.{dom}"] in world.sts.hosts, world.sts.hosts


@pytest.mark.parametrize("dom,key,why", [
    ("sts-plain.tp.test", "plain", "offers no STARTTLS"),
    ("sts-refuse.tp.test", "refuse", "refused STARTTLS"),
    ("sts-self.tp.test", "self", "self-signed"),
    ("sts-wrong.tp.test", "wrong", "mismatch"),
])
def test_sts_enforce_defers_without_verified_tls(world, gate, dom, key,
                                                 why):
    rcpt = f"bob@{dom}"
    qid = send(gate, rcpt)
    row = deferred(gate, qid, rcpt)
    assert why in row["last_error"] and "mta-sts enforce" in \
        row["last_error"], row
    assert not world.mx[key].got_mail_for(rcpt)


def test_sts_enforce_skips_an_unlisted_mx(world, gate):
    rcpt = "bob@sts-unlisted.tp.test"
    before = world.mx["self"].connections
    qid = send(gate, rcpt)
    row = deferred(gate, qid, rcpt, code="4.7.0")
    assert "not an mx of the domain's MTA-STS policy" in row["last_error"]
    assert world.mx["self"].connections == before


def test_sts_testing_delivers_and_logs(world, gate):
    rcpt = "bob@sts-testing.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["self"].delivered(rcpt) == [True]
    wait_log(gate, r"delivery to=sts-testing.tp.test mta-sts testing: host "
             r"mx-self.tp.test is not an mx of the policy")


def test_sts_testing_logs_a_bad_certificate(world, gate):
    rcpt = "bob@sts-testing-self.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["self"].delivered(rcpt) == [True]
    wait_log(gate, r"delivery to=sts-testing-self.tp.test mta-sts testing: "
             r"mx-self\S+ self-signed certificate; mode enforce would defer")


def test_sts_none_changes_nothing(world, gate):
    rcpt = "bob@sts-none.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["plain"].delivered(rcpt) == [False]
    wait_log(gate, r"mta-sts domain=sts-none.tp.test policy fetched id=1 "
             r"mode=none")


@pytest.mark.parametrize("dom", sorted(BAD))
def test_sts_bad_answers_are_no_policy(world, gate, dom):
    """Without a valid policy (none cached) the domain is as any other:
    opportunistic TLS to its MX, here one MTA-STS would have refused."""
    why = BAD[dom][3]
    rcpt = f"bob@{dom}"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    line = wait_log(gate, rf"mta-sts domain={re.escape(dom)} policy fetch "
                    r"failed")
    assert why in line and "no policy applies" in line, line
    assert world.sts.requests[dom] == 1


def test_sts_policy_cache_survives_restart_and_failures(world):
    """Fetched once, kept in data_dir: a restart uses it without a fetch;
    a new id with the policy host failing keeps the cached policy; a new
    id with a policy there replaces it."""
    dom, rcpt = "sts-cache.tp.test", "bob@sts-cache.tp.test"
    cfg = dict(SLOW, dns_servers=world.stub.server, tls_ca_file=world.ca)
    inst = dlv_instance(world.make, config=cfg)
    good = world.mx["good"]
    qid = send(inst, rcpt)
    sent(inst, qid, rcpt)
    assert world.sts.requests[dom] == 1
    assert os.path.exists(os.path.join(inst.data_dir, "mta-sts", dom))

    # restart: the saved policy, no fetch (same id)
    inst.stop()
    inst.start()
    wait_log(inst, r"mta-sts policies loaded=1")
    qid = send(inst, rcpt)
    sent(inst, qid, rcpt)
    assert world.sts.requests[dom] == 1
    assert good.delivered(rcpt) == [True, True]

    # a new id, the policy host down (nothing listens where its name
    # points): the cached policy stays, so an MX the cached policy does
    # not list is still refused
    inst.stop()
    world.stub.records[f"_mta-sts.{dom}"] = {"TXT": ["v=STSv1; id=2"]}
    world.stub.records[f"mta-sts.{dom}"] = {"A": [DOWN_IP]}
    world.stub.records[dom] = {"MX": [(10, "mx-self.tp.test")]}
    inst.start()
    qid = send(inst, rcpt)
    row = deferred(inst, qid, rcpt, code="4.7.0")
    line = wait_log(inst, rf"mta-sts domain={dom} policy fetch failed: "
                    r"https://mta-sts\S+: no answer")
    assert "cached policy id=1 mode=enforce stays in use" in line, line
    assert world.sts.requests[dom] == 1
    assert world.mx["self"].got_mail_for(rcpt) is False

    # the host answers 503: still the cached policy
    inst.stop()
    world.stub.records[f"mta-sts.{dom}"] = {"A": [HTTPS_IP]}
    world.sts.answers[dom] = (503, "text/plain", "down")
    inst.start()
    mark = log_size(inst)
    inst.cli("queue", "flush", check=True)
    line = wait_log(inst, rf"mta-sts domain={dom} policy fetch failed: "
                    r".*HTTP status 503", since=mark)
    assert "cached policy id=1 mode=enforce stays in use" in line, line
    wait_log(inst, rf"qid={row['id']} delivery .*status=deferred "
             r"dsn=4\.7\.0", since=mark)
    assert world.sts.requests[dom] == 2

    # the id changes again and the host answers: the new policy (testing)
    # replaces the old one and the mail goes out
    world.stub.records[f"_mta-sts.{dom}"] = {"TXT": ["v=STSv1; id=3"]}
    world.sts.answers[dom] = (200, "text/plain",
                              policy("testing", "mx-good.tp.test"))
    inst.stop()
    inst.start()
    inst.cli("queue", "flush", check=True)
    sent(inst, row["id"], rcpt)
    wait_log(inst, rf"mta-sts domain={dom} policy fetched id=3 mode=testing")
    assert world.sts.requests[dom] == 3
    with open(os.path.join(inst.data_dir, "mta-sts", dom)) as f:
        assert "id 3\n" in f.read()


# ---- DANE ----

def test_dane_matching_tlsa_delivers(world, gate):
    rcpt = "bob@dane-ok.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["self"].delivered(rcpt) == [True]
    line = wait_log(gate, r"delivery tls peer=mx.dane-ok.tp.test\S+ .*"
                    r"verify=yes \(dane\)")
    assert 'policy="dane"' in line, line


def test_dane_mismatching_tlsa_defers(world, gate):
    rcpt = "bob@dane-bad.tp.test"
    qid = send(gate, rcpt)
    row = deferred(gate, qid, rcpt)
    assert "dane" in row["last_error"], row
    assert not world.mx["self"].got_mail_for(rcpt)


def test_dane_without_ad_is_ignored(world, gate):
    rcpt = "bob@dane-noad.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["self"].delivered(rcpt) == [True]
    assert ("_25._tcp.mx.dane-noad.tp.test", "TLSA") not in \
        world.stub.queries
    assert log_count(gate, r"peer=mx.dane-noad\S+ .*dane") == 0


def test_dane_unusable_records_mean_tls_unverified(world, gate):
    """RFC 7672 2.2: only unusable records - TLS is still mandatory, the
    certificate is not checked."""
    rcpt = "bob@dane-unusable.tp.test"
    qid = send(gate, rcpt)
    sent(gate, qid, rcpt)
    assert world.mx["self"].delivered(rcpt) == [True]
    line = wait_log(gate, r"delivery tls peer=mx.dane-unusable.tp.test\S+ ")
    assert "verify=no" in line and "no usable TLSA record" in line, line
    rcpt = "bob@dane-unusable-plain.tp.test"
    qid = send(gate, rcpt)
    row = deferred(gate, qid, rcpt)
    assert "offers no STARTTLS" in row["last_error"], row
    assert not world.mx["plain"].got_mail_for(rcpt)
