"""The gated relay, part 3 (issue 13): the relay limits cannot be got
round by the order of commands or by parallel sessions.

- Size: whatever the order of RCPT, BDAT and DATA, a relayed recipient
  never gets a message over relay_max_message_size. A relaying RCPT
  after BDAT chunks is judged by the octets already received as well as
  by SIZE=, and once accepted the relay limit holds for the rest.
- Hourly caps: a relaying RCPT holds its message and recipient against
  the customer's caps at once (an atomic check-and-add), so sessions
  that all reach RCPT before any DATA cannot together go past a cap.
  The hold is given back on RSET, on a refusal of the message, on
  disconnect; an accepted message keeps it (it is the charge).

Clients are told apart by their source address (127.0.0.x), as in
test_relay_rules.py. The two-host form (Redis) is in test_multihost.py.
"""
import threading
import time

from relay_helpers import (Smtp, log_lines, log_size, maildir_new, message,
                           pop3_login, queue_ids, queued, relay_instance)

REMOTE = "bob@example.org"
SIZES = {"relay_max_message_size": "4K", "max_message_size": "64K"}
TOO_LARGE = ("552 5.3.4 Message too large to relay (at most 4096 "
             "octets)")
HOURLY_MSGS = ("450 4.7.1 Hourly message limit reached (3 per hour), try "
               "again later")


def authorized(make_instance, config, source="127.0.0.2"):
    inst = relay_instance(make_instance, config=config)
    pop3_login(inst, "ann@acme.test", source=source)
    return inst


def session(inst, source="127.0.0.2"):
    c = Smtp(inst.ports["smtp"], source=source)
    c.ehlo()
    return c


def ok(reply):
    assert reply.text.startswith("250 2.0.0 Ok: queued as"), reply
    return reply


def bdat(c, data, last=False):
    c.send(f"BDAT {len(data)}{' LAST' if last else ''}\r\n".encode() + data)
    return c.reply()


def body(n):
    """A message of the relay's customer of at least N octets."""
    line = "x" * 70 + "\r\n"
    return message("ann@acme.test", REMOTE,
                   body=line * (n // len(line) + 1)).encode()


# ---- point 4: the size cap in every order ----

def test_relaying_rcpt_after_bdat_over_the_cap_is_refused(make_instance):
    """The audit's order: a hosted recipient, a BDAT chunk over the
    relay limit (under the inbound one), then the relaying RCPT: 552
    5.3.4 by the octets received, SIZE= or not; the hosted recipient
    still gets the message, nothing is relayed."""
    inst = authorized(make_instance, SIZES)
    big = body(6000)
    since = log_size(inst)
    with session(inst) as c:
        for mail in ["MAIL FROM:<ann@acme.test>",
                     "MAIL FROM:<ann@acme.test> SIZE=100"]:
            c.expect(mail, "250")
            c.expect("RCPT TO:<bob@acme.test>", "250")
            assert bdat(c, big).code == 250
            r = c.cmd(f"RCPT TO:<{REMOTE}>")
            assert r.text == TOO_LARGE, r
            # Still over: another relaying recipient neither.
            assert c.cmd("RCPT TO:<x@example.org>").text == TOO_LARGE
            ok(bdat(c, b"", last=True))
    assert queue_ids(inst) == []
    assert len(maildir_new(inst, "bob@acme.test")) == 2
    assert log_lines(inst, since, r"rcpt-rejected .*to=<bob@example\.org> "
                     r"rule=size")


def test_relay_size_cap_every_order(make_instance):
    """The other orders: a chunk under the cap, then the relaying RCPT
    (accepted, the limit lowered for the rest), then more; the relaying
    RCPT first; DATA after a relaying RCPT. Over the cap in total: 552,
    nothing relayed; at the cap: relayed."""
    inst = authorized(make_instance, SIZES)
    big = body(6000)
    with session(inst) as c:
        # chunk under the cap, RCPT, chunk that goes over: refused
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        c.expect("RCPT TO:<bob@acme.test>", "250")
        assert bdat(c, big[:2000]).code == 250
        c.expect(f"RCPT TO:<{REMOTE}>", "250")
        r = bdat(c, big[2000:], last=True)
        assert r.text.startswith("552 5.3.4") and "4096" in r.text, r
        # chunk at the cap exactly, RCPT, the empty last chunk: relayed
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        c.expect("RCPT TO:<bob@acme.test>", "250")
        exact = big[:4094] + b"\r\n"
        assert len(exact) == 4096
        assert bdat(c, exact).code == 250
        c.expect(f"RCPT TO:<{REMOTE}>", "250")
        ok(bdat(c, b"", last=True))
        # one octet over, then RCPT: refused
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        c.expect("RCPT TO:<bob@acme.test>", "250")
        assert bdat(c, big[:4095] + b"\r\n").code == 250
        assert c.cmd(f"RCPT TO:<{REMOTE}>").text == TOO_LARGE
        c.expect("RSET", "250")
        # relaying RCPT first, then chunks over the cap
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        c.expect(f"RCPT TO:<{REMOTE}>", "250")
        assert bdat(c, big[:3000]).code == 250
        r = bdat(c, big[3000:], last=True)
        assert r.text.startswith("552 5.3.4"), r
        # DATA after the relaying RCPT
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        c.expect("RCPT TO:<bob@acme.test>", "250")
        c.expect(f"RCPT TO:<{REMOTE}>", "250")
        r = c.data(big)
        assert r.text.startswith("552 5.3.4"), r
    (q,) = queued(inst)
    assert q.rcpts == [REMOTE]
    # Only the message at the cap went to bob@acme.test as well; the
    # refused ones reached nobody.
    assert len(maildir_new(inst, "bob@acme.test")) == 1


# ---- point 5: the hourly caps against parallel sessions ----

def hold_rcpts(inst, n, rcpt=lambda i: f"r{i}@example.org"):
    """N sessions from the authorized address, each with MAIL and one
    relaying RCPT, all RCPTs at once; (sessions, RCPT replies)."""
    conns = [session(inst) for _ in range(n)]
    for c in conns:
        c.expect("MAIL FROM:<ann@acme.test>", "250")
    replies = [None] * n
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        replies[i] = conns[i].cmd(f"RCPT TO:<{rcpt(i)}>")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None for r in replies), replies
    return conns, replies


def held(conns, replies):
    return [c for c, r in zip(conns, replies) if r.code == 250]


def test_hourly_message_cap_holds_at_rcpt(make_instance):
    """relay_max_messages_per_hour = 3, 10 parallel sessions, each with
    its relaying RCPT before any DATA: 3 are accepted, 7 get 450 4.7.1;
    the 3 are all delivered and then nothing more goes."""
    inst = authorized(make_instance, {"relay_max_messages_per_hour": "3"})
    conns, replies = hold_rcpts(inst, 10)
    try:
        assert sorted(r.code for r in replies) == [250] * 3 + [450] * 7, \
            replies
        assert all(r.text == HOURLY_MSGS for r in replies if r.code != 250)
        for c in held(conns, replies):
            ok(c.data(message("ann@acme.test", REMOTE)))
    finally:
        for c in conns:
            c.close()
    assert len(queue_ids(inst)) == 3
    with session(inst) as c:
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        assert c.cmd(f"RCPT TO:<{REMOTE}>").text == HOURLY_MSGS


def test_hourly_hold_given_back(make_instance):
    """A hold goes back on RSET, on a message refused at its end (the
    From: rule, the size), on a new EHLO, on disconnect: each time the
    next session gets the unit. Local mail holds nothing."""
    inst = authorized(make_instance, dict(
        SIZES, relay_max_messages_per_hour="3"))
    conns, replies = hold_rcpts(inst, 3)
    extra = []
    try:
        assert [r.code for r in replies] == [250] * 3, replies
        with session(inst) as c:
            c.expect("MAIL FROM:<ann@acme.test>", "250")
            c.expect("RCPT TO:<bob@acme.test>", "250")
            assert c.cmd(f"RCPT TO:<{REMOTE}>").text == HOURLY_MSGS
            ok(c.data(message("ann@acme.test", "bob@acme.test")))

        def next_one_gets_it():
            c = session(inst)
            extra.append(c)
            c.expect("MAIL FROM:<ann@acme.test>", "250")
            deadline = time.monotonic() + 10
            while True:
                r = c.cmd(f"RCPT TO:<{REMOTE}>")
                if r.code == 250 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert r.code == 250, f"the hold was not given back: {r}"
            return c

        a, b, d = conns
        a.expect("RSET", "250")
        a2 = next_one_gets_it()
        r = b.data(message("ann@acme.test", REMOTE,
                           from_header="eve@other.test"))
        assert r.text.startswith("550 5.7.1"), r
        b2 = next_one_gets_it()
        r = d.data(body(6000))
        assert r.text.startswith("552 5.3.4"), r
        next_one_gets_it()
        a2.expect("EHLO client.test", "250")
        next_one_gets_it()
        b2.close()
        next_one_gets_it()
        # Every unit is held again: the next one waits.
        with session(inst) as c:
            c.expect("MAIL FROM:<ann@acme.test>", "250")
            assert c.cmd(f"RCPT TO:<{REMOTE}>").text == HOURLY_MSGS
    finally:
        for c in conns + extra:
            c.close()
    assert queue_ids(inst) == []


def test_hourly_recipient_cap_holds_at_rcpt(make_instance):
    """relay_max_recipients_per_hour = 5, 4 parallel sessions with two
    relaying recipients each: 5 recipients in all are accepted; the
    messages of the sessions that got any are delivered to exactly
    those."""
    inst = authorized(make_instance, {"relay_max_recipients_per_hour": "5",
                                      "relay_max_messages_per_hour": "100"})
    conns, first = hold_rcpts(inst, 4, lambda i: f"a{i}@example.org")
    try:
        second = [c.cmd(f"RCPT TO:<b{i}@example.org>") if r.code == 250
                  else None for i, (c, r) in enumerate(zip(conns, first))]
        got = [r for r in first + second if r is not None and r.code == 250]
        assert len(got) == 5, (first, second)
        refused = [r for r in first + second
                   if r is not None and r.code != 250]
        assert all(r.text.startswith("450 4.7.1 Hourly recipient limit "
                                     "reached (5 per hour)")
                   for r in refused), refused
        for c, r in zip(conns, first):
            if r.code == 250:
                ok(c.data(message("ann@acme.test", REMOTE)))
    finally:
        for c in conns:
            c.close()
    assert sum(len(q.rcpts) for q in queued(inst)) == 5
