"""test_metrics.py - `popgate metrics`: the running daemon's metrics in
the Prometheus text format, through the control socket.

One daemon for the file. Each test scrapes, makes some traffic (SMTP to
a mailbox, POP3, IMAP and SMTP AUTH logins, a refused relay, a message
relayed to a loopback sink, a throttled client), scrapes again and
asserts that the counters moved exactly as the traffic did. Every
scrape must pass `promtool check metrics` (Debian package prometheus).
"""
import base64
import http.client
import imaplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

import harness
from delivery_helpers import RecordingSink

PASSWORD = "s3cret"
ANN = "ann@acme.test"
BOB = "bob@acme.test"
TIMEOUT = 20


@pytest.fixture(scope="module")
def sink():
    s = RecordingSink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def inst(sink, tls_files):
    i = harness.Instance(
        config={"auth_failure_delay": "0", "auth_max_failures": "2",
                "retry_min": "1s", "retry_max": "2s"},
        extra_lines=[f"transport example.org = 127.0.0.1:{sink.port}"],
        tls=tls_files)
    i.setup_mailbox(ANN, PASSWORD)
    i.setup_mailbox(BOB, PASSWORD)
    i.start()
    yield i
    i.stop()
    i.cleanup()


# ---- the scrape ----

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape_text(inst):
    p = inst.cli("metrics")
    assert p.returncode == 0, p.stderr
    return p.stdout


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def scrape(inst):
    return parse(scrape_text(inst))


def val(s, name, **labels):
    """The sample NAME{LABELS} of scrape S; 0 when absent (sparse)."""
    return s.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name, **labels):
    return val(after, name, **labels) - val(before, name, **labels)


def hour_moved(before, after, name, n, **labels):
    """A gauge of the current hour moved by N, or (the hour of the clock
    turned between the two scrapes) starts again at N."""
    return (delta(before, after, name, **labels) == n or
            val(after, name, **labels) == n)


def wait_scrape(inst, pred, timeout=TIMEOUT):
    """Scrapes until PRED(scrape) holds; the last scrape."""
    end = time.monotonic() + timeout
    while True:
        s = scrape(inst)
        if pred(s):
            return s
        assert time.monotonic() < end, "the metrics did not get there"
        time.sleep(0.1)


# ---- traffic ----

def smtp_send(inst, port, sender, rcpts, source="127.0.0.1", login=None):
    body = (f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: m\r\n"
            f"\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", inst.ports[port], timeout=TIMEOUT,
                      source_address=(source, 0)) as c:
        c.ehlo("client.test")
        if login:
            c.login(*login)
        c.sendmail(sender, rcpts, body)


def pop3_login(inst, user, password, source="127.0.0.1"):
    """A POP3 USER/PASS login from SOURCE: True when it worked."""
    sock = socket.create_connection(("127.0.0.1", inst.ports["pop3"]),
                                    timeout=TIMEOUT,
                                    source_address=(source, 0))
    f = sock.makefile("rb")
    try:
        def cmd(text):
            if text is not None:
                sock.sendall(text.encode() + b"\r\n")
            return f.readline().decode()
        assert cmd(None).startswith("+OK")
        assert cmd(f"USER {user}").startswith("+OK")
        ok = cmd(f"PASS {password}").startswith("+OK")
        assert cmd("QUIT").startswith("+OK")
        # The server closes once its answer is out.
        assert f.read() == b""
        return ok
    finally:
        f.close()
        sock.close()


# ---- the tests ----

def test_promtool_passes(inst):
    pop3_login(inst, ANN, PASSWORD)
    text = scrape_text(inst)
    assert shutil.which("promtool"), "promtool (Debian prometheus) missing"
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    s = parse(text)
    assert val(s, "popgate_build_info", version=version(inst)) == 1
    assert val(s, "process_resident_memory_bytes") > 1 << 20
    assert val(s, "process_open_fds") > 5
    # Every histogram ends in +Inf, and _count is its value.
    for (name, labels), v in s.items():
        if name.endswith("_bucket") and ("le", "+Inf") in labels:
            base = name[:-len("_bucket")]
            rest = tuple(kv for kv in labels if kv[0] != "le")
            assert s[(base + "_count", rest)] == v


def version(inst):
    p = harness.run_popgate("--version")
    return p.stdout.split()[1]


def test_smtp_to_a_mailbox(inst):
    before = scrape(inst)
    smtp_send(inst, "smtp", "someone@example.net", [ANN])
    after = scrape(inst)
    assert delta(before, after, "popgate_sessions_total",
                 listener="smtp") == 1
    assert delta(before, after, "popgate_recipient_decisions_total",
                 rule="ok", result="accepted") == 1
    assert delta(before, after, "popgate_smtp_messages_total",
                 result="accepted") == 1
    assert delta(before, after, "popgate_smtp_data_duration_seconds_count") \
        == 1
    assert delta(before, after, "popgate_smtp_data_duration_seconds_bucket",
                 le="+Inf") == 1
    # Not relayed: no relay decision, no customer charged.
    for (name, _), v in after.items():
        if name == "popgate_relay_decisions_total":
            assert v == before.get((name, _), 0.0)
    # The session is over once smtplib has its 221.
    wait_scrape(inst, lambda s: val(s, "popgate_sessions_open",
                                    listener="smtp") == 0)


def test_unknown_user(inst):
    before = scrape(inst)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=TIMEOUT) as c:
        c.ehlo("client.test")
        c.mail("someone@example.net")
        code, _ = c.rcpt("nobody@acme.test")
        assert code == 550
    after = scrape(inst)
    assert delta(before, after, "popgate_recipient_decisions_total",
                 rule="unknown-user", result="refused") == 1


def test_pop3_logins(inst):
    before = scrape(inst)
    assert pop3_login(inst, ANN, PASSWORD)
    assert not pop3_login(inst, BOB, "wrong")
    after = scrape(inst)
    assert delta(before, after, "popgate_logins_total", protocol="pop3",
                 result="ok") == 1
    assert delta(before, after, "popgate_logins_total", protocol="pop3",
                 result="fail") == 1
    assert delta(before, after, "popgate_login_duration_seconds_count",
                 protocol="pop3") == 2
    assert delta(before, after, "popgate_sessions_total",
                 listener="pop3") == 2
    # The login from 127.0.0.1 opened the relay for it: counted on a
    # worker that each scrape starts.
    wait_scrape(inst, lambda s: val(s, "popgate_relay_authorizations",
                                    kind="login") >= 1)


def test_imap_login(inst):
    before = scrape(inst)
    c = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=TIMEOUT)
    c.starttls(harness_ssl_context())
    c.login(ANN, PASSWORD)
    c.logout()
    after = scrape(inst)
    assert delta(before, after, "popgate_logins_total", protocol="imap",
                 result="ok") == 1
    assert delta(before, after, "popgate_login_duration_seconds_count",
                 protocol="imap") == 1
    assert delta(before, after, "popgate_sessions_total",
                 listener="imap") == 1


def harness_ssl_context():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_smtp_auth_relays(inst, sink):
    """An SMTP AUTH login, and the message it relays."""
    got = len(sink.messages)
    before = scrape(inst)
    with smtplib.SMTP("127.0.0.1", inst.ports["submission"],
                      timeout=TIMEOUT) as c:
        c.ehlo("client.test")
        c.starttls(context=harness_ssl_context())
        c.ehlo("client.test")
        c.login(ANN, PASSWORD)
        c.sendmail(ANN, ["frank@example.org"], f"From: <{ANN}>\r\n"
                   "Subject: auth\r\n\r\nhi\r\n")
    assert sink.wait_for(got + 1)
    after = scrape(inst)
    assert delta(before, after, "popgate_logins_total",
                 protocol="smtp-auth", result="ok") == 1
    assert delta(before, after, "popgate_sessions_total",
                 listener="submission") == 1
    assert delta(before, after, "popgate_relay_grants_total",
                 grant="smtp-auth") == 1
    assert delta(before, after, "popgate_relay_grants_total",
                 grant="pop-before-smtp") == 0
    # On submission the relay rules decide at MAIL already.
    assert delta(before, after, "popgate_relay_decisions_total",
                 stage="mail", rule="ok", result="accepted") == 1
    assert hour_moved(before, after,
                      "popgate_customer_hour_relayed_messages", 1,
                      customer="acme")


def test_refused_relay(inst):
    before = scrape(inst)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=TIMEOUT,
                      source_address=("127.0.0.3", 0)) as c:
        c.ehlo("client.test")
        c.mail(ANN)
        code, _ = c.rcpt("someone@example.net")
        assert code == 554
    after = scrape(inst)
    assert delta(before, after, "popgate_relay_decisions_total",
                 stage="rcpt", rule="authorized", result="refused") == 1
    assert delta(before, after, "popgate_relay_grants_total",
                 grant="pop-before-smtp") == 0


def test_relayed_to_sink(inst, sink):
    got = len(sink.messages)
    before = scrape(inst)
    assert pop3_login(inst, ANN, PASSWORD, source="127.0.0.2")
    smtp_send(inst, "smtp", ANN, ["carol@example.org", "dan@example.org"],
              source="127.0.0.2")
    assert sink.wait_for(got + 1)
    after = wait_scrape(inst, lambda s: delta(
        before, s, "popgate_deliveries_total", outcome="delivered",
        transport="smtp") == 2)
    assert delta(before, after, "popgate_relay_decisions_total",
                 stage="rcpt", rule="ok", result="accepted") == 2
    assert delta(before, after, "popgate_relay_grants_total",
                 grant="pop-before-smtp") == 2
    assert delta(before, after, "popgate_relay_decisions_total",
                 stage="data", rule="ok", result="accepted") == 1
    assert delta(before, after, "popgate_smtp_messages_total",
                 result="accepted") == 1
    assert hour_moved(before, after,
                      "popgate_customer_hour_relayed_messages", 1,
                      customer="acme")
    assert hour_moved(before, after,
                      "popgate_customer_hour_relayed_recipients", 2,
                      customer="acme")
    assert delta(before, after, "popgate_deliveries_total",
                 outcome="bounced", transport="smtp") == 0
    # Delivered: the queue is empty again.
    wait_scrape(inst, lambda s: all(
        val(s, "popgate_queue_messages", state=st) == 0
        for st in ("ready", "deferred", "active", "held", "admin")))


def test_deferred_then_held(inst, sink):
    """A message the sink defers waits in the queue (deferred, with an
    age); held, it moves to held."""
    sink.rcpt_reply = lambda addr: "451 4.3.0 later"
    try:
        before = scrape(inst)
        assert pop3_login(inst, ANN, PASSWORD, source="127.0.0.2")
        smtp_send(inst, "smtp", ANN, ["erin@example.org"],
                  source="127.0.0.2")
        s = wait_scrape(inst, lambda s: val(
            s, "popgate_queue_messages", state="deferred") == 1)
        assert delta(before, s, "popgate_deliveries_total",
                     outcome="deferred", transport="smtp") >= 1
        # Its age grows with the clock (the id says when it came).
        s = wait_scrape(inst, lambda s: val(
            s, "popgate_queue_oldest_message_age_seconds",
            state="deferred") >= 1)
        assert val(s, "popgate_queue_oldest_message_age_seconds",
                   state="deferred") < 60
        assert val(s, "popgate_queue_oldest_message_age_seconds",
                   state="held") == 0
        rows = inst.cli_json("queue", "list")
        assert len(rows) == 1
        qid = rows[0]["id"]
        p = inst.cli("queue", "hold", qid, "checking")
        assert p.returncode == 0, p.stderr
        s = wait_scrape(inst, lambda s: val(
            s, "popgate_queue_messages", state="held") == 1)
        assert val(s, "popgate_queue_messages", state="deferred") == 0
        assert val(s, "popgate_queue_oldest_message_age_seconds",
                   state="held") >= 1
        assert inst.cli("queue", "delete", qid).returncode == 0
        wait_scrape(inst, lambda s: val(
            s, "popgate_queue_messages", state="held") == 0)
    finally:
        sink.rcpt_reply = lambda addr: "250 2.1.5 Ok"


def test_throttled_logins(inst):
    before = scrape(inst)
    src = "127.0.0.9"
    assert not pop3_login(inst, ANN, "wrong1", source=src)
    assert not pop3_login(inst, ANN, "wrong2", source=src)
    # auth_max_failures = 2: the next one is not even checked.
    assert not pop3_login(inst, ANN, PASSWORD, source=src)
    after = scrape(inst)
    assert delta(before, after, "popgate_logins_total", protocol="pop3",
                 result="fail") == 2
    assert delta(before, after, "popgate_logins_total", protocol="pop3",
                 result="throttled") == 1
    assert delta(before, after, "popgate_login_duration_seconds_count",
                 protocol="pop3") == 2


def test_no_daemon(instance):
    p = instance.cli("metrics")
    assert p.returncode == 1
    assert "no daemon is running" in p.stderr


def http_get(port, path, tls=False):
    """One request on its own connection: the status."""
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT,
                                        context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def test_http_sessions_by_listener(make_instance):
    web = make_instance(listeners={"smtp": "smtp", "http": "http",
                                   "https": "https"})
    before = scrape(web)
    for _ in range(3):
        assert http_get(web.ports["http"], "/help") == 200
    # a page that is not there is a session all the same
    assert http_get(web.ports["http"], "/no-such-page") == 404
    assert http_get(web.ports["https"], "/help", tls=True) == 200
    after = wait_scrape(web, lambda s: val(s, "popgate_sessions_open",
                                           listener="http") == 0 and
                        val(s, "popgate_sessions_open",
                            listener="https") == 0)
    assert delta(before, after, "popgate_sessions_total",
                 listener="http") == 4
    assert delta(before, after, "popgate_sessions_total",
                 listener="https") == 1
    assert delta(before, after, "popgate_sessions_total",
                 listener="smtp") == 0
    # one request on a kept-alive connection is one session, open until
    # the client goes
    c = http.client.HTTPConnection("127.0.0.1", web.ports["http"],
                                   timeout=TIMEOUT)
    try:
        for _ in range(2):
            c.request("GET", "/help")
            c.getresponse().read()
        mid = scrape(web)
        assert val(mid, "popgate_sessions_open", listener="http") == 1
        assert delta(after, mid, "popgate_sessions_total",
                     listener="http") == 1
    finally:
        c.close()
    wait_scrape(web, lambda s: val(s, "popgate_sessions_open",
                                   listener="http") == 0)
