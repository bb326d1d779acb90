"""Outbound delivery when it does not work at once (SPEC 6, issue 6):
4xx and connection failures are retried, 5xx and expiry bounce with an
RFC 3464 DSN to the sender (never to <>), delay notices, and the queue
commands acting on the running daemon."""
import os
import re
import time

import pytest

from delivery_helpers import (HOSTNAME, Counter, Dsn, Smtp, closed_port,
                              dlv_instance, log_count, maildir_messages,
                              message, notices, parse, pop3_login,
                              queue_files, queue_rows, relay_send, rows_of,
                              sinks, wait_log, wait_notices,
                              wait_queue_empty, wait_rows)

assert sinks  # the fixture


def check_bounce_envelope(msg, original_subject):
    """What every bounce carries outside its report."""
    assert msg["Return-Path"] == "<>", msg["Return-Path"]
    assert msg["Date"] is not None and msg["Message-ID"] is not None
    assert "MAILER-DAEMON@" in str(msg["From"]), msg["From"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["To"] is not None and "ann@acme.test" in str(msg["To"])
    dsn = Dsn(msg)
    assert dsn.fields["Reporting-MTA"] == f"dns; {HOSTNAME}"
    assert f"Subject: {original_subject}" in dsn.headers, dsn.headers
    return dsn


def test_451_then_250_is_delivered_after_a_retry(make_instance, sinks):
    sink = sinks()
    calls = Counter()
    sink.rcpt_reply = lambda a: ("451 4.7.1 greylisted, try again"
                                 if calls.next() == 1 else "250 2.1.5 Ok")
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"retry_min": "1s"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"attempts=1 status=deferred dsn=4\.7\.1 "
             rf'reply="451 4\.7\.1 greylisted, try again"')
    assert sink.wait_for(1, timeout=15), inst.log()
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"attempts=2 status=sent")
    assert len(sink.cmds("RCPT")) == 2
    assert len(sink.messages) == 1
    wait_queue_empty(inst)
    assert notices(inst, "ann@acme.test") == []


@pytest.mark.parametrize("where", ["data", "lost"])
def test_failure_after_data_is_retried(make_instance, sinks, where):
    """A 451 after the final dot, or a connection lost before any reply
    to it: deferred, and the retry delivers."""
    sink = sinks()
    if where == "data":
        calls = Counter()
        sink.data_reply = lambda m: ("451 4.3.0 Try again later"
                                     if calls.next() == 1 else
                                     "250 2.0.0 Ok: queued")
    else:
        sink.drop_after_dot = 1
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"retry_min": "1s"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    line = wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> ")
    assert "attempts=1 status=deferred dsn=4." in line, line
    assert sink.wait_for(1, timeout=15), inst.log()
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"attempts=2 status=sent")
    assert len(sink.cmds("DATA")) == 2
    wait_queue_empty(inst)
    assert len(sink.messages) == 1
    assert notices(inst, "ann@acme.test") == []


@pytest.mark.parametrize("greeting", ["421 4.3.2 busy, come back later",
                                      "554 5.7.1 no service for you"])
def test_refused_greeting_defers(make_instance, sinks, greeting):
    sink = sinks()
    sink.greeting = greeting
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"retry_min": "1h", "retry_max": "2h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    [row] = wait_rows(inst, lambda rows: rows and
                      rows[0]["state"] == "deferred", what="deferred")
    assert row["id"] == qid
    assert greeting in row["last_error"], row
    assert row["last_error"].startswith("451 4.4.1"), row
    assert notices(inst, "ann@acme.test") == []
    # The next try finds the server willing.
    sink.greeting = "220 sink.test ESMTP"
    assert inst.cli("queue", "flush", qid).returncode == 0
    assert sink.wait_for(1), inst.log()
    wait_queue_empty(inst)


def test_550_at_rcpt_bounces_a_dsn(make_instance, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: Recipient unknown" % a
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = relay_send(inst, "ann@acme.test", ["nobody@example.org"],
                     message(subject="to nobody", rcpt="nobody@example.org"))
    [msg] = wait_notices(inst, "ann@acme.test", 1)
    dsn = check_bounce_envelope(msg, "to nobody")
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert dsn.final_recipients() == ["nobody@example.org"]
    r = dsn.recipient("nobody@example.org")
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Diagnostic-Code"] == \
        "smtp; 550 5.1.1 <nobody@example.org>: Recipient unknown"
    assert "nobody@example.org" in dsn.text
    assert sink.messages == []
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} bounce notice sent to=<ann@acme.test>")
    # The bounce is never itself queued for delivery.
    assert queue_files(inst) == []


def test_550_after_data_bounces(make_instance, sinks):
    sink = sinks()
    sink.data_reply = lambda m: "550 5.7.1 Message content rejected"
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    relay_send(inst, "ann@acme.test", ["bob@example.org", "eve@example.org"],
               message(subject="rejected content"))
    [msg] = wait_notices(inst, "ann@acme.test", 1)
    dsn = check_bounce_envelope(msg, "rejected content")
    assert dsn.final_recipients() == ["bob@example.org", "eve@example.org"]
    for a in ("bob@example.org", "eve@example.org"):
        r = dsn.recipient(a)
        assert r["Action"] == "failed" and r["Status"] == "5.7.1"
        assert "550 5.7.1 Message content rejected" in r["Diagnostic-Code"]
    assert len(sink.cmds("DATA")) == 1      # sent once, refused once
    wait_queue_empty(inst)
    assert len(notices(inst, "ann@acme.test")) == 1


def test_mixed_results_in_one_message(make_instance, sinks):
    sink = sinks()
    replies = {"ok@example.org": "250 2.1.5 Ok",
               "bad@example.org": "550 5.1.1 No such user",
               "later@example.org": "451 4.2.0 Mailbox busy"}
    sink.rcpt_reply = lambda a: replies[a]
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"retry_min": "1h", "retry_max": "2h"})
    rcpts = ["ok@example.org", "bad@example.org", "later@example.org"]
    qid = relay_send(inst, "ann@acme.test", rcpts,
                     message(subject="mixed"))
    assert sink.wait_for(1), inst.log()
    rows = wait_rows(inst, lambda rows: any(
        r["state"] == "deferred" for r in rows), what="a deferred row")
    by = {r["recipient"]: r for r in rows}
    assert sorted(by) == sorted(rcpts)
    assert all(r["id"] == qid and r["sender"] == "ann@acme.test"
               for r in rows)
    assert by["ok@example.org"]["state"] == "delivered"
    assert by["bad@example.org"]["state"] == "bounced"
    assert by["bad@example.org"]["last_error"] == "550 5.1.1 No such user"
    later = by["later@example.org"]
    assert later["state"] == "deferred"
    assert later["last_error"] == "451 4.2.0 Mailbox busy"
    assert later["attempts"] in (1, "1"), later
    assert later["next_try"], later
    # The sink has the message for ok@ only.
    assert sink.messages[0].rcpts == ["ok@example.org"]
    # One bounce, for bad@ only.
    [msg] = wait_notices(inst, "ann@acme.test", 1)
    dsn = check_bounce_envelope(msg, "mixed")
    assert dsn.final_recipients() == ["bad@example.org"]
    assert dsn.recipient("bad@example.org")["Status"] == "5.1.1"

    # Retried now: only later@ is tried again.
    replies["later@example.org"] = "250 2.1.5 Ok"
    p = inst.cli("queue", "flush", qid)
    assert p.returncode == 0, p.stderr
    assert sink.wait_for(2), inst.log()
    assert sink.messages[1].rcpts == ["later@example.org"]
    assert sink.cmds("RCPT") == ["RCPT TO:<ok@example.org>",
                                 "RCPT TO:<bad@example.org>",
                                 "RCPT TO:<later@example.org>",
                                 "RCPT TO:<later@example.org>"]
    wait_queue_empty(inst)
    assert len(notices(inst, "ann@acme.test")) == 1


def test_never_a_bounce_to_the_null_sender(make_instance, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 No such user"
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"fwd@acme.test": ["bob@example.org"]})
    with Smtp(inst.ports["smtp"]) as c:
        qid = c.mail("", ["fwd@acme.test"],
                     message(subject="from the null sender", sender="",
                             rcpt="fwd@acme.test"))
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> "
             rf"from=<> .*status=bounced")
    wait_log(inst, rf"qid={qid} no notice: the sender is <>")
    wait_log(inst, rf"qid={qid} removed")
    assert sink.cmds("MAIL") == ["MAIL FROM:<> SIZE=%s" % re.search(
        r"SIZE=(\d+)", sink.cmds("MAIL")[0]).group(1)]
    assert queue_files(inst) == []
    assert "notice sent" not in inst.log()
    for box in ("ann@acme.test", "bob@acme.test"):
        assert maildir_messages(inst, box) == []
    # Still nothing a moment later (no bounce queued for <>).
    assert len(sink.cmds("MAIL")) == 1


def test_bounce_to_a_remote_sender_is_sent_from_null(make_instance, sinks):
    """A forwarded message from a remote sender fails: the bounce is
    queued and delivered to that sender with MAIL FROM:<>."""
    sink = sinks()
    sink.rcpt_reply = lambda a: ("550 5.1.1 No such user"
                                 if a == "bob@example.org" else
                                 "250 2.1.5 Ok")
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"fwd@acme.test": ["bob@example.org"]})
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("carol@example.org", ["fwd@acme.test"],
               message(subject="forward me", sender="carol@example.org",
                       rcpt="fwd@acme.test"))
    assert sink.wait_for(1), inst.log()
    m = sink.messages[0]
    assert m.mail_from == ""
    assert m.rcpts == ["carol@example.org"]
    msg = parse(m.data)
    assert msg["Auto-Submitted"] == "auto-replied"
    dsn = Dsn(msg)
    assert dsn.recipient("bob@example.org")["Status"] == "5.1.1"
    assert "Subject: forward me" in dsn.headers
    wait_queue_empty(inst)


def test_closed_port_defers_then_expires(make_instance):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1s", "retry_max": "1s",
                                "max_queue_lifetime": "4s"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"],
                     message(subject="nobody listens"))
    rows = wait_rows(inst, lambda rows: rows and
                     rows[0]["state"] == "deferred", timeout=10,
                     what="deferred")
    [row] = rows
    assert row["id"] == qid and row["recipient"] == "bob@example.org"
    assert "Connection refused" in row["last_error"], row
    assert row["last_error"].startswith("451 4.4.1"), row
    assert int(row["attempts"]) >= 1 and row["next_try"], row
    # After the lifetime: a bounce with the expiry reason.
    [msg] = wait_notices(inst, "ann@acme.test", 1, timeout=15)
    dsn = check_bounce_envelope(msg, "nobody listens")
    r = dsn.recipient("bob@example.org")
    assert r["Action"] == "failed"
    assert r["Status"] == "5.4.7", r["Status"]
    diag = r["Diagnostic-Code"]
    assert "expired" in diag and "Connection refused" in diag, diag
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> "
             rf"status=expired")
    assert len(notices(inst, "ann@acme.test")) == 1


def test_delay_warning_sent_once(make_instance):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1s", "retry_max": "1s",
                                "delay_warning": "1s",
                                "max_queue_lifetime": "1h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"],
                     message(subject="slow going"))
    [msg] = wait_notices(inst, "ann@acme.test", 1, timeout=15)
    # Several more attempts: still only one notice.
    wait_rows(inst, lambda rows: rows and int(rows[0]["attempts"]) >= 4,
              timeout=20, what="4 attempts")
    assert len(notices(inst, "ann@acme.test")) == 1
    assert log_count(inst, rf"qid={qid} delay notice sent") == 1
    assert msg["Subject"].startswith("Delayed Mail")
    dsn = check_bounce_envelope(msg, "slow going")
    r = dsn.recipient("bob@example.org")
    assert r["Action"] == "delayed"
    assert r["Status"] == "4.4.1", r["Status"]
    assert "Connection refused" in r["Diagnostic-Code"]
    assert r["Will-Retry-Until"]
    # Still queued, still deferred.
    [row] = queue_rows(inst)
    assert row["state"] == "deferred"
    # The notice is remembered across a restart.
    inst.stop()
    inst.start()
    attempts = int(row["attempts"])
    wait_rows(inst, lambda rows: rows and
              int(rows[0]["attempts"]) >= attempts + 2, timeout=20,
              what="2 more attempts after the restart")
    assert len(notices(inst, "ann@acme.test")) == 1


def test_many_messages_to_a_closed_port_all_deferred(make_instance):
    """Several connections fail at once: every message ends up deferred
    (none left pending), and each is tried again."""
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1s", "retry_max": "1s",
                                "delivery_concurrency_per_destination":
                                "4"})
    pop3_login(inst, "ann@acme.test")
    n = 12
    with Smtp(inst.ports["smtp"]) as c:
        for i in range(n):
            c.mail("ann@acme.test", [f"r{i}@example.org"],
                   message(subject=f"closed {i}"))
    wait_rows(inst, lambda rows: len(rows) == n and all(
        r["state"] == "deferred" and int(r["attempts"]) >= 2
        for r in rows), timeout=20, what=f"{n} rows deferred twice")


def test_no_delay_warning_when_off(make_instance):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1s", "retry_max": "1s",
                                "delay_warning": "0"})
    relay_send(inst, "ann@acme.test", ["bob@example.org"])
    wait_rows(inst, lambda rows: rows and int(rows[0]["attempts"]) >= 3,
              timeout=15, what="3 attempts")
    assert notices(inst, "ann@acme.test") == []
    assert "delay notice" not in inst.log()


def test_queue_flush_retries_at_once(make_instance, sinks):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1h", "retry_max": "2h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    wait_rows(inst, lambda rows: rows and rows[0]["state"] == "deferred",
              what="deferred")
    sink = sinks(port=port)
    assert not sink.wait_for(1, timeout=1)      # not before the flush
    p = inst.cli("queue", "flush", qid)
    assert p.returncode == 0, p.stderr
    assert "1 message" in p.stdout, p.stdout
    assert sink.wait_for(1, timeout=10), inst.log()
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"attempts=2 status=sent")
    # Flushing what is not there is an error.
    p = inst.cli("queue", "flush", qid)
    assert p.returncode == 1 and "no message" in p.stderr, p


def test_queue_flush_all(make_instance, sinks):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1h", "retry_max": "2h"})
    relay_send(inst, "ann@acme.test", ["a@example.org"])
    relay_send(inst, "ann@acme.test", ["b@example.org"])
    wait_rows(inst, lambda rows: len(rows) == 2 and
              all(r["state"] == "deferred" for r in rows), what="deferred")
    sink = sinks(port=port)
    p = inst.cli("queue", "flush")
    assert p.returncode == 0, p.stderr
    assert sink.wait_for(2, timeout=10), inst.log()
    wait_queue_empty(inst)


def test_queue_delete_removes_without_bounce(make_instance):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1h", "retry_max": "2h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    wait_rows(inst, lambda rows: rows and rows[0]["state"] == "deferred",
              what="deferred")
    p = inst.cli("queue", "delete", qid)
    assert p.returncode == 0, p.stderr + inst.log()[-4000:]
    assert f"message {qid} deleted" in p.stdout
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} removed \(deleted by the administrator\)")
    assert queue_rows(inst) == []
    assert notices(inst, "ann@acme.test") == []
    assert "notice sent" not in inst.log()
    p = inst.cli("queue", "delete", qid)
    assert p.returncode == 1 and "no message" in p.stderr, p


def test_queue_show(make_instance):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1h", "retry_max": "2h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"],
                     message(subject="show me"))
    wait_rows(inst, lambda rows: rows and rows[0]["state"] == "deferred",
              what="deferred")
    [row] = inst.cli_json("queue", "show", qid)
    assert row["id"] == qid and row["recipient"] == "bob@example.org"
    assert row["state"] == "deferred"
    p = inst.cli("queue", "show", qid)
    assert p.returncode == 0, p.stderr
    assert "Subject: show me" in p.stdout
    assert "bob@example.org" in p.stdout and "deferred" in p.stdout
    p = inst.cli("queue", "show", "0" * len(qid))
    assert p.returncode == 1 and "no message" in p.stderr, p


def test_queue_delete_without_daemon(make_instance):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1h", "retry_max": "2h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    wait_rows(inst, lambda rows: rows and rows[0]["state"] == "deferred",
              what="deferred")
    inst.stop()
    p = inst.cli("queue", "delete", qid)
    assert p.returncode == 0, p.stderr
    assert queue_files(inst) == [] and queue_rows(inst) == []
    inst.start()
    wait_log(inst, r"queue manager started messages=0", inst.log_offset)


@pytest.mark.parametrize("how", ["term", "kill"])
def test_restart_keeps_deferred_state(make_instance, sinks, how):
    port = closed_port()
    inst = dlv_instance(make_instance, routes={"example.org": port},
                        config={"retry_min": "1h", "retry_max": "2h"})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org",
                                             "carl@example.org"])
    before = wait_rows(inst, lambda rows: len(rows) == 2 and all(
        r["state"] == "deferred" for r in rows), what="deferred")
    keys = ("id", "sender", "recipient", "state", "attempts", "next_try",
            "last_error", "size")

    def view(rows):
        return sorted(tuple(r[k] for k in keys) for r in rows)
    if how == "term":
        inst.stop()
    else:
        inst.kill()
    after_stop = view(queue_rows(inst))
    assert after_stop == view(before)
    state = os.path.join(inst.data_dir, "queue", "state", qid)
    st = os.stat(state)
    inst.start()
    wait_log(inst, r"queue manager started messages=1", inst.log_offset)
    # Picked up where it was: not retried before its time.
    time.sleep(1)
    assert view(queue_rows(inst)) == view(before)
    # Loaded with nothing due, its state file is left as it was, not
    # written again (a restart with a big queue would rewrite it all).
    st2 = os.stat(state)
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    assert rows_of(inst, qid)["bob@example.org"]["attempts"] in (1, "1")
    # And delivered when asked.
    sink = sinks(port=port)
    assert inst.cli("queue", "flush", qid).returncode == 0
    assert sink.wait_for(1, timeout=10), inst.log()
    assert sorted(sink.messages[0].rcpts) == ["bob@example.org",
                                              "carl@example.org"]
    wait_queue_empty(inst)
    assert notices(inst, "ann@acme.test") == []
