"""Dovecot reads popgate's folders (issue 14 point 3, SPEC 9: "Dovecot
can take the Maildirs over and back").

popgate fills a mailbox over SMTP and IMAP (flags, a copy, an APPEND, a
folder hierarchy, a non-ASCII folder name, an unsubscribed folder); then
Dovecot (Debian's dovecot-imapd, run here as a child process with a
config of its own: loopback port, static password, its indexes outside
the Maildir) serves that very Maildir, and both servers must list the
same folders, subscriptions and messages with the same flags and octets.
The special-use folders are given their use in Dovecot's config the way
Debian's 15-mailboxes.conf names them (Dovecot does not read popgate's
popgate-special-use file), so LIST (SPECIAL-USE) must agree too. Then
Dovecot changes flags and popgate, back in charge, sees them on the same
UIDs. Keywords are not compared: popgate keeps them in its index only
(SPEC 9)."""
import email
import imaplib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import harness
from imap_helpers import (CLIENT_DOMAIN, PASSWORD, deliver, fetch_items,
                          imap_instance, mail, parse_sexp)

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = f"ann@{CLIENT_DOMAIN}"
SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
           "Junk": "\\Junk", "Archive": "\\Archive"}

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {work}/run
state_dir = {work}/state
instance_name = popgate-test-dovecot
log_path = {work}/dovecot.log
info_log_path = {work}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{maildir}:INDEX={work}/index
first_valid_uid = 1
default_internal_user = {internal}
default_login_user = {login}

passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = {ids} home={work}/home
}}

namespace inbox {{
  inbox = yes
  separator = .
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
  mailbox Junk {{
    special_use = \\Junk
  }}
  mailbox Archive {{
    special_use = \\Archive
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


def ensure_dovecot():
    """Installs dovecot-imapd through scripts/bootstrap when missing;
    skips when that is not possible."""
    if not os.access(DOVECOT, os.X_OK):
        if harness.IS_ROOT:
            subprocess.run([os.path.join(harness.REPO, "scripts",
                                         "bootstrap"), "dovecot-imapd"],
                           capture_output=True, timeout=600)
        if not os.access(DOVECOT, os.X_OK):
            pytest.skip("dovecot cannot be installed (Debian dovecot-imapd; "
                        "scripts/bootstrap installs it as root)")


class Dovecot:
    """`dovecot -F -c CONF` on a free loopback port, serving MAILDIR."""

    def __init__(self, maildir):
        self.work = tempfile.mkdtemp(dir="/tmp", prefix="popgate-dovecot-")
        os.chmod(self.work, 0o755)
        self.port = harness.free_ports(1)[0]
        if harness.IS_ROOT:
            uid, gid = harness.daemon_ids()
            ids = f"uid={uid} gid={gid}"
            internal, login = "dovecot", "dovenull"
        else:
            import pwd
            me = pwd.getpwuid(os.getuid()).pw_name
            ids = f"uid={os.getuid()} gid={os.getgid()}"
            internal = login = me
        for d in ("index", "home"):
            os.makedirs(os.path.join(self.work, d))
            if harness.IS_ROOT:
                os.chown(os.path.join(self.work, d), uid, gid)
        self.conf = os.path.join(self.work, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(
                work=self.work, maildir=maildir, password=PASSWORD,
                port=self.port, ids=ids, internal=internal, login=login))
        self.log = os.path.join(self.work, "dovecot.log")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not harness.port_accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.proc.stdout.read().decode() if \
                    self.proc.poll() is not None else ""
                self.stop()
                pytest.fail(f"dovecot did not start:\n{out}\n"
                            f"{self.read_log()}")
            time.sleep(0.05)

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.environ.get("POPGATE_KEEP") != "1":
            shutil.rmtree(self.work, ignore_errors=True)


def session(port):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    assert m.login(USER, PASSWORD)[0] == "OK"
    return m


def ok(res):
    typ, data = res
    assert typ == "OK", (typ, data)
    return data


def listing(m, *args):
    """{name: (attributes, delimiter)} of LIST/LSUB/extended LIST,
    without \\Subscribed (popgate adds it to plain LIST, Dovecot not:
    both are allowed) and without \\Marked/\\Unmarked (hints)."""
    typ, data = m._simple_command(*args)
    data = ok(m._untagged_response(typ, data, args[0]))
    out = {}
    for d in data:
        if d is None:
            continue
        attrs, delim, name = parse_sexp(d)
        out[name] = ({a for a in attrs if a.lower() not in
                      ("\\subscribed", "\\marked", "\\unmarked")}, delim)
    return out


def messages(m, folder):
    """{Message-ID: (flags without \\Recent, RFC822.SIZE, BODY[])}."""
    ok(m.select(f'"{folder}"', readonly=True))
    n = int(m.untagged_responses.get("EXISTS", [b"0"])[-1])
    if n == 0:
        return {}
    data = ok(m.fetch("1:*", "(FLAGS RFC822.SIZE BODY.PEEK[])"))
    out = {}
    for it in fetch_items(data).values():
        mid = email.message_from_bytes(it["BODY[]"])["Message-ID"]
        out[mid] = (set(it["FLAGS"]) - {"\\Recent"},
                    int(it["RFC822.SIZE"]), it["BODY[]"])
    return out


def status(m, folder):
    d = ok(m.status(f'"{folder}"', "(MESSAGES UNSEEN)"))
    items = parse_sexp(d[0])[1]
    return {items[i]: items[i + 1] for i in range(0, len(items), 2)}


@pytest.fixture(scope="module")
def filled():
    """popgate with USER's mailbox filled; yields (inst, uids) where uids
    is {Message-ID: UID} of popgate's INBOX."""
    ensure_dovecot()
    inst = imap_instance(["ann"])
    try:
        for i in (1, 2, 3, 4):
            deliver(inst, USER, mail(f"Message {i}", to=USER,
                                     msgid=f"<m{i}@example.org>"))
        m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=15)
        ok(m.login(USER, PASSWORD))
        ok(m.select("INBOX"))
        ok(m.store("1", "+FLAGS", "(\\Flagged)"))
        ok(m.store("2", "+FLAGS", "(\\Seen \\Answered)"))
        ok(m.store("3", "+FLAGS", "(\\Deleted \\Draft)"))
        ok(m.copy("1:2", "Archive"))
        ok(m.append("Sent", "(\\Seen)", None,
                    mail("Sent one", sender=f"<{USER}>", to="bob@example.org",
                         msgid="<sent1@acme.test>")))
        ok(m.create("Projects.2024"))
        ok(m.create("Entw&APw-rfe"))
        ok(m.append("Projects.2024", "(\\Flagged \\Seen)", None,
                    mail("In a subfolder", msgid="<sub1@example.org>")))
        ok(m.unsubscribe("Junk"))
        ok(m.subscribe("Projects.2024"))
        uids = {}
        data = ok(m.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS "
                          "(MESSAGE-ID)])"))
        for it in fetch_items(data).values():
            hdr = [v for k, v in it.items() if k.startswith("BODY[")][0]
            uids[email.message_from_bytes(hdr)["Message-ID"]] = it["UID"]
        m.logout()
        yield inst, uids
        inst.stop()
    finally:
        inst.cleanup()


@pytest.fixture(scope="module")
def dovecot(filled):
    inst, _ = filled
    d = Dovecot(inst.maildir(USER))
    yield d
    d.stop()


def test_dovecot_lists_the_same_folders(filled, dovecot):
    inst, _ = filled
    p, d = session(inst.ports["imap"]), session(dovecot.port)
    try:
        want = {"INBOX", "Projects", "Projects.2024", "Entw&APw-rfe",
                *SPECIAL}
        lp, ld = listing(p, "LIST", '""', '"*"'), listing(d, "LIST", '""',
                                                           '"*"')
        assert set(lp) == want, lp
        assert ld == lp, (ld, lp)
        # (Child information is optional without RETURN (CHILDREN):
        # popgate sends it, Dovecot does not.)
        def uses(m):
            return {n: a & set(SPECIAL.values()) for n, (a, _) in
                    listing(m, "LIST", "(SPECIAL-USE)", '""', '"*"').items()}
        assert uses(p) == {n: {u} for n, u in SPECIAL.items()}
        assert uses(d) == uses(p)
        # Subscriptions: popgate writes Dovecot's subscriptions file.
        sp = set(listing(p, "LSUB", '""', '"*"'))
        assert sp == {"INBOX", "Projects.2024", "Sent", "Drafts", "Trash",
                      "Archive"}, sp
        assert set(listing(d, "LSUB", '""', '"*"')) == sp
    finally:
        p.logout()
        d.logout()


def test_dovecot_shows_the_same_messages_and_flags(filled, dovecot):
    inst, _ = filled
    p, d = session(inst.ports["imap"]), session(dovecot.port)
    try:
        for folder in ("INBOX", "Archive", "Sent", "Projects.2024",
                       "Drafts", "Trash", "Junk", "Entw&APw-rfe"):
            mp, md = messages(p, folder), messages(d, folder)
            assert md == mp, folder
            assert status(d, folder) == status(p, folder), folder
        mp = messages(p, "INBOX")
        assert {k: v[0] for k, v in mp.items()} == {
            "<m1@example.org>": {"\\Flagged"},
            "<m2@example.org>": {"\\Seen", "\\Answered"},
            "<m3@example.org>": {"\\Deleted", "\\Draft"},
            "<m4@example.org>": set()}
        assert {k: v[0] for k, v in messages(d, "Archive").items()} == {
            "<m1@example.org>": {"\\Flagged"},
            "<m2@example.org>": {"\\Seen", "\\Answered"}}
    finally:
        p.logout()
        d.logout()


def test_dovecot_changes_flags_and_popgate_takes_them_back(filled, dovecot):
    """Dovecot, read-write now, flags and expunges; popgate sees the
    flags (file names) on its own UIDs and the expunge as gone, and
    keeps working on a Maildir with Dovecot's files in it."""
    inst, uids = filled
    d = session(dovecot.port)
    try:
        ok(d.select("INBOX"))
        found = {}
        data = ok(d.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))
        for seq, it in fetch_items(data).items():
            hdr = [v for k, v in it.items() if k.startswith("BODY[")][0]
            found[email.message_from_bytes(hdr)["Message-ID"]] = seq
        ok(d.store(str(found["<m4@example.org>"]), "+FLAGS",
                   "(\\Seen \\Flagged)"))
        ok(d.store(str(found["<m1@example.org>"]), "-FLAGS", "(\\Flagged)"))
        ok(d.expunge())               # m3 was \Deleted
    finally:
        d.logout()
    p = session(inst.ports["imap"])
    try:
        ok(p.select("INBOX"))
        data = ok(p.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS "
                          "(MESSAGE-ID)])"))
        got = {}
        for it in fetch_items(data).values():
            hdr = [v for k, v in it.items() if k.startswith("BODY[")][0]
            got[email.message_from_bytes(hdr)["Message-ID"]] = \
                (it["UID"], set(it["FLAGS"]) - {"\\Recent"})
        assert got == {
            "<m1@example.org>": (uids["<m1@example.org>"], set()),
            "<m2@example.org>": (uids["<m2@example.org>"],
                                 {"\\Seen", "\\Answered"}),
            "<m4@example.org>": (uids["<m4@example.org>"],
                                 {"\\Seen", "\\Flagged"})}
        # Dovecot's own files are no folders and no messages to popgate.
        assert set(listing(p, "LIST", '""', '"*"')) == {
            "INBOX", "Projects", "Projects.2024", "Entw&APw-rfe", *SPECIAL}
        typ, data = p.append("INBOX", None, None,
                             mail("After Dovecot", msgid="<m5@example.org>"))
        assert typ == "OK", data
    finally:
        p.logout()
