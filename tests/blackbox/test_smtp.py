"""test_smtp.py - the SMTP server (SPEC.md section 3-4) from outside:
greeting, EHLO, delivery into Maildirs byte for byte, pipelining, BDAT,
STARTTLS, recipients (hosted, unknown, relay, postmaster, aliases),
limits, quota, timeouts, connection caps, reverse DNS and the logs.

Malformed protocol (bare CR/LF, over-long lines, smuggling, wrong order)
is in test_smtp_malformed.py; kill -9 durability in
test_smtp_durability.py.
"""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

import dnsstub
from smtp_helpers import (ALIASES, HOSTNAME, Client, body_message,
                          check_maildir_name, finish, mail_files, messages,
                          mx_instance, new_files, queued_id,
                          received_field, split_message, stored,
                          tls_context, wait_for)

DEFAULT_MAX_SIZE = 50 * 1024 * 1024
EXTENSIONS = ["PIPELINING", f"SIZE {DEFAULT_MAX_SIZE}", "8BITMIME",
              "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"]


@pytest.fixture(scope="module")
def mx(tls_files):
    """One server with the standard accounts for the tests that only
    need the defaults (each looks only at what it delivered)."""
    inst = mx_instance(tls_files)
    yield inst
    finish(inst)


@pytest.fixture
def own(tls_files):
    """A factory of servers with their own config: own(config={...})."""
    made = []

    def make(config=None, start=True, extra_lines=None):
        inst = mx_instance(tls_files, config=config, start=start,
                           extra_lines=extra_lines)
        made.append(inst)
        return inst

    yield make
    try:
        for inst in made:
            if inst.running:
                inst.stop()
    finally:
        for inst in made:
            inst.cleanup()


def port(inst):
    return inst.ports["smtp"]


def one_new(inst, address, before):
    """The single message delivered to ADDRESS since BEFORE (a
    mail_files() snapshot): (name, bytes)."""
    d = os.path.join(inst.maildir(address) if address != "postmaster" else
                     os.path.join(inst.data_dir, "postmaster"), "new")
    got = [p for p in new_files(inst, before)
           if os.path.dirname(p) == d]
    assert len(got) == 1, f"{address}: {got}"
    with open(got[0], "rb") as f:
        return os.path.basename(got[0]), f.read()


# ---- greeting and EHLO ----

def test_greeting_and_ehlo(mx):
    with Client(port(mx)) as c:
        r = c.cmd("EHLO client.test")
        assert r.raw[0] == f"250-{HOSTNAME} Hello client.test [127.0.0.1]"
        assert all(l.startswith("250-") for l in r.raw[:-1])
        assert r.raw[-1].startswith("250 ")
        # The extensions of SPEC.md section 3 (others, such as AUTH, may
        # come and go with the relay rules).
        for ext in EXTENSIONS + ["STARTTLS"]:
            assert ext in r.lines[1:], (ext, r.lines)
        assert len(set(r.lines[1:])) == len(r.lines) - 1
        c.quit()


def test_helo(mx):
    with Client(port(mx)) as c:
        assert c.cmd("HELO client.test").text == f"250 {HOSTNAME}"
        assert c.cmd("MAIL FROM:<a@example.org>").text == \
            "250 2.1.0 Sender ok"
        c.quit()


def test_size_announced_is_max_message_size(own):
    inst = own(config={"max_message_size": "2M",
                       "relay_max_message_size": "2M"})
    with Client(port(inst)) as c:
        assert "SIZE 2097152" in c.ehlo().lines


def test_basic_replies_carry_enhanced_codes(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        assert c.cmd("NOOP").text == "250 2.0.0 Ok"
        assert c.cmd("RSET").text == "250 2.0.0 Reset"
        assert c.cmd("HELP").text.startswith("214 2.0.0 ")
        assert c.cmd("VRFY ann@acme.test").text.startswith("252 2.5.0 ")
        c.quit()


# ---- delivery ----

def test_delivery_with_smtplib(mx):
    before = mail_files(mx)
    msg = (b"From: sender@example.org\r\nTo: ann@acme.test\r\n"
           b"Subject: hello\r\n\r\nHello Ann.\r\n")
    with smtplib.SMTP("127.0.0.1", port(mx), local_hostname="client.test",
                      timeout=10) as s:
        s.ehlo()
        code, _ = s.mail("sender@example.org")
        assert code == 250
        assert s.rcpt("ann@acme.test") == (250, b"2.1.5 Recipient ok")
        code, text = s.data(msg)
        assert code == 250
        qid = queued_id(f"{code} {text.decode()}")
    name, content = one_new(mx, "ann@acme.test", before)
    check_maildir_name(name, content)
    assert HOSTNAME in name
    trace, rest = split_message(content)
    assert rest == msg.replace(b"\r\n", b"\n")
    assert trace.startswith(b"Return-Path: <sender@example.org>\n")
    rec = received_field(content)
    assert re.match(
        r"Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\n"
        rf"\tby {re.escape(HOSTNAME)} \(popgate\) with ESMTP id {qid}\n"
        r"\tfor <ann@acme\.test>; "
        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\n$", rec), rec
    # Only the new/ copy: nothing left in tmp/ or in the queue.
    assert [p for p in new_files(mx, before)] == \
        [os.path.join(mx.maildir("ann@acme.test"), "new", name)]
    # The log: one line for the delivered recipient, with the queue id.
    lines = [l for l in mx.log().splitlines() if f"qid={qid}" in l
             and " delivered " in l]
    assert len(lines) == 1, lines
    assert "to=<ann@acme.test>" in lines[0]
    assert "from=<sender@example.org>" in lines[0]


def test_null_sender_and_helo_without_esmtp(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        assert c.cmd("HELO client.test").code == 250
        r = c.transaction("", ["bob@acme.test"], body_message("null"))
        queued_id(r)
        c.quit()
    _, content = one_new(mx, "bob@acme.test", before)
    assert content.startswith(b"Return-Path: <>\n")
    assert " with SMTP id " in received_field(content)


def test_dot_stuffing_round_trip_byte_exact(mx):
    before = mail_files(mx)
    data = (b"Subject: dots\r\n\r\n"
            b"..\r\n"                    # a line of one dot
            b"...\r\n"                   # a line of two dots
            b".. leading dot and blank\r\n"
            b"..hidden.\r\n"
            b"middle . dot\r\n"
            b"\r\n"
            b"..\r\n"
            b"....four\r\n"
            b"last line ends in a dot .\r\n")
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", ["ann@acme.test"], data))
        c.quit()
    name, content = one_new(mx, "ann@acme.test", before)
    _, rest = split_message(content)
    assert rest == stored(data)
    assert rest == (b"Subject: dots\n\n.\n..\n. leading dot and blank\n"
                    b".hidden.\nmiddle . dot\n\n.\n...four\n"
                    b"last line ends in a dot .\n")
    check_maildir_name(name, content)


def test_dot_stuffing_with_smtplib(mx):
    before = mail_files(mx)
    msg = b"Subject: s\r\n\r\n.\r\n.x\r\n..y\r\nend\r\n"
    with smtplib.SMTP("127.0.0.1", port(mx), timeout=10) as s:
        s.sendmail("a@example.org", ["ann@acme.test"], msg)
    _, content = one_new(mx, "ann@acme.test", before)
    assert split_message(content)[1] == msg.replace(b"\r\n", b"\n")


def test_8bit_body_intact(mx):
    before = mail_files(mx)
    body = bytes(b for b in range(256) if b not in (0x0a, 0x0d))
    data = (b"Subject: =?utf-8?q?8bit?=\r\nContent-Type: text/plain; "
            b"charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "Grüße, 日本語, ☃\r\n".encode() + body[:200] + b"\r\n" +
            body[200:] + b"\r\n" + b"\xff\xfe\x00\x80\r\n")
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org> BODY=8BITMIME", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send(data + b".\r\n")
        queued_id(c.reply())
        c.quit()
    name, content = one_new(mx, "ann@acme.test", before)
    assert split_message(content)[1] == stored(data)
    check_maildir_name(name, content)


def test_smtputf8_addresses(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<j\u00f6ran@b\u00fccher.example> SMTPUTF8",
                 "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send(body_message("utf8") + b".\r\n")
        queued_id(c.reply())
    _, content = one_new(mx, "ann@acme.test", before)
    assert content.startswith(
        "Return-Path: <j\u00f6ran@b\u00fccher.example>\n".encode())


def test_utf8_sender_without_smtputf8_refused(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<j\u00f6ran@example.org>")
        assert r.text.startswith("501 5.1.7 "), r
        c.alive()


def test_empty_message(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", ["ann@acme.test"], b""))
    name, content = one_new(mx, "ann@acme.test", before)
    trace, rest = split_message(content)
    assert rest == b""
    check_maildir_name(name, content)


def test_pipelined_transaction_several_recipients(mx):
    before = mail_files(mx)
    data = body_message("pipelined", b"line two\r\n")
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<ann@acme.test>\r\n"
               b"RCPT TO:<nobody@acme.test>\r\n"
               b"RCPT TO:<bob@acme.test>\r\n"
               b"RCPT TO:<carol@acme.test>\r\n"
               b"RCPT TO:<dave@beta.test>\r\n"
               b"DATA\r\n")
        rs = c.replies(7)
        assert [r.text for r in rs] == [
            "250 2.1.0 Sender ok",
            "250 2.1.5 Recipient ok",
            "550 5.1.1 <nobody@acme.test>: Recipient address rejected: "
            "no such mailbox here",
            "250 2.1.5 Recipient ok",
            "250 2.1.5 Recipient ok",
            "250 2.1.5 Recipient ok",
            "354 End data with <CR><LF>.<CR><LF>",
        ]
        c.send(data + b".\r\nNOOP\r\nQUIT\r\n")
        qid = queued_id(c.reply())
        assert c.reply().text == "250 2.0.0 Ok"
        assert c.reply().text == "221 2.0.0 Bye"
        assert c.closed()
    got = {}
    for a in ("ann@acme.test", "bob@acme.test", "carol@acme.test",
              "dave@beta.test"):
        name, content = one_new(mx, a, before)
        check_maildir_name(name, content)
        trace, rest = split_message(content)
        assert rest == stored(data)
        rec = received_field(content)
        assert f" id {qid}" in rec
        assert "\tfor <" not in rec      # several recipients: no "for"
        got[a] = content
    assert len(set(got.values())) == 1
    assert len(new_files(mx, before)) == 4
    lines = [l for l in mx.log().splitlines() if f"qid={qid}" in l and
             " delivered " in l]
    assert sorted(re.search(r"to=<([^>]*)>", l).group(1) for l in lines) \
        == ["ann@acme.test", "bob@acme.test", "carol@acme.test",
            "dave@beta.test"]


def test_same_recipient_twice_gets_one_copy(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org",
                                ["ann@acme.test", "ANN@acme.test",
                                 "ann@ACME.TEST"], body_message("twice")))
    one_new(mx, "ann@acme.test", before)
    assert len(new_files(mx, before)) == 1


def test_100_messages_in_one_session(mx):
    before = mail_files(mx)
    ids = set()
    with Client(port(mx)) as c:
        c.ehlo()
        for i in range(100):
            c.send(b"MAIL FROM:<a@example.org>\r\n"
                   b"RCPT TO:<carol@acme.test>\r\nDATA\r\n")
            assert [r.code for r in c.replies(3)] == [250, 250, 354]
            c.send(body_message(f"msg-{i:03d}") + b".\r\n")
            ids.add(queued_id(c.reply()))
        c.quit()
    assert len(ids) == 100
    files = new_files(mx, before)
    assert len(files) == 100
    seen = set()
    for p in files:
        assert os.path.dirname(p) == os.path.join(
            mx.maildir("carol@acme.test"), "new")
        with open(p, "rb") as f:
            content = f.read()
        check_maildir_name(os.path.basename(p), content)
        m = re.search(rb"body of msg-(\d{3})\n$", content)
        assert m, content
        seen.add(int(m.group(1)))
    assert seen == set(range(100))
    assert "msgs=100 " in mx.log()


def test_100_messages_with_smtplib(mx):
    before = mail_files(mx)
    with smtplib.SMTP("127.0.0.1", port(mx), timeout=10) as s:
        for i in range(100):
            assert s.sendmail("a@example.org", ["dave@beta.test"],
                              body_message(f"lib-{i}")) == {}
    assert len(messages(mx, "dave@beta.test")) >= 100
    assert len(new_files(mx, before)) == 100


def test_rset_discards_transaction(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        assert c.cmd("RSET").text == "250 2.0.0 Reset"
        assert c.cmd("DATA").text.startswith("503 5.5.1 ")
        c.expect("MAIL FROM:<b@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<bob@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send(body_message("after-rset") + b".\r\n")
        queued_id(c.reply())
    assert len(new_files(mx, before)) == 1
    _, content = one_new(mx, "bob@acme.test", before)
    assert content.startswith(b"Return-Path: <b@example.org>\n")


# ---- recipients ----

def test_unknown_local_user(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        r = c.cmd("RCPT TO:<nobody@acme.test>")
        assert r.text == ("550 5.1.1 <nobody@acme.test>: Recipient address "
                          "rejected: no such mailbox here")
        assert c.cmd("DATA").text == "503 5.5.1 Error: need RCPT command"
        c.alive()
    assert new_files(mx, before) == []


def test_relay_denied(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<ann@acme.test>", "250 2.1.0")
        r = c.cmd("RCPT TO:<user@elsewhere.test>")
        assert r.text.startswith(
            "554 5.7.1 <user@elsewhere.test>: Relay access denied"), r
        assert c.cmd("DATA").text.startswith("503 5.5.1 ")
        c.alive()
    assert new_files(mx, before) == []
    assert "rule=authorized" in mx.log()


@pytest.mark.parametrize("rcpt, reply", [
    # the percent hack: a local part of acme.test
    ("<user%elsewhere.test@acme.test>", "550 5.1.1 "),
    ("<bob%elsewhere.test@acme.test>", "550 5.1.1 "),
    ("<elsewhere.test!bob@acme.test>", "550 5.1.1 "),
    # a quoted at sign: a local part of acme.test
    ('<"user@elsewhere.test"@acme.test>', "550 5.1.1 "),
    ('<"bob@elsewhere.test"@acme.test>', "550 5.1.1 "),
    # a source route is dropped: the address is user@elsewhere.test
    ("<@acme.test:user@elsewhere.test>", "554 5.7.1 "),
    ("<@acme.test,@mail.test.example:user@elsewhere.test>", "554 5.7.1 "),
    # a trailing dot is no valid domain
    ("<user@elsewhere.test.>", "501 5.1.3 "),
    ("<bob@acme.test.>", "501 5.1.3 "),
    # an address literal is never hosted
    ("<user@[127.0.0.1]>", "554 5.7.1 "),
    ("<bob@[127.0.0.1]>", "554 5.7.1 "),
    # two at signs
    ("<user@elsewhere.test@acme.test>", "501 5.1.3 "),
    ("<bob@elsewhere.test@acme.test>", "501 5.1.3 "),
])
def test_open_relay_tricks_refused(mx, rcpt, reply):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        r = c.cmd(f"RCPT TO:{rcpt}")
        assert r.text.startswith(reply), r
        # Nothing accepted: DATA has no recipient.
        assert c.cmd("DATA").text == "503 5.5.1 Error: need RCPT command"
        c.alive()
    assert new_files(mx, before) == []


def test_open_relay_tricks_pipelined_with_data(mx):
    """Even pipelined through to the end of a message, a refused trick
    delivers nothing and queues nothing."""
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<user%elsewhere.test@acme.test>\r\n"
               b"RCPT TO:<\"user@elsewhere.test\"@acme.test>\r\n"
               b"RCPT TO:<@acme.test:user@elsewhere.test>\r\n"
               b"RCPT TO:<user@elsewhere.test.>\r\n"
               b"RCPT TO:<user@[127.0.0.1]>\r\n"
               b"RCPT TO:<user@elsewhere.test@acme.test>\r\n"
               b"DATA\r\n")
        rs = c.replies(8)
        assert rs[0].code == 250
        assert all(r.code >= 500 for r in rs[1:7]), rs
        assert rs[7].text == "503 5.5.1 Error: need RCPT command"
        c.alive()
    assert new_files(mx, before) == []


def test_case_insensitive_domains(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", ["ANN@ACME.TEST"],
                                body_message("upper")))
        queued_id(c.transaction("a@example.org", ["Bob@Acme.Test"],
                                body_message("mixed")))
    _, a = one_new(mx, "ann@acme.test", before)
    _, b = one_new(mx, "bob@acme.test", before)
    assert b"test upper" in a and b"test mixed" in b
    assert received_field(a).find("for <ANN@ACME.TEST>") > 0
    assert not os.path.exists(os.path.join(mx.mail_dir, "ACME.TEST"))
    assert len(new_files(mx, before)) == 2


def test_postmaster_without_config_goes_to_system_maildir(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", ["postmaster"],
                                body_message("bare pm")))
        queued_id(c.transaction("a@example.org", ["PostMaster"],
                                body_message("bare pm case")))
        queued_id(c.transaction("a@example.org", ["postmaster@acme.test"],
                                body_message("pm acme")))
        queued_id(c.transaction("a@example.org", ["Postmaster@BETA.test"],
                                body_message("pm beta")))
        # Not a postmaster of a hosted domain: a relay attempt.
        r = c.cmd("MAIL FROM:<a@example.org>")
        r = c.cmd("RCPT TO:<postmaster@elsewhere.test>")
        assert r.text.startswith("554 5.7.1 "), r
    files = new_files(mx, before)
    pmdir = os.path.join(mx.data_dir, "postmaster", "new")
    assert len(files) == 4 and all(os.path.dirname(p) == pmdir
                                   for p in files), files
    bodies = b"".join(open(p, "rb").read() for p in files)
    for tag in (b"bare pm", b"bare pm case", b"pm acme", b"pm beta"):
        assert b"body of " + tag + b"\n" in bodies


def test_postmaster_with_config(own):
    inst = own(config={"postmaster": "carol@acme.test"})
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", ["postmaster"],
                                body_message("to pm")))
        queued_id(c.transaction("a@example.org", ["postmaster@beta.test"],
                                body_message("to pm beta")))
        queued_id(c.transaction("", ["POSTMASTER@ACME.TEST"],
                                body_message("to pm acme")))
    files = new_files(inst, before)
    d = os.path.join(inst.maildir("carol@acme.test"), "new")
    assert len(files) == 3 and all(os.path.dirname(p) == d for p in files)
    assert not os.path.exists(os.path.join(inst.data_dir, "postmaster",
                                           "new")) or \
        messages(inst, "postmaster") == []


def test_postmaster_mailbox_of_its_own_wins(own):
    inst = own(start=False)
    inst.setup_mailbox("postmaster@acme.test", "pw")
    inst.start()
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", ["postmaster@acme.test"],
                                body_message("own pm")))
    one_new(inst, "postmaster@acme.test", before)
    assert len(new_files(inst, before)) == 1


@pytest.mark.parametrize("alias, want", [
    ("sales@acme.test", ["ann@acme.test", "bob@acme.test"]),
    ("team@acme.test", ["ann@acme.test", "bob@acme.test",
                        "carol@acme.test"]),
    ("loop1@acme.test", ["ann@acme.test", "bob@acme.test"]),
    ("loop2@acme.test", ["ann@acme.test", "bob@acme.test"]),
    ("SALES@Acme.Test", ["ann@acme.test", "bob@acme.test"]),
])
def test_alias_expansion(mx, alias, want):
    before = mail_files(mx)
    data = body_message(f"alias {alias}")
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org", [alias], data))
        c.alive()
    files = new_files(mx, before)
    assert len(files) == len(want), files
    for a in want:
        name, content = one_new(mx, a, before)
        assert split_message(content)[1] == stored(data)
        check_maildir_name(name, content)


def test_alias_and_its_members_in_one_message(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        queued_id(c.transaction("a@example.org",
                                ["ann@acme.test", "team@acme.test",
                                 "loop1@acme.test", "bob@acme.test"],
                                body_message("overlap")))
    assert len(new_files(mx, before)) == 3
    for a in ("ann@acme.test", "bob@acme.test", "carol@acme.test"):
        one_new(mx, a, before)


def test_alias_loop_without_mailbox_is_unknown(mx):
    assert "ring1@acme.test" in ALIASES
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        r = c.cmd("RCPT TO:<ring1@acme.test>")
        assert r.text.startswith("550 5.1.1 <ring1@acme.test>"), r
        c.alive()
    assert mx.running


# ---- BDAT (CHUNKING) ----

def test_bdat_single_chunk(mx):
    before = mail_files(mx)
    data = b"Subject: bdat\r\n\r\n.leading dot stays\r\n..two\r\nend\r\n"
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        queued_id(c.reply())
        c.alive()
    name, content = one_new(mx, "ann@acme.test", before)
    assert split_message(content)[1] == data.replace(b"\r\n", b"\n")
    check_maildir_name(name, content)


def test_bdat_pipelined_chunks_and_zero_last(mx):
    before = mail_files(mx)
    parts = [b"Subject: chunks\r\n\r\nfirst line\r", b"\nsecond ",
             b"line\r\n", b"QUIT\r\nthird\r\n"]
    with Client(port(mx)) as c:
        c.ehlo()
        out = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@acme.test>\r\n"
        for p in parts:
            out += b"BDAT %d\r\n" % len(p) + p
        out += b"BDAT 0 LAST\r\n"
        c.send(out)
        rs = c.replies(2 + len(parts) + 1)
        assert rs[0].text == "250 2.1.0 Sender ok"
        assert rs[1].text == "250 2.1.5 Recipient ok"
        for r in rs[2:-1]:
            assert re.match(r"250 2\.0\.0 Ok: \d+ octets received$",
                            r.text), r
        queued_id(rs[-1])
        c.alive()
    name, content = one_new(mx, "bob@acme.test", before)
    assert split_message(content)[1] == \
        b"".join(parts).replace(b"\r\n", b"\n")
    check_maildir_name(name, content)


def test_bdat_octet_counts(mx):
    """Each chunk's 250 reports the octets received so far, also when a
    chunk ends between CR and LF."""
    parts = [b"Subject: n\r\n\r\nabc\r", b"\ndef\r\n", b"ghi"]
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<carol@acme.test>", "250 2.1.5")
        total = 0
        for p in parts:
            total += len(p)
            c.send(b"BDAT %d\r\n" % len(p) + p)
            assert c.reply().text == f"250 2.0.0 Ok: {total} octets received"
        c.send(b"BDAT 0 LAST\r\n")
        queued_id(c.reply())


def test_bdat_last_line_without_crlf_is_completed(mx):
    before = mail_files(mx)
    data = b"Subject: x\r\n\r\nno line end"
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        queued_id(c.reply())
    name, content = one_new(mx, "ann@acme.test", before)
    assert split_message(content)[1] == b"Subject: x\n\nno line end\n"
    check_maildir_name(name, content)


def test_bdat_refused_chunk_is_skipped(mx):
    before = mail_files(mx)
    chunk = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<ann@acme.test>\r\n"
             b"DATA\r\nsmuggled\r\n.\r\nQUIT\r\n")
    with Client(port(mx)) as c:
        c.ehlo()
        # No transaction: refused, and the chunk is not read as commands.
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        assert c.reply().text == "503 5.5.1 Error: need MAIL command"
        c.no_more()
        c.alive()
        # After MAIL, without RCPT: the same.
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        assert c.reply().text == "503 5.5.1 Error: need RCPT command"
        c.no_more()
        c.alive()
        # Before EHLO on a fresh session.
    with Client(port(mx)) as c:
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        assert c.reply().text == "503 5.5.1 Error: send HELO/EHLO first"
        c.no_more()
        c.alive()
    assert new_files(mx, before) == []


def test_data_after_bdat_refused(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.send(b"BDAT 5\r\nabcde")
        assert c.reply().text == "250 2.0.0 Ok: 5 octets received"
        assert c.cmd("DATA").text == "503 5.5.1 Error: DATA after BDAT"
        c.send(b"BDAT 2 LAST\r\n\r\n")
        queued_id(c.reply())
    _, content = one_new(mx, "ann@acme.test", before)
    assert split_message(content)[1] == b"abcde\n"


def test_bdat_too_big(own):
    inst = own(config={"max_message_size": "1K",
                       "relay_max_message_size": "1K"})
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        data = (b"x" * 98 + b"\r\n") * 11
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        assert c.reply().text.startswith("552 5.3.4 ")
        c.alive()
    assert new_files(inst, before) == []


# ---- size, recipients, quota ----

def test_size_limits(own):
    inst = own(config={"max_message_size": "1K",
                       "relay_max_message_size": "1K"})
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@example.org> SIZE=1025")
        assert r.text == ("552 5.3.4 Message size exceeds the limit of 1024 "
                          "octets"), r
        c.expect("MAIL FROM:<a@example.org> SIZE=1024", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        # 11 lines of 100 octets: 1100 octets, over the limit.
        c.send((b"y" * 98 + b"\r\n") * 11 + b".\r\n")
        r = c.reply()
        assert r.text.startswith("552 5.3.4 "), r
        c.alive()
        # Exactly 1024 octets (as sent, CRLF counted) is fine.
        data = (b"z" * 98 + b"\r\n") * 10 + b"z" * 22 + b"\r\n"
        assert len(data) == 1024
        queued_id(c.transaction("a@example.org", ["ann@acme.test"], data))
        data = (b"z" * 98 + b"\r\n") * 10 + b"z" * 23 + b"\r\n"
        assert c.transaction("a@example.org", ["ann@acme.test"],
                             data).text.startswith("552 5.3.4 ")
        c.alive()
    assert len(new_files(inst, before)) == 1


def test_max_recipients(own):
    inst = own(config={"max_recipients": "3"})
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<ann@acme.test>\r\n"
               b"RCPT TO:<bob@acme.test>\r\n"
               b"RCPT TO:<carol@acme.test>\r\n"
               b"RCPT TO:<dave@beta.test>\r\n"
               b"RCPT TO:<postmaster>\r\n"
               b"DATA\r\n")
        rs = [r.text for r in c.replies(7)]
        assert rs[:4] == ["250 2.1.0 Sender ok"] + \
            ["250 2.1.5 Recipient ok"] * 3
        assert rs[4] == "452 4.5.3 Too many recipients"
        assert rs[5] == "452 4.5.3 Too many recipients"
        assert rs[6].startswith("354 ")
        c.send(body_message("max rcpt") + b".\r\n")
        queued_id(c.reply())
        c.alive()
    assert len(new_files(inst, before)) == 3
    assert messages(inst, "dave@beta.test") == []


def test_quota(own):
    inst = own(start=False)
    inst.setup_mailbox("small@acme.test", "pw", quota="1K")
    inst.start()
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        # SIZE= over the quota: refused at RCPT.
        c.expect("MAIL FROM:<a@example.org> SIZE=2000", "250 2.1.0")
        r = c.cmd("RCPT TO:<small@acme.test>")
        assert r.text == "452 4.2.2 <small@acme.test>: Mailbox full", r
        c.expect("RSET", "250 ")
        # Without SIZE=, a body over the quota: refused at the end.
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<small@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send((b"q" * 98 + b"\r\n") * 12 + b".\r\n")
        r = c.reply()
        assert r.text == "452 4.2.2 <small@acme.test>: Mailbox full", r
        assert new_files(inst, before) == []
        # A small one fits.
        queued_id(c.transaction("a@example.org", ["small@acme.test"],
                                b"Subject: s\r\n\r\n" + b"f" * 600 +
                                b"\r\n"))
        # Now the mailbox is nearly full.
        c.expect("MAIL FROM:<a@example.org> SIZE=600", "250 2.1.0")
        r = c.cmd("RCPT TO:<small@acme.test>")
        assert r.text == "452 4.2.2 <small@acme.test>: Mailbox full", r
        c.alive()
    assert len(new_files(inst, before)) == 1


def test_quota_of_one_recipient_queues_only_that_copy(own):
    """One full mailbox does not fail the others (issue 13): they get
    their copy, the full one waits in the queue (test_delivery_local.py
    follows it to its delivery or bounce)."""
    inst = own(start=False)
    inst.setup_mailbox("small@acme.test", "pw", quota="1K")
    inst.start()
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.expect("RCPT TO:<small@acme.test>", "250 2.1.5")
        c.expect("RCPT TO:<bob@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send((b"q" * 98 + b"\r\n") * 12 + b".\r\n")
        qid = queued_id(c.reply())
        c.alive()
    new = [f for f in new_files(inst, before)
           if f.startswith(inst.mail_dir + "/")]
    assert sorted(f.split("/")[-3] for f in new) == ["ann", "bob"], new
    rows = inst.cli_json("queue", "list")
    assert [(r["id"], r["recipient"]) for r in rows] == \
        [(qid, "small@acme.test")], rows


# ---- STARTTLS ----

def test_starttls_then_ehlo(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.starttls()
        # RFC 3207 4.2: the session is reset; EHLO again first.
        assert c.cmd("MAIL FROM:<a@example.org>").text == \
            "503 5.5.1 Error: send HELO/EHLO first"
        r = c.ehlo()
        assert "STARTTLS" not in r.lines
        for ext in EXTENSIONS:
            assert ext in r.lines[1:], (ext, r.lines)
        assert c.cmd("STARTTLS").text.startswith("503 5.5.1 ")
        qid = queued_id(c.transaction("a@example.org", ["ann@acme.test"],
                                      body_message("tls")))
    _, content = one_new(mx, "ann@acme.test", before)
    rec = received_field(content)
    assert f"with ESMTPS id {qid}" in rec
    assert re.search(r"\n\t\(using TLSv1\.[23] with cipher \S+ "
                     r"\(\d+/\d+ bits\)\)\n", rec), rec
    assert "\tfor <ann@acme.test>; " in rec


@pytest.mark.parametrize("last", ["QUIT", "NOOP\r\nQUIT"])
def test_quit_after_starttls_gets_221(mx, last):
    with Client(port(mx)) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.send(last + "\r\n")
        if last.startswith("NOOP"):
            assert c.reply().text == "250 2.0.0 Ok"
        assert c.reply().text == "221 2.0.0 Bye"
        assert c.closed()


def test_too_many_errors_after_starttls_gets_421(own):
    inst = own(config={"max_errors": "2"})
    with Client(port(inst)) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        assert c.cmd("FOO").code == 500
        c.send(b"BAR\r\n")
        assert c.reply().code == 500
        assert c.reply().text.startswith("421 4.7.0 ")
        assert c.closed()


def test_starttls_with_smtplib(mx):
    before = mail_files(mx)
    with smtplib.SMTP("127.0.0.1", port(mx), timeout=10) as s:
        s.starttls(context=tls_context())
        s.ehlo()
        assert not s.has_extn("starttls")
        s.sendmail("a@example.org", ["bob@acme.test"], body_message("tls2"))
    one_new(mx, "bob@acme.test", before)


def test_starttls_needs_no_transaction(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        r = c.cmd("STARTTLS")
        assert r.text.startswith("503 5.5.1 "), r
        c.expect("RSET", "250 2.0.0")
        assert c.cmd("STARTTLS x").text.startswith("501 5.5.4 ")
        c.alive()


@pytest.mark.parametrize("injected", [
    b"RSET\r\n",
    b"NOOP\r\nNOOP\r\n",
    b"EHLO evil.test\r\nMAIL FROM:<evil@example.org>\r\n",
])
def test_starttls_injection(mx, injected):
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\n" + injected)
        r = c.reply()
        assert r.text == "220 2.0.0 Ready to start TLS"
        assert c.buf == b""
        c.sock = tls_context().wrap_socket(c.sock)
        # The injected commands never ran: the first reply in TLS is the
        # one to our EHLO, and no transaction was started.
        r = c.cmd("EHLO client.test")
        assert r.raw[0] == f"250-{HOSTNAME} Hello client.test [127.0.0.1]"
        assert c.cmd("RCPT TO:<ann@acme.test>").text == \
            "503 5.5.1 Error: need MAIL command"
        c.alive()
        c.no_more()


def test_starttls_injection_in_separate_segment_is_not_a_command(mx):
    """Bytes arriving in the clear after STARTTLS but in their own
    packet are not SMTP either: they spoil the handshake at worst."""
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\n")
        assert c.reply().text == "220 2.0.0 Ready to start TLS"
        c.send(b"QUIT\r\n")
        assert c.closed(), "the server must drop a broken handshake"
        assert c.buf == b"" or not c.buf.startswith(b"221")
    assert mx.running


# ---- sessions: caps, timeouts, errors ----

def test_connections_per_ip_cap(own):
    inst = own(config={"max_connections_per_ip": "2"})
    a, b = Client(port(inst)), Client(port(inst))
    try:
        with Client(port(inst), greet=False) as c:
            r = c.reply()
            assert r.text == "421 4.7.0 Too many connections, try again later"
            assert c.closed()
        # Another address is not counted with 127.0.0.1.
        with Client(port(inst), source="127.0.0.2") as d:
            d.ehlo()
        a.quit()

        def fresh():
            c = Client(port(inst), greet=False)
            r = c.reply()
            c.close()
            return r.code == 220
        wait_for(fresh, what="a free slot after a QUIT")
        b.alive()
    finally:
        a.close()
        b.close()
    assert "max_connections_per_ip" in inst.log()


def test_connections_total_cap(own):
    inst = own(config={"max_connections": "2"})
    a = Client(port(inst))
    b = Client(port(inst), source="127.0.0.2")
    try:
        for src in ("127.0.0.1", "127.0.0.3"):
            with Client(port(inst), greet=False, source=src) as c:
                assert c.reply().text == \
                    "421 4.7.0 Too many connections, try again later"
                assert c.closed()
        b.quit()

        def fresh():
            c = Client(port(inst), greet=False)
            r = c.reply()
            c.close()
            return r.code == 220
        wait_for(fresh, what="a free slot after a QUIT")
        a.alive()
    finally:
        a.close()
        b.close()


def test_idle_timeout(own):
    inst = own(config={"smtp_timeout": "1s"})
    with Client(port(inst)) as c:
        c.ehlo()
        t = time.monotonic()
        r = c.reply()
        assert r.text == "421 4.4.2 Timeout, closing connection"
        assert 0.5 < time.monotonic() - t < 5
        assert c.closed()


def test_timeout_mid_data_delivers_nothing(own):
    inst = own(config={"smtp_timeout": "1s"})
    before = mail_files(inst)
    with Client(port(inst)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send(b"Subject: half\r\n\r\nhalf a message\r\n")
        assert c.reply().text == "421 4.4.2 Timeout, closing connection"
        assert c.closed()
    time.sleep(0.3)
    assert new_files(inst, before) == []


def test_too_many_errors(own):
    inst = own(config={"max_errors": "3"})
    with Client(port(inst)) as c:
        c.ehlo()
        assert c.cmd("FOO").text == "500 5.5.1 Command unrecognized"
        assert c.cmd("RCPT TO:<ann@acme.test>").text.startswith("503 5.5.1")
        c.send(b"BAR\r\nNOOP\r\n")
        assert c.reply().text == "500 5.5.1 Command unrecognized"
        assert c.reply().text.startswith("421 4.7.0 ")
        assert c.closed()
        assert c.buf == b""      # NOOP was not answered
    assert "too-many-errors" in inst.log()


def test_good_commands_do_not_count_as_errors(own):
    inst = own(config={"max_errors": "2"})
    with Client(port(inst)) as c:
        c.ehlo()
        assert c.cmd("FOO").code == 500
        for _ in range(20):
            c.alive()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RSET", "250 2.0.0")
        c.quit()


def test_client_gone_mid_data(mx):
    before = mail_files(mx)
    for cut in (b"Subject: gone\r\n\r\nhalf a line",
                b"Subject: gone\r\n\r\nline\r\n",
                b"Subject: gone\r\n\r\nline\r\n.",
                b"Subject: gone\r\n\r\nline\r\n.\r"):
        c = Client(port(mx))
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.expect("RCPT TO:<bob@acme.test>", "250 2.1.5")
        c.expect("DATA", "354 ")
        c.send(cut + b"x" * 100000)
        c.send(cut)
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
    time.sleep(0.5)
    assert new_files(mx, before) == []
    assert "lost client=127.0.0.1 during data" in mx.log()


def test_client_gone_mid_bdat(mx):
    before = mail_files(mx)
    c = Client(port(mx))
    c.ehlo()
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
    c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
    c.send(b"BDAT 10\r\n0123456789")
    assert c.reply().code == 250
    c.send(b"BDAT 1000 LAST\r\nonly a part")
    c.close()
    time.sleep(0.5)
    assert new_files(mx, before) == []


def test_log_lines_per_session(mx):
    start = len(mx.log())
    with Client(port(mx)) as c:
        c.ehlo()
        qid = queued_id(c.transaction("a@example.org",
                                      ["ann@acme.test", "sales@acme.test",
                                       "carol@acme.test"],
                                      body_message("logs")))
        c.quit()
    wait_for(lambda: "smtp disconnect" in mx.log()[start:],
             what="the disconnect line")
    log = mx.log()[start:].splitlines()
    connects = [l for l in log if " smtp connect " in l]
    disconnects = [l for l in log if " smtp disconnect " in l]
    assert len(connects) == 1 and len(disconnects) == 1, log
    sess = re.search(r"sess=(\S+)", connects[0]).group(1)
    assert f"sess={sess} " in disconnects[0]
    assert "client=127.0.0.1" in connects[0]
    assert "msgs=1 errors=0" in disconnects[0]
    delivered = [l for l in log if f"qid={qid}" in l and " delivered " in l]
    assert sorted(re.search(r"to=<([^>]*)>", l).group(1)
                  for l in delivered) == \
        ["ann@acme.test", "bob@acme.test", "carol@acme.test"]
    assert all(f"sess={sess} " in l for l in delivered)


# ---- real clients ----

def test_swaks_delivers_to_ann(mx):
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed")
    before = mail_files(mx)
    p = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(port(mx)),
         "--from", "someone@example.org", "--to", "ann@acme.test",
         "--helo", "swaks.test", "--header", "Subject: swaks check",
         "--body", "Hello from swaks"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as \S+", p.stdout), \
        p.stdout
    _, content = one_new(mx, "ann@acme.test", before)
    assert b"Subject: swaks check\n" in content
    assert b"\nHello from swaks\n" in content
    assert received_field(content).startswith(
        "Received: from swaks.test (unknown [127.0.0.1])")


def test_swaks_starttls_and_pipelining(mx):
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed")
    before = mail_files(mx)
    p = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(port(mx)),
         "--from", "someone@example.org", "--to", "bob@acme.test",
         "--tls", "--pipeline"],
        capture_output=True, text=True, timeout=30)
    # swaks's own transcript first: a failure then says what it saw.
    assert p.returncode == 0, p.stdout + p.stderr
    _, content = one_new(mx, "bob@acme.test", before)
    assert "with ESMTPS" in received_field(content)


# ---- reverse DNS ----

def test_reverse_dns_name_in_received(own):
    stub = dnsstub.DnsStub({
        dnsstub.ptr_name("127.0.0.1"): {"PTR": ["client.example"]},
        "client.example": {"A": ["127.0.0.1"]},
    }).start()
    try:
        inst = own(config={"reverse_dns": "yes",
                           "dns_servers": stub.server})
        before = mail_files(inst)
        with Client(port(inst)) as c:
            c.ehlo("helo.test")
            queued_id(c.transaction("a@example.org", ["ann@acme.test"],
                                    body_message("rdns")))
        _, content = one_new(inst, "ann@acme.test", before)
        assert received_field(content).startswith(
            "Received: from helo.test (client.example [127.0.0.1])\n")
        assert ("1.0.0.127.in-addr.arpa", "PTR") in stub.queries
        assert "name=client.example" in inst.log()
    finally:
        stub.stop()


def test_reverse_dns_unconfirmed_name_is_not_used(own):
    stub = dnsstub.DnsStub({
        dnsstub.ptr_name("127.0.0.1"): {"PTR": ["liar.example"]},
        "liar.example": {"A": ["192.0.2.1"]},
    }).start()
    try:
        inst = own(config={"reverse_dns": "yes",
                           "dns_servers": stub.server})
        before = mail_files(inst)
        with Client(port(inst)) as c:
            c.ehlo("helo.test")
            queued_id(c.transaction("a@example.org", ["ann@acme.test"],
                                    body_message("rdns2")))
        _, content = one_new(inst, "ann@acme.test", before)
        assert received_field(content).startswith(
            "Received: from helo.test (unknown [127.0.0.1])\n")
    finally:
        stub.stop()


def test_reverse_dns_failure_still_greets(own):
    stub = dnsstub.DnsStub({
        dnsstub.ptr_name("127.0.0.1"): "SERVFAIL",
    }).start()
    try:
        inst = own(config={"reverse_dns": "yes",
                           "dns_servers": stub.server})
        with Client(port(inst)) as c:
            c.ehlo()
            c.quit()
    finally:
        stub.stop()
