"""Webhooks (issue 18 point 4): a control panel's receiver on loopback
gets each event once, signed (HMAC-SHA256 of TIMESTAMP "." BODY, checked
here); 5xx is retried, 4xx is not; a receiver that never answers, or
answers with endless headers, costs a timeout while mail goes on; the
subscriptions follow a reload; a pending delivery survives a restart."""
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest

from harness import free_ports, make_cert
from delivery_helpers import (PASSWORD, Smtp, dlv_instance, log_size,
                              message, pop3_login, sinks, wait_log,
                              wait_until)

assert sinks  # the fixture

SECRET = "panel-secret-0123"
FAST = {"webhook_secret": SECRET, "webhook_retry_min": "1s",
        "webhook_timeout": "2s"}


class Receiver:
    """An HTTP receiver in a thread: records every POST (path, headers,
    body, when) and answers with the next of STATUSES (then 200)."""

    def __init__(self, statuses=(), tls=None):
        self.statuses = list(statuses)
        self.got = []
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.got.append({"path": self.path,
                                    "headers": dict(self.headers),
                                    "body": body,
                                    "at": time.monotonic()})
                    code = rec.statuses.pop(0) if rec.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
            self.url = f"https://localhost:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self, name=None):
        with self.lock:
            got = list(self.got)
        return [g for g in got
                if name is None or g["headers"].get("X-Popgate-Event") ==
                name]

    def wait(self, name, n=1, timeout=20):
        return wait_until(lambda: len(self.events(name)) >= n and
                          self.events(name), timeout=timeout,
                          what=f"{n} {name} webhook(s)")


class Silent:
    """A TCP receiver that accepts and never answers (MODE "silent"), or
    answers a status line then headers without end ("headers")."""

    def __init__(self, mode="silent"):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.conns = []
        self.stopping = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.mode == "headers":
                threading.Thread(target=self.flood, args=(c,),
                                 daemon=True).start()

    def flood(self, c):
        try:
            c.recv(65536)
            c.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stopping:
                c.sendall(b"X-Filler: " + b"y" * 1000 + b"\r\n")
        except OSError:
            pass

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def receivers():
    made = []

    def make(cls=Receiver, *args):
        r = cls(*args)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def check_signed(got, event):
    """GOT is a valid signed delivery of EVENT: returns its JSON body."""
    h = got["headers"]
    assert h["X-Popgate-Event"] == event
    assert h["Content-Type"] == "application/json"
    ts = h["X-Popgate-Timestamp"]
    assert abs(int(ts) - time.time()) < 120
    want = hmac.new(SECRET.encode(), ts.encode() + b"." + got["body"],
                    hashlib.sha256).hexdigest()
    assert h["X-Popgate-Signature"] == "sha256=" + want
    body = json.loads(got["body"])
    assert body["event"] == event
    assert h["X-Popgate-Delivery"].startswith(body["id"] + ".")
    assert body["time"].endswith("Z")
    return body


def hook_line(url, events=""):
    return f"webhook = {url} {events}".rstrip()


def start(make_instance, lines, config=None, routes=None):
    cfg = dict(FAST)
    cfg.update(config or {})
    return dlv_instance(make_instance, config=cfg, extra_lines=lines,
                        routes=routes)


# ---- each event, once, signed ----

def test_login_new_ip(make_instance, receivers):
    r = receivers()
    inst = start(make_instance, [hook_line(r.url, "login.new_ip")])
    pop3_login(inst, "ann@acme.test")          # the baseline: no event
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    [got] = r.wait("login.new_ip")
    data = check_signed(got, "login.new_ip")["data"]
    assert data == {"mailbox": "ann@acme.test", "customer": "acme",
                    "ip": "127.0.0.2", "listener": "pop3"}
    assert got["path"] == "/hook"
    # Known addresses, and the first one again, are not news.
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    pop3_login(inst, "ann@acme.test")
    pop3_login(inst, "ann@acme.test", source="127.0.0.3")
    r.wait("login.new_ip", 2)
    assert [check_signed(g, "login.new_ip")["data"]["ip"]
            for g in r.events()] == ["127.0.0.2", "127.0.0.3"]


def test_login_memory_survives_restart(make_instance, receivers):
    r = receivers()
    inst = start(make_instance, [hook_line(r.url, "login.new_ip")])
    pop3_login(inst, "ann@acme.test")
    inst.stop()
    assert os.path.exists(os.path.join(inst.data_dir, "webhooks.seen"))
    inst.start()
    pop3_login(inst, "ann@acme.test")
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    [got] = r.wait("login.new_ip")
    assert check_signed(got, "login.new_ip")["data"]["ip"] == "127.0.0.2"


def test_customer_suspended(make_instance, receivers):
    r = receivers()
    inst = start(make_instance, [hook_line(r.url)])
    pop3_login(inst, "ann@acme.test")          # one authorization
    inst.cli("customer", "suspend", "acme", check=True)
    [got] = r.wait("customer.suspended")
    data = check_signed(got, "customer.suspended")["data"]
    assert data == {"customer": "acme", "revoked_authorizations": 1}


def api_patch(port, secret, path, body):
    """PATCH PATH with the JSON BODY: (status, ETag)."""
    h = {"Authorization": f"Bearer {secret}",
         "Content-Type": "application/json"}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 data=json.dumps(body).encode(),
                                 method="PATCH", headers=h)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.headers.get("ETag")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("ETag")


def test_customer_suspended_through_the_api(make_instance, receivers):
    r = receivers()
    [port] = free_ports(1)
    inst = start(make_instance, [hook_line(r.url, "customer.suspended"),
                                 f"listen = 127.0.0.1:{port} http"])
    out = inst.cli("token", "add", "panel", "--scope", "admin",
                   check=True).stdout
    secret = out.strip().splitlines()[-1]
    pop3_login(inst, "ann@acme.test")          # one authorization
    # a resume is no suspension
    assert api_patch(port, secret, "/api/v1/customers/acme",
                     {"suspended": False})[0] == 200
    st, etag = api_patch(port, secret, "/api/v1/customers/ACME",
                         {"suspended": True})
    assert st == 200 and etag
    [got] = r.wait("customer.suspended")
    data = check_signed(got, "customer.suspended")["data"]
    assert data == {"customer": "acme", "revoked_authorizations": 1}
    assert got["path"] == "/hook"
    assert "customer-suspended customer=acme by=token=panel" in inst.log()


def test_relay_cap_once_per_hour(make_instance, receivers, sinks):
    r = receivers()
    sink = sinks()
    inst = start(make_instance, [hook_line(r.url, "relay.cap_reached")],
                 config={"relay_max_recipients": "1"},
                 routes={"example.org": sink})
    pop3_login(inst, "ann@acme.test")
    for _ in range(3):
        with Smtp(inst.ports["smtp"]) as c:
            c.expect("MAIL FROM:<ann@acme.test>", "250")
            c.expect("RCPT TO:<a@example.org>", "250")
            c.expect("RCPT TO:<b@example.org>", "452")
            c.expect("RSET", "250")
    [got] = r.wait("relay.cap_reached")
    data = check_signed(got, "relay.cap_reached")["data"]
    assert data == {"customer": "acme", "cap": "relay_max_recipients",
                    "limit": 1, "count": 2}
    # Three refusals, one event: the log says the last two were refused
    # too, and nothing else arrives meanwhile.
    wait_log(inst, r"webhook delivery=\S+ event=relay.cap_reached .* "
             r"delivered")
    time.sleep(1)
    assert len(r.events()) == 1


def test_hourly_cap_once(make_instance, receivers, sinks):
    r = receivers()
    sink = sinks()
    inst = start(make_instance, [hook_line(r.url, "relay.cap_reached")],
                 config={"relay_max_messages_per_hour": "1"},
                 routes={"example.org": sink})
    pop3_login(inst, "ann@acme.test")
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("ann@acme.test", ["a@example.org"], message())
    for _ in range(2):
        with Smtp(inst.ports["smtp"]) as c:
            c.expect("MAIL FROM:<ann@acme.test>", "250")
            c.expect("RCPT TO:<a@example.org>", "4")
    [got] = r.wait("relay.cap_reached")
    data = check_signed(got, "relay.cap_reached")["data"]
    assert data == {"customer": "acme",
                    "cap": "relay_max_messages_per_hour", "limit": 1,
                    "count": 1}
    wait_log(inst, r"event=relay.cap_reached .* delivered")
    time.sleep(1)
    assert len(r.events()) == 1


def test_message_bounced(make_instance, receivers, sinks):
    r = receivers()
    sink = sinks()
    sink.rcpt_reply = lambda addr: "550 5.1.1 No such user"
    inst = start(make_instance, [hook_line(r.url, "message.bounced")],
                 routes={"example.org": sink})
    pop3_login(inst, "ann@acme.test")
    with Smtp(inst.ports["smtp"]) as c:
        qid = c.mail("ann@acme.test", ["nobody@example.org"],
                     message(rcpt="nobody@example.org"))
    [got] = r.wait("message.bounced")
    data = check_signed(got, "message.bounced")["data"]
    assert data["queue_id"] == qid
    assert data["customer"] == "acme"
    assert data["sender"] == "ann@acme.test"
    assert data["recipient"] == "nobody@example.org"
    assert data["status"] == "5.1.1"
    assert "No such user" in data["reply"]


# ---- retries ----

def test_500_then_200_is_retried(make_instance, receivers):
    r = receivers(Receiver, [500])
    inst = start(make_instance, [hook_line(r.url)])
    inst.cli("customer", "suspend", "acme", check=True)
    first, second = r.wait("customer.suspended", 2)
    check_signed(first, "customer.suspended")
    check_signed(second, "customer.suspended")
    assert first["body"] == second["body"]
    assert (first["headers"]["X-Popgate-Delivery"] ==
            second["headers"]["X-Popgate-Delivery"])
    assert second["at"] - first["at"] >= 0.5    # webhook_retry_min 1s
    wait_log(inst, r"event=customer.suspended .* delivered status=200 "
             r"attempts=2")


def test_400_is_not_retried(make_instance, receivers):
    r = receivers(Receiver, [400])
    inst = start(make_instance, [hook_line(r.url)])
    inst.cli("customer", "suspend", "acme", check=True)
    r.wait("customer.suspended")
    wait_log(inst, r"event=customer.suspended .* refused status=400 "
             r"attempts=1: not retried")
    time.sleep(2.5)                     # past two retry_min periods
    assert len(r.events()) == 1


@pytest.mark.parametrize("mode", ["silent", "headers"])
def test_hostile_receiver_times_out_mail_goes_on(make_instance, receivers,
                                                mode):
    bad = receivers(Silent, mode)
    inst = start(make_instance, [hook_line(bad.url)])
    since = log_size(inst)
    inst.cli("customer", "suspend", "acme", check=True)
    wait_until(lambda: bad.conns, what="a connection to the receiver")
    # Meanwhile, mail: a POP3 login and an SMTP transaction, at once.
    t0 = time.monotonic()
    pop3_login(inst, "bob@acme.test")
    with Smtp(inst.ports["smtp"]) as c:
        c.expect("EHLO client.test", "250")
        c.expect("QUIT", "221")
    assert time.monotonic() - t0 < 5
    wait_log(inst, r"event=customer.suspended .* failed attempts=1",
             since=since)
    # and it is tried again
    wait_until(lambda: len(bad.conns) >= 2, what="a retry")
    assert inst.running


# ---- reload, restart ----

def test_reload_changes_subscriptions(make_instance, receivers):
    a, b = receivers(), receivers()
    inst = start(make_instance, [hook_line(a.url, "customer.suspended")])
    pop3_login(inst, "ann@acme.test")
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")  # not wanted
    inst.extra_lines = [l for l in inst.extra_lines
                        if not l.startswith("webhook")]
    inst.extra_lines += [hook_line(b.url, "login.new_ip,customer.suspended")]
    inst.write_config()
    out = inst.cli("reload", check=True)
    assert "error" not in out.stdout + out.stderr
    pop3_login(inst, "ann@acme.test", source="127.0.0.3")
    inst.cli("customer", "suspend", "acme", check=True)
    b.wait("customer.suspended")
    [got] = b.wait("login.new_ip")
    assert check_signed(got, "login.new_ip")["data"]["ip"] == "127.0.0.3"
    assert a.events() == []


def test_bad_secret_file_refuses_reload(make_instance, receivers):
    r = receivers()
    inst = start(make_instance, [hook_line(r.url)])
    inst.config_overrides.pop("webhook_secret")
    inst.config_overrides["webhook_secret_file"] = "/nonexistent/secret"
    inst.write_config()
    out = inst.cli("reload")
    assert out.returncode != 0
    assert "webhook_secret_file" in out.stdout + out.stderr
    # the old secret is in use
    inst.cli("customer", "suspend", "acme", check=True)
    check_signed(r.wait("customer.suspended")[0], "customer.suspended")


def test_pending_delivery_survives_restart(make_instance, receivers):
    r = receivers(Receiver, [503] * 1000)
    inst = start(make_instance, [hook_line(r.url)],
                 config={"webhook_retry_min": "1h"})
    inst.cli("customer", "suspend", "acme", check=True)
    [first] = r.wait("customer.suspended")
    spool = os.path.join(inst.data_dir, "webhooks")
    wait_until(lambda: os.listdir(spool), what="the spool file")
    inst.stop()
    with r.lock:
        r.statuses = []
    inst.start()
    second = r.wait("customer.suspended", 2)[1]
    assert second["body"] == first["body"]
    assert (second["headers"]["X-Popgate-Delivery"] ==
            first["headers"]["X-Popgate-Delivery"])
    check_signed(second, "customer.suspended")
    wait_until(lambda: not os.listdir(spool), what="the spool emptied")


def test_full_queue_drops_the_oldest(make_instance, receivers):
    r = receivers(Receiver, [503] * 1000)
    inst = start(make_instance, [hook_line(r.url)],
                 config={"webhook_retry_min": "1h",
                         "webhook_queue_max": "1"})
    inst.cli("customer", "suspend", "acme", check=True)
    [first] = r.wait("customer.suspended")
    pop3_login(inst, "ann@acme.test")
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    r.wait("login.new_ip")
    line = wait_log(inst, r"webhook delivery=\S+ event=customer.suspended "
                    r".* dropped: the queue is full")
    assert first["headers"]["X-Popgate-Delivery"] in line
    spool = os.path.join(inst.data_dir, "webhooks")
    wait_until(lambda: len(os.listdir(spool)) == 1, what="one spool file")


# ---- https ----

def test_https_verified_with_ca_file(make_instance, receivers):
    inst = make_instance(start=False)
    cert, key = make_cert(inst.dir, "hook", "localhost")
    os.chmod(cert, 0o644)
    r = receivers(Receiver, [], (cert, key))
    inst = start(make_instance, [hook_line(r.url)],
                 config={"webhook_ca_file": cert})
    inst.cli("customer", "suspend", "acme", check=True)
    check_signed(r.wait("customer.suspended")[0], "customer.suspended")


def test_https_unknown_ca_is_not_delivered(make_instance, receivers):
    inst = make_instance(start=False)
    cert, key = make_cert(inst.dir, "hook", "localhost")
    r = receivers(Receiver, [], (cert, key))
    inst = start(make_instance, [hook_line(r.url)])
    inst.cli("customer", "suspend", "acme", check=True)
    line = wait_log(inst, r"event=customer.suspended .* failed attempts=1")
    assert "certificate" in line, line
    assert r.events() == []


def test_http_to_other_hosts_refused(make_instance):
    inst = make_instance(config=dict(FAST), start=False,
                         extra_lines=["webhook = http://192.0.2.1/hook"])
    out = inst.cli("check-config")
    assert out.returncode != 0
    assert "http:// only to a loopback address" in out.stdout + out.stderr
