"""The relay authorization a POP3 login records (SPEC section 1): who,
from where, until when; refreshed by a new login; nothing for a
suspended customer, a failed login or a relay_never_authorize network;
revoked by `customer suspend`; kept across a restart."""
import calendar
import socket
import time

import pytest

from pop3_helpers import (PASS, USER, Client, extra_listener, message,
                          plain, put_file, relay_for, relay_list, start_pop3)


def stamp(text):
    """`relay list --json` time ("YYYY-MM-DD HH:MM:SS", UTC) -> epoch."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def login_from(inst, source, port="pop3", user=USER, password=PASS):
    with Client(inst.ports[port], source=source,
                tls=port == "pop3s") as c:
        r = c.login(user, password)
        c.quit()
        return r


@pytest.fixture
def srv(make_instance):
    return start_pop3(make_instance, {"relay_window": "2h",
                                      "auth_failure_delay": "0"},
                      [("carl@beta.test", "c4rl", "beta")])


def test_login_records_authorization(srv):
    assert relay_list(srv) == []
    before = time.time()
    login_from(srv, "127.0.0.2")
    after = time.time()
    [e] = relay_list(srv)
    assert {k: e[k] for k in ("address", "customer", "mailbox", "client",
                              "listener")} == {
        "address": "127.0.0.2", "customer": "acme", "mailbox": USER,
        "client": "127.0.0.2", "listener": "pop3"}
    assert int(before) <= stamp(e["opened"]) <= after + 1
    assert stamp(e["expires"]) - stamp(e["opened"]) == 2 * 3600
    assert "relay=opened" in srv.log()
    # The aligned table shows the same.
    p = srv.cli("relay", "list", check=True)
    assert "127.0.0.2" in p.stdout and USER in p.stdout


def test_listener_and_address_per_login(srv):
    login_from(srv, "127.0.0.3", port="pop3s")
    login_from(srv, "127.0.0.4", user="carl@beta.test", password="c4rl")
    got = sorted((e["address"], e["customer"], e["mailbox"], e["listener"])
                 for e in relay_list(srv))
    assert got == [("127.0.0.3", "acme", USER, "pop3s"),
                   ("127.0.0.4", "beta", "carl@beta.test", "pop3")]


def test_two_customers_behind_one_address(srv):
    """NAT: both customers hold an authorization for the address."""
    login_from(srv, "127.0.0.5")
    login_from(srv, "127.0.0.5", user="carl@beta.test", password="c4rl")
    assert sorted(e["customer"] for e in relay_for(srv, "127.0.0.5")) == \
        ["acme", "beta"]


def test_new_login_refreshes(srv):
    login_from(srv, "127.0.0.2")
    [first] = relay_list(srv)
    time.sleep(1.1)
    login_from(srv, "127.0.0.2", port="pop3s")
    [second] = relay_list(srv)
    assert stamp(second["opened"]) > stamp(first["opened"])
    assert stamp(second["expires"]) - stamp(second["opened"]) == 2 * 3600
    assert second["listener"] == "pop3s"


def test_failed_login_records_nothing(srv):
    with Client(srv.ports["pop3"], source="127.0.0.2") as c:
        c.ok(f"USER {USER}")
        c.err("PASS wrong", "-ERR [AUTH]")
        c.err(f"AUTH PLAIN {plain(password='bad')}", "-ERR [AUTH]")
    with Client(srv.ports["pop3"], source="127.0.0.2") as c:
        c.err("AUTH PLAIN !!!", "-ERR [AUTH]")
        c.ok("QUIT")
    assert relay_list(srv) == []


def test_in_use_records_nothing(srv):
    with Client(srv.ports["pop3"], source="127.0.0.2") as first:
        first.login()
        with Client(srv.ports["pop3"], source="127.0.0.3") as second:
            second.ok(f"USER {USER}")
            second.err(f"PASS {PASS}", "-ERR [IN-USE]")
        first.quit()
    assert [e["address"] for e in relay_list(srv)] == ["127.0.0.2"]


def test_suspended_customer_reads_mail_but_opens_nothing(srv):
    put_file(srv, message())
    srv.cli("customer", "suspend", "acme", check=True)
    with Client(srv.ports["pop3"], source="127.0.0.2") as c:
        assert c.login() == "+OK Logged in, 1 message(s)"
        c.retr(1)
        c.quit()
    assert relay_list(srv) == []
    assert 'relay=not-opened reason="customer suspended"' in srv.log()
    # Another customer is unaffected.
    login_from(srv, "127.0.0.2", user="carl@beta.test", password="c4rl")
    assert [e["customer"] for e in relay_list(srv)] == ["beta"]
    # Resumed: the next login opens again.
    srv.cli("customer", "resume", "acme", check=True)
    login_from(srv, "127.0.0.2")
    assert sorted(e["customer"] for e in relay_list(srv)) == \
        ["acme", "beta"]


def test_suspend_revokes_at_once(srv):
    login_from(srv, "127.0.0.2")
    login_from(srv, "127.0.0.3")
    login_from(srv, "127.0.0.3", user="carl@beta.test", password="c4rl")
    assert len(relay_list(srv)) == 3
    srv.cli("customer", "suspend", "acme", check=True)
    assert [(e["address"], e["customer"]) for e in relay_list(srv)] == \
        [("127.0.0.3", "beta")]
    # Resuming does not bring them back: only a new login does.
    srv.cli("customer", "resume", "acme", check=True)
    assert len(relay_list(srv)) == 1


def test_relay_never_authorize(make_instance):
    inst = start_pop3(make_instance, {"relay_never_authorize":
                                      "127.0.0.64/26, 10.0.0.0/8"})
    put_file(inst, message())
    with Client(inst.ports["pop3"], source="127.0.0.70") as c:
        assert c.login() == "+OK Logged in, 1 message(s)"
        c.quit()
    assert relay_list(inst) == []
    assert 'reason="address in relay_never_authorize"' in inst.log()
    login_from(inst, "127.0.0.63")
    assert [e["address"] for e in relay_list(inst)] == ["127.0.0.63"]


def test_kept_across_restart(srv):
    login_from(srv, "127.0.0.2")
    before = relay_list(srv)
    srv.stop()
    assert relay_list(srv) == before        # the CLI reads it stopped too
    srv.start()
    assert relay_list(srv) == before
    # And a suspension while stopped still revokes.
    srv.stop()
    srv.cli("customer", "suspend", "acme", check=True)
    srv.start()
    assert relay_list(srv) == []


def test_ipv6_prefix(make_instance):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no ::1")
    inst, port = extra_listener(make_instance, "[::1]",
                                config={"relay_ipv6_prefix": "48"})
    with Client(port, host="::1") as c:
        c.login()
        c.quit()
    [e] = relay_list(inst)
    assert e["address"] == "::/48"
    assert e["client"] == "::1"
