"""POP3 logins (SPEC section 5): USER/PASS, AUTH PLAIN (RFC 5034), STLS
(RFC 2595) and pop3s, the plaintext policy, the failed-login delay and
the per-address throttle."""
import base64
import poplib
import time

import pytest

from pop3_helpers import (PASS, TIMEOUT, USER, Client, extra_listener,
                          host_address, plain, relay_for, relay_list,
                          start_pop3, tls_context, wait_for)

FAILED = "-ERR [AUTH] Authentication failed"


@pytest.fixture
def srv(make_instance):
    return start_pop3(make_instance, {"auth_failure_delay": "0",
                                      "max_errors": "100"},
                      [("bob@acme.test", "b0bpw", "acme")])


def test_user_pass(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.ok(f"USER {USER}") == "+OK"
        assert c.ok(f"PASS {PASS}") == "+OK Logged in, 0 message(s)"
        c.quit()
    # The user name is the full address, in any case.
    with Client(srv.ports["pop3"]) as c:
        c.login("Ann@ACME.test", PASS)
        c.quit()
    # A password may contain blanks: everything after "PASS ".
    srv.cli("mailbox", "passwd", "bob@acme.test", input="a b  c\n",
            check=True)
    with Client(srv.ports["pop3"]) as c:
        c.login("bob@acme.test", "a b  c")
        c.quit()


@pytest.mark.parametrize("user,password", [
    (USER, "wrong"), (USER, PASS.upper()), (USER, PASS + " "),
    ("nobody@acme.test", PASS), ("ann", PASS), ("ann@other.test", PASS),
    ("bob@acme.test", PASS)])
def test_bad_credentials(srv, user, password):
    with Client(srv.ports["pop3"]) as c:
        c.ok(f"USER {user}")                # tells nothing
        assert c.cmd(f"PASS {password}") == FAILED
        # The session goes on in AUTHORIZATION; USER is needed again.
        c.err(f"PASS {PASS}")
        c.login()
        c.quit()
    assert relay_for(srv, "127.0.0.1")[0]["mailbox"] == USER


def test_three_failures_close_the_session(srv):
    with Client(srv.ports["pop3"]) as c:
        for i in range(2):
            c.ok(f"USER {USER}")
            assert c.cmd("PASS nope") == FAILED
        assert c.cmd(f"AUTH PLAIN {plain(password='nope')}") == FAILED
        assert c.closed()
        assert c.buf == b""


def test_auth_plain_initial_response(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.ok(f"AUTH PLAIN {plain()}") == \
            "+OK Logged in, 0 message(s)"
        c.quit()
    with Client(srv.ports["pop3"]) as c:
        # With an authorization identity equal to the user, lower case.
        c.ok(f"auth plain {plain(authzid=USER)}")
        c.quit()


def test_auth_plain_continuation(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.ok(plain()) == "+OK Logged in, 0 message(s)"
        c.quit()


def test_auth_plain_failures(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.cmd(f"AUTH PLAIN {plain(password='x')}") == FAILED
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.cmd(plain(password="y")) == FAILED
    since = len(srv.log().encode())
    bad = ["!!!!", "YW5u", "=", "AGFubg==",              # no password
           base64.b64encode(b"\0\0pw").decode(),         # no user
           base64.b64encode(b"x\0ann@acme.test\0s3cret").decode(),
           base64.b64encode(b"\0a\0b\0c").decode()]
    with Client(srv.ports["pop3"]) as c:
        for b in bad:
            assert c.cmd(f"AUTH PLAIN {b}").startswith("-ERR [AUTH] "), b
            assert c.cmd("AUTH PLAIN") == "+ "
            assert c.cmd(b).startswith("-ERR [AUTH] "), b
        # Still usable, and none of that counted as a failed login.
        c.login()
        c.quit()
    assert "login-failed" not in srv.log(since)


def test_auth_cancel_and_mechanisms(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.err("*") == "-ERR Authentication cancelled"
        c.err("AUTH LOGIN")
        c.err("AUTH CRAM-MD5 x")
        c.err("AUTH PLAINX")
        c.ok("AUTH")
        assert c.multi() == ["PLAIN"]
        # After the cancel, "*" is an unknown command again.
        c.err("*")
        c.ok(f"AUTH PLAIN {plain()}")
        c.quit()


def test_auth_response_too_long(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.err("A" * 5000).startswith("-ERR Line too long")
        c.ok(f"AUTH PLAIN {plain()}")
        c.quit()


def test_stls(srv):
    with Client(srv.ports["pop3"]) as c:
        c.ok(f"USER {USER}")
        c.starttls()
        # RFC 2595: the state from before TLS is forgotten.
        c.err(f"PASS {PASS}")
        caps = c.capa()
        assert "STLS" not in caps and "USER" in caps
        assert "SASL PLAIN" in caps
        assert c.err("STLS") == "-ERR TLS is already active"
        c.login()
        assert c.capa()[-1] == "IMPLEMENTATION popgate"
        c.quit()


def test_stls_injection(srv):
    """Commands sent in the clear behind STLS are never executed: not
    before the handshake, not after it."""
    with Client(srv.ports["pop3"]) as c:
        c.send(f"STLS\r\nCAPA\r\nUSER {USER}\r\nPASS {PASS}\r\n")
        assert c.line() == "+OK Begin TLS negotiation"
        assert c.buf == b""
        c.sock = tls_context().wrap_socket(c.sock,
                                           server_hostname="localhost")
        c.silent(0.7)
        # A fresh AUTHORIZATION state: the injected USER did nothing.
        c.err(f"PASS {PASS}")
        c.login()
        c.quit()
    assert relay_for(srv, "127.0.0.1")[0]["listener"] == "pop3"


def test_stls_then_garbage_handshake(srv):
    with Client(srv.ports["pop3"]) as c:
        c.ok("STLS")
        c.send(b"this is not TLS\r\n" * 10)
        assert c.closed()
    # The server is fine.
    with Client(srv.ports["pop3"]) as c:
        c.login()
        c.quit()


def test_pop3s(srv):
    with Client(srv.ports["pop3s"], tls=True) as c:
        assert c.greeting == "+OK popgate POP3 ready"
        caps = c.capa()
        assert "STLS" not in caps
        assert "USER" in caps and "SASL PLAIN" in caps
        assert c.err("STLS") == "-ERR TLS is already active"
        c.login()
        c.quit()
    assert relay_for(srv, "127.0.0.1")[0]["listener"] == "pop3s"
    # poplib's POP3_SSL as a real client.
    p = poplib.POP3_SSL("127.0.0.1", srv.ports["pop3s"],
                        context=tls_context(), timeout=TIMEOUT)
    p.user(USER)
    p.pass_(PASS)
    assert p.stat() == (0, 0)
    p.quit()


def test_plaintext_no(make_instance):
    inst = start_pop3(make_instance, {"pop3_plaintext_auth": "no"})
    refused = ("-ERR [AUTH] Plaintext authentication is not allowed "
               "without TLS: use STLS, or port 995")
    with Client(inst.ports["pop3"]) as c:
        caps = c.capa()
        assert "USER" not in caps and "SASL PLAIN" not in caps
        assert "STLS" in caps
        assert c.cmd(f"USER {USER}") == refused
        assert c.cmd(f"PASS {PASS}") == refused
        assert c.cmd(f"AUTH PLAIN {plain()}") == refused
        assert c.cmd("AUTH PLAIN") == refused
        c.starttls()
        assert "USER" in c.capa()
        c.login()
        c.quit()
    with Client(inst.ports["pop3"]) as c:
        c.starttls()
        c.ok(f"AUTH PLAIN {plain()}")
        c.quit()
    with Client(inst.ports["pop3s"], tls=True) as c:
        c.login()
        c.quit()
    # poplib with stls().
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=TIMEOUT)
    p.stls(context=tls_context())
    p.user(USER)
    p.pass_(PASS)
    p.quit()


def test_plaintext_loopback_default(srv):
    """By default a plaintext login works from any loopback address."""
    for src in ("127.0.0.1", "127.0.0.2", "127.1.2.3"):
        with Client(srv.ports["pop3"], source=src) as c:
            assert "USER" in c.capa()
            c.login()
            c.quit()


@pytest.mark.skipif(host_address() is None,
                    reason="no non-loopback IPv4 address")
@pytest.mark.parametrize("policy", ["loopback", "yes"])
def test_plaintext_from_elsewhere(make_instance, policy):
    host = host_address()
    inst, port = extra_listener(make_instance, host,
                                config={"pop3_plaintext_auth": policy})
    with Client(port, host=host) as c:
        caps = c.capa()
        if policy == "loopback":
            assert "USER" not in caps and "SASL PLAIN" not in caps
            c.err(f"USER {USER}", "-ERR [AUTH] Plaintext")
            c.err(f"AUTH PLAIN {plain()}", "-ERR [AUTH] Plaintext")
            c.starttls()
        c.login()
        c.quit()
    assert relay_for(inst, host)[0]["client"] == host


def test_failed_login_delay(make_instance):
    """A failed login is answered after auth_failure_delay; meanwhile the
    server serves other clients at once."""
    inst = start_pop3(make_instance, {"auth_failure_delay": "1s"})
    with Client(inst.ports["pop3"], source="127.0.0.2") as slow:
        slow.ok("USER nobody@acme.test")
        t0 = time.monotonic()
        slow.send("PASS wrong\r\n")
        with Client(inst.ports["pop3"], source="127.0.0.3") as other:
            other.login()
            other.stat()
            other.quit()
        assert time.monotonic() - t0 < 0.9, "another client was blocked"
        assert slow.line() == FAILED
        spent = time.monotonic() - t0
        assert 0.9 <= spent < 3, spent
        # A wrong password of an existing user takes the same time.
        slow.ok(f"USER {USER}")
        t0 = time.monotonic()
        assert slow.cmd("PASS wrong") == FAILED
        assert 0.9 <= time.monotonic() - t0 < 3
        # A good login is not delayed.
        t0 = time.monotonic()
        slow.login()
        assert time.monotonic() - t0 < 0.9
        slow.quit()


def test_throttle(make_instance):
    """After auth_max_failures failures from one address, its logins are
    refused even with the right password; other addresses log in."""
    inst = start_pop3(make_instance, {"auth_failure_delay": "0",
                                      "auth_max_failures": "4"})
    bad = "127.0.0.9"
    for _ in range(2):
        with Client(inst.ports["pop3"], source=bad) as c:
            c.ok(f"USER {USER}")
            assert c.cmd("PASS wrong") == FAILED
            assert c.cmd(f"AUTH PLAIN {plain(password='x')}") == FAILED
    with Client(inst.ports["pop3"], source=bad) as c:
        c.ok(f"USER {USER}")
        assert c.cmd(f"PASS {PASS}") == FAILED
        assert c.cmd(f"AUTH PLAIN {plain()}") == FAILED
    assert "login-throttled" in inst.log()
    with Client(inst.ports["pop3s"], source=bad, tls=True) as c:
        assert c.cmd(f"AUTH PLAIN {plain()}") == FAILED
    # Another address still logs in, meanwhile.
    with Client(inst.ports["pop3"], source="127.0.0.10") as c:
        c.login()
        c.quit()
    assert [e["address"] for e in relay_list(inst)] == ["127.0.0.10"]


def test_throttle_with_delay_concurrent(make_instance):
    """Several clients failing at once from one address: each failure
    waits its own delay; the other address is never held up."""
    inst = start_pop3(make_instance, {"auth_failure_delay": "1s",
                                      "auth_max_failures": "3"})
    clients = [Client(inst.ports["pop3"], source="127.0.0.11")
               for _ in range(4)]
    try:
        t0 = time.monotonic()
        for c in clients:
            c.ok(f"USER {USER}")
            c.send("PASS wrong\r\n")
        with Client(inst.ports["pop3"], source="127.0.0.12") as other:
            other.login()
            other.quit()
        assert time.monotonic() - t0 < 0.9
        for c in clients:
            assert c.line() == FAILED
        assert time.monotonic() - t0 < 3
        clients[0].ok(f"USER {USER}")
        assert clients[0].cmd(f"PASS {PASS}") == FAILED
    finally:
        for c in clients:
            c.close()


def test_stop_during_failed_login_delay(make_instance):
    """SIGTERM while a failed login waits for its answer: a clean exit."""
    inst = start_pop3(make_instance, {"auth_failure_delay": "5s"})
    with Client(inst.ports["pop3"]) as c:
        c.ok(f"USER {USER}")
        c.send("PASS wrong\r\n")
        wait_for(lambda: "login-failed" in inst.log(), what="the check")
        inst.stop()
        assert c.closed()


def test_login_cache_follows_the_store(srv):
    """The cache of verified logins (auth_cache_ttl, on by default) never
    lets an old password in: after `mailbox passwd` the old one fails and
    the new one works, at once; a suspension or deletion acts at once."""
    for _ in range(3):                      # verified, then from the cache
        with Client(srv.ports["pop3"]) as c:
            c.login("bob@acme.test", "b0bpw")
            c.quit()
    srv.cli("mailbox", "passwd", "bob@acme.test", input="n3w-pw\n",
            check=True)
    with Client(srv.ports["pop3"]) as c:
        c.ok("USER bob@acme.test")
        assert c.cmd("PASS b0bpw") == FAILED
        c.login("bob@acme.test", "n3w-pw")
        c.quit()
    # Back to the first password: a new hash (new salt), verified anew.
    srv.cli("mailbox", "passwd", "bob@acme.test", input="b0bpw\n",
            check=True)
    with Client(srv.ports["pop3"]) as c:
        c.ok("USER bob@acme.test")
        assert c.cmd("PASS n3w-pw") == FAILED
        c.login("bob@acme.test", "b0bpw")
        c.quit()
    srv.cli("mailbox", "delete", "bob@acme.test", check=True)
    with Client(srv.ports["pop3"]) as c:
        c.ok("USER bob@acme.test")
        assert c.cmd("PASS b0bpw") == FAILED
        c.quit()


def test_login_cache_off(make_instance):
    srv = start_pop3(make_instance, {"auth_failure_delay": "0",
                                     "auth_cache_ttl": "0"}, [])
    for _ in range(2):
        with Client(srv.ports["pop3"]) as c:
            c.login()
            c.quit()
    srv.cli("mailbox", "passwd", USER, input="other\n", check=True)
    with Client(srv.ports["pop3"]) as c:
        c.ok(f"USER {USER}")
        assert c.cmd(f"PASS {PASS}") == FAILED
        c.quit()


def test_login_default_domain(make_instance):
    """login_default_domain: a login name without @ is a mailbox of that
    domain (as Dovecot's auth_default_realm), for POP3 and SMTP AUTH; a
    whole address still works, and one of another domain is not
    rewritten."""
    import smtplib
    srv = start_pop3(make_instance, {"auth_failure_delay": "0",
                                     "login_default_domain": "ACME.test"},
                     [("ann@other.test", "0ther", "other")])
    with Client(srv.ports["pop3"]) as c:
        c.login("ann", PASS)
        c.quit()
    assert relay_for(srv, "127.0.0.1")[0]["mailbox"] == USER
    with Client(srv.ports["pop3"]) as c:
        assert c.ok(f"AUTH PLAIN {plain(user='ann')}").startswith(
            "+OK Logged in")
        c.quit()
    with Client(srv.ports["pop3"]) as c:
        c.login(USER, PASS)
        c.quit()
    with Client(srv.ports["pop3"]) as c:
        c.login("ann@other.test", "0ther")
        c.quit()
    with Client(srv.ports["pop3"]) as c:
        c.ok("USER ann")
        assert c.cmd("PASS 0ther") == FAILED
        c.quit()
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=TIMEOUT) as s:
        s.ehlo()
        code, _ = s.login("ann", PASS)
        assert code == 235
