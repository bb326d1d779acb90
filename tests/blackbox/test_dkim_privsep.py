"""DKIM keys stay with popgate-lookup (README "Processes"): on a running
instance, DKIM pairs made through the API (a domain added, a rotation)
are generated in popgate-lookup, and mail relayed afterwards is signed
with them (python3-dkim accepts both signatures with the records the API
shows), while the daemon only sent the digests: none of the private
keys of the store (the RSA private exponent and primes, the Ed25519
seed, the PEM's text) is anywhere in the daemon's memory, and
popgate-lookup's memory, scanned the same way, has the active ones."""
import json
import sqlite3
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from delivery_helpers import (FAST, PASSWORD, message, relay_send, sinks,
                              transport_lines)
from test_dkim_sign import signatures, verify
from test_keys import memory_has
from test_lookup import lookup_pid

assert sinks  # the fixture

TIMEOUT = 30


def api(inst, tok, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{inst.ports['http']}{path}", data=data,
        method=method, headers={"Authorization": f"Bearer {tok}",
                                "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def store_keys(inst):
    """[(domain, selector, state, PEM)] of store.db."""
    db = sqlite3.connect(f"{inst.data_dir}/store.db")
    try:
        return db.execute("SELECT domain, selector, state, private_key "
                          "FROM dkim_keys ORDER BY domain, selector"
                          ).fetchall()
    finally:
        db.close()


def be(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def secrets_of(pem):
    """Byte strings that only the holder of PEM's key has in memory:
    RSA's d, p and q in both byte orders (BIGNUM words are
    little-endian), Ed25519's 32-octet seed; and PEM's base64 lines."""
    key = serialization.load_pem_private_key(pem.encode(), None)
    if isinstance(key, rsa.RSAPrivateKey):
        nums = key.private_numbers()
        out = []
        for n in (nums.d, nums.p, nums.q):
            out += [be(n), be(n)[::-1]]
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        out = [key.private_bytes(serialization.Encoding.Raw,
                                 serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())]
    lines = [ln.encode() for ln in pem.splitlines()
             if ln and not ln.startswith("-----")]
    return out + lines[:2]


@pytest.fixture
def inst(make_instance, sinks):
    sink = sinks()
    i = make_instance(config=dict(FAST), extra_lines=transport_lines(
        {"example.org": sink}), listeners={"smtp": "smtp", "pop3": "pop3",
                                           "http": "http"}, start=False)
    i.setup_mailbox("ann@acme.test", PASSWORD)
    out = i.cli("token", "add", "dkim-test", "--scope", "admin",
                check=True).stdout
    i.token = out.strip().splitlines()[-1]
    i.sink = sink
    i.start()
    return i


def test_keys_made_and_used_by_lookup_only(inst, tmp_path):
    # Made in popgate-lookup: a domain added and a rotation, by the API.
    st, body = api(inst, inst.token, "POST", "/api/v1/domains",
                   {"name": "beta.test", "customer": "acme"})
    assert st == 201, body
    st, body = api(inst, inst.token, "POST",
                   "/api/v1/domains/acme.test/dkim/rotate")
    assert st == 200, body
    st, recs = api(inst, inst.token, "GET", "/api/v1/domains/acme.test/dkim")
    assert st == 200, recs
    recs = recs["keys"] if isinstance(recs, dict) else recs
    active = [r for r in recs if r["state"] == "active"]
    assert sorted(r["algorithm"] for r in active) == \
        ["ed25519-sha256", "rsa-sha256"], recs
    path = tmp_path / "recs.json"
    path.write_text(json.dumps(recs))
    beta = [k for k in store_keys(inst) if k[0] == "beta.test"]
    assert len(beta) == 2 and all(k[2] == "active" for k in beta), beta

    # Signed with the new pair: the daemon sent the digests.
    relay_send(inst, "ann@acme.test", ["bob@example.org"],
               message(subject="privsep signed"))
    assert inst.sink.wait_for(1), inst.log()
    got = inst.sink.messages[0].data
    sigs, _ = signatures(got)
    sels = {s.split(" s=")[1].split(";")[0] for s in sigs}
    assert {f"{s}._domainkey.acme.test" for s in sels} == \
        {r["name"] for r in active}, (sigs, active)
    assert verify(got, str(path)) == [True, True]

    keys = store_keys(inst)
    assert len(keys) == 6, keys   # acme.test's old and new, beta.test's
    every = [s for k in keys for s in secrets_of(k[3])]
    assert memory_has(inst.pid, every) == set()
    # The scan sees keys where they are: popgate-lookup signed with the
    # active ones (for RSA, one byte order of each number is enough).
    lookup = memory_has(lookup_pid(inst), every)
    for d, sel, state, pem in keys:
        if d == "acme.test" and state == "active":
            mine = secrets_of(pem)
            if len(mine) > 3:       # RSA: d, p, q
                for i in (0, 2, 4):
                    assert {mine[i], mine[i + 1]} & lookup, (sel, i)
            else:
                assert mine[0] in lookup, sel

