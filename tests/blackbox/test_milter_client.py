"""popgate as a milter client (issue 16, SPEC 11), driven by a filter
scripted in Python (milter_proto.ScriptedMilter, a thread of this
process): what popgate sends a filter and when, and what every reply
and modification of a filter does to the SMTP session and to the mail
delivered. The hostile filters are in test_milter_hostile.py, the real
ones in test_milter_real.py.

Every SMTP session says its own EHLO name, and the test finds the
filter's session by it (m.session(helo=...)), so a session of an
earlier test never confuses a later one.
"""
import os
import re
import tempfile

import pytest

from milter_helpers import (
    ACCEPT, ALL_ACTIONS, DISCARD, P, REJECT, SKIP, TEMPFAIL, Hang, auth,
    first_only, session,
    Progress, ScriptedMilter, add_header, add_rcpt, assert_reply,
    body_of, change_from, change_header, del_rcpt, delivered_with,
    finish, header_fields, insert_header, milter_instance,
    not_delivered, quarantine, queue_json, replace_body, replycode, send,
    tagged_message)
from harness import run_popgate
from relay_helpers import pop3_login

SENDER = "someone@example.org"
ANN, BOB, CAROL = "ann@acme.test", "bob@acme.test", "carol@acme.test"
COMMAND_TIMEOUT = 2     # seconds: milter_command_timeout of `mx`


@pytest.fixture(scope="module")
def filt():
    m = ScriptedMilter().start()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def mx(tls_files, filt):
    inst = milter_instance(tls_files, [("scripted", filt)], config={
        "milter_command_timeout": f"{COMMAND_TIMEOUT}s"})
    yield inst
    finish(inst)


@pytest.fixture
def m(filt):
    filt.reset()
    filt.actions, filt.protocol = ALL_ACTIONS, 0
    return filt


def shape(letters):
    """The command letters as a string, runs of L and B as one."""
    return re.sub(r"([LB])\1+", r"\1", "".join(letters))


# ---- what popgate sends, and when ----

def test_the_conversation_in_order(mx, m):
    msg = tagged_message("conv", extra_headers="X-Two: a\r\n\tfolded\r\n",
                         body="line one\r\n.a dotted line\r\n")
    with session(mx, "conv.test") as c:
        client_port = c.sock.getsockname()[1]
        o = send(c, SENDER, [ANN, "nobody@acme.test", BOB], msg,
                 mail_args=" SIZE=400 BODY=8BITMIME")
        assert_reply(o.mail, "250 2.1.0")
        assert [r.code for r in o.rcpts][::2] == [250, 250], o
        assert o.rcpts[1].code >= 500, o
        qid = o.qid
        c.quit()
    s = m.session(helo="conv.test").wait_end()
    assert re.fullmatch(r"OCHMRRTLNB+EA?Q?", shape(s.letters())), \
        s.letters()
    assert s.optneg[0] == 6, s.optneg
    assert s.client == ("[127.0.0.1]", "4", client_port, "127.0.0.1")
    assert s.helo == "conv.test"
    assert s.sender[0] == f"<{SENDER}>"
    assert "SIZE=400" in s.sender[1:] and "BODY=8BITMIME" in s.sender[1:]
    # The refused recipient is not sent.
    assert s.rcpts == [[f"<{ANN}>"], [f"<{BOB}>"]]
    # popgate's own Received: first, then the message's fields in order.
    names = [n for n, _ in s.headers]
    assert names == ["Received", "From", "To", "Subject", "Message-ID",
                     "Date", "X-Two"], s.headers
    assert "\tfolded" in s.headers[-1][1]
    assert s.body == b"line one\r\n.a dotted line\r\n"
    # The macros.
    assert s.macro("j") == "mail.test.example"
    assert s.macro("_") and "127.0.0.1" in s.macro("_")
    assert s.macro("{daemon_name}")
    assert s.macro("{if_addr}") == "127.0.0.1"
    assert s.macro("{client_addr}") == "127.0.0.1"
    assert s.macro("{client_port}") == str(client_port)
    assert s.macro("{client_name}") in ("[127.0.0.1]", "unknown")
    assert s.macros["M"]["{mail_addr}"] == SENDER
    assert [v.get("{rcpt_addr}") for l, v in s.macro_log if l == "R"] == \
        [ANN, BOB]
    assert s.macro("i") == qid
    assert s.macro("{auth_authen}") is None
    # Delivered to both, once each.
    delivered_with(mx, ANN, "conv")
    delivered_with(mx, BOB, "conv")
    # SMTP QUIT is QUIT to the filter (last: it says least).
    assert s.letters()[-1] == "Q" and s.ended == "quit", s.letters()


def test_a_large_body_in_chunks(mx, m):
    body = "".join(f"{i:07d} " + "x" * 70 + "\r\n" for i in range(3000))
    with session(mx, "large.test") as c:
        assert_reply(send(c, SENDER, [ANN],
                          tagged_message("large", body=body)).end,
                     "250 2.0.0")
        c.quit()
    s = m.session(helo="large.test").wait_for("E")
    chunks = [d for cmd, d in list(s.commands) if cmd == "B"]
    assert len(chunks) >= 4 and all(len(d) <= 65535 for d in chunks), \
        [len(d) for d in chunks]
    assert s.body == body.encode()
    assert body_of(delivered_with(mx, ANN, "Subject: large")) == \
        body.replace("\r\n", "\n").encode()


def test_a_connection_per_session_opened_at_the_first_mail(mx, m):
    with session(mx, "idle.test") as c:
        assert c.alive()
        c.quit()
    with session(mx, "two.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("two-a")).end,
                     "250 2.0.0")
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        c.expect(f"RCPT TO:<{ANN}>", "250 2.1.5")
        c.expect("RSET", "250 2.0.0")
        assert_reply(send(c, SENDER, [BOB], tagged_message("two-b")).end,
                     "250 2.0.0")
        c.quit()
    s = m.session(helo="two.test").wait_end()
    # The session without MAIL opened no connection to the filter.
    assert [x.helo for x in m.sessions] == ["two.test"]
    assert re.fullmatch(r"OCHMRTLNB+EA?MRAMRTLNB+EA?Q?",
                        shape(s.letters())), s.letters()
    assert s.messages == 2 and s.aborts >= 1


def test_two_sessions_two_connections(mx, m):
    with session(mx, "one.test") as c1, session(mx, "other.test") as c2:
        c1.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        c2.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        s1, s2 = m.session(helo="one.test"), m.session(helo="other.test")
        assert s1 is not s2
        c1.quit()
        s1.wait_end()
        assert s2.ended is None
        c2.quit()
        s2.wait_end()


@pytest.mark.parametrize("reject_data", [False, True])
def test_bdat_sends_data_at_the_first_chunk(mx, m, reject_data):
    tag = f"bdat-{reject_data}"
    msg = tagged_message(tag, body="line one\r\n.a dotted line\r\n")
    if reject_data:
        m.on["T"] = lambda s, a: [REJECT]
    with session(mx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN], msg, bdat=[20, 40])
        if reject_data:
            # The first BDAT is the DATA command the filter answers.
            assert_reply(o.end, "550 5.7.1")
        else:
            assert_reply(o.end, "250 2.0.0")
        c.quit()
    s = m.session(helo=f"{tag}.test").wait_end()
    if reject_data:
        assert "L" not in s.letters()
        not_delivered(mx, tag)
        return
    assert re.fullmatch(r"OCHMRTLNB+EA?Q?", shape(s.letters())), s.letters()
    assert s.body == b"line one\r\n.a dotted line\r\n"
    delivered_with(mx, ANN, tag)


def test_quit_before_the_end_is_quit_to_the_filter(mx, m):
    with session(mx, "quitmid.test") as c:
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        c.expect(f"RCPT TO:<{ANN}>", "250 2.1.5")
        c.quit()
    s = m.session(helo="quitmid.test").wait_for("Q")
    assert "E" not in s.letters()


def test_negotiated_steps_and_no_reply_flags(mx, m):
    """The filter asks for no HELO and no RCPT, gives no reply to
    headers, and wants the header values with their leading space."""
    m.protocol = P["NOHELO"] | P["NORCPT"] | P["NR_HDR"] | P["HDR_LEADSPC"]
    m.on["E"] = lambda s, a: [add_header("X-Negotiated", "yes"), ACCEPT]
    with session(mx, "nego.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("nego")).end,
                     "250 2.0.0")
        c.quit()
    s = m.wait_sessions(1)[0].wait_end()
    assert re.fullmatch(r"OCMTLNB+EA?Q?", shape(s.letters())), s.letters()
    assert s.optneg[2] & P["NR_HDR"], "NR_HDR not offered"
    subject = dict(s.headers)["Subject"]
    assert subject == " nego", s.headers
    msg = delivered_with(mx, ANN, "nego")
    assert ("X-Negotiated", "yes") in header_fields(msg)
    # The leading space is not doubled in the delivered copy.
    assert b"\nSubject: nego\n" in msg


def test_skip_ends_the_body_early(mx, m):
    m.protocol = P["SKIP"]
    body = "".join(f"line {i:06d} of a long body\r\n"
                   for i in range(8000))          # 3 BODY packets
    m.on["B"] = lambda s, a: [SKIP]
    with session(mx, "skip.test") as c:
        assert_reply(send(c, SENDER, [ANN],
                          tagged_message("skip", body=body)).end,
                     "250 2.0.0")
        c.quit()
    s = m.session(helo="skip.test").wait_end()
    assert s.letters().count("B") == 1, s.letters()
    assert "E" in s.letters()
    assert body_of(delivered_with(mx, ANN, "Subject: skip")) == \
        body.replace("\r\n", "\n").encode()


# ---- the replies ----

REFUSALS = [("reject", REJECT, "550 5.7.1"), ("tempfail", TEMPFAIL,
                                              "451 4.7.1")]


@pytest.mark.parametrize("stage", ["C", "H"])
@pytest.mark.parametrize("name,answer,code", REFUSALS)
def test_connect_and_helo_answers_take_effect_at_mail(mx, m, stage, name,
                                                       answer, code):
    m.on[stage] = lambda s, a: [answer]
    helo = f"early-{stage}-{name}.test"
    with session(mx, helo) as c:
        o = send(c, SENDER, [ANN], tagged_message(helo))
        assert_reply(o.mail, code)
        assert o.rcpts == []
        assert c.alive()
        c.quit()
    not_delivered(mx, helo)


@pytest.mark.parametrize("stage", ["C", "H"])
def test_accept_at_connect_or_helo_skips_the_filter_for_the_session(
        mx, m, stage):
    m.on[stage] = lambda s, a: [ACCEPT]
    helo = f"acc-{stage}.test"
    with session(mx, helo) as c:
        for n in (1, 2):
            assert_reply(send(c, SENDER, [ANN],
                              tagged_message(f"{helo}-{n}")).end,
                         "250 2.0.0")
        c.quit()
    s = m.session()     # at CONNECT, no HELO name is known
    for n in (1, 2):
        delivered_with(mx, ANN, f"{helo}-{n}")
    letters = s.letters()
    assert "M" not in letters and "E" not in letters, letters


def test_accept_at_mail_skips_the_filter_for_the_transaction(mx, m):
    seen = []
    m.on["M"] = lambda s, a: seen.append(a[0]) or (
        [ACCEPT] if len(seen) == 1 else None)
    with session(mx, "accmail.test") as c:
        for n in (1, 2):
            assert_reply(send(c, SENDER, [ANN],
                              tagged_message(f"accmail-{n}")).end,
                         "250 2.0.0")
        c.quit()
    s = m.session(helo="accmail.test").wait_end()
    # The first transaction stopped at MAIL, the second was filtered.
    assert re.fullmatch(r"OCHMA?MRTLNB+EA?Q?", shape(s.letters())), \
        s.letters()
    delivered_with(mx, ANN, "accmail-1")
    delivered_with(mx, ANN, "accmail-2")


# Where a refusal of a filter command is answered in SMTP.
ANSWERED_AT = {"M": "mail", "T": "data", "L": "end", "N": "end",
               "B": "end", "E": "end"}


def check_refused_at(o, where, code, text=None):
    got = getattr(o, where)
    assert got, o
    assert_reply(got, code)
    if text is not None:
        assert got.text == text, got
    for later in ("mail", "data", "end")[("mail", "data", "end")
                                         .index(where) + 1:]:
        assert not getattr(o, later), o


@pytest.mark.parametrize("stage", list(ANSWERED_AT))
@pytest.mark.parametrize("name,answer,code", REFUSALS + [
    ("replycode", replycode("554 5.7.0 Refused by the scripted filter"),
     "554 5.7.0")])
def test_refusal_at_each_stage(mx, m, stage, name, answer, code):
    m.on[stage] = first_only(answer)
    tag = f"refuse-{stage}-{name}"
    with session(mx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN], tagged_message(tag))
        check_refused_at(o, ANSWERED_AT[stage], code,
                         "554 5.7.0 Refused by the scripted filter"
                         if name == "replycode" else None)
        assert c.alive()
        c.quit()
    not_delivered(mx, tag)


@pytest.mark.parametrize("name,answer,code", REFUSALS + [
    ("replycode", replycode("550-5.7.1 first line\r\n550 5.7.1 second"),
     "550 5.7.1")])
def test_refusal_at_rcpt_is_for_that_recipient_only(mx, m, name, answer,
                                                     code):
    m.on["R"] = lambda s, a: [answer] if a[0] == f"<{ANN}>" else None
    tag = f"rcpt-{name}"
    with session(mx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN, BOB], tagged_message(tag))
        assert_reply(o.rcpts[0], code)
        if name == "replycode":
            assert o.rcpts[0].raw == ["550-5.7.1 first line",
                                      "550 5.7.1 second"], o.rcpts[0]
        assert_reply(o.rcpts[1], "250 2.1.5")
        assert_reply(o.end, "250 2.0.0")
        c.quit()
    s = m.session(helo=f"{tag}.test")
    delivered_with(mx, BOB, tag)
    not_delivered(mx, tag, [ANN])
    assert s.rcpts[-1] == [f"<{BOB}>"]


def test_multiline_replycode_at_the_end_of_data(mx, m):
    text = ("554-5.7.0 first line\r\n554-5.7.0 second line\r\n"
            "554 5.7.0 third line")
    m.on["E"] = lambda s, a: [replycode(text)]
    with session(mx, "multi.test") as c:
        o = send(c, SENDER, [ANN], tagged_message("multi"))
        assert o.end.raw == text.split("\r\n"), o.end
        c.quit()
    not_delivered(mx, "multi")


def test_a_421_from_the_filter_closes_the_session(mx, m):
    m.on["M"] = lambda s, a: [replycode("421 4.7.0 Filter going down")]
    with session(mx, "close421.test") as c:
        r = c.cmd(f"MAIL FROM:<{SENDER}>")
        assert r.raw == ["421 4.7.0 Filter going down"], r
        assert c.closed(), "the session stayed open after 421"


@pytest.mark.parametrize("stage", ["M", "R", "E"])
def test_discard_answers_250_and_delivers_to_nobody(mx, m, stage):
    m.on[stage] = lambda s, a: [DISCARD]
    tag = f"discard-{stage}"
    with session(mx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN, BOB], tagged_message(tag))
        assert_reply(o.mail, "250 2.1.0")
        assert [r.code for r in o.rcpts] == [250, 250], o
        assert_reply(o.end, "250 2.0.0")
        qid = o.qid
        c.quit()
    not_delivered(mx, tag)
    assert [r for r in queue_json(mx) if r["id"] == qid] == []


def test_quarantine_holds_the_message_until_released(mx, m):
    m.on["E"] = lambda s, a: [quarantine("held by the test"), ACCEPT]
    with session(mx, "quar.test") as c:
        o = send(c, SENDER, [ANN], tagged_message("quar"))
        assert_reply(o.end, "250 2.0.0")
        qid = o.qid
        c.quit()
    not_delivered(mx, "quar")
    rows = [r for r in queue_json(mx) if r["id"] == qid]
    # The hold branch: a "held" column (the reason; empty when not held).
    assert rows and all(r.get("held") or "held" in r.get("state", "")
                        for r in rows), rows
    mx.cli("queue", "release", qid, check=True)
    delivered_with(mx, ANN, "quar")


# ---- modifications at the end of the message ----

def test_header_modifications(mx, m):
    m.on["E"] = lambda s, a: [
        add_header("X-Added", "yes"),
        insert_header(2, "X-Inserted", "at index 2"),
        change_header("Subject", "changed subject"),
        change_header("X-Dup", "second changed", 2),
        change_header("X-Gone", ""),
        ACCEPT]
    msg = tagged_message("hdrs", extra_headers="X-Dup: one\r\n"
                         "X-Dup: two\r\nX-Gone: bye\r\n")
    with session(mx, "hdrs.test") as c:
        assert_reply(send(c, SENDER, [ANN], msg).end, "250 2.0.0")
        c.quit()
    got = header_fields(delivered_with(mx, ANN, "body of hdrs"))
    assert got[0][0] == "Return-Path"
    assert [n for n, _ in got[1:]] == [
        "Received", "From", "X-Inserted", "To", "Subject", "Message-ID",
        "Date", "X-Dup", "X-Dup", "X-Added"], got
    fields = dict(got)
    assert fields["Subject"] == "changed subject"
    assert [v for n, v in got if n == "X-Dup"] == ["one", "second changed"]
    assert fields["X-Inserted"] == "at index 2"
    assert fields["X-Added"] == "yes"


def test_replace_body(mx, m):
    m.on["E"] = lambda s, a: [replace_body(b"replaced, part one\r\n"),
                              replace_body(b".and a dotted line\r\n"),
                              ACCEPT]
    with session(mx, "body.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("newbody")).end,
                     "250 2.0.0")
        c.quit()
    msg = delivered_with(mx, ANN, "Subject: newbody")
    assert body_of(msg) == b"replaced, part one\n.and a dotted line\n"


def test_change_sender(mx, m):
    m.on["E"] = lambda s, a: [change_from("<changed@example.net>"), ACCEPT]
    with session(mx, "chgfrom.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("chgfrom")).end,
                     "250 2.0.0")
        c.quit()
    msg = delivered_with(mx, ANN, "chgfrom")
    assert header_fields(msg)[0] == ("Return-Path", "<changed@example.net>")


def test_add_and_delete_recipients(mx, m):
    m.on["E"] = lambda s, a: [add_rcpt(f"<{BOB}>"), del_rcpt(f"<{ANN}>"),
                              add_rcpt("<dave@beta.test>", ""), ACCEPT]
    with session(mx, "rcpts.test") as c:
        assert_reply(send(c, SENDER, [ANN, CAROL],
                          tagged_message("rcpts")).end, "250 2.0.0")
        c.quit()
    for who in (BOB, CAROL, "dave@beta.test"):
        delivered_with(mx, who, "rcpts")
    not_delivered(mx, "rcpts", [ANN])


def test_added_remote_recipient_obeys_the_relay_rules(mx, m):
    m.on["E"] = lambda s, a: [add_rcpt("<far@example.org>"), ACCEPT]
    # Not authorized: the local copy only.
    with session(mx, "addremote.test", source="127.0.0.5") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("addremote")).end,
                     "250 2.0.0")
        c.quit()
    delivered_with(mx, ANN, "addremote")
    assert [r for r in queue_json(mx)
            if r["recipient"] == "far@example.org"] == []
    # Authorized (SMTP AUTH): queued for the remote recipient (it stays
    # queued, there is no DNS).
    with session(mx, "addremote2.test", port="submission") as c:
        auth(c)
        o = send(c, ANN, [BOB], tagged_message("addremote2", sender=ANN,
                                               rcpt=BOB))
        assert_reply(o.end, "250 2.0.0")
        qid = o.qid
        c.quit()
    delivered_with(mx, BOB, "addremote2")
    assert [r["recipient"] for r in queue_json(mx) if r["id"] == qid] == \
        ["far@example.org"]


# ---- timing ----

def test_progress_keeps_a_slow_filter_alive(mx, m):
    # 2.5 command timeouts of silence, broken by progress every 0.4 s.
    m.on["E"] = lambda s, a: Progress(
        every=0.4, count=int(COMMAND_TIMEOUT * 2.5 / 0.4),
        then=[add_header("X-Slow", "done"), ACCEPT])
    with session(mx, "progress.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("progress")).end,
                     "250 2.0.0")
        c.quit()
    msg = delivered_with(mx, ANN, "progress")
    assert ("X-Slow", "done") in header_fields(msg)


def test_silence_past_the_command_timeout_is_the_default_action(mx, m):
    """The control of the test above: without progress, the same wait is
    a timeout (milter_default_action = tempfail)."""
    m.on["E"] = lambda s, a: Hang()
    with session(mx, "silent.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("silent")).end,
                     "451 4.7.1")
        c.quit()
    not_delivered(mx, "silent")


# ---- AUTH macros, milter_apply, order, unix sockets ----

def test_auth_macros(mx, m):
    with session(mx, "authm.test", port="submission") as c:
        auth(c)
        assert_reply(send(c, ANN, [BOB], tagged_message(
            "authm", sender=ANN, rcpt=BOB)).end, "250 2.0.0")
        c.quit()
    s = m.session(helo="authm.test").wait_end()
    assert s.macro("{auth_authen}") == ANN
    assert s.macro("{auth_type}") == "PLAIN"


@pytest.fixture(scope="module")
def three(tls_files):
    """Filters "first" (all), "inb" (inbound), "rel" (relay), in that
    order; 127.0.0.4 is a trusted network."""
    ms = {"first": ScriptedMilter(), "inb": ScriptedMilter(),
          "rel": ScriptedMilter()}
    for name, f in ms.items():
        f.start()
        f.on["E"] = lambda s, a, n=name: [add_header("X-Order", n), ACCEPT]
    inst = milter_instance(
        tls_files, list(ms.items()), apply={"inb": "inbound",
                                            "rel": "relay"},
        config={"trusted_networks": "127.0.0.4/32"})
    yield inst, ms
    finish(inst)
    for f in ms.values():
        f.stop()


def who_saw(ms, helo):
    return sorted(n for n, f in ms.items()
                  if any(s.helo == helo for s in list(f.sessions)))


def test_apply_auth_submission_is_relay(three):
    inst, ms = three
    with session(inst, "a-auth.test", port="submission") as c:
        auth(c)
        assert_reply(send(c, ANN, [BOB], tagged_message(
            "a-auth", sender=ANN, rcpt=BOB)).end, "250 2.0.0")
        c.quit()
    assert who_saw(ms, "a-auth.test") == ["first", "rel"]
    msg = delivered_with(inst, BOB, "a-auth")
    assert [v for n, v in header_fields(msg) if n == "X-Order"] == \
        ["first", "rel"]


def test_apply_unauthenticated_port_25_is_inbound(three):
    inst, ms = three
    with session(inst, "a-in.test", source="127.0.0.2") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("a-in")).end,
                     "250 2.0.0")
        c.quit()
    assert who_saw(ms, "a-in.test") == ["first", "inb"]
    msg = delivered_with(inst, ANN, "a-in")
    assert [v for n, v in header_fields(msg) if n == "X-Order"] == \
        ["first", "inb"]


def test_apply_pop_before_smtp_and_trusted_networks_are_relay(three):
    inst, ms = three
    pop3_login(inst, ANN, source="127.0.0.3")
    for source, helo in (("127.0.0.3", "a-pop.test"),
                         ("127.0.0.4", "a-trusted.test")):
        with session(inst, helo, source=source) as c:
            assert_reply(send(c, ANN, [BOB], tagged_message(
                helo, sender=ANN, rcpt=BOB)).end, "250 2.0.0")
            c.quit()
        assert who_saw(ms, helo) == ["first", "rel"], helo


def test_a_filter_on_a_unix_socket(tls_files):
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-milter-unix-")
    os.chmod(d, 0o755)
    f = ScriptedMilter(unix_path=os.path.join(d, "m.sock")).start()
    f.on["E"] = lambda s, a: [add_header("X-Unix", "yes"), ACCEPT]
    inst = milter_instance(tls_files, [("local", f)])
    try:
        with session(inst, "unix.test") as c:
            assert_reply(send(c, SENDER, [ANN], tagged_message("unix")).end,
                         "250 2.0.0")
            c.quit()
        s = f.session(helo="unix.test")
        assert s.letters()[:4] == ["O", "C", "H", "M"], s.letters()
        assert ("X-Unix", "yes") in header_fields(
            delivered_with(inst, ANN, "unix"))
    finally:
        finish(inst)
        f.stop()
        os.rmdir(d)


def test_recipients_a_filter_refuses_do_not_count_against_the_caps(
        tls_files):
    """relay_max_recipients_per_hour = 2: relayed recipients the filter
    refuses (at RCPT, or the whole message at the end of data) give
    their holds back, so two more are still accepted."""
    f = ScriptedMilter().start()
    f.on["R"] = lambda s, a: [REJECT] if a[0].startswith("<no") else None
    f.on["E"] = lambda s, a: [TEMPFAIL] if s.helo == "capfail.test" \
        else [ACCEPT]
    inst = milter_instance(tls_files, [("f", f)], config={
        "relay_max_recipients_per_hour": "2"})
    try:
        with session(inst, "caprej.test", port="submission") as c:
            auth(c)
            c.expect(f"MAIL FROM:<{ANN}>", "250 2.1.0")
            for n in range(3):
                assert_reply(c.cmd(f"RCPT TO:<no{n}@example.org>"),
                             "550 5.7.1")
            c.quit()
        with session(inst, "capfail.test", port="submission") as c:
            auth(c)
            o = send(c, ANN, ["a1@example.org", "a2@example.org"],
                     tagged_message("capfail", sender=ANN))
            assert_reply(o.end, "451 4.7.1")
            c.quit()
        with session(inst, "capok.test", port="submission") as c:
            auth(c)
            o = send(c, ANN, ["b1@example.org", "b2@example.org"],
                     tagged_message("capok", sender=ANN))
            assert [r.code for r in o.rcpts] == [250, 250], o
            assert_reply(o.end, "250 2.0.0")
            o = send(c, ANN, ["b3@example.org"],
                     tagged_message("capover", sender=ANN))
            # Now the cap holds (on submission already at MAIL).
            assert_reply(o.rcpts[0] if o.rcpts else o.mail, "450 4.7.1")
            c.quit()
    finally:
        finish(inst)
        f.stop()


# ---- configuration errors test_config.py does not cover ----

@pytest.mark.parametrize("line,fragment", [
    ("milter_default_action = bounce", "'milter_default_action'"),
    ("milter_default_action x = maybe", "'milter_default_action'"),
    ("milter = y unix:relative.sock", "bad address for milter y"),
    ("milter = z inet:127.0.0.1:0", "bad address for milter z"),
    ("milter = w inet:127.0.0.1", "bad address for milter w"),
    ("milter_command_timeout = 0s", "'milter_command_timeout'"),
    ("milter_connect_timeout = 11m", "'milter_connect_timeout'"),
    ("milter_total_timeout = 2d", "'milter_total_timeout'"),
    ("milter_apply x = outbound", "'milter_apply"),
    ("milter = bad/name inet:127.0.0.1:9", "bad/name"),
])
def test_config_errors(instance, line, fragment):
    path = os.path.join(instance.dir, "m.conf")
    with open(path, "w") as f:
        f.write(open(instance.conf_path).read() +
                "milter = x inet:127.0.0.1:9\n" + line + "\n")
    p = run_popgate("check-config", "-c", path)
    assert p.returncode == 1, (p.stdout, p.stderr)
    n = len(open(path).read().splitlines())
    err = [l for l in p.stderr.splitlines() if l.startswith(f"{path}:{n}: ")]
    assert len(err) == 1 and fragment in err[0], p.stderr
