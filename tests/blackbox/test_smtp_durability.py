"""test_smtp_durability.py - SPEC.md section 4: once popgate answered
250 to the end of DATA the message is on stable storage. kill -9 of the
daemon while 4 clients send 200 messages in total; after a restart every
acknowledged message is in each of its recipients' Maildirs exactly once
and intact; an unacknowledged one may be missing, never partial.
"""
import hashlib
import re
import threading
import time


from smtp_helpers import (ACCOUNTS, Client, check_maildir_name, finish,
                          messages, mx_instance, queued_id, split_message,
                          stored)

CLIENTS = 4
PER_CLIENT = 50


def message(mid):
    """The DATA bytes of message MID (CRLF, dot-stuffed where needed,
    without the final "."): a few KB, different for every id."""
    h = hashlib.sha256(mid.encode()).hexdigest()
    n = 20 + int(h[:2], 16)           # 20..275 lines
    lines = ["From: sender@example.org", f"Subject: durability {mid}",
             f"X-Test-Id: {mid}", "", f"first line of {mid}"]
    for i in range(n):
        # Some lines start with a dot (stuffed on the wire).
        lead = "." if i % 17 == 0 else ""
        lines.append(f"{lead}{mid} line {i:04d} {h}")
    lines.append(f"last line of {mid}")
    out = []
    for l in lines:
        out.append(("." + l) if l.startswith(".") else l)
    return ("\r\n".join(out) + "\r\n").encode()


def rcpts_of(client, i):
    first = ACCOUNTS[client]
    if i % 4 == 3:
        return [first, ACCOUNTS[(client + 1) % CLIENTS]]
    return [first]


class Sender(threading.Thread):
    def __init__(self, port, client):
        super().__init__(daemon=True)
        self.port = port
        self.client = client
        self.acked = {}          # mid -> rcpts
        self.sent = {}           # mid -> rcpts (end of DATA sent)
        self.error = None

    def run(self):
        try:
            c = Client(self.port, timeout=10)
            c.ehlo()
        except (OSError, AssertionError) as e:
            self.error = e
            return
        try:
            for i in range(PER_CLIENT):
                mid = f"c{self.client}-m{i:03d}"
                rcpts = rcpts_of(self.client, i)
                c.send("MAIL FROM:<sender@example.org>\r\n" +
                       "".join(f"RCPT TO:<{r}>\r\n" for r in rcpts) +
                       "DATA\r\n")
                rs = c.replies(len(rcpts) + 2)
                assert rs[0].code == 250 and rs[-1].code == 354, rs
                assert all(r.code == 250 for r in rs[1:-1]), rs
                self.sent[mid] = rcpts
                c.send(message(mid) + b".\r\n")
                r = c.reply()
                queued_id(r)
                self.acked[mid] = rcpts
        except (OSError, AssertionError) as e:
            # The daemon was killed: the connection is gone.
            self.error = e
        finally:
            c.close()


def scan(inst):
    """{address: {mid: [contents]}} over new/ and cur/ of every
    account."""
    found = {}
    for a in ACCOUNTS:
        per = found.setdefault(a, {})
        for sub in ("new", "cur"):
            for name, content in messages(inst, a, sub):
                m = re.search(rb"\nX-Test-Id: (\S+)\n", content)
                assert m, f"{a}/{sub}/{name}: no X-Test-Id (partial?)\n" \
                    f"{content[:300]!r}"
                per.setdefault(m.group(1).decode(), []).append(
                    (name, content))
    return found


def test_kill_9_while_four_clients_send(tls_files):
    inst = mx_instance(tls_files)
    try:
        senders = [Sender(inst.ports["smtp"], i) for i in range(CLIENTS)]
        for s in senders:
            s.start()
        # Kill while the clients are in full flow: after a third of the
        # messages were acknowledged.
        deadline = time.monotonic() + 30
        while sum(len(s.acked) for s in senders) < 70:
            assert time.monotonic() < deadline, "too slow"
            assert any(s.is_alive() for s in senders), \
                [s.error for s in senders]
            time.sleep(0.005)
        inst.kill()
        for s in senders:
            s.join(15)
            assert not s.is_alive()
        acked = {}
        sent = {}
        for s in senders:
            acked.update(s.acked)
            sent.update(s.sent)
        total = CLIENTS * PER_CLIENT
        assert 70 <= len(acked) < total, len(acked)

        inst.start()
        found = scan(inst)
        # Every acknowledged message: exactly once in each recipient's
        # Maildir.
        for mid, rcpts in acked.items():
            for a in rcpts:
                copies = found[a].get(mid, [])
                assert len(copies) == 1, (mid, a, [n for n, _ in copies])
        # Every message that is there, acknowledged or not, is intact,
        # once per Maildir, and one that was sent at all.
        for a, per in found.items():
            for mid, copies in per.items():
                assert mid in sent, (a, mid)
                assert a in sent[mid], (a, mid)
                assert len(copies) == 1, (mid, a, [n for n, _ in copies])
                name, content = copies[0]
                check_maildir_name(name, content)
                trace, rest = split_message(content)
                assert rest == stored(message(mid)), (a, mid, name)
                assert trace.startswith(
                    b"Return-Path: <sender@example.org>\n")
        # The daemon works after the restart.
        with Client(inst.ports["smtp"]) as c:
            c.ehlo()
            queued_id(c.transaction("sender@example.org", [ACCOUNTS[0]],
                                    message("after-restart")))
            c.quit()
        assert "after-restart" in scan(inst)[ACCOUNTS[0]]
    finally:
        finish(inst)
