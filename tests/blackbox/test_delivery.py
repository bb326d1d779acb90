"""Outbound delivery (SPEC 6, issue 6): what reaches a loopback SMTP sink
through a `transport` route, `relayhost` or an alias, byte for byte,
and how the SMTP client uses one connection, SIZE and 8BITMIME."""
import random
import re
import subprocess

import pytest

from delivery_helpers import (HOSTNAME, Smtp, dlv_instance, log_count,
                              maildir_messages, message, notices, Dsn,
                              queue_rows,
                              parse, pop3_login, relay_send,
                              sinks, wait_log, wait_notices,
                              wait_queue_empty, wait_until)

assert sinks  # the fixture


def split_received(data, original):
    """(prefix, rest) of DATA as the sink got it: asserts it ends with
    ORIGINAL exactly and that everything before it is Received: fields
    (and the DKIM-Signature: fields of a relayed message, above them).
    Returns the list of Received: fields (unfolded, bytes)."""
    assert data.endswith(original), \
        f"message changed in transit:\n{data[-2000:]!r}\nvs\n" \
        f"{original[-2000:]!r}"
    prefix = data[:len(data) - len(original)]
    assert prefix, "no Received: header added"
    assert prefix.endswith(b"\r\n")
    fields = []
    for line in prefix[:-2].split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            assert fields, f"continuation first: {prefix!r}"
            fields[-1] += b" " + line.strip()
        else:
            assert line.startswith((b"Received: ", b"DKIM-Signature: ")), \
                f"not a Received: field before the message: {line!r}"
            assert not (line.startswith(b"DKIM-Signature: ") and
                        any(f.startswith(b"Received: ") for f in fields)), \
                f"DKIM-Signature: below Received: {prefix!r}"
            fields.append(line)
    return [f for f in fields if f.startswith(b"Received: ")]


def test_transport_route_byte_exact(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    body = (b"plain line\r\n"
            b".a line starting with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"
            b"trailing blanks   \t\r\n"
            b"\r\n"
            b"x" * 998 + b"\r\n"
            b"From the start of a line\r\n"
            b"end\r\n"
            b"\r\n")
    original = message(subject="byte exact", body=body)
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"], original)
    assert sink.wait_for(1), inst.log()
    m = sink.messages[0]
    assert m.mail_from == "ann@acme.test"
    assert m.rcpts == ["bob@example.org"]
    fields = split_received(m.data, original)
    assert len(fields) == 1, fields
    rec = fields[0].decode()
    assert f"by {HOSTNAME} (popgate)" in rec, rec
    assert f"id {qid}" in rec, rec
    # The declared SIZE is the size of what was sent.
    [mail] = sink.cmds("MAIL")
    size = re.search(r" SIZE=(\d+)", mail)
    assert size and int(size.group(1)) == len(m.data), (mail, len(m.data))
    wait_queue_empty(inst)
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"status=sent dsn=2\.0\.0")
    wait_log(inst, rf"qid={qid} removed")
    assert notices(inst, "ann@acme.test") == []


def test_eight_bit_body_intact(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    body = ("Grüße aus Köln — naïve café ✓\r\n".encode() +
            b"latin-1 \xe9\xe8\xff and \x80\x81\x9f raw octets\r\n" +
            bytes(range(0x20, 0x7f)) + b"\r\n" +
            bytes(range(0x80, 0x100)) + b"\r\n")
    original = message(subject="eight bit", body=body,
                       extra=b"Content-Type: text/plain; charset=utf-8\r\n"
                             b"Content-Transfer-Encoding: 8bit\r\n")
    relay_send(inst, "ann@acme.test", ["bob@example.org"], original,
               params=" BODY=8BITMIME")
    assert sink.wait_for(1), inst.log()
    split_received(sink.messages[0].data, original)
    [mail] = sink.cmds("MAIL")
    assert "BODY=8BITMIME" in mail.upper(), mail
    wait_queue_empty(inst)


def test_one_megabyte_message(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    rnd = random.Random(6)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    lines = []
    size = 0
    while size < 1024 * 1024:
        n = rnd.randrange(0, 200)
        line = bytes(rnd.choice(alphabet) for _ in range(n))
        if rnd.random() < 0.05:
            line = b"." + line      # must be dot-stuffed on the wire
        lines.append(line)
        size += len(line) + 2
    body = b"\r\n".join(lines) + b"\r\n"
    original = message(subject="one megabyte", body=body)
    assert len(original) > 1024 * 1024
    relay_send(inst, "ann@acme.test", ["bob@example.org"], original)
    assert sink.wait_for(1, timeout=60), inst.log()
    split_received(sink.messages[0].data, original)
    wait_queue_empty(inst)


def test_received_headers_present(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    assert sink.wait_for(1), inst.log()
    msg = parse(sink.messages[0].data)
    received = msg.get_all("Received")
    assert received and len(received) == 1, received
    r = str(received[0])
    assert "from client.test" in r and "[127.0.0.1]" in r, r
    assert f"by {HOSTNAME} (popgate)" in r and f"id {qid}" in r, r
    assert "for <bob@example.org>" in r, r
    # The message's own header fields come after it, unchanged.
    assert msg["Subject"] == "delivery test"


def test_checked_by_swaks(make_instance, sinks):
    """Issue 6 "Checked by": after a POP3 login, swaks relays through a
    transport route and the sink holds the message with Received:
    headers; with the sink answering 550, ann gets a bounce."""
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    pop3_login(inst, "ann@acme.test")

    def swaks(subject):
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port",
             str(inst.ports["smtp"]), "--from", "ann@acme.test", "--to",
             "bob@example.org", "--helo", "client.test", "--header",
             f"Subject: {subject}", "--body", "checked by swaks"],
            capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert re.search(r"<-  250 2\.0\.0 Ok: queued as [0-9a-f]+",
                         p.stdout), p.stdout
    swaks("swaks one")
    assert sink.wait_for(1), inst.log()
    msg = parse(sink.messages[0].data)
    assert msg["Subject"] == "swaks one"
    assert any(f"by {HOSTNAME} (popgate)" in str(r)
               for r in msg.get_all("Received")), msg.get_all("Received")
    assert "checked by swaks" in msg.get_content()
    wait_queue_empty(inst)

    sink.rcpt_reply = lambda a: "550 5.1.1 <bob@example.org>: no such user"
    swaks("swaks two")
    [n] = wait_notices(inst, "ann@acme.test", 1)
    dsn = Dsn(n)
    assert dsn.recipient("bob@example.org")["Action"] == "failed"
    assert "Subject: swaks two" in dsn.headers
    assert len(sink.messages) == 1
    wait_queue_empty(inst)


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "[127.0.0.1]:{port}"])
def test_relayhost_takes_everything(make_instance, sinks, form):
    sink = sinks()
    inst = dlv_instance(make_instance,
                        config={"relayhost": form.format(port=sink.port)})
    relay_send(inst, "ann@acme.test",
               ["one@far.example", "two@elsewhere.example"])
    relay_send(inst, "ann@acme.test", ["three@third.example"])
    assert sink.wait_for(3), inst.log()
    got = sorted(r for m in sink.messages for r in m.rcpts)
    assert got == ["one@far.example", "three@third.example",
                   "two@elsewhere.example"]
    assert all(m.mail_from == "ann@acme.test" for m in sink.messages)
    wait_queue_empty(inst)
    assert "relay=127.0.0.1[127.0.0.1]:%d" % sink.port in inst.log()


def test_transport_wins_over_relayhost(make_instance, sinks):
    smart, direct = sinks(), sinks()
    inst = dlv_instance(make_instance, routes={"example.org": direct},
                        config={"relayhost": f"127.0.0.1:{smart.port}"})
    relay_send(inst, "ann@acme.test", ["bob@example.org", "x@far.example"])
    assert direct.wait_for(1) and smart.wait_for(1), inst.log()
    assert direct.messages[0].rcpts == ["bob@example.org"]
    assert smart.messages[0].rcpts == ["x@far.example"]
    wait_queue_empty(inst)


def test_alias_to_external_rewrites_envelope_sender(make_instance, sinks):
    """Forwarded with an SRS envelope sender (test_srs.py has the rest);
    the hosted copy keeps the original."""
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"fwd@acme.test": ["bob@example.org",
                                                   "ann@acme.test"]})
    original = message(subject="forwarded", sender="carol@outside.example",
                       rcpt="fwd@acme.test")
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("carol@outside.example", ["fwd@acme.test"], original)
    assert sink.wait_for(1), inst.log()
    m = sink.messages[0]
    assert re.match(r"SRS0=.{4}=..=outside\.example=carol@"
                    rf"{re.escape(HOSTNAME)}$", m.mail_from), m.mail_from
    assert m.rcpts == ["bob@example.org"]
    split_received(m.data, original)
    # The local target got its copy too.
    [local] = wait_until(lambda: maildir_messages(inst, "ann@acme.test"))
    assert parse(local)["Subject"] == "forwarded"
    assert parse(local)["Return-Path"] == "<carol@outside.example>"
    wait_queue_empty(inst)


def test_several_messages_share_one_connection(make_instance, sinks):
    sink = sinks()
    sink.slow = 0.05        # the first delivery lasts while more arrive
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"delivery_concurrency_per_destination": "1"})
    pop3_login(inst, "ann@acme.test")
    n = 6
    with Smtp(inst.ports["smtp"]) as c:
        for i in range(n):
            c.mail("ann@acme.test", ["bob@example.org"],
                   message(subject=f"reuse {i}"))
    assert sink.wait_for(n, timeout=30), inst.log()
    subjects = sorted(parse(m.data)["Subject"] for m in sink.messages)
    assert subjects == [f"reuse {i}" for i in range(n)]
    assert sink.connections < n, sink.per_conn
    assert max(sink.per_conn.values()) >= 2, sink.per_conn
    wait_queue_empty(inst)


def test_size_limit_bounces_without_sending(make_instance, sinks):
    sink = sinks()
    sink.size = 2000
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    big = message(subject="too big for the sink",
                  body=b"".join(b"%05d " % i + b"y" * 70 + b"\r\n"
                                for i in range(100)))
    assert len(big) > 5000
    relay_send(inst, "ann@acme.test", ["bob@example.org"], big)
    [n] = wait_notices(inst, "ann@acme.test", 1)
    dsn = Dsn(n)
    r = dsn.recipient("bob@example.org")
    assert r["Action"] == "failed"
    assert r["Status"] == "5.3.4"
    assert "5.3.4" in r["Diagnostic-Code"]
    assert "Subject: too big for the sink" in dsn.headers
    # Never sent: not even a MAIL command.
    assert sink.cmds("MAIL") == [] and sink.messages == []
    wait_queue_empty(inst)
    # A message under the limit still goes through.
    relay_send(inst, "ann@acme.test", ["bob@example.org"],
               message(subject="small"))
    assert sink.wait_for(1), inst.log()


def test_bare_size_keyword(make_instance, sinks):
    """RFC 1870: "SIZE" without a number means no fixed limit. The
    number must not be taken from the next EHLO line."""
    sink = sinks()
    sink.size = 0           # SmtpSink advertises a bare "250-SIZE"
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"])
    line = wait_log(inst, rf"qid={qid} delivery to=")
    assert "status=sent" in line, \
        f"not delivered to a server advertising a bare SIZE: {line}"
    assert sink.wait_for(1)
    assert notices(inst, "ann@acme.test") == []


def test_without_pipelining(make_instance, sinks):
    """Without PIPELINING, commands go one by one; several recipients
    still reach the sink."""
    sink = sinks()
    sink.pipelining = False
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    relay_send(inst, "ann@acme.test", ["a@example.org", "b@example.org"])
    assert sink.wait_for(1), inst.log()
    assert sorted(sink.messages[0].rcpts) == ["a@example.org",
                                              "b@example.org"]
    wait_queue_empty(inst)


def test_helo_when_ehlo_is_refused(make_instance, sinks):
    sink = sinks()
    sink.refuse_ehlo = True
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    relay_send(inst, "ann@acme.test", ["a@example.org", "b@example.org"])
    assert sink.wait_for(1), inst.log()
    assert [l.split()[0] for l in sink.cmds("EHLO") + sink.cmds("HELO")] \
        == ["EHLO", "HELO"]
    assert sorted(sink.messages[0].rcpts) == ["a@example.org",
                                              "b@example.org"]
    # Nothing was offered: no SIZE= or BODY= parameter.
    [mail] = sink.cmds("MAIL")
    assert mail == "MAIL FROM:<ann@acme.test>", mail
    wait_queue_empty(inst)


def test_multiline_replies(make_instance, sinks):
    sink = sinks()
    sink.greeting = "220-sink.test first line\r\n220-second\r\n220 ESMTP"
    sink.rcpt_reply = lambda a: ("250 2.1.5 Ok" if a == "ok@example.org"
                                 else "550-5.1.1 first line\r\n"
                                      "550-5.1.1 second line\r\n"
                                      "550 5.1.1 No such user here")
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    relay_send(inst, "ann@acme.test", ["ok@example.org", "no@example.org"],
               message(subject="multi"))
    assert sink.wait_for(1), inst.log()
    assert sink.messages[0].rcpts == ["ok@example.org"]
    [n] = wait_notices(inst, "ann@acme.test", 1)
    r = Dsn(n).recipient("no@example.org")
    assert r["Status"] == "5.1.1"
    assert "No such user here" in r["Diagnostic-Code"]
    wait_queue_empty(inst)


def test_smtputf8(make_instance, sinks):
    """A message that needs SMTPUTF8 goes to a server offering it (with
    the parameter), and bounces 5.6.7 from one that does not."""
    good, plain = sinks(), sinks()
    good.ehlo_extra = ["SMTPUTF8"]
    inst = dlv_instance(make_instance, routes={"example.org": good,
                                               "example.net": plain})
    pop3_login(inst, "ann@acme.test")
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("ann@acme.test", ["josé@example.org"],
               message(subject="utf8 one"), params=" SMTPUTF8")
        c.mail("ann@acme.test", ["josé@example.net"],
               message(subject="utf8 two"), params=" SMTPUTF8")
    assert good.wait_for(1), inst.log()
    assert good.messages[0].rcpts == ["josé@example.org"]
    [mail] = good.cmds("MAIL")
    assert "SMTPUTF8" in mail.upper(), mail
    [n] = wait_notices(inst, "ann@acme.test", 1)
    dsn = Dsn(n)
    assert dsn.recipients[0]["Status"] == "5.6.7"
    assert plain.cmds("MAIL") == []
    wait_queue_empty(inst)


def test_concurrency_per_destination(make_instance, sinks):
    sink = sinks()
    sink.slow = 0.02
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"delivery_concurrency_per_destination": "2"})
    pop3_login(inst, "ann@acme.test")
    n = 16
    with Smtp(inst.ports["smtp"]) as c:
        for i in range(n):
            c.mail("ann@acme.test", ["bob@example.org"],
                   message(subject=f"conc {i}"))
    assert sink.wait_for(n, timeout=30), inst.log()
    assert sink.max_active <= 2, sink.max_active
    wait_queue_empty(inst)


def test_concurrency_in_total(make_instance, sinks):
    """delivery_concurrency = 1: one connection at a time in all, and a
    destination waiting for that one connection is served when it
    closes."""
    one, two = sinks(), sinks()
    one.slow = two.slow = 0.02
    inst = dlv_instance(make_instance, routes={"example.org": one,
                                               "example.net": two},
                        config={"delivery_concurrency": "1"})
    relay_send(inst, "ann@acme.test", ["a@example.org", "b@example.net"])
    # The first connection idles 2 s before QUIT; then the other goes.
    ok = one.wait_for(1, timeout=10) and two.wait_for(1, timeout=10)
    assert ok, f"a destination never served: example.org " \
        f"{len(one.messages)}, example.net {len(two.messages)}; queue " \
        f"{[(r['recipient'], r['state']) for r in queue_rows(inst)]}"
    wait_queue_empty(inst)
    wait_until(lambda: one.active == 0 and two.active == 0, timeout=10,
               what="both connections closed")
    spans = sorted(one.spans + two.spans)
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 >= a1 - 0.05, f"connections overlap: {spans}"


def test_connection_ends_with_quit(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    relay_send(inst, "ann@acme.test", ["bob@example.org"])
    assert sink.wait_for(1), inst.log()
    wait_until(lambda: sink.cmds("QUIT"), timeout=10,
               what="QUIT after the idle time")
    wait_until(lambda: sink.active == 0, what="the connection closed")


def test_many_recipients_in_one_domain(make_instance, sinks):
    """Every recipient reported delivered was given to the server: more
    recipients than fit in one pipelined burst."""
    sink = sinks()
    n = 1100
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"max_recipients": "2000",
                                "relay_max_recipients": "2000",
                                "relay_max_recipients_per_hour": "10000"})
    rcpts = [f"r{i:04d}@example.org" for i in range(n)]
    qid = relay_send(inst, "ann@acme.test", rcpts)
    wait_until(lambda: log_count(inst, rf"qid={qid} removed"), timeout=60,
               what="the message done")
    got = {r for m in sink.messages for r in m.rcpts}
    missing = sorted(set(rcpts) - got)
    assert not missing, \
        f"{len(missing)} recipients logged as sent never reached the " \
        f"server, e.g. {missing[:3]}; " \
        f"{log_count(inst, rf'qid={qid} delivery .*status=sent')} " \
        f"logged status=sent"


def test_delivery_to_another_popgate_over_starttls(make_instance):
    """Opportunistic STARTTLS: a second popgate is the MX of example.org;
    the message lands in its Maildir, received over TLS, and the log
    says the certificate was not verified."""
    mx = make_instance(start=False)
    mx.setup_mailbox("bob@example.org", "pw-bob", customer="exorg")
    mx.start()
    inst = dlv_instance(make_instance,
                        routes={"example.org": mx.ports["smtp"]})
    original = message(subject="over tls")
    qid = relay_send(inst, "ann@acme.test", ["bob@example.org"], original)
    wait_queue_empty(inst)
    [got] = wait_until(lambda: maildir_messages(mx, "bob@example.org"))
    msg = parse(got)
    assert msg["Subject"] == "over tls"
    received = [str(r) for r in msg.get_all("Received")]
    assert len(received) == 2, received
    assert "with ESMTPS" in received[0], received[0]    # mx's, over TLS
    assert f"id {qid}" in received[1], received[1]       # ours
    tls = wait_log(inst, r"delivery tls peer=")
    assert "verify=no" in tls and "not verified" in tls, tls
    wait_log(inst, rf"qid={qid} delivery to=<bob@example.org> .*"
             rf"status=sent")
    # Stopping while the TLS connection idles (before QUIT) is clean
    # (stop() checks the exit status and the sanitizer output).
    inst.stop()
    wait_log(mx, r"smtp disconnect")
