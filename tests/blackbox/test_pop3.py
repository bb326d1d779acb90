"""POP3 commands and the Maildir as a maildrop (SPEC section 5, RFC 1939,
RFC 2449): every command in both states, bad arguments, sizes equal to
the octets RETR sends, TOP, UIDL stability, DELE/RSET/QUIT, one session
per mailbox."""
import os
import smtplib
import socket
import time

import pytest

from pop3_helpers import (PASS, TIMEOUT, USER, Client, maildir_files,
                          message, message_files, plain, put_file, retr_form,
                          start_pop3, top_form, wait_for)

ALL_CAPA_AUTHZ = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                  "PIPELINING", "USER", "SASL PLAIN", "STLS",
                  "IMPLEMENTATION popgate"]
ALL_CAPA_TRANS = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                  "PIPELINING", "IMPLEMENTATION popgate"]

# Message files as a Maildir tool might leave them: bare LF, CRLF, lines
# starting with ".", no final line end, an empty body, a lone CR.
FILES = {
    "lf": b"From: a@example.org\nSubject: lf\n\nline 1\nline 2\n",
    "crlf": b"From: a@example.org\r\nSubject: crlf\r\n\r\nline 1\r\n",
    "dots": (b"From: a@example.org\nSubject: dots\n\n.\n..\n.hidden\n"
             b"a.b\n. \n...\n"),
    "no-final-newline": b"From: a@example.org\nSubject: nf\n\nno end",
    "no-body": b"From: a@example.org\nSubject: headers only\n",
    "mixed": b"From: a@example.org\r\nSubject: mixed\n\r\none\r\ntwo\n.\r\n",
    "lone-cr": b"From: a@example.org\nSubject: cr\n\nx\ry\n",
    "empty-lines": b"From: a@example.org\n\n\n\n\nafter blanks\n",
    "dot-no-newline": b"From: a@example.org\n\n.",
}


@pytest.fixture
def srv(make_instance):
    """ann's server, with room for many bad commands per session."""
    return start_pop3(make_instance, {"max_errors": "100"})


def test_greeting_and_capa(srv):
    with Client(srv.ports["pop3"]) as c:
        assert c.greeting == "+OK popgate POP3 ready"
        assert c.capa() == ALL_CAPA_AUTHZ
        c.login()
        assert c.capa() == ALL_CAPA_TRANS
        c.quit()


def test_commands_before_login(srv):
    with Client(srv.ports["pop3"]) as c:
        for cmd in ("STAT", "LIST", "LIST 1", "UIDL", "UIDL 1", "RETR 1",
                    "TOP 1 0", "DELE 1", "RSET", "NOOP"):
            assert "not valid before login" in c.err(cmd), cmd
        c.err("APOP ann@acme.test c4c9334bac560ecc979e58001b3e22fb")
        assert c.err("XYZZY") == "-ERR Unknown command: XYZZY"
        c.err("")
        c.err(" STAT")
        c.err("PASS s3cret")                # no USER yet
        c.err("USER")                       # needs an argument
        c.err("PASS")
        c.err("CAPA extra")
        c.err("STLS extra")
        c.err("QUIT now")
        c.err("AUTH XOAUTH2")
        c.ok("AUTH")                        # lists the mechanisms
        assert c.multi() == ["PLAIN"]
        # Still in the AUTHORIZATION state, and nothing was closed.
        assert c.capa() == ALL_CAPA_AUTHZ
        # Command names are case-insensitive.
        c.ok(f"user {USER}")
        c.ok(f"pAsS {PASS}")
        c.ok("stat")
        c.quit()


def test_commands_after_login(srv):
    put_file(srv, message())
    with Client(srv.ports["pop3"]) as c:
        c.login()
        for cmd in (f"USER {USER}", f"PASS {PASS}", f"AUTH PLAIN {plain()}",
                    "AUTH", "STLS"):
            assert "not valid after login" in c.err(cmd), cmd
        for cmd in ("STAT x", "RSET x", "NOOP x", "QUIT x", "CAPA x",
                    "RETR", "DELE", "TOP", "XYZZY"):
            c.err(cmd)
        assert c.ok("NOOP") == "+OK"
        assert c.stat()[0] == 1
        c.quit()


@pytest.mark.parametrize("cmd", ["RETR", "DELE", "LIST", "UIDL"])
def test_bad_message_numbers(srv, cmd):
    put_file(srv, message("one"))
    put_file(srv, message("two"))
    with Client(srv.ports["pop3"]) as c:
        c.login()
        for arg in ("0", "3", "99", "x", "-1", "+1", "1.0", "1 1", "0x1",
                    " 1", "1 ", "18446744073709551615",
                    "18446744073709551616", "9" * 40):
            c.err(f"{cmd} {arg}")
        c.ok("DELE 2")
        r = c.err(f"{cmd} 2")
        assert "deleted" in r
        # Nothing above changed anything.
        assert c.stat()[0] == 1
        c.ok("RSET")
        assert c.stat()[0] == 2
        c.ok(f"{cmd} 2")
        if cmd == "RETR":
            c.multi()
        c.quit()


def test_top_bad_arguments(srv):
    put_file(srv, message())
    with Client(srv.ports["pop3"]) as c:
        c.login()
        for arg in ("", "1", "0 0", "2 0", "x 0", "1 x", "1 -1", "1 +1",
                    "1 1 1", "1  1", "-1 0", "1 99999999999999999999"):
            c.err(f"TOP {arg}".rstrip())
        c.ok("DELE 1")
        assert "deleted" in c.err("TOP 1 0")
        c.ok("RSET")
        c.ok("TOP 1 0")
        c.multi()
        c.quit()


def test_empty_mailbox(srv):
    """A mailbox that has no message, with and without cur/ and new/."""
    for step in ("fresh", "no-dirs"):
        with Client(srv.ports["pop3"]) as c:
            assert c.login() == "+OK Logged in, 0 message(s)"
            assert c.stat() == (0, 0)
            assert c.list() == {}
            assert c.uidl() == {}
            assert c.ok("LIST") == "+OK 0 messages (0 octets)"
            assert c.multi() == []
            c.err("RETR 1")
            c.err("TOP 1 0")
            c.err("DELE 1")
            c.ok("RSET")
            c.quit()
        for d in ("cur", "new", "tmp"):
            p = os.path.join(srv.maildir(USER), d)
            if os.path.isdir(p):
                os.rmdir(p)


def test_sizes_equal_retr_octets(srv):
    names = {}
    for key, data in FILES.items():
        names[key] = put_file(srv, data, name=f"1000000{len(names)}.{key}")
    big = b"".join(b"Line %05d of a long message\n" % i
                   for i in range(10000))
    big = b"From: a@example.org\nSubject: big\n\n" + big + b".\n..x\n"
    names["big"] = put_file(srv, big, name="1000009.big", sub="cur")
    files = {**FILES, "big": big}
    order = sorted(names, key=lambda k: names[k])
    with Client(srv.ports["pop3"]) as c:
        c.login()
        sizes = c.list()
        assert len(sizes) == len(files)
        assert c.stat() == (len(files), sum(sizes.values()))
        for i, key in enumerate(order, 1):
            want = retr_form(files[key])
            got = c.retr(i)
            assert got == want, key
            assert sizes[i] == len(want), key
            assert c.ok(f"LIST {i}") == f"+OK {i} {len(want)}"
        c.quit()
    # A second session reads the sizes from the index, not the files:
    # they must still be right.
    with Client(srv.ports["pop3"]) as c:
        c.login()
        assert c.list() == sizes
        c.quit()


def test_retr_dot_stuffing_on_the_wire(srv):
    put_file(srv, FILES["dots"])
    with Client(srv.ports["pop3"]) as c:
        c.login()
        c.ok("RETR 1")
        assert c.multi_raw() == [
            b"From: a@example.org\r\n", b"Subject: dots\r\n", b"\r\n",
            b"..\r\n", b"...\r\n", b"..hidden\r\n", b"a.b\r\n", b".. \r\n",
            b"....\r\n"]
        c.ok("TOP 1 1")
        assert c.multi_raw()[-1] == b"..\r\n"
        c.quit()


def test_message_delivered_by_smtp(srv):
    body = "Subject: via smtp\r\n\r\n.leading dot\r\nbye\r\n"
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=TIMEOUT) as s:
        s.sendmail("bob@example.org", [USER], body)
    files = maildir_files(srv)
    assert len(files["new"]) == 1
    uniq = files["new"][0].split(",")[0]
    with Client(srv.ports["pop3"]) as c:
        c.login()
        got = c.retr(1)
        assert got.endswith(b"\r\n.leading dot\r\nbye\r\n")
        assert c.list() == {1: len(got)}
        assert c.uidl() == {1: uniq}
        c.quit()


@pytest.mark.parametrize("data", [FILES["lf"], FILES["dots"],
                                  FILES["no-final-newline"], FILES["mixed"],
                                  FILES["no-body"], FILES["empty-lines"]],
                         ids=["lf", "dots", "nf", "mixed", "nobody",
                              "blanks"])
def test_top(srv, data):
    put_file(srv, data)
    with Client(srv.ports["pop3"]) as c:
        c.login()
        for n in (0, 1, 2, 3, 100, 1000000000):
            assert c.top(1, n) == top_form(data, n), n
        # TOP neither counts as a retrieval nor changes the sizes.
        assert c.list()[1] == len(retr_form(data))
        c.quit()


def test_top_headers_longer_than_a_read(srv):
    """TOP finds the end of the headers when a header line's CR and LF
    fall into different reads of the file (64 KiB apart)."""
    head = b"From: a@example.org\r\n"
    filler = b"X-Filler: " + b"f" * 60 + b"\r\n"
    while len(head) + len(filler) < 65536 - 100:
        head += filler
    # One header that puts its CR at offset 65535, its LF at 65536.
    last = b"X-Last: " + b"l" * (65535 - len(head) - 8) + b"\r\n"
    head += last
    assert head[65535:65537] == b"\r\n"
    data = head + b"X-After: 1\r\n\r\nbody 1\r\nbody 2\r\n"
    put_file(srv, data)
    with Client(srv.ports["pop3"]) as c:
        c.login()
        assert c.top(1, 0) == top_form(data, 0)
        assert c.top(1, 1) == top_form(data, 1)
        assert c.retr(1) == data
        c.quit()


def test_uidl_stable(srv):
    """UIDLs are the unique part of the file name: the same in new/ and
    cur/ (popgate leaves files where they are; another Maildir reader may
    move them), across sessions and restarts."""
    u_new = put_file(srv, message("in new"), name="1700000001.a1.host")
    u_cur = put_file(srv, message("in cur"), name="1700000002.a2.host",
                     sub="cur")
    put_file(srv, message("flags"), name="1700000003.a3.host,S=123")
    u_flags = "1700000003.a3.host"
    with Client(srv.ports["pop3"]) as c:
        c.login()
        first = c.uidl()
        assert sorted(first.values()) == sorted([u_new, u_cur, u_flags])
        assert all(c.ok(f"UIDL {n}") == f"+OK {n} {u}"
                   for n, u in first.items())
        c.quit()
    files = maildir_files(srv)
    assert files["new"] == ["1700000001.a1.host", "1700000003.a3.host,S=123"]
    assert files["cur"] == ["1700000002.a2.host:2,"]
    # Another reader (Dovecot, mutt) moves a message and sets a flag.
    md = srv.maildir(USER)
    os.rename(os.path.join(md, "new", "1700000001.a1.host"),
              os.path.join(md, "cur", "1700000001.a1.host:2,S"))
    with Client(srv.ports["pop3"]) as c:
        c.login()
        assert c.uidl() == first
        c.quit()
    srv.stop()
    srv.start()
    put_file(srv, message("later"), name="1700000000.a0.host")
    with Client(srv.ports["pop3"]) as c:
        c.login()
        after = c.uidl()
        c.quit()
    assert sorted(after.values()) == sorted([*first.values(),
                                             "1700000000.a0.host"])


def test_dele_rset(srv):
    for i in range(3):
        put_file(srv, message(f"m{i}"))
    with Client(srv.ports["pop3"]) as c:
        c.login()
        n, total = c.stat()
        sizes = c.list()
        assert n == 3
        assert c.ok("DELE 2") == "+OK Marked to be deleted"
        assert c.stat() == (2, total - sizes[2])
        assert sorted(c.list()) == [1, 3]
        assert sorted(c.uidl()) == [1, 3]
        c.err("DELE 2")                    # already deleted
        assert c.ok("RSET") == f"+OK 3 messages ({total} octets)"
        assert c.stat() == (3, total)
        c.retr(2)
        c.quit()
    assert len(message_files(srv)) == 3


def test_dele_quit_removes_files(srv):
    uids = [put_file(srv, message(f"m{i}"), name=f"170000000{i}.x.host")
            for i in range(3)]
    with Client(srv.ports["pop3"]) as c:
        c.login()
        c.ok("DELE 1")
        c.ok("DELE 3")
        assert c.quit() == "+OK Logging out, 2 message(s) deleted"
    assert message_files(srv) == [uids[1]]
    with Client(srv.ports["pop3"]) as c:
        c.login()
        assert c.uidl() == {1: uids[1]}
        c.quit()


def test_dele_then_drop_deletes_nothing(srv):
    for i in range(2):
        put_file(srv, message(f"m{i}"))
    with Client(srv.ports["pop3"]) as c:
        c.login()
        c.ok("DELE 1")
        c.ok("DELE 2")
    # The lock goes with the dropped connection; nothing was deleted.
    wait_for(lambda: "pop3 disconnect" in srv.log(srv.log_offset),
             what="the server to notice the drop")
    assert len(message_files(srv)) == 2
    with Client(srv.ports["pop3"]) as c:
        assert c.login() == "+OK Logged in, 2 message(s)"
        c.quit()


def login_retry(port, timeout=5):
    """A Client logged in as ann, retrying while the mailbox is in use
    (the server may not have seen a dropped connection yet)."""
    deadline = time.monotonic() + timeout
    c = Client(port)
    c.ok(f"USER {USER}")
    while True:
        r = c.cmd(f"PASS {PASS}")
        if r.startswith("+OK"):
            return c
        assert r.startswith("-ERR [IN-USE]"), r
        assert time.monotonic() < deadline, "the lock was never released"
        time.sleep(0.05)
        c.ok(f"USER {USER}")


def test_in_use(srv):
    put_file(srv, message())
    first = Client(srv.ports["pop3"])
    first.login()
    with Client(srv.ports["pop3"], source="127.0.0.2") as second:
        second.ok(f"USER {USER}")
        assert second.cmd(f"PASS {PASS}") == \
            "-ERR [IN-USE] Mailbox is in use by another POP3 session"
        # AUTH PLAIN too, and the session stays in AUTHORIZATION.
        assert second.cmd(f"AUTH PLAIN {plain()}").startswith(
            "-ERR [IN-USE]")
        first.ok("NOOP")                       # the first is unharmed
        first.quit()
        # Released at QUIT.
        second.login()
        assert second.stat()[0] == 1
        # Dropped without QUIT: released too.
        second.close()
    third = login_retry(srv.ports["pop3"])
    third.quit()


def test_in_use_any_spelling(srv):
    """The lock is the mailbox, however the login spelled it."""
    with Client(srv.ports["pop3"]) as first:
        first.login("Ann@Acme.Test", PASS)
        with Client(srv.ports["pop3"]) as second:
            second.ok("USER ANN@ACME.TEST")
            second.err(f"PASS {PASS}", "-ERR [IN-USE]")
            second.err(f"AUTH PLAIN {plain()}", "-ERR [IN-USE]")
        first.quit()


def test_in_use_across_ports(srv):
    """The lock is per mailbox, whatever the listener."""
    with Client(srv.ports["pop3s"], tls=True) as first:
        first.login()
        with Client(srv.ports["pop3"]) as second:
            second.ok(f"USER {USER}")
            second.err(f"PASS {PASS}", "-ERR [IN-USE]")
        first.quit()


def test_in_use_released_after_timeout(make_instance):
    inst = start_pop3(make_instance, {"pop3_timeout": "1s"})
    put_file(inst, message())
    with Client(inst.ports["pop3"]) as first:
        first.login()
        first.ok("DELE 1")
        assert first.line() == "-ERR Disconnected for inactivity"
        assert first.closed()
    with Client(inst.ports["pop3"]) as c:
        assert c.login() == "+OK Logged in, 1 message(s)"
        c.quit()


def test_new_mail_during_session_waits(srv):
    """A message that arrives while a session is open is not in that
    session (RFC 1939: the maildrop is fixed at login), but in the next."""
    put_file(srv, message("one"))
    with Client(srv.ports["pop3"]) as c:
        c.login()
        put_file(srv, message("two"))
        assert c.stat()[0] == 1
        c.quit()
    with Client(srv.ports["pop3"]) as c:
        c.login()
        assert c.stat()[0] == 2
        c.quit()


def test_many_messages(srv):
    """A mailbox of 2000 messages opens, lists and deletes correctly (and
    the second time from the size index)."""
    md = srv.maildir(USER)
    os.makedirs(os.path.join(md, "new"), exist_ok=True)
    for i in range(2000):
        with open(os.path.join(md, "new", f"{1700000000 + i}.m{i}.host"),
                  "wb") as f:
            f.write(b"Subject: %d\n\n%s\n" % (i, b"x" * (i % 50)))
    srv.chown_data()
    want = {i + 1: len(b"Subject: %d\r\n\r\n%s\r\n" % (i, b"x" * (i % 50)))
            for i in range(2000)}
    for _ in range(2):
        t = time.monotonic()
        with Client(srv.ports["pop3"]) as c:
            assert c.login() == "+OK Logged in, 2000 message(s)"
            assert c.list() == want
            assert len(set(c.uidl().values())) == 2000
            c.quit()
        assert time.monotonic() - t < 10


def test_message_vanishes_during_session(srv):
    """A file removed behind the server's back (another Maildir client):
    RETR says [SYS/TEMP], the session goes on, DELE and QUIT work."""
    put_file(srv, message("gone"))
    put_file(srv, message("kept"))
    with Client(srv.ports["pop3"]) as c:
        c.login()
        md = os.path.join(srv.maildir(USER), "new")
        first = sorted(os.listdir(md))[0]
        os.unlink(os.path.join(md, first))
        assert c.cmd("RETR 1") == "-ERR [SYS/TEMP] Cannot read the message"
        c.err("TOP 1 0", "-ERR [SYS/TEMP]")
        c.retr(2)
        c.ok("DELE 1")
        assert c.quit() == "+OK Logging out, 1 message(s) deleted"
    with Client(srv.ports["pop3"]) as c:
        assert c.login() == "+OK Logged in, 1 message(s)"
        c.quit()


def test_maildrop_cannot_be_opened(srv):
    """A Maildir the server cannot read: [SYS/TEMP], the lock is not
    kept, and once repaired the login works."""
    md = srv.maildir(USER)
    cur = os.path.join(md, "cur")
    os.makedirs(md, exist_ok=True)
    if os.path.isdir(cur):
        os.rmdir(cur)
    with open(cur, "w") as f:               # a file where cur/ should be
        f.write("x")
    srv.chown_data()
    with Client(srv.ports["pop3"]) as c:
        c.ok(f"USER {USER}")
        assert c.cmd(f"PASS {PASS}") == \
            "-ERR [SYS/TEMP] Cannot open the mailbox, try again later"
        os.unlink(cur)
        os.makedirs(cur)
        srv.chown_data()
        c.login()
        c.quit()


def test_uidl_of_odd_file_names(srv):
    """A unique part that is no valid UIDL (over 70 characters) gets a
    stable 40-hex-digit UIDL instead."""
    long_name = "1700000000." + "x" * 90
    put_file(srv, message(), name=long_name)
    seen = set()
    for _ in range(2):
        with Client(srv.ports["pop3"]) as c:
            c.login()
            [uid] = c.uidl().values()
            assert len(uid) == 40 and int(uid, 16) >= 0
            seen.add(uid)
            c.quit()
    assert len(seen) == 1


def test_hang_up_right_after_quit(srv):
    """QUIT with many deletions, then the client resets the connection at
    once: the deletions still complete, nothing touches the freed session
    (ASan), and the mailbox opens again."""
    md = srv.maildir(USER)
    os.makedirs(os.path.join(md, "new"), exist_ok=True)
    n = 3000
    for i in range(n):
        # ,W= gives the size: the login reads none of the files.
        with open(os.path.join(md, "new", f"{1700000000 + i}.d{i}.host"
                               f",S=14,W=16"), "wb") as f:
            f.write(b"Subject: x\n\nx\n")
    srv.chown_data()
    c = Client(srv.ports["pop3"])
    c.login()
    c.send("".join(f"DELE {i}\r\n" for i in range(1, n + 1)))
    for _ in range(n):
        c.line()
    c.send("QUIT\r\n")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    wait_for(lambda: message_files(srv) == [], what="the deletions")
    with Client(srv.ports["pop3"]) as c:
        assert login_retry_ok(c) == "+OK Logged in, 0 message(s)"
        c.quit()


def login_retry_ok(c, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        c.ok(f"USER {USER}")
        r = c.cmd(f"PASS {PASS}")
        if not r.startswith("-ERR [IN-USE]") or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def test_concurrent_logins_one_wins(srv):
    """Several clients log in to one mailbox at the same moment: exactly
    one gets it."""
    clients = [Client(srv.ports["pop3"], source=f"127.0.0.{20 + i}")
               for i in range(6)]
    try:
        for c in clients:
            c.send(f"USER {USER}\r\nPASS {PASS}\r\n")
        replies = []
        for c in clients:
            assert c.line() == "+OK"
            replies.append(c.line())
        assert sorted(r[:13] for r in replies) == \
            ["+OK Logged in"] + ["-ERR [IN-USE]"] * 5, replies
    finally:
        for c in clients:
            c.close()
