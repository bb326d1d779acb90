"""The gated relay, part 2: the customer rules of SPEC section 1 for an
authorized client (sender affiliation, envelope and From:, null sender,
recipient and hourly caps, size), NAT, the audit trail (log lines and
Received:), what EHLO announces, port smtp2 = smtp, and the open-relay
tricks.

Clients are told apart by their source address: 127.0.0.2, .3, ...
"""
import pytest

from relay_helpers import (DENIED_TEXT, Smtp, denied_text, ehlo_keywords,
                           log_lines, log_size, maildir_new, message, pop3_login,
                           queue_ids, queued, read_maildir, relay_instance,
                           wait_log)

REMOTE = "bob@example.org"
SMTP_PORTS = ["smtp", "smtp2"]


def session(inst, source="127.0.0.2", port="smtp"):
    c = Smtp(inst.ports[port], source=source)
    c.ehlo()
    return c


def authorized(make_instance, config=None, login="ann@acme.test",
               source="127.0.0.2"):
    inst = relay_instance(make_instance, config=config)
    pop3_login(inst, login, source=source)
    return inst


def ok(replies):
    assert replies[-1].text.startswith("250 2.0.0 Ok: queued as"), replies
    return replies


# ---- sender affiliation ----

@pytest.mark.parametrize("port", SMTP_PORTS)
def test_envelope_sender_not_affiliated(make_instance, port):
    inst = authorized(make_instance)
    since = log_size(inst)
    with session(inst, port=port) as c:
        for sender, why in [
                ("eve@other.test", "its domain is not hosted here"),
                ("dave@beta.test", "its domain belongs to another customer"),
                ("gina@gamma.test", "its domain belongs to another customer")]:
            r = c.send_mail(sender, [REMOTE])
            # smtp listener: accepted at MAIL, refused at the first RCPT
            # that would relay.
            assert r[0].text == "250 2.1.0 Sender ok", r
            assert r[1].text == (f"553 5.7.1 <{sender}>: Sender address "
                                 f"rejected: not an address of your "
                                 f"account"), r
            line = wait_log(inst, f"from=<{sender}> to=<{REMOTE}> "
                            f"rule=sender", since)
            assert why in line
        # Every domain of the customer is good (sender_policy = domain),
        # also addresses without a mailbox, in any case.
        for sender in ["ann@acme.test", "carl@acme2.test",
                       "nobody@acme.test", "Ann@ACME.test"]:
            ok(c.send_mail(sender, [REMOTE],
                           body=message("ann@acme.test", REMOTE)))
    assert len(queue_ids(inst)) == 4


def test_foreign_sender_to_hosted_mailbox_is_inbound(make_instance):
    """SPEC 1: a foreign sender writing to a hosted mailbox is ordinary
    inbound mail, even from an authorized address; and the From: rule is
    only for relayed messages."""
    inst = authorized(make_instance)
    with session(inst) as c:
        ok(c.send_mail("eve@other.test", ["dave@beta.test"],
                       body=message("eve@other.test", "dave@beta.test")))
        # In one transaction the relaying RCPT is refused, the local one
        # not.
        assert c.cmd("MAIL FROM:<eve@other.test>").code == 250
        assert c.cmd("RCPT TO:<ann@acme.test>").code == 250
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.text.startswith("553 5.7.1"), r
        ok([c.data(message("eve@other.test", "ann@acme.test"))])
    assert queue_ids(inst) == []
    assert len(maildir_new(inst, "dave@beta.test")) == 1
    assert len(maildir_new(inst, "ann@acme.test")) == 1


def test_sender_policy_address(make_instance):
    inst = authorized(make_instance, config={"sender_policy": "address"})
    with session(inst) as c:
        for sender in ["ann@acme.test", "carl@acme2.test", "sales@acme.test"]:
            ok(c.send_mail(sender, [REMOTE], body=message(sender, REMOTE)))
        r = c.send_mail("nobody@acme.test", [REMOTE])
        assert r[1].text.startswith("553 5.7.1"), r
        # The From: header too.
        r = c.send_mail("ann@acme.test", [REMOTE], body=message(
            "ann@acme.test", REMOTE, from_header="<nobody@acme.test>"))
        assert r[-1].text.startswith("550 5.7.1"), r
    assert len(queue_ids(inst)) == 3


def test_null_sender_may_not_relay(make_instance):
    inst = authorized(make_instance)
    since = log_size(inst)
    with session(inst) as c:
        r = c.send_mail("", [REMOTE])
        assert r[1].text == ("550 5.7.1 Relaying denied: the null sender "
                             "<> may not relay"), r
        # The null sender to a hosted mailbox (a bounce) is fine.
        ok(c.send_mail("", ["ann@acme.test"],
                       body="Subject: bounce\r\n\r\nx\r\n"))
    assert "rule=null-sender" in wait_log(inst, r"from=<> to=<bob@", since)
    assert queue_ids(inst) == []


# ---- the From: header ----

GOOD_FROM = [
    "ann@acme.test",
    "Ann Example <ann@acme.test>",
    "(a comment) ann@acme.test (another)",
    '"Ann, the Boss" <ann@acme.test>',
    '"eve@other.test" <ann@acme.test>',
    "=?UTF-8?B?w4RubmU=?= <ann@acme.test>",
    "team: ann@acme.test, Bob <bob@acme.test>;",
    "ann@acme.test, carl@acme2.test",
    "ANN@ACME.TEST",
    "Ann\r\n <ann@acme.test>",
]

BAD_FROM = [
    "eve@other.test",
    "Eve <eve@other.test>",
    "Ann <ann@acme.test>, Eve <eve@other.test>",
    'Ann <ann@acme.test>, "Eve, bad" <eve@other.test>',
    '"ann@acme.test" <eve@other.test>',
    "team: eve@other.test;",
    "ann@acme.test,\r\n eve@other.test",
    "<eve@OTHER.test>",
    "dave@beta.test",
    "Gina <gina@gamma.test>",
    "eve@[192.0.2.1]",
]


def test_header_from_affiliated(make_instance):
    inst = authorized(make_instance)
    for from_header in GOOD_FROM:
        with session(inst) as c:
            r = c.send_mail("ann@acme.test", [REMOTE], body=message(
                "ann@acme.test", REMOTE, from_header=from_header))
            assert r[-1].text.startswith("250 2.0.0 Ok: queued as"), \
                (from_header, r)
    assert len(queue_ids(inst)) == len(GOOD_FROM)


def test_header_from_not_affiliated(make_instance):
    inst = authorized(make_instance)
    for from_header in BAD_FROM:
        since = log_size(inst)
        with session(inst) as c:
            r = c.send_mail("ann@acme.test", [REMOTE], body=message(
                "ann@acme.test", REMOTE, from_header=from_header))
            assert [x.code for x in r] == [250, 250, 550], (from_header, r)
            assert r[-1].text.startswith("550 5.7.1 Message refused: "), \
                (from_header, r)
            assert c.cmd("NOOP").code == 250
        line = wait_log(inst, r"message-rejected", since)
        assert "rule=header-from" in line, (from_header, line)
    assert queue_ids(inst) == []


def test_header_from_every_field_and_spelling(make_instance):
    inst = authorized(make_instance)
    for headers in [
            "From: ann@acme.test\r\nFrom: eve@other.test\r\n",
            "FROM: eve@other.test\r\n",
            "from:eve@other.test\r\n",
            "Subject: x\r\nFrom: <ann@acme.test>,\r\n\t<eve@other.test>\r\n"]:
        with session(inst) as c:
            r = c.send_mail("ann@acme.test", [REMOTE],
                            body=headers + "Subject: t\r\n\r\nbody\r\n")
            assert r[-1].text.startswith("550 5.7.1"), (headers, r)
    assert queue_ids(inst) == []


def test_header_from_in_body_is_not_a_header(make_instance):
    inst = authorized(make_instance)
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", [REMOTE], body=(
            "From: ann@acme.test\r\nSubject: t\r\n\r\n"
            "From: eve@other.test\r\n")))


def test_header_from_refused_mixed_message_delivers_nothing(make_instance):
    inst = authorized(make_instance)
    with session(inst) as c:
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        assert c.cmd("RCPT TO:<bob@acme.test>").code == 250
        assert c.cmd(f"RCPT TO:<{REMOTE}>").code == 250
        r = c.data(message("ann@acme.test", REMOTE,
                           from_header="eve@other.test"))
        assert r.text.startswith("550 5.7.1"), r
    assert queue_ids(inst) == []
    assert maildir_new(inst, "bob@acme.test") == []


# ---- NAT: several customers on one address ----

def test_nat_each_customer_as_itself_and_charged(make_instance):
    inst = relay_instance(make_instance, config={
        "relay_max_messages_per_hour": "2"})
    pop3_login(inst, "ann@acme.test", source="127.0.0.5")
    pop3_login(inst, "dave@beta.test", source="127.0.0.5")
    since = log_size(inst)
    with session(inst, source="127.0.0.5") as c:
        ok(c.send_mail("ann@acme.test", [REMOTE]))
        ok(c.send_mail("bob@acme.test", [REMOTE]))
        # acme has used its two; beta has used none.
        ok(c.send_mail("dave@beta.test", [REMOTE]))
        r = c.send_mail("ann@acme.test", [REMOTE])
        assert r[1].text.startswith("450 4.7.1"), r
        ok(c.send_mail("dave@beta.test", [REMOTE]))
        r = c.send_mail("dave@beta.test", [REMOTE])
        assert r[1].text.startswith("450 4.7.1"), r
        # A sender of neither customer: refused, whoever logged in.
        for sender in ["gina@gamma.test", "eve@other.test"]:
            r = c.send_mail(sender, [REMOTE])
            assert r[1].text.startswith("553 5.7.1"), r
        # From: must belong to the customer the envelope picked.
        r = c.send_mail("dave@beta.test", ["x@example.org"], body=message(
            "dave@beta.test", "x@example.org", from_header="ann@acme.test"))
        assert r[1].text.startswith("450 4.7.1"), r
    relayed = log_lines(inst, since, r"smtp relayed to=")
    assert len(relayed) == 4
    for line in relayed:
        if "from=<dave@beta.test>" in line:
            assert "customer=beta mailbox=dave@beta.test" in line, line
        else:
            assert "customer=acme mailbox=ann@acme.test" in line, line
    assert len(queue_ids(inst)) == 4


def test_nat_from_header_of_the_other_customer(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.5")
    pop3_login(inst, "dave@beta.test", source="127.0.0.5")
    with session(inst, source="127.0.0.5") as c:
        r = c.send_mail("dave@beta.test", [REMOTE], body=message(
            "dave@beta.test", REMOTE, from_header="ann@acme.test"))
        assert r[-1].text.startswith("550 5.7.1"), r
        ok(c.send_mail("dave@beta.test", [REMOTE]))
    assert len(queue_ids(inst)) == 1


# ---- recipients per message ----

@pytest.mark.parametrize("port", SMTP_PORTS)
def test_recipient_cap(make_instance, port):
    inst = authorized(make_instance, config={"relay_max_recipients": "3"})
    since = log_size(inst)
    with session(inst, port=port) as c:
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        for i in range(3):
            assert c.cmd(f"RCPT TO:<r{i}@example.org>").code == 250
        # Local recipients are not relayed and do not count.
        assert c.cmd("RCPT TO:<bob@acme.test>").code == 250
        r = c.cmd("RCPT TO:<r3@example.org>")
        assert r.text == ("452 4.5.3 Too many recipients for one relayed "
                          "message (at most 3)"), r
        r = c.cmd("RCPT TO:<r4@example.org>")
        assert r.code == 452, r
        ok([c.data(message("ann@acme.test", "r0@example.org"))])
    assert "rule=recipients" in wait_log(inst, r"to=<r3@example\.org>",
                                         since)
    (q,) = queued(inst)
    assert sorted(q.rcpts) == ["r0@example.org", "r1@example.org",
                               "r2@example.org"]
    assert len(maildir_new(inst, "bob@acme.test")) == 1


# ---- hourly caps ----

def test_hourly_message_cap(make_instance):
    inst = authorized(make_instance, config={
        "relay_max_messages_per_hour": "2"})
    since = log_size(inst)
    with session(inst) as c:
        # Not counted: a transaction given up after RCPT, a message
        # refused at the end of DATA, local mail.
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        assert c.cmd(f"RCPT TO:<{REMOTE}>").code == 250
        assert c.cmd("RSET").code == 250
        r = c.send_mail("ann@acme.test", [REMOTE], body=message(
            "ann@acme.test", REMOTE, from_header="eve@other.test"))
        assert r[-1].code == 550, r
        for _ in range(3):
            ok(c.send_mail("ann@acme.test", ["bob@acme.test"]))
        ok(c.send_mail("ann@acme.test", [REMOTE]))
        ok(c.send_mail("ann@acme.test", [REMOTE, "x@example.org"]))
        r = c.send_mail("ann@acme.test", [REMOTE])
        assert r[1].text == ("450 4.7.1 Hourly message limit reached (2 "
                             "per hour), try again later"), r
        # Mail to hosted mailboxes still goes.
        ok(c.send_mail("ann@acme.test", ["bob@acme.test"]))
    assert "rule=hourly-messages" in wait_log(inst, r"rcpt-rejected .*"
                                              r"rule=hourly", since)
    assert len(queue_ids(inst)) == 2
    # Other customers have their own counters.
    pop3_login(inst, "dave@beta.test", source="127.0.0.3")
    with session(inst, source="127.0.0.3") as c:
        ok(c.send_mail("dave@beta.test", [REMOTE]))
    p = inst.cli("relay", "explain", "127.0.0.2", "ann@acme.test", REMOTE,
                 check=True)
    assert "refused by rule hourly-messages: 450 4.7.1" in p.stdout


def test_hourly_recipient_cap(make_instance):
    inst = authorized(make_instance, config={
        "relay_max_recipients_per_hour": "3"})
    since = log_size(inst)
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", ["a@example.org", "b@example.org"]))
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        assert c.cmd("RCPT TO:<c@example.org>").code == 250
        r = c.cmd("RCPT TO:<d@example.org>")
        assert r.text == ("450 4.7.1 Hourly recipient limit reached (3 per "
                          "hour), try again later"), r
        ok([c.data(message("ann@acme.test", "c@example.org"))])
        r = c.send_mail("ann@acme.test", ["e@example.org"])
        assert r[1].code == 450, r
    assert log_lines(inst, since, r"to=<d@example\.org> "
                     r"rule=hourly-recipients")
    assert sorted(sum((q.rcpts for q in queued(inst)), [])) == \
        ["a@example.org", "b@example.org", "c@example.org"]


# ---- size ----

SIZES = {"relay_max_message_size": "4K", "max_message_size": "64K"}


def big_body(sender, rcpt, n=6000):
    line = "x" * 70 + "\r\n"
    return message(sender, rcpt, body=line * (n // len(line) + 1))


@pytest.mark.parametrize("port", SMTP_PORTS)
def test_relay_size_cap_from_mail_size(make_instance, port):
    inst = authorized(make_instance, config=SIZES)
    since = log_size(inst)
    with session(inst, port=port) as c:
        assert c.cmd("MAIL FROM:<ann@acme.test> SIZE=5000").code == 250
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.text == ("552 5.3.4 Message too large to relay (at most "
                          "4096 octets)"), r
        # The same message may go to a hosted mailbox.
        assert c.cmd("RCPT TO:<bob@acme.test>").code == 250
        ok([c.data(big_body("ann@acme.test", "bob@acme.test", 4900))])
        ok(c.send_mail("ann@acme.test", [REMOTE], size=4000))
    assert "rule=size" in wait_log(inst, r"rcpt-rejected .*to=<bob@example",
                                   since)
    assert len(queue_ids(inst)) == 1
    assert len(maildir_new(inst, "bob@acme.test")) == 1


def test_relay_size_cap_during_data(make_instance):
    inst = authorized(make_instance, config=SIZES)
    with session(inst) as c:
        r = c.send_mail("ann@acme.test", [REMOTE],
                        body=big_body("ann@acme.test", REMOTE))
        assert r[-1].text.startswith("552 5.3.4"), r
        assert "4096" in r[-1].text
        assert c.cmd("NOOP").code == 250
        # Bigger than the relay limit, under the inbound one: a hosted
        # mailbox takes it.
        ok(c.send_mail("ann@acme.test", ["bob@acme.test"],
                       body=big_body("ann@acme.test", "bob@acme.test")))
        # A message to both is a relayed message: the relay limit.
        r = c.send_mail("ann@acme.test", ["dave@beta.test", REMOTE],
                        body=big_body("ann@acme.test", REMOTE))
        assert r[-1].text.startswith("552 5.3.4"), r
        # Over the inbound limit even locally.
        r = c.send_mail("ann@acme.test", ["bob@acme.test"],
                        body=big_body("ann@acme.test", "bob@acme.test",
                                      70000))
        assert r[-1].text.startswith("552 5.3.4"), r
    assert queue_ids(inst) == []
    assert len(maildir_new(inst, "bob@acme.test")) == 1
    assert maildir_new(inst, "dave@beta.test") == []


def test_relay_size_cap_with_bdat(make_instance):
    inst = authorized(make_instance, config=SIZES)
    data = big_body("ann@acme.test", REMOTE).encode()
    with session(inst) as c:
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        assert c.cmd(f"RCPT TO:<{REMOTE}>").code == 250
        c.send(f"BDAT {len(data)} LAST\r\n".encode() + data)
        r = c.reply()
        assert r.text.startswith("552 5.3.4"), r
    assert queue_ids(inst) == []


# ---- what EHLO announces ----

def test_ehlo_limits_for_relaying_and_other_sessions(make_instance):
    inst = authorized(make_instance, config=dict(
        SIZES, relay_max_recipients="7", max_recipients="100"))
    for port in SMTP_PORTS:
        with Smtp(inst.ports[port], source="127.0.0.2") as c:
            kw = ehlo_keywords(c.ehlo())
            assert kw["SIZE"] == "4096" and kw["LIMITS"] == "RCPTMAX=7", kw
        with Smtp(inst.ports[port], source="127.0.0.3") as c:
            kw = ehlo_keywords(c.ehlo())
            assert kw["SIZE"] == "65536", kw
            assert kw["LIMITS"] == "RCPTMAX=100", kw
    with Smtp(inst.ports["submission"], source="127.0.0.3") as c:
        kw = ehlo_keywords(c.ehlo())
        assert kw["SIZE"] == "4096" and kw["LIMITS"] == "RCPTMAX=7", kw
    with Smtp(inst.ports["submissions"], source="127.0.0.3", tls=True) as c:
        kw = ehlo_keywords(c.ehlo())
        assert kw["SIZE"] == "4096" and kw["LIMITS"] == "RCPTMAX=7", kw


# ---- audit: log lines and Received: ----

def test_relayed_log_line_names_the_login(make_instance):
    inst = relay_instance(make_instance)
    pop3_login(inst, "carl@acme2.test", source="127.0.0.2", how="plain")
    since = log_size(inst)
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", [REMOTE, "x@example.org"]))
    (row,) = inst.cli_json("relay", "list")
    lines = log_lines(inst, since, r"smtp relayed to=")
    assert len(lines) == 2
    login = row["opened"].replace(" ", "T") + "Z"
    for line in lines:
        assert ('grant="pop-before-smtp key=127.0.0.2 customer=acme '
                f'mailbox=carl@acme2.test login={login} '
                'login-client=127.0.0.2 listener=pop3"') in line, line
        assert "from=<ann@acme.test>" in line and "client=127.0.0.2" in line


@pytest.mark.parametrize("setting,expected", [
    (None, "(authenticated: carl@acme2.test)"),
    ("mailbox", "(authenticated: carl@acme2.test)"),
    ("customer", "(authenticated: customer acme)"),
    ("none", None),
])
def test_received_header_of_relayed_mail(make_instance, setting, expected):
    cfg = {"received_auth": setting} if setting else {}
    inst = relay_instance(make_instance, config=cfg)
    pop3_login(inst, "carl@acme2.test", source="127.0.0.2")
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", [REMOTE]))
    (q,) = queued(inst)
    rec = q.received()
    assert rec.startswith("Received: from client.test (unknown "
                          "[127.0.0.2])\n"), rec
    if expected is None:
        assert "authenticated" not in rec, rec
    else:
        assert f"\n\t{expected}\n" in rec, rec
    # The client address appears once, in the from clause: not in the
    # authentication note (no IP of the POP3 login).
    assert rec.count("127.0.0.2") == 1, rec
    assert q.message.count(b"Received: ") == 1


def test_local_mail_from_authorized_client_has_no_auth_note(make_instance):
    inst = authorized(make_instance)
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", ["bob@acme.test"]))
    (msg,) = read_maildir(inst, "bob@acme.test")
    assert b"authenticated" not in msg


# ---- the open-relay tricks ----

TRICKS = [
    "user%elsewhere.test@acme.test",
    "elsewhere.test!user@acme.test",
    "@acme.test:user@elsewhere.test",
    '"user@elsewhere.test"@acme.test',
    "user@elsewhere.test.",
    "user@[127.0.0.1]",
    "user@elsewhere.test@acme.test",
    "ann%elsewhere.test@acme.test",
    "elsewhere.test!ann@acme.test",
    '"ann@elsewhere.test"@acme.test',
    "@elsewhere.test:ann@acme.test.",
    "user@elsewhere.test%acme.test",
]


@pytest.mark.parametrize("port", SMTP_PORTS)
def test_open_relay_tricks_refused(make_instance, port):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    for rcpt in TRICKS:
        with Smtp(inst.ports[port], source="127.0.0.3") as c:
            c.ehlo()
            assert c.cmd("MAIL FROM:<someone@elsewhere.test>").code == 250
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code in (501, 550, 553, 554), (rcpt, r)
            assert r.text[4:6] == "5.", (rcpt, r)
            r = c.cmd("DATA")
            assert r.code == 503, (rcpt, r)
            assert c.cmd("NOOP").code == 250
        assert queue_ids(inst) == [], rcpt
    assert not log_lines(inst, since, r"smtp (relayed|delivered|forwarded)")


def test_open_relay_tricks_refused_for_authorized_client(make_instance):
    """An authorized client may relay, but these hosted-domain forms must
    still not become mail to elsewhere.test."""
    inst = authorized(make_instance)
    for rcpt in ["user%elsewhere.test@acme.test",
                 "elsewhere.test!user@acme.test",
                 '"user@elsewhere.test"@acme.test',
                 "user@elsewhere.test@acme.test",
                 "user@elsewhere.test."]:
        with session(inst) as c:
            assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code >= 500, (rcpt, r)
    assert queue_ids(inst) == []


def test_mixed_case_hosted_domain_stays_local(make_instance):
    inst = relay_instance(make_instance)
    since = log_size(inst)
    rcpts = ["ann@ACME.Test", "ANN@acme.test", "Ann@Acme.TEST",
             "sales@ACME.TEST"]
    for rcpt in rcpts:
        with Smtp(inst.ports["smtp"], source="127.0.0.3") as c:
            c.ehlo()
            ok(c.send_mail("someone@elsewhere.test", [rcpt]))
    assert queue_ids(inst) == []
    assert len(maildir_new(inst, "ann@acme.test")) == len(rcpts)
    assert len(log_lines(inst, since,
                         r"smtp delivered to=<ann@acme\.test>")) == \
        len(rcpts)
    assert not log_lines(inst, since, r"smtp relayed")


def test_unauthorized_reply_text(make_instance):
    inst = relay_instance(make_instance)
    with Smtp(inst.ports["smtp2"], source="127.0.0.3") as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        r = c.cmd("RCPT TO:<user@[127.0.0.1]>")
        assert r.text == f"554 5.7.1 <user@[127.0.0.1]>: {denied_text(inst)}"


def refusal_at_rcpt(inst):
    with Smtp(inst.ports["in"], source="127.0.0.3") as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<ann@acme.test>").code == 250
        return c.cmd("RCPT TO:<user@[127.0.0.1]>").text


def test_unauthorized_reply_names_the_configured_submission_port(
        make_instance):
    # Issue 17: the refusal said "port 587" whatever the configuration.
    inst = relay_instance(make_instance, listeners={
        "in": "smtp", "sub": "submission", "subs": "submissions",
        "gate": "smtp gate=connect"})
    port = inst.ports["sub"]
    text = refusal_at_rcpt(inst)
    assert text.startswith("554 5.7.1 <user@[127.0.0.1]>: "), text
    assert text.endswith(f"or use SMTP AUTH on port {port}"), text
    p = inst.cli("relay", "explain", "127.0.0.3", "ann@acme.test",
                 "user@[127.0.0.1]", check=True)
    assert f"SMTP AUTH on port {port}" in p.stdout, p.stdout
    with Smtp(inst.ports["gate"], source="127.0.0.3", greet=False) as c:
        r = c.reply()
    assert r.text.startswith("554 5.7.1 "), r
    assert r.text.endswith(f"or use SMTP AUTH on port {port}"), r


def test_unauthorized_reply_names_every_submission_port(make_instance):
    inst = relay_instance(make_instance, listeners={
        "in": "smtp", "sub": "submission", "sub2": "submission"})
    text = refusal_at_rcpt(inst)
    assert text.endswith(f"SMTP AUTH on ports {inst.ports['sub']} or "
                         f"{inst.ports['sub2']}"), text


def test_unauthorized_reply_without_submission_listener(make_instance):
    inst = relay_instance(make_instance, listeners={"in": "smtp"})
    text = refusal_at_rcpt(inst)
    assert text.endswith("or use SMTP AUTH on the submission port"), text


# ---- aliases forwarding out: the system relays on its own behalf ----

def test_alias_forwarding_to_external_address(make_instance):
    inst = relay_instance(make_instance, config={
        "relay_max_messages_per_hour": "1",
        "relay_max_message_size": "4K", "max_message_size": "64K"},
        start=False)
    inst.cli("alias", "add", "fwd@acme.test", "someone@example.org",
             check=True)
    inst.start()
    since = log_size(inst)
    # From an address that never logged in, any sender, even <>.
    with session(inst, source="127.0.0.3") as c:
        ok(c.send_mail("x@elsewhere.test", ["fwd@acme.test"]))
        ok(c.send_mail("", ["fwd@acme.test"],
                       body="Subject: bounce\r\n\r\nx\r\n"))
        ok(c.send_mail("x@elsewhere.test", ["fwd@acme.test"],
                       body=big_body("x@elsewhere.test", "fwd@acme.test")))
    lines = log_lines(inst, since, r"smtp forwarded to=<someone@example\.org>")
    assert len(lines) == 3 and not log_lines(inst, since, r"smtp relayed")
    qs = queued(inst)
    assert [q.rcpts for q in qs] == [["someone@example.org"]] * 3
    assert all(b"authenticated" not in q.message for q in qs)
    # Not charged to the customer's hourly caps.
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", [REMOTE]))


# ---- size boundaries, duplicates ----

def test_relay_size_boundaries(make_instance):
    inst = authorized(make_instance, config=SIZES)

    def body_of(n, dot=False):
        hdr = "From: ann@acme.test\r\n\r\n"
        lines = ("a" * 98 + "\r\n") * 40
        last = n - len(hdr) - len(lines) - 2
        text = hdr + lines + ("." + "a" * (last - 1) if dot else
                              "a" * last) + "\r\n"
        assert len(text) == n
        return text.replace("\r\n.", "\r\n..")      # dot-stuffed

    with session(inst) as c:
        r = c.send_mail("ann@acme.test", [REMOTE], size=4096)
        ok(r)
        r = c.send_mail("ann@acme.test", [REMOTE], size=4097)
        assert r[1].text.startswith("552 5.3.4"), r
        ok(c.send_mail("ann@acme.test", [REMOTE], body=body_of(4096)))
        # The size is that of the message, not of the dot-stuffed stream.
        ok(c.send_mail("ann@acme.test", [REMOTE],
                       body=body_of(4096, dot=True)))
        r = c.send_mail("ann@acme.test", [REMOTE], body=body_of(4097))
        assert r[-1].text.startswith("552 5.3.4"), r
    assert len(queue_ids(inst)) == 3


def test_duplicate_remote_recipient_queued_once(make_instance):
    inst = authorized(make_instance)
    with session(inst) as c:
        ok(c.send_mail("ann@acme.test", [REMOTE, REMOTE, "ann@acme.test",
                                         "ann@acme.test"]))
    (q,) = queued(inst)
    assert q.rcpts == [REMOTE], q.rcpts
    assert len(maildir_new(inst, "ann@acme.test")) == 1


# ---- port smtp2 behaves like smtp ----

def conversation(inst, port, source):
    """A scripted session; its replies with queue ids blanked."""
    out = []
    with Smtp(inst.ports[port], source=source) as c:
        out.append(c.greeting.text)
        ehlo = c.ehlo()
        out.append("\n".join(ehlo.raw[1:]))
        for sender, rcpts in [
                ("ann@acme.test", [REMOTE]),
                ("eve@other.test", ["ann@acme.test", REMOTE]),
                ("", [REMOTE]),
                ("dave@beta.test", [REMOTE]),
                ("ann@acme.test", ["nobody@acme.test"]),
                ("ann@acme.test", ["user%elsewhere.test@acme.test"])]:
            for r in c.send_mail(sender, rcpts):
                out.append(r.text.split(" queued as ")[0])
        out.append(c.cmd("QUIT").text)
    return out


def test_smtp2_identical_to_smtp(make_instance):
    inst = relay_instance(make_instance)
    before = {p: conversation(inst, p, "127.0.0.3") for p in SMTP_PORTS}
    assert before["smtp"] == before["smtp2"]
    pop3_login(inst, "ann@acme.test", source="127.0.0.3")
    after = {p: conversation(inst, p, "127.0.0.3") for p in SMTP_PORTS}
    assert after["smtp"] == after["smtp2"]
    assert after != before
    assert len(queue_ids(inst)) == 2
