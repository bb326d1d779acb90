"""The API calls of `popgate relay`, `popgate queue`, `popgate domain dkim`
and `popgate store info` (SPEC 12, issue 18) against a real `popgate
serve`: each call's success and error paths, the CLI and the API agreeing
on the same objects, a customer token's view, and a relay revoked through
the API closing the relay at once. One server for the file; example.org
is routed to a closed loopback port with an hour's retry, so what is
relayed there stays deferred in the queue."""
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import harness
from delivery_helpers import (PASSWORD, Smtp, closed_port, message,
                              pop3_login, wait_until)

TIMEOUT = 20


class Api:
    def __init__(self, inst):
        self.inst = inst
        self.base = f"http://127.0.0.1:{inst.ports['http']}"
        self.admin = token(inst, "ops-admin", "admin")

    def call(self, method, path, tok=None, body=None, headers=None):
        """(status, headers, parsed JSON or None)."""
        h = dict(headers or {})
        h["Authorization"] = f"Bearer {self.admin if tok is None else tok}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                status, hdrs, text = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, text = e.code, e.headers, e.read()
        return status, hdrs, json.loads(text) if text else None

    def ok(self, method, path, status=200, **kw):
        st, h, b = self.call(method, path, **kw)
        assert st == status, (method, path, st, b)
        return b


def token(inst, name, scope):
    out = inst.cli("token", "add", name, "--scope", scope,
                   check=True).stdout
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def api(tls_files):
    inst = harness.Instance(
        listeners={"smtp": "smtp", "pop3": "pop3", "http": "http"},
        config={"auth_failure_delay": "0", "retry_min": "1h",
                "retry_max": "2h", "max_queue_lifetime": "1d",
                "delay_warning": "0"},
        extra_lines=[f"transport example.org = 127.0.0.1:{closed_port()}"],
        tls=tls_files)
    inst.setup_mailbox("ann@acme.test", PASSWORD, customer="acme")
    inst.setup_mailbox("dave@beta.test", PASSWORD, customer="beta")
    inst.start()
    a = Api(inst)
    a.acme = token(inst, "ops-acme", "customer:acme")
    a.beta = token(inst, "ops-beta", "customer:beta")
    yield a
    try:
        if inst.running:
            inst.stop()
    finally:
        inst.cleanup()


def q(**params):
    return "?" + urllib.parse.urlencode(params)


def rcpt(inst, source, to="bob@example.org", sender="ann@acme.test"):
    """The reply to RCPT TO:<TO> from SOURCE after MAIL FROM:<SENDER>."""
    with Smtp(inst.ports["smtp"], source=source) as c:
        c.expect(f"MAIL FROM:<{sender}>", "250")
        return c.cmd(f"RCPT TO:<{to}>")


def relay_items(api, tok=None, **params):
    return api.ok("GET", "/api/v1/relay" + (q(**params) if params else ""),
                  tok=tok)["items"]


# ---- relay ----

def test_relay_list_agrees_with_the_cli_after_a_pop3_login(api):
    pop3_login(api.inst, "ann@acme.test", source="127.0.0.21")
    cli = [r for r in api.inst.cli_json("relay", "list")
           if r["address"] == "127.0.0.21"]
    items = [r for r in relay_items(api) if r["address"] == "127.0.0.21"]
    assert len(cli) == 1 and len(items) == 1
    assert {k: items[0][k] for k in cli[0]} == cli[0]
    assert items[0]["customer"] == "acme"
    assert items[0]["mailbox"] == "ann@acme.test"
    assert items[0]["listener"] == "pop3" and items[0]["network"] is False
    # the same filter on both sides
    assert api.inst.cli_json("relay", "list", "--customer", "beta") == \
        relay_items(api, customer="beta") == []
    st, _, b = api.call("GET", "/api/v1/relay?limit=0")
    assert st == 422 and b["field"] == "limit"
    st, _, b = api.call("GET", "/api/v1/relay?customer=")
    assert st == 422 and b["field"] == "customer"


def test_relay_allow_get_and_revoke(api):
    st, h, b = api.call("POST", "/api/v1/relay",
                        body={"address": "192.0.2.0/24", "customer": "acme",
                              "for": "90m"})
    assert st == 201, b
    assert h["Location"] == "/api/v1/relay/192.0.2.0/24"
    assert b["address"] == "192.0.2.0/24"
    [e] = b["items"]
    assert e["customer"] == "acme" and e["network"] is True
    assert e["listener"] == "api" and e["mailbox"] == "-"
    assert api.ok("GET", h["Location"]) == b
    cli = {(r["address"], r["customer"]) for r in
           api.inst.cli_json("relay", "list")}
    assert ("192.0.2.0/24", "acme") in cli
    assert "ops relay-allowed key=192.0.2.0/24 customer=acme" in \
        api.inst.log() and "by=token=ops-admin" in api.inst.log()
    # a host: an IPv6 one is widened to relay_ipv6_prefix, as at a login
    b = api.ok("POST", "/api/v1/relay", 201,
               body={"address": "2001:db8::7", "customer": "beta"})
    assert b["address"] == "2001:db8::/64"
    api.ok("DELETE", "/api/v1/relay/2001:db8::99", 204)
    assert api.call("GET", "/api/v1/relay/2001:db8::7")[0] == 404
    api.ok("DELETE", "/api/v1/relay/192.0.2.0/24?customer=acme", 204)
    assert api.call("DELETE", "/api/v1/relay/192.0.2.0/24")[0] == 404
    assert ("192.0.2.0/24", "acme") not in {
        (r["address"], r["customer"])
        for r in api.inst.cli_json("relay", "list")}
    assert "ops relay-revoked key=192.0.2.0/24 customer=acme n=1 " \
        "by=token=ops-admin" in api.inst.log()


def test_relay_allow_errors(api):
    for body, status, field in (
            ({"address": "not-an-ip", "customer": "acme"}, 422, "address"),
            ({"address": "192.0.2.9", "customer": "nobody"}, 422,
             "customer"),
            ({"address": "192.0.2.9", "customer": "acme", "for": "soon"},
             422, "for"),
            # beyond a year (and beyond time_t): refused, not wrapped
            ({"address": "192.0.2.9", "customer": "acme", "for": "366d"},
             422, "for"),
            ({"address": "192.0.2.9", "customer": "acme",
              "for": "30000000000000w"}, 422, "for"),
            ({"address": "192.0.2.9"}, 422, "customer"),
            ({"address": "192.0.2.9", "customer": "acme", "x": 1}, 422,
             "x")):
        st, _, b = api.call("POST", "/api/v1/relay", body=body)
        assert (st, b.get("field")) == (status, field), (body, b)
    api.inst.cli("customer", "suspend", "beta", check=True)
    try:
        st, _, b = api.call("POST", "/api/v1/relay",
                            body={"address": "192.0.2.9",
                                  "customer": "beta"})
        assert st == 409 and "suspended" in b["error"]
    finally:
        api.inst.cli("customer", "resume", "beta", check=True)
    # the CLI refuses the same with the same words
    api.inst.cli_refused("relay", "allow", "192.0.2.9", "--customer",
                         "nobody", message="no customer 'nobody'")
    # allowing is for admins
    st, _, b = api.call("POST", "/api/v1/relay", tok=api.acme,
                        body={"address": "192.0.2.9", "customer": "acme"})
    assert st == 403
    assert api.call("DELETE", "/api/v1/relay/nonsense")[0] == 404


def test_customer_token_sees_and_revokes_only_its_own(api):
    pop3_login(api.inst, "ann@acme.test", source="127.0.0.22")
    pop3_login(api.inst, "dave@beta.test", source="127.0.0.23")
    mine = relay_items(api, tok=api.beta)
    assert {r["customer"] for r in mine} == {"beta"}
    assert "127.0.0.23" in {r["address"] for r in mine}
    st, _, b = api.call("GET", "/api/v1/relay?customer=acme", tok=api.beta)
    assert st == 404 and b == {"error": "no customer 'acme'"}
    assert api.call("GET", "/api/v1/relay/127.0.0.22", tok=api.beta)[0] \
        == 404
    # acme's authorization is not beta's to revoke: it stays
    assert api.call("DELETE", "/api/v1/relay/127.0.0.22",
                    tok=api.beta)[0] == 404
    assert "127.0.0.22" in {r["address"] for r in relay_items(api)}
    api.ok("DELETE", "/api/v1/relay/127.0.0.23", 204, tok=api.beta)
    assert "127.0.0.23" not in {r["address"] for r in relay_items(api)}
    # explaining names whoever holds an address: admins only
    assert api.call("GET", "/api/v1/relay/explain" + q(
        client="127.0.0.22", recipient="x@example.org"),
        tok=api.beta)[0] == 403


def test_revoke_through_the_api_closes_the_relay_at_once(api):
    src = "127.0.0.24"
    pop3_login(api.inst, "ann@acme.test", source=src)
    assert rcpt(api.inst, src).startswith("250")
    api.ok("DELETE", f"/api/v1/relay/{src}", 204)
    r = rcpt(api.inst, src)
    assert r.startswith("554") and "Relay access denied" in r, r
    assert api.inst.cli("relay", "list").stdout.count(src) == 0


def test_relay_explain_agrees_with_the_cli(api):
    pop3_login(api.inst, "ann@acme.test", source="127.0.0.25")
    b = api.ok("GET", "/api/v1/relay/explain" + q(
        client="127.0.0.25", sender="ann@acme.test",
        recipient="Bob@Example.org"))
    assert b["verdict"] == "relayed" and b["code"] == 250
    assert b["recipient"] == "bob@example.org"    # the canonical key
    assert b["decided_by"] == "relay rules" and "acme" in b["grant"]
    out = api.inst.cli("relay", "explain", "127.0.0.25", "ann@acme.test",
                       "Bob@Example.org", check=True).stdout
    assert out.startswith("client 127.0.0.25, sender <ann@acme.test>, "
                          "recipient <bob@example.org>:\n")
    for rule in b["rules"]:
        verdict = {"yes": "yes", "no": "NO", "error": "ERROR"}[
            rule["result"]]
        assert f"{rule['rule']:<18} {verdict:<5} {rule['detail']}" in out
    assert f"relayed now ({b['grant']})" in out
    # from an address nobody opened: refused, by the rule the CLI names
    b = api.ok("GET", "/api/v1/relay/explain" + q(
        client="127.0.0.26", recipient="bob@example.org"))
    assert b["verdict"] == "refused" and b["sender"] == ""
    assert b["code"] >= 500 and b["rule"]
    out = api.inst.cli("relay", "explain", "127.0.0.26", "<>",
                       "bob@example.org", check=True).stdout
    assert f"refused by rule {b['rule']}: {b['code']} {b['esc']}" in out
    # a hosted domain: no relay rule
    b = api.ok("GET", "/api/v1/relay/explain" + q(
        client="127.0.0.26", recipient="nobody@acme.test"))
    assert b["decided_by"] == "hosted domain" and b["code"] == 550
    for params, field in (({"recipient": "x@example.org"}, "client"),
                          ({"client": "1.2.3", "recipient": "x@y.org"},
                           "client"),
                          ({"client": "127.0.0.1"}, "recipient"),
                          ({"client": "127.0.0.1", "recipient": "x@@y"},
                           "recipient"),
                          ({"client": "127.0.0.1", "sender": "a b",
                            "recipient": "x@y.org"}, "sender")):
        st, _, b = api.call("GET", "/api/v1/relay/explain" + q(**params))
        assert st == 422 and b["field"] == field, (params, b)


# ---- the queue ----

def deferred(api, subject, source, data=None):
    """Queues a message from ann to bob@example.org (deferred: its
    destination is closed), DATA or one with SUBJECT; its id once its
    first attempt deferred it."""
    pop3_login(api.inst, "ann@acme.test", source=source)
    with Smtp(api.inst.ports["smtp"], source=source) as c:
        qid = c.mail("ann@acme.test", ["bob@example.org"],
                     data if data is not None else message(subject=subject))

    def is_deferred():
        b = api.call("GET", f"/api/v1/queue/{qid}")[2]
        return b and b["recipients"][0]["state"] == "deferred"
    wait_until(is_deferred, what=f"{qid} deferred")
    return qid


def flat(msg):
    """The `queue list --json` rows of an API message."""
    rows = []
    for r in msg["recipients"]:
        row = {k: v for k, v in msg.items() if k != "recipients"}
        row.update(r)
        rows.append(row)
    return rows


def test_queue_list_and_show_agree_with_the_cli(api):
    qid = deferred(api, "listed", "127.0.0.31")
    cli = [r for r in api.inst.cli_json("queue", "list") if r["id"] == qid]
    items = api.ok("GET", "/api/v1/queue")["items"]
    [msg] = [m for m in items if m["id"] == qid]
    rows = flat(msg)
    assert len(cli) == len(rows) == 1
    for k, v in cli[0].items():
        if k != "age":      # "3s" may turn "4s" between the two reads
            assert rows[0][k] == v, k
    assert rows[0]["state"] == "deferred" and rows[0]["attempts"] == 1
    assert rows[0]["last_error"] and rows[0]["next_try"]
    assert msg["sender"] == "ann@acme.test" and msg["held"] == ""
    one = api.ok("GET", f"/api/v1/queue/{qid}")
    assert "Subject: listed\n" in one["headers"]
    assert one["headers"].endswith("\n") and "hello" not in one["headers"]
    assert "[127.0.0.31]" in one["client"] and one["authorized_by"]
    show = api.inst.cli("queue", "show", qid, check=True).stdout
    assert f"authorized by: {one['authorized_by']}\n" in show
    assert one["headers"] in show
    # filters
    ids = lambda **p: [m["id"] for m in api.ok(  # noqa: E731
        "GET", "/api/v1/queue" + q(**p))["items"]]
    assert qid in ids(state="deferred")
    assert qid not in ids(state="bounced")
    assert qid in ids(sender="ANN@acme.test", recipient="bob@example.org")
    assert qid not in ids(sender="<>") and qid not in ids(held="true")
    assert qid in ids(held="false")
    page = api.ok("GET", "/api/v1/queue?limit=1&offset=0")
    assert len(page["items"]) == 1 and page["total"] >= 1
    for params, field in (({"state": "lost"}, "state"),
                          ({"held": "maybe"}, "held"),
                          ({"limit": "100000"}, "limit")):
        st, _, b = api.call("GET", "/api/v1/queue" + q(**params))
        assert st == 422 and b["field"] == field


def test_queue_show_of_a_header_only_message_with_8bit_octets(api):
    # No blank line: the whole message is its header, and nothing after
    # it in the queue file (the end record, the checksum) may follow;
    # raw 8-bit octets (not UTF-8) are shown as U+FFFD, not dropped.
    data = (b"From: ann@acme.test\r\nTo: bob@example.org\r\n"
            b"Subject: caf\xe9 \xff\r\nX-Last: end of it")
    qid = deferred(api, None, "127.0.0.35", data=data)
    h = api.ok("GET", f"/api/v1/queue/{qid}")["headers"]
    assert "Subject: caf\ufffd \ufffd\n" in h, h
    assert h.endswith("X-Last: end of it\n"), h


def test_queue_flush(api):
    qid = deferred(api, "flushed", "127.0.0.32")
    since = len(api.inst.log())
    b = api.ok("POST", f"/api/v1/queue/{qid}/flush")
    assert b == {"id": qid, "flushed": 1}
    # tried again now, an hour before its retry: a second attempt
    wait_until(lambda: api.ok("GET", f"/api/v1/queue/{qid}")[
        "recipients"][0]["attempts"] == 2, what="a second attempt")
    assert f"ops queue-flush qid={qid} messages=1 by=token=ops-admin" in \
        api.inst.log(since)
    b = api.ok("POST", "/api/v1/queue/flush")
    assert b["flushed"] >= 1
    missing = "0" * len(qid)
    st, _, b = api.call("POST", f"/api/v1/queue/{missing}/flush")
    assert st == 404 and b["error"] == f"no message {missing} in the queue"
    assert api.call("POST", "/api/v1/queue/nothex/flush")[0] == 404
    # a held message is not tried: 409, as the CLI refuses it
    api.inst.cli("queue", "hold", qid, check=True)
    st, _, b = api.call("POST", f"/api/v1/queue/{qid}/flush")
    assert st == 409 and "is held" in b["error"]
    p = api.inst.cli("queue", "flush", qid)
    assert p.returncode == 1 and b["error"] in p.stderr
    api.inst.cli("queue", "release", qid, check=True)


def test_queue_delete_through_the_api(api):
    qid = deferred(api, "deleted", "127.0.0.33")
    api.ok("DELETE", f"/api/v1/queue/{qid}", 204)
    p = api.inst.cli("queue", "show", qid)
    assert p.returncode == 1
    assert f"no message {qid} in the queue" in p.stderr
    assert qid not in {r["id"] for r in api.inst.cli_json("queue", "list")}
    st, _, b = api.call("GET", f"/api/v1/queue/{qid}")
    assert st == 404 and b["error"] == f"no message {qid} in the queue"
    assert api.call("DELETE", f"/api/v1/queue/{qid}")[0] == 404
    assert f"ops queue-delete qid={qid} deleted=1 by=token=ops-admin" in \
        api.inst.log()
    # the CLI goes through the same operation in the daemon
    other = deferred(api, "deleted by the cli", "127.0.0.34")
    assert api.inst.cli("queue", "delete", other, check=True).stdout == \
        f"message {other} deleted\n"
    assert f"ops queue-delete qid={other} deleted=1 by=control" in \
        api.inst.log()
    assert api.call("GET", f"/api/v1/queue/{other}")[0] == 404


def test_queue_hold_and_release_through_the_api(api):
    qid = deferred(api, "held", "127.0.0.35")
    b = api.ok("PUT", f"/api/v1/queue/{qid}/hold",
               body={"reason": "looks like spam"})
    assert b == {"id": qid, "held": "looks like spam", "outcome": "done"}
    # on the disk: the CLI reads the hold from the files
    [row] = [r for r in api.inst.cli_json("queue", "list")
             if r["id"] == qid]
    assert row["held"] == "looks like spam" and row["held_at"]
    msg = api.ok("GET", f"/api/v1/queue/{qid}")
    assert msg["held"] == "looks like spam"
    assert msg["held_at"] == row["held_at"]
    assert qid in [m["id"] for m in api.ok(
        "GET", "/api/v1/queue?held=true")["items"]]
    # held twice: 409, in the CLI's words
    st, _, e = api.call("PUT", f"/api/v1/queue/{qid}/hold", body={})
    assert st == 409 and e["error"] == f"message {qid} is already held"
    p = api.inst.cli("queue", "hold", qid)
    assert p.returncode == 1 and e["error"] in p.stderr
    assert f"ops queue-hold qid={qid} reason=\"looks like spam\" " \
        "by=token=ops-admin" in api.inst.log()
    api.ok("DELETE", f"/api/v1/queue/{qid}/hold", 204)
    assert api.ok("GET", f"/api/v1/queue/{qid}")["held"] == ""
    st, _, e = api.call("DELETE", f"/api/v1/queue/{qid}/hold")
    assert st == 409 and e["error"] == f"message {qid} is not held"
    p = api.inst.cli("queue", "release", qid)
    assert p.returncode == 1 and e["error"] in p.stderr
    # a held message without a reason: the CLI's default one
    b = api.ok("PUT", f"/api/v1/queue/{qid}/hold", body={})
    assert b["held"] == "held by the administrator"
    api.inst.cli("queue", "release", qid, check=True)
    missing = "0" * len(qid)
    st, _, e = api.call("PUT", f"/api/v1/queue/{missing}/hold", body={})
    assert st == 404 and e["error"] == f"no message {missing} in the queue"
    assert api.call("DELETE", f"/api/v1/queue/{missing}/hold")[0] == 404
    st, _, e = api.call("PUT", f"/api/v1/queue/{qid}/hold",
                        body={"reason": "bad\u0001"})
    assert st == 422 and e["field"] == "reason"
    st, _, e = api.call("PUT", f"/api/v1/queue/{qid}/hold",
                        body={"reason": 5})
    assert st == 422 and e["field"] == "reason"


def test_queue_is_for_admins(api):
    for method, path in (("GET", "/api/v1/queue"),
                         ("GET", "/api/v1/queue/" + "0" * 16),
                         ("POST", "/api/v1/queue/flush"),
                         ("DELETE", "/api/v1/queue/" + "0" * 16),
                         ("DELETE", "/api/v1/queue/" + "0" * 16 + "/hold")):
        st, _, b = api.call(method, path, tok=api.acme)
        assert st == 403 and "admin" in b["error"], (method, path)


# ---- DKIM ----

def test_dkim_show_agrees_with_the_cli(api):
    b = api.ok("GET", "/api/v1/domains/acme.test/dkim")
    assert b["domain"] == "acme.test" and len(b["keys"]) == 2
    cli = api.inst.cli_json("domain", "dkim", "show", "acme.test")
    assert [{k: key[k] for k in row} for key, row in
            zip(b["keys"], cli)] == cli
    assert {k["algorithm"] for k in b["keys"]} == {"rsa-sha256",
                                                  "ed25519-sha256"}
    for k in b["keys"]:
        assert k["name"].endswith("._domainkey.acme.test")
        assert k["record"].startswith("v=DKIM1;") and k["type"] == "TXT"
        assert k["state"] == "active" and k["remove_after"] == ""
    assert "PRIVATE" not in json.dumps(b)
    # the customer's own token sees them; another customer's does not
    assert api.ok("GET", "/api/v1/domains/acme.test/dkim",
                  tok=api.acme) == b
    st, _, e = api.call("GET", "/api/v1/domains/acme.test/dkim",
                        tok=api.beta)
    assert st == 404 and e == {"error": "no domain 'acme.test'"}
    assert api.call("POST", "/api/v1/domains/acme.test/dkim/rotate",
                    tok=api.beta)[0] == 404
    assert api.call("GET", "/api/v1/domains/nosuch.test/dkim")[0] == 404


def test_dkim_rotate(api):
    before = api.ok("GET", "/api/v1/domains/beta.test/dkim", tok=api.beta)
    b = api.ok("POST", "/api/v1/domains/beta.test/dkim/rotate",
               tok=api.beta)
    assert b["deleted"] == [] and len(b["keys"]) == 4
    old = {k["name"] for k in before["keys"]}
    states = {k["name"]: k["state"] for k in b["keys"]}
    assert all(states[n] == "retired" for n in old)
    assert sum(s == "active" for s in states.values()) == 2
    assert all(k["remove_after"] for k in b["keys"] if k["name"] in old)
    cli = api.inst.cli_json("domain", "dkim", "show", "beta.test")
    assert {r["name"]: r["state"] for r in cli} == states
    assert "ops dkim-rotated domain=beta.test deleted=0 by=token=ops-beta" \
        in api.inst.log()


# ---- the store ----

def test_store_info_agrees_with_the_cli(api):
    b = api.ok("GET", "/api/v1/store")
    out = api.inst.cli("store", "info", check=True).stdout
    assert out == (f"store: {b['store']}\nschema version: "
                   f"{b['schema_version']}\ncustomers: {b['customers']}\n"
                   f"domains: {b['domains']}\nmailboxes: {b['mailboxes']}\n")
    assert b["customers"] >= 2 and b["mailboxes"] >= 2
    assert b["schema_version"] >= 1
    assert api.call("GET", "/api/v1/store", tok=api.acme)[0] == 403


# ---- the OpenAPI document ----

def test_openapi_lists_the_new_calls(api):
    st, _, doc = api.call("GET", "/api/v1/openapi.json", tok="")
    paths = doc["paths"]
    for path, method, ok in (
            ("/api/v1/relay", "get", "200"),
            ("/api/v1/relay", "post", "201"),
            ("/api/v1/relay/explain", "get", "200"),
            ("/api/v1/relay/{address}", "delete", "204"),
            ("/api/v1/relay/{network}/{bits}", "delete", "204"),
            ("/api/v1/queue", "get", "200"),
            ("/api/v1/queue/{id}", "get", "200"),
            ("/api/v1/queue/{id}", "delete", "204"),
            ("/api/v1/queue/{id}/flush", "post", "200"),
            ("/api/v1/queue/flush", "post", "200"),
            ("/api/v1/queue/{id}/hold", "put", "200"),
            ("/api/v1/queue/{id}/hold", "delete", "204"),
            ("/api/v1/domains/{name}/dkim", "get", "200"),
            ("/api/v1/domains/{name}/dkim/rotate", "post", "200"),
            ("/api/v1/store", "get", "200")):
        op = paths[path][method]
        assert ok in op["responses"], (path, method)
        assert "422" in op["responses"], (path, method)
