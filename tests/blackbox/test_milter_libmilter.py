"""popgate's milter client against Sendmail's own libmilter (a filter
on Debian's python3-milter, milters/libmilter_filter.py, in a process
of its own): the implementation most filters are built on takes what
popgate sends and popgate applies what it answers."""
import os
import subprocess
import tempfile
import time

import pytest

import harness
from milter_helpers import (
    assert_reply, delivered_with, finish, header_fields, milter_instance,
    not_delivered, send, session, tagged_message)

HERE = os.path.dirname(os.path.abspath(__file__))
ANN, BOB, CAROL = "ann@acme.test", "bob@acme.test", "carol@acme.test"


@pytest.fixture(scope="module")
def lm():
    log = tempfile.NamedTemporaryFile(prefix="popgate-libmilter-",
                                      suffix=".log", delete=False)
    log.close()
    port = harness.free_ports(1)[0]
    p = subprocess.Popen(["/usr/bin/python3",
                          os.path.join(HERE, "milters", "libmilter_filter.py"),
                          f"inet:{port}@127.0.0.1", log.name])
    deadline = time.monotonic() + 10
    while not harness.port_accepts(port):
        assert p.poll() is None, "the libmilter filter did not start"
        assert time.monotonic() < deadline, "the libmilter filter is not up"
        time.sleep(0.05)
    yield port, log.name
    p.terminate()
    p.wait(10)
    os.unlink(log.name)


@pytest.fixture(scope="module")
def mx(tls_files, lm):
    inst = milter_instance(tls_files, [("libmilter",
                                        f"inet:127.0.0.1:{lm[0]}")])
    yield inst
    finish(inst)


def log_lines(lm):
    with open(lm[1]) as f:
        return f.read().splitlines()


def wait_log(lm, line, count, timeout=10):
    """Waits until LINE is in the log COUNT times."""
    deadline = time.monotonic() + timeout
    while log_lines(lm).count(line) < count:
        assert time.monotonic() < deadline, (line, log_lines(lm)[-10:])
        time.sleep(0.05)


def test_every_modification(mx, lm):
    with session(mx, "lm-mods.test") as c:
        o = send(c, "someone@example.org", [ANN, BOB],
                 tagged_message("lm-mods"))
        assert_reply(o.end, "250 2.0.0")
        qid = o.qid
        c.quit()
    msg = delivered_with(mx, ANN, b"a new body")
    fields = header_fields(msg)
    assert ("Return-Path", "<changed@example.org>") in fields, fields
    assert ("X-Libmilter", "was here") in fields, fields
    assert ("Subject", "lm-mods changed") in fields, fields
    assert msg.endswith(b"\n\na new body\n"), msg[-80:]
    delivered_with(mx, CAROL, b"a new body")
    not_delivered(mx, b"a new body", [BOB])
    assert f"mail <someone@example.org> i={qid}" in log_lines(lm)


def test_a_recipient_refused_with_the_filters_reply(mx, lm):
    with session(mx, "lm-rcpt.test") as c:
        o = send(c, "rcptrefuse@example.org", [BOB, ANN],
                 tagged_message("lm-rcpt"))
        assert o.rcpts[0].raw == ["554 5.7.0 no bob"], o.rcpts[0]
        assert_reply(o.rcpts[1], "250 2.1.5")
        assert_reply(o.end, "250 2.0.0")
        c.quit()
    delivered_with(mx, ANN, "lm-rcpt")
    not_delivered(mx, "lm-rcpt", [BOB])


def test_a_reject_at_the_end_and_an_abort(mx, lm):
    with session(mx, "lm-reject.test") as c:
        o = send(c, "someone@example.org", [ANN],
                 tagged_message("lm-reject"))
        assert_reply(o.end, "550 5.7.1")
        aborts = log_lines(lm).count("abort")
        # A transaction left half-way is ABORT to the filter.
        assert_reply(c.cmd("MAIL FROM:<someone@example.org>"), "250 2.1.0")
        assert_reply(c.cmd(f"RCPT TO:<{ANN}>"), "250 2.1.5")
        c.quit()
    not_delivered(mx, "lm-reject")
    wait_log(lm, "abort", aborts + 1)
