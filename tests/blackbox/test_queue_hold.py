"""The queue's hold state (quarantine, like Postfix's hold queue):
`popgate queue hold ID [REASON]` keeps a queued message from every
delivery attempt (and from flush, expiry and delay notices) until
`popgate queue release ID`, which tries it at once; the time it was
held does not count against max_queue_lifetime. Both work with the
daemon running (through the control socket) and without it, survive a
restart, and `queue list|show` print the hold. A held message can be
deleted.

Messages wait in the queue by being routed to a closed loopback port
with a retry_min of an hour; a sink opened on that port later is where
they are delivered once something tries them. That a held message is
not delivered is shown by an event: a second, unheld message to the
same destination is delivered while the held one stays."""
import json
import re
import threading
import time

import pytest

from delivery_helpers import (Dsn, Smtp, closed_port, dlv_instance, log_size,
                              maildir_messages, message, notices,
                              queue_files, queue_rows, relay_send, rows_of,
                              sinks, wait_log, wait_notices,
                              wait_queue_empty, wait_rows, wait_until)

assert sinks  # the fixture

SLOW = {"retry_min": "1h", "retry_max": "2h"}
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def deferred_instance(make_instance, config=None):
    """An instance delivering example.org to a closed port (returned):
    whatever it queues there waits an hour after its first try."""
    port = closed_port()
    cfg = dict(SLOW)
    cfg.update(config or {})
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config=cfg)
    return inst, port


def send_deferred(inst, subject, rcpt="bob@example.org"):
    """Queues a message with SUBJECT for RCPT; returns its id once its
    first attempt has deferred it."""
    qid = relay_send(inst, "ann@acme.test", [rcpt],
                     message(subject=subject, rcpt=rcpt))
    wait_rows(inst, lambda rows: rows_of(inst, qid).get(rcpt, {}).get(
        "state") == "deferred", what=f"{qid} deferred")
    return qid


def hold(inst, qid, *reason):
    p = inst.cli("queue", "hold", qid, *reason)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"message {qid} held\n", p.stdout
    return p


def release(inst, qid):
    p = inst.cli("queue", "release", qid)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"message {qid} released"), p.stdout
    return p


def held_rows(inst, qid):
    """The `queue list --json` rows of QID: all with one hold."""
    rows = [r for r in queue_rows(inst) if r["id"] == qid]
    assert rows, f"{qid} not queued"
    return rows


def subjects(sink):
    out = []
    for m in sink.messages:
        s = re.search(rb"(?m)^Subject: (.*?)\r?$", m.data)
        out.append(s.group(1).decode() if s else None)
    return out


def refused(inst, args, message_part, code=1):
    p = inst.cli("queue", *args)
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert message_part in p.stderr, p.stderr
    assert p.stdout == "", p.stdout
    return p


def test_held_message_stays_while_another_is_delivered(make_instance,
                                                       sinks):
    inst, port = deferred_instance(make_instance)
    held = send_deferred(inst, "held one")
    since = log_size(inst)
    hold(inst, held, "suspected", "spam")
    wait_log(inst, rf"qid={held} held by=administrator "
             rf"reason=\"suspected spam\"", since)
    for r in held_rows(inst, held):
        assert r["held"] == "suspected spam", r
        assert re.fullmatch(TIME, r["held_at"]), r
    # A second message to the same place, and a flush of everything:
    # only the second one is tried.
    sink = sinks(port=port)
    # Deferred at once: the destination is held after the refused
    # connection.
    other = send_deferred(inst, "free one", rcpt="carl@example.org")
    p = inst.cli("queue", "flush")
    assert p.returncode == 0, p.stderr
    assert sink.wait_for(1, timeout=15), inst.log(since)
    wait_log(inst, rf"qid={other} removed", since)
    assert subjects(sink) == ["free one"]
    assert [r["id"] for r in queue_rows(inst)] == [held]
    assert held_rows(inst, held)[0]["state"] == "deferred"
    # Flushing it alone says it is held.
    refused(inst, ["flush", held], "is held")
    assert "no message" not in inst.cli("queue", "flush", held).stderr
    # Released: tried at once (the retry is an hour away), delivered.
    since = log_size(inst)
    release(inst, held)
    assert sink.wait_for(2, timeout=15), inst.log(since)
    assert subjects(sink) == ["free one", "held one"]
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={held} released held_for=\d+s", since)
    wait_log(inst, rf"qid={held} delivery to=<bob@example.org> .*"
             rf"status=sent", since)
    assert notices(inst, "ann@acme.test") == []
    inst.check_log()


def test_list_and_show(make_instance):
    inst, _ = deferred_instance(make_instance)
    qid = send_deferred(inst, "shown")
    [row] = inst.cli_json("queue", "show", qid)
    assert row["held"] == "" and row["held_at"] == "", row
    p = inst.cli("queue", "show", qid)
    assert "held: no\n" in p.stdout, p.stdout
    hold(inst, qid)          # the default reason
    [row] = inst.cli_json("queue", "show", qid)
    assert row["held"] == "held by the administrator", row
    assert re.fullmatch(TIME, row["held_at"]), row
    p = inst.cli("queue", "show", qid)
    assert p.returncode == 0, p.stderr
    assert re.search(rf"(?m)^held: since {TIME} UTC: held by the "
                     rf"administrator$", p.stdout), p.stdout
    assert "Subject: shown" in p.stdout
    p = inst.cli("queue", "list")
    assert p.returncode == 0, p.stderr
    header, line = p.stdout.splitlines()[:2]
    assert header.split()[-2:] == ["HELD", "HELD_AT"], header
    assert qid in line and "held by the administrator" in line, line
    time.sleep(1.1)          # held for a second at least
    release(inst, qid)
    p = inst.cli("queue", "show", qid)
    assert "held: no\n" in p.stdout, p.stdout
    assert re.search(r"(?m)^held before: \d+[smhd] \(not counted against "
                     r"max_queue_lifetime\)$", p.stdout), p.stdout


def test_json_numbers_are_numbers(make_instance):
    # Issue 17: --json gave size and attempts as strings ("1").
    inst, _ = deferred_instance(make_instance)
    qid = send_deferred(inst, "numbers")
    p = inst.cli("queue", "list", "--json", check=True)
    [row] = [r for r in json.loads(p.stdout) if r["id"] == qid]
    assert isinstance(row["size"], int) and row["size"] > 100, row
    assert isinstance(row["attempts"], int) and row["attempts"] == 1, row
    [shown] = json.loads(inst.cli("queue", "show", qid, "--json",
                                  check=True).stdout)
    assert shown["size"] == row["size"] and shown["attempts"] == 1, shown
    # The store's counts were numbers already; they stay so.
    [acme] = [c for c in json.loads(inst.cli("customer", "list", "--json",
                                             check=True).stdout)
              if c["name"] == "acme"]
    assert isinstance(acme["domains"], int) and acme["domains"] >= 1, acme
    assert isinstance(acme["mailboxes"], int), acme


def test_clear_errors_and_nothing_lost(make_instance):
    inst, _ = deferred_instance(make_instance)
    qid = send_deferred(inst, "errors")
    missing = "0" * len(qid)
    refused(inst, ["hold", missing], f"no message {missing} in the queue")
    refused(inst, ["release", missing], f"no message {missing} in the queue")
    refused(inst, ["release", qid], f"message {qid} is not held")
    refused(inst, ["hold", "xyz"], "bad queue id")
    refused(inst, ["release", "../x"], "bad queue id")
    refused(inst, ["hold", qid, "tab\there"], "bad reason")
    refused(inst, ["hold", qid, "x" * 256], "bad reason")
    refused(inst, ["release", qid, "extra"], "")
    assert all(r["held"] == "" for r in held_rows(inst, qid))
    hold(inst, qid, "first")
    refused(inst, ["hold", qid, "second"],
            f"message {qid} is already held")
    refused(inst, ["hold", qid, "bad\nreason"], "bad reason")
    # The first hold stands, the message is whole.
    for r in held_rows(inst, qid):
        assert r["held"] == "first", r
    [row] = inst.cli_json("queue", "show", qid)
    assert row["recipient"] == "bob@example.org"
    assert len(queue_files(inst)) == 1
    inst.check_log()


def test_delete_held_message(make_instance):
    inst, _ = deferred_instance(make_instance)
    qid = send_deferred(inst, "to delete")
    hold(inst, qid, "bad")
    since = log_size(inst)
    p = inst.cli("queue", "delete", qid)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"message {qid} deleted\n"
    wait_log(inst, rf"qid={qid} removed \(deleted by the administrator\)",
             since)
    wait_queue_empty(inst)
    assert queue_rows(inst) == []
    assert not any(qid in f for f in queue_files(inst))
    assert notices(inst, "ann@acme.test") == []
    refused(inst, ["release", qid], "no message")


@pytest.mark.parametrize("how", ["term", "kill"])
def test_hold_survives_restart(make_instance, sinks, how):
    inst, port = deferred_instance(make_instance)
    qid = send_deferred(inst, "kept")
    hold(inst, qid, "over", "restart")
    if how == "term":
        inst.stop()
    else:
        inst.kill()
    assert held_rows(inst, qid)[0]["held"] == "over restart"
    sink = sinks(port=port)
    inst.start()
    wait_log(inst, rf"qid={qid} held reason=\"over restart\"",
             inst.log_offset)
    # The restarted daemon holds no destination: tried at once.
    other = relay_send(inst, "ann@acme.test", ["carl@example.org"],
                       message(subject="after restart",
                               rcpt="carl@example.org"))
    assert sink.wait_for(1, timeout=15), inst.log()
    wait_log(inst, rf"qid={other} removed", inst.log_offset)
    assert subjects(sink) == ["after restart"]
    assert held_rows(inst, qid)[0]["held"] == "over restart"
    release(inst, qid)
    assert sink.wait_for(2, timeout=15), inst.log()
    assert subjects(sink)[1] == "kept"
    wait_queue_empty(inst)


def test_without_daemon(make_instance, sinks):
    inst, port = deferred_instance(make_instance)
    a = send_deferred(inst, "offline hold")
    b = send_deferred(inst, "offline release", rcpt="carl@example.org")
    c = send_deferred(inst, "offline delete", rcpt="dan@example.org")
    hold(inst, b, "held online")
    hold(inst, c, "held online")
    inst.stop()
    # Held on the files, then started: found held.
    hold(inst, a, "held offline")
    assert held_rows(inst, a)[0]["held"] == "held offline"
    refused(inst, ["hold", a, "again"], "already held: held offline")
    refused(inst, ["release", "f" * len(a)], "no message")
    p = inst.cli("queue", "release", b)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (f"message {b} released: it is tried when the "
                        f"daemon starts\n")
    refused(inst, ["release", b], "is not held")
    # Deleted on the files, held.
    p = inst.cli("queue", "delete", c)
    assert p.returncode == 0, p.stderr
    assert sorted(queue_files(inst)) == sorted([a, b])
    sink = sinks(port=port)
    inst.start()
    wait_log(inst, rf"qid={a} held reason=\"held offline\"",
             inst.log_offset)
    # b was released offline: tried as the daemon starts, though its
    # retry was an hour away.
    assert sink.wait_for(1, timeout=15), inst.log()
    assert subjects(sink) == ["offline release"]
    assert [r["id"] for r in queue_rows(inst)] == [a]
    release(inst, a)
    assert sink.wait_for(2, timeout=15), inst.log()
    assert subjects(sink) == ["offline release", "offline hold"]
    wait_queue_empty(inst)


def test_held_time_not_counted_against_lifetime(make_instance, sinks):
    inst, port = deferred_instance(make_instance, config={
        "retry_min": "1s", "retry_max": "1s", "max_queue_lifetime": "8s",
        "delay_warning": "3s"})
    held = send_deferred(inst, "held past its lifetime")
    hold(inst, held, "long hold")
    free = send_deferred(inst, "expires", rcpt="carl@example.org")
    # The free one is warned about, then expires and bounces; the held
    # one is neither warned about nor bounced meanwhile.
    dsns = wait_notices(inst, "ann@acme.test", 2, timeout=30)
    wait_log(inst, rf"qid={free} delivery to=<carl@example.org> .*"
             rf"status=expired", 0)
    dsns = [Dsn(m) for m in dsns]
    assert [d.final_recipients() for d in dsns] == [["carl@example.org"]] * 2
    rows = held_rows(inst, held)
    assert rows[0]["held"] == "long hold" and rows[0]["state"] == \
        "deferred", rows
    assert not re.search(rf"qid={held} .*(expired|notice)", inst.log())
    # Older than max_queue_lifetime now, but most of it held: released,
    # it is delivered, not bounced.
    sink = sinks(port=port)
    release(inst, held)
    assert sink.wait_for(1, timeout=15), inst.log()
    assert subjects(sink) == ["held past its lifetime"]
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={held} delivery to=<bob@example.org> .*"
             rf"status=sent")
    assert len(notices(inst, "ann@acme.test")) == 2


FULL = "small@acme.test"


def test_local_recipient_delivered_after_release(make_instance):
    """A hosted mailbox that was full (a local recipient in the queue):
    held, it stays in the queue when it has room and the queue is
    flushed; released, it lands in its Maildir."""
    inst = dlv_instance(make_instance, config=SLOW, start=False)
    inst.setup_mailbox(FULL, "pw", quota="1K")
    inst.start()
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("x@example.org", [FULL],
               b"Subject: first\r\n\r\n" + b"f" * 600 + b"\r\n")
    big = b"Subject: late\r\n\r\n" + (b"q" * 98 + b"\r\n") * 12
    with Smtp(inst.ports["smtp"]) as c:
        qid = c.mail("x@example.org", ["ann@acme.test", FULL], big)
    wait_rows(inst, lambda rows: rows_of(inst, qid).get(FULL, {}).get(
        "state") == "deferred", what="the full mailbox deferred")
    hold(inst, qid, "look first")
    inst.cli("mailbox", "quota", FULL, "1M", check=True)
    p = inst.cli("queue", "flush")
    assert p.returncode == 0 and "0 message" in p.stdout, p
    since = log_size(inst)
    release(inst, qid)
    wait_until(lambda: len(maildir_messages(inst, FULL)) == 2, timeout=15,
               what="the copy for the once full mailbox")
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} delivery to=<{FULL}> .*relay=local .*"
             rf"status=sent", since)
    [late] = [m for m in maildir_messages(inst, FULL) if b"late" in m]
    assert late.startswith(b"Return-Path: <x@example.org>\n")
    assert len([m for m in maildir_messages(inst, "ann@acme.test")
                if b"late" in m]) == 1


def test_hold_while_being_delivered(make_instance, sinks):
    """A hold of a message a connection is delivering: answered at once,
    no new attempt starts, and the end of this one (a 451) leaves it
    held on the disk; released, it is tried again."""
    sink = sinks()
    entered, go = threading.Event(), threading.Event()
    replies = ["451 4.3.0 not now", "250 2.0.0 Ok"]

    def data_reply(msg):
        entered.set()
        assert go.wait(30)
        return replies.pop(0)
    sink.data_reply = data_reply
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config=SLOW)
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"],
                     message(subject="in flight"))
    assert entered.wait(15), inst.log()
    p = inst.cli("queue", "hold", qid, "caught", "in", "flight")
    assert p.returncode == 0, p.stderr
    assert p.stdout == (f"message {qid} is being delivered: no new attempt "
                        f"starts, and what this attempt does not deliver "
                        f"is held\n"), p.stdout
    refused(inst, ["flush", qid], "is held")
    refused(inst, ["hold", qid, "twice"], "under way")
    since = log_size(inst)
    go.set()
    wait_log(inst, rf"qid={qid} held by=administrator "
             rf"reason=\"caught in flight\"", since)
    rows = held_rows(inst, qid)
    assert rows[0]["held"] == "caught in flight", rows
    assert rows[0]["state"] == "deferred" and \
        rows[0]["last_error"] == "451 4.3.0 not now", rows
    release(inst, qid)
    assert sink.wait_for(1, timeout=15), inst.log(since)
    wait_queue_empty(inst)
    assert replies == []


def test_release_withdraws_a_hold_not_yet_made(make_instance, sinks):
    """Released while the attempt it waits for runs, a hold is never
    made: the attempt's end leaves the message deferred, not held."""
    sink = sinks()
    entered, go = threading.Event(), threading.Event()
    replies = ["451 4.3.0 not now", "250 2.0.0 Ok"]

    def data_reply(msg):
        entered.set()
        assert go.wait(30)
        return replies.pop(0)
    sink.data_reply = data_reply
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config=SLOW)
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"],
                     message(subject="withdrawn"))
    assert entered.wait(15), inst.log()
    p = inst.cli("queue", "hold", qid)
    assert p.returncode == 0 and "being delivered" in p.stdout, p
    release(inst, qid)
    since = log_size(inst)
    go.set()
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"status=deferred", since)
    rows = wait_rows(inst, lambda rows: rows and rows[0]["attempts"] in
                     (1, "1"), what="one attempt written")
    assert rows[0]["held"] == "", rows
    assert "hold withdrawn" in inst.log()
    assert not re.search(rf"qid={qid} held", inst.log())
    assert inst.cli("queue", "flush", qid).returncode == 0
    assert sink.wait_for(1, timeout=15), inst.log(since)
    wait_queue_empty(inst)
