"""Real IMAP clients against popgate (issue 14, "Checked by"; SPEC 9):
python's imaplib, curl imap:// and imaps://, mbsync (isync) syncing both
ways, offlineimap, neomutt driven through tmux; IDLE telling of a new
delivery; two sessions on one mailbox; POP3 and IMAP on one mailbox.

Every client reads mail that SMTP delivered (smtplib to the smtp port),
and each test has a mailbox of its own on one shared instance, so the
tests do not see each other's mail. TLS is the test run's self-signed
pair: every client is told not to verify it, or to trust that very
certificate."""
import email
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from imap_helpers import (CLIENT_DOMAIN, PASSWORD, Imap, deliver,
                          fetch_items, imap_instance, ip_cert, mail,
                          parse_sexp, tls_context)
from pop3_helpers import Client as Pop3

USERS = ["lib", "curl", "sync", "offl", "neo", "idle", "two", "qres",
         "pop", "ext"]
SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
           "Junk": "\\Junk", "Archive": "\\Archive"}


def addr(user):
    return f"{user}@{CLIENT_DOMAIN}"


@pytest.fixture(scope="module")
def cert():
    """(cert, key) for CN=127.0.0.1 (mbsync checks the name)."""
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-imapc-tls-")
    yield ip_cert(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def inst(cert):
    i = imap_instance(USERS, tls=cert)
    yield i
    try:
        i.stop()
    finally:
        i.cleanup()


def login(inst, user, tls=False):
    """An imaplib session of USER (imaps when TLS)."""
    if tls:
        m = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"],
                              ssl_context=tls_context(), timeout=15)
    else:
        m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=15)
    typ, _ = m.login(addr(user), PASSWORD)
    assert typ == "OK"
    return m


def ok(res):
    """The data of an imaplib (typ, data) that must be OK."""
    typ, data = res
    assert typ == "OK", (typ, data)
    return data


def list_lines(data):
    """{name: (set of attributes, delimiter)} of imaplib LIST data."""
    out = {}
    for d in data:
        attrs, delim, name = parse_sexp(d)
        out[name] = (set(attrs), delim)
    return out


def code(text, name):
    """The argument of response code NAME in TEXT (bytes or str)."""
    if isinstance(text, bytes):
        text = text.decode()
    m = re.search(r"\[" + name + r" ([^\]]*)\]", text)
    assert m, f"no [{name}] in {text!r}"
    return m.group(1)


def server_view(inst, user, folder):
    """{Message-ID: set of flags} of FOLDER as popgate shows it."""
    m = login(inst, user)
    try:
        ok(m.select(folder, readonly=True))
        data = ok(m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS "
                          "(MESSAGE-ID)])")) if exists(m) else []
        out = {}
        for it in fetch_items(data).values():
            hdr = [v for k, v in it.items() if k.startswith("BODY[")][0]
            mid = email.message_from_bytes(hdr)["Message-ID"]
            out[mid] = set(it["FLAGS"]) - {"\\Recent"}
        return out
    finally:
        m.logout()


def internaldate(s):
    """Seconds since the epoch of an INTERNALDATE string."""
    import datetime
    return int(datetime.datetime.strptime(
        s.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp())


def exists(m):
    return int(m.untagged_responses.get("EXISTS", [b"0"])[-1])


# ---- python imaplib: a whole session ----

ATTACHMENT = b"%PDF-1.4 fake report\n" * 20


def multipart(msgid):
    import base64
    b64 = base64.encodebytes(ATTACHMENT).decode().replace("\n", "\r\n")
    text = "See the report attached.\r\nBob\r\n"
    return (
        "From: Bob Example <bob@example.org>\r\n"
        f"To: Ann <{addr('lib')}>\r\n"
        "Cc: carl@example.net\r\n"
        "Subject: =?utf-8?q?Caf=C3=A9_report?=\r\n"
        "Date: Tue, 02 Jan 2024 11:30:00 +0100\r\n"
        f"Message-ID: {msgid}\r\n"
        "In-Reply-To: <0@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="XyZ"\r\n'
        "\r\n"
        "preamble\r\n"
        "--XyZ\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{text}"
        "--XyZ\r\n"
        "Content-Type: application/pdf; name=report.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="report.pdf"\r\n'
        "\r\n"
        f"{b64}"
        "--XyZ--\r\n").encode(), text, b64


def test_imaplib_full_session(inst):
    user = "lib"
    m1 = mail("Plan for Monday", body="Meeting at 10.\r\nBring coffee.\r\n",
              to=f"Ann <{addr(user)}>", msgid="<plan@example.org>")
    m2, text2, b64 = multipart("<report@example.org>")
    m3 = mail("Lunch?", sender="Carl <carl@example.net>", to=addr(user),
              msgid="<lunch@example.org>",
              date="Wed, 03 Jan 2024 12:00:00 +0000")
    for m in (m1, m2, m3):
        deliver(inst, addr(user), m)

    m = login(inst, user)
    # LIST: INBOX and the five special-use folders, '.' delimited.
    folders = list_lines(ok(m.list()))
    assert set(folders) == {"INBOX", *SPECIAL}, folders
    for name, (attrs, delim) in folders.items():
        assert delim == "."
        assert "\\HasNoChildren" in attrs and "\\HasChildren" not in attrs
        assert "\\Noselect" not in attrs and "\\NonExistent" not in attrs
        uses = attrs & set(SPECIAL.values())
        assert uses == ({SPECIAL[name]} if name in SPECIAL else set()), \
            (name, attrs)
    typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
    su = list_lines(ok(m._untagged_response(typ, data, "LIST")))
    assert set(su) == set(SPECIAL), su

    # SELECT
    data = ok(m.select("INBOX"))
    assert data == [b"3"]
    assert m.untagged_responses["RECENT"] == [b"3"]
    flags = parse_sexp(m.untagged_responses["FLAGS"][0])[0]
    assert set(flags) == {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                          "\\Draft"}, flags
    uidvalidity = int(m.untagged_responses["UIDVALIDITY"][0])
    assert int(m.untagged_responses["UIDNEXT"][0]) == 4
    assert m.untagged_responses["READ-WRITE"] == [b""]

    # FETCH: UIDs, sizes, whole bodies (the delivery added Return-Path
    # and Received on top of what was sent), nothing \Seen by PEEK.
    got = fetch_items(ok(m.fetch("1:3", "(UID FLAGS RFC822.SIZE "
                                 "BODY.PEEK[])")))
    assert sorted(got) == [1, 2, 3]
    for seq, sent in zip((1, 2, 3), (m1, m2, m3)):
        it = got[seq]
        assert int(it["UID"]) == seq
        body = it["BODY[]"]
        assert body.endswith(b"\r\n\r\n".join(sent.split(b"\r\n\r\n", 1))), \
            body
        assert body.startswith(b"Return-Path: <bob@example.org>\r\n"), body
        assert int(it["RFC822.SIZE"]) == len(body)
        assert set(it["FLAGS"]) <= {"\\Recent"}, it
    # ENVELOPE, exactly (RFC 9051 7.5.2: encoded words stay encoded;
    # sender and reply-to default to from).
    env = fetch_items(ok(m.fetch("1:2", "ENVELOPE")))
    bob = [["Bob Example", None, "bob", "example.org"]]
    assert env[1]["ENVELOPE"] == [
        "Mon, 01 Jan 2024 10:00:00 +0000", "Plan for Monday", bob, bob,
        bob, [["Ann", None, "lib", "acme.test"]], None, None, None,
        "<plan@example.org>"]
    assert env[2]["ENVELOPE"] == [
        "Tue, 02 Jan 2024 11:30:00 +0100", "=?utf-8?q?Caf=C3=A9_report?=",
        bob, bob, bob, [["Ann", None, "lib", "acme.test"]],
        [[None, None, "carl", "example.net"]], None, "<0@example.org>",
        "<report@example.org>"]
    # BODYSTRUCTURE, exactly: sizes in octets, lines of text parts (the
    # CRLF before a boundary belongs to the boundary, RFC 2046 5.1.1).
    bs = fetch_items(ok(m.fetch("1:2", "BODYSTRUCTURE")))
    text1 = m1.split(b"\r\n\r\n", 1)[1]
    assert bs[1]["BODYSTRUCTURE"] == [
        "text", "plain", ["charset", "us-ascii"], None, None, "7bit",
        str(len(text1)), "2", None, None, None, None]
    assert bs[2]["BODYSTRUCTURE"] == [
        ["text", "plain", ["charset", "utf-8"], None, None, "7bit",
         str(len(text2) - 2), str(text2.count("\r\n") - 1), None, None,
         None, None],
        ["application", "pdf", ["name", "report.pdf"], None, None,
         "base64", str(len(b64) - 2), None,
         ["attachment", ["filename", "report.pdf"]], None, None],
        "mixed", ["boundary", "XyZ"], None, None, None]
    # Sections: a part's text decoded by the client matches; headers.
    part = fetch_items(ok(m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2] "
                                  "BODY.PEEK[2.MIME] BODY.PEEK[HEADER."
                                  "FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.8>)"
                                  )))[2]
    assert part["BODY[1]"] == text2.encode()[:-2]
    import base64
    assert base64.b64decode(part["BODY[2]"]) == ATTACHMENT
    assert part["BODY[2.MIME]"].startswith(b"Content-Type: application/pdf")
    assert part["BODY[2.MIME]"].endswith(b"\r\n\r\n")
    assert part["BODY[HEADER.FIELDS (SUBJECT)]"] == \
        b"Subject: =?utf-8?q?Caf=C3=A9_report?=\r\n\r\n"
    assert part["BODY[TEXT]<0>"] == b"preamble"
    # A non-PEEK fetch sets \Seen and says so.
    got = fetch_items(ok(m.fetch("1", "BODY[TEXT]")))[1]
    assert got["BODY[TEXT]"] == b"Meeting at 10.\r\nBring coffee.\r\n"
    assert "\\Seen" in got.get("FLAGS", []) or "\\Seen" in \
        fetch_items(ok(m.fetch("1", "FLAGS")))[1]["FLAGS"]

    # STORE: flags and a keyword, echoed in FETCH.
    got = fetch_items(ok(m.store("1", "+FLAGS", "(\\Flagged $Work)")))
    assert set(got[1]["FLAGS"]) - {"\\Recent"} == \
        {"\\Seen", "\\Flagged", "$Work"}, got
    assert ok(m.store("3", "+FLAGS.SILENT", "(\\Answered)")) == [None]
    got = fetch_items(ok(m.store("3", "-FLAGS", "(\\Answered)")))
    assert set(got[3]["FLAGS"]) - {"\\Recent"} == set(), got

    # SEARCH
    def search(*crit):
        return ok(m.search(None, *crit))[0].split()
    assert search("ALL") == [b"1", b"2", b"3"]
    assert search("FLAGGED") == [b"1"]
    assert search("UNSEEN") == [b"2", b"3"]
    assert search("KEYWORD", "$Work") == [b"1"]
    assert search("SUBJECT", '"lunch"') == [b"3"]
    assert search("FROM", "bob@example.org") == [b"1", b"2"]
    assert search("OR", "FROM", "carl", "FLAGGED") == [b"1", b"3"]
    assert search("NOT", "FROM", "carl") == [b"1", b"2"]
    assert search("HEADER", "Message-ID", "<lunch@example.org>") == [b"3"]
    assert search("BODY", "coffee") == [b"1"]
    assert search("TEXT", "report") == [b"2"]
    assert search("LARGER", "1000") == [b"2"]
    assert search("SENTSINCE", "02-Jan-2024") == [b"2", b"3"]
    assert search("SENTBEFORE", "02-Jan-2024") == [b"1"]
    assert search("CC", "carl@example.net") == [b"2"]
    assert search("2:*", "UNSEEN") == [b"2", b"3"]
    assert ok(m.uid("SEARCH", "UID", "2:3"))[0].split() == [b"2", b"3"]

    # COPY (UIDPLUS: COPYUID) into Archive keeps flags and keyword.
    typ, data = m.copy("1", "Archive")
    assert typ == "OK"
    archive_uidv = int(code(data[0], "COPYUID").split()[0])
    assert code(data[0], "COPYUID").split()[1:] == ["1", "1"]
    # MOVE 2 to Trash: COPYUID, then 2 EXPUNGE.
    typ, data = m._simple_command("MOVE", "2", "Trash")
    assert typ == "OK", data
    assert m.untagged_responses.pop("EXPUNGE") == [b"2"]
    oks = m.untagged_responses.pop("OK", [])
    assert any(b"[COPYUID " in o for o in oks) or b"[COPYUID " in data[0], \
        (oks, data)
    # \Deleted + EXPUNGE of 1: the sequence numbers shift.
    ok(m.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    assert ok(m.expunge()) == [b"1"]
    got = fetch_items(ok(m.fetch("1:*", "(UID ENVELOPE)")))
    assert list(got) == [1] and got[1]["UID"] == "3"
    assert got[1]["ENVELOPE"][1] == "Lunch?"

    # APPEND to Sent with flags and date: APPENDUID.
    sent = mail("Re: Plan for Monday", body="I'll be there.\r\n",
                sender=f"Ann <{addr(user)}>", to="bob@example.org",
                msgid="<reply@acme.test>")
    typ, data = m.append("Sent", "(\\Seen)",
                         imaplib.Time2Internaldate(1704106800), sent)
    assert typ == "OK", data
    sent_uidv, sent_uid = code(data[0], "APPENDUID").split()
    # STATUS of each folder.
    def status(folder):
        d = ok(m.status(folder, "(MESSAGES UIDNEXT UNSEEN UIDVALIDITY "
                        "SIZE)"))
        name, items = parse_sexp(d[0])
        assert name == folder
        return {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}
    st = status("Sent")
    assert st["MESSAGES"] == 1 and st["UNSEEN"] == 0
    assert st["UIDNEXT"] == int(sent_uid) + 1
    assert st["UIDVALIDITY"] == int(sent_uidv)
    assert st["SIZE"] == len(sent)
    st = status("Archive")
    assert (st["MESSAGES"], st["UNSEEN"], st["UIDVALIDITY"]) == \
        (1, 0, archive_uidv)
    assert status("Trash")["MESSAGES"] == 1
    assert status("Trash")["UNSEEN"] == 1
    # What is in Sent and Archive, by EXAMINE.
    ok(m.select("Sent", readonly=True))
    got = fetch_items(ok(m.fetch("1", "(UID FLAGS INTERNALDATE "
                                 "BODY.PEEK[])")))[1]
    assert got["UID"] == sent_uid and got["BODY[]"] == sent
    assert set(got["FLAGS"]) - {"\\Recent"} == {"\\Seen"}
    assert internaldate(got["INTERNALDATE"]) == 1704106800
    ok(m.select("Archive", readonly=True))
    got = fetch_items(ok(m.fetch("1", "(FLAGS ENVELOPE)")))[1]
    assert set(got["FLAGS"]) - {"\\Recent"} == \
        {"\\Seen", "\\Flagged", "$Work"}
    assert got["ENVELOPE"][9] == "<plan@example.org>"
    assert m.store("1", "+FLAGS", "(\\Deleted)")[0] == "NO"   # read-only

    # The Maildir: flags in the file names.
    md = inst.maildir(addr(user))
    [f] = os.listdir(os.path.join(md, ".Sent", "cur"))
    assert f.endswith(":2,S"), f
    [f] = os.listdir(os.path.join(md, ".Archive", "cur"))
    assert f.endswith(":2,FS"), f
    assert len(os.listdir(os.path.join(md, "cur"))) == 1
    assert os.listdir(os.path.join(md, "new")) == []

    # CREATE / RENAME / DELETE, a hierarchy and a non-ASCII name.
    ok(m.create("Work.Projects"))        # the parent is made too
    ok(m.create("Entw&APw-rfe"))
    assert m.create("Work")[0] == "NO"
    assert b"ALREADYEXISTS" in m.create("Work")[1][0]
    got = list_lines(ok(m.list('""', "Work*")))
    assert set(got) == {"Work", "Work.Projects"}, got
    assert "\\HasChildren" in got["Work"][0]
    assert "\\HasNoChildren" in got["Work.Projects"][0]
    ok(m.rename("Work", "Play"))
    got = list_lines(ok(m.list('""', "*")))
    assert {"Play", "Play.Projects", "Entw&APw-rfe"} <= set(got)
    assert not {"Work", "Work.Projects"} & set(got), got
    assert os.path.isdir(os.path.join(md, ".Play.Projects", "cur"))
    assert os.path.isdir(os.path.join(md, ".Entw&APw-rfe", "cur"))
    ok(m.delete("Play.Projects"))
    ok(m.delete("Play"))
    got = list_lines(ok(m.list('""', "*")))
    assert set(got) == {"INBOX", "Entw&APw-rfe", *SPECIAL}, got
    assert m.delete("INBOX")[0] == "NO"
    typ, data = m.select("Nowhere")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
    ok(m.delete("Entw&APw-rfe"))
    m.logout()

    # A new session: UIDs, UIDVALIDITY and flags are as left.
    m = login(inst, user)
    ok(m.select("INBOX"))
    assert int(m.untagged_responses["UIDVALIDITY"][0]) == uidvalidity
    got = fetch_items(ok(m.fetch("1:*", "(UID FLAGS)")))
    assert list(got) == [1] and got[1]["UID"] == "3"
    assert "\\Recent" not in got[1]["FLAGS"]
    m.logout()


# ---- curl imap:// and imaps:// ----

def curl(*args, user="curl"):
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "--user",
                        f"{addr(user)}:{PASSWORD}", *args],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, (args, p.stderr.decode())
    return p.stdout


def test_curl_imap_and_imaps(inst):
    user = "curl"
    sent = mail("Hello from curl land", body="Line one\r\nLine two\r\n",
                to=addr(user), msgid="<curl1@example.org>")
    deliver(inst, addr(user), sent)
    deliver(inst, addr(user), mail("Second one", to=addr(user),
                                   msgid="<curl2@example.org>"))
    plain = f"imap://127.0.0.1:{inst.ports['imap']}"
    tls = f"imaps://127.0.0.1:{inst.ports['imaps']}"

    # Listing: LIST "" * as curl prints it.
    listing = curl(plain + "/").decode()
    names = [parse_sexp(l[len("* LIST "):])[2]
             for l in listing.splitlines()]
    assert sorted(names) == sorted(["INBOX", *SPECIAL]), listing
    assert all(l.startswith("* LIST (") for l in listing.splitlines())
    assert curl("-k", tls + "/") == listing.encode()
    assert curl("--ssl-reqd", "-k", plain + "/") == listing.encode()

    # The message by UID (curl does SELECT + UID FETCH 1 BODY[]).
    m = login(inst, user)
    ok(m.select("INBOX", readonly=True))
    body = fetch_items(ok(m.uid("FETCH", "1", "BODY.PEEK[]")))[1]["BODY[]"]
    m.logout()
    assert body.endswith(sent)
    assert curl(plain + "/INBOX;UID=1") == body
    assert curl("-k", tls + "/INBOX;UID=1") == body
    # Search (curl sends SEARCH with the query). curl's fetch was no
    # PEEK: UID 1 is \Seen now.
    assert curl(plain + "/INBOX?SUBJECT%20%22curl%20land%22") == \
        b"* SEARCH 1\r\n"
    assert curl(plain + "/INBOX?UNSEEN") == b"* SEARCH 2\r\n"
    # Sections.
    assert curl(plain + "/INBOX;UID=1;SECTION=TEXT") == \
        b"Line one\r\nLine two\r\n"
    assert curl(plain + "/INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT)") \
        == b"Subject: Second one\r\n\r\n"
    assert curl("-k", tls + "/INBOX?ALL") == b"* SEARCH 1 2\r\n"

    # Upload: APPEND to Sent (curl flags it \Seen).
    up = mail("Uploaded by curl", sender=f"<{addr(user)}>",
              to="bob@example.org", msgid="<curlup@acme.test>")
    path = os.path.join(inst.dir, "up.eml")
    with open(path, "wb") as f:
        f.write(up)
    assert curl("-T", path, plain + "/Sent") == b""
    assert curl("-k", "-T", path, tls + "/Drafts") == b""
    # Custom commands on the selected INBOX: flag, move, delete.
    curl(plain + "/INBOX", "-X", "UID STORE 1 +FLAGS (\\Flagged)")
    curl(plain + "/INBOX", "-X", "UID MOVE 2 Archive")
    assert server_view(inst, user, "INBOX") == {
        "<curl1@example.org>": {"\\Seen", "\\Flagged"}}
    assert server_view(inst, user, "Archive") == {"<curl2@example.org>":
                                                  {"\\Seen"}}
    assert server_view(inst, user, "Sent") == {"<curlup@acme.test>":
                                               {"\\Seen"}}
    assert server_view(inst, user, "Drafts") == {"<curlup@acme.test>":
                                                 {"\\Seen"}}
    curl(plain + "/INBOX", "-X", "UID STORE 1 +FLAGS (\\Deleted)")
    curl(plain + "/INBOX", "-X", "EXPUNGE")
    assert server_view(inst, user, "INBOX") == {}
    assert curl(plain + "/INBOX?ALL") == b"* SEARCH\r\n"
    m = login(inst, user)
    ok(m.select("Sent", readonly=True))
    got = fetch_items(ok(m.fetch("1", "BODY.PEEK[]")))[1]["BODY[]"]
    assert got == up
    m.logout()


# ---- local Maildirs of the sync clients ----

LETTERS = {"S": "\\Seen", "F": "\\Flagged", "R": "\\Answered",
           "D": "\\Draft", "T": "\\Deleted"}


def local_view(maildir):
    """{Message-ID: set of flags} of a local Maildir (new/ and cur/)."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                mid = email.message_from_binary_file(f)["Message-ID"]
            info = n.split(":2,", 1)[1] if ":2," in n else ""
            out[mid] = {LETTERS[c] for c in info if c in LETTERS}
    return out


def local_files(maildir):
    return sorted(os.path.join(sub, n) for sub in ("new", "cur")
                  for n in os.listdir(os.path.join(maildir, sub)))


def put_local(maildir, data, flags="", sub="cur"):
    """Writes a message into a local Maildir as a client would."""
    for s in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(maildir, s), exist_ok=True)
    name = f"{time.time_ns()}.P{os.getpid()}.testhost"
    if sub == "cur":
        name += ":2," + flags
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data.replace(b"\r\n", b"\n"))
    os.rename(tmp, os.path.join(maildir, sub, name))
    return name


def local_find(maildir, msgid):
    """The path of the file of MSGID in a local Maildir."""
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(maildir, sub)):
            p = os.path.join(maildir, sub, n)
            with open(p, "rb") as f:
                if email.message_from_binary_file(f)["Message-ID"] == msgid:
                    return p
    raise AssertionError(f"{msgid} not in {maildir}")


def set_local_flags(path, flags):
    d, n = os.path.split(path)
    base = n.split(":2,", 1)[0]
    new = os.path.join(os.path.dirname(d), "cur",
                       base + ":2," + "".join(sorted(flags)))
    os.rename(path, new)
    return new


def imap_do(inst, user, folder, *cmds):
    """Runs imaplib commands on FOLDER: ("store", uidset, op, flags) or
    ("expunge",) or ("append", flags, data)."""
    m = login(inst, user)
    try:
        ok(m.select(folder))
        for c in cmds:
            if c[0] == "store":
                ok(m.uid("STORE", c[1], c[2], c[3]))
            elif c[0] == "expunge":
                ok(m.expunge())
            elif c[0] == "append":
                ok(m.append(folder, c[1], None, c[2]))
    finally:
        m.logout()


def uid_of(inst, user, folder, msgid):
    m = login(inst, user)
    try:
        ok(m.select(folder, readonly=True))
        [uid] = ok(m.uid("SEARCH", "HEADER", "Message-ID", msgid))[0].split()
        return uid.decode()
    finally:
        m.logout()


# ---- mbsync (isync) ----

MBSYNCRC = """\
IMAPAccount popgate
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {cert}

IMAPStore remote
Account popgate

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel popgate
Far :remote:
Near :local:
Patterns INBOX Sent
Create Both
Expunge Both
Sync All
SyncState *
"""


def run_client(argv, env=None, timeout=60):
    t = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env=env,
                       timeout=timeout)
    assert p.returncode == 0, f"{argv}: exit {p.returncode}\n" \
        f"{p.stdout}\n{p.stderr}"
    return p, time.monotonic() - t


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="no mbsync")
def test_mbsync_both_ways(inst, cert):
    user = "sync"
    work = tempfile.mkdtemp(dir=inst.dir, prefix="mbsync-")
    local = os.path.join(work, "mail")
    os.makedirs(local)
    rc = os.path.join(work, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(MBSYNCRC.format(port=inst.ports["imaps"], user=addr(user),
                                password=PASSWORD, cert=cert[0],
                                local=local))
    mb = ["mbsync", "-c", rc, "-a"]
    inbox, sent = os.path.join(local, "INBOX"), os.path.join(local, "Sent")
    for i in (1, 2, 3):
        deliver(inst, addr(user), mail(f"Sync {i}", to=addr(user),
                                       msgid=f"<s{i}@example.org>"))
    imap_do(inst, user, "Sent", ("append", "(\\Seen)",
                                 mail("Sent before", msgid="<sent0@acme.test>",
                                      sender=f"<{addr(user)}>")))

    # 1: down. Every message arrives with its flags and its octets.
    _, t1 = run_client(mb)
    assert local_view(inbox) == {"<s1@example.org>": set(),
                                 "<s2@example.org>": set(),
                                 "<s3@example.org>": set()}
    assert local_view(sent) == {"<sent0@acme.test>": {"\\Seen"}}
    with open(local_find(inbox, "<s1@example.org>"), "rb") as f:
        local1 = f.read()
    m = login(inst, user)
    ok(m.select("INBOX", readonly=True))
    [s1] = ok(m.uid("SEARCH", "HEADER", "Message-ID", "<s1@example.org>"))
    srv1 = fetch_items(ok(m.uid("FETCH", s1, "BODY.PEEK[]")))
    m.logout()
    # (mbsync adds an X-TUID field of its own to what it stores.)
    local1 = re.sub(rb"(?m)^X-TUID: .*\n", b"", local1)
    assert [v["BODY[]"] for v in srv1.values()] == \
        [local1.replace(b"\n", b"\r\n")]

    # Changes on both sides: a message written locally into Sent and
    # into INBOX; \Flagged set locally on s1, \Seen set on the server
    # on s2; s3 deleted locally; the server's Sent copy expunged.
    put_local(sent, mail("Sent locally", msgid="<sent1@acme.test>",
                         sender=f"<{addr(user)}>"), flags="S")
    put_local(inbox, mail("Dropped in locally", msgid="<loc1@example.org>"),
              sub="new")
    set_local_flags(local_find(inbox, "<s1@example.org>"), "F")
    os.unlink(local_find(inbox, "<s3@example.org>"))
    imap_do(inst, user, "INBOX",
            ("store", uid_of(inst, user, "INBOX", "<s2@example.org>"),
             "+FLAGS", "(\\Seen)"))
    imap_do(inst, user, "Sent",
            ("store", uid_of(inst, user, "Sent", "<sent0@acme.test>"),
             "+FLAGS", "(\\Deleted)"), ("expunge",))

    # 2: both ways.
    _, t2 = run_client(mb)
    want_inbox = {"<s1@example.org>": {"\\Flagged"},
                  "<s2@example.org>": {"\\Seen"},
                  "<loc1@example.org>": set()}
    want_sent = {"<sent1@acme.test>": {"\\Seen"}}
    assert server_view(inst, user, "INBOX") == want_inbox
    assert server_view(inst, user, "Sent") == want_sent
    assert local_view(inbox) == want_inbox
    assert local_view(sent) == want_sent

    # 3 and 4: nothing left to do; nothing changes on either side.
    files = (local_files(inbox), local_files(sent))
    m = login(inst, user)
    st = ok(m.status("INBOX", "(UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"))
    m.logout()
    for _ in range(2):
        run_client(mb)
        assert (local_files(inbox), local_files(sent)) == files
        assert server_view(inst, user, "INBOX") == want_inbox
        assert server_view(inst, user, "Sent") == want_sent
    m = login(inst, user)
    assert ok(m.status("INBOX", "(UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")) == st
    m.logout()
    print(f"mbsync: first sync {t1:.2f}s, second {t2:.2f}s")


# ---- offlineimap (offlineimap3) ----

OFFLINEIMAPRC = """\
[general]
accounts = popgate
metadata = {work}/meta
maxsyncaccounts = 1

[Account popgate]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {work}/mail

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {port}
remoteuser = {user}
remotepass = {password}
ssl = yes
cert_fingerprint = {fingerprint}
folderfilter = lambda f: f in ["INBOX", "Sent"]
"""


def cert_sha512(cert_path):
    import hashlib
    import ssl
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha512(der).hexdigest()


@pytest.mark.skipif(shutil.which("offlineimap") is None,
                    reason="no offlineimap")
def test_offlineimap_two_syncs(inst, cert):
    user = "offl"
    work = tempfile.mkdtemp(dir=inst.dir, prefix="offlineimap-")
    rc = os.path.join(work, "offlineimaprc")
    with open(rc, "w") as f:
        f.write(OFFLINEIMAPRC.format(work=work, port=inst.ports["imaps"],
                                     user=addr(user), password=PASSWORD,
                                     fingerprint=cert_sha512(cert[0])))
    argv = ["offlineimap", "-c", rc, "-o", "-u", "basic"]
    env = dict(os.environ, HOME=work)
    inbox = os.path.join(work, "mail", "INBOX")
    sent = os.path.join(work, "mail", "Sent")
    for i in (1, 2):
        deliver(inst, addr(user), mail(f"Offline {i}", to=addr(user),
                                       msgid=f"<o{i}@example.org>"))
    imap_do(inst, user, "INBOX",
            ("store", uid_of(inst, user, "INBOX", "<o2@example.org>"),
             "+FLAGS", "(\\Answered \\Seen)"))

    _, t1 = run_client(argv, env=env)
    assert local_view(inbox) == {"<o1@example.org>": set(),
                                 "<o2@example.org>": {"\\Answered",
                                                      "\\Seen"}}
    assert local_view(sent) == {}

    # Server-side changes: a delivery, a flag, an expunge; a local one:
    # a message saved into the local Sent and a flag set.
    deliver(inst, addr(user), mail("Offline 3", to=addr(user),
                                   msgid="<o3@example.org>"))
    imap_do(inst, user, "INBOX",
            ("store", uid_of(inst, user, "INBOX", "<o1@example.org>"),
             "+FLAGS", "(\\Flagged)"),
            ("store", uid_of(inst, user, "INBOX", "<o2@example.org>"),
             "+FLAGS", "(\\Deleted)"), ("expunge",))
    put_local(sent, mail("Written offline", msgid="<osent@acme.test>",
                         sender=f"<{addr(user)}>"), flags="S")

    _, t2 = run_client(argv, env=env)
    want_inbox = {"<o1@example.org>": {"\\Flagged"},
                  "<o3@example.org>": set()}
    assert local_view(inbox) == want_inbox
    assert server_view(inst, user, "INBOX") == want_inbox
    assert local_view(sent) == {"<osent@acme.test>": {"\\Seen"}}
    assert server_view(inst, user, "Sent") == {"<osent@acme.test>":
                                               {"\\Seen"}}
    print(f"offlineimap: first sync {t1:.2f}s, second {t2:.2f}s")


# ---- neomutt through tmux ----

NEOMUTTRC = """\
set folder = "imaps://{user}@127.0.0.1:{port}/"
set spoolfile = "+INBOX"
set record = "+Sent"
set imap_user = "{user}"
set imap_pass = "{password}"
set certificate_file = "{cert}"
set ssl_verify_host = no
set ssl_starttls = no
set header_cache = ""
set message_cachedir = ""
set sort = date-sent
set index_format = "%4C %Z [%s]"
set delete = yes
set confirmappend = no
set confirmcreate = no
set mark_old = no
set move = no
set quit = yes
set wait_key = no
set sleep_time = 0
set beep = no
set imap_idle = no
set mail_check = 60
set timeout = 60
set help = no
set hostname = "client.test"
set from = "{user}"
set use_from = yes
set smtp_url = "smtp://127.0.0.1:{smtp}/"
set editor = "{editor}"
set edit_headers = no
set copy = yes
set fcc_attach = no
"""


class Tmux:
    """A tmux server of our own (its own socket) running one program in
    a detached session; screens read with capture-pane."""

    def __init__(self, work, command, env):
        self.sock = os.path.join(work, "tmux.sock")
        self.env = env
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t",
                  "-x", "160", "-y", "40",
                  f"{command}; echo CLIENT-EXITED $?; sleep 120")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args],
                              capture_output=True, text=True,
                              env=self.env, timeout=15, check=True).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t")

    def wait(self, pattern, timeout=20):
        """The screen once PATTERN (regex) shows on it."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if re.search(pattern, s, re.M):
                return s
            if time.monotonic() > deadline:
                pytest.fail(f"{pattern!r} not on the screen after "
                            f"{timeout}s:\n{s}")
            time.sleep(0.05)

    def keys(self, *keys, literal=False):
        self.tmux("send-keys", "-t", "t", *(["-l"] if literal else []),
                  *keys)

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                       capture_output=True, timeout=15)


def index_line(screen, subject):
    """The index line showing SUBJECT."""
    for l in screen.splitlines():
        if f"[{subject}]" in l:
            return l
    return None


@pytest.mark.skipif(shutil.which("neomutt") is None or
                    shutil.which("tmux") is None, reason="no neomutt/tmux")
def test_neomutt_through_tmux(inst, cert):
    user = "neo"
    work = tempfile.mkdtemp(dir=inst.dir, prefix="neomutt-")
    rc = os.path.join(work, "neomuttrc")
    editor = os.path.join(work, "editor.sh")
    with open(editor, "w") as f:
        f.write('#!/bin/sh\necho "Written in neomutt." >> "$1"\n')
    os.chmod(editor, 0o755)
    with open(rc, "w") as f:
        f.write(NEOMUTTRC.format(user=addr(user), port=inst.ports["imaps"],
                                 password=PASSWORD, cert=cert[0],
                                 smtp=inst.ports["smtp"], editor=editor))
    subjects = ["Neo flag me", "Neo delete me", "Neo save me"]
    for i, s in enumerate(subjects, 1):
        deliver(inst, addr(user), mail(
            s, to=addr(user), msgid=f"<neo{i}@example.org>",
            date=f"Mon, 0{i} Jan 2024 10:00:00 +0000"))
    env = dict(os.environ, HOME=work, TERM="screen")
    env.pop("TMUX", None)
    t = Tmux(work, f"neomutt -n -F {rc}", env)
    try:
        t0 = time.monotonic()
        s = t.wait(r"\[Neo save me\]|CLIENT-EXITED|\(r\)eject")
        assert "CLIENT-EXITED" not in s and "(r)eject" not in s, s
        opened = time.monotonic() - t0
        s = t.wait(r"\[Neo save me\]")
        for subj in subjects:
            assert index_line(s, subj), s
        # Flag the first.
        t.keys("1", literal=True)
        t.keys("Enter")
        t.keys("F", literal=True)
        t.wait(r"^\s*1 .*!.*\[Neo flag me\]")
        # Delete the second.
        t.keys("2", literal=True)
        t.keys("Enter")
        t.keys("d", literal=True)
        t.wait(r"^\s*2 .*D.*\[Neo delete me\]")
        # Save the third to Archive (neomutt marks it deleted after).
        t.keys("3", literal=True)
        t.keys("Enter")
        t.keys("s", literal=True)
        t.wait(r"Save to mailbox")
        t.keys("C-u")
        t.keys("=Archive", literal=True)
        t.keys("Enter")
        t.wait(r"^\s*3 .*D.*\[Neo save me\]")
        # Sync: the deletions are expunged, the flag stored.
        t.keys("$", literal=True)
        s = t.wait(r"\[Neo flag me\]")
        deadline = time.monotonic() + 20
        while index_line(s, "Neo delete me") or index_line(s, "Neo save me"):
            assert time.monotonic() < deadline, s
            time.sleep(0.05)
            s = t.screen()
        # Compose and send a message to ourselves over popgate's SMTP:
        # neomutt APPENDs its copy to Sent (record).
        t.keys("m", literal=True)
        t.wait(r"^To:\s*$")
        t.keys(addr(user), literal=True)
        t.keys("Enter")
        t.wait(r"^Subject:\s*$")
        t.keys("Neo sent this", literal=True)
        t.keys("Enter")
        t.wait(r"Neo sent this")           # the compose menu
        t.keys("y", literal=True)
        # "Mail sent." shows until the arrival of the mail replaces it.
        t.wait(r"Mail sent|^\s*\d+ .*\[Neo sent this\]")
        t.keys("q", literal=True)
        s = t.wait(r"CLIENT-EXITED \d+")
        assert "CLIENT-EXITED 0" in s, s
    finally:
        t.close()
    inbox = server_view(inst, user, "INBOX")
    sent = server_view(inst, user, "Sent")
    assert len(sent) == 1 and list(sent.values()) == [{"\\Seen"}], sent
    [mid] = sent
    assert inbox == {"<neo1@example.org>": {"\\Flagged"}, mid: set()}
    assert server_view(inst, user, "Archive") == {"<neo3@example.org>":
                                                  set()}
    assert server_view(inst, user, "Trash") == {}
    m = login(inst, user)
    ok(m.select("Sent", readonly=True))
    body = fetch_items(ok(m.fetch("1", "BODY.PEEK[]")))[1]["BODY[]"]
    m.logout()
    assert b"Subject: Neo sent this\r\n" in body
    assert body.endswith(b"\r\n\r\nWritten in neomutt.\r\n"), body
    print(f"neomutt: index shown {opened:.2f}s after start")


# ---- IDLE ----

def raw(inst, user, folder="INBOX"):
    """A raw client of USER with FOLDER selected."""
    c = Imap(inst.ports["imap"])
    c.login(addr(user), PASSWORD)
    if folder:
        r = c.cmd(f"SELECT {folder}")
        assert r.status == "OK", r
    return c


def idle_wait(c, pattern, timeout=5):
    """The first untagged line matching PATTERN while in IDLE, and the
    time.monotonic() it came at; every line seen before it too."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"no {pattern!r} within {timeout}s under IDLE; "
                        f"got {seen}")
        c.sock.settimeout(left)
        try:
            line = c.line()
        except (TimeoutError, OSError):
            pytest.fail(f"no {pattern!r} within {timeout}s under IDLE; "
                        f"got {seen}")
        seen.append(line)
        if re.match(pattern, line):
            c.sock.settimeout(15)
            return line, time.monotonic(), seen


def test_idle_reports_a_delivery_within_a_second(inst):
    user = "idle"
    c = raw(inst, user)
    other = raw(inst, user)
    try:
        c.send(b"i1 IDLE\r\n")
        assert c.line().startswith("+ "), "no continuation for IDLE"
        delays = []
        for n in (1, 2, 3):
            t = deliver(inst, addr(user), mail(f"Idle {n}", to=addr(user)))
            line, at, _ = idle_wait(c, r"\* \d+ EXISTS")
            assert line == f"* {n} EXISTS"
            delays.append(at - t)
        # Another session's flag change and expunge, at once too.
        assert "* 3 EXISTS" in other.cmd("NOOP").untagged
        other.cmd("STORE 1 +FLAGS (\\Flagged)")
        t = time.monotonic()
        line, at, _ = idle_wait(c, r"\* 1 FETCH")
        assert "\\Flagged" in line, line
        delays.append(at - t)
        other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
        other.cmd("EXPUNGE")
        t = time.monotonic()
        line, at, _ = idle_wait(c, r"\* \d+ EXPUNGE")
        assert line == "* 2 EXPUNGE"
        delays.append(at - t)
        c.send(b"DONE\r\n")
        r = c.until("i1")
        assert r.status == "OK", r
        r = c.cmd("FETCH 1:* (FLAGS)")
        assert len(fetch_items(r.untagged)) == 2
    finally:
        c.close()
        other.close()
    for d in delays:
        assert d < 5, delays
    print("IDLE: notified after " +
          ", ".join(f"{d * 1000:.0f} ms" for d in delays) +
          " (3 deliveries, a flag change, an expunge)")


# ---- two sessions on one mailbox ----

def expunges(r):
    """The EXPUNGE responses of a reply (an EXISTS after them is not
    needed but allowed, RFC 9051 7.4.1)."""
    return [l for l in r.untagged if l.endswith(" EXPUNGE")]

def test_two_sessions_see_each_others_changes(inst):
    user = "two"
    for n in (1, 2, 3):
        deliver(inst, addr(user), mail(f"Two {n}", to=addr(user),
                                       msgid=f"<two{n}@example.org>"))
    a, b = raw(inst, user), raw(inst, user)
    try:
        # A flags 1: B learns it at its next NOOP (RFC 9051 7.5.2).
        r = a.cmd("STORE 1 +FLAGS (\\Flagged)")
        assert r.status == "OK"
        r = b.cmd("NOOP")
        assert r.status == "OK"
        got = fetch_items(r.untagged)
        assert set(got) == {1} and "\\Flagged" in got[1]["FLAGS"], r
        assert b.cmd("NOOP").untagged == []       # told once
        # A expunges 2. B is not told during a FETCH, STORE or SEARCH
        # (RFC 9051 7.5.1), but at its next NOOP.
        a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
        r = a.cmd("EXPUNGE")
        assert expunges(r) == ["* 2 EXPUNGE"], r
        r = b.cmd("FETCH 1:3 (FLAGS)")
        assert r.status == "OK"
        assert not [l for l in r.untagged if "EXPUNGE" in l], r
        r = b.cmd("SEARCH ALL")
        assert not [l for l in r.untagged if "EXPUNGE" in l], r
        r = b.cmd("NOOP")
        assert "* 2 EXPUNGE" in r.untagged, r
        r = b.cmd("FETCH 1:* (UID)")
        assert {s: v["UID"] for s, v in fetch_items(r.untagged).items()} \
            == {1: "1", 2: "3"}
        # A delivery: EXISTS for both.
        deliver(inst, addr(user), mail("Two 4", to=addr(user)))
        for c in (a, b):
            r = c.cmd("NOOP")
            assert "* 3 EXISTS" in r.untagged, r
        # B removes \Flagged with UID STORE: A sees FETCH FLAGS.
        b.cmd("UID STORE 1 -FLAGS (\\Flagged)")
        r = a.cmd("NOOP")
        got = fetch_items(r.untagged)
        assert set(got) == {1} and "\\Flagged" not in got[1]["FLAGS"], r
    finally:
        a.close()
        b.close()


def test_qresync_vanished_for_the_other_session(inst):
    """QRESYNC (RFC 7162, issue 14 point 2): an expunge by another
    session is told as VANISHED, and a reselect with the known state
    gets VANISHED (EARLIER) and the changed flags."""
    user = "two"
    a, b = raw(inst, user), raw(inst, user, folder=None)
    try:
        r = b.cmd("CAPABILITY")
        assert "QRESYNC" in r.untagged[0].split(), r
        r = b.cmd("ENABLE QRESYNC")
        assert "* ENABLED QRESYNC" in r.untagged, r
        r = b.cmd("SELECT INBOX")
        uidv = int(code(" ".join(r.untagged), "UIDVALIDITY"))
        modseq = int(code(" ".join(r.untagged), "HIGHESTMODSEQ"))
        r = b.cmd("UID FETCH 1:* (UID)")
        uids = [int(v["UID"]) for v in fetch_items(r.untagged).values()]
        a.cmd(f"UID STORE {uids[0]} +FLAGS.SILENT (\\Deleted)")
        a.cmd("EXPUNGE")
        r = b.cmd("NOOP")
        assert f"* VANISHED {uids[0]}" in r.untagged, r
        b.cmd("UNSELECT")
        a.cmd(f"UID STORE {uids[1]} +FLAGS (\\Answered)")
        r = b.cmd(f"SELECT INBOX (QRESYNC ({uidv} {modseq}))")
        assert r.status == "OK", r
        assert f"* VANISHED (EARLIER) {uids[0]}" in r.untagged, r
        got = fetch_items(r.untagged)
        assert any("\\Answered" in v["FLAGS"] for v in got.values()), r
    finally:
        a.close()
        b.close()


# ---- POP3 and IMAP on one mailbox ----

def pop3(inst, user):
    p = Pop3(inst.ports["pop3"])
    p.login(addr(user), PASSWORD)
    return p


def pop3_by_msgid(p):
    """{Message-ID: (number, UIDL)} of a POP3 session."""
    out = {}
    for n, uidl in p.uidl().items():
        hdr = p.top(n, 0)
        out[email.message_from_bytes(hdr)["Message-ID"]] = (n, uidl)
    return out


def test_pop3_and_imap_on_one_mailbox(inst):
    user = "pop"
    for n in (1, 2, 3):
        deliver(inst, addr(user), mail(f"Pop {n}", to=addr(user),
                                       msgid=f"<pop{n}@example.org>"))
    c = raw(inst, user)
    try:
        r = c.cmd("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS "
                  "(MESSAGE-ID)])")
        uids = {}
        for v in fetch_items(r.untagged).values():
            hdr = [x for k, x in v.items() if k.startswith("BODY[")][0]
            uids[email.message_from_bytes(hdr)["Message-ID"]] = v["UID"]
        assert uids == {"<pop1@example.org>": "1", "<pop2@example.org>": "2",
                        "<pop3@example.org>": "3"}
        r = c.cmd("STATUS INBOX (UIDVALIDITY)")
        uidv = parse_sexp(r.untagged[0][len("* STATUS "):])[1][1]
        # IMAP flags do not change the POP3 UIDLs (the file's base name).
        p = pop3(inst, user)
        before = pop3_by_msgid(p)
        p.quit()
        c.cmd("STORE 1:3 +FLAGS (\\Seen \\Flagged)")
        # POP3 deletes pop2 while the IMAP session has INBOX selected.
        p = pop3(inst, user)
        now = pop3_by_msgid(p)
        assert now == before, (before, now)
        p.ok(f"DELE {now['<pop2@example.org>'][0]}")
        p.quit()
        r = c.cmd("NOOP")
        assert "* 2 EXPUNGE" in r.untagged, r
        # IMAP \Deleted + EXPUNGE of pop1: gone for POP3.
        c.cmd(f"UID STORE {uids['<pop1@example.org>']} +FLAGS.SILENT "
              "(\\Deleted)")
        r = c.cmd("EXPUNGE")
        assert expunges(r) == ["* 1 EXPUNGE"], r
        p = pop3(inst, user)
        assert p.stat()[0] == 1
        assert pop3_by_msgid(p) == {"<pop3@example.org>":
                                    (1, before["<pop3@example.org>"][1])}
        p.quit()
    finally:
        c.close()
    # A new delivery; reconnect: UIDs and UIDVALIDITY are the same.
    deliver(inst, addr(user), mail("Pop 4", to=addr(user),
                                   msgid="<pop4@example.org>"))
    c = raw(inst, user)
    try:
        r = c.cmd("STATUS INBOX (UIDVALIDITY)")
        assert parse_sexp(r.untagged[0][len("* STATUS "):])[1][1] == uidv
        r = c.cmd("FETCH 1:* (UID FLAGS)")
        got = fetch_items(r.untagged)
        assert [v["UID"] for v in got.values()] == ["3", "4"], r
        assert {"\\Seen", "\\Flagged"} <= set(got[1]["FLAGS"])
    finally:
        c.close()
    p = pop3(inst, user)
    assert set(pop3_by_msgid(p)) == {"<pop3@example.org>",
                                     "<pop4@example.org>"}
    p.quit()


# ---- extensions the clients ask for (issue 14 point 2) ----

ISSUE_CAPABILITIES = [
    "IMAP4rev1", "IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "LITERAL+",
    "ENABLE", "NAMESPACE", "ID", "SPECIAL-USE", "CONDSTORE", "QRESYNC",
    "QUOTA", "STATUS=SIZE", "SASL-IR", "UNSELECT", "COMPRESS=DEFLATE"]


def test_capabilities_after_login_are_the_issues(inst):
    c = raw(inst, "ext", folder=None)
    try:
        r = c.cmd("CAPABILITY")
        have = r.untagged[0].split()[2:]
        missing = [x for x in ISSUE_CAPABILITIES if x not in have]
        assert missing == [], f"not advertised: {missing}; have {have}"
        assert any(x.startswith("APPENDLIMIT") for x in have), have
    finally:
        c.close()


def test_compress_deflate(inst):
    """COMPRESS DEFLATE (RFC 4978): after the OK both directions are a
    raw deflate stream; a whole session goes on through it."""
    import zlib
    c = raw(inst, "ext", folder=None)
    try:
        r = c.cmd("COMPRESS DEFLATE")
        assert r.status == "OK", r
        comp = zlib.compressobj(wbits=-15)
        dec = zlib.decompressobj(wbits=-15)
        buf = b""

        def send(line):
            c.sock.sendall(comp.compress(line) + comp.flush(zlib.Z_SYNC_FLUSH))

        def until(tag):
            nonlocal buf
            lines = []
            while True:
                while b"\r\n" not in buf:
                    data = c.sock.recv(65536)
                    assert data, f"closed; got {lines}"
                    buf += dec.decompress(data)
                line, buf = buf.split(b"\r\n", 1)
                lines.append(line.decode())
                if line.startswith(tag.encode() + b" "):
                    return lines
        deliver(inst, addr("ext"), mail("Compressed", to=addr("ext")))
        send(b"z1 SELECT INBOX\r\n")
        got = until("z1")
        assert got[-1].startswith("z1 OK"), got
        send(b"z2 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n")
        got = until("z2")
        assert "Subject: Compressed" in "\n".join(got), got
        send(b"z3 LOGOUT\r\n")
        assert until("z3")[-1].startswith("z3 OK")
    finally:
        c.close()


def test_imap4rev2_binary_fetch(inst):
    """IMAP4rev2 (RFC 9051 6.4.5) has BINARY[] and BINARY.SIZE[]: the
    decoded octets of a base64 part; after ENABLE IMAP4rev2 no RECENT
    and no \\Recent (RFC 9051 appendix E)."""
    user = "ext"
    data, _, _ = multipart("<binary@example.org>")
    deliver(inst, addr(user), data)
    c = raw(inst, user, folder=None)
    try:
        r = c.cmd("ENABLE IMAP4rev2")
        assert "* ENABLED IMAP4rev2" in r.untagged, r
        r = c.cmd("SELECT INBOX")
        assert r.status == "OK"
        assert not [l for l in r.untagged if l.endswith(" RECENT")], r
        r = c.cmd("UID SEARCH HEADER Message-ID <binary@example.org>")
        [uid] = [l.split()[2] for l in r.untagged if l.startswith("* SEARCH")]
        r = c.cmd(f"UID FETCH {uid} (FLAGS BINARY.SIZE[2] BINARY.PEEK[2] "
                  "BINARY.PEEK[1])")
        assert r.status == "OK", r
        [it] = fetch_items(r.untagged).values()
        assert "\\Recent" not in it["FLAGS"]
        assert int(it["BINARY.SIZE[2]"]) == len(ATTACHMENT)
        assert it["BINARY[2]"] == ATTACHMENT
        assert it["BINARY[1]"] == b"See the report attached.\r\nBob"
    finally:
        c.close()
