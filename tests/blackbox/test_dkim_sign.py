"""DKIM signing (SPEC 10, issue 15 point 1): `domain add` makes an RSA-2048
and an Ed25519 key; every message relayed for a customer leaves with two
DKIM-Signature fields (rsa-sha256 and ed25519-sha256, relaxed/relaxed, d=
the From: domain, From: oversigned) above the Received: field, which an
independent verifier (python3-dkim) accepts with the records `popgate
domain dkim show` prints. `rotate` switches signing to a new pair and
keeps the old one listed as retired with the date to remove it; the
keys travel with `store copy`. Mail to hosted mailboxes is not signed.
A bounce to the internet is signed by the hosted domain of `hostname`
(or its parent), and unsigned when none is hosted. A relayed message of
a domain with keys that cannot be signed now is refused for now (451),
never sent unsigned."""
import json
import os
import re
import subprocess
import sys

import pytest

import harness
from delivery_helpers import (HOSTNAME, Smtp, dlv_instance,
                              maildir_messages, message, pop3_login,
                              relay_send, sinks, wait_log)

assert sinks  # the fixture

VERIFY = r"""
import dkim, json, sys
recs = json.load(open(sys.argv[1]))
msg = sys.stdin.buffer.read()
def dns(name, timeout=5):
    name = name.decode().rstrip(".")
    for r in recs:
        if r["name"] == name:
            return r["record"].encode()
    return None
d = dkim.DKIM(msg)
n = sum(1 for k, v in d.headers if k.lower() == b"dkim-signature")
out = []
for i in range(n):
    try:
        out.append(bool(d.verify(idx=i, dnsfunc=dns)))
    except dkim.DKIMException as e:
        out.append(str(e))
print(json.dumps(out))
"""


def records(inst, tmp_path, name="recs.json"):
    out = inst.cli("domain", "dkim", "show", "acme.test", "--json",
                   check=True).stdout
    p = tmp_path / name
    p.write_text(out)
    return json.loads(out), str(p)


def verify(data, recs_path):
    """python3-dkim's verdict on each DKIM-Signature of DATA (CRLF)."""
    p = subprocess.run(["/usr/bin/python3", "-c", VERIFY, recs_path],
                       input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def signatures(data):
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    fields = re.split(r"\r\n(?![ \t])", head)
    return [re.sub(r"\s+", " ", f) for f in fields
            if f.lower().startswith("dkim-signature:")], fields


@pytest.fixture
def relay(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink})
    return inst, sink


def test_relayed_mail_is_signed_rsa_and_ed25519(relay, tmp_path):
    inst, sink = relay
    recs, path = records(inst, tmp_path)
    assert sorted(r["algorithm"] for r in recs) == \
        ["ed25519-sha256", "rsa-sha256"]
    assert all(r["state"] == "active" for r in recs)
    rsa = [r for r in recs if r["algorithm"] == "rsa-sha256"][0]
    assert rsa["record"].startswith("v=DKIM1; k=rsa; p=MIIBIjAN")  # 2048
    body = (b"Hello,\r\n\r\n  indented   line with   blanks \t\r\n"
            b".dot line\r\n\r\n\r\n")
    data = message(subject="signed", body=body,
                   extra=b"Date: Thu, 3 Dec 2026 10:00:00 +0000\r\n")
    relay_send(inst, "ann@acme.test", ["bob@example.org"], data)
    assert sink.wait_for(1), inst.log()
    got = sink.messages[0].data
    sigs, fields = signatures(got)
    assert len(sigs) == 2, got[:2000]
    for s in sigs:
        assert "c=relaxed/relaxed" in s and "d=acme.test" in s
        h = re.search(r"h=([^;]+);", s).group(1).replace(" ", "")
        assert h.split(":").count("from") == 2, h   # oversigned
        for name in ("subject", "date", "to", "message-id"):
            assert name in h.split(":"), h
    assert {re.search(r"a=([^;]+);", s).group(1) for s in sigs} == \
        {"rsa-sha256", "ed25519-sha256"}
    assert fields[2].startswith("Received: "), fields[:3]
    assert verify(got, path) == [True, True]
    # Changed in transit: both fail.
    tampered = got.replace(b"indented", b"Indented")
    assert all(v is not True for v in verify(tampered, path))


def test_rotate_signs_with_the_new_pair(relay, tmp_path):
    inst, sink = relay
    old, _ = records(inst, tmp_path, "old.json")
    p = inst.cli("domain", "dkim", "rotate", "acme.test", check=True)
    assert "signing now" in p.stdout
    assert "keep it in DNS until" in p.stdout
    recs, path = records(inst, tmp_path)
    active = {r["name"] for r in recs if r["state"] == "active"}
    retired = {r["name"] for r in recs if r["state"] == "retired"}
    assert retired == {r["name"] for r in old}
    assert len(active) == 2 and not active & retired
    assert all(r["remove_after"] for r in recs if r["state"] == "retired")
    relay_send(inst, "ann@acme.test", ["bob@example.org"],
               message(subject="after rotate"))
    assert sink.wait_for(1), inst.log()
    got = sink.messages[0].data
    sigs, _ = signatures(got)
    sels = {re.search(r" s=([^;]+);", s).group(1) for s in sigs}
    assert {f"{s}._domainkey.acme.test" for s in sels} == active
    assert verify(got, path) == [True, True]


def test_local_mail_is_not_signed(make_instance, sinks):
    inst = dlv_instance(make_instance)
    relay_send(inst, "ann@acme.test", ["bob@acme.test"],
               message(subject="local", rcpt="bob@acme.test"))
    msgs = []
    deadline = __import__("time").monotonic() + 15
    while not msgs and __import__("time").monotonic() < deadline:
        msgs = maildir_messages(inst, "bob@acme.test")
    assert msgs
    raw = msgs[0] if isinstance(msgs[0], bytes) else open(msgs[0], "rb").read()
    assert b"DKIM-Signature:" not in raw


def test_domain_without_keys_sends_unsigned_and_says_so(relay):
    inst, sink = relay
    import sqlite3
    db = sqlite3.connect(os.path.join(inst.data_dir, "store.db"))
    db.execute("DELETE FROM dkim_keys")
    db.commit()
    db.close()
    relay_send(inst, "ann@acme.test", ["bob@example.org"],
               message(subject="no key"))
    assert sink.wait_for(1), inst.log()
    assert b"DKIM-Signature:" not in sink.messages[0].data
    wait_log(inst, r"dkim unsigned d=acme\.test reason=\"no key")
    out = inst.cli("domain", "dkim", "show", "acme.test").stdout
    assert "has no DKIM key" in out and "rotate acme.test" in out


def test_key_that_cannot_sign_is_a_temporary_failure(relay, tmp_path):
    """A domain with keys never sends unsigned: a key that does not load
    makes the message 451 4.3.0 (the client tries again, nothing is
    queued); once the key is good the same message leaves signed."""
    inst, sink = relay
    import sqlite3
    path = os.path.join(inst.data_dir, "store.db")
    db = sqlite3.connect(path)
    [(pem,)] = db.execute("SELECT private_key FROM dkim_keys WHERE "
                          "algorithm = 'rsa-sha256' AND state = 'active'")
    with db:
        db.execute("UPDATE dkim_keys SET private_key = ? WHERE "
                   "algorithm = 'rsa-sha256'",
                   ("-----BEGIN PRIVATE KEY-----\nbroken\n"
                    "-----END PRIVATE KEY-----\n",))
    pop3_login(inst, "ann@acme.test")
    data = message(subject="bad key")
    with Smtp(inst.ports["smtp"]) as c:
        c.expect("MAIL FROM:<ann@acme.test>", "250")
        c.expect("RCPT TO:<bob@example.org>", "250")
        c.expect("DATA", "354")
        c.sock.sendall(data + b".\r\n")
        r = c.reply()
    assert r.startswith("451 4.3.0"), r
    wait_log(inst, r"dkim cannot sign d=acme\.test: .*451")
    assert inst.cli_json("queue", "list") == []
    with db:
        db.execute("UPDATE dkim_keys SET private_key = ? WHERE "
                   "algorithm = 'rsa-sha256'", (pem,))
    db.close()
    _, recs = records(inst, tmp_path)
    relay_send(inst, "ann@acme.test", ["bob@example.org"], data)
    assert sink.wait_for(1), inst.log()
    assert verify(sink.messages[0].data, recs) == [True, True]


def test_store_copy_carries_the_keys(instance):
    instance.setup_mailbox("ann@acme.test", "s3cret")
    before = instance.cli("domain", "dkim", "show", "acme.test", "--json",
                          check=True).stdout
    dst = os.path.join(instance.data_dir, "copy.db")   # the user's
    p = instance.cli("store", "copy", "--to", f"sqlite:{dst}")
    assert p.returncode == 0, p
    instance.config_overrides["store"] = f"sqlite:{dst}"
    instance.write_config()
    after = instance.cli("domain", "dkim", "show", "acme.test", "--json",
                         check=True).stdout
    assert json.loads(after) == json.loads(before)


def test_dkim_cli_errors(instance):
    p = instance.cli("domain", "dkim", "show", "nosuch.test")
    assert p.returncode == 1 and "no domain 'nosuch.test'" in p.stderr
    p = instance.cli("domain", "dkim", "publish", "acme.test")
    assert p.returncode == 1 and "show or rotate" in p.stderr


def bounce(inst, sink):
    sink.rcpt_reply = lambda a: ("550 5.1.1 No such user"
                                 if a == "bob@example.org" else
                                 "250 2.1.5 Ok")
    with Smtp(inst.ports["smtp"]) as c:
        c.mail("carol@example.org", ["fwd@acme.test"],
               message(subject="forward me", sender="carol@example.org",
                       rcpt="fwd@acme.test"))
    assert sink.wait_for(1), inst.log()
    m = sink.messages[0]
    assert m.mail_from == "" and m.rcpts == ["carol@example.org"]
    return m.data


def test_bounce_is_signed_by_the_hosts_domain(make_instance, sinks,
                                              tmp_path):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"fwd@acme.test": ["bob@example.org"]})
    parent = HOSTNAME.split(".", 1)[1]          # mail.test.example
    inst.cli("customer", "add", "hoster", check=True)
    inst.cli("domain", "add", parent, "--customer", "hoster", check=True)
    out = inst.cli("domain", "dkim", "show", parent, "--json",
                   check=True).stdout
    path = tmp_path / "host.json"
    path.write_text(out)
    data = bounce(inst, sink)
    sigs, _ = signatures(data)
    assert len(sigs) == 2 and all(f"d={parent};" in s for s in sigs), sigs
    assert verify(data, str(path)) == [True, True]


def test_bounce_unsigned_without_a_hosted_host_domain(make_instance, sinks):
    sink = sinks()
    inst = dlv_instance(make_instance, routes={"example.org": sink},
                        aliases={"fwd@acme.test": ["bob@example.org"]})
    assert b"DKIM-Signature:" not in bounce(inst, sink)
