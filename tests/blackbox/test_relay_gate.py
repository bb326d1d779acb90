"""The gated relay, part 3 (issue 13): the relay limits cannot be got
round by the order of commands.

- Size: whatever the order of RCPT, BDAT and DATA, a relayed recipient
  never gets a message over relay_max_message_size. A relaying RCPT
  after BDAT chunks is judged by the octets already received as well as
  by SIZE=, and once accepted the relay limit holds for the rest.

Clients are told apart by their source address (127.0.0.x), as in
test_relay_rules.py.
"""
from relay_helpers import (Smtp, log_lines, log_size, maildir_new, message,
                           pop3_login, queue_ids, queued, relay_instance)

REMOTE = "bob@example.org"
SIZES = {"relay_max_message_size": "4K", "max_message_size": "64K"}
TOO_LARGE = ("552 5.3.4 Message too large to relay (at most 4096 "
             "octets)")


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
