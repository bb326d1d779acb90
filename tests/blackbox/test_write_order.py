"""test_write_order.py - SPEC.md section 4, issue 20: a `250` to the end
of DATA is written only after the flushes that make the message durable.

The daemon is traced (`strace -f -y -ttt -T`) while five clients send at
once: four deliver to local Maildirs (one or two recipients each), one
relays after a POP3 login (the message goes to the queue). For every
`250 ... queued as ID` the daemon wrote, every durable name of that
message (each recipient's file in new/, or the queue file in msg/) must
have been made by a link or rename whose source had been flushed
(fsync/fdatasync ended before the link began), and the directory holding
it must have been flushed by a call that began after the link ended and
ended before the `250` began to be written. A design that batches the
flushes (one fsync of new/ for several messages) passes as long as the
batch's flush covers each message; one that answers first fails.
"""
import os
import re
import shutil
import subprocess
import threading

import pytest

from relay_helpers import (Smtp, maildir_new, pop3_login, queued_id,
                           relay_instance)

pytestmark = pytest.mark.skipif(shutil.which("strace") is None,
                                reason="strace is not installed")

LOCAL_CLIENTS = 4
PER_CLIENT = 6
RELAYED = 6
LOCAL = ["ann@acme.test", "bob@acme.test", "carl@acme2.test"]

LINE_RE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
CALL_RE = re.compile(r"^(\w+)\((.*)$")
RESUMED_RE = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
DUR_RE = re.compile(r"<(\d+\.\d+)>\s*$")
FD_RE = re.compile(r"^-?\d+<([^>]*)>")
STR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Call:
    """One system call of the trace: NAME, ARGS (the text between the
    parentheses as strace printed it), START and END (seconds)."""

    def __init__(self, name, args, start, end):
        self.name, self.args, self.start, self.end = name, args, start, end

    def __repr__(self):
        return f"{self.name}({self.args[:120]}) {self.start:.6f}-{self.end:.6f}"


def parse_trace(path):
    """The completed calls of an strace -f -ttt -T -y file, in order of
    their start."""
    calls, pending = [], {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE_RE.match(line.rstrip("\n"))
            if not m:
                continue
            pid, ts, rest = m.group(1), float(m.group(2)), m.group(3)
            r = RESUMED_RE.match(rest)
            if r:
                started = pending.pop(pid, None)
                if started is not None and started[0] == r.group(1):
                    calls.append(Call(r.group(1), started[1] + r.group(2),
                                      started[2], ts))
                continue
            c = CALL_RE.match(rest)
            if not c:
                continue
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (c.group(1), c.group(2)[:-len(
                    "<unfinished ...>")], ts)
                continue
            d = DUR_RE.search(rest)
            calls.append(Call(c.group(1), c.group(2), ts,
                              ts + (float(d.group(1)) if d else 0.0)))
    calls.sort(key=lambda c: c.start)
    return calls


def unescape(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape")


def split_args(args):
    """ARGS split at the top-level commas."""
    out, depth, cur, quoted, esc = [], 0, "", False, False
    for ch in args:
        if quoted:
            cur += ch
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def fd_path(arg):
    m = FD_RE.match(arg)
    return m.group(1) if m else None


def at_path(dirarg, patharg):
    """The absolute path of a *at() call's (DIRFD, "PATH") pair."""
    s = STR_RE.match(patharg)
    if not s:
        return None
    p = unescape(s.group(1))
    if p.startswith("/"):
        return os.path.normpath(p)
    base = fd_path(dirarg)
    return os.path.normpath(os.path.join(base, p)) if base else None


def links(calls):
    """[(call, source, destination)] of every successful link or rename."""
    out = []
    for c in calls:
        if not re.search(r"\)\s*=\s*0\b", c.args):
            continue
        a = split_args(c.args.rsplit(")", 1)[0])
        if c.name in ("linkat", "renameat", "renameat2") and len(a) >= 4:
            out.append((c, at_path(a[0], a[1]), at_path(a[2], a[3])))
        elif c.name in ("link", "rename") and len(a) >= 2:
            s, d = STR_RE.match(a[0]), STR_RE.match(a[1])
            if s and d:
                out.append((c, unescape(s.group(1)), unescape(d.group(1))))
    return out


def flushes(calls):
    """[(call, path)] of every successful fsync/fdatasync."""
    out = []
    for c in calls:
        if c.name in ("fsync", "fdatasync") and re.search(r"\)\s*=\s*0\b",
                                                           c.args):
            p = fd_path(c.args)
            if p:
                out.append((c, p))
    return out


def replies(calls):
    """{queue id: the call that wrote its `250 ... queued as ID`}."""
    out = {}
    for c in calls:
        if c.name not in ("write", "writev", "sendmsg", "sendto"):
            continue
        for m in re.finditer(r"250 2\.0\.0 [^\"]*?queued as ([0-9a-f]+)",
                             c.args):
            out.setdefault(m.group(1), c)
    return out


def check_name(name, reply, link_list, flush_list):
    """The reasons NAME (a durable path) was not flushed before REPLY."""
    made = [(c, s) for c, s, d in link_list if d == name and c.end < reply.start]
    if not made:
        return [f"{name}: no link or rename made it before the 250"]
    c, src = made[-1]
    problems = []
    if not any(p == src and f.end < c.start for f, p in flush_list):
        problems.append(f"{name}: its data ({src}) was not flushed before "
                        f"{c}")
    d = os.path.dirname(name)
    if not any(p == d and f.start > c.end and f.end < reply.start
               for f, p in flush_list):
        problems.append(f"{name}: directory {d} not flushed between {c} "
                        f"and the 250 at {reply.start:.6f}")
    return problems


def body(tag, sender="order@example.org"):
    return (f"From: {sender}\r\nSubject: order {tag}\r\n"
            f"X-Test-Id: {tag}\r\n\r\nbody of {tag}\r\n" + "x" * 300 +
            "\r\n").encode()


def send_local(port, n, acked, errors):
    try:
        with Smtp(port) as c:
            c.ehlo()
            for i in range(PER_CLIENT):
                tag = f"local-{n}-{i}"
                rcpts = [LOCAL[n % 3]] + ([LOCAL[(n + 1) % 3]] if i % 2 else [])
                c.expect("MAIL FROM:<order@example.org>", "250 2.1.0")
                for r in rcpts:
                    c.expect(f"RCPT TO:<{r}>", "250 2.1.5")
                c.expect("DATA", "354")
                c.send(body(tag) + b".\r\n")
                acked[tag] = (queued_id(c.reply()), rcpts)
    except Exception as e:      # reported by the test
        errors.append(e)


def send_relayed(port, acked, errors):
    try:
        with Smtp(port, source="127.0.0.2") as c:
            c.ehlo()
            for i in range(RELAYED):
                tag = f"relay-{i}"
                c.expect("MAIL FROM:<ann@acme.test>", "250 2.1.0")
                c.expect("RCPT TO:<someone@remote.example>", "250 2.1.5")
                c.expect("DATA", "354")
                c.send(body(tag, "ann@acme.test") + b".\r\n")
                acked[tag] = (queued_id(c.reply()), None)
    except Exception as e:
        errors.append(e)


def start_trace(inst, out):
    """strace attached to every thread of the daemon, once it is seen to
    trace (a connection's greeting is in the file)."""
    st = subprocess.Popen(
        ["strace", "-f", "-p", str(inst.pid), "-ttt", "-T", "-y", "-s", "160",
         "-e", "trace=fsync,fdatasync,syncfs,link,linkat,rename,renameat,"
         "renameat2,write,writev,sendmsg,sendto", "-o", out],
        stderr=subprocess.DEVNULL)
    for _ in range(200):
        with Smtp(inst.ports["smtp"]) as c:
            c.ehlo()
        try:
            with open(out, errors="replace") as f:
                if "ESMTP" in f.read():
                    return st
        except FileNotFoundError:
            pass
    st.kill()
    pytest.fail("strace did not attach")


def test_every_250_follows_the_flushes_of_its_copies(make_instance, tmp_path):
    inst = relay_instance(make_instance)
    pop3_login(inst, "ann@acme.test", source="127.0.0.2")
    trace = str(tmp_path / "daemon.trace")
    st = start_trace(inst, trace)
    acked, errors = {}, []
    threads = [threading.Thread(target=send_local,
                                args=(inst.ports["smtp"], n, acked, errors))
               for n in range(LOCAL_CLIENTS)]
    threads.append(threading.Thread(target=send_relayed,
                                    args=(inst.ports["smtp"], acked, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    st.terminate()
    st.wait(30)
    assert not errors, errors
    assert len(acked) == LOCAL_CLIENTS * PER_CLIENT + RELAYED

    calls = parse_trace(trace)
    written, link_list, flush_list = replies(calls), links(calls), \
        flushes(calls)
    # Each local message's files, found by their X-Test-Id.
    files = {}
    for addr in LOCAL:
        new = os.path.join(inst.maildir(addr), "new")
        for name in maildir_new(inst, addr):
            with open(os.path.join(new, name), "rb") as f:
                data = f.read()
            m = re.search(rb"X-Test-Id: (\S+)", data)
            if m:
                files.setdefault(m.group(1).decode(), []).append(
                    os.path.normpath(os.path.join(new, name)))
    problems = []
    for tag, (qid, rcpts) in sorted(acked.items()):
        reply = written.get(qid)
        if reply is None:
            problems.append(f"{tag}: the 250 for {qid} is not in the trace")
            continue
        if rcpts is None:
            names = [n for _, _, n in link_list
                     if n and os.path.basename(n) == qid and
                     os.path.basename(os.path.dirname(n)) == "msg"]
            if not names:
                problems.append(f"{tag}: no queue file {qid} in the trace")
        else:
            names = files.get(tag, [])
            if len(names) != len(rcpts):
                problems.append(f"{tag}: {len(names)} copies for {rcpts}")
        for n in names:
            problems += check_name(n, reply, link_list, flush_list)
    assert not problems, "\n".join(problems[:20])
