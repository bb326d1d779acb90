"""IMAP before authentication (issue 14 points 1 and 5, SPEC 9): the
greeting and CAPABILITY, STARTTLS and imaps, LOGIN and AUTHENTICATE
(PLAIN with SASL-IR, LOGIN), literals, and what a good login does: it
opens the relay for the client's address exactly like a POP3 login
(window, audit record with listener=imap|imaps), while a failed one is
delayed, throttled and opens nothing."""
import base64
import imaplib
import re
import time

import pytest

from imap_helpers import Imap, imap_login, tls_context
from relay_helpers import (DENIED_TEXT, PASSWORD, Smtp, message,
                           relay_instance)

USER = "ann@acme.test"


@pytest.fixture(scope="module")
def inst(request):
    """One instance for the module's read-only cases."""
    import harness
    i = harness.Instance(config={"auth_failure_delay": "0"})
    i.setup_mailbox(USER, PASSWORD)
    i.start()
    yield i
    i.stop()
    i.cleanup()


def plain(user=USER, password=PASSWORD):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def caps(line):
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line) or \
        re.match(r"\* CAPABILITY (.*)", line)
    assert m, line
    return m.group(1).split()


# ---- greeting, capabilities, TLS ----

def test_greeting_and_capability(inst):
    with Imap(inst.ports["imap"]) as c:
        assert c.greeting.startswith("* OK [CAPABILITY ")
        g = caps(c.greeting)
        for cap in ("IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN",
                    "LITERAL+", "SASL-IR", "ID", "ENABLE"):
            assert cap in g, g
        r = c.cmd("CAPABILITY")
        assert r.status == "OK"
        assert caps(r.untagged[0]) == g


def test_imaps_has_no_starttls(inst):
    with Imap(inst.ports["imaps"], tls=True) as c:
        g = caps(c.greeting)
        assert "STARTTLS" not in g and "AUTH=PLAIN" in g


def test_plaintext_refused_without_tls(make_instance):
    """imap_plaintext_auth = no: LOGINDISABLED in clear text, no login
    until STARTTLS, then the login works."""
    inst = relay_instance(make_instance,
                          config={"imap_plaintext_auth": "no"})
    with Imap(inst.ports["imap"]) as c:
        g = caps(c.greeting)
        assert "LOGINDISABLED" in g and "AUTH=PLAIN" not in g
        r = c.cmd(f'LOGIN "{USER}" "{PASSWORD}"')
        assert r.status == "NO" and "[PRIVACYREQUIRED]" in r.text, r
        r = c.cmd("AUTHENTICATE PLAIN " + plain())
        assert r.status == "NO" and "[PRIVACYREQUIRED]" in r.text, r
        c.starttls()
        r = c.cmd("CAPABILITY")
        assert "LOGINDISABLED" not in caps(r.untagged[0])
        assert "STARTTLS" not in caps(r.untagged[0])
        c.login(USER, PASSWORD)
    assert "relay=opened" in inst.log()


def test_starttls_twice_is_refused(inst):
    with Imap(inst.ports["imap"]) as c:
        c.starttls()
        assert c.cmd("STARTTLS").status == "BAD"


def test_python_imaplib_logs_in_over_starttls_and_imaps(inst):
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"])
    m.starttls(ssl_context=tls_context())
    assert m.login(USER, PASSWORD)[0] == "OK"
    m.logout()
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"],
                          ssl_context=tls_context())
    assert m.login(USER, PASSWORD)[0] == "OK"
    assert m.authenticate is not None
    m.logout()


# ---- logins ----

def test_login_ok_with_capabilities(inst):
    with Imap(inst.ports["imap"]) as c:
        r = c.login(USER, PASSWORD)
        assert "[CAPABILITY " in r.text, r
        after = caps(r.text)
        assert "NAMESPACE" in after and "AUTH=PLAIN" not in after
        assert c.cmd(f'LOGIN "{USER}" "{PASSWORD}"').status == "BAD"
        r = c.cmd("LOGOUT")
        assert r.untagged[0].startswith("* BYE")
        assert r.status == "OK"
        assert c.closed()


@pytest.mark.parametrize("how", ["literal", "nonsync", "quoted", "atom"])
def test_login_argument_forms(inst, how):
    with Imap(inst.ports["imap"]) as c:
        if how == "literal":
            c.send(f"a LOGIN {{{len(USER)}}}\r\n".encode())
            assert c.line().startswith("+ ")
            c.send(USER.encode() + f" {{{len(PASSWORD)}}}\r\n".encode())
            assert c.line().startswith("+ ")
            c.send(PASSWORD.encode() + b"\r\n")
        elif how == "nonsync":
            c.send(f"a LOGIN {{{len(USER)}+}}\r\n{USER} "
                   f"{{{len(PASSWORD)}+}}\r\n{PASSWORD}\r\n".encode())
        elif how == "quoted":
            c.send(f'a LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
        else:
            c.send(f"a LOGIN {USER} {PASSWORD}\r\n".encode())
        r = c.until("a")
        assert r.status == "OK", r


def test_login_failure_is_delayed_and_says_nothing_more(make_instance):
    inst = relay_instance(make_instance, config={"auth_failure_delay": "1s"})
    with Imap(inst.ports["imap"]) as c:
        t = time.monotonic()
        r = c.cmd(f'LOGIN "{USER}" "wrong"')
        took = time.monotonic() - t
        assert r.status == "NO" and "[AUTHENTICATIONFAILED]" in r.text, r
        assert took >= 0.95, took
        t = time.monotonic()
        r = c.cmd('LOGIN "nobody@acme.test" "wrong"')
        assert r.tagged.split(" ", 1)[1] == \
            "NO [AUTHENTICATIONFAILED] Authentication failed"
    assert "imap login-failed user=ann@acme.test client=127.0.0.1" in \
        inst.log()
    assert "relay=opened" not in inst.log()


def test_three_failures_end_the_session(inst):
    with Imap(inst.ports["imap"]) as c:
        for _ in range(3):
            assert c.cmd(f'LOGIN "{USER}" "x"').status == "NO"
        assert c.line().startswith("* BYE")
        assert c.closed()


def test_authenticate_plain_with_and_without_initial_response(inst):
    with Imap(inst.ports["imap"]) as c:
        assert c.cmd("AUTHENTICATE PLAIN " + plain()).status == "OK"
    with Imap(inst.ports["imap"]) as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.line() == "+ "
        c.send(plain().encode() + b"\r\n")
        assert c.until("a").status == "OK"
    with Imap(inst.ports["imap"]) as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.line() == "+ "
        c.send(b"*\r\n")
        assert c.until("a").status == "BAD"
        assert c.cmd("NOOP").status == "OK"


def test_authenticate_login(inst):
    with Imap(inst.ports["imap"]) as c:
        c.send(b"a AUTHENTICATE LOGIN\r\n")
        assert base64.b64decode(c.line()[2:]) == b"Username:"
        c.send(base64.b64encode(USER.encode()) + b"\r\n")
        assert base64.b64decode(c.line()[2:]) == b"Password:"
        c.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
        assert c.until("a").status == "OK"


def test_unknown_mechanism(inst):
    with Imap(inst.ports["imap"]) as c:
        r = c.cmd("AUTHENTICATE CRAM-MD5")
        assert r.status == "NO"


# ---- the grammar at the door ----

def test_bad_commands_get_bad_and_the_session_goes_on(inst):
    with Imap(inst.ports["imap"]) as c:
        assert c.cmd("FROBNICATE").status == "BAD"
        assert c.cmd("SELECT INBOX").status == "BAD"    # not logged in
        assert c.cmd('LOGIN "unterminated').status == "BAD"
        # A bare LF never ends a line: all of this is one bad line, and
        # the NOOP inside it does not run.
        c.send(b"w NOOP\nx NOOP\r\n")
        assert c.line().startswith("* BAD")
        assert c.cmd("NOOP", tag="y").status == "OK"


def test_oversized_literal_is_refused_before_it_is_sent(inst):
    with Imap(inst.ports["imap"]) as c:
        c.send(b"a LOGIN {999999999}\r\n")
        r = c.until("a")
        assert r.status == "NO" and "[TOOBIG]" in r.text, r
        assert c.cmd("NOOP").status == "OK"


def test_id(inst):
    with Imap(inst.ports["imap"]) as c:
        r = c.cmd('ID ("name" "test client" "version" "1")')
        assert r.status == "OK"
        assert r.untagged == ['* ID ("name" "popgate")']
    assert 'imap id name="test client" version=1' in inst.log()


# ---- the relay (SPEC 1, 9) ----

def relay_attempt(inst, source):
    with Smtp(inst.ports["smtp"], source=source) as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{USER}>", "250")
        return c.cmd("RCPT TO:<bob@example.org>")


def test_imap_login_opens_the_relay_for_that_address_only(make_instance):
    inst = relay_instance(make_instance, config={"relay_window": "2h"})
    assert imap_login(inst, USER, PASSWORD, source="127.0.0.2").status == \
        "OK"
    assert relay_attempt(inst, "127.0.0.2").code == 250
    r = relay_attempt(inst, "127.0.0.3")
    assert r.code == 554 and DENIED_TEXT in r.text, r
    [e] = inst.cli_json("relay", "list")
    assert (e["address"], e["customer"], e["mailbox"], e["listener"]) == \
        ("127.0.0.2", "acme", USER, "imap")
    assert re.search(r"imap login user=ann@acme\.test customer=acme "
                     r"client=127\.0\.0\.2 listener=imap relay=opened",
                     inst.log())


def test_imaps_login_is_recorded_as_imaps(make_instance):
    inst = relay_instance(make_instance)
    assert imap_login(inst, USER, PASSWORD, source="127.0.0.4",
                      port="imaps").status == "OK"
    [e] = inst.cli_json("relay", "list")
    assert e["listener"] == "imaps" and e["address"] == "127.0.0.4"


def test_failed_or_suspended_login_opens_nothing(make_instance):
    inst = relay_instance(make_instance)
    assert imap_login(inst, USER, "wrong", source="127.0.0.2").status == \
        "NO"
    inst.cli("customer", "suspend", "acme", check=True)
    r = imap_login(inst, USER, PASSWORD, source="127.0.0.2")
    assert inst.cli_json("relay", "list") == []
    # Refused, and told why: suspended, not "check your mail first".
    refused = relay_attempt(inst, "127.0.0.2")
    assert refused.code == 550 and "suspended" in refused.text, refused
    del r


def test_relay_never_authorize(make_instance):
    inst = relay_instance(make_instance, config={
        "relay_never_authorize": "127.0.0.9/32"})
    assert imap_login(inst, USER, PASSWORD, source="127.0.0.9").status == \
        "OK"
    assert inst.cli_json("relay", "list") == []
    assert "relay=not-opened" in inst.log()


def test_throttled_after_too_many_failures(make_instance):
    inst = relay_instance(make_instance, config={"auth_max_failures": "2"})
    for _ in range(2):
        assert imap_login(inst, USER, "x", source="127.0.0.6").status == "NO"
    # The right password now gets the same answer, unchecked.
    assert imap_login(inst, USER, PASSWORD, source="127.0.0.6").status == \
        "NO"
    assert "imap login-throttled" in inst.log()
    assert inst.cli_json("relay", "list") == []
    # Another address is not affected.
    assert imap_login(inst, USER, PASSWORD, source="127.0.0.7").status == \
        "OK"
