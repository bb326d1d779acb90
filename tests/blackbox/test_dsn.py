"""Delivery status notifications as the client asks for them (RFC 3461,
issue 13 point 8): DSN is offered; NOTIFY=NEVER|SUCCESS|FAILURE|DELAY,
RET=FULL|HDRS, ENVID and ORCPT are checked, kept in the queue and passed
to a next hop that offers DSN; a hop without DSN, a local mailbox and an
alias of several members get a "relayed", "delivered" or "expanded"
notice from popgate when SUCCESS was asked for; no failure notice under
NOTIFY=NEVER, no delay notice without DELAY."""
import re

import pytest

from delivery_helpers import (Dsn, Smtp, closed_port, dlv_instance,
                              log_count, log_size, maildir_messages, message,
                              notices, pop3_login, sinks, wait_log,
                              wait_notices, wait_queue_empty, wait_until)

assert sinks  # the fixture

SENDER = "ann@acme.test"


def send(inst, rcpts, data=None, mail_params="", sender=SENDER, login=True):
    """One transaction; RCPTS is [(address, "RCPT parameters")]. Logs in
    first (POP3) so that remote recipients relay. The queue id."""
    if login:
        pop3_login(inst, sender)
    if data is None:
        data = message(sender=sender, rcpt=rcpts[0][0])
    with Smtp(inst.ports["smtp"]) as c:
        c.expect(f"MAIL FROM:<{sender}>{mail_params}", "250")
        for addr, params in rcpts:
            c.expect(f"RCPT TO:<{addr}>{params}", "250")
        c.expect("DATA", "354")
        c.sock.sendall(data + b".\r\n")
        r = c.reply()
        m = re.match(r"^250 2\.0\.0 Ok: queued as ([0-9a-f]+)$", r)
        assert m, r
        return m.group(1)


@pytest.fixture
def inst(make_instance):
    return dlv_instance(make_instance)


# ---- the parameters on the wire ----

def test_ehlo_offers_dsn(inst):
    with Smtp(inst.ports["smtp"]) as c:
        r = c.cmd("EHLO client.test")
        assert "250-DSN" in r.splitlines(), r


@pytest.mark.parametrize("cmd, reply", [
    ("MAIL FROM:<a@example.org> RET=HEADERS",
     "501 5.5.4 Syntax error: RET must be FULL or HDRS"),
    ("MAIL FROM:<a@example.org> ENVID=a+4",
     "501 5.5.4 Syntax error: ENVID must be xtext of at most 100 octets"),
    ("MAIL FROM:<a@example.org> ENVID=" + "x" * 101,
     "501 5.5.4 Syntax error: ENVID must be xtext of at most 100 octets"),
    ("MAIL FROM:<a@example.org> RET=FULL RET=HDRS",
     "555 5.5.4 Unsupported parameter: unknown or repeated MAIL parameter"),
    ("RCPT TO:<bob@acme.test> NOTIFY=NEVER,SUCCESS",
     "501 5.5.4 Syntax error: NOTIFY must be NEVER or a list of SUCCESS, "
     "FAILURE, DELAY"),
    ("RCPT TO:<bob@acme.test> NOTIFY=ALWAYS",
     "501 5.5.4 Syntax error: NOTIFY must be NEVER or a list of SUCCESS, "
     "FAILURE, DELAY"),
    ("RCPT TO:<bob@acme.test> NOTIFY=SUCCESS,SUCCESS",
     "501 5.5.4 Syntax error: NOTIFY must be NEVER or a list of SUCCESS, "
     "FAILURE, DELAY"),
    ("RCPT TO:<bob@acme.test> ORCPT=bob@acme.test",
     "501 5.5.4 Syntax error: ORCPT must be addr-type;xtext of at most 500 "
     "octets"),
    ("RCPT TO:<bob@acme.test> ORCPT=rfc822;b+zzob@acme.test",
     "501 5.5.4 Syntax error: ORCPT must be addr-type;xtext of at most 500 "
     "octets"),
    ("RCPT TO:<bob@acme.test> NOTIFY=NEVER NOTIFY=NEVER",
     "555 5.5.4 Unsupported parameter: unknown or repeated RCPT parameter"),
])
def test_bad_dsn_parameter_is_refused_and_the_session_goes_on(inst, cmd,
                                                              reply):
    with Smtp(inst.ports["smtp"]) as c:
        if cmd.startswith("RCPT"):
            c.expect("MAIL FROM:<a@example.org>", "250")
        assert c.cmd(cmd) == reply
        # Nothing of it was taken: the transaction goes on as before.
        if cmd.startswith("MAIL"):
            c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<bob@acme.test>", "250 2.1.5")


def test_rcpt_with_a_long_orcpt_is_not_too_long(inst):
    """RFC 3461 section 5: RCPT may be 500 octets longer for ORCPT, MAIL
    100 for ENVID; other commands keep the 512 of RFC 5321."""
    orcpt = "rfc822;" + "o" * 60 + "+2B" + "p" * 400 + "@acme.test"
    envid = "E" * 100
    with Smtp(inst.ports["smtp"]) as c:
        addr = "s" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + \
            "c" * 40 + ".example"
        line = f"MAIL FROM:<{addr}> AUTH=<{addr}> ENVID={envid}"
        assert 510 < len(line) <= 610
        c.expect(line, "250 2.1.0")
        line = f"RCPT TO:<bob@acme.test> NOTIFY=SUCCESS ORCPT={orcpt}"
        assert len(line) > 510 and len(orcpt) < 500
        c.expect(line, "250 2.1.5")
        assert c.cmd("NOOP " + "x" * 600).startswith("500 5.5.2 ")
        c.expect("NOOP", "250")


# ---- failures and delays ----

def test_notify_never_gets_no_bounce(make_instance, sinks):
    """Two recipients refused for good: the one with NOTIFY=NEVER is
    left out of the bounce, the other (no NOTIFY) is in it."""
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: Recipient unknown" % a
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = send(inst, [("quiet@example.org", " NOTIFY=NEVER"),
                      ("loud@example.org", "")])
    [msg] = wait_notices(inst, SENDER, 1)
    dsn = Dsn(msg)
    assert dsn.final_recipients() == ["loud@example.org"]
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} no bounce notice for 1 recipient\(s\): "
             rf"their NOTIFY does not ask for it")
    assert len(notices(inst, SENDER)) == 1


def test_notify_never_alone_sends_nothing(make_instance, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: Recipient unknown" % a
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = send(inst, [("quiet@example.org", " NOTIFY=NEVER")])
    wait_log(inst, rf"qid={qid} delivery to=<quiet@example.org> .*"
             rf"status=bounced")
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} no bounce notice for 1 recipient")
    assert notices(inst, SENDER) == []
    assert log_count(inst, rf"qid={qid} bounce notice sent") == 0


def test_notify_success_only_gets_no_bounce(make_instance, sinks):
    """NOTIFY=SUCCESS asks for no failure notice."""
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: Recipient unknown" % a
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = send(inst, [("x@example.org", " NOTIFY=SUCCESS")])
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} no bounce notice for 1 recipient")
    assert notices(inst, SENDER) == []


def test_delay_notice_only_where_asked(make_instance):
    """delay_warning passes with two recipients deferred: NOTIFY=DELAY
    is in the delay notice, NOTIFY=FAILURE is not; NEVER neither."""
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1s", "retry_max": "1s",
                                "delay_warning": "1s"})
    qid = send(inst, [("waits@example.org", " NOTIFY=DELAY,FAILURE"),
                      ("fails@example.org", " NOTIFY=FAILURE"),
                      ("never@example.org", " NOTIFY=NEVER")])
    [msg] = wait_notices(inst, SENDER, 1, timeout=20)
    assert msg["Subject"].startswith("Delayed Mail")
    dsn = Dsn(msg)
    assert dsn.final_recipients() == ["waits@example.org"]
    assert dsn.recipient("waits@example.org")["Action"] == "delayed"
    wait_log(inst, rf"qid={qid} no delay notice for 2 recipient\(s\)")


@pytest.mark.parametrize("ret", ["FULL", "HDRS", None])
def test_ret_returns_the_message_or_its_headers(make_instance, sinks, ret):
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: Recipient unknown" % a
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    data = message(subject="returned", rcpt="x@example.org",
                   body=b"the body line\r\n")
    send(inst, [("x@example.org", "")], data,
         mail_params=f" RET={ret}" if ret else "")
    [msg] = wait_notices(inst, SENDER, 1)
    dsn = Dsn(msg)
    assert "Subject: returned" in dsn.headers, dsn.headers
    if ret == "FULL":
        assert dsn.returned == "message/rfc822"
        assert b"the body line" in dsn.full
    else:
        assert dsn.returned == "text/rfc822-headers"
        assert "the body line" not in msg.as_string()


def test_envid_and_orcpt_come_back_in_the_report(make_instance, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: Recipient unknown" % a
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    send(inst, [("x@example.org", " ORCPT=rfc822;first+2Bx@example.org")],
         mail_params=" ENVID=QQ+2B314159")
    [msg] = wait_notices(inst, SENDER, 1)
    dsn = Dsn(msg)
    # RFC 3464: both decoded from xtext.
    assert dsn.fields["Original-Envelope-Id"] == "QQ+314159"
    r = dsn.recipient("x@example.org")
    assert r["Original-Recipient"] == "rfc822; first+x@example.org"
    assert r["Action"] == "failed"


# ---- success ----

def test_success_on_local_delivery(inst):
    since = log_size(inst)
    qid = send(inst, [("bob@acme.test", " NOTIFY=SUCCESS,FAILURE")],
               mail_params=" ENVID=env-1", login=False)
    [msg] = wait_notices(inst, SENDER, 1)
    assert msg["Subject"] == "Successful Mail Delivery Report"
    assert msg["Return-Path"] == "<>"
    assert msg["Auto-Submitted"] == "auto-replied"
    dsn = Dsn(msg)
    assert dsn.fields["Original-Envelope-Id"] == "env-1"
    r = dsn.recipient("bob@acme.test")
    assert r["Action"] == "delivered"
    assert r["Status"] == "2.0.0"
    assert dsn.returned == "text/rfc822-headers"
    assert len(maildir_messages(inst, "bob@acme.test")) == 1
    wait_log(inst, rf"qid={qid} delivered notice sent", since)


def test_no_success_notice_unless_asked(inst):
    qid = send(inst, [("bob@acme.test", " NOTIFY=FAILURE")], login=False)
    send(inst, [("bob@acme.test", "")], login=False)
    wait_until(lambda: len(maildir_messages(inst, "bob@acme.test")) == 2)
    assert notices(inst, SENDER) == []
    assert log_count(inst, rf"qid={qid} .*notice") == 0


def test_relayed_to_a_hop_without_dsn(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = send(inst, [("bob@example.org", " NOTIFY=SUCCESS "
                       "ORCPT=rfc822;bob@example.org")],
               mail_params=" RET=HDRS ENVID=e2")
    assert sink.wait_for(1)
    [msg] = wait_notices(inst, SENDER, 1)
    dsn = Dsn(msg)
    r = dsn.recipient("bob@example.org")
    assert r["Action"] == "relayed"
    assert r["Status"].startswith("2."), r["Status"]
    assert r["Original-Recipient"] == "rfc822; bob@example.org"
    assert "does not report delivery" in dsn.text
    # Nothing of DSN went to a server that did not offer it.
    [mail] = sink.cmds("MAIL")
    assert "RET=" not in mail and "ENVID=" not in mail, mail
    [rcpt] = sink.cmds("RCPT")
    assert rcpt == "RCPT TO:<bob@example.org>", rcpt
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} relayed notice sent")


def test_parameters_passed_to_a_hop_with_dsn(make_instance, sinks):
    """The next hop offers DSN: it gets every parameter and reports
    itself; popgate sends no notice of its own."""
    sink = sinks()
    sink.ehlo_extra = ["DSN"]
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = send(inst, [("bob@example.org", " NOTIFY=SUCCESS,DELAY "
                       "ORCPT=rfc822;b+2Bob@example.org"),
                      ("carl@example.org", "")],
               mail_params=" RET=FULL ENVID=QQ314159")
    assert sink.wait_for(1)
    [mail] = sink.cmds("MAIL")
    assert mail.endswith(" RET=FULL ENVID=QQ314159"), mail
    rcpts = sorted(sink.cmds("RCPT"))
    assert rcpts == ["RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY "
                     "ORCPT=rfc822;b+2Bob@example.org",
                     "RCPT TO:<carl@example.org>"], rcpts
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*status=sent")
    assert notices(inst, SENDER) == []


def test_alias_of_several_members_reports_expanded(make_instance):
    """RFC 3461 6.2.7.3: an alias that expands reports "expanded" for
    itself; its members do not report their own delivery."""
    inst = dlv_instance(make_instance, aliases={
        "team@acme.test": ["bob@acme.test", "ann@acme.test"]})
    qid = send(inst, [("team@acme.test", " NOTIFY=SUCCESS")], login=False)
    wait_until(lambda: maildir_messages(inst, "bob@acme.test"))
    [msg] = wait_notices(inst, SENDER, 1)
    dsn = Dsn(msg)
    assert dsn.final_recipients() == ["team@acme.test"]
    assert dsn.recipient("team@acme.test")["Action"] == "expanded"
    assert len(maildir_messages(inst, "bob@acme.test")) == 1
    wait_log(inst, rf"qid={qid} expanded notice sent")
    assert log_count(inst, rf"qid={qid} delivered notice") == 0


def test_single_forward_keeps_success_and_says_where(make_instance, sinks):
    """An alias to one remote address passes NOTIFY on, with the alias as
    the original recipient (ORCPT made from the address given)."""
    sink = sinks()
    sink.ehlo_extra = ["DSN"]
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"fwd@acme.test": ["far@example.org"]})
    send(inst, [("fwd@acme.test", " NOTIFY=SUCCESS")], login=False,
         sender="x@example.net")
    assert sink.wait_for(1)
    [rcpt] = sink.cmds("RCPT")
    assert rcpt == ("RCPT TO:<far@example.org> NOTIFY=SUCCESS "
                    "ORCPT=rfc822;fwd@acme.test"), rcpt
