"""Hostile and broken filters (issue 16, SPEC 11): garbage, wrong and
oversized lengths, a reply not allowed where it came or of an action
never negotiated, silence, closing in the middle, a filter that is not
there, one that never accepts the connection, one that keeps sending
progress forever. The SMTP command the filter was answering gets the
filter's default action (milter_default_action: tempfail -> 451 4.7.1,
accept -> on without it), the session goes on, and other sessions are
neither slowed nor harmed; at the end the daemon stops cleanly with no
sanitizer report (the harness checks it).

`hx`: three scripted filters, in order
    h   milter_default_action tempfail, command timeout 1 s, total 3 s
    ha  milter_default_action accept,   command timeout 1 s
    s   tempfail, command timeout STALL seconds (the concurrency tests)
Each healthy filter adds a header at the end of the message (X-H, X-Ha),
so the delivered copy says which filters had their say.
"""
import struct
import threading
import time

import pytest

from milter_helpers import (
    ACCEPT, ADDHDRS, ALL_ACTIONS, Blackhole, Close, Hang, Progress, Raw,
    ScriptedMilter, add_header, assert_reply, auth, closed_port,
    delivered_with, finish, first_only, header_fields, milter_instance,
    not_delivered, packet, send, session, tagged_message, z)

SENDER = "someone@example.org"
ANN, BOB = "ann@acme.test", "bob@acme.test"

STALL = 6               # seconds: the command timeout of filter s


@pytest.fixture(scope="module")
def filters():
    fs = {n: ScriptedMilter(name=n).start() for n in ("h", "ha", "s")}
    yield fs
    for f in fs.values():
        f.stop()


@pytest.fixture(scope="module")
def hx(tls_files, filters):
    inst = milter_instance(
        tls_files, list(filters.items()),
        config={"milter_command_timeout": "1s",
                "milter_default_action": "tempfail"},
        per_filter={("milter_total_timeout", "h"): "3s",
                    ("milter_default_action", "ha"): "accept",
                    ("milter_command_timeout", "s"): f"{STALL}s",
                    ("milter_total_timeout", "s"): "1m"})
    yield inst
    finish(inst)


@pytest.fixture
def fs(filters):
    for name, f in filters.items():
        f.reset()
        f.actions, f.protocol = ALL_ACTIONS, 0
        if name != "s":
            header = {"h": "X-H", "ha": "X-Ha"}[name]
            f.on["E"] = lambda s, a, h=header: [add_header(h, "seen"),
                                                ACCEPT]
    return filters


# Where a failure of the filter at each command shows in SMTP.
ANSWERED_AT = {"O": "mail", "C": "mail", "H": "mail", "M": "mail",
               "R": "rcpts", "T": "data", "L": "end", "N": "end",
               "B": "end", "E": "end"}

HOSTILE = {
    "silence": lambda: Hang(),
    "garbage": lambda: Raw(b"HTTP/1.0 400 Bad Request\r\n\r\n",
                           then_hang=True),
    "zero-length": lambda: Raw(struct.pack(">I", 0), then_hang=True),
    "oversized": lambda: Raw(struct.pack(">I", 0x7FFFFFFF) + b"h" +
                             b"x" * 65536, then_hang=True),
    "short": lambda: Raw(struct.pack(">I", 100) + b"c", then_hang=True),
    "close": lambda: Close(),
    "close-mid-packet": lambda: Close(
        packet("y", z("550 5.7.1 not finished"))[:9]),
    "unknown-reply": lambda: [packet("Z", b"what")],
}


def refused_at(o, where):
    if where == "rcpts":
        assert o.rcpts, o
        return o.rcpts[0]
    got = getattr(o, where)
    assert got, o
    return got


def hostile_handler(stage, behaviour):
    answer = HOSTILE[behaviour]()
    if stage in "LB":
        return first_only(answer)
    return lambda s, a: answer


@pytest.mark.parametrize("stage", list(ANSWERED_AT))
@pytest.mark.parametrize("behaviour", list(HOSTILE))
def test_tempfail_filter(hx, fs, stage, behaviour):
    fs["h"].on[stage] = hostile_handler(stage, behaviour)
    tag = f"tf-{stage}-{behaviour}"
    t0 = time.monotonic()
    with session(hx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN], tagged_message(tag))
        assert_reply(refused_at(o, ANSWERED_AT[stage]), "451 4.7.1")
        assert time.monotonic() - t0 < 8, "slower than the timeouts"
        assert c.alive()
        c.quit()
    not_delivered(hx, tag)


@pytest.mark.parametrize("stage", ["O", "M", "R", "T", "E"])
@pytest.mark.parametrize("behaviour", ["silence", "garbage", "oversized",
                                       "close-mid-packet"])
def test_accept_filter_is_left_out(hx, fs, stage, behaviour):
    fs["ha"].on[stage] = hostile_handler(stage, behaviour)
    tag = f"acc-{stage}-{behaviour}"
    with session(hx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN], tagged_message(tag))
        assert_reply(o.end, "250 2.0.0")
        c.quit()
    names = [n for n, _ in header_fields(delivered_with(hx, ANN, tag))]
    assert "X-H" in names and "X-Ha" not in names, names


def test_accept_filter_left_out_for_the_rest_of_the_message_only(hx, fs):
    """After its failure in one transaction, the next transaction of the
    session gets through as well (with or without that filter)."""
    fs["ha"].on["M"] = lambda s, a: Close()
    with session(hx, "again.test") as c:
        for n in (1, 2):
            assert_reply(send(c, SENDER, [ANN],
                              tagged_message(f"again-{n}")).end,
                         "250 2.0.0")
        c.quit()
    for n in (1, 2):
        got = [x for x, _ in header_fields(delivered_with(hx, ANN,
                                                           f"again-{n}"))]
        assert "X-H" in got, got


# ---- protocol violations that are well-formed packets ----

@pytest.mark.parametrize("case", [
    "modification-at-mail", "optneg-at-rcpt", "header-not-negotiated",
    "version-1", "optneg-short", "chgfrom-not-negotiated",
    "continue-to-optneg"])
def test_protocol_violation_is_the_default_action(hx, fs, case):
    h = fs["h"]
    where = "end"
    if case == "modification-at-mail":
        h.on["M"] = lambda s, a: [add_header("X-Early", "no"), ACCEPT]
        where = "mail"
    elif case == "optneg-at-rcpt":
        h.on["R"] = lambda s, a: [packet("O", struct.pack(">III", 6, 0, 0))]
        where = "rcpts"
    elif case == "header-not-negotiated":
        h.actions = ALL_ACTIONS & ~ADDHDRS
        h.on["E"] = lambda s, a: [add_header("X-Sneaky", "yes"), ACCEPT]
    elif case == "chgfrom-not-negotiated":
        h.actions = 0
        h.on["E"] = lambda s, a: [packet("e", z("<x@example.net>")),
                                  ACCEPT]
    elif case == "version-1":
        h.on["O"] = lambda s, a: [packet("O", struct.pack(">III", 1, 0, 0))]
        where = "mail"
    elif case == "optneg-short":
        h.on["O"] = lambda s, a: [packet("O", b"\0\0\0\6")]
        where = "mail"
    elif case == "continue-to-optneg":
        h.on["O"] = lambda s, a: [packet("c")]
        where = "mail"
    tag = f"viol-{case}"
    with session(hx, f"{tag}.test") as c:
        o = send(c, SENDER, [ANN], tagged_message(tag))
        assert_reply(refused_at(o, where), "451 4.7.1")
        assert c.alive()
        c.quit()
    not_delivered(hx, tag)


def test_an_oversized_body_replacement_is_refused(hx, fs):
    """A well-formed SMFIR_REPLBODY of 2 MiB (popgate reads at most
    1 MiB of reply data)."""
    fs["h"].on["E"] = lambda s, a: [packet("b", b"x" * (2 << 20)), ACCEPT]
    with session(hx, "bigbody.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("bigbody")).end,
                     "451 4.7.1")
        assert c.alive()
        c.quit()
    not_delivered(hx, "bigbody")


def test_progress_forever_hits_the_total_timeout(hx, fs):
    fs["h"].on["E"] = lambda s, a: Progress(every=0.2)
    t0 = time.monotonic()
    with session(hx, "forever.test") as c:
        o = send(c, SENDER, [ANN], tagged_message("forever"))
        assert_reply(o.end, "451 4.7.1")
        took = time.monotonic() - t0
        c.quit()
    # milter_total_timeout h = 3s; progress restarts the 1 s command
    # timeout, not the total one.
    assert 2.5 < took < 10, took
    not_delivered(hx, "forever")


def test_a_flood_of_progress_then_accept(hx, fs):
    flood = packet("p") * 20000
    fs["h"].on["E"] = lambda s, a: [flood, add_header("X-H", "seen"),
                                    ACCEPT]
    with session(hx, "flood.test") as c:
        assert_reply(send(c, SENDER, [ANN], tagged_message("flood")).end,
                     "250 2.0.0")
        c.quit()
    got = [x for x, _ in header_fields(delivered_with(hx, ANN, "flood"))]
    assert "X-H" in got and "X-Ha" in got, got


# ---- other sessions ----

def test_a_stalled_filter_does_not_slow_other_sessions(hx, fs):
    fs["s"].on["E"] = lambda s, a: Hang() if s.helo == "stall.test" \
        else None
    result = {}

    def stalled_session():
        with session(hx, "stall.test") as c:
            c.timeout = STALL + 20
            result["o"] = send(c, SENDER, [ANN], tagged_message("stall"))
            result["at"] = time.monotonic()
            c.quit()

    t = threading.Thread(target=stalled_session, daemon=True)
    t0 = time.monotonic()
    t.start()
    fs["s"].session(helo="stall.test").wait_for("E")
    # While that one waits for its filter, others come and go.
    for n in range(3):
        t1 = time.monotonic()
        with session(hx, f"healthy{n}.test") as c:
            assert_reply(send(c, SENDER, [BOB],
                              tagged_message(f"healthy-{n}")).end,
                         "250 2.0.0")
            c.quit()
        assert time.monotonic() - t1 < 3, "a healthy session was slowed"
        delivered_with(hx, BOB, f"healthy-{n}")
    assert "o" not in result, "the stalled session was answered early"
    t.join(STALL + 30)
    assert_reply(result["o"].end, "451 4.7.1")
    assert result["at"] - t0 >= STALL - 0.5, result["at"] - t0
    not_delivered(hx, "stall")


def test_many_hostile_sessions_at_once_and_healthy_ones_beside(hx, fs):
    behaviours = ["garbage", "oversized", "close", "close-mid-packet",
                  "zero-length", "unknown-reply"]

    def hostile(s, a):
        if s.helo.startswith("bad"):
            return HOSTILE[behaviours[int(s.helo[3]) % len(behaviours)]]()
        return None
    fs["h"].on["M"] = hostile
    results = {}

    def run(helo, rcpt):
        try:
            with session(hx, helo) as c:
                results[helo] = send(c, SENDER, [rcpt],
                                     tagged_message(helo.split(".")[0]))
                c.quit()
        except Exception as e:          # noqa: BLE001 (reported below)
            results[helo] = e

    threads = [threading.Thread(target=run, args=(f"bad{i}.test", ANN))
               for i in range(6)]
    threads += [threading.Thread(target=run, args=(f"good{i}.test", BOB))
                for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for helo, o in sorted(results.items()):
        assert not isinstance(o, Exception), (helo, o)
        if helo.startswith("bad"):
            assert_reply(o.mail, "451 4.7.1")
        else:
            assert_reply(o.end, "250 2.0.0")
            delivered_with(hx, BOB, helo.split(".")[0])
    assert len(results) == 12


def test_no_descriptor_is_left_behind(hx, fs):
    """Filter connections that failed every way are closed: the daemon's
    descriptor count comes back to where it was."""
    before = hx.fd_count()
    for n, behaviour in enumerate(["silence", "garbage", "close",
                                   "oversized", "short"]):
        fs["h"].on["R"] = hostile_handler("R", behaviour)
        with session(hx, f"fd{n}.test") as c:
            o = send(c, SENDER, [ANN], tagged_message(f"fd-{n}"))
            assert_reply(o.rcpts[0], "451 4.7.1")
            c.quit()
    hx.wait_fds(before, timeout=10)


# ---- filters that are not there ----

@pytest.fixture(scope="module")
def down(tls_files):
    """gone: nothing listens there (inbound, tempfail); gone_unix: a
    socket path that does not exist (relay, accept)."""
    inst = milter_instance(
        tls_files, [("gone", f"inet:127.0.0.1:{closed_port()}"),
                    ("gone_unix", "unix:/nonexistent/popgate-milter.sock")],
        apply={"gone": "inbound", "gone_unix": "relay"},
        per_filter={("milter_default_action", "gone_unix"): "accept"})
    yield inst
    finish(inst)


def test_filter_down_tempfail(down):
    with session(down, "down.test") as c:
        t0 = time.monotonic()
        o = send(c, SENDER, [ANN], tagged_message("down"))
        assert_reply(o.mail, "451 4.7.1")
        assert time.monotonic() - t0 < 3
        assert c.alive()
        c.quit()
    not_delivered(down, "down")


def test_filter_down_accept(down):
    with session(down, "down2.test", port="submission") as c:
        auth(c)
        o = send(c, ANN, [BOB], tagged_message("down-acc", sender=ANN,
                                               rcpt=BOB))
        assert_reply(o.end, "250 2.0.0")
        c.quit()
    delivered_with(down, BOB, "down-acc")


@pytest.fixture(scope="module")
def blackholed(tls_files):
    b = Blackhole()
    inst = milter_instance(tls_files, [("hole", b)],
                           config={"milter_connect_timeout": "1s"})
    yield inst
    finish(inst)
    b.stop()


def test_connect_timeout(blackholed):
    with session(blackholed, "hole.test") as c:
        t0 = time.monotonic()
        o = send(c, SENDER, [ANN], tagged_message("hole"))
        took = time.monotonic() - t0
        assert_reply(o.mail, "451 4.7.1")
        assert 0.8 < took < 5, took
        assert c.alive()
        c.quit()
    not_delivered(blackholed, "hole")
