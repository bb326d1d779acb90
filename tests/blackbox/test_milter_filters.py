"""The filters of the milter tests on their own, without popgate (issue
16, point 4): each fixture of milter_helpers.py started once for this
file, driven by milter_helpers.MilterClient (the MTA side, in Python).
These check the test machinery, so that a failure of test_milter_real.py
or test_milter_hostile.py is popgate's, not the filters'.
"""
import os
import socket
import struct
import time

import pytest

from milter_helpers import (
    ACCEPT, ADDHDRS, ALL_ACTIONS, CHGBODY, DKIM_DOMAIN, DKIM_SELECTOR,
    IS_ROOT, P, START_TIMES, TEST_VIRUS_NAME, Close, Hang, MilterClient,
    Progress, Raw, ScriptedMilter, add_header, add_rcpt, change_from,
    change_header, clean_message, del_rcpt, dkim_verify, gtube_message,
    insert_header, packet, quarantine, replace_body, replycode,
    virus_message)
from milter_helpers import (clamav_milter, dns_stub,  # noqa: F401
                            opendkim_milter, rspamd_milter, scripted_milter)

SENDER = "<someone@example.org>"
RCPT = "<ann@acme.test>"


def run(port, message, sender=SENDER, rcpts=(RCPT,), addr="127.0.0.2",
        macros=None):
    with MilterClient(port) as c:
        c.negotiate()
        r = c.transaction(message, sender=sender, rcpts=list(rcpts),
                          addr=addr, macros=macros)
        c.quit()
        return r


def process_uids(pid):
    """Real uids of PID and its children (from /proc)."""
    uids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/status") as f:
                st = dict(l.rstrip("\n").split(":\t", 1) for l in f
                          if ":\t" in l)
        except OSError:
            continue
        if int(p) == pid or int(st.get("PPid", 0)) == pid:
            uids.append(int(st["Uid"].split()[0]))
    return uids


# ---- rspamd ----

def test_rspamd_rejects_gtube(rspamd_milter):
    r = run(rspamd_milter.port, gtube_message())
    assert (r.stage, r.action) == ("E", "replycode"), r
    assert r.text.startswith("554 5.7.1 "), r
    assert "gtube" in r.text.lower(), r


def test_rspamd_adds_its_headers_to_a_clean_message(rspamd_milter, dns_stub):
    r = run(rspamd_milter.port, clean_message())
    assert (r.stage, r.action) == ("E", "accept"), r
    names = [n for n, _ in r.headers_added()]
    for want in ("X-Spamd-Result", "X-Rspamd-Server", "X-Rspamd-Queue-Id"):
        assert want in names, r
    result = dict(r.headers_added())["X-Spamd-Result"]
    assert result.startswith("default: False"), result
    # What rspamd asked the resolver, it asked the stub (or nothing).
    assert all(isinstance(q, tuple) for q in dns_stub.queries)


def test_rspamd_runs_unprivileged(rspamd_milter):
    uids = process_uids(rspamd_milter.proc.pid)
    assert uids, "no rspamd processes"
    if IS_ROOT:
        assert 0 not in uids, uids


# ---- ClamAV ----

def test_clamav_rejects_the_test_virus(clamav_milter):
    r = run(clamav_milter.port, virus_message())
    assert (r.stage, r.action) == ("E", "replycode"), r
    assert r.text.startswith("550 5.7.1 "), r
    assert TEST_VIRUS_NAME in r.text, r
    assert f"{TEST_VIRUS_NAME}" in clamav_milter.log()


def test_clamav_passes_a_clean_message(clamav_milter):
    r = run(clamav_milter.port, clean_message())
    assert (r.stage, r.action) == ("E", "accept"), r
    assert ("X-Virus-Status", "Clean") in r.headers_added(), r


def test_clamav_runs_unprivileged(clamav_milter):
    for d in (clamav_milter.clamd, clamav_milter.milter):
        uids = process_uids(d.proc.pid)
        assert uids, d.name
        if IS_ROOT:
            assert 0 not in uids, (d.name, uids)


# ---- OpenDKIM ----

def dkim_message(sender="ann@acme.test"):
    return clean_message(sender=sender, rcpt="bob@example.org",
                         subject="signed by opendkim")


def signed(message, result):
    """MESSAGE with the DKIM-Signature fields of RESULT prepended, as an
    MTA writes them (the value's LF folding as CRLF)."""
    sigs = [v for n, v in result.headers_added() if n == "DKIM-Signature"]
    assert sigs, result
    head = b""
    for v in sigs:
        v = v.replace("\r\n", "\n").replace("\n", "\r\n")
        sep = "" if v.startswith((" ", "\t")) else " "
        head += f"DKIM-Signature:{sep}{v}\r\n".encode()
    return head + message


def test_opendkim_signs_and_the_signature_verifies(opendkim_milter):
    msg = dkim_message()
    r = run(opendkim_milter.port, msg, sender="<ann@acme.test>",
            rcpts=["<bob@example.org>"])
    assert (r.stage, r.action) == ("E", "accept"), r
    full = signed(msg, r)
    assert f"d={DKIM_DOMAIN};".encode() in full
    assert f"s={DKIM_SELECTOR};".encode() in full
    assert dkim_verify(full, opendkim_milter.public_key)
    # A changed body does not verify: the check is a real one.
    assert not dkim_verify(full.replace(b"Tuesday", b"Friday"),
                           opendkim_milter.public_key)


def test_opendkim_does_not_sign_other_domains(opendkim_milter):
    r = run(opendkim_milter.port, dkim_message("eve@example.org"),
            sender="<eve@example.org>", rcpts=["<bob@example.org>"])
    assert r.action in ("accept", "continue"), r
    assert "DKIM-Signature" not in [n for n, _ in r.headers_added()], r


def test_opendkim_runs_unprivileged(opendkim_milter):
    uids = process_uids(opendkim_milter.proc.pid)
    assert uids
    if IS_ROOT:
        assert 0 not in uids, uids


# ---- the scripted filter and the client agree ----

@pytest.fixture
def scripted(scripted_milter):
    scripted_milter.reset()
    scripted_milter.actions = ALL_ACTIONS
    scripted_milter.protocol = 0
    return scripted_milter


def test_scripted_negotiation_and_what_it_records(scripted):
    scripted.actions = ADDHDRS | CHGBODY
    scripted.protocol = P["NR_HDR"] | P["NOHELO"]
    msg = clean_message()
    with MilterClient(scripted.port) as c:
        assert c.negotiate() == (6, ADDHDRS | CHGBODY,
                                 P["NR_HDR"] | P["NOHELO"])
        r = c.transaction(msg, helo="h.test", addr="127.0.0.9", sender=SENDER,
                          rcpts=["<a@acme.test>", "<b@acme.test>"])
        assert (r.stage, r.action) == ("E", "accept"), r
        c.quit()
    (s,) = scripted.wait_sessions(1)
    assert s.done.wait(5) and s.ended == "quit"
    assert s.optneg[0] == 6 and s.optneg[1] == ALL_ACTIONS
    assert s.client[1:] == ("4", 40000, "127.0.0.9")
    assert s.helo is None           # NOHELO: the client skipped it
    assert s.sender == [SENDER]
    assert s.rcpts == [["<a@acme.test>"], ["<b@acme.test>"]]
    assert ("Subject", "a clean message") in s.headers
    assert s.body.startswith(b"Hello Ann,")
    assert s.macros["C"]["{client_addr}"] == "127.0.0.9"
    assert s.macros["M"]["{mail_addr}"] == "someone@example.org"


def test_scripted_reply_at_rcpt_multiline(scripted):
    text = "550-5.7.1 first line\r\n550 5.7.1 second line"
    scripted.on["R"] = lambda s, a: [replycode(text)] \
        if a[0] == "<bad@acme.test>" else None
    r = run(scripted.port, clean_message(), rcpts=["<bad@acme.test>"])
    assert (r.stage, r.action, r.text) == ("R", "replycode", text)
    r = run(scripted.port, clean_message(), rcpts=["<good@acme.test>"])
    assert (r.stage, r.action) == ("E", "accept")


def test_scripted_modifications_at_eom(scripted):
    scripted.on["E"] = lambda s, a: [
        add_header("X-Added", "yes"), insert_header(0, "X-First", "1"),
        change_header("Subject", "changed"), change_header("X-Gone", ""),
        replace_body(b"new body\r\n"), change_from("<new@acme.test>"),
        add_rcpt("<bob@acme.test>"), add_rcpt("<c@acme.test>", "NOTIFY=NEVER"),
        del_rcpt("<ann@acme.test>"), quarantine("held for review"), ACCEPT]
    r = run(scripted.port, clean_message())
    assert (r.stage, r.action) == ("E", "accept")
    assert r.mods == [
        ("addheader", ["X-Added", "yes"]),
        ("insheader", [0, "X-First", "1"]),
        ("chgheader", [1, "Subject", "changed"]),
        ("chgheader", [1, "X-Gone", ""]),
        ("replbody", [b"new body\r\n"]),
        ("chgfrom", ["<new@acme.test>"]),
        ("addrcpt", ["<bob@acme.test>"]),
        ("addrcpt_par", ["<c@acme.test>", "NOTIFY=NEVER"]),
        ("delrcpt", ["<ann@acme.test>"]),
        ("quarantine", ["held for review"])]


@pytest.mark.parametrize("answer,action", [
    (packet("t"), "tempfail"), (packet("r"), "reject"),
    (packet("d"), "discard")])
def test_scripted_final_actions(scripted, answer, action):
    scripted.on["M"] = lambda s, a: [answer]
    r = run(scripted.port, clean_message())
    assert (r.stage, r.action) == ("M", action)


def test_scripted_progress_then_accept(scripted):
    scripted.on["E"] = lambda s, a: Progress(every=0.05, count=3,
                                             then=[ACCEPT])
    r = run(scripted.port, clean_message())
    assert (r.stage, r.action) == ("E", "accept")


# ---- the hostile answers do what they say ----

def test_hostile_hang_is_silence(scripted):
    scripted.on["R"] = lambda s, a: Hang()
    with MilterClient(scripted.port, timeout=0.5) as c:
        c.negotiate()
        c.connect()
        c.helo()
        c.mail(SENDER)
        t0 = time.monotonic()
        with pytest.raises(socket.timeout):
            c.rcpt(RCPT)
        assert time.monotonic() - t0 >= 0.4


def test_hostile_close_mid_reply(scripted):
    scripted.on["M"] = lambda s, a: Close(packet("y", b"550 5.7.1 x\0")[:6])
    with MilterClient(scripted.port) as c:
        c.negotiate()
        c.connect()
        c.helo()
        with pytest.raises(ConnectionError):
            c.mail(SENDER)


@pytest.mark.parametrize("data", [
    b"HTTP/1.0 400 Bad Request\r\n\r\n",       # garbage (a huge length)
    struct.pack(">I", 0),                        # a zero length
    struct.pack(">I", 0x7FFFFFFF) + b"h",        # oversized
])
def test_hostile_raw_is_refused_by_a_strict_reader(scripted, data):
    scripted.on["O"] = lambda s, a: Raw(data, then_hang=True)
    with MilterClient(scripted.port, timeout=2) as c:
        with pytest.raises(ValueError):
            c.negotiate()


def test_hostile_wrong_length_waits_for_octets_never_sent(scripted):
    # Says 100 octets, sends 1: a reader waits for the rest (timeout).
    scripted.on["H"] = lambda s, a: Raw(struct.pack(">I", 100) + b"c",
                                        then_hang=True)
    with MilterClient(scripted.port, timeout=0.5) as c:
        c.negotiate()
        c.connect()
        with pytest.raises(socket.timeout):
            c.helo()


def test_connection_refused_when_down():
    m = ScriptedMilter()
    port = m.port
    m.stop()
    with pytest.raises(ConnectionRefusedError):
        MilterClient(port, timeout=2)


# ---- start times ----

def test_start_times(rspamd_milter, clamav_milter, opendkim_milter):
    """Prints how long each daemon took from exec to ready (pytest -s);
    fails when one took longer than the suite can afford."""
    clamd_t, milter_t = START_TIMES["clamav"]
    times = {"rspamd": START_TIMES["rspamd"], "clamd": clamd_t,
             "clamav-milter": milter_t, "opendkim": START_TIMES["opendkim"]}
    print("\nmilter start times: " + ", ".join(
        f"{k} {v:.2f}s" for k, v in times.items()))
    assert times["rspamd"] < 20 and max(times.values()) < 20, times
