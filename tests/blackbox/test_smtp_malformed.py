"""test_smtp_malformed.py - malformed SMTP (SPEC.md section 3, STYLE.md
section 10): over-long lines, bare CR/LF in commands and in DATA, the
SMTP smuggling forms, huge counts, commands out of order. Each case
asserts the exact reply, that nothing was delivered, and that the
session still answers afterwards.
"""
import pytest

from smtp_helpers import (Client, body_message, finish, mail_files,
                          mx_instance, new_files, queued_id, split_message,
                          stored, messages)


@pytest.fixture(scope="module")
def mx(tls_files):
    inst = mx_instance(tls_files)
    yield inst
    finish(inst)


def port(inst):
    return inst.ports["smtp"]


def start_data(c, rcpts=("ann@acme.test",)):
    c.ehlo()
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
    for r in rcpts:
        c.expect(f"RCPT TO:<{r}>", "250 2.1.5")
    c.expect("DATA", "354 ")


# ---- command order ----

@pytest.mark.parametrize("cmds, want", [
    # before EHLO/HELO
    (["MAIL FROM:<a@example.org>"], "503 5.5.1 Error: send HELO/EHLO first"),
    (["RCPT TO:<ann@acme.test>"], "503 5.5.1 Error: send HELO/EHLO first"),
    (["DATA"], "503 5.5.1 Error: send HELO/EHLO first"),
    (["STARTTLS"], "503 5.5.1 Error: send HELO/EHLO first"),
    # after EHLO
    (["EHLO c.test", "RCPT TO:<ann@acme.test>"],
     "503 5.5.1 Error: need MAIL command"),
    (["EHLO c.test", "DATA"], "503 5.5.1 Error: need MAIL command"),
    (["EHLO c.test", "BDAT 0 LAST"], "503 5.5.1 Error: need MAIL command"),
    (["EHLO c.test", "MAIL FROM:<a@example.org>", "DATA"],
     "503 5.5.1 Error: need RCPT command"),
    (["EHLO c.test", "MAIL FROM:<a@example.org>",
      "MAIL FROM:<b@example.org>"], "503 5.5.1 Error: nested MAIL command"),
    (["EHLO c.test", "MAIL FROM:<a@example.org>",
      "RCPT TO:<ann@acme.test>", "MAIL FROM:<b@example.org>"],
     "503 5.5.1 Error: nested MAIL command"),
])
def test_wrong_order(mx, cmds, want):
    with Client(port(mx)) as c:
        for cmd in cmds[:-1]:
            assert c.cmd(cmd).code == 250
        assert c.cmd(cmds[-1]).text == want
        c.alive()


def test_wrong_order_delivers_nothing(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<ann@acme.test>\r\n"
               b"DATA\r\n")
        assert [r.code for r in c.replies(3)] == [503, 503, 503]
        c.send(body_message("never") + b".\r\n")
        # Each line of the "body" is an unknown command now.
        c.send(b"NOOP\r\n")
        rs = []
        while True:
            r = c.reply()
            rs.append(r)
            if r.code != 500:
                break
        assert rs[-1].text == "250 2.0.0 Ok" or rs[-1].code == 421
    assert new_files(mx, before) == []


@pytest.mark.parametrize("line, want", [
    ("FOO", "500 5.5.1 Command unrecognized"),
    ("FOO BAR", "500 5.5.1 Command unrecognized"),
    ("MAILFROM:<a@example.org>", "500 5.5.1 Command unrecognized"),
    (" NOOP", "500 5.5.1 Command unrecognized"),
    ("", "500 5.5.1 Command unrecognized"),
    ("NO\x00OP", "500 5.5.1 Command unrecognized"),
    ("\xff\xfe", "500 5.5.1 Command unrecognized"),
    ("EXPN staff", "502 5.5.1 Command not implemented"),
])
def test_unknown_commands(mx, line, want):
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(line.encode("latin-1") + b"\r\n")
        assert c.reply().text == want
        c.alive()


def test_verbs_are_case_insensitive(mx):
    with Client(port(mx)) as c:
        assert c.cmd("ehlo client.test").code == 250
        assert c.cmd("noop").text == "250 2.0.0 Ok"
        assert c.cmd("mail from:<a@example.org>").text == \
            "250 2.1.0 Sender ok"
        assert c.cmd("RcPt To:<ann@acme.test>").text == \
            "250 2.1.5 Recipient ok"
        assert c.cmd("rset").text == "250 2.0.0 Reset"


@pytest.mark.parametrize("line, want", [
    ("EHLO", "501 5.5.4 "),
    ("HELO", "501 5.5.4 "),
    ("EHLO bad<name>", "501 5.5.4 "),
    ("RSET now", "501 5.5.4 Syntax error: no arguments allowed"),
    ("QUIT now", "501 5.5.4 Syntax error: no arguments allowed"),
    ("VRFY", "501 5.5.4 "),
])
def test_argument_errors(mx, line, want):
    with Client(port(mx)) as c:
        c.ehlo()
        assert c.cmd(line).text.startswith(want)
        c.alive()


@pytest.mark.parametrize("line, want", [
    ("MAIL FROM:a@example.org", "501 5.1.7 "),
    ("MAIL FROM:<a@example.org", "501 5.1.7 "),
    ("MAIL TO:<a@example.org>", "501 5.5.4 "),
    ("MAIL FROM:<a@example.org>junk", "501 5.5.4 "),
    ("MAIL FROM:<a@example.org> SIZE=abc", "501 5.5.4 "),
    ("MAIL FROM:<a@example.org> SIZE=99999999999999999999999", "501 5.5.4 "),
    ("MAIL FROM:<a@example.org> SIZE=-1", "501 5.5.4 "),
    ("MAIL FROM:<a@example.org> FOO=bar", "555 5.5.4 "),
    ("MAIL FROM:<a@example.org> SIZE=10 SIZE=10", "555 5.5.4 "),
    ("MAIL FROM:<a@example.org> BODY=9BIT", "555 5.5.4 "),
    ("MAIL FROM:<a@example.org> BODY=BINARYMIME", "555 5.5.4 "),
    ("MAIL FROM:<a@example.org> =x", "501 5.5.4 "),
])
def test_mail_errors(mx, line, want):
    with Client(port(mx)) as c:
        c.ehlo()
        assert c.cmd(line).text.startswith(want)
        c.expect("MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME",
                 "250 2.1.0")
        c.alive()


@pytest.mark.parametrize("line, want", [
    ("RCPT TO:ann@acme.test", "501 5.1.3 "),
    ("RCPT TO:<ann@acme.test", "501 5.1.3 "),
    ("RCPT TO:<>", "501 5.1.3 "),
    ("RCPT FROM:<ann@acme.test>", "501 5.5.4 "),
    ("RCPT TO:<ann@acme.test>junk", "501 5.5.4 "),
    ("RCPT TO:<ann@acme.test> FOO=bar", "555 5.5.4 "),
    ("RCPT TO:<" + "a" * 65 + "@acme.test>", "501 5.1.3 "),
])
def test_rcpt_errors(mx, line, want):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        assert c.cmd(line).text.startswith(want)
        assert c.cmd("DATA").text == "503 5.5.1 Error: need RCPT command"
        c.alive()
    assert new_files(mx, before) == []


def test_rcpt_dsn_parameters_accepted(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org> RET=HDRS ENVID=abc123",
                 "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;ann@acme.test", "250 2.1.5")
        c.expect("RCPT TO: <bob@acme.test>", "250 2.1.5")


# ---- over-long command lines ----

def test_command_line_limit(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        # 510 octets + CRLF = 512: the longest command line.
        line = "NOOP " + "x" * 505
        assert len(line) == 510
        assert c.cmd(line).text == "250 2.0.0 Ok"
        # 513 octets with CRLF: refused, the session goes on.
        assert c.cmd(line + "x").text.startswith("500 5.5.2 ")
        c.alive()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")


@pytest.mark.parametrize("size, pieces", [
    (600, 1), (5000, 1), (100000, 1), (100000, 50), (300000, 7)])
def test_over_long_command_line_one_reply(mx, size, pieces):
    """However it arrives, an over-long line gets exactly one 500 5.5.2
    and nothing of it runs as a command."""
    with Client(port(mx)) as c:
        c.ehlo()
        # The tail of the line looks like a command: it must not run.
        data = b"NOOP " + b"x" * (size - 20) + b" QUIT\r\n"
        step = len(data) // pieces + 1
        for i in range(0, len(data), step):
            c.send(data[i:i + step])
        assert c.reply().text.startswith("500 5.5.2 ")
        c.alive()
        c.no_more()


def test_over_long_line_then_pipelined_commands(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"X" * 2000 + b"\r\nNOOP\r\nMAIL FROM:<a@example.org>\r\n")
        assert c.reply().text.startswith("500 5.5.2 ")
        assert c.reply().text == "250 2.0.0 Ok"
        assert c.reply().text == "250 2.1.0 Sender ok"


# ---- bare CR / LF in commands ----
#
# SPEC section 3: a line ends only at CRLF. A bare CR or LF never splits
# a command line: the line up to its CRLF is one bad line, one 500 5.5.2,
# and nothing behind the bare line end is executed.

BARE_REPLY = "500 5.5.2 Bare CR or LF in command; lines must end with CRLF"


@pytest.mark.parametrize("data", [
    b"NOOP\n\r\n",
    b"NOOP\r\r\n",
    b"NO\rOP\r\n",
    b"\n\r\n",
    b"\r\r\n",
    b"RSET\rQUIT\r\n",           # smuggled QUIT behind a bare CR
    b"RSET\nQUIT\r\n",           # smuggled QUIT behind a bare LF
    b"RSET\nQUIT\nQUIT\r\n",
    b"NOOP\n.\nQUIT\r\n",
    b"a\rb\nc\r\r\n",
])
def test_bare_cr_lf_in_commands(mx, data):
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(data)
        # Exactly one reply for the one bad line.
        assert c.reply().text == BARE_REPLY
        c.no_more()
        # QUIT was never executed: the session is open.
        c.alive()
        c.no_more()


@pytest.mark.parametrize("sep", [b"\n", b"\r", b"\n\r", b"\r\r"])
def test_bare_line_end_does_not_split_a_pipelined_command(mx, sep):
    """The smuggled RCPT behind a bare line end is never executed."""
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.send(b"NOOP" + sep + b"RCPT TO:<ann@acme.test>\r\n")
        assert c.reply().text == BARE_REPLY
        c.no_more()
        # No recipient was accepted.
        assert c.cmd("DATA").text == "503 5.5.1 Error: need RCPT command"
        c.alive()


def test_bare_lf_does_not_end_a_pipelined_mail(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@example.org>\nRCPT TO:<ann@acme.test>\r\n")
        assert c.reply().text == BARE_REPLY
        c.no_more()
        assert c.cmd("RCPT TO:<ann@acme.test>").text == \
            "503 5.5.1 Error: need MAIL command"
        c.alive()


def test_bare_lf_waits_for_crlf(mx):
    """A bare LF ends nothing: no reply until the CRLF, then one."""
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"NOOP\n")
        c.no_more()
        c.send(b"RCPT TO:<ann@acme.test>\n")
        c.no_more()
        c.send(b"NOOP\r")               # a CR that may be followed by LF
        c.no_more()
        c.send(b"\n")
        assert c.reply().text == BARE_REPLY
        c.no_more()
        c.alive()


def test_over_long_line_with_bare_lfs(mx):
    """The length limit holds for the whole bad line: one 500 5.5.2 for
    it, and none of the commands behind its bare LFs runs."""
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.send(b"NOOP\n" + b"x" * 300 + b"\nRCPT TO:<ann@acme.test>\n" +
               b"y" * 300 + b"\nQUIT\r")
        c.send(b"\nNOOP\r\n")
        # Too long for any command but RCPT (1012 octets with ORCPT, RFC
        # 3461), so the bare LFs are what the reply names.
        assert c.reply().text.startswith("500 5.5.2 ")
        assert c.reply().text == "250 2.0.0 Ok"
        c.no_more()
        assert c.cmd("DATA").text == "503 5.5.1 Error: need RCPT command"
        c.alive()


def test_bare_lf_in_auth_response(mx):
    """A SASL response holding a bare LF is one bad line; the exchange
    ends and the session answers."""
    with Client(port(mx)) as c:
        c.ehlo()
        assert c.cmd("AUTH LOGIN").text.startswith("334 ")
        c.send(b"YW5u\nNOOP\r\n")
        assert c.reply().text == BARE_REPLY
        c.no_more()
        c.alive()


# ---- DATA: bare CR/LF, smuggling, long lines ----

SMUGGLED = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@acme.test>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n")


@pytest.mark.parametrize("end", [b"\n.\n", b"\r\n.\n", b"\n.\r\n",
                                 b"\r.\r\n", b"\r\n.\r", b"\r.\r"])
def test_smuggling(mx, end):
    """A fake end of DATA never ends it: the smuggled transaction is
    body text, and the message as a whole is refused (bare CR/LF)."""
    before = mail_files(mx)
    start = len(mx.log())
    with Client(port(mx)) as c:
        start_data(c)
        c.send(b"Subject: first\r\n\r\nhello" + end + SMUGGLED +
               b".\r\n")
        r = c.reply()
        assert r.text.startswith("550 5.6.0 "), r
        # Nothing of the smuggled transaction was answered.
        c.no_more()
        c.alive()
        # The session still works.
        queued_id(c.transaction("a@example.org", ["carol@acme.test"],
                                body_message("after smuggling")))
    files = new_files(mx, before)
    assert len(files) == 1 and "/carol/new/" in files[0], files
    log = mx.log()[start:]
    assert "evil@example.org" not in log
    assert "reason=bare-cr-lf" in log


@pytest.mark.parametrize("end", [b"\n.\n", b"\r\n.\n", b"\n.\r\n"])
def test_smuggling_in_separate_writes(mx, end):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        start_data(c)
        c.send(b"Subject: first\r\n\r\nhello")
        for b in end:
            c.send(bytes([b]))
        for i in range(0, len(SMUGGLED), 7):
            c.send(SMUGGLED[i:i + 7])
        c.send(b".\r\n")
        assert c.reply().text.startswith("550 5.6.0 ")
        c.no_more()
        c.alive()
    assert new_files(mx, before) == []


@pytest.mark.parametrize("body", [
    b"Subject: x\r\n\r\nbare\nLF\r\n",
    b"Subject: x\r\n\r\nbare\rCR\r\n",
    b"Subject: x\r\n\r\nends in CR CR\r\r\n",
    b"Subject: x\nTo: y\r\n\r\nheader\r\n",
    b"\n\r\n",
])
def test_bare_cr_lf_in_data_refused(mx, body):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        start_data(c, ["ann@acme.test", "bob@acme.test"])
        c.send(body + b".\r\n")
        r = c.reply()
        assert r.text.startswith("550 5.6.0 "), r
        c.alive()
    assert new_files(mx, before) == []


def test_bare_cr_lf_in_bdat_refused(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        data = b"Subject: x\r\n\r\nbare\nLF\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        assert c.reply().text.startswith("550 5.6.0 ")
        c.alive()
    assert new_files(mx, before) == []


def test_text_line_limit(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        # 998 octets + CRLF = 1000: the longest text line.
        ok = b"Subject: long\r\n\r\n" + b"a" * 998 + b"\r\n"
        # ... also when its first octet is a stuffed dot.
        ok += b"." + b"." + b"b" * 996 + b"\r\n"
        queued_id(c.transaction("a@example.org", ["ann@acme.test"], ok))
        bad = b"Subject: long\r\n\r\n" + b"a" * 999 + b"\r\nshort\r\n"
        r = c.transaction("a@example.org", ["ann@acme.test"], bad)
        assert r.text.startswith("500 5.5.2 "), r
        c.alive()
        # Long header line too.
        bad = b"Subject: " + b"h" * 2000 + b"\r\n\r\nbody\r\n"
        r = c.transaction("a@example.org", ["ann@acme.test"], bad)
        assert r.text.startswith("500 5.5.2 "), r
        c.alive()
    files = new_files(mx, before)
    assert len(files) == 1
    content = open(files[0], "rb").read()
    assert split_message(content)[1] == stored(ok)


def test_huge_line_in_data_is_read_to_the_end(mx):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        start_data(c)
        c.send(b"Subject: huge\r\n\r\n")
        chunk = b"z" * 65536
        for _ in range(40):          # 2.5 MB in one line
            c.send(chunk)
        c.send(b"\r\n.\r\n")
        assert c.reply().text.startswith("500 5.5.2 ")
        c.alive()
    assert new_files(mx, before) == []


# ---- huge counts ----

@pytest.mark.parametrize("arg", ["abc", "-1", "1 FIRST", "",
                                 "99999999999999999999999",
                                 "10 LAST extra"])
def test_bad_bdat_argument(mx, arg):
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        r = c.cmd(("BDAT " + arg).rstrip())
        # RFC 3030: the chunk cannot be found any more; the session ends.
        assert r.text.startswith("501 5.5.4 "), r
        assert c.closed()
    assert new_files(mx, before) == []


def test_huge_bdat_size_is_refused_at_the_end(mx):
    """A huge BDAT size is read (and counted against the size limit), not
    allocated up front; the client gone, nothing is delivered."""
    before = mail_files(mx)
    with Client(port(mx)) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@example.org>", "250 2.1.0")
        c.expect("RCPT TO:<ann@acme.test>", "250 2.1.5")
        c.send(b"BDAT 18446744073709551615 LAST\r\n" + b"x" * 1000)
        c.no_more(0.3)
    assert mx.running
    assert new_files(mx, before) == []


def test_huge_size_parameter(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@example.org> SIZE=18446744073709551615")
        assert r.text.startswith("552 5.3.4 "), r
        c.alive()


def test_many_commands_in_one_write(mx):
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"NOOP\r\n" * 2000)
        for _ in range(2000):
            assert c.reply().text == "250 2.0.0 Ok"
        c.no_more()


def test_messages_after_errors(mx):
    """A session with every kind of refusal still delivers intact."""
    before = mail_files(mx)
    data = body_message("survivor", b".\r\n..\r\nend\r\n".replace(
        b".\r\n..", b"..\r\n..."))
    with Client(port(mx)) as c:
        c.ehlo()
        c.send(b"X" * 1000 + b"\r\n")
        assert c.reply().code == 500
        c.send(b"NOOP\n\r\n")       # one bad line: a bare LF ends nothing
        assert c.reply().code == 500
        r = c.transaction("a@example.org", ["ann@acme.test"],
                          b"bad\nbody\r\n")
        assert r.code == 550
        queued_id(c.transaction("a@example.org", ["ann@acme.test"], data))
    files = new_files(mx, before)
    assert len(files) == 1
    content = open(files[0], "rb").read()
    assert split_message(content)[1] == stored(data)
    assert messages(mx, "ann@acme.test")


def test_every_reply_has_an_enhanced_code(tls_files):
    """RFC 2034: every reply but the greeting, the answers to EHLO and
    HELO and 354 carries an enhanced status code."""
    import re
    cmds = [b"NOOP", b"MAIL FROM:<a@example.org>", b"EHLO c.test",
            b"FOO", b"X" * 600, b"NOOP\n\r\n", b"RCPT TO:<ann@acme.test>",
            b"DATA", b"MAIL FROM:<a@example.org> SIZE=x",
            b"MAIL FROM:<a@example.org> FOO=1", b"MAIL FROM:a",
            b"MAIL FROM:<a@example.org> SIZE=999999999999",
            b"MAIL FROM:<a@example.org>", b"MAIL FROM:<b@example.org>",
            b"RCPT TO:<nobody@acme.test>", b"RCPT TO:<x@elsewhere.test>",
            b"RCPT TO:bad", b"DATA", b"STARTTLS", b"RCPT TO:<ann@acme.test>",
            b"VRFY ann", b"HELP", b"EXPN x", b"RSET", b"BDAT 0 LAST",
            b"QUIT"]
    inst = mx_instance(tls_files, config={"max_errors": "1000"})
    try:
        rs = session_replies(inst, cmds)
    finally:
        finish(inst)
    assert len(rs) == len(cmds), rs
    for cmd, r in zip(cmds, rs):
        if cmd.startswith(b"EHLO"):
            assert r.code == 250
            continue
        for line in r.raw:
            assert re.match(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3} ",
                            line), (cmd, line)
        assert str(r.code)[0] == r.raw[0][4], (cmd, r)


def session_replies(inst, cmds):
    with Client(port(inst)) as c:
        c.send(b"".join(x + (b"" if x.endswith(b"\n") else b"\r\n")
                        for x in cmds))
        rs = []
        while True:
            r = c.reply()
            rs.append(r)
            if r.code in (221, 421):
                break
        assert c.closed()
    return rs
