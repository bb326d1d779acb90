"""Malformed and unusual POP3 input (STYLE.md section 10): pipelining,
over-long lines, bare line ends, too many errors, timeouts, a client
that goes away; each checks the exact reply and that the server still
answers afterwards."""
import signal
import socket
import time

import pytest

from pop3_helpers import (PASS, USER, Client, message, message_files,
                          plain, put_file, retr_form, start_pop3, unstuff)


@pytest.fixture
def srv(make_instance):
    return start_pop3(make_instance, {"auth_failure_delay": "0",
                                      "max_errors": "10"})


def alive(inst):
    """The server still serves a fresh session."""
    with Client(inst.ports["pop3"], source="127.0.0.99") as c:
        assert c.ok("CAPA")
        c.multi()
        c.ok("QUIT")


def test_pipelining(srv):
    data = message("piped", body=".dot\nline\n")
    put_file(srv, data)
    with Client(srv.ports["pop3"]) as c:
        c.send(f"CAPA\r\nUSER {USER}\r\nPASS {PASS}\r\nSTAT\r\nLIST\r\n"
               f"UIDL\r\nRETR 1\r\nTOP 1 0\r\nNOOP\r\nDELE 1\r\nSTAT\r\n"
               f"RSET\r\nLIST 1\r\nQUIT\r\n")
        assert c.line().startswith("+OK")
        assert "PIPELINING" in c.multi()
        assert c.line() == "+OK"
        assert c.line() == "+OK Logged in, 1 message(s)"
        size = len(retr_form(data))
        assert c.line() == f"+OK 1 {size}"
        assert c.line().startswith("+OK 1 messages")
        assert c.multi() == [f"1 {size}"]
        assert c.line().startswith("+OK")
        assert len(c.multi()) == 1
        assert c.line() == f"+OK {size} octets"
        assert b"".join(unstuff(l) for l in c.multi_raw()) == \
            retr_form(data)
        assert c.line() == "+OK"
        assert c.multi()[-1] == ""
        assert c.line() == "+OK"                   # NOOP
        assert c.line() == "+OK Marked to be deleted"
        assert c.line() == "+OK 0 0"
        assert c.line() == f"+OK 1 messages ({size} octets)"
        assert c.line() == f"+OK 1 {size}"
        assert c.line() == "+OK Logging out"
        assert c.closed()
    assert len(message_files(srv)) == 1


def test_pipelining_across_a_failed_login(srv):
    """Commands behind a failed login wait for its delayed answer, in
    order."""
    with Client(srv.ports["pop3"]) as c:
        c.send(f"USER {USER}\r\nPASS bad\r\nUSER {USER}\r\nPASS {PASS}\r\n"
               f"STAT\r\nQUIT\r\n")
        assert [c.line() for _ in range(6)] == [
            "+OK", "-ERR [AUTH] Authentication failed", "+OK",
            "+OK Logged in, 0 message(s)", "+OK 0 0", "+OK Logging out"]


def test_pipelined_large_retrievals(srv):
    """More output than the server buffers per session (256 KiB): every
    reply arrives whole and in order while the client reads late."""
    big = b"Subject: big\n\n" + b"".join(b"%07d %s\n" % (i, b"y" * 60)
                                          for i in range(8000))
    put_file(srv, big)
    with Client(srv.ports["pop3"]) as c:
        c.login()
        c.send("RETR 1\r\nLIST\r\nRETR 1\r\nTOP 1 2\r\n" +
               "NOOP\r\n" * 2000 + "QUIT\r\n")
        time.sleep(0.3)
        want = retr_form(big)
        assert c.line() == f"+OK {len(want)} octets"
        assert b"".join(unstuff(l) for l in c.multi_raw()) == want
        assert c.line().startswith("+OK 1 messages")
        c.multi()
        assert c.line() == f"+OK {len(want)} octets"
        assert b"".join(unstuff(l) for l in c.multi_raw()) == want
        c.line()
        assert c.multi_raw()[-1] == b"0000001 " + b"y" * 60 + b"\r\n"
        for _ in range(2000):
            assert c.line() == "+OK"
        assert c.line() == "+OK Logging out"
        assert c.closed()


def test_line_length_limit(srv):
    """Command lines are at most 255 octets with CRLF (RFC 2449)."""
    with Client(srv.ports["pop3"]) as c:
        # 255 octets: read as a command (an unknown one).
        assert c.cmd("X" * 253).startswith("-ERR Unknown command")
        # 256 octets: too long, whatever it says.
        assert c.cmd("NOOP " + "x" * 249) == \
            "-ERR Line too long (at most 255 octets)"
        assert c.cmd(f"USER {'a' * 300}@acme.test").startswith(
            "-ERR Line too long")
        # A huge line in pieces: one error, and the tail of it is not
        # read as commands.
        c.send("STAT " + "y" * 20000)
        c.send("z" * 20000 + "\r\nCAPA\r\n")
        assert c.line().startswith("-ERR Line too long")
        assert c.line().startswith("+OK")
        c.multi()
        c.login()
        c.quit()


BARE = "-ERR Lines must end with CRLF"


def test_bare_line_ends(srv):
    """SPEC section 3: a line ends only at CRLF. A bare CR or LF never
    splits a command line: the line up to its CRLF is one bad line, one
    -ERR, and nothing behind the bare line end runs."""
    put_file(srv, message("keep me"))
    with Client(srv.ports["pop3"]) as c:
        c.send("CAPA\n")
        c.silent(0.3)               # a bare LF ends nothing
        c.send("NOOP\rQUIT\r\n")
        assert c.line() == BARE     # one error for the whole line
        c.silent(0.3)
        c.send(f"NOOP\nUSER {USER}\r\n")
        assert c.line() == BARE
        c.silent(0.3)
        # The smuggled USER was not run.
        assert c.cmd(f"PASS {PASS}") == \
            "-ERR No user name given: send USER first"
        c.send(f"USER {USER}\r\n")
        assert c.line() == "+OK"
        c.send(f"PASS {PASS}\nSTAT\r\n")
        assert c.line() == BARE
        c.silent(0.3)
        c.send(f"PASS {PASS}\r\n")
        assert c.line().startswith("+OK Logged in")
        # In the TRANSACTION state: the smuggled DELE does not run.
        c.send("NOOP\rDELE 1\r\n")
        assert c.line() == BARE
        c.send("NOOP\nDELE 1\nQUIT\r\n")
        assert c.line() == BARE
        c.silent(0.3)
        assert c.ok("LIST 1").startswith("+OK 1 ")
        c.quit()
    assert len(message_files(srv)) == 1


def test_bare_line_end_over_long(srv):
    """The length limit holds for the whole bad line: one error, and the
    commands behind its bare LFs do not run."""
    with Client(srv.ports["pop3"]) as c:
        c.send("NOOP\n" + "x" * 200 + f"\nUSER {USER}\n" + "y" * 200 +
               "\nQUIT\r")
        c.send("\nCAPA\r\n")
        assert c.line().startswith("-ERR Line too long")
        assert c.line().startswith("+OK")
        c.multi()
        c.silent(0.3)
        assert c.cmd(f"PASS {PASS}") == \
            "-ERR No user name given: send USER first"
        c.login()
        c.quit()


def test_bare_line_end_in_auth_response(srv):
    """A SASL response with a bare LF is one bad line and ends the
    exchange: the next line is a command again."""
    with Client(srv.ports["pop3"]) as c:
        assert c.cmd("AUTH PLAIN").startswith("+")
        c.send(plain() + "\nNOOP\r\n")
        assert c.line() == BARE
        c.silent(0.3)
        c.ok("CAPA")
        c.multi()
        c.login()
        c.quit()


def test_odd_bytes(srv):
    with Client(srv.ports["pop3"]) as c:
        c.send(b"CAPA\0\r\n")
        assert c.line().startswith("-ERR")
        c.send(b"\xff\xfe\r\n")
        assert c.line().startswith("-ERR Unknown command")
        c.send(b"USER ann\0@acme.test\r\nPASS s3cret\r\n")
        c.line()
        assert c.line().startswith("-ERR")
        c.login()
        c.send(b"LIST\0\r\n")
        r = c.line()
        if r.startswith("+OK"):
            c.multi()
        c.send(b"RETR \x001\r\n")
        assert c.line().startswith("-ERR")
        c.quit()


def test_too_many_errors(srv):
    """max_errors (10) bad commands close the session; 9 do not."""
    with Client(srv.ports["pop3"]) as c:
        for i in range(9):
            c.err(f"BOGUS{i}")
        c.ok("CAPA")
        c.multi()
        c.send("BOGUS9\r\n")
        assert c.line() == "-ERR Unknown command: BOGUS9"
        assert c.line() == "-ERR Too many bad commands, closing"
        assert c.closed()
        assert c.buf == b""
    # Errors of every kind count: wrong state, bad argument, long line.
    with Client(srv.ports["pop3"]) as c:
        c.send("STAT\r\nRETR 1\r\nUSER\r\nCAPA x\r\n" + "L" * 300 +
               "\r\nNOOP\n" + "AUTH PLAIN !!\r\nAUTH FOO\r\nPASS x\r\n"
               "STLS x\r\nNOOP\r\n")
        lines = [c.line() for _ in range(11)]
        assert all(l.startswith("-ERR") for l in lines), lines
        assert lines[-1] == "-ERR Too many bad commands, closing"
        assert c.closed()
    alive(srv)


def test_too_many_errors_after_login(srv):
    put_file(srv, message())
    with Client(srv.ports["pop3"]) as c:
        c.login()
        c.ok("DELE 1")
        c.send("RETR 0\r\n" * 12)
        lines = [c.line() for _ in range(11)]
        assert lines[-1] == "-ERR Too many bad commands, closing"
        assert c.closed()
        assert c.buf == b""
    # No UPDATE state: the message is still there.
    with Client(srv.ports["pop3"]) as c:
        assert c.login() == "+OK Logged in, 1 message(s)"
        c.quit()


def test_closing_replies_after_stls(srv):
    """The last reply before the server hangs up is delivered over TLS
    (STLS) as over plain TCP: QUIT, too many errors, failed logins."""
    with Client(srv.ports["pop3"]) as c:
        c.starttls()
        assert c.cmd("QUIT") == "+OK Bye"
        assert c.closed()
    with Client(srv.ports["pop3"]) as c:
        c.starttls()
        for i in range(9):
            c.err(f"BOGUS{i}")
        c.send("BOGUS9\r\n")
        assert c.line() == "-ERR Unknown command: BOGUS9"
        assert c.line() == "-ERR Too many bad commands, closing"
        assert c.closed()
    with Client(srv.ports["pop3"]) as c:
        c.starttls()
        for _ in range(3):
            c.ok(f"USER {USER}")
            assert c.cmd("PASS bad") == "-ERR [AUTH] Authentication failed"
        assert c.closed()
    put_file(srv, message())
    with Client(srv.ports["pop3"]) as c:
        c.starttls()
        c.login()
        c.ok("DELE 1")
        assert c.cmd("QUIT") == "+OK Logging out, 1 message(s) deleted"
        assert c.closed()
    assert message_files(srv) == []


def test_quit_before_login(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.cmd("QUIT") == "+OK Bye"
        assert c.closed()
    with Client(srv.ports["pop3"]) as c:
        c.ok(f"USER {USER}")
        assert c.cmd("quit") == "+OK Bye"
        assert c.closed()


def test_timeout(make_instance):
    inst = start_pop3(make_instance, {"pop3_timeout": "1s"})
    with Client(inst.ports["pop3"]) as c:
        t0 = time.monotonic()
        assert c.line() == "-ERR Disconnected for inactivity"
        assert c.closed()
        assert 0.8 < time.monotonic() - t0 < 5
    with Client(inst.ports["pop3"]) as c:
        c.starttls()
        assert c.line() == "-ERR Disconnected for inactivity"
        assert c.closed()
    # Activity keeps a session open past the timeout.
    with Client(inst.ports["pop3"]) as c:
        c.login()
        for _ in range(4):
            time.sleep(0.4)
            c.ok("NOOP")
        c.quit()


def test_client_vanishes_everywhere(srv):
    """Connections dropped in every state leave no trace: the mailbox
    lock is released, the server keeps serving, a clean stop."""
    put_file(srv, message(body="x\n" * 100000))
    cases = ["", f"USER {USER}\r\n", "AUTH PLAIN\r\n", "STLS\r\n",
             f"USER {USER}\r\nPASS bad\r\n", f"USER {USER}\r\nPASS {PASS}\r\n",
             f"USER {USER}\r\nPASS {PASS}\r\nRETR 1\r\n",
             f"USER {USER}\r\nPASS {PASS}\r\nDELE 1\r\nQUIT\r\n"]
    for data in cases[:-1]:
        c = Client(srv.ports["pop3"], greeting=False)
        c.send(data)
        time.sleep(0.05)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    deadline = time.monotonic() + 5
    while True:
        with Client(srv.ports["pop3"]) as c:
            c.ok(f"USER {USER}")
            r = c.cmd(f"PASS {PASS}")
            if r.startswith("+OK"):
                assert r == "+OK Logged in, 1 message(s)"
                c.quit()
                break
        assert r.startswith("-ERR [IN-USE]") and \
            time.monotonic() < deadline, r
        time.sleep(0.05)
    alive(srv)


def test_shutdown_with_open_sessions(srv):
    """SIGTERM with sessions in both states: nothing is deleted, the
    sessions are told, and the exit is clean (no leak reports)."""
    put_file(srv, message())
    a = Client(srv.ports["pop3"])
    a.login()
    a.ok("DELE 1")
    b = Client(srv.ports["pop3"], source="127.0.0.2")
    b.ok(f"USER {USER}")
    c = Client(srv.ports["pop3s"], source="127.0.0.3", tls=True)
    c.ok("CAPA")
    c.multi()
    srv.stop()
    for cl in (a, b, c):
        assert cl.closed()
        assert cl.buf == b"-ERR [SYS/TEMP] Server shutting down\r\n"
        cl.close()
    assert len(message_files(srv)) == 1


def test_shutdown_with_stls_session(srv):
    """The shutdown notice reaches a session that did STLS too."""
    with Client(srv.ports["pop3"]) as c:
        c.starttls()
        c.ok("CAPA")
        c.multi()
        srv.send_signal(signal.SIGTERM)
        assert c.closed()
        assert c.buf == b"-ERR [SYS/TEMP] Server shutting down\r\n"
    srv.stop()      # exits 0, nothing leaked
