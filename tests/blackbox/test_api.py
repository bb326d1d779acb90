"""The provisioning API (SPEC 12, issue 18) against a real `popgate serve`:
listener roles http and https, bearer tokens of `popgate token`, the
customers, domains and mailboxes under /api/v1/ with their error paths,
a customer token's view, the CLI and the API agreeing, and the OpenAPI
document matching what the server answers. One server for the file."""
import json
import os
import poplib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

import harness

TIMEOUT = 20
SNI_NAME = "api.customer.example"


class Api:
    def __init__(self, inst):
        self.inst = inst
        self.base = f"http://127.0.0.1:{inst.ports['http']}"
        self.admin = token(inst, "panel", "admin")

    def call(self, method, path, tok=None, body=None, headers=None,
             raw=None):
        """(status, headers, parsed JSON or None)."""
        h = dict(headers or {})
        if tok is None:
            tok = self.admin
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                status, hdrs, text = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, text = e.code, e.headers, e.read()
        if not text or "json" not in (hdrs.get("Content-Type") or ""):
            return status, hdrs, None   # a plain page (http_pages.c)
        return status, hdrs, json.loads(text)


def token(inst, name, scope, *extra):
    out = inst.cli("token", "add", name, "--scope", scope, *extra,
                   check=True).stdout
    assert "shown only now" in out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("pgt_") and len(secret) == 68
    return secret


@pytest.fixture(scope="module")
def api(tls_files):
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-sni-")
    os.chmod(d, 0o755)
    cert, key = harness.make_cert(d, "api", SNI_NAME)
    inst = harness.Instance(
        listeners={"smtp": "smtp", "pop3": "pop3", "http": "http",
                   "https": "https"},
        config={"auth_failure_delay": "1s", "auth_max_failures": "1000"},
        extra_lines=[f"tls_host = {SNI_NAME} {cert} {key}"], tls=tls_files)
    inst.sni_cert = cert
    inst.start()
    a = Api(inst)
    yield a
    try:
        if inst.running:
            inst.stop()
    finally:
        inst.cleanup()
        shutil.rmtree(d, ignore_errors=True)


def add_customer(api, name):
    st, h, b = api.call("POST", "/api/v1/customers", body={"name": name})
    assert st == 201, b
    return b


def add_domain(api, name, customer):
    st, h, b = api.call("POST", "/api/v1/domains",
                        body={"name": name, "customer": customer})
    assert st == 201, b
    return b


def add_mailbox(api, address, password="s3cret", **more):
    st, h, b = api.call("POST", "/api/v1/mailboxes",
                        body={"address": address, "password": password,
                              **more})
    assert st == 201, b
    return b


# ---- tokens ----

def test_no_token_is_401_at_once(api):
    t0 = time.monotonic()
    st, h, b = api.call("GET", "/api/v1/customers", tok="")
    assert st == 401 and "Bearer" in b["error"]
    assert h["WWW-Authenticate"].startswith("Bearer")
    assert time.monotonic() - t0 < 1
    # the token before the body: no detail for a caller without one
    assert api.call("POST", "/api/v1/customers", tok="", raw=b"{",
                    headers={"Content-Type": "text/plain"})[0] == 401


def test_wrong_token_is_401_after_the_delay(api):
    t0 = time.monotonic()
    st, h, b = api.call("GET", "/api/v1/customers", tok="pgt_" + "0" * 64)
    assert st == 401 and "no valid token" in b["error"]
    assert time.monotonic() - t0 >= 0.9
    assert "http token-failed client=127.0.0.1" in api.inst.log()


def test_revoked_token_fails_at_once(api):
    t = token(api.inst, "short-lived", "admin")
    assert api.call("GET", "/api/v1/customers", tok=t)[0] == 200
    api.inst.cli("token", "revoke", "short-lived", check=True)
    assert api.call("GET", "/api/v1/customers", tok=t)[0] == 401


def test_expired_token_fails(api):
    t = token(api.inst, "expiring", "admin", "--expires", "1s")
    deadline = time.monotonic() + 5
    while api.call("GET", "/api/v1/customers", tok=t)[0] == 200:
        assert time.monotonic() < deadline, "the token never expired"
        time.sleep(0.2)
    assert api.call("GET", "/api/v1/customers", tok=t)[0] == 401


def test_token_list_and_errors(api):
    token(api.inst, "listed", "admin")
    rows = {r["name"]: r for r in api.inst.cli_json("token", "list")}
    assert rows["listed"]["scope"] == "admin"
    assert rows["listed"]["expires"] == "never"
    assert "pgt_" not in api.inst.cli("token", "list").stdout
    api.inst.cli_refused("token", "add", "x", "--scope", "root",
                         message="bad scope 'root'")
    api.inst.cli_refused("token", "add", "listed", "--scope", "admin",
                         message="token 'listed' exists")
    api.inst.cli_refused("token", "add", "y", "--scope", "customer:nobody",
                         message="no customer 'nobody'")
    api.inst.cli_refused("token", "revoke", "nobody",
                         message="no token 'nobody'")


# ---- customers ----

def test_customer_lifecycle(api):
    st, h, b = api.call("POST", "/api/v1/customers", body={"name": "cyc"})
    assert st == 201 and h["Location"] == "/api/v1/customers/cyc"
    assert b == {"name": "cyc", "status": "active", "domains": 0,
                 "mailboxes": 0, "created": b["created"]}
    st, h, got = api.call("GET", "/api/v1/customers/cyc")
    assert st == 200 and got == b and h["ETag"].startswith('"')
    assert api.call("POST", "/api/v1/customers",
                    body={"name": "cyc"})[0] == 409
    st, _, b = api.call("PATCH", "/api/v1/customers/cyc",
                        body={"suspended": True})
    assert st == 200 and b["status"] == "suspended"
    assert api.inst.cli_json("customer", "show", "cyc")["status"] == \
        "suspended"
    st, _, b = api.call("PATCH", "/api/v1/customers/cyc",
                        body={"suspended": False})
    assert b["status"] == "active"
    assert api.call("DELETE", "/api/v1/customers/cyc")[0] == 204
    st, _, b = api.call("GET", "/api/v1/customers/cyc")
    assert st == 404 and b == {"error": "no customer 'cyc'"}
    assert "ops customer-deleted customer=cyc force=no by=token=panel" in \
        api.inst.log()


def test_customer_bad_name_is_422_naming_the_field(api):
    st, _, b = api.call("POST", "/api/v1/customers", body={"name": "-x"})
    assert st == 422 and b["field"] == "name"
    assert "bad customer name" in b["error"]


def test_customer_delete_with_domains_is_409_unless_forced(api):
    add_customer(api, "holder")
    add_domain(api, "holder.test", "holder")
    st, _, b = api.call("DELETE", "/api/v1/customers/holder")
    assert st == 409 and "still has 1 domain" in b["error"]
    assert api.call("DELETE", "/api/v1/customers/holder?force=maybe")[0] \
        == 422
    assert api.call("DELETE", "/api/v1/customers/holder?force=true")[0] \
        == 204
    assert api.call("GET", "/api/v1/domains/holder.test")[0] == 404


def test_if_match(api):
    add_customer(api, "etag")
    _, h, _ = api.call("GET", "/api/v1/customers/etag")
    tag = h["ETag"]
    st, _, b = api.call("PATCH", "/api/v1/customers/etag",
                        body={"suspended": True}, headers={"If-Match": tag})
    assert st == 200
    # another panel still holds the old version: refused
    st, _, b = api.call("PATCH", "/api/v1/customers/etag",
                        body={"suspended": False},
                        headers={"If-Match": tag})
    assert st == 412 and "changed" in b["error"]
    assert api.call("GET", "/api/v1/customers/etag")[2]["status"] == \
        "suspended"
    st, h2, _ = api.call("GET", "/api/v1/customers/etag")
    assert api.call("DELETE", "/api/v1/customers/etag",
                    headers={"If-Match": tag})[0] == 412
    assert api.call("DELETE", "/api/v1/customers/etag",
                    headers={"If-Match": h2["ETag"]})[0] == 204


def race(api, n, method, path, tag, bodies):
    """N calls at once, all with If-Match TAG: their statuses."""
    import threading
    out = [None] * n
    go = threading.Barrier(n)

    def one(i):
        go.wait()
        out[i] = api.call(method, path, body=bodies[i],
                          headers={"If-Match": tag})[0]
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def test_if_match_checked_in_the_change(api):
    """Panels holding one ETag, all at once: the first change wins, each
    other one is 412 and changes nothing (the tag is checked inside the
    change's transaction, not before it)."""
    add_customer(api, "racer")
    add_domain(api, "racer.test", "racer")
    add_mailbox(api, "box@racer.test", quota="1M")
    for rnd in range(3):
        _, h, b = api.call("GET", "/api/v1/mailboxes/box@racer.test")
        quotas = [(rnd * 100 + i + 2) << 20 for i in range(12)]
        got = race(api, 12, "PATCH", "/api/v1/mailboxes/box@racer.test",
                   h["ETag"], [{"quota": q} for q in quotas])
        assert sorted(got) == [200] + [412] * 11, got
        winner = quotas[got.index(200)]
        _, _, b = api.call("GET", "/api/v1/mailboxes/box@racer.test")
        assert b["quota_bytes"] == winner
    # a suspension and a deletion with one tag: only one of them
    _, h, _ = api.call("GET", "/api/v1/customers/racer")
    tag = h["ETag"]
    st = api.call("PATCH", "/api/v1/customers/racer",
                  body={"suspended": True}, headers={"If-Match": tag})[0]
    assert st == 200
    assert api.call("DELETE", "/api/v1/customers/racer?force=true",
                    headers={"If-Match": tag})[0] == 412
    assert api.call("GET", "/api/v1/customers/racer")[2]["status"] == \
        "suspended"


def test_list_pagination(api):
    for n in ("pa", "pb", "pc"):
        add_customer(api, n)
    st, _, all_ = api.call("GET", "/api/v1/customers?limit=1000")
    names = [c["name"] for c in all_["items"]]
    assert names == sorted(names) and all_["total"] == len(names)
    st, _, page = api.call("GET", "/api/v1/customers?limit=2&offset=1")
    assert [c["name"] for c in page["items"]] == names[1:3]
    assert page["total"] == len(names) and page["limit"] == 2
    # past the end: none, the total still counted
    st, _, page = api.call("GET", f"/api/v1/customers?offset={len(names)}")
    assert st == 200 and page["items"] == [] and page["total"] == len(names)
    st, _, b = api.call("GET", "/api/v1/customers?limit=0")
    assert st == 422 and b["field"] == "limit"
    st, _, b = api.call("GET", "/api/v1/customers?offset=x")
    assert st == 422 and b["field"] == "offset"


def test_list_pagination_of_each_list(api):
    """A page is the store's (limit and offset in its query), for each
    list and filter; an alias with two targets is one item."""
    add_customer(api, "pager")
    add_domain(api, "pager.test", "pager")
    add_domain(api, "pager2.test", "pager")
    boxes = [f"{n}@pager.test" for n in ("p1", "p2", "p3")]
    for m in boxes:
        add_mailbox(api, m)
    for addr, target in (("info@pager.test", boxes[0]),
                         ("info@pager.test", boxes[1]),
                         ("sales@pager.test", boxes[2])):
        assert api.call("POST", "/api/v1/aliases",
                        body={"address": addr, "target": target})[0] == 201
    _, _, p = api.call("GET", "/api/v1/domains?customer=pager&limit=1"
                       "&offset=1")
    assert [d["domain"] for d in p["items"]] == ["pager2.test"]
    assert p["total"] == 2
    _, _, p = api.call("GET", "/api/v1/mailboxes?domain=pager.test&limit=2"
                       "&offset=1")
    assert [m["address"] for m in p["items"]] == boxes[1:]
    assert p["total"] == 3
    _, _, p = api.call("GET", "/api/v1/aliases?customer=pager&limit=1")
    assert [(al["address"], al["targets"]) for al in p["items"]] == [
        ("info@pager.test", boxes[:2])]
    assert p["total"] == 2
    _, _, p = api.call("GET", "/api/v1/aliases?domain=pager.test&offset=1")
    assert [al["address"] for al in p["items"]] == ["sales@pager.test"]
    # a customer's token: its own customer only, one item
    tok = token(api.inst, "pager-panel", "customer:pager")
    _, _, p = api.call("GET", "/api/v1/customers", tok=tok)
    assert [c["name"] for c in p["items"]] == ["pager"] and p["total"] == 1
    _, _, p = api.call("GET", "/api/v1/customers?offset=1", tok=tok)
    assert p["items"] == [] and p["total"] == 1
    _, _, p = api.call("GET", "/api/v1/mailboxes?limit=1", tok=tok)
    assert [m["address"] for m in p["items"]] == boxes[:1]
    assert p["total"] == 3


# ---- domains and mailboxes ----

def test_domain_and_mailbox_lifecycle(api):
    add_customer(api, "dm")
    st, h, d = api.call("POST", "/api/v1/domains",
                        body={"name": "DM.test", "customer": "dm"})
    assert st == 201 and h["Location"] == "/api/v1/domains/dm.test"
    assert d["domain"] == "dm.test" and d["customer"] == "dm"
    # the DKIM pairs a domain gets, as with the CLI
    assert "p20" in api.inst.cli("domain", "dkim", "show", "dm.test",
                                 check=True).stdout
    assert api.call("POST", "/api/v1/domains",
                    body={"name": "dm.test", "customer": "dm"})[0] == 409
    st, _, b = api.call("POST", "/api/v1/domains",
                        body={"name": "x.test", "customer": "nobody"})
    assert st == 422 and b["field"] == "customer"
    st, h, m = api.call("POST", "/api/v1/mailboxes",
                        body={"address": "Ann@dm.test", "password": "pw1",
                              "quota": "500M"})
    assert st == 201 and h["Location"] == "/api/v1/mailboxes/ann@dm.test"
    assert m["quota"] == "500M" and m["quota_bytes"] == 500 << 20
    assert os.path.isdir(api.inst.maildir("ann@dm.test"))
    st, _, b = api.call("POST", "/api/v1/mailboxes",
                        body={"address": "bob@nohost.test",
                              "password": "x"})
    assert st == 422 and b["field"] == "address"
    st, _, b = api.call("POST", "/api/v1/mailboxes",
                        body={"address": "bob@dm.test"})
    assert st == 422 and b["field"] == "password"
    st, _, b = api.call("POST", "/api/v1/mailboxes",
                        body={"address": "bob@dm.test", "password": "x",
                              "quota": "lots"})
    assert st == 422 and b["field"] == "quota"
    st, _, b = api.call("PATCH", "/api/v1/mailboxes/ann@dm.test",
                        body={"quota": 1024})
    assert st == 200 and b["quota_bytes"] == 1024
    st, _, b = api.call("PATCH", "/api/v1/mailboxes/ann@dm.test", body={})
    assert st == 422
    st, _, b = api.call("PATCH", "/api/v1/mailboxes/ann@dm.test",
                        body={"password": "new-pw"})
    assert st == 200
    p = poplib.POP3("127.0.0.1", api.inst.ports["pop3"], timeout=TIMEOUT)
    p.user("ann@dm.test")
    assert p.pass_("new-pw").startswith(b"+OK")
    p.quit()
    st, _, lst = api.call("GET", "/api/v1/mailboxes?domain=dm.test")
    assert [x["address"] for x in lst["items"]] == ["ann@dm.test"]
    assert api.call("GET", "/api/v1/mailboxes?domain=none.test")[0] == 404
    assert api.call("GET", "/api/v1/mailboxes?domain=dm.test&"
                    "customer=dm")[0] == 422
    st, _, b = api.call("DELETE", "/api/v1/domains/dm.test")
    assert st == 409 and "still has" in b["error"]
    assert api.call("DELETE", "/api/v1/mailboxes/ann@dm.test")[0] == 204
    assert api.call("GET", "/api/v1/mailboxes/ann@dm.test")[0] == 404
    assert api.call("DELETE", "/api/v1/domains/dm.test")[0] == 204


def test_alias_lifecycle(api):
    add_customer(api, "al")
    add_domain(api, "al.test", "al")
    add_mailbox(api, "box@al.test")
    st, h, b = api.call("POST", "/api/v1/aliases",
                        body={"address": "info@al.test",
                              "target": "box@al.test"})
    assert st == 201 and h["Location"] == "/api/v1/aliases/info@al.test"
    assert b == {"address": "info@al.test", "targets": ["box@al.test"],
                 "customer": "al", "domain": "al.test"}
    st, _, b = api.call("POST", "/api/v1/aliases",
                        body={"address": "info@al.test",
                              "target": "ext@example.org"})
    assert st == 201 and b["targets"] == ["box@al.test", "ext@example.org"]
    assert api.call("POST", "/api/v1/aliases",
                    body={"address": "info@al.test",
                          "target": "box@al.test"})[0] == 409
    st, _, b = api.call("POST", "/api/v1/aliases",
                        body={"address": "x@al.test",
                              "target": "nobody@al.test"})
    assert st == 422 and b["field"] == "target"
    st, _, b = api.call("POST", "/api/v1/aliases",
                        body={"address": "x@unhosted.test",
                              "target": "box@al.test"})
    assert st == 422 and b["field"] == "address"
    cli = api.inst.cli_json("alias", "show", "info@al.test")
    assert sorted(r["target"] for r in cli) == \
        ["box@al.test", "ext@example.org"]
    st, _, lst = api.call("GET", "/api/v1/aliases?domain=al.test")
    assert [a["address"] for a in lst["items"]] == ["info@al.test"]
    assert api.call("DELETE",
                    "/api/v1/aliases/info@al.test?target=ext@example.org"
                    )[0] == 204
    assert api.call("GET", "/api/v1/aliases/info@al.test")[2][
        "targets"] == ["box@al.test"]
    assert api.call("DELETE", "/api/v1/aliases/info@al.test")[0] == 204
    st, _, b = api.call("GET", "/api/v1/aliases/info@al.test")
    assert st == 404 and b["error"] == "no alias 'info@al.test'"


def test_suspend_through_the_api_revokes_relay(api):
    add_customer(api, "relayco")
    add_domain(api, "relayco.test", "relayco")
    add_mailbox(api, "joe@relayco.test", "pw")
    p = poplib.POP3("127.0.0.1", api.inst.ports["pop3"], timeout=TIMEOUT)
    p.user("joe@relayco.test")
    p.pass_("pw")
    p.quit()
    assert any(r["customer"] == "relayco"
               for r in api.inst.cli_json("relay", "list"))
    st, _, b = api.call("PATCH", "/api/v1/customers/relayco",
                        body={"suspended": True})
    assert st == 200
    assert not any(r["customer"] == "relayco"
                   for r in api.inst.cli_json("relay", "list"))


# ---- bad input ----

def test_malformed_json_is_400(api):
    st, _, b = api.call("POST", "/api/v1/customers", raw=b'{"name":',
                        headers={"Content-Type": "application/json"})
    assert st == 400 and "malformed JSON" in b["error"]
    st, _, b = api.call("POST", "/api/v1/customers", raw=b'["acme"]',
                        headers={"Content-Type": "application/json"})
    assert st == 400 and "object" in b["error"]


def test_fields_checked(api):
    for body, field in (({"name": "a", "x": 1}, "x"), ({"name": 7}, "name"),
                        ({}, "name"), ({"name": "a" * 65}, "name")):
        st, _, b = api.call("POST", "/api/v1/customers", body=body)
        assert st == 422 and b["field"] == field, (body, b)
    st, _, b = api.call("PATCH", "/api/v1/customers/acme",
                        body={"suspended": "yes"})
    assert st == 422 and b["field"] == "suspended"


def test_wrong_media_type_is_415(api):
    st, _, b = api.call("POST", "/api/v1/customers", raw=b"name=acme",
                        headers={"Content-Type":
                                 "application/x-www-form-urlencoded"})
    assert st == 415


def test_oversized_body_is_413(api):
    big = json.dumps({"name": "a" * (128 * 1024)}).encode()
    r = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X",
         "POST", "-H", "Content-Type: application/json", "-H",
         f"Authorization: Bearer {api.admin}", "--data-binary", "@-",
         api.base + "/api/v1/customers"], input=big, capture_output=True,
        timeout=TIMEOUT)
    assert r.stdout == b"413"
    assert api.call("GET", "/api/v1/customers")[0] == 200


def test_unknown_path_404_and_method_405(api):
    st, _, b = api.call("GET", "/api/v1/nothing")
    assert st == 404 and b["error"] == "no such resource"
    st, h, b = api.call("PUT", "/api/v1/customers/acme", body={})
    assert st == 405 and h["Allow"] == "GET, PATCH, DELETE"
    # a parameter that decodes to a '/' (or a control octet) is no name
    st, _, b = api.call("GET", "/api/v1/customers/a%2fb")
    assert st == 400 and b["error"] == "bad path"


# ---- a customer's token ----

def test_customer_token_sees_only_its_own(api):
    add_customer(api, "own")
    add_customer(api, "other")
    add_domain(api, "own.test", "own")
    add_domain(api, "other.test", "other")
    add_mailbox(api, "me@own.test")
    add_mailbox(api, "them@other.test")
    t = token(api.inst, "own-panel", "customer:own")
    st, _, b = api.call("GET", "/api/v1/customers", tok=t)
    assert [c["name"] for c in b["items"]] == ["own"]
    assert [d["domain"] for d in api.call("GET", "/api/v1/domains",
                                          tok=t)[2]["items"]] == ["own.test"]
    assert [m["address"] for m in api.call("GET", "/api/v1/mailboxes",
                                           tok=t)[2]["items"]] == \
        ["me@own.test"]
    # others' objects do not exist for it: 404, as a name never used
    for path in ("/api/v1/customers/other", "/api/v1/domains/other.test",
                 "/api/v1/mailboxes/them@other.test",
                 "/api/v1/domains?customer=other",
                 "/api/v1/mailboxes?domain=other.test",
                 "/api/v1/mailboxes?customer=other"):
        st, _, b = api.call("GET", path, tok=t)
        assert st == 404, path
        assert "other" in b["error"]
    assert api.call("DELETE", "/api/v1/mailboxes/them@other.test",
                    tok=t)[0] == 404
    assert api.call("PATCH", "/api/v1/mailboxes/them@other.test",
                    tok=t, body={"quota": 1})[0] == 404
    assert api.call("DELETE", "/api/v1/domains/other.test",
                    tok=t)[0] == 404
    st, _, b = api.call("POST", "/api/v1/mailboxes", tok=t,
                        body={"address": "x@other.test", "password": "p"})
    assert st == 422 and b["field"] == "address"
    st, _, b = api.call("POST", "/api/v1/domains", tok=t,
                        body={"name": "new.test", "customer": "other"})
    assert st == 422 and b["field"] == "customer"
    # admin-only routes
    assert api.call("POST", "/api/v1/customers", tok=t,
                    body={"name": "mine"})[0] == 403
    assert api.call("PATCH", "/api/v1/customers/own", tok=t,
                    body={"suspended": True})[0] == 403
    # its own: yes, and the customer defaults to its own
    st, _, d = api.call("POST", "/api/v1/domains", tok=t,
                        body={"name": "own2.test"})
    assert st == 201 and d["customer"] == "own"
    assert api.call("POST", "/api/v1/mailboxes", tok=t,
                    body={"address": "you@own2.test",
                          "password": "p"})[0] == 201
    assert "ops mailbox-added mailbox=you@own2.test by=token=own-panel" in \
        api.inst.log()
    # aliases: its own domains only, targets not into another's
    api.inst.cli("alias", "add", "them-alias@other.test", "them@other.test",
                 check=True)
    assert api.call("GET", "/api/v1/aliases/them-alias@other.test",
                    tok=t)[0] == 404
    assert api.call("DELETE", "/api/v1/aliases/them-alias@other.test",
                    tok=t)[0] == 404
    assert api.call("GET", "/api/v1/aliases?domain=other.test",
                    tok=t)[0] == 404
    st, _, b = api.call("POST", "/api/v1/aliases", tok=t,
                        body={"address": "fwd@own.test",
                              "target": "them@other.test"})
    assert st == 422 and b["field"] == "target"
    assert b["error"] == "target 'them@other.test' is in a hosted " \
        "domain but is no mailbox or alias"
    assert api.call("POST", "/api/v1/aliases", tok=t,
                    body={"address": "fwd@own.test",
                          "target": "me@own.test"})[0] == 201
    assert [a["address"] for a in api.call("GET", "/api/v1/aliases",
                                           tok=t)[2]["items"]] == \
        ["fwd@own.test"]


# ---- the CLI and the API agree ----

def test_cli_and_api_agree(api):
    add_customer(api, "agree")
    api.inst.cli("domain", "add", "agree.test", "--customer", "agree",
                 check=True)
    api.inst.cli("mailbox", "add", "cli@agree.test", "--quota", "2G",
                 input="pw\n", check=True)
    add_mailbox(api, "api@agree.test", quota=0)
    for cli_args, path, key in (
            (("customer", "list"), "/api/v1/customers?limit=1000", "name"),
            (("domain", "list"), "/api/v1/domains?limit=1000", "domain"),
            (("mailbox", "list"), "/api/v1/mailboxes?limit=1000",
             "address")):
        cli = {r[key]: r for r in api.inst.cli_json(*cli_args)}
        items = {r[key]: r for r in api.call("GET", path)[2]["items"]}
        assert set(cli) == set(items), path
        for k, row in cli.items():
            assert {c: items[k][c] for c in row} == row, (path, k)
    api.inst.cli("alias", "add", "a@agree.test", "cli@agree.test",
                 "x@example.org", check=True)
    rows = api.inst.cli_json("alias", "list", "agree.test")
    items = api.call("GET", "/api/v1/aliases?domain=agree.test")[2]["items"]
    assert sorted((r["address"], r["target"], r["customer"]) for r in rows) \
        == sorted((a["address"], t, a["customer"]) for a in items
                  for t in a["targets"])
    one = api.inst.cli_json("mailbox", "show", "cli@agree.test")
    got = api.call("GET", "/api/v1/mailboxes/cli@agree.test")[2]
    assert {c: got[c] for c in one} == one


# ---- the OpenAPI document ----

def test_openapi_matches_the_server(api):
    st, _, doc = api.call("GET", "/api/v1/openapi.json", tok="")
    assert st == 200 and doc["openapi"].startswith("3.")
    assert "/api/v1/customers/{name}" in doc["paths"]
    for path, ops in doc["paths"].items():
        concrete = path.replace("{name}", "nosuch.test").replace(
            "{address}", "no@nosuch.test")
        for method, op in ops.items():
            assert op["summary"] and "200" in op["responses"] or \
                "201" in op["responses"] or "204" in op["responses"]
            body = {} if "requestBody" in op else None
            st, h, b = api.call(method.upper(), concrete, body=body)
            # routed: never the router's 404 or a 405
            assert st != 405, (method, path)
            assert not (st == 404 and b is not None and
                        b["error"] == "no such resource"), (method, path)
            assert str(st) in op["responses"] or st == 200, \
                (method, path, st)
        allowed = {m.upper() for m in ops}
        st, h, _ = api.call("PUT", concrete, body={})
        if "PUT" not in allowed:
            assert st == 405
            assert set(h["Allow"].split(", ")) == allowed


# ---- https with SNI, the listener roles ----

def test_https_serves_the_sni_certificate(api):
    port = api.inst.ports["https"]
    ctx = ssl.create_default_context(cafile=api.inst.sni_cert)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        with ctx.wrap_socket(s, server_hostname=SNI_NAME) as t:
            t.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: " +
                      SNI_NAME.encode() + b"\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := t.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")
    r = subprocess.run(
        ["curl", "-s", "--cacert", api.inst.sni_cert, "--resolve",
         f"{SNI_NAME}:{port}:127.0.0.1", "-H",
         f"Authorization: Bearer {api.admin}",
         f"https://{SNI_NAME}:{port}/api/v1/customers"],
        capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0 and b'"items"' in r.stdout


def test_http_off_loopback_refused_in_config(instance):
    port = harness.free_ports(1)[0]
    instance.extra_lines.append(f"listen = 0.0.0.0:{port} http")
    instance.write_config()
    r = instance.cli("check-config")
    assert r.returncode == 1
    assert f"'listen = 0.0.0.0:{port} http' is clear text on a " \
        "non-loopback address" in r.stderr
    assert "http_insecure = yes" in r.stderr
    instance.extra_lines.append("http_insecure = yes")
    instance.write_config()
    assert instance.cli("check-config").returncode == 0


def test_reload_keeps_the_api(api):
    r = api.inst.cli("reload")
    assert r.returncode == 0, r.stderr
    assert api.call("GET", "/api/v1/customers")[0] == 200


def test_http_connections_share_the_caps(make_instance):
    inst = make_instance(listeners={"smtp": "smtp", "http": "http"},
                         config={"max_connections_per_ip": "1"})
    url = f"http://127.0.0.1:{inst.ports['http']}/api/v1/openapi.json"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
        assert r.status == 200
    # a mail client from the same address holds the one slot
    s = socket.create_connection(("127.0.0.1", inst.ports["smtp"]),
                                 timeout=TIMEOUT)
    try:
        assert s.recv(512).startswith(b"220")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=TIMEOUT)
        assert e.value.code == 503
    finally:
        s.close()
    assert "conn refused client=127.0.0.1 listener=http " \
        "reason=max_connections_per_ip" in inst.log()


def test_client_gone_before_the_reply(api):
    """A call still on a worker when its client goes: the reply has no
    one to go to, and the server goes on (ASan checks it at the end)."""
    add_customer(api, "gone")
    add_domain(api, "gone.test", "gone")
    body = json.dumps({"address": "late@gone.test",
                       "password": "yescrypt-takes-a-while"}).encode()
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", api.inst.ports["http"]),
                                     timeout=TIMEOUT)
        s.sendall(b"POST /api/v1/mailboxes HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + api.admin.encode() +
                  b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n" + body)
        s.close()
    deadline = time.monotonic() + 10
    while api.call("GET", "/api/v1/mailboxes/late@gone.test")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert api.call("GET", "/api/v1/customers/gone")[0] == 200
