"""The queue survives kill -9 during delivery (SPEC 4, issue 6): every
acknowledged message arrives at least once after a restart, and a
duplicate only for a delivery that was in flight."""
import collections
import re

from delivery_helpers import (Smtp, dlv_instance, message, pop3_login,
                              sinks, wait_log, wait_queue_empty, wait_until)

assert sinks  # the fixture

N = 100
PER_DEST = 2


def ids_of(sink):
    with sink.lock:
        msgs = list(sink.messages)
    out = []
    for m in msgs:
        found = re.findall(rb"unique-id: (m\d{3}-[0-9a-f]{8})", m.data)
        assert len(found) == 1, m.data
        out.append(found[0].decode())
    return out


def test_kill_9_while_delivering_100_messages(make_instance, sinks):
    sink = sinks()
    sink.slow = 0.01        # per DATA line: about 0.15 s per message
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        config={"delivery_concurrency_per_destination":
                                str(PER_DEST)})
    pop3_login(inst, "ann@acme.test")
    sent = []
    with Smtp(inst.ports["smtp"]) as c:
        for i in range(N):
            uid = "m%03d-%08x" % (i, (i * 2654435761) & 0xffffffff)
            c.mail("ann@acme.test", ["bob@example.org"],
                   message(subject=f"crash {i}",
                           body=f"unique-id: {uid}\r\n".encode()))
            sent.append(uid)
    # Every message is acknowledged; kill in the middle of delivery.
    wait_until(lambda: len(sink.messages) >= 20, timeout=30,
               what="20 messages at the sink")
    inst.kill()
    got_before = ids_of(sink)
    assert len(got_before) < N, "the sink was too fast for this test"
    sink.slow = 0.0
    inst.start()
    wait_log(inst, r"queue manager started messages=\d+", inst.log_offset)
    wait_until(lambda: set(ids_of(sink)) >= set(sent), timeout=60,
               what=f"all {N} messages at the sink")
    wait_queue_empty(inst, timeout=20)
    got = ids_of(sink)
    assert set(got) == set(sent)
    dups = [u for u, n in collections.Counter(got).items() if n > 1]
    # Only what was in flight at the kill may come twice: at most one
    # message per open connection.
    assert len(dups) <= PER_DEST, (dups, len(got_before))
