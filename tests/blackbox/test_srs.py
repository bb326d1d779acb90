"""The Sender Rewriting Scheme (SPEC 10, popgate.conf(5) srs_*, popgate(8)
srs): mail an alias forwards outside leaves with an SRS0 envelope sender
at srs_domain (the hostname here) that `popgate srs decode` takes back;
a hosted sender, <> and the copies for hosted mailboxes keep theirs; a
bounce to the SRS address comes back and goes on to the original sender
(an SRS1 one to the first forwarder); forged, expired and non-bounce
mail to SRS addresses is refused at RCPT with its reason logged."""
import datetime
import re

import pytest

from delivery_helpers import (HOSTNAME, Smtp, dlv_instance, maildir_messages,
                              message, parse, sinks, wait_log,
                              wait_queue_empty, wait_until)

assert sinks  # the fixture

CAROL = "carol@outside.example"
SRS0 = re.compile(r"^SRS0=([A-Za-z0-9+/]{4})=([A-Z2-7]{2})=outside\.example="
                  rf"carol@{re.escape(HOSTNAME)}$")


def fwd_instance(make_instance, sinks, config=None, targets=None):
    """An instance whose alias fwd@acme.test forwards to bob@example.org
    (and TARGETS), with example.org, outside.example and other.example
    each routed to a sink of its own: (inst, {domain: sink})."""
    sk = {d: sinks() for d in ("example.org", "outside.example",
                               "other.example")}
    inst = dlv_instance(make_instance, config=config, routes=sk,
                        aliases={"fwd@acme.test": ["bob@example.org"] +
                                 (targets or [])})
    return inst, sk


def forward(inst, sink, sender=CAROL, n=1):
    """Sends a message from SENDER to fwd@acme.test; the envelope sender
    it reached the sink with."""
    with Smtp(inst.ports["smtp"]) as c:
        c.mail(sender, ["fwd@acme.test"], message(sender=sender or "x@y.z",
                                                  rcpt="fwd@acme.test"))
    assert sink.wait_for(n), inst.log()
    return sink.messages[n - 1].mail_from


def decode(inst, addr):
    p = inst.cli("srs", "decode", addr)
    return p.returncode, (p.stdout + p.stderr).strip()


def rcpt(inst, sender, addr):
    """The reply to RCPT TO:<ADDR> after MAIL FROM:<SENDER>."""
    with Smtp(inst.ports["smtp"]) as c:
        c.expect(f"MAIL FROM:<{sender}>", "250")
        return c.cmd(f"RCPT TO:<{addr}>")


def bounce(inst, addr, subject="bounce"):
    """A bounce (MAIL FROM:<>) to ADDR, accepted."""
    body = (f"From: MAILER-DAEMON@example.org\r\nTo: <{addr}>\r\n"
            f"Subject: {subject}\r\n\r\nUndelivered.\r\n").encode()
    with Smtp(inst.ports["smtp"]) as c:
        return c.mail("", [addr], body)


def test_forwarded_sender_is_rewritten_local_copy_keeps_it(make_instance,
                                                           sinks):
    inst, sk = fwd_instance(make_instance, sinks, targets=["ann@acme.test"])
    mail_from = forward(inst, sk["example.org"])
    assert SRS0.match(mail_from), mail_from
    assert sk["example.org"].messages[0].rcpts == ["bob@example.org"]
    # The day stamp is today's.
    day = (datetime.datetime.now(datetime.timezone.utc).timestamp() //
           86400) % 1024
    b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    stamp = SRS0.match(mail_from).group(2)
    assert b32.index(stamp[0]) * 32 + b32.index(stamp[1]) in (day, day - 1)
    assert decode(inst, mail_from) == (0, CAROL)
    # The hosted mailbox's copy keeps the original sender.
    [local] = wait_until(lambda: maildir_messages(inst, "ann@acme.test"))
    assert parse(local)["Return-Path"] == f"<{CAROL}>"
    q = rf"\"?<{re.escape(mail_from)}>\"?"
    wait_log(inst, rf"srs from=<{re.escape(CAROL)}> srs={q}$")
    wait_log(inst, rf"delivery to=<bob@example\.org> from=<{re.escape(CAROL)}>"
             rf" srs={q} .*status=sent")
    wait_queue_empty(inst)


def test_hosted_and_null_senders_are_not_rewritten(make_instance, sinks):
    inst, sk = fwd_instance(make_instance, sinks)
    # A hosted domain's SPF record includes us already.
    assert forward(inst, sk["example.org"], "ann@acme.test") == \
        "ann@acme.test"
    # A bounce forwarded stays a bounce.
    assert forward(inst, sk["example.org"], "", n=2) == ""
    wait_queue_empty(inst)


def test_srs_off_keeps_the_envelope_sender(make_instance, sinks):
    inst, sk = fwd_instance(make_instance, sinks, config={"srs": "no"})
    assert forward(inst, sk["example.org"]) == CAROL
    # Nothing is taken back: the address is just one of a domain not
    # hosted here.
    assert rcpt(inst, "", f"SRS0=abcd=AA=x.example=y@{HOSTNAME}") \
        .startswith("554 5.7.1 ")
    wait_queue_empty(inst)


def test_bounce_to_the_srs_address_goes_back_to_the_sender(make_instance,
                                                           sinks):
    inst, sk = fwd_instance(make_instance, sinks)
    addr = forward(inst, sk["example.org"])
    # Some servers change the case of a local part: the hash is checked
    # in any case.
    qid = bounce(inst, addr.lower().replace(HOSTNAME.lower(), HOSTNAME))
    assert sk["outside.example"].wait_for(1), inst.log()
    m = sk["outside.example"].messages[0]
    assert m.mail_from == "" and m.rcpts == [CAROL]
    assert parse(m.data)["Subject"] == "bounce"
    wait_log(inst, rf"qid={qid} smtp forwarded to=<{re.escape(CAROL)}> "
             r"from=<>")
    wait_queue_empty(inst)


def test_srs1_for_a_sender_from_another_forwarder(make_instance, sinks):
    """A sender that is an SRS0 address of another forwarder becomes SRS1
    of it; a bounce to that goes straight to the first forwarder."""
    inst, sk = fwd_instance(make_instance, sinks)
    theirs = "SRS0=AbCd=XY=orig.example=joe@other.example"
    ours = forward(inst, sk["example.org"], theirs)
    assert re.match(r"^SRS1=[A-Za-z0-9+/]{4}=other\.example==AbCd=XY="
                    rf"orig\.example=joe@{re.escape(HOSTNAME)}$", ours), ours
    assert decode(inst, ours) == (0, theirs)
    bounce(inst, ours)
    assert sk["other.example"].wait_for(1), inst.log()
    m = sk["other.example"].messages[0]
    assert m.mail_from == "" and m.rcpts == [theirs]
    wait_queue_empty(inst)


def test_forged_and_expired_addresses_are_refused(make_instance, sinks):
    inst, sk = fwd_instance(make_instance, sinks)
    good = forward(inst, sk["example.org"])
    h = SRS0.match(good).group(1)
    forged = good.replace(f"={h}=", "=" + ("AAAA" if h != "AAAA" else
                                            "BBBB") + "=", 1)
    r = rcpt(inst, "", forged)
    assert r == (f"550 5.1.1 <{forged}>: Invalid SRS address: this host "
                 "did not make it"), r
    wait_log(inst, rf"rcpt-rejected .*to=\"?<{re.escape(forged)}>\"? "
             r'rule=srs-forged why="bad hash')
    # Another user under the same hash: the hash covers it.
    r = rcpt(inst, "", good.replace("=carol@", "=admin@"))
    assert r.startswith("550 5.1.1 "), r
    # Made 30 days ago (`srs encode` takes the day), older than 21 days.
    day = (datetime.date.today() - datetime.timedelta(days=30)).isoformat()
    p = inst.cli("srs", "encode", CAROL, day, check=True)
    old = p.stdout.strip()
    assert SRS0.match(old), old
    r = rcpt(inst, "", old)
    assert r == (f"550 5.1.1 <{old}>: SRS address expired (made more than "
                 "21 days ago)"), r
    wait_log(inst, rf"rcpt-rejected .*to=\"?<{re.escape(old)}>\"? "
             r'rule=srs-expired why="expired"')
    assert decode(inst, old) == (1, f"popgate srs decode: <{old}>: expired")
    # 20 days old is still good.
    day = (datetime.date.today() - datetime.timedelta(days=20)).isoformat()
    young = inst.cli("srs", "encode", CAROL, day, check=True).stdout.strip()
    assert rcpt(inst, "", young).startswith("250 "), young
    # Malformed: not an address we would make.
    r = rcpt(inst, "", f"SRS0=abc=AA=x.example=y@{HOSTNAME}")
    assert r.startswith("550 5.1.1 ") and "Invalid SRS" in r, r
    wait_queue_empty(inst)


@pytest.mark.parametrize("bounces_only", ["yes", "no"])
def test_only_bounces_unless_told(make_instance, sinks, bounces_only):
    inst, sk = fwd_instance(make_instance, sinks,
                            config={"srs_bounces_only": bounces_only})
    addr = forward(inst, sk["example.org"])
    r = rcpt(inst, "someone@example.net", addr)
    if bounces_only == "yes":
        assert r == (f"550 5.7.1 <{addr}>: SRS addresses take only bounces "
                     "(MAIL FROM:<>)"), r
        wait_log(inst, r"rcpt-rejected .*rule=srs-not-bounce")
    else:
        assert r.startswith("250 "), r
    wait_queue_empty(inst)


def test_rotation_keeps_the_previous_secret(make_instance, sinks):
    """`srs rotate` while the daemon runs: new mail is signed with the new
    secret at once, and bounces to addresses made with the old one still
    come back (the store is read at each use)."""
    inst, sk = fwd_instance(make_instance, sinks)
    before = forward(inst, sk["example.org"])
    inst.cli("srs", "rotate", check=True)
    after = forward(inst, sk["example.org"], n=2)
    assert SRS0.match(after) and after != before
    assert rcpt(inst, "", before).startswith("250 ")
    assert rcpt(inst, "", after).startswith("250 ")
    inst.cli("srs", "rotate", check=True)
    r = rcpt(inst, "", before)
    assert r.startswith("550 5.1.1 ") and "Invalid SRS" in r, r
    assert rcpt(inst, "", after).startswith("250 ")
    wait_queue_empty(inst)


def test_our_own_bounce_goes_to_the_original_sender(make_instance, sinks):
    """When the forward fails for good here, the bounce goes to the
    original sender, not to the SRS address it left with."""
    inst, sk = fwd_instance(make_instance, sinks)
    sk["example.org"].rcpt_reply = lambda a: "550 5.1.1 no such user"
    with Smtp(inst.ports["smtp"]) as c:
        qid = c.mail(CAROL, ["fwd@acme.test"],
                     message(sender=CAROL, rcpt="fwd@acme.test"))
    assert sk["outside.example"].wait_for(1), inst.log()
    m = sk["outside.example"].messages[0]
    assert m.mail_from == "" and m.rcpts == [CAROL]
    assert b"no such user" in m.data
    [mail] = sk["example.org"].cmds("MAIL")
    assert SRS0.match(mail.split("<")[1].split(">")[0]), mail
    wait_log(inst, rf"qid={qid} bounce notice sent to=<{re.escape(CAROL)}>")
    wait_queue_empty(inst)


def test_trusted_network_relaying_a_foreign_sender(make_instance, sinks):
    """A trusted network relaying mail of a foreign sender has it
    rewritten too (it would fail SPF as much); a customer's own relayed
    mail (a hosted sender) is not."""
    inst, sk = fwd_instance(make_instance, sinks,
                            config={"trusted_networks": "127.0.0.5/32"})
    with Smtp(inst.ports["smtp"], source="127.0.0.5") as c:
        c.mail(CAROL, ["bob@example.org"], message(sender=CAROL))
        c.mail("ann@acme.test", ["bob@example.org"], message())
    assert sk["example.org"].wait_for(2), inst.log()
    froms = sorted(m.mail_from for m in sk["example.org"].messages)
    assert froms[1] == "ann@acme.test", froms
    assert SRS0.match(froms[0]), froms
    wait_queue_empty(inst)


def test_too_long_for_srs_goes_as_it_is(make_instance, sinks):
    """A sender whose SRS0 local part would pass RFC 5321's 64 octets
    keeps its address, and the log says why."""
    inst, sk = fwd_instance(make_instance, sinks)
    long_sender = "a" * 40 + "@outside.example"     # 13 + 16 + 1 + 40 > 64
    assert forward(inst, sk["example.org"], long_sender) == long_sender
    wait_log(inst, rf"srs not-rewritten from=<{long_sender}> "
             r'reason="too long"')
    wait_queue_empty(inst)
