#!/usr/bin/env python3
"""fuzz/lookup_seeds.py - writes the seed corpus of fuzz_lookup.c into
fuzz/corpus/fuzz_lookup/: a mode byte, then util/ipc.h datagrams (type,
length, id as u32 in host order, little-endian here; fields as the
ipc_put_* functions write them), one seed for every message type.

Mode 0x00: requests to popgate-lookup's server functions (0x01: with the
store and relay table not opened). Mode 0x80 | N: answers to the
network process's calls, from call N of the harness's list on.
Run from the top of the tree; the numbers below follow enum store_msg,
enum store_stmt (store_int.h), enum relay_op (relay_remote.c) and enum
login_msg. Mode 0x02 lets a STORE_DKIM_MAKE run (key generation)."""
import os
import struct

STORE_EXEC, STORE_SCRIPT, STORE_HAS_SCHEMA, STORE_ROWS, STORE_DONE, \
    STORE_DKIM_MAKE = 101, 102, 103, 104, 105, 106
RELAY_CALL, RELAY_ENTRIES, RELAY_DONE = 201, 202, 203
LOGIN_CHECK, LOGIN_RESULT = 301, 302
DKIM_SIGN, DKIM_SIGNED = 308, 309
RSA, ED25519 = 0, 1
SQL = {"customer_add": 0, "customer_list": 4, "mailbox_get": 10,
       "mailbox_set_quota": 12, "mailbox_list": 14, "alias_targets": 16,
       "schema_version": 20, "token_find": 30, "domain_find": 34}
SV_NULL, SV_TEXT, SV_INT = 0, 1, 2
(OP_RECORD, OP_LOOKUP, OP_REVOKE, OP_LIST, OP_EXPIRE, OP_RATE_ADD,
 OP_RATE_GET, OP_RATE_HOLD, OP_RATE_RELEASE) = range(9)
NOW = 1700000000
CALLS = ["mailbox_get", "customer_list", "domain_find", "alias_targets",
         "schema_version", "transaction", "relay_lookup", "relay_list",
         "relay_revoke", "rate_get", "rate_hold", "login", "dkim_sign",
         "dkim_make"]


def u32(v):
    return struct.pack("<I", v & 0xffffffff)


def u64(v):
    return struct.pack("<Q", v & 0xffffffffffffffff)


def text(s):
    b = s.encode() if isinstance(s, str) else s
    return u32(len(b)) + b


def msg(mtype, payload=b""):
    return struct.pack("<III", mtype, len(payload), 0) + payload


def exec_(stmt, *args):
    p = u32(SQL[stmt]) + u32(len(args))
    for a in args:
        if a is None:
            p += u32(SV_NULL)
        elif isinstance(a, int):
            p += u32(SV_INT) + u64(a)
        else:
            p += u32(SV_TEXT) + text(a)
    return msg(STORE_EXEC, p)


def script(what):
    return msg(STORE_SCRIPT, u32(what))


def entry(key="192.0.2.7", customer="acme", mailbox="ann@acme.test",
          client="192.0.2.7", listener="pop3", opened=NOW,
          expires=NOW + 3600, net=0):
    return (text(key) + text(customer) + text(mailbox) + text(client) +
            text(listener) + u64(opened) + u64(expires) + u32(net))


def relay(op, payload=b""):
    return msg(RELAY_CALL, u32(op) + payload)


def login(user="ann@acme.test", password="s3cret", client="192.0.2.7",
          listener="pop3"):
    return msg(LOGIN_CHECK, text(user) + text(password) + text(client) +
               text(listener))


def rows(*rs):
    p = u32(len(rs))
    for r in rs:
        p += u32(len(r)) + b"".join(text(c) for c in r)
    return msg(STORE_ROWS, p)


def sdone(result, error=""):
    return msg(STORE_DONE, u64(result) + text(error))


def entries(*es):
    return msg(RELAY_ENTRIES, u32(len(es)) + b"".join(es))


def rdone(result, a=0, b=0, error=""):
    return msg(RELAY_DONE, u64(result) + u64(a) + u64(b) + text(error))


def login_result(result, address="", domain="", local="", customer="",
                 quota=0, suspended=0, created=0, error=""):
    return msg(LOGIN_RESULT, u32(result) + text(address) + text(domain) +
               text(local) + text(customer) + u64(quota) + u32(suspended) +
               u64(created) + text(error))


def dkim_sign(sel="fz-e", alg=ED25519, digest=b"\x07" * 32,
              domain="acme.test"):
    return msg(DKIM_SIGN, text(domain) + text(sel) + u32(alg) +
               text(digest))


def dkim_signed(result, sig=b"", error=""):
    return msg(DKIM_SIGNED, u32(result) + text(sig) + text(error))


MINUTE = NOW // 60
SERVER = {
    "exec_mailbox_get": exec_("mailbox_get", "ann@acme.test"),
    "exec_mailbox_list": exec_("mailbox_list", None, None, 100, 0),
    "exec_customer_list": exec_("customer_list", 100, 0),
    "exec_customer_add": exec_("customer_add", "beta", NOW),
    "exec_domain_find": exec_("domain_find", "acme.test"),
    "exec_alias_targets": exec_("alias_targets", "fwd@acme.test"),
    "exec_schema_version": exec_("schema_version"),
    "exec_token_find": exec_("token_find", "digest"),
    "has_schema": msg(STORE_HAS_SCHEMA),
    "tx_commit": script(0) + exec_("mailbox_set_quota", "ann@acme.test",
                                   5) + script(1),
    "tx_open": script(0) + exec_("customer_add", "beta", NOW),
    "rollback": script(2),
    "relay_record": relay(OP_RECORD, entry(key="198.51.100.1",
                                           client="198.51.100.1")),
    "relay_lookup": relay(OP_LOOKUP, text("192.0.2.7") + text("192.0.2.7") +
                          u64(NOW)),
    "relay_lookup6": relay(OP_LOOKUP, text("2001:db8::/64") +
                           text("2001:db8::1") + u64(NOW)),
    "relay_revoke": relay(OP_REVOKE, u32(3) + text("192.0.2.7") +
                          text("acme")),
    "relay_list": relay(OP_LIST, u64(NOW)),
    "relay_expire": relay(OP_EXPIRE, u64(NOW + 7200)),
    "rate_add": relay(OP_RATE_ADD, text("acme") + u64(MINUTE) + u64(1) +
                      u64(2)),
    "rate_get": relay(OP_RATE_GET, text("acme") + u64(MINUTE - 59) +
                      u64(MINUTE)),
    "rate_hold": relay(OP_RATE_HOLD, text("acme") + u64(MINUTE) +
                       u64(MINUTE - 59) + u64(1) + u64(2) + u64(100) +
                       u64(100)),
    "rate_release": relay(OP_RATE_RELEASE, text("acme") + u64(MINUTE) +
                          u64(1) + u64(2)),
    "login_ok": login(),
    "login_default_domain": login(user="ann"),
    "login_wrong": login(password="wrong"),
    "login_unknown": login(user="nobody@acme.test"),
    "dkim_sign_ed25519": dkim_sign(),
    "dkim_sign_rsa": dkim_sign("fz-r", RSA),
    "dkim_sign_wrong_alg": dkim_sign("fz-r", ED25519),
    "dkim_sign_unknown": dkim_sign("nosuch"),
    "dkim_sign_other_domain": dkim_sign(domain="example.org"),
    "dkim_make_refused": msg(STORE_DKIM_MAKE, text("acme.test")),
}
SERVER["mixed"] = (SERVER["exec_mailbox_get"] + SERVER["relay_lookup"] +
                   SERVER["login_ok"] + SERVER["has_schema"])

MBOX = ("ann@acme.test", "acme.test", "ann", "", "0", str(NOW), "acme",
        "active")
ANSWERS = {
    "mailbox_get": rows(MBOX) + sdone(1),
    "customer_list": rows(("acme", "active", str(NOW), "1", "1"),
                          ("beta", "suspended", str(NOW), "0", "0")) +
    sdone(2),
    "domain_find": rows(("acme.test", "acme", "active", str(NOW), "0",
                         "0")) + sdone(1),
    "alias_targets": rows(("out@example.org",)) + sdone(1),
    "schema_version": sdone(1) + rows(("9",)) + sdone(1),
    "transaction": sdone(0) + sdone(1) + sdone(0),
    "relay_lookup": entries(entry()) + rdone(1),
    "relay_list": entries(entry(), entry(key="2001:db8::/64", net=1)) +
    rdone(0),
    "relay_revoke": rdone(1),
    "rate_get": rdone(0, 3, 5),
    "rate_hold": rdone(1, 3, 5),
    "login": login_result(1, "ann@acme.test", "acme.test", "ann", "acme",
                          0, 0, NOW),
    "dkim_sign": rows(("acme.test", "fz-e", "ed25519-sha256", "", "pub",
                       "active", str(NOW), "0"),
                      ("acme.test", "fz-r", "rsa-sha256", "", "pub",
                       "active", str(NOW), "0")) + sdone(2) +
    dkim_signed(1, b"\x01" * 64) + dkim_signed(1, b"\x02" * 256),
    "dkim_make": sdone(0),
}
CLIENT_EXTRA = {
    "store_failed": (0, sdone(-1, "database is locked")),
    "store_refused": (5, sdone(0) + sdone(-2, "constraint") + sdone(0)),
    "list_refused": (1, sdone(-2, "constraint")),
    "relay_failed": (6, rdone(-1, 0, 0, "relay table unavailable")),
    "login_refused": (11, login_result(0)),
    "login_temporary": (11, login_result(2, error="store down")),
    "dkim_sign_refused": (12, rows(("acme.test", "fz-e", "ed25519-sha256",
                                    "", "pub", "active", str(NOW), "0")) +
                          sdone(1) + dkim_signed(0, b"", "no such key")),
    "dkim_make_refused": (13, sdone(-2, "too many DKIM keys made today")),
}


def main():
    out = "fuzz/corpus/fuzz_lookup"
    os.makedirs(out, exist_ok=True)
    seeds = {}
    for name, data in SERVER.items():
        seeds["server_" + name] = b"\x00" + data
    seeds["unopened_store"] = b"\x01" + SERVER["exec_mailbox_get"]
    seeds["unopened_relay"] = b"\x01" + SERVER["relay_lookup"]
    seeds["server_dkim_make"] = b"\x02" + SERVER["dkim_make_refused"]
    for i, name in enumerate(CALLS):
        seeds["client_" + name] = bytes([0x80 | i]) + ANSWERS[name]
    seeds["client_all"] = b"\x80" + b"".join(ANSWERS[n] for n in CALLS)
    seeds["client_fd"] = bytes([0xc0 | CALLS.index("login")]) + \
        ANSWERS["login"]
    for name, (start, data) in CLIENT_EXTRA.items():
        seeds["client_" + name] = bytes([0x80 | start]) + data
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
