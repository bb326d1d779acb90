"""The gated relay, part 3: SMTP AUTH (PLAIN, LOGIN), the submission
listeners, STARTTLS before AUTH, STARTTLS injection on the AUTH path, and
`gate = connect` (SPEC sections 1 and 2, issue 5).

Every client address is on loopback here, where AUTH is offered without
TLS (smtp_auth_offered(): TLS, or submissions, or a loopback client).
The non-loopback cases run from a local address of another interface
when the machine has one, and are skipped otherwise.
"""
import base64
import socket
import time

import pytest

from relay_helpers import (DENIED_TEXT, PASSWORD, Smtp, denied_text,
                           ehlo_keywords, log_lines, log_size, message, plain_b64,
                           pop3_login, queue_ids, queued, relay_instance,
                           tls_context, wait_log)

REMOTE = "bob@example.org"
SUBMISSION = ["submission", "submissions"]


def connect(inst, port, source="127.0.0.2"):
    c = Smtp(inst.ports[port], source=source, tls=port == "submissions")
    c.ehlo()
    return c


def ok(replies):
    assert replies[-1].text.startswith("250 2.0.0 Ok: queued as"), replies
    return replies


def b64(s):
    return base64.b64encode(s.encode()).decode()


def non_loopback_address():
    """A local IPv4 address that is not loopback, or None."""
    try:
        with open("/proc/net/fib_trie") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines[1:], 1):
        if "/32 host LOCAL" in line:
            addr = lines[i - 1].split()[-1]
            if not addr.startswith("127."):
                return addr
    return None


@pytest.fixture
def outside(make_instance):
    """(instance, address) for a client that is not on loopback."""
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback local address")
    inst = relay_instance(make_instance)
    try:
        socket.create_connection(("127.0.0.1", inst.ports["pop3"]),
                                 timeout=2,
                                 source_address=(addr, 0)).close()
    except OSError as e:
        pytest.skip(f"cannot reach 127.0.0.1 from {addr}: {e}")
    return inst, addr


# ---- submission needs AUTH ----

@pytest.mark.parametrize("port", SUBMISSION)
def test_submission_requires_auth(make_instance, port):
    inst = relay_instance(make_instance)
    # Even a POP3 login does not replace AUTH on submission.
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    with connect(inst, port) as c:
        kw = ehlo_keywords(c.ehlo())
        assert kw["AUTH"] == "PLAIN LOGIN", kw
        r = c.cmd("MAIL FROM:<ann@acme.test>")
        assert r.text == "530 5.7.0 Authentication required", r
        assert c.cmd(f"RCPT TO:<{REMOTE}>").code == 503
        # Not even to a hosted mailbox.
        r = c.cmd("MAIL FROM:<ann@acme.test>")
        assert r.code == 530, r
        r = c.auth_plain("ann@acme.test")
        assert r.text == "235 2.7.0 Authentication successful", r
        kw = ehlo_keywords(c.ehlo())
        assert "AUTH" not in kw, kw
        ok(c.send_mail("ann@acme.test", [REMOTE]))
        ok(c.send_mail("ann@acme.test", ["dave@beta.test"]))
    (q,) = queued(inst)
    rec = q.received()
    assert "\n\t(authenticated: ann@acme.test)\n" in rec, rec
    assert (" with ESMTPSA " if port == "submissions" else
            " with ESMTPA ") in rec, rec


@pytest.mark.parametrize("port", SUBMISSION)
def test_submission_customer_rules_at_mail(make_instance, port):
    inst = relay_instance(make_instance, config={
        "relay_max_message_size": "4K", "max_message_size": "64K"})
    since = log_size(inst)
    with connect(inst, port) as c:
        assert c.auth_plain("ann@acme.test").code == 235
        # Everything sent there is submission: the sender at MAIL.
        r = c.cmd("MAIL FROM:<eve@other.test>")
        assert r.text == ("553 5.7.1 <eve@other.test>: Sender address "
                          "rejected: not an address of your account"), r
        r = c.cmd("MAIL FROM:<dave@beta.test>")
        assert r.text.startswith("553 5.7.1"), r
        r = c.cmd("MAIL FROM:<>")
        assert r.text.startswith("550 5.7.1"), r
        r = c.cmd("MAIL FROM:<ann@acme.test> SIZE=5000")
        assert r.text.startswith("552 5.3.4"), r
        # Even to a hosted mailbox: the From: header is checked.
        r = c.send_mail("ann@acme.test", [REMOTE], body=message(
            "ann@acme.test", REMOTE, from_header="Eve <eve@other.test>"))
        assert r[-1].text.startswith("550 5.7.1"), r
        ok(c.send_mail("carl@acme2.test", [REMOTE]))
    assert log_lines(inst, since, r"mail-rejected .*from=<eve@other\.test> "
                     r".*rule=sender")
    assert log_lines(inst, since, r"mail-rejected .*rule=null-sender")
    assert log_lines(inst, since, r"mail-rejected .*rule=size")
    assert len(queue_ids(inst)) == 1


def test_auth_login_mechanism(make_instance):
    inst = relay_instance(make_instance)
    with connect(inst, "submissions") as c:
        assert c.cmd("AUTH LOGIN").text == "334 VXNlcm5hbWU6"
        assert c.cmd(b64("dave@beta.test")).text == "334 UGFzc3dvcmQ6"
        assert c.cmd(b64(PASSWORD)).code == 235
        ok(c.send_mail("dave@beta.test", [REMOTE]))
    with connect(inst, "submission", source="127.0.0.3") as c:
        r = c.cmd("AUTH LOGIN " + b64("dave@beta.test"))
        assert r.text == "334 UGFzc3dvcmQ6", r
        assert c.cmd(b64(PASSWORD)).code == 235
        r = c.cmd("MAIL FROM:<ann@acme.test>")
        assert r.text.startswith("553 5.7.1"), r
    with connect(inst, "submission", source="127.0.0.4") as c:
        assert c.cmd("AUTH PLAIN").text == "334 "
        assert c.cmd(plain_b64("dave@beta.test")).code == 235
    assert len(queue_ids(inst)) == 1


def test_auth_on_smtp_relays_as_its_customer_without_pop3(make_instance):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    with connect(inst, "smtp2", source="127.0.0.2") as c:
        assert c.auth_plain("dave@beta.test").code == 235
        ok(c.send_mail("dave@beta.test", [REMOTE]))
        r = c.send_mail("ann@acme.test", [REMOTE])
        assert r[1].text.startswith("553 5.7.1"), r
    line = wait_log(inst, r"smtp relayed to=<bob@example\.org>", since)
    assert ('grant="smtp-auth mailbox=dave@beta.test customer=beta '
            'listener=smtp"') in line, line
    # AUTH opens nothing for the address.
    assert inst.cli_json("relay", "list") == []
    with connect(inst, "smtp", source="127.0.0.2") as c:
        r = c.send_mail("dave@beta.test", [REMOTE])
        assert r[1].text == f"554 5.7.1 <{REMOTE}>: {denied_text(inst)}", r
    assert len(queue_ids(inst)) == 1


def test_auth_bad_credentials(make_instance):
    inst = relay_instance(make_instance, config={"auth_failure_delay": "1s"})
    since = log_size(inst)
    with connect(inst, "submission", source="127.0.0.2") as c:
        t = time.monotonic()
        r = c.auth_plain("ann@acme.test", "wrong")
        assert r.text == "535 5.7.8 Authentication credentials invalid", r
        assert time.monotonic() - t >= 0.9
        r = c.auth_plain("nobody@acme.test")
        assert r.code == 535, r
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 530
        r = c.auth_plain("ann@acme.test", "")
        assert r.code in (501, 535), r
    assert log_lines(inst, since, r"smtp auth-failed user=ann@acme\.test")
    assert inst.cli_json("relay", "list") == []


def test_auth_three_failures_close(make_instance):
    inst = relay_instance(make_instance)
    with connect(inst, "submission", source="127.0.0.3") as c:
        for _ in range(3):
            assert c.auth_plain("ann@acme.test", "wrong").code == 535
        assert c.reply().text.startswith("421 4.7.0")
        assert c.closed()


def test_auth_protocol_errors(make_instance):
    inst = relay_instance(make_instance)
    with connect(inst, "submission") as c:
        assert c.cmd("AUTH CRAM-MD5").text.startswith("504 5.5.4")
        assert c.cmd("AUTH PLAIN").code == 334
        assert c.cmd("*").text.startswith("501 ")
        assert c.cmd("AUTH PLAIN !!!notbase64").text.startswith("501 5.5.2")
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 530
        assert c.auth_plain("ann@acme.test").code == 235
        # Once is enough.
        assert c.auth_plain("dave@beta.test").code == 503
        ok(c.send_mail("ann@acme.test", [REMOTE]))
    with connect(inst, "smtp") as c:
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        assert c.auth_plain("ann@acme.test").code == 503


def test_auth_suspended_customer(make_instance):
    inst = relay_instance(make_instance)
    inst.cli("customer", "suspend", "beta", check=True)
    since = log_size(inst)
    with connect(inst, "submission") as c:
        assert c.auth_plain("dave@beta.test").code == 235
        r = c.cmd("MAIL FROM:<dave@beta.test>")
        assert r.text.startswith("550 5.7.1"), r
    assert log_lines(inst, since, r"mail-rejected .*rule=good-standing")
    with connect(inst, "smtp", source="127.0.0.3") as c:
        assert c.auth_plain("dave@beta.test").code == 235
        r = c.send_mail("dave@beta.test", [REMOTE])
        assert r[1].text.startswith("550 5.7.1"), r
    assert queue_ids(inst) == []


def test_auth_customer_suspended_mid_session(make_instance):
    inst = relay_instance(make_instance)
    with connect(inst, "submission") as c:
        assert c.auth_plain("ann@acme.test").code == 235
        ok(c.send_mail("ann@acme.test", [REMOTE]))
        inst.cli("customer", "suspend", "acme", check=True)
        r = c.cmd("MAIL FROM:<ann@acme.test>")
        assert r.text.startswith("550 5.7.1"), r
        inst.cli("customer", "resume", "acme", check=True)
        ok(c.send_mail("ann@acme.test", [REMOTE]))
    assert len(queue_ids(inst)) == 2


# ---- STARTTLS ----

def test_auth_after_starttls_on_submission(make_instance):
    inst = relay_instance(make_instance)
    with connect(inst, "submission") as c:
        c.starttls()
        kw = ehlo_keywords(c.ehlo())
        assert kw["AUTH"] == "PLAIN LOGIN" and "STARTTLS" not in kw, kw
        assert c.auth_plain("ann@acme.test").code == 235
        ok(c.send_mail("ann@acme.test", [REMOTE]))
    (q,) = queued(inst)
    assert " with ESMTPSA " in q.received(), q.received()


@pytest.mark.parametrize("port", ["submission", "smtp"])
def test_starttls_injection_on_auth_path(make_instance, port):
    """Commands sent behind STARTTLS in the same write are discarded:
    the AUTH is never answered, nor applied."""
    inst = relay_instance(make_instance)
    since = log_size(inst)
    with connect(inst, port) as c:
        c.send("STARTTLS\r\nAUTH PLAIN " + plain_b64("ann@acme.test") +
               "\r\n")
        r = c.reply()
        assert r.text == "220 2.0.0 Ready to start TLS", r
        assert c.buf == b"", f"data after 220: {c.buf!r}"
        c.sock = tls_context().wrap_socket(c.sock)
        c.sock.settimeout(1)
        # Nothing arrives for the injected AUTH.
        try:
            got = c.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            got = b""
        assert got == b"", f"reply to an injected command: {got!r}"
        kw = ehlo_keywords(c.ehlo())
        assert kw["AUTH"] == "PLAIN LOGIN", kw
        if port == "submission":
            r = c.cmd("MAIL FROM:<ann@acme.test>")
            assert r.text == "530 5.7.0 Authentication required", r
        else:
            r = c.send_mail("ann@acme.test", [REMOTE])
            assert r[1].text.startswith("554 5.7.1"), r
    assert not log_lines(inst, since, r"smtp auth user=")
    assert queue_ids(inst) == []


# ---- clients not on loopback ----

def test_outside_client_needs_starttls_before_auth(outside):
    inst, addr = outside
    for port in ["submission", "smtp", "smtp2"]:
        with connect(inst, port, source=addr) as c:
            kw = ehlo_keywords(c.ehlo())
            assert "AUTH" not in kw and "STARTTLS" in kw, (port, kw)
            r = c.auth_plain("ann@acme.test")
            assert r.text.startswith("538 5.7.11"), (port, r)
            r = c.cmd("MAIL FROM:<ann@acme.test>")
            if port == "submission":
                assert r.text == ("530 5.7.0 Must issue a STARTTLS command "
                                  "first"), r
            else:
                assert r.code == 250, r
                r = c.cmd(f"RCPT TO:<{REMOTE}>")
                assert r.code == 554, r
                c.cmd("RSET")
            c.starttls()
            kw = ehlo_keywords(c.ehlo())
            assert kw["AUTH"] == "PLAIN LOGIN", (port, kw)
            assert c.auth_plain("ann@acme.test").code == 235
            ok(c.send_mail("ann@acme.test", [REMOTE]))
    with connect(inst, "submissions", source=addr) as c:
        assert c.auth_plain("ann@acme.test").code == 235
        ok(c.send_mail("ann@acme.test", [REMOTE]))
    assert len(queue_ids(inst)) == 4


def test_outside_client_starttls_injection(outside):
    inst, addr = outside
    since = log_size(inst)
    with connect(inst, "submission", source=addr) as c:
        c.send("STARTTLS\r\nAUTH PLAIN " + plain_b64("ann@acme.test") +
               "\r\n")
        assert c.reply().text == "220 2.0.0 Ready to start TLS"
        assert c.buf == b""
        c.sock = tls_context().wrap_socket(c.sock)
        c.ehlo()
        r = c.cmd("MAIL FROM:<ann@acme.test>")
        assert r.text == "530 5.7.0 Authentication required", r
    assert not log_lines(inst, since, r"smtp auth user=")


# ---- gate = connect ----

def test_gate_connect_refuses_unauthorized_in_greeting(make_instance):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    c = Smtp(inst.ports["smtp_gate"], source="127.0.0.3", greet=False)
    with c:
        r = c.reply()
        assert r.text.startswith("554 5.7.1 "), r
        assert DENIED_TEXT in r.text, r
        assert c.closed(), "the connection stays open after 554"
    assert "rule=authorized" in wait_log(inst, r"gate-refused "
                                         r"client=127\.0\.0\.3", since)
    # Not even mail to a hosted mailbox, and AUTH cannot help.
    c = Smtp(inst.ports["smtp_gate"], source="127.0.0.3", greet=False)
    with c:
        c.send("EHLO x\r\nAUTH PLAIN " + plain_b64("ann@acme.test") +
               "\r\n")
        assert c.reply().code == 554
        assert c.closed()
    # The other listeners serve that client as usual.
    with connect(inst, "smtp", source="127.0.0.3") as c:
        ok(c.send_mail("x@elsewhere.test", ["ann@acme.test"]))
    assert queue_ids(inst) == []


def test_gate_connect_serves_authorized_clients(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    inst.cli("relay", "allow", "127.0.0.4", "--customer", "beta",
             check=True)
    with Smtp(inst.ports["smtp_gate"], source="127.0.0.2") as c:
        assert c.greeting.text == "220 mail.test.example ESMTP popgate"
        kw = ehlo_keywords(c.ehlo())
        assert kw["LIMITS"] == "RCPTMAX=50", kw
        ok(c.send_mail("ann@acme.test", [REMOTE]))
        ok(c.send_mail("x@elsewhere.test", ["dave@beta.test"]))
        r = c.send_mail("eve@other.test", [REMOTE])
        assert r[1].text.startswith("553 5.7.1"), r
    with Smtp(inst.ports["smtp_gate"], source="127.0.0.4") as c:
        c.ehlo()
        ok(c.send_mail("dave@beta.test", [REMOTE]))
    # Revoked: refused at the next connection.
    inst.cli("relay", "revoke", "127.0.0.2", check=True)
    c = Smtp(inst.ports["smtp_gate"], source="127.0.0.2", greet=False)
    with c:
        assert c.reply().text.startswith("554 5.7.1 ")
        assert c.closed()
    assert len(queue_ids(inst)) == 2


def test_gate_connect_trusted_network(make_instance):
    inst = relay_instance(make_instance, config={
        "trusted_networks": "127.0.0.8/30"})
    with Smtp(inst.ports["smtp_gate"], source="127.0.0.9") as c:
        c.ehlo()
        ok(c.send_mail("x@elsewhere.test", [REMOTE]))
    c = Smtp(inst.ports["smtp_gate"], source="127.0.0.12", greet=False)
    with c:
        assert c.reply().code == 554


# ---- more of AUTH ----

def test_auth_authorization_identity_must_be_the_user(make_instance):
    inst = relay_instance(make_instance)
    with connect(inst, "submission") as c:
        r = c.cmd("AUTH PLAIN " + b64(
            f"dave@beta.test\0ann@acme.test\0{PASSWORD}"))
        assert r.code in (501, 535), r
        assert c.cmd("MAIL FROM:<dave@beta.test>").code == 530
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 530
        # The same identity twice is fine.
        r = c.cmd("AUTH PLAIN " + b64(
            f"ann@acme.test\0ann@acme.test\0{PASSWORD}"))
        assert r.code == 235, r
        r = c.cmd("MAIL FROM:<dave@beta.test>")
        assert r.text.startswith("553 5.7.1"), r


def test_auth_user_name_in_any_case(make_instance):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    with connect(inst, "submission") as c:
        assert c.auth_plain("Ann@ACME.test").code == 235
        ok(c.send_mail("ann@acme.test", [REMOTE]))
    line = wait_log(inst, r"smtp relayed to=", since)
    assert "smtp-auth mailbox=ann@acme.test customer=acme" in line, line


def test_auth_failures_throttled_per_address(make_instance):
    inst = relay_instance(make_instance, config={"auth_max_failures": "2"})
    since = log_size(inst)
    with connect(inst, "submission", source="127.0.0.9") as c:
        assert c.auth_plain("ann@acme.test", "bad").code == 535
        assert c.auth_plain("ann@acme.test", "bad").code == 535
        # The right password no longer helps from there...
        assert c.auth_plain("ann@acme.test").code == 535
    assert log_lines(inst, since, r"auth-throttled .*client=127\.0\.0\.9")
    # ... nor over POP3 (one throttle), so nothing opens.
    pop3_login(inst, "ann@acme.test", source="127.0.0.9", expect_ok=False)
    assert inst.cli_json("relay", "list") == []
    # Another address is not affected.
    with connect(inst, "submission", source="127.0.0.10") as c:
        assert c.auth_plain("ann@acme.test").code == 235


@pytest.mark.parametrize("port", ["submission", "smtp"])
def test_starttls_after_auth_forgets_the_login(make_instance, port):
    """RFC 3207 4.2: after the TLS handshake the server MUST discard any
    knowledge obtained from the client - an AUTH done in the clear
    included (else a man in the middle can log the session in as
    himself before the client's STARTTLS). Refusing STARTTLS after AUTH
    (503) is fine too."""
    inst = relay_instance(make_instance)
    with connect(inst, port) as c:
        assert c.auth_plain("dave@beta.test").code == 235
        r = c.cmd("STARTTLS")
        if r.code == 503:
            return
        assert r.text == "220 2.0.0 Ready to start TLS", r
        c.sock = tls_context().wrap_socket(c.sock)
        kw = ehlo_keywords(c.ehlo())
        assert kw.get("AUTH") == "PLAIN LOGIN", \
            f"AUTH not offered after STARTTLS: still logged in? {kw}"
        if port == "submission":
            r = c.cmd("MAIL FROM:<dave@beta.test>")
            assert r.code == 530, r
        else:
            r = c.send_mail("dave@beta.test", [REMOTE])
            assert r[1].code == 554, r
    assert queue_ids(inst) == []
