"""IMAP on the wire (issue 14 points 1, 2 and 4; RFC 9051 and the
extensions of SPEC 9): what SELECT says, FETCH items and sections,
STORE with UNCHANGEDSINCE, SEARCH (ESEARCH, SAVE), COPYUID, APPENDUID,
MOVE, EXPUNGE, QRESYNC, COMPRESS=DEFLATE, IDLE, QUOTA, folder names in
modified UTF-7 and, once IMAP4rev2 is enabled, UTF-8; and two sessions
on one mailbox telling each other what changed. Each test logs in with
the raw client of imap_helpers and asserts the exact responses."""
import re
import smtplib
import time
import zlib

import pytest

import harness
from imap_helpers import Imap

USER = "ann@acme.test"
PASS = "s3cret"


@pytest.fixture
def inst(make_instance):
    i = make_instance(config={"auth_failure_delay": "0"}, start=False)
    i.setup_mailbox(USER, PASS)
    i.start()
    return i


def deliver(inst, subject, body="Hello.\r\n", extra=""):
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=20)
    s.sendmail("bob@example.org", [USER],
               f"From: Bob <bob@example.org>\r\nTo: <{USER}>\r\n"
               f"Subject: {subject}\r\nDate: Tue, 1 Dec 2026 10:00:00 "
               f"+0000\r\n{extra}\r\n{body}")
    s.quit()


def session(inst):
    c = Imap(inst.ports["imap"])
    c.login(USER, PASS)
    return c


def ok(c, cmd):
    r = c.cmd(cmd)
    assert r.status == "OK", (cmd, r)
    return r


def find(lines, pattern):
    rx = re.compile(pattern)
    got = [l for l in lines if rx.search(l)]
    assert got, (pattern, lines)
    return got[0]


# ---- SELECT ----

def test_select_says_what_rfc9051_asks(inst):
    for i in range(3):
        deliver(inst, f"m{i}")
    with session(inst) as c:
        r = ok(c, "SELECT INBOX")
        u = r.untagged
        assert u[0] == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen " \
            "\\Draft)"
        find(u, r"^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]")
        assert "* 3 EXISTS" in u and "* 3 RECENT" in u
        find(u, r"^\* OK \[UNSEEN 1\]")
        find(u, r"^\* OK \[UIDVALIDITY \d+\]")
        find(u, r"^\* OK \[UIDNEXT 4\]")
        find(u, r"^\* OK \[HIGHESTMODSEQ \d+\]")
        assert r.text.startswith("[READ-WRITE]")
        r = ok(c, "EXAMINE INBOX")
        assert r.text.startswith("[READ-ONLY]")
        assert c.cmd("STORE 1 +FLAGS (\\Seen)").status == "NO"
        # IMAP4rev2: a LIST line for the mailbox, no RECENT.
        ok(c, "ENABLE IMAP4rev2")
        u = ok(c, "SELECT INBOX").untagged
        assert '* LIST () "." INBOX' in u
        assert not any("RECENT" in l for l in u)


def test_select_of_a_missing_mailbox_unselects(inst):
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = c.cmd("SELECT Nowhere")
        assert r.status == "NO" and "[NONEXISTENT]" in r.text
        assert c.cmd("FETCH 1 FLAGS").status == "BAD"


def test_uidvalidity_and_uids_survive_a_restart(inst):
    deliver(inst, "a")
    deliver(inst, "b")
    with session(inst) as c:
        u = ok(c, "SELECT INBOX").untagged
        v1 = find(u, r"UIDVALIDITY")
        uids1 = ok(c, "UID SEARCH ALL").untagged
    inst.stop()
    inst.start()
    with session(inst) as c:
        u = ok(c, "SELECT INBOX").untagged
        assert find(u, r"UIDVALIDITY") == v1
        assert ok(c, "UID SEARCH ALL").untagged == uids1 == \
            ["* SEARCH 1 2"]


# ---- FETCH ----

def test_fetch_items_and_sections(inst):
    deliver(inst, "parts", body="line one\r\nline two\r\n")
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = ok(c, "FETCH 1 (UID FLAGS RFC822.SIZE ENVELOPE)")
        line = r.untagged[0]
        assert line.startswith("* 1 FETCH (UID 1 FLAGS (\\Recent) "
                               "RFC822.SIZE ")
        assert '"parts" (("Bob" NIL "bob" "example.org"))' in line
        r = ok(c, "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
        assert r.untagged[0].endswith("{18}\r\nSubject: parts\r\n\r\n)")
        r = ok(c, "FETCH 1 (BODY.PEEK[TEXT])")
        assert "\r\nline one\r\nline two\r\n)" in r.untagged[0]
        r = ok(c, "FETCH 1 (BODY.PEEK[TEXT]<5.8>)")
        assert r.untagged[0] == "* 1 FETCH (UID 1 BODY[TEXT]<5> {8}\r\n" \
            "one\r\nlin)"
        r = ok(c, "FETCH 1 (BODYSTRUCTURE)")
        assert '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ' \
            '20 2' in r.untagged[0]
        # Not yet seen: the peeks did not set it; BODY[] does, and says.
        r = ok(c, "FETCH 1 (BODY[TEXT])")
        assert r.untagged[0].endswith("FLAGS (\\Seen \\Recent))")
        r = ok(c, "FETCH 1 FLAGS")
        assert "\\Seen" in r.untagged[0]
        assert c.cmd("FETCH 2 FLAGS").status == "BAD"
        assert ok(c, "UID FETCH 2 FLAGS").untagged == []


def test_rfc822_size_is_crlf_octets(inst):
    deliver(inst, "size", body="x\r\n" * 10)
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = ok(c, "FETCH 1 (RFC822.SIZE BODY.PEEK[])")
        m = re.search(r"RFC822.SIZE (\d+) BODY\[\] \{(\d+)\}", r.untagged[0])
        assert m and m.group(1) == m.group(2), r.untagged[0]


# ---- STORE, SEARCH ----

def test_store_and_unchangedsince(inst):
    deliver(inst, "a")
    deliver(inst, "b")
    with session(inst) as c:
        ok(c, "ENABLE CONDSTORE")
        ok(c, "SELECT INBOX")
        r = ok(c, "STORE 1 +FLAGS (\\Flagged $Work)")
        m = re.match(r"\* 1 FETCH \(MODSEQ \((\d+)\) FLAGS \(([^)]*)\)\)",
                     r.untagged[0])
        assert m and "\\Flagged" in m.group(2) and "$Work" in m.group(2), \
            r.untagged
        mod = int(m.group(1))
        assert ok(c, "STORE 2 +FLAGS.SILENT (\\Seen)").untagged == []
        r = c.cmd(f"STORE 1,2 (UNCHANGEDSINCE {mod - 1}) -FLAGS (\\Flagged)")
        assert r.status == "OK" and "[MODIFIED 1" in r.text, r
        r = ok(c, "SEARCH KEYWORD $Work")
        assert r.untagged == ["* SEARCH 1"]


@pytest.mark.parametrize("query, want", [
    ("ALL", "1 2 3"),
    ('SUBJECT "beta"', "2"),
    ('FROM "bob@example"', "1 2 3"),
    ('BODY "unique-word"', "3"),
    ('TEXT "beta"', "2"),
    ("OR SUBJECT alpha SUBJECT gamma", "1 3"),
    ("NOT SUBJECT alpha", "2 3"),
    ("1:2 SUBJECT beta", "2"),
    ("UID 3", "3"),
    ("LARGER 1 SMALLER 100000", "1 2 3"),
    ("SENTON 1-Dec-2026", "1 2 3"),
    ("SENTBEFORE 1-Dec-2026", ""),
    ("SINCE 1-Jan-2000", "1 2 3"),
    ('HEADER Subject "gam"', "3"),
    ("UNSEEN", "1 2 3"),
    ("(OR (SUBJECT alpha) (SUBJECT beta)) NOT (SUBJECT beta)", "1"),
])
def test_search_keys(inst, query, want):
    deliver(inst, "alpha")
    deliver(inst, "beta")
    deliver(inst, "gamma", body="a unique-word here\r\n")
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = ok(c, f"SEARCH {query}")
        assert r.untagged == [("* SEARCH " + want).rstrip()], r


def test_esearch_and_saved_result(inst):
    for s in ("a", "b", "c"):
        deliver(inst, s)
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = ok(c, "UID SEARCH RETURN (MIN MAX COUNT) ALL")
        assert re.match(r'\* ESEARCH \(TAG "t\d+"\) UID MIN 1 MAX 3 '
                        r'COUNT 3$', r.untagged[0]), r
        ok(c, "SEARCH RETURN (SAVE) SUBJECT b")
        r = ok(c, "FETCH $ (UID)")
        assert r.untagged == ["* 2 FETCH (UID 2)"]
        assert c.cmd("SEARCH CHARSET KOI8-R ALL").text.startswith(
            "[BADCHARSET")


# ---- COPY, MOVE, APPEND, EXPUNGE ----

def test_copy_move_append_expunge(inst):
    deliver(inst, "one")
    deliver(inst, "two")
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = ok(c, "COPY 1 Archive")
        m = re.match(r"\[COPYUID (\d+) 1 1\]", r.text)
        assert m, r
        r = ok(c, "UID MOVE 2 Trash")
        assert re.match(r"\* OK \[COPYUID \d+ 2 1\]", r.untagged[0]), r
        assert "* 2 EXPUNGE" in r.untagged

        c.send(b"t90 APPEND Sent (\\Seen) {25}\r\n")
        assert c.line().startswith("+ ")
        c.send(b"Subject: sent\r\n\r\nhello!\r\n\r\n")
        r = c.until("t90")
        assert r.status == "OK" and re.match(r"\[APPENDUID \d+ 1\]",
                                             r.text), r
        r = ok(c, "STATUS Sent (MESSAGES UNSEEN SIZE)")
        assert r.untagged == ['* STATUS Sent (MESSAGES 1 UNSEEN 0 '
                              'SIZE 25)'], r
        assert c.cmd("APPEND Nowhere {1+}\r\nx").text.startswith(
            "[TRYCREATE]")
        ok(c, "STORE 1 +FLAGS (\\Deleted)")
        r = ok(c, "EXPUNGE")
        assert r.untagged == ["* 1 EXPUNGE"]
        assert ok(c, "SEARCH ALL").untagged == ["* SEARCH"]
        r = ok(c, "SELECT Archive")
        assert "* 1 EXISTS" in r.untagged


def test_uid_expunge_removes_only_its_set(inst):
    for s in ("a", "b", "c"):
        deliver(inst, s)
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        ok(c, "STORE 1:3 +FLAGS.SILENT (\\Deleted)")
        r = ok(c, "UID EXPUNGE 2")
        assert r.untagged == ["* 2 EXPUNGE"]
        ok(c, "CLOSE")     # expunges the rest silently
        r = ok(c, "SELECT INBOX")
        assert "* 0 EXISTS" in r.untagged


# ---- folders ----

def test_list_and_special_use(inst):
    with session(inst) as c:
        r = ok(c, 'LIST "" *')
        names = {l.rsplit(" ", 1)[1]: l for l in r.untagged}
        assert set(names) == {"INBOX", "Archive", "Drafts", "Junk", "Sent",
                              "Trash"}
        assert "\\Sent" in names["Sent"] and "\\Trash" in names["Trash"]
        r = ok(c, 'LIST "" ""')
        assert r.untagged == ['* LIST (\\Noselect) "." ""']
        ok(c, "CREATE Work.2026")
        r = ok(c, 'LIST "" Work%')
        assert r.untagged == ['* LIST (\\HasChildren) "." Work']
        r = ok(c, 'LIST "" "Work.*" RETURN (STATUS (MESSAGES))')
        assert r.untagged == ['* LIST (\\HasNoChildren) "." Work.2026',
                              '* STATUS Work.2026 (MESSAGES 0)']
        r = c.cmd("CREATE Work.2026")
        assert r.status == "NO" and "[ALREADYEXISTS]" in r.text
        assert c.cmd("DELETE INBOX").status == "NO"
        ok(c, "RENAME Work.2026 Work.Old")
        ok(c, "DELETE Work.Old")


def test_utf8_names_modified_utf7_before_rev2(inst):
    with session(inst) as c:
        ok(c, "CREATE &AMk-t&AOk-")        # "Été" in modified UTF-7
        r = ok(c, 'LIST "" "&AMk-*"')
        assert r.untagged == ['* LIST (\\HasNoChildren) "." &AMk-t&AOk-']
        ok(c, "ENABLE IMAP4rev2")
        r = ok(c, 'LIST "" "\u00c9*"')
        assert r.untagged == ['* LIST (\\HasNoChildren) "." "\u00c9t\u00e9"']


def test_quota_from_the_mailbox_quota(inst):
    inst.cli("mailbox", "quota", USER, "10M", check=True)
    deliver(inst, "q", body=("x" * 99 + "\r\n") * 30)
    with session(inst) as c:
        r = ok(c, "GETQUOTAROOT INBOX")
        assert r.untagged[0] == '* QUOTAROOT INBOX ""'
        m = re.match(r'\* QUOTA "" \(STORAGE (\d+) 10240\)', r.untagged[1])
        assert m and 3 <= int(m.group(1)) <= 5, r.untagged


# ---- QRESYNC, COMPRESS ----

def test_qresync_reports_what_changed_since(inst):
    for s in ("a", "b", "c"):
        deliver(inst, s)
    with session(inst) as c:
        ok(c, "ENABLE QRESYNC")
        u = ok(c, "SELECT INBOX").untagged
        uidv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(u)).group(1))
        mod = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(u)).group(1))
        ok(c, "STORE 1 +FLAGS.SILENT (\\Flagged)")
        ok(c, "STORE 3 +FLAGS.SILENT (\\Deleted)")
        r = ok(c, "EXPUNGE")
        assert r.untagged == ["* VANISHED 3"]
        ok(c, "CLOSE")
        r = ok(c, f"SELECT INBOX (QRESYNC ({uidv} {mod} 1:3))")
        assert "* VANISHED (EARLIER) 3" in r.untagged, r.untagged
        flagged = [l for l in r.untagged if "FETCH" in l]
        assert len(flagged) == 1 and flagged[0].startswith(
            "* 1 FETCH (UID 1 MODSEQ (") and "\\Flagged" in flagged[0]
        r = ok(c, f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {mod} VANISHED)")
        assert r.untagged[0] == "* VANISHED (EARLIER) 3"


def test_compress_deflate(inst):
    deliver(inst, "zip")
    c = session(inst)
    assert ok(c, "COMPRESS DEFLATE").text == "DEFLATE active"
    co = zlib.compressobj(wbits=-15)
    de = zlib.decompressobj(wbits=-15)

    def cmd(tag, line):
        c.sock.sendall(co.compress(f"{tag} {line}\r\n".encode()) +
                       co.flush(zlib.Z_SYNC_FLUSH))
        got = b""
        while not re.search(rf"(^|\n){tag} ".encode(), got):
            got += de.decompress(c.sock.recv(65536))
        return got.decode()
    assert "* 1 EXISTS" in cmd("z1", "SELECT INBOX")
    assert "Subject: zip" in cmd("z2", "FETCH 1 BODY.PEEK[HEADER]")
    assert "[COMPRESSIONACTIVE]" in cmd("z3", "COMPRESS DEFLATE")
    c.close()


# ---- several sessions, IDLE ----

def test_two_sessions_see_each_others_changes(inst):
    deliver(inst, "shared")
    deliver(inst, "other")
    a, b = session(inst), session(inst)
    ok(a, "SELECT INBOX")
    ok(b, "SELECT INBOX")
    ok(a, "STORE 1 +FLAGS (\\Flagged)")
    r = ok(b, "NOOP")
    assert any(l.startswith("* 1 FETCH (FLAGS (") and "\\Flagged" in l
               for l in r.untagged), r.untagged
    ok(a, "STORE 2 +FLAGS.SILENT (\\Deleted)")
    ok(a, "EXPUNGE")
    assert "* 2 EXPUNGE" in ok(b, "NOOP").untagged
    deliver(inst, "third")
    assert "* 2 EXISTS" in ok(b, "NOOP").untagged
    a.close()
    b.close()


def test_idle_sees_a_delivery(inst):
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        c.send(b"i1 IDLE\r\n")
        assert c.line() == "+ idling"
        t = time.monotonic()
        deliver(inst, "while idle")
        assert c.line() == "* 1 EXISTS"
        took = time.monotonic() - t
        assert took < 5, took
        c.line()                       # * 1 RECENT
        c.send(b"DONE\r\n")
        r = c.until("i1")
        assert r.status == "OK"
        assert ok(c, "NOOP").untagged == []


def test_idle_needs_done(inst):
    with session(inst) as c:
        c.send(b"i1 IDLE\r\n")
        assert c.line() == "+ idling"
        c.send(b"NOPE\r\n")
        assert c.until("i1").status == "BAD"
        assert ok(c, "NOOP").status == "OK"


# ---- BINARY (RFC 3516, in IMAP4rev2) ----

def test_binary_decodes_base64_and_quoted_printable(inst):
    import base64
    payload = bytes(range(256))
    body = ("--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Caf=C3=A9 soft=\r\nbreak\r\n"
            "--XX\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" +
            base64.encodebytes(payload).decode().replace("\n", "\r\n") +
            "--XX\r\nContent-Type: application/x-odd\r\n"
            "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n"
            "--XX--\r\n")
    deliver(inst, "bin", body=body, extra="MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=XX\r\n")
    with session(inst) as c:
        assert "BINARY" in c.cmd("CAPABILITY").untagged[0].split()
        ok(c, "SELECT INBOX")
        r = ok(c, "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2])")
        assert r.untagged == ["* 1 FETCH (UID 1 BINARY.SIZE[1] 15 "
                              "BINARY[1] {15}\r\nCaf\u00e9 softbreak "
                              "BINARY.SIZE[2] 256)"], r
        c.send(b"b1 FETCH 1 BINARY.PEEK[2]<250.10>\r\n")
        assert c.f.readline() == b"* 1 FETCH (UID 1 BINARY[2]<250> {6}\r\n"
        assert c.f.read(6) == payload[250:]
        assert c.until("b1").status == "OK"
        c.send(b"b2 FETCH 1 BINARY.PEEK[2]\r\n")
        assert c.f.readline() == b"* 1 FETCH (UID 1 BINARY[2] ~{256}\r\n"
        assert c.f.read(256) == payload
        assert c.until("b2").status == "OK"
        r = c.cmd("FETCH 1 BINARY.PEEK[3]")
        assert r.status == "NO" and "[UNKNOWN-CTE]" in r.text, r
        assert r.untagged == []
        # Not .PEEK: \Seen is set.
        r = ok(c, "FETCH 1 BINARY[1]")
        assert "\\Seen" in r.untagged[0]


def test_star_ranges_on_an_empty_mailbox(inst):
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        assert ok(c, "FETCH 1:* (FLAGS)").untagged == []
        assert ok(c, "STORE 1:* +FLAGS (\\Seen)").untagged == []
        assert c.cmd("FETCH 1 (FLAGS)").status == "BAD"
        assert c.cmd("FETCH 1:2 (FLAGS)").status == "BAD"


def test_pop3_session_open_while_imap_moves_its_files(inst):
    """POP3 listed the messages in new/; an IMAP STORE moves them to cur/
    meanwhile (their first flags): RETR still reads them, DELE still
    deletes them."""
    import poplib
    deliver(inst, "moved one")
    deliver(inst, "moved two")
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=20)
    p.user(USER)
    p.pass_(PASS)
    assert p.stat()[0] == 2
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        ok(c, "STORE 1:2 +FLAGS (\\Flagged)")    # new/ -> cur/
    assert b"Subject: moved one" in b"\n".join(p.retr(1)[1])
    p.dele(2)
    p.quit()
    with session(inst) as c:
        r = ok(c, "SELECT INBOX")
        assert "* 1 EXISTS" in r.untagged
        r = ok(c, "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert "moved one" in r.untagged[0]


def test_new_mail_stays_in_new_until_its_flags_change(inst):
    """SELECT leaves delivered files in new/ (no rename per message, as
    Maildir allows); the first flag empties new/ into cur/, the flag in
    its file's name; UIDs and flags hold across a restart."""
    import os
    deliver(inst, "left alone")
    deliver(inst, "read one")
    md = inst.maildir(USER)
    with session(inst) as c:
        r = ok(c, "SELECT INBOX")
        assert "* 2 EXISTS" in r.untagged
        assert len(os.listdir(os.path.join(md, "new"))) == 2
        assert os.listdir(os.path.join(md, "cur")) == []
        r = ok(c, "UID FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])")
        assert "read one" in r.untagged[0]
    assert os.listdir(os.path.join(md, "new")) == []
    names = sorted(os.listdir(os.path.join(md, "cur")),
                   key=lambda n: n.endswith(":2,S"))
    assert len(names) == 2 and names[0].endswith(":2,") and \
        names[1].endswith(":2,S"), names
    inst.stop()
    inst.start()
    with session(inst) as c:
        ok(c, "SELECT INBOX")
        r = ok(c, "UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert len(r.untagged) == 2, r
        assert r.untagged[0].startswith("* 1 FETCH (UID 1 FLAGS () ")
        assert "Subject: left alone" in r.untagged[0]
        assert r.untagged[1].startswith("* 2 FETCH (UID 2 FLAGS (\\Seen) ")
        assert "Subject: read one" in r.untagged[1]
