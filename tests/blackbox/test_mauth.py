"""Inbound mail authentication (SPEC 10, issue 15 point 2): mail from the
internet gets one Authentication-Results field under `hostname` with the
SPF, DKIM, DMARC and ARC results; fields claiming that name are removed;
`dmarc_policy = enforce` refuses a p=reject failure with 550 5.7.1 and
files p=quarantine under Junk; `spoof_protection` refuses mail whose
From: is a hosted domain but that is neither DKIM-signed by it nor
SPF-aligned. Signatures are made by an independent implementation
(python3-dkim, both algorithms, ARC too) and by popgate itself. All DNS
is a stub on loopback; its TTL is 60 s and popgate caches TXT answers,
so each test uses names of its own."""
import base64
import json
import os
import re
import subprocess

import dkim
import nacl.signing
import pytest

from delivery_helpers import (HOSTNAME, Smtp, dlv_instance,
                              maildir_messages, message, relay_send, sinks,
                              wait_log, wait_until)
from dnsstub import DnsStub

assert sinks  # the fixture


# ---- keys ----

def rsa_key(tmp_path, name):
    """(PKCS#1 PEM for python3-dkim, p= value) of a new RSA-2048 key."""
    pem = subprocess.run(["openssl", "genrsa", "-traditional", "2048"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"],
                         input=pem, capture_output=True, check=True).stdout
    return pem, base64.b64encode(der).decode()


def ed_key():
    k = nacl.signing.SigningKey.generate()
    return (base64.b64encode(bytes(k)),
            base64.b64encode(bytes(k.verify_key)).decode())


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    t = tmp_path_factory.mktemp("keys")
    return {"rsa": rsa_key(t, "rsa"), "ed": ed_key()}


def key_records(keys, domain, sel="s1"):
    return {
        f"{sel}._domainkey.{domain}": {
            "TXT": [f"v=DKIM1; k=rsa; p={keys['rsa'][1]}"]},
        f"{sel}e._domainkey.{domain}": {
            "TXT": [f"v=DKIM1; k=ed25519; p={keys['ed'][1]}"]},
    }


def sign(msg, keys, domain, alg="rsa", sel="s1", canon=(b"relaxed",
         b"relaxed"), length=False):
    if alg == "rsa":
        h = dkim.sign(msg, sel.encode(), domain.encode(), keys["rsa"][0],
                      canonicalize=canon, length=length,
                      include_headers=[b"from", b"to", b"subject"])
    else:
        h = dkim.sign(msg, (sel + "e").encode(), domain.encode(),
                      keys["ed"][0], canonicalize=canon,
                      signature_algorithm=b"ed25519-sha256",
                      include_headers=[b"from", b"to", b"subject"])
    return h + msg


# ---- the instance ----

@pytest.fixture
def mx(make_instance):
    """make(records, **config): a stub DNS with RECORDS and an instance
    using it, inbound_auth on; returns (inst, stub)."""
    stubs = []

    def make(records, routes=None, **config):
        stub = DnsStub(records).start()
        stubs.append(stub)
        cfg = {"inbound_auth": "yes", "dns_servers": stub.server}
        cfg.update(config)
        return dlv_instance(make_instance, config=cfg, routes=routes), stub

    yield make
    for s in stubs:
        s.stop()


def mail(frm="News <news@example.org>",
         subject="auth test", body=b"Hello there.\r\n", extra=b""):
    return (b"From: " + frm.encode() + b"\r\nTo: ann@acme.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n" + extra +
            b"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
            b"Message-ID: <" + os.urandom(6).hex().encode() +
            b"@example.org>\r\n\r\n" + body)


# "The internet": 127.0.0.2, which no POP3 login has authorized (the
# tests' customers log in from 127.0.0.1).
INTERNET = "127.0.0.2"


def deliver(inst, data, sender="news@example.org", helo="mx.example.org",
            rcpt="ann@acme.test"):
    """Sends DATA from the internet; returns the final reply."""
    with Smtp(inst.ports["smtp"], source=INTERNET) as c:
        c.expect(f"EHLO {helo}", "250")
        c.expect(f"MAIL FROM:<{sender}>", "250")
        c.expect(f"RCPT TO:<{rcpt}>", "250")
        c.expect("DATA", "354")
        c.sock.sendall(re.sub(rb"(?m)^\.", b"..", data) + b".\r\n")
        return c.reply()


def last(inst, address="ann@acme.test"):
    msgs = maildir_messages(inst, address)
    assert msgs, "nothing delivered"
    return msgs[-1]


def authres(raw):
    """The Authentication-Results fields of RAW, unfolded."""
    head = raw.split(b"\n\n", 1)[0].decode()
    fields = re.split(r"\n(?![ \t])", head)
    return [re.sub(r"\s+", " ", f) for f in fields
            if f.lower().startswith("authentication-results:")]


def ours(raw):
    ar = [f for f in authres(raw)
          if f.split(":", 1)[1].strip().startswith(HOSTNAME + ";")]
    assert len(ar) == 1, authres(raw)
    return ar[0]


# ---- DKIM ----

@pytest.mark.parametrize("alg,canon", [
    ("rsa", (b"relaxed", b"relaxed")), ("rsa", (b"simple", b"simple")),
    ("rsa", (b"relaxed", b"simple")), ("ed", (b"relaxed", b"relaxed")),
    ("ed", (b"simple", b"relaxed"))])
def test_dkim_signed_by_python_dkim_passes(mx, keys, alg, canon):
    inst, _ = mx(key_records(keys, "example.org"))
    body = b"Line one  with  blanks \r\n\r\nLast line\r\n\r\n\r\n"
    r = deliver(inst, sign(mail(body=body), keys, "example.org", alg,
                           canon=canon))
    assert r.startswith("250 "), r
    ar = ours(last(inst))
    a = "rsa-sha256" if alg == "rsa" else "ed25519-sha256"
    assert re.search(rf"dkim=pass header\.d=example\.org header\.s=s1e? "
                     rf"header\.a={a} header\.b=\S{{8}}", ar), ar


def test_dkim_length_limit_and_appended_text(mx, keys):
    inst, _ = mx(key_records(keys, "example.org"))
    signed = sign(mail(), keys, "example.org", length=True)
    assert b"l=" in signed.split(b"\r\n\r\n")[0]
    # Text added below the signed length does not break it (l=).
    r = deliver(inst, signed + b"-- \r\nadded by a list\r\n")
    assert r.startswith("250 "), r
    assert "dkim=pass" in ours(last(inst))


def test_dkim_changed_body_or_header_fails(mx, keys):
    inst, _ = mx(key_records(keys, "example.org"))
    signed = sign(mail(), keys, "example.org")
    deliver(inst, signed.replace(b"Hello there.", b"Hello tHere."))
    assert re.search(r"dkim=fail \(body hash did not verify\) "
                     r"header\.d=example\.org", ours(last(inst)))
    deliver(inst, signed.replace(b"Subject: auth test",
                                 b"Subject: auth tes7"))
    assert re.search(r"dkim=fail \(signature did not verify\)",
                     ours(last(inst)))


def test_dkim_key_missing_revoked_or_dns_failing(mx, keys):
    recs = {"s1._domainkey.revoked.example": {"TXT": ["v=DKIM1; p="]},
            "s1._domainkey.broken.example": "SERVFAIL"}
    inst, _ = mx(recs)
    for dom, want in [("nokey.example", r"dkim=permerror \(no key for "
                       r"the signature\) header\.d=nokey\.example"),
                      ("revoked.example", r"dkim=permerror \(key revoked"),
                      ("broken.example", r"dkim=temperror \(key lookup "
                       r"failed\)")]:
        r = deliver(inst, sign(mail(frm=f"x@{dom}"), keys, dom))
        assert r.startswith("250 "), r
        assert re.search(want, ours(last(inst))), ours(last(inst))


def test_unsigned_mail_says_dkim_none(mx):
    inst, _ = mx({})
    assert deliver(inst, mail()).startswith("250 ")
    ar = ours(last(inst))
    assert "dkim=none" in ar and "dmarc=none" in ar and "arc=none" in ar


def test_mail_popgate_signed_verifies_in_popgate(mx, sinks, tmp_path):
    """A message popgate relays (signed with the keys of `domain dkim
    show`) comes back in from the internet and verifies, both keys."""
    sink = sinks()
    inst, stub = mx({}, routes={"example.org": sink})
    out = inst.cli("domain", "dkim", "show", "acme.test", "--json",
                   check=True).stdout
    for r in json.loads(out):
        stub.records[r["name"].rstrip(".").lower()] = {"TXT": [r["record"]]}
    # Relayed to a sink by a customer (POP-before-SMTP, from 127.0.0.1).
    relay_send(inst, "ann@acme.test", ["x@example.org"],
               message(sender="ann@acme.test", rcpt="x@example.org"))
    assert sink.wait_for(1), inst.log()
    data = sink.messages[0].data
    # Back in over port 25 from the internet: From: is a hosted domain,
    # which spoof protection lets in because it is signed by it.
    r = deliver(inst, data, sender="ann@acme.test")
    assert r.startswith("250 "), r
    ar = ours(last(inst, "ann@acme.test"))
    assert len(re.findall(r"dkim=pass header\.d=acme\.test", ar)) == 2, ar


# ---- Authentication-Results of others ----

def test_forged_authentication_results_are_removed(mx):
    inst, _ = mx({})
    extra = (f"Authentication-Results: {HOSTNAME}; dkim=pass "
             f"header.d=example.org\r\n"
             f"Authentication-Results: (comment) {HOSTNAME.upper()};\r\n"
             f"\tdmarc=pass\r\n"
             f"Authentication-Results: other.example; spf=pass\r\n")
    assert deliver(inst, mail(extra=extra.encode())).startswith("250 ")
    raw = last(inst)
    ars = authres(raw)
    assert len(ars) == 2, ars
    assert any("other.example; spf=pass" in a for a in ars)
    assert "dkim=none" in ours(raw)
    assert b"dmarc=pass\n" not in raw


def test_customers_mail_is_not_checked(mx):
    inst, _ = mx({})
    relay_send(inst, "bob@acme.test", ["ann@acme.test"],
               message(sender="bob@acme.test", rcpt="ann@acme.test"))
    assert authres(last(inst)) == []


def test_inbound_auth_no(mx):
    inst, stub = mx({}, inbound_auth="no")
    assert deliver(inst, mail()).startswith("250 ")
    assert authres(last(inst)) == []
    assert stub.queries == []


# ---- SPF in the field ----

def test_spf_results_in_the_field(mx):
    inst, _ = mx({"example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
                  "mx.example.org": {"TXT": ["v=spf1 -all"]}})
    assert deliver(inst, mail()).startswith("250 ")
    ar = ours(last(inst))
    assert "spf=pass smtp.mailfrom=example.org" in ar, ar
    assert "spf=fail smtp.helo=mx.example.org" in ar, ar


# ---- DMARC ----

DMARC = "v=DMARC1; p=reject; rua=mailto:d@example.org"


def test_dmarc_pass_by_aligned_dkim(mx, keys):
    recs = key_records(keys, "mail.example.org")
    recs["_dmarc.example.org"] = {"TXT": [DMARC]}
    inst, _ = mx(recs)
    # relaxed alignment: d=mail.example.org, From: example.org
    r = deliver(inst, sign(mail(), keys, "mail.example.org"))
    assert r.startswith("250 "), r
    assert re.search(r"dmarc=pass \(p=reject dis=none\) "
                     r"header\.from=example\.org", ours(last(inst)))


def test_dmarc_reject_is_refused_when_enforced(mx, keys):
    recs = key_records(keys, "other.example")
    recs["_dmarc.example.org"] = {"TXT": [DMARC]}
    recs["example.org"] = {"TXT": ["v=spf1 -all"]}
    inst, _ = mx(recs)
    before = len(maildir_messages(inst, "ann@acme.test"))
    # Signed, but by an unaligned domain; SPF fails.
    r = deliver(inst, sign(mail(), keys, "other.example"))
    assert r.startswith("550 5.7.1 ") and "DMARC" in r and \
        "example.org" in r, r
    assert len(maildir_messages(inst, "ann@acme.test")) == before
    wait_log(inst, r"smtp message-rejected .*reason=dmarc")


def test_dmarc_report_mode_only_records(mx):
    inst, _ = mx({"_dmarc.example.org": {"TXT": [DMARC]}},
                 dmarc_policy="report")
    assert deliver(inst, mail()).startswith("250 ")
    assert re.search(r"dmarc=fail \(p=reject dis=reject\)",
                     ours(last(inst)))


def test_dmarc_subdomain_policy_and_quarantine_to_junk(mx):
    inst, _ = mx({"_dmarc.example.org": {
        "TXT": ["v=DMARC1; p=reject; sp=quarantine"]}})
    r = deliver(inst, mail(frm="a@news.example.org"),
                sender="a@news.example.org")
    assert r.startswith("250 "), r
    junk = os.path.join(inst.maildir("ann@acme.test"), ".Junk", "new")
    names = os.listdir(junk)
    assert len(names) == 1
    with open(os.path.join(junk, names[0]), "rb") as f:
        raw = f.read()
    assert re.search(r"dmarc=fail \(p=quarantine dis=quarantine\) "
                     r"header\.from=news\.example\.org", ours(raw))


def test_dmarc_pct_zero_downgrades(mx):
    inst, _ = mx({"_dmarc.example.org": {
        "TXT": ["v=DMARC1; p=reject; pct=0"]}})
    r = deliver(inst, mail())
    assert r.startswith("250 "), r
    junk = os.path.join(inst.maildir("ann@acme.test"), ".Junk", "new")
    assert len(os.listdir(junk)) == 1


def test_dmarc_public_suffix_list(mx, keys):
    """co.uk is a public suffix: shop.example.co.uk and
    mail.example.co.uk share the organizational domain example.co.uk,
    but example.co.uk and other.co.uk share nothing."""
    recs = key_records(keys, "mail.example.co.uk")
    recs.update(key_records(keys, "other.co.uk"))
    recs["_dmarc.example.co.uk"] = {"TXT": [DMARC]}
    inst, stub = mx(recs, dmarc_policy="report")
    deliver(inst, sign(mail(frm="x@shop.example.co.uk"), keys,
                       "mail.example.co.uk"))
    ar = ours(last(inst))
    assert "dmarc=pass" in ar and "header.from=shop.example.co.uk" in ar
    assert ("_dmarc.example.co.uk", "TXT") in stub.queries
    assert ("_dmarc.co.uk", "TXT") not in stub.queries
    deliver(inst, sign(mail(frm="x@example.co.uk"), keys, "other.co.uk"))
    assert "dmarc=fail" in ours(last(inst))


def test_dmarc_strict_alignment(mx, keys):
    recs = key_records(keys, "mail.example.org")
    recs["_dmarc.example.org"] = {"TXT": [DMARC + "; adkim=s"]}
    inst, _ = mx(recs, dmarc_policy="report")
    deliver(inst, sign(mail(), keys, "mail.example.org"))
    assert "dmarc=fail" in ours(last(inst))


def test_dmarc_dns_failure_is_temperror_not_refused(mx):
    inst, _ = mx({"_dmarc.example.org": "SERVFAIL"})
    r = deliver(inst, mail())
    assert r.startswith("250 "), r
    assert "dmarc=temperror" in ours(last(inst))


# ---- spoof protection ----

def test_spoofed_hosted_domain_is_refused(mx):
    inst, _ = mx({})
    r = deliver(inst, mail(frm="boss@acme.test"), sender="x@example.org")
    assert r.startswith("550 5.7.1 ") and "acme.test" in r, r
    wait_log(inst, r"reason=spoofed-hosted-domain")


def test_hosted_domain_spf_aligned_is_accepted(mx):
    inst, _ = mx({"acme.test": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]}})
    r = deliver(inst, mail(frm="boss@acme.test"), sender="boss@acme.test")
    assert r.startswith("250 "), r


def test_spoof_protection_no(mx):
    inst, _ = mx({}, spoof_protection="no")
    r = deliver(inst, mail(frm="boss@acme.test"), sender="x@example.org")
    assert r.startswith("250 "), r


# ---- ARC ----

def arc_signed(keys, msg, hops=("forwarder.example",)):
    """MSG through forwarders HOPS, each adding its ARC set (python3-dkim;
    the chain so far says pass in each one's Authentication-Results)."""
    for i, domain in enumerate(hops):
        arc = "; arc=pass" if i > 0 else ""
        msg = (f"Authentication-Results: {domain}; dkim=none; "
               f"spf=pass smtp.mailfrom=example.org{arc}\r\n").encode() + msg
        sets = dkim.arc_sign(msg, b"s1", domain.encode(), keys["rsa"][0],
                             domain.encode())
        assert len(sets) == 3, sets
        msg = b"".join(sets) + msg
    return msg


def test_arc_chain_verifies(mx, keys):
    recs = key_records(keys, "forwarder.example")
    recs.update(key_records(keys, "list.example"))
    inst, _ = mx(recs)
    r = deliver(inst, arc_signed(keys, mail(), ("forwarder.example",
                                                "list.example")))
    assert r.startswith("250 "), r
    assert "arc=pass (i=2)" in ours(last(inst)), ours(last(inst))


def test_arc_chain_broken_by_a_change(mx, keys):
    inst, _ = mx(key_records(keys, "forwarder.example"))
    data = arc_signed(keys, mail()).replace(b"Hello there.", b"Hello!")
    deliver(inst, data)
    assert re.search(r"arc=fail \(ARC-Message-Signature i=1: body hash",
                     ours(last(inst))), ours(last(inst))


# ---- the client leaves while the checks run ----

def test_client_gone_during_checks(mx):
    """The DMARC lookup never answers; the client sends its message and
    leaves before the reply. The next client is served at once, and the
    daemon stops cleanly with the check still out (ASan sees the
    cancelled lookups freed). The first message may still be delivered
    (RFC 5321 6.1: a duplicate, never a loss), but not twice."""
    inst, stub = mx({"_dmarc.slow.example": "TIMEOUT"})
    c = Smtp(inst.ports["smtp"], source=INTERNET)
    c.expect("EHLO mx.slow.example", "250")
    c.expect("MAIL FROM:<a@slow.example>", "250")
    c.expect("RCPT TO:<ann@acme.test>", "250")
    c.expect("DATA", "354")
    c.sock.sendall(mail(frm="a@slow.example") + b".\r\n")
    wait_until(lambda: ("_dmarc.slow.example", "TXT") in stub.queries,
               what="the DMARC query")
    c.close()
    assert deliver(inst, mail(subject="second")).startswith("250 ")
    inst.stop()
    got = maildir_messages(inst, "ann@acme.test")
    assert sum(b"Subject: second" in m for m in got) == 1
    assert sum(b"a@slow.example" in m for m in got) <= 1


def test_dns_answers_are_cached(mx, keys):
    """A second message of the same sender asks DNS nothing new: the
    key, SPF and DMARC answers (TTL 60 at the stub) come from the cache,
    and so do the no-such answers... which the stub sends without an
    SOA, so those are asked again (RFC 2308: no SOA, no negative TTL)."""
    recs = key_records(keys, "example.org")
    recs["_dmarc.example.org"] = {"TXT": [DMARC]}
    recs["example.org"] = {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]}
    inst, stub = mx(recs)
    signed = sign(mail(), keys, "example.org")
    assert deliver(inst, signed).startswith("250 ")
    first = list(stub.queries)
    assert deliver(inst, signed).startswith("250 ")
    again = stub.queries[len(first):]
    for name in ("s1._domainkey.example.org", "_dmarc.example.org",
                 "example.org"):
        assert (name, "TXT") in first
        assert (name, "TXT") not in again, again
    assert "dmarc=pass" in ours(last(inst))
