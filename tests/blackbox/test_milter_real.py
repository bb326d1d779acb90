"""The real filters through popgate (issue 16, SPEC 11): rspamd's proxy
worker in milter mode, clamd + clamav-milter, OpenDKIM signing, each
started once for this file by milter_helpers (test_milter_filters.py
proves them on their own), in front of one `popgate serve`:

    milter = rspamd   (all)      GTUBE -> 554 5.7.1 at the end of data;
                                 a clean message gets X-Spamd-Result,
                                 X-Rspamd-Server, X-Rspamd-Queue-Id (the
                                 macro i: popgate's queue id),
                                 X-Spam-Status
    milter = clamav   (all)      the test signature -> 550 5.7.1; a clean
                                 message gets X-Virus-Scanned and
                                 X-Virus-Status: Clean
    milter = opendkim (relay)    signs mail from acme.test; the relayed
                                 copy (to a sink on loopback) verifies
                                 with python3-dkim and the test's key
"""
import threading

import pytest

from delivery_helpers import RecordingSink
from milter_helpers import (
    DKIM_DOMAIN, DKIM_SELECTOR, GTUBE, TEST_VIRUS, TEST_VIRUS_NAME,
    assert_reply, auth, delivered_with, dkim_verify, finish, header_fields,
    milter_instance, not_delivered, send, session, tagged_message)
from milter_helpers import (clamav_milter, dns_stub,  # noqa: F401
                            opendkim_milter, rspamd_milter)

SENDER = "someone@example.org"
ANN, BOB = "ann@acme.test", "bob@acme.test"
REMOTE = "friend@example.org"


@pytest.fixture(scope="module")
def sink():
    s = RecordingSink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def mx(tls_files, rspamd_milter, clamav_milter, opendkim_milter, sink):
    inst = milter_instance(
        tls_files, [("rspamd", rspamd_milter), ("clamav", clamav_milter),
                    ("opendkim", opendkim_milter)],
        apply={"opendkim": "relay"},
        config={"milter_command_timeout": "60s",
                "milter_total_timeout": "2m"},
        extra_lines=[f"transport example.org = 127.0.0.1:{sink.port}"])
    yield inst
    finish(inst)


def names(msg):
    return [n for n, _ in header_fields(msg)]


# ---- rspamd ----

def test_gtube_is_rejected_at_the_end_of_data(mx):
    msg = tagged_message("gtube", body=f"spam\r\n\r\n{GTUBE}\r\n")
    with session(mx, "gtube.test", source="127.0.0.2") as c:
        o = send(c, SENDER, [ANN], msg)
        assert o.data.code == 354, o
        assert_reply(o.end, "554 5.7.1")
        assert c.alive()
        c.quit()
    not_delivered(mx, "gtube")


def test_gtube_in_bdat_is_rejected_at_the_last_chunk(mx):
    msg = tagged_message("gtube-bdat", body=f"spam\r\n\r\n{GTUBE}\r\n")
    with session(mx, "gtube-bdat.test", source="127.0.0.2") as c:
        o = send(c, SENDER, [ANN], msg, bdat=[100])
        assert_reply(o.end, "554 5.7.1")
        c.quit()
    not_delivered(mx, "gtube-bdat")


def test_a_clean_message_is_delivered_with_the_filters_headers(mx):
    with session(mx, "clean.test", source="127.0.0.2") as c:
        o = send(c, SENDER, [ANN], tagged_message("clean"))
        assert_reply(o.end, "250 2.0.0")
        qid = o.qid
        c.quit()
    got = header_fields(delivered_with(mx, ANN, "clean"))
    d = dict(got)
    assert d["X-Spamd-Result"].startswith("default: False"), got
    assert "X-Rspamd-Server" in d, got
    # rspamd names the message by the macro i: popgate's queue id.
    assert d["X-Rspamd-Queue-Id"] == qid, got
    assert d["X-Spam-Status"].startswith("No"), got
    assert d["X-Virus-Status"] == "Clean", got
    assert d["X-Virus-Scanned"].startswith("clamav-milter"), got
    # The filters' fields come after the message's own.
    n = [x for x, _ in got]
    assert n.index("Date") < n.index("X-Spamd-Result")


# ---- ClamAV ----

def test_the_test_virus_is_rejected_at_the_end_of_data(mx, clamav_milter):
    msg = tagged_message("virus", body=f"look:\r\n{TEST_VIRUS}\r\n")
    with session(mx, "virus.test", source="127.0.0.2") as c:
        o = send(c, SENDER, [ANN, BOB], msg)
        assert [r.code for r in o.rcpts] == [250, 250], o
        assert_reply(o.end, "550 5.7.1")
        assert TEST_VIRUS_NAME in o.end.text
        c.quit()
    not_delivered(mx, "virus")
    assert TEST_VIRUS_NAME in clamav_milter.log()


def test_the_virus_deep_in_a_large_message(mx):
    """Past the first BODY chunks (64 KiB each): every chunk reaches the
    filters."""
    filler = "".join(f"{i:07d} " + "y" * 70 + "\r\n" for i in range(2500))
    msg = tagged_message("deepvirus", body=f"{filler}{TEST_VIRUS}\r\n")
    with session(mx, "deep.test", source="127.0.0.2") as c:
        o = send(c, SENDER, [ANN], msg)
        assert_reply(o.end, "550 5.7.1")
        c.quit()
    not_delivered(mx, "deepvirus")


def test_a_large_clean_message_arrives_intact(mx):
    filler = "".join(f"{i:07d} " + "z" * 70 + "\r\n" for i in range(2500))
    with session(mx, "big.test", source="127.0.0.2") as c:
        o = send(c, SENDER, [ANN], tagged_message("bigclean", body=filler))
        assert_reply(o.end, "250 2.0.0")
        c.quit()
    msg = delivered_with(mx, ANN, "Subject: bigclean")
    assert msg.split(b"\n\n", 1)[1] == filler.replace("\r\n", "\n").encode()
    assert "X-Virus-Status" in names(msg)


# ---- OpenDKIM ----

def test_relayed_mail_is_signed_and_the_signature_verifies(
        mx, sink, opendkim_milter):
    msg = tagged_message("dkim", sender=ANN, rcpt=REMOTE)
    with session(mx, "dkim.test", port="submission") as c:
        auth(c)
        o = send(c, ANN, [REMOTE], msg)
        assert_reply(o.end, "250 2.0.0")
        c.quit()
    assert sink.wait_for(1, timeout=30), "nothing reached the sink"
    (got,) = [m for m in sink.messages if b"Subject: dkim" in m.data]
    assert got.rcpts == [REMOTE], got
    data = got.data
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nDKIM-Signature:" in b"\r\n" + head, head.decode()
    assert f"d={DKIM_DOMAIN}".encode() in head
    assert f"s={DKIM_SELECTOR}".encode() in head
    assert dkim_verify(data, opendkim_milter.public_key), head.decode()
    # The check is a real one: a changed body fails it.
    assert not dkim_verify(data.replace(b"body of dkim", b"body of dkin"),
                           opendkim_milter.public_key)
    # rspamd and ClamAV (apply all) saw it too.
    assert b"\r\nX-Spamd-Result:" in head and b"\r\nX-Virus-Status: Clean" \
        in head


def test_inbound_mail_is_not_signed(mx):
    """opendkim applies to relay only: mail to a hosted mailbox from an
    unauthorized client, though From acme.test and from 127.0.0.0/8
    (OpenDKIM's InternalHosts), is not signed."""
    msg = tagged_message("nodkim", sender=ANN, rcpt=BOB)
    with session(mx, "nodkim.test", source="127.0.0.2") as c:
        assert_reply(send(c, ANN, [BOB], msg).end, "250 2.0.0")
        c.quit()
    got = names(delivered_with(mx, BOB, "nodkim"))
    assert "DKIM-Signature" not in got, got
    assert "X-Spamd-Result" in got, got


def test_sessions_in_parallel(mx):
    results = {}

    def run(n):
        try:
            with session(mx, f"par{n}.test", source="127.0.0.2") as c:
                results[n] = send(c, SENDER, [ANN],
                                  tagged_message(f"par-{n}"))
                c.quit()
        except Exception as e:          # noqa: BLE001 (reported below)
            results[n] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for n in range(4):
        assert not isinstance(results.get(n), Exception), results
        assert_reply(results[n].end, "250 2.0.0")
        assert "X-Virus-Status" in names(delivered_with(mx, ANN,
                                                        f"par-{n}"))
