"""A crash of the IMAP server (issue 14 point 3, "Checked by"): SIGKILL
during a long APPEND (a large literal in flight) and during an EXPUNGE
of many messages. After a restart nothing that was acknowledged is lost
(messages delivered or APPENDed with OK, flags STOREd with OK, each
message an EXPUNGE response reported gone), nothing half-received shows
up, and the index is usable: SELECT works, UIDVALIDITY and the UIDs of
untouched messages are unchanged, new UIDs are above the old ones."""
import os
import re
import time

import pytest

from imap_helpers import (CLIENT_DOMAIN, PASSWORD, Imap, deliver,
                          fetch_items, imap_instance, mail)

USER = f"crash@{CLIENT_DOMAIN}"


@pytest.fixture
def inst():
    i = imap_instance(["crash"])
    yield i
    try:
        if i.running:
            i.stop()
    finally:
        i.cleanup()


def session(inst):
    c = Imap(inst.ports["imap"])
    c.login(USER, PASSWORD)
    return c


def select(c, folder="INBOX"):
    """SELECT; (UIDVALIDITY, EXISTS)."""
    r = c.cmd(f"SELECT {folder}")
    assert r.status == "OK", r
    text = "\n".join(r.untagged)
    uidv = int(re.search(r"\[UIDVALIDITY (\d+)\]", text).group(1))
    exists = int(re.search(r"^\* (\d+) EXISTS$", text, re.M).group(1))
    return uidv, exists


def state(c):
    """{UID: (flags without \\Recent, RFC822.SIZE, Message-ID)} of the
    selected folder."""
    r = c.cmd("UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER."
              "FIELDS (MESSAGE-ID)])")
    assert r.status == "OK", r
    out = {}
    for it in fetch_items(r.untagged).values():
        hdr = [v for k, v in it.items() if k.startswith("BODY[")][0]
        m = re.search(rb"Message-ID: (\S+)", hdr, re.I)
        out[int(it["UID"])] = (frozenset(it["FLAGS"]) - {"\\Recent"},
                               int(it["RFC822.SIZE"]),
                               m.group(1).decode() if m else None)
    return out


def restart(inst):
    inst.kill()
    since = len(inst.log())
    inst.start()
    return since


def test_sigkill_during_a_long_append(inst):
    for i in (1, 2, 3):
        deliver(inst, USER, mail(f"Kept {i}", to=USER,
                                 msgid=f"<kept{i}@example.org>"))
    c = session(inst)
    uidv, _ = select(c)
    r = c.cmd("STORE 2 +FLAGS (\\Flagged \\Seen)")
    assert r.status == "OK", r
    small = mail("Appended with OK", msgid="<acked@example.org>")
    c.send(f"a1 APPEND INBOX (\\Answered) {{{len(small)}+}}\r\n".encode() +
           small + b"\r\n")
    r = c.until("a1")
    assert r.status == "OK" and "[APPENDUID " in r.text, r
    acked_uid = int(re.search(r"\[APPENDUID \d+ (\d+)\]", r.text).group(1))
    before = state(c)
    c.close()

    # A 20 MB literal: the command, the "+", half of the octets, kill.
    size = 20 * 1024 * 1024
    big = (b"From: <x@example.org>\r\nSubject: never acknowledged\r\n"
           b"Message-ID: <big@example.org>\r\n\r\n")
    big += b"y" * (size - len(big) - 2) + b"\r\n"
    c = session(inst)
    c.send(f"a2 APPEND INBOX {{{size}}}\r\n".encode())
    assert c.line().startswith("+"), "no continuation for the literal"
    t = time.monotonic()
    c.sock.sendall(big[:size // 2])      # most of it read by the server
    restart(inst)
    c.close()

    c = session(inst)
    uidv2, exists = select(c)
    assert uidv2 == uidv
    after = state(c)
    assert after == before, (before, after)
    assert exists == 4
    assert after[acked_uid][2] == "<acked@example.org>"
    assert after[acked_uid][0] == {"\\Answered"}
    # The index goes on: a new APPEND gets a UID above all the old ones.
    c.send(f"a3 APPEND INBOX {{{len(small)}+}}\r\n".encode() + small +
           b"\r\n")
    r = c.until("a3")
    assert r.status == "OK", r
    new_uid = int(re.search(r"\[APPENDUID \d+ (\d+)\]", r.text).group(1))
    assert new_uid > max(after)
    r = c.cmd("SEARCH SUBJECT \"never acknowledged\"")
    assert [l for l in r.untagged if l.startswith("* SEARCH")] == \
        ["* SEARCH"], r
    c.cmd("LOGOUT")
    c.close()
    print(f"killed {time.monotonic() - t:.2f}s into the literal")


def put_messages(inst, n):
    """N messages written straight into the Maildir's cur/."""
    cur = os.path.join(inst.maildir(USER), "cur")
    os.makedirs(cur, exist_ok=True)
    for i in range(n):
        data = mail(f"Bulk {i}", msgid=f"<bulk{i}@example.org>")
        name = f"1700000000.M{i:06d}P1.test,S={len(data)}:2,"
        with open(os.path.join(cur, name), "wb") as f:
            f.write(data.replace(b"\r\n", b"\n"))
    inst.chown_data()


def test_sigkill_during_expunge(inst):
    n = 2000
    put_messages(inst, n)
    c = session(inst)
    uidv, exists = select(c)
    assert exists == n
    before = state(c)
    uids = sorted(before)
    doomed = uids[1::2]                  # every second message
    r = c.cmd("UID STORE " + ",".join(map(str, doomed)) +
              " +FLAGS.SILENT (\\Deleted)")
    assert r.status == "OK", r
    # EXPUNGE; kill as soon as the first file is gone from cur/.
    cur = os.path.join(inst.maildir(USER), "cur")
    c.send(b"x1 EXPUNGE\r\n")
    t = time.monotonic()
    while len(os.listdir(cur)) == n and time.monotonic() - t < 30:
        pass
    inst.kill()
    t = time.monotonic() - t
    on_disk = len(os.listdir(cur))
    inst.start()
    # Every response that did arrive was sent before the kill.
    reported = []
    try:
        while True:
            l = c.line()
            if not l.endswith(" EXPUNGE"):
                break
            reported.append(l)
    except (AssertionError, OSError, ValueError):
        pass
    c.close()
    view = list(uids)
    gone = set()
    for l in reported:
        seq = int(l.split()[1])
        gone.add(view.pop(seq - 1))
    assert gone <= set(doomed)

    c = session(inst)
    uidv2, exists = select(c)
    assert uidv2 == uidv
    after = state(c)
    kept = set(uids) - set(doomed)
    # Untouched messages: all there, same UIDs, flags, sizes.
    for u in kept:
        assert after.get(u) == before[u], u
    # The doomed: gone if reported gone, else gone or still \Deleted.
    for u in doomed:
        if u in gone:
            assert u not in after, f"UID {u} was reported expunged"
        elif u in after:
            assert "\\Deleted" in after[u][0], (u, after[u])
            assert after[u][1:] == before[u][1:]
    assert set(after) <= set(uids)
    left = len(set(after) & set(doomed))
    # The EXPUNGE finishes now.
    r = c.cmd("EXPUNGE")
    assert r.status == "OK", r
    assert set(state(c)) == kept
    c.cmd("LOGOUT")
    c.close()
    print(f"EXPUNGE of {len(doomed)}: killed after {t * 1000:.0f} ms with "
          f"{n - on_disk} files unlinked, {len(reported)} EXPUNGE "
          f"responses sent, {len(doomed) - left} gone after the restart")
