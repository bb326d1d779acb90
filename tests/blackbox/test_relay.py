"""The gated relay, part 1: who is authorized (SPEC section 1, rule
"authorized"; issue 5). POP-before-SMTP from one client address, the
window, its refresh and expiry, suspension, the relay CLI on the running
daemon, and the issue's "Checked by" session with curl and swaks.

Clients are told apart by their source address: 127.0.0.2, .3, ...
"""
import os
import socket
import sqlite3
import subprocess
import time
import urllib.parse

import pytest

from harness import free_ports
from relay_helpers import (DENIED_TEXT, PASSWORD, Smtp, log_lines,
                           log_size, pop3_login, queue_ids,
                           queued, queued_id, relay_instance, wait_log)

REMOTE = "bob@example.org"


def relay_once(inst, source, sender="ann@acme.test", rcpt=REMOTE,
               port="smtp"):
    """One transaction in a new session; the replies."""
    with Smtp(inst.ports[port], source=source) as c:
        c.ehlo()
        return c.send_mail(sender, [rcpt])


def assert_denied(replies, rcpt=REMOTE):
    assert [r.code for r in replies] == [250, 554], replies
    assert replies[1].text.startswith(f"554 5.7.1 <{rcpt}>: {DENIED_TEXT}"
                                      "port "), replies


def assert_queued(replies):
    assert [r.code for r in replies] == [250, 250, 250], replies
    return queued_id(replies[-1])


def live(inst):
    return inst.cli_json("relay", "list")


# ---- denied / allowed ----

@pytest.mark.parametrize("port", ["smtp", "smtp2"])
def test_denied_before_any_login(make_instance, port):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    assert_denied(relay_once(inst, "127.0.0.2", port=port))
    assert queue_ids(inst) == []
    line = wait_log(inst, r"rcpt-rejected .*to=<bob@example\.org>", since)
    assert "client=127.0.0.2" in line and "rule=authorized" in line
    assert live(inst) == []


@pytest.mark.parametrize("how", ["user", "plain"])
@pytest.mark.parametrize("port", ["smtp", "smtp2"])
def test_allowed_after_pop3_login_from_same_ip(make_instance, how, port):
    inst = relay_instance(make_instance)
    r = pop3_login(inst, "ann@acme.test", source="127.0.0.2", how=how)
    assert r.startswith("+OK")
    assert_queued(relay_once(inst, "127.0.0.2", port=port))
    (q,) = queued(inst)
    assert q.sender == "ann@acme.test" and q.rcpts == [REMOTE]
    # Another client address is still refused.
    assert_denied(relay_once(inst, "127.0.0.3", port=port))
    assert queue_ids(inst) == [q.id]
    rows = live(inst)
    assert [(e["address"], e["customer"], e["mailbox"], e["client"],
             e["listener"]) for e in rows] == \
        [("127.0.0.2", "acme", "ann@acme.test", "127.0.0.2", "pop3")]


def test_queue_id_is_the_one_in_the_reply_log_and_received(make_instance):
    """"250 ... queued as ID": ID names the queue file, the log line and
    the Received: header alike (one message, one id to follow)."""
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    since = log_size(inst)
    qid = assert_queued(relay_once(inst, "127.0.0.2"))
    line = wait_log(inst, r"smtp relayed to=<bob@example\.org>", since)
    assert f"qid={qid} " in line
    (q,) = queued(inst)
    assert f" id {qid}" in q.received(), q.received()
    assert q.id == qid, f"reply says {qid}, queue file is {q.id}"


def test_pop3s_login_opens_the_relay(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "dave@beta.test", source="127.0.0.4", tls=True)
    assert_queued(relay_once(inst, "127.0.0.4", sender="dave@beta.test"))
    (row,) = live(inst)
    assert row["listener"] == "pop3s" and row["customer"] == "beta"


def test_mail_to_hosted_domains_needs_no_authorization(make_instance):
    inst = relay_instance(make_instance)
    with Smtp(inst.ports["smtp"], source="127.0.0.9") as c:
        c.ehlo()
        for rcpt in ["ann@acme.test", "dave@beta.test", "sales@acme.test"]:
            r = c.send_mail("someone@elsewhere.test", [rcpt])
            assert r[-1].text.startswith("250 2.0.0 Ok: queued as"), r
        r = c.send_mail("someone@elsewhere.test", ["nobody@acme.test"])
        assert r[-1].text.startswith("550 5.1.1"), r
    assert queue_ids(inst) == []
    assert len(os.listdir(os.path.join(inst.maildir("ann@acme.test"),
                                       "new"))) == 2


@pytest.mark.parametrize("how", ["user", "plain"])
def test_failed_login_opens_nothing(make_instance, how):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    pop3_login(inst, "ann@acme.test", "wrong", source="127.0.0.2", how=how,
               expect_ok=False)
    pop3_login(inst, "nobody@acme.test", PASSWORD, source="127.0.0.2",
               how=how, expect_ok=False)
    pop3_login(inst, "ann@elsewhere.test", PASSWORD, source="127.0.0.2",
               how=how, expect_ok=False)
    assert live(inst) == []
    assert_denied(relay_once(inst, "127.0.0.2"))
    assert queue_ids(inst) == []
    assert not log_lines(inst, since, r"relay=opened")


def test_relay_never_authorize(make_instance):
    inst = relay_instance(make_instance, config={
        "relay_never_authorize": "127.0.0.16/28"})
    since = log_size(inst)
    pop3_login(inst, "ann@acme.test", source="127.0.0.20")
    line = wait_log(inst, r"pop3 login user=ann@acme\.test", since)
    assert "relay=not-opened" in line and "relay_never_authorize" in line
    assert live(inst) == []
    assert_denied(relay_once(inst, "127.0.0.20"))
    # Outside that network the same login opens it.
    pop3_login(inst, "ann@acme.test", source="127.0.0.40")
    assert_queued(relay_once(inst, "127.0.0.40"))


def test_trusted_networks_relay_without_login(make_instance):
    inst = relay_instance(make_instance, config={
        "trusted_networks": "127.0.0.50/32"})
    assert_queued(relay_once(inst, "127.0.0.50",
                             sender="anyone@elsewhere.test"))
    r = relay_once(inst, "127.0.0.50", sender="")
    assert r[1].text.startswith("550 5.7.1"), r
    assert_denied(relay_once(inst, "127.0.0.51"))


# ---- the window: expiry, re-check per transaction, refresh ----

def test_window_expires_and_session_stops_relaying(make_instance):
    inst = relay_instance(make_instance, config={"relay_window": "3s"})
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    inst.cli("relay", "allow", "127.0.0.7", "--customer", "beta", "--for",
             "2s", check=True)
    t0 = time.time()
    assert_queued(relay_once(inst, "127.0.0.7", sender="dave@beta.test"))
    with Smtp(inst.ports["smtp"], source="127.0.0.2") as c:
        c.ehlo()
        assert_queued(c.send_mail("ann@acme.test", [REMOTE]))
        time.sleep(max(0, t0 + 4.2 - time.time()))
        # Same session, next transaction: checked again, refused.
        since = log_size(inst)
        r = c.send_mail("ann@acme.test", [REMOTE])
        assert_denied(r)
        wait_log(inst, r"rule=authorized", since)
        # Mail to a hosted mailbox still goes.
        r = c.send_mail("ann@acme.test", ["bob@acme.test"])
        assert r[-1].text.startswith("250 2.0.0"), r
    assert live(inst) == []
    assert len(queue_ids(inst)) == 2
    assert_denied(relay_once(inst, "127.0.0.2"))
    # `relay allow --for 2s` is over as well.
    assert_denied(relay_once(inst, "127.0.0.7", sender="dave@beta.test"))


def test_new_login_refreshes_the_window(make_instance):
    inst = relay_instance(make_instance, config={"relay_window": "4s"})
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    pop3_login(inst, "ann@acme.test", source="127.0.0.3")
    t0 = time.time()
    first = {e["address"]: e for e in live(inst)}
    time.sleep(2.2)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2", how="plain")
    second = {e["address"]: e for e in live(inst)}
    assert second["127.0.0.2"]["expires"] > first["127.0.0.2"]["expires"]
    assert second["127.0.0.2"]["opened"] > first["127.0.0.2"]["opened"]
    time.sleep(max(0, t0 + 4.4 - time.time()))
    # The first logins' window is over; the refreshed one is not.
    assert_queued(relay_once(inst, "127.0.0.2"))
    assert_denied(relay_once(inst, "127.0.0.3"))


def test_login_of_another_mailbox_of_same_customer(make_instance):
    """A refresh by bob replaces ann's entry (one per key and customer);
    the log of the relayed message then names bob's login."""
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    pop3_login(inst, "bob@acme.test", source="127.0.0.2")
    (row,) = live(inst)
    assert row["mailbox"] == "bob@acme.test"
    since = log_size(inst)
    assert_queued(relay_once(inst, "127.0.0.2", sender="ann@acme.test"))
    line = wait_log(inst, r"smtp relayed to=<bob@example\.org>", since)
    assert "mailbox=bob@acme.test" in line and "customer=acme" in line


# ---- suspension ----

SUSPENDED_TEXT = "550 5.7.1 Relaying denied: the account is suspended"


def assert_suspended(replies):
    """Refused by good standing, not "check your mail first": the user
    did check mail (issue 17)."""
    assert [r.code for r in replies] == [250, 550], replies
    assert replies[1].text == SUSPENDED_TEXT, replies
    assert "check your mail" not in replies[1].text

def test_suspended_customer_login_opens_nothing(make_instance):
    inst = relay_instance(make_instance)
    inst.cli("customer", "suspend", "acme", check=True)
    since = log_size(inst)
    assert pop3_login(inst, "ann@acme.test",
                      source="127.0.0.2").startswith("+OK")
    line = wait_log(inst, r"pop3 login user=ann@acme\.test", since)
    assert "relay=not-opened" in line and "suspended" in line
    assert live(inst) == []
    since = log_size(inst)
    assert_suspended(relay_once(inst, "127.0.0.2"))
    wait_log(inst, r"client=127\.0\.0\.2 .*rule=good-standing", since)
    p = inst.cli("relay", "explain", "127.0.0.2", "ann@acme.test", REMOTE,
                 check=True)
    assert ("=> refused by rule good-standing: " + SUSPENDED_TEXT) in \
        p.stdout, p.stdout
    assert "suspended" in p.stdout and DENIED_TEXT not in p.stdout
    # Someone else's sender from there: still rule 1, with its text.
    p = inst.cli("relay", "explain", "127.0.0.2", "dave@beta.test", REMOTE,
                 check=True)
    assert "=> refused by rule authorized: 554 5.7.1 " + DENIED_TEXT in \
        p.stdout, p.stdout
    assert queue_ids(inst) == []
    # Resumed: the next login opens it again.
    inst.cli("customer", "resume", "acme", check=True)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    assert_queued(relay_once(inst, "127.0.0.2"))


def test_suspend_revokes_a_live_window_at_once(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    pop3_login(inst, "bob@acme.test", source="127.0.0.3")
    pop3_login(inst, "dave@beta.test", source="127.0.0.3")     # NAT
    assert len(live(inst)) == 3
    with Smtp(inst.ports["smtp"], source="127.0.0.2") as c, \
            Smtp(inst.ports["smtp"], source="127.0.0.3") as nat:
        c.ehlo()
        nat.ehlo()
        assert_queued(c.send_mail("ann@acme.test", [REMOTE]))
        p = inst.cli("customer", "suspend", "acme", check=True)
        assert "2 relay authorization(s) of acme revoked" in p.stdout, \
            p.stdout
        assert [(e["address"], e["customer"]) for e in live(inst)] == \
            [("127.0.0.3", "beta")]
        # Right after, in the same session: refused, nothing queued.
        since = log_size(inst)
        assert_suspended(c.send_mail("ann@acme.test", [REMOTE]))
        wait_log(inst, r"client=127\.0\.0\.2 .*rule=good-standing", since)
        # Behind the NAT only beta is left: acme's sender is nobody's.
        r = nat.send_mail("bob@acme.test", [REMOTE])
        assert r[1].text.startswith("553 5.7.1"), r
        # The other customer on that address is untouched.
        assert_queued(nat.send_mail("dave@beta.test", [REMOTE]))
    # A new POP3 login of the suspended customer opens nothing.
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    assert_suspended(relay_once(inst, "127.0.0.2"))
    assert len(queue_ids(inst)) == 2


# ---- the relay CLI acts on the running daemon ----

def test_relay_allow_revoke_list_on_running_daemon(make_instance):
    inst = relay_instance(make_instance)
    assert_denied(relay_once(inst, "127.0.0.6"))
    p = inst.cli("relay", "allow", "127.0.0.6", "--customer", "beta",
                 check=True)
    assert "relay open for 127.0.0.6 (customer beta)" in p.stdout
    (row,) = live(inst)
    assert (row["address"], row["customer"], row["mailbox"],
            row["listener"]) == ("127.0.0.6", "beta", "-", "cli")
    since = log_size(inst)
    assert_queued(relay_once(inst, "127.0.0.6", sender="dave@beta.test"))
    line = wait_log(inst, r"smtp relayed to=<bob@example\.org>", since)
    assert 'grant="pop-before-smtp key=127.0.0.6 customer=beta ' in line
    assert "listener=cli" in line
    # The allow is for beta only.
    r = relay_once(inst, "127.0.0.6", sender="ann@acme.test")
    assert r[1].text.startswith("553 5.7.1"), r
    p = inst.cli("relay", "revoke", "127.0.0.6", check=True)
    assert "1 authorization(s) revoked" in p.stdout
    assert live(inst) == []
    assert_denied(relay_once(inst, "127.0.0.6", sender="dave@beta.test"))
    assert len(queue_ids(inst)) == 1


def test_relay_allow_network_and_revoke_by_customer(make_instance):
    inst = relay_instance(make_instance)
    inst.cli("relay", "allow", "127.0.1.0/24", "--customer", "gamma",
             check=True)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    assert_queued(relay_once(inst, "127.0.1.7", sender="gina@gamma.test"))
    assert_queued(relay_once(inst, "127.0.1.200",
                             sender="gina@gamma.test"))
    assert_denied(relay_once(inst, "127.0.2.1", sender="gina@gamma.test"))
    p = inst.cli("relay", "revoke", "--customer", "gamma", check=True)
    assert "1 authorization(s) revoked" in p.stdout
    assert_denied(relay_once(inst, "127.0.1.7", sender="gina@gamma.test"))
    assert [e["customer"] for e in live(inst)] == ["acme"]
    assert_queued(relay_once(inst, "127.0.0.2"))


def test_relay_allow_refuses_suspended_or_unknown_customer(make_instance):
    inst = relay_instance(make_instance)
    inst.cli("customer", "suspend", "beta", check=True)
    p = inst.cli("relay", "allow", "127.0.0.8", "--customer", "beta")
    assert p.returncode == 1 and "suspended" in p.stderr, p
    p = inst.cli("relay", "allow", "127.0.0.8", "--customer", "nosuch")
    assert p.returncode == 1 and "no customer 'nosuch'" in p.stderr, p
    p = inst.cli("relay", "allow", "127.0.0.8")
    assert p.returncode == 1 and "--customer" in p.stderr, p
    assert live(inst) == []
    assert_suspended(relay_once(inst, "127.0.0.8",
                                sender="dave@beta.test"))


def test_relay_explain(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    p = inst.cli("relay", "explain", "127.0.0.3", "ann@acme.test", REMOTE,
                 check=True)
    assert "authorized" in p.stdout and "NO" in p.stdout
    assert ("=> refused by rule authorized: 554 5.7.1 " + DENIED_TEXT) \
        in p.stdout, p.stdout
    p = inst.cli("relay", "explain", "127.0.0.2", "ann@acme.test", REMOTE,
                 check=True)
    assert "=> relayed now (pop-before-smtp key=127.0.0.2 customer=acme " \
        "mailbox=ann@acme.test" in p.stdout, p.stdout
    p = inst.cli("relay", "explain", "127.0.0.2", "eve@other.test", REMOTE,
                 check=True)
    assert "=> refused by rule sender: 553 5.7.1" in p.stdout, p.stdout
    p = inst.cli("relay", "explain", "127.0.0.2", "<>", REMOTE, check=True)
    assert "=> refused by rule null-sender: 550 5.7.1" in p.stdout, p.stdout
    p = inst.cli("relay", "explain", "127.0.0.3", "x@elsewhere.test",
                 "ann@acme.test", check=True)
    assert "hosted domain" in p.stdout, p.stdout
    # explain changes nothing: still exactly one authorization, no count.
    assert len(live(inst)) == 1
    p = inst.cli("relay", "explain", "127.0.0.2", "ann@acme.test", REMOTE,
                 check=True)
    assert "0 of 200 in the last hour" in p.stdout, p.stdout


# ---- the "Checked by" ----

def test_checked_by_curl_and_swaks(make_instance):
    inst = relay_instance(make_instance)
    smtp2 = inst.ports["smtp2"]
    user = urllib.parse.quote("ann@acme.test", safe="")
    url = f"pop3://{user}:{PASSWORD}@127.0.0.1:{inst.ports['pop3']}/"
    p = subprocess.run(["curl", "-sS", "--max-time", "20", url],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    (row,) = live(inst)
    assert (row["address"], row["mailbox"]) == ("127.0.0.1",
                                                "ann@acme.test")

    def swaks(*args):
        return subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{smtp2}", "--to", REMOTE,
             "--timeout", "20", *args], capture_output=True, text=True,
            timeout=60)

    p = swaks("--from", "ann@acme.test")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout
    assert len(queue_ids(inst)) == 1
    p = swaks("--from", "eve@other.test")
    assert p.returncode != 0
    assert "<** 553 5.7.1" in p.stdout, p.stdout
    p = swaks("--from", "ann@acme.test", "--local-interface", "127.0.0.2")
    assert p.returncode != 0
    assert f"<** 554 5.7.1 <{REMOTE}>: {DENIED_TEXT}" in p.stdout, p.stdout
    assert len(queue_ids(inst)) == 1
    p = inst.cli("relay", "explain", "127.0.0.2", "ann@acme.test", REMOTE,
                 check=True)
    assert "no POP3 login from 127.0.0.2" in p.stdout, p.stdout
    assert "refused by rule authorized: 554 5.7.1" in p.stdout, p.stdout


def test_authorizations_survive_a_restart(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    inst.stop()
    inst.start()
    assert [e["address"] for e in live(inst)] == ["127.0.0.2"]
    assert_queued(relay_once(inst, "127.0.0.2"))
    assert_denied(relay_once(inst, "127.0.0.3"))


def test_ipv6_client_authorized_by_prefix(make_instance):
    try:
        socket.create_connection(("::1", 9), timeout=1).close()
    except ConnectionRefusedError:
        pass
    except OSError as e:
        pytest.skip(f"no IPv6 loopback: {e}")
    smtp6, pop6 = free_ports(2)
    inst = relay_instance(make_instance, extra_lines=[
        f"listen = [::1]:{smtp6} smtp", f"listen = [::1]:{pop6} pop3"],
        start=False)
    inst.start()

    def smtp6_session():
        s = socket.create_connection(("::1", smtp6), timeout=15)
        f = s.makefile("rb")
        return s, f

    s, f = smtp6_session()
    try:
        assert f.readline().startswith(b"220 ")
        s.sendall(b"HELO x\r\nMAIL FROM:<ann@acme.test>\r\n"
                  b"RCPT TO:<bob@example.org>\r\n")
        assert f.readline().startswith(b"250 ")
        assert f.readline().startswith(b"250 ")
        assert f.readline().startswith(b"554 5.7.1 ")
    finally:
        f.close()
        s.close()
    p = socket.create_connection(("::1", pop6), timeout=15)
    pf = p.makefile("rb")
    try:
        assert pf.readline().startswith(b"+OK")
        p.sendall(f"USER ann@acme.test\r\nPASS {PASSWORD}\r\nQUIT\r\n"
                  .encode())
        assert pf.readline().startswith(b"+OK")
        assert pf.readline().startswith(b"+OK")
    finally:
        pf.close()
        p.close()
    (row,) = live(inst)
    assert (row["address"], row["client"]) == ("::/64", "::1")
    s, f = smtp6_session()
    try:
        assert f.readline().startswith(b"220 ")
        s.sendall(b"HELO x\r\nMAIL FROM:<ann@acme.test>\r\n"
                  b"RCPT TO:<bob@example.org>\r\n")
        assert f.readline().startswith(b"250 ")
        assert f.readline().startswith(b"250 ")
        assert f.readline().startswith(b"250 2.1.5")
    finally:
        f.close()
        s.close()
    # The whole /64 is authorized, the next /64 not.
    p = inst.cli("relay", "explain", "::2", "ann@acme.test", REMOTE,
                 check=True)
    assert "=> relayed now" in p.stdout, p.stdout
    p = inst.cli("relay", "explain", "0:0:0:1::1", "ann@acme.test", REMOTE,
                 check=True)
    assert "=> refused by rule authorized" in p.stdout, p.stdout
    assert_denied(relay_once(inst, "127.0.0.2"))


def test_hourly_counters_slide_by_the_minute(make_instance):
    """The hourly caps count the last 60 one-minute buckets. Old buckets
    are written straight into the relay table (data_dir/relay.db) of the
    running daemon: one 61 minutes ago (no longer counted) and one 58
    minutes ago (still counted)."""
    inst = relay_instance(make_instance, config={
        "relay_max_messages_per_hour": "3"})
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    db_path = os.path.join(inst.data_dir, "relay.db")
    minute = int(time.time()) // 60
    db = sqlite3.connect(db_path, timeout=10)
    try:
        with db:
            db.execute("INSERT INTO relay_rate (customer, minute, msgs, "
                       "rcpts) VALUES ('acme', ?, 50, 50), "
                       "('acme', ?, 2, 2)", (minute - 61, minute - 58))
    finally:
        db.close()
    inst.chown_data()
    p = inst.cli("relay", "explain", "127.0.0.2", "ann@acme.test", REMOTE,
                 check=True)
    assert "2 of 3 in the last hour" in p.stdout, p.stdout
    assert_queued(relay_once(inst, "127.0.0.2"))
    r = relay_once(inst, "127.0.0.2")
    assert r[1].text.startswith("450 4.7.1 Hourly message limit"), r


def test_relay_revoke_one_customer_of_a_shared_address(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.5")
    pop3_login(inst, "dave@beta.test", source="127.0.0.5")
    pop3_login(inst, "bob@acme.test", source="127.0.0.6")
    p = inst.cli("relay", "revoke", "127.0.0.5", "--customer", "acme",
                 check=True)
    assert "1 authorization(s) revoked" in p.stdout
    assert sorted((e["address"], e["customer"]) for e in live(inst)) == \
        [("127.0.0.5", "beta"), ("127.0.0.6", "acme")]
    r = relay_once(inst, "127.0.0.5")
    assert r[1].text.startswith("553 5.7.1"), r
    assert_queued(relay_once(inst, "127.0.0.5", sender="dave@beta.test"))
    assert_queued(relay_once(inst, "127.0.0.6"))
    p = inst.cli("relay", "revoke", "127.0.0.99", check=True)
    assert "0 authorization(s) revoked" in p.stdout


@pytest.mark.parametrize("args,message", [
    (("allow", "not-an-ip", "--customer", "acme"), "bad address"),
    (("allow", "127.0.0.300", "--customer", "acme"), "bad address"),
    (("revoke",), "--customer"),
    (("explain", "127.0.0.2", "ann@acme.test"), ""),
    (("explain", "nonsense", "ann@acme.test", REMOTE), "bad client"),
    (("explain", "127.0.0.2", "not an address", REMOTE), "bad sender"),
])
def test_relay_cli_refuses_bad_input(make_instance, args, message):
    inst = relay_instance(make_instance)
    p = inst.cli("relay", *args)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert message in p.stderr, p.stderr
    assert live(inst) == []
