"""Routing by DNS (SPEC 6, issue 6 point 3), against tests/blackbox/
dnsstub.py: null MX bounces 5.1.10, NXDOMAIN bounces, SERVFAIL defers,
no MX falls back to the domain's address, MX hosts in preference order.
Nothing here asks the machine's resolver. MX delivery goes to port 25:
where 127.0.0.x:25 can be bound (as root), a sink there takes the mail."""
import pytest

from delivery_helpers import (Dsn, can_bind, dlv_instance, message,
                              notices, relay_send, sinks,
                              wait_log, wait_notices, wait_queue_empty,
                              wait_rows, wait_until)
from dnsstub import DnsStub
from harness import port_accepts

assert sinks  # the fixture

# Loopback addresses for the MX hosts (nothing listens on them but the
# sinks these tests bind).
MX1, MX2, MX3, AHOST = "127.0.0.71", "127.0.0.72", "127.0.0.73", \
    "127.0.0.74"
SMART, BRACKET = "127.0.0.75", "127.0.0.76"

RECORDS = {
    "null.example": {"MX": [(0, ".")]},
    "broken.example": "SERVFAIL",
    "amx.example": {"A": [AHOST]},
    "pref.example": {"MX": [(30, "mx3.pref.example"),
                            (10, "mx1.pref.example"),
                            (20, "mx2.pref.example")]},
    "mx1.pref.example": {"A": [MX1]},
    "mx2.pref.example": {"A": [MX2]},
    "mx3.pref.example": {"A": [MX3]},
    # relayhost = smart.example: its MX; [bracket.example]: its address
    "smart.example": {"MX": [(10, "smtp.smart.example")]},
    "smtp.smart.example": {"A": [SMART]},
    "bracket.example": {"MX": [(10, "mx.elsewhere.example")],
                        "A": [BRACKET]},
    # nx.example: absent, so NXDOMAIN
}


@pytest.fixture
def stub():
    s = DnsStub(RECORDS).start()
    yield s
    s.stop()


def dns_instance(make_instance, stub, **config):
    cfg = {"dns_servers": stub.server, "retry_min": "1h",
           "retry_max": "2h", "connect_timeout": "2s"}
    cfg.update(config)
    return dlv_instance(make_instance, config=cfg)


def address_lookups(stub):
    """The hosts looked up for an address (A or AAAA), in order, once
    each."""
    seen = []
    for name, qtype in list(stub.queries):
        if qtype in ("A", "AAAA") and name not in seen:
            seen.append(name)
    return seen


def test_null_mx_bounces_5_1_10(make_instance, stub):
    inst = dns_instance(make_instance, stub)
    relay_send(inst, "ann@acme.test", ["bob@null.example"],
               message(subject="to a null MX", rcpt="bob@null.example"))
    [msg] = wait_notices(inst, "ann@acme.test", 1)
    dsn = Dsn(msg)
    r = dsn.recipient("bob@null.example")
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.10", r["Status"]
    assert "null MX" in r["Diagnostic-Code"]
    assert "Subject: to a null MX" in dsn.headers
    wait_queue_empty(inst)
    assert ("null.example", "MX") in stub.queries
    # No address was looked up: a null MX is final.
    assert address_lookups(stub) == []


def test_nxdomain_bounces(make_instance, stub):
    inst = dns_instance(make_instance, stub)
    relay_send(inst, "ann@acme.test", ["bob@nx.example"],
               message(subject="to nowhere", rcpt="bob@nx.example"))
    [msg] = wait_notices(inst, "ann@acme.test", 1)
    r = Dsn(msg).recipient("bob@nx.example")
    assert r["Action"] == "failed"
    assert r["Status"].startswith("5."), r["Status"]
    assert "not found" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    wait_queue_empty(inst)
    assert ("nx.example", "MX") in stub.queries


def test_servfail_defers(make_instance, stub):
    inst = dns_instance(make_instance, stub)
    qid = relay_send(inst, "ann@acme.test", ["bob@broken.example"])
    rows = wait_rows(inst, lambda rows: rows and
                     rows[0]["state"] == "deferred", timeout=20,
                     what="deferred")
    [row] = rows
    assert row["id"] == qid
    assert row["last_error"].startswith("4"), row
    assert "DNS" in row["last_error"], row
    assert ("broken.example", "MX") in stub.queries
    assert notices(inst, "ann@acme.test") == []


def port25_sink(sinks, host):
    """A sink on HOST:25, or None when that cannot be bound; skips the
    test when something else answers there (mail must not reach it)."""
    if can_bind(host, 25):
        return sinks(host=host, port=25)
    if port_accepts(25, host=host):
        pytest.skip(f"something listens on {host}:25")
    return None


def test_no_mx_falls_back_to_the_address(make_instance, stub, sinks):
    sink = port25_sink(sinks, AHOST)
    inst = dns_instance(make_instance, stub)
    relay_send(inst, "ann@acme.test", ["bob@amx.example"])
    wait_until(lambda: "amx.example" in address_lookups(stub),
               what="an address lookup of amx.example")
    first_mx = stub.queries.index(("amx.example", "MX"))
    first_a = min(i for i, q in enumerate(stub.queries)
                  if q[0] == "amx.example" and q[1] in ("A", "AAAA"))
    assert first_mx < first_a, stub.queries
    if sink is None:
        pytest.skip(f"{AHOST}:25 cannot be bound: lookup checked only")
    assert sink.wait_for(1), inst.log()
    assert sink.messages[0].rcpts == ["bob@amx.example"]
    wait_queue_empty(inst)


def test_mx_hosts_in_preference_order(make_instance, stub, sinks):
    """mx1 (10) refuses connections, mx2 (20) takes the mail, mx3 (30)
    is never needed. Without port 25: every host is tried in order and
    the message is deferred."""
    for host in (MX1, MX3):
        if port_accepts(25, host=host):
            pytest.skip(f"something listens on {host}:25")
    sink = port25_sink(sinks, MX2)
    inst = dns_instance(make_instance, stub)
    relay_send(inst, "ann@acme.test", ["bob@pref.example"])
    if sink is not None:
        assert sink.wait_for(1), inst.log()
        assert sink.messages[0].rcpts == ["bob@pref.example"]
        wait_queue_empty(inst)
        assert address_lookups(stub)[:2] == ["mx1.pref.example",
                                             "mx2.pref.example"], \
            stub.queries
        assert "mx3.pref.example" not in address_lookups(stub)
        wait_log(inst, rf"delivery to=<bob@pref.example> .*"
                 rf"relay=mx2\.pref\.example\[{MX2}\]:25 .*status=sent")
    else:
        rows = wait_rows(inst, lambda rows: rows and
                         rows[0]["state"] == "deferred", timeout=20,
                         what="deferred")
        assert address_lookups(stub) == ["mx1.pref.example",
                                         "mx2.pref.example",
                                         "mx3.pref.example"], stub.queries
        assert "mx3.pref.example" in rows[0]["last_error"], rows


@pytest.mark.parametrize("relayhost", ["smart.example", "[bracket.example]"])
def test_relayhost_by_name(make_instance, stub, sinks, relayhost):
    """relayhost = NAME goes to NAME's MX; [NAME] to NAME's address
    without an MX lookup (as in Postfix)."""
    host = SMART if relayhost == "smart.example" else BRACKET
    sink = port25_sink(sinks, host)
    if sink is None:
        pytest.skip(f"{host}:25 cannot be bound")
    inst = dns_instance(make_instance, stub, relayhost=relayhost)
    relay_send(inst, "ann@acme.test", ["bob@far.example"])
    assert sink.wait_for(1), inst.log()
    assert sink.messages[0].rcpts == ["bob@far.example"]
    wait_queue_empty(inst)
    # The recipient's domain is never looked up.
    assert not any(q[0] == "far.example" for q in stub.queries), \
        stub.queries
    if relayhost == "smart.example":
        assert ("smart.example", "MX") in stub.queries
    else:
        assert ("bracket.example", "MX") not in stub.queries, stub.queries
