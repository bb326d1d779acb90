"""Local delivery through the queue (issue 13, point 11): one full
mailbox does not fail the others. A message to several hosted mailboxes
that finds one over its quota at the end of DATA is accepted: the others
get their copy at once, the full one waits in the queue (`queue list`)
and is delivered once it has room (`mailbox quota` and `queue flush`),
or bounces at max_queue_lifetime with 5.2.2, as Postfix with Dovecot
behaves. The log names only that recipient as full."""
import os
import re

from delivery_helpers import (Dsn, Smtp, dlv_instance, log_size,
                              maildir_messages, notices, rows_of, wait_log,
                              wait_notices, wait_queue_empty, wait_rows,
                              wait_until)

FULL = "small@acme.test"
QUOTA = "1K"


def full_instance(make_instance, config=None):
    """ann and bob, carol, and FULL with a quota of 1 KiB that holds a
    message of some 700 octets already: room for nothing more than a
    short message."""
    inst = dlv_instance(make_instance, config=config, start=False)
    inst.setup_mailbox("carol@acme.test", "pw")
    inst.setup_mailbox(FULL, "pw", quota=QUOTA)
    inst.start()
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("x@example.org", [FULL],
               b"Subject: first\r\n\r\n" + b"f" * 600 + b"\r\n")
    assert len(maildir_messages(inst, FULL)) == 1
    return inst


def body(subject):
    """About 1.2 KiB: fits an empty mailbox, not FULL's."""
    return (f"From: <{subject}@example.org>\r\nSubject: {subject}\r\n\r\n"
            ).encode() + (b"q" * 98 + b"\r\n") * 12


def send_to_three(inst, sender, subject):
    with Smtp(inst.ports["smtp"]) as c:
        return c.mail(sender, ["ann@acme.test", FULL, "carol@acme.test"],
                      body(subject))


def check_smtp_log(inst, qid, since):
    """ann and carol delivered, FULL deferred: only FULL is said full."""
    lines = [l for l in inst.log(since).splitlines()
             if f"qid={qid} smtp " in l]
    assert len(lines) == 3, lines
    by = {re.search(r" to=<([^>]*)>", l).group(1): l for l in lines}
    assert " smtp delivered " in by["ann@acme.test"], by
    assert " smtp delivered " in by["carol@acme.test"], by
    assert " smtp deferred " in by[FULL], by
    assert "dsn=4.2.2" in by[FULL] and "full" in by[FULL], by
    said_full = [l for l in inst.log(since).splitlines()
                 if re.search(r"(?i)full", l)]
    assert said_full, inst.log(since)
    for l in said_full:
        assert "ann@acme.test" not in l and "carol@acme.test" not in l, l


def maildir_name_size(inst, address):
    """The ,S= of each file in new/ against its real size."""
    d = os.path.join(inst.maildir(address), "new")
    for n in os.listdir(d):
        m = re.search(r",S=(\d+)", n)
        assert m, n
        assert int(m.group(1)) == os.path.getsize(os.path.join(d, n)), n


def test_full_mailbox_is_queued_and_delivered_once_it_has_room(
        make_instance):
    inst = full_instance(make_instance)
    since = log_size(inst)
    qid = send_to_three(inst, "x@example.org", "three")
    # The two with room have it now, the full one not.
    for a in ("ann@acme.test", "carol@acme.test"):
        [m] = [m for m in maildir_messages(inst, a) if b"three" in m]
        assert m.startswith(b"Return-Path: <x@example.org>\n"), m[:80]
    assert len(maildir_messages(inst, FULL)) == 1
    check_smtp_log(inst, qid, since)
    # `queue list` shows it: local, deferred, mailbox full.
    rows = wait_rows(inst, lambda rows: rows_of(inst, qid).get(
        FULL, {}).get("state") == "deferred", what="deferred")
    row = rows_of(inst, qid)[FULL]
    assert list(rows_of(inst, qid)) == [FULL], rows
    assert row["last_error"] == f"452 4.2.2 <{FULL}>: Mailbox full", row
    assert int(row["attempts"]) >= 1 and row["next_try"], row
    wait_log(inst, rf"qid={qid} delivery to=<{FULL}> .*relay=local .*"
             rf"status=deferred dsn=4\.2\.2", since)
    # Room, and a flush: delivered, the queue empties.
    inst.cli("mailbox", "quota", FULL, "1M", check=True)
    inst.cli("queue", "flush", check=True)
    wait_until(lambda: len(maildir_messages(inst, FULL)) == 2, timeout=15,
               what="the copy for the full mailbox")
    wait_queue_empty(inst)
    [late] = [m for m in maildir_messages(inst, FULL) if b"three" in m]
    [ann] = [m for m in maildir_messages(inst, "ann@acme.test")
             if b"three" in m]
    assert late.startswith(b"Return-Path: <x@example.org>\nReceived: ")
    # The same message as the others got, below the trace headers.
    assert late.split(b"\n\n", 1)[1] == ann.split(b"\n\n", 1)[1]
    assert late.split(b"\n\n", 1)[0].endswith(
        b"From: <three@example.org>\nSubject: three")
    maildir_name_size(inst, FULL)
    wait_log(inst, rf"qid={qid} delivery to=<{FULL}> .*relay=local .*"
             rf"status=sent", since)
    assert notices(inst, "ann@acme.test") == []
    inst.check_log()


def test_full_mailbox_bounces_at_expiry(make_instance):
    inst = full_instance(make_instance, config={
        "retry_min": "1s", "retry_max": "1s", "max_queue_lifetime": "4s"})
    since = log_size(inst)
    # From bob (hosted): his bounce lands in his Maildir.
    qid = send_to_three(inst, "bob@acme.test", "expires")
    check_smtp_log(inst, qid, since)
    [msg] = wait_notices(inst, "bob@acme.test", 1, timeout=20)
    dsn = Dsn(msg)
    assert dsn.final_recipients() == [FULL]
    r = dsn.recipient(FULL)
    assert r["Action"] == "failed"
    assert r["Status"] == "5.2.2", r["Status"]
    assert "Mailbox full" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    assert "Subject: expires" in dsn.headers
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} delivery to=<{FULL}> .*status=expired "
             rf"dsn=5\.2\.2", since)
    assert len(maildir_messages(inst, FULL)) == 1
    for a in ("ann@acme.test", "carol@acme.test"):
        assert len([m for m in maildir_messages(inst, a)
                    if b"expires" in m]) == 1
    inst.check_log()


def test_every_mailbox_full_is_refused(make_instance):
    """When no copy at all can be made, the message is refused with 452
    (the sender's server keeps it), not queued: no bounce from here."""
    inst = full_instance(make_instance)
    with Smtp(inst.ports["smtp"]) as c:
        c.expect("MAIL FROM:<x@example.org>", "250")
        c.expect(f"RCPT TO:<{FULL}>", "250")
        c.expect("DATA", "354")
        c.sock.sendall(body("refused") + b".\r\n")
        assert c.reply() == f"452 4.2.2 <{FULL}>: Mailbox full"
    assert len(maildir_messages(inst, FULL)) == 1
    wait_queue_empty(inst)


def test_full_mailbox_reports_success_when_delivered_later(make_instance):
    """NOTIFY=SUCCESS (RFC 3461): the mailbox with room reports at once,
    the full one when the queue manager delivers it (both "delivered"),
    and NOTIFY=NEVER on the third keeps it out of any notice."""
    inst = full_instance(make_instance)
    with Smtp(inst.ports["smtp"]) as c:
        c.expect("MAIL FROM:<bob@acme.test>", "250")
        c.expect("RCPT TO:<ann@acme.test> NOTIFY=SUCCESS", "250")
        c.expect(f"RCPT TO:<{FULL}> NOTIFY=SUCCESS,FAILURE", "250")
        c.expect("RCPT TO:<carol@acme.test> NOTIFY=NEVER", "250")
        c.expect("DATA", "354")
        c.sock.sendall(body("later") + b".\r\n")
        qid = re.match(r"250 2\.0\.0 Ok: queued as (\w+)",
                       c.reply()).group(1)
    [now] = wait_notices(inst, "bob@acme.test", 1)
    assert Dsn(now).final_recipients() == ["ann@acme.test"]
    assert Dsn(now).recipient("ann@acme.test")["Action"] == "delivered"
    inst.cli("mailbox", "quota", FULL, "1M", check=True)
    inst.cli("queue", "flush", check=True)
    wait_queue_empty(inst)
    got = wait_notices(inst, "bob@acme.test", 2)
    later = [Dsn(m) for m in got
             if Dsn(m).final_recipients() == [FULL]]
    assert len(later) == 1, [Dsn(m).final_recipients() for m in got]
    r = later[0].recipient(FULL)
    assert r["Action"] == "delivered" and r["Status"] == "2.0.0", r
    wait_log(inst, rf"qid={qid} delivered notice sent")
