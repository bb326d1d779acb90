"""bench/scale.py - the rows of costs that must stay flat as the work grows
(issue 20, point 3): each measured at a small size (1x) and a large one,
and printed with its growth, the large figure over the small.

    scale-mailboxes-*   1 000 vs 100 000 mailboxes in the account store:
                        RCPT TO a hosted mailbox, POP3 and IMAP login
    scale-relay-*       1 000 vs 1 000 000 live relay authorizations:
                        RCPT TO an outside address from an authorized
                        client, the look-up before the greeting, memory
    scale-queue-*       1 000 vs 100 000 deferred messages in the queue:
                        restart, the start-up pass over the queue, CPU
                        while nothing is due, CPU per relayed message
    scale-maildir-*     1 000 vs 100 000 messages in one Maildir: POP3
                        and IMAP first and warm access, per message

Each set has a popgate of its own (ROOT/scale-SET), filled directly
where the daemon reads its data: SQLite rows in one transaction
(store.db, relay.db), queue files written in the format of
src/queue/queue_file.c, Maildir files as servers.fill_maildir makes
them. bench/README.md ("Costs that stay flat") says what each row
measures and why its goal is what it is.
"""
import hashlib
import os
import sqlite3
import statistics
import sys
import time

import servers
from servers import DOMAIN, PASSWORD, SINK_DOMAIN


def log(msg):
    print(msg, file=sys.stderr, flush=True)

SMALL, MAILBOXES_LARGE, RELAY_LARGE = 1000, 100000, 1000000
QUEUE_LARGE, MAILDIR_LARGE = 100000, 100000
DEFER_DOMAIN = "defer.test"     # where the deferred messages wait to go
LOGIN_BOXES = 50                # u0..u49 log in (and have Maildirs)
RCPT_BOXES = 1000               # u0..u999 are RCPT's recipients


class ScaleRow:
    """ID, TITLE, UNIT; the sizes' labels; GOAL (text) and BOUND: the
    most the growth may be (None: no goal on the ratio); ABS: a bound on
    the large figure instead (the idle CPU, whose 1x is about 0);
    AT_LEAST: the least the growth may be (a rate)."""

    def __init__(self, id, title, unit, sizes, goal="", bound=None,
                 absolute=None, at_least=None):
        self.id, self.title, self.unit = id, title, unit
        self.sizes, self.goal, self.bound = sizes, goal, bound
        self.absolute, self.at_least = absolute, at_least
        self.small, self.large, self.other = [], [], []

    def growth(self):
        if not self.small or not self.large:
            return None
        s, b = statistics.median(self.small), statistics.median(self.large)
        return b / s if s > 0 else None

    def met(self):
        g = self.growth()
        if self.absolute is not None and self.large:
            return statistics.median(self.large) <= self.absolute
        if g is None:
            return None
        if self.at_least is not None:
            return g >= self.at_least
        return g <= self.bound if self.bound is not None else None


def make_rows():
    mb = ("1 000", "100 000")
    ra = ("1 000", "1 000 000")
    rows = []
    for proto, what in (("rcpt", "RCPT TO a hosted mailbox"),
                        ("pop3-login", "POP3 login (USER/PASS)"),
                        ("imap-login", "IMAP LOGIN")):
        rows += [
            ScaleRow(f"scale-mailboxes-{proto}-p50", f"{what}, mailboxes "
                     "in the store: p50", "ms", mb, "<= 2x", 2),
            ScaleRow(f"scale-mailboxes-{proto}-p99", "  p99", "ms", mb,
                     "<= 3x", 3)]
    rows += [
        ScaleRow("scale-mailboxes-login-cpu", "  server CPU per POP3 "
                 "login", "ms", mb, "<= 2x", 2),
        ScaleRow("scale-relay-rcpt-p50", "RCPT TO an outside address, "
                 "authorized client, live relay entries: p50", "ms", ra,
                 "<= 2x", 2),
        ScaleRow("scale-relay-rcpt-p99", "  p99", "ms", ra, "<= 3x", 3),
        ScaleRow("scale-relay-greet-p50", "  connect to greeting (relay "
                 "look-up at connect): p50", "ms", ra, "<= 2x", 2),
        ScaleRow("scale-relay-cpu", "  server CPU per RCPT", "ms", ra,
                 "<= 2x", 2),
        ScaleRow("scale-relay-rss", "  daemon RSS after the look-ups",
                 "MiB", ra, "<= 1.5x", 1.5),
        ScaleRow("scale-relay-pss", "  daemon PSS after the look-ups",
                 "MiB", ra, "<= 1.5x", 1.5)]
    q = ("1 000", "100 000")
    rows += [
        ScaleRow("scale-queue-restart", "restart with deferred messages: "
                 "serve start to listening", "ms", q, "<= 2x", 2),
        ScaleRow("scale-queue-settle", "  listening to the queue manager "
                 "idle (the pass over the queue)", "s", q,
                 "<= 10 s", absolute=10),
        ScaleRow("scale-queue-settle-per-msg", "  of which per queued "
                 "message", "ms", q, "<= 0.1 ms", absolute=0.1),
        ScaleRow("scale-queue-idle-cpu", "  daemon CPU in 10 s with "
                 "nothing due", "ms", q, "<= 50 ms", absolute=50),
        ScaleRow("scale-queue-deliver-cpu", "relay to the sink, C=10: "
                 "server CPU per message, queue empty vs 100 000 "
                 "deferred", "ms", ("empty", "100 000"), "<= 1.5x", 1.5),
        ScaleRow("scale-queue-deliver-rate", "  messages per second",
                 "msg/s", ("empty", "100 000"), ">= 0.67x",
                 at_least=0.67),
    ]
    md = ("1 000", "100 000")
    for proto, what in (("pop3", "POP3 USER/PASS/STAT/LIST/UIDL"),
                        ("imap", "IMAP SELECT + UID FETCH 1:* (FLAGS)")):
        for when in ("first", "warm"):
            rows.append(ScaleRow(
                f"scale-maildir-{proto}-{when}", f"{what}, messages in "
                f"the Maildir, {when} access: per message", "us", md,
                "<= 2x (linear)", 2))
    return rows


def cpu_ticks(pid):
    """utime + stime of PID (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def memory_kb(pid):
    """(Rss, Pss) of PID in KiB, from smaps_rollup."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def wait_settled(pid, timeout=900, window=1.0, max_ticks=2):
    """Seconds until PID has used at most MAX_TICKS clock ticks of CPU
    over the last WINDOW seconds (the end of a busy pass), counted to
    the start of that window; None after TIMEOUT."""
    t0 = time.monotonic()
    samples = [(t0, cpu_ticks(pid))]
    while time.monotonic() - t0 < timeout:
        time.sleep(0.1)
        now = time.monotonic()
        samples.append((now, cpu_ticks(pid)))
        old = [s for s in samples if s[0] <= now - window]
        if old and samples[-1][1] - old[-1][1] <= max_ticks:
            return max(0.0, old[-1][0] - t0)
    return None


class NoAccounts:
    """servers.Popgate's accounts: none (the sets fill the store)."""
    boxes = {}


# ---- the queue file format (src/queue/queue_file.c) ----

def queue_record(kind, value):
    return kind + len(value).to_bytes(8, "big") + value


def queue_file(qid, arrival, rcpt, body):
    """The image of a queue file: header, envelope records in the order
    the writer puts them, the message, the END record with its SHA-256."""
    data = b"POPGATEQ1\n" + b"".join(queue_record(k, v.encode()) for k, v in (
        (b"I", qid), (b"T", str(arrival)), (b"S", f"pgbench@{DOMAIN}"),
        (b"R", rcpt), (b"A", "trusted 127.0.0.1"),
        (b"C", "localhost [127.0.0.1]"), (b"F", ""), (b"E", ""),
        (b"X", ""), (b"L", str(body.count(b"\n")))))
    data += queue_record(b"M", body)
    return data + queue_record(b"Z", hashlib.sha256(data).digest())


class Scale:
    """The scale sets, run by bench/run.py's Bench B (its generator,
    runs, failures and notes)."""

    def __init__(self, bench):
        self.b = bench
        self.rows = {r.id: r for r in make_rows()}
        self.order = list(self.rows)

    def wanted(self, prefix):
        return any(self.b.want(rid) for rid in self.order
                   if rid.startswith(prefix))

    def add(self, rid, which, value, res=None):
        row = self.rows[rid]
        if value is None:
            return
        (row.small if which == 0 else row.large).append(value)
        if res is not None and isinstance(res.get("other_cpu_pct"), float):
            row.other.append(res["other_cpu_pct"])

    def server(self, name, extra=()):
        pg = servers.Popgate(self.b.root, self.b.build, NoAccounts(),
                             self.b.sink_port, list(extra) +
                             list(self.b.args.set), sub=f"scale-{name}")
        return pg

    def run(self):
        for prefix, fn in (("scale-mailboxes", self.mailboxes),
                           ("scale-relay", self.relay),
                           ("scale-queue", self.queue),
                           ("scale-maildir", self.maildir)):
            if self.wanted(prefix):
                log(f"{prefix}:")
                fn()

    # ---- the account store ----

    def fill_mailboxes(self, pg, first, last, hash_):
        """Mailboxes u{FIRST}..u{LAST-1}@bench.test into store.db, one
        transaction."""
        db = sqlite3.connect(os.path.join(pg.data_dir, "store.db"))
        now = int(time.time())
        with db:
            db.executemany(
                "INSERT INTO mailboxes (address, domain, local, password,"
                " quota, created) VALUES (?, ?, ?, ?, 0, ?)",
                ((f"u{i}@{DOMAIN}", DOMAIN, f"u{i}", hash_, now)
                 for i in range(first, last)))
        db.close()

    def mailboxes(self):
        pg = self.server("mailboxes")
        hash_ = servers.crypt_hash(PASSWORD, "sha256-1000")
        self.fill_mailboxes(pg, 0, SMALL, hash_)
        for i in range(LOGIN_BOXES):
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(pg.maildir(f"u{i}"), sub),
                            exist_ok=True)
        servers.chown_tree(pg.data_dir)
        self.b.start(pg)
        try:
            self.mailbox_runs(pg, 0)
            self.b.stop(pg)
            t1 = time.monotonic()
            self.fill_mailboxes(pg, SMALL, MAILBOXES_LARGE, hash_)
            log(f"  {MAILBOXES_LARGE} mailboxes in the store "
                             f"(filled in {time.monotonic() - t1:.1f} s)")
            servers.chown_tree(os.path.join(pg.data_dir, "store.db"))
            self.b.start(pg)
            self.mailbox_runs(pg, 1)
        finally:
            self.b.stop(pg)

    def mailbox_runs(self, pg, which):
        b = self.b
        secs = max(1.0, b.secs / 2)
        login = ["--user", f"u@{DOMAIN}", "--users", LOGIN_BOXES, "--pass",
                 PASSWORD, "-c", 1]
        # Warm-up: the folders IMAP makes at a first login, the caches.
        b.gen(pg, "imap-login", "--port", pg.imap_port, *login, "-n",
              LOGIN_BOXES)
        b.gen(pg, "smtp-rcpt", "--port", pg.smtp_port, "--rcpt",
              f"u@{DOMAIN}", "--rcpts", RCPT_BOXES, "-n", 200)
        for i in range(b.runs):
            r = b.gen(pg, "smtp-rcpt", "--port", pg.smtp_port, "--rcpt",
                      f"u@{DOMAIN}", "--rcpts", RCPT_BOXES, "--duration",
                      secs, row="scale-mailboxes-rcpt")
            if r.get("rcpts"):
                self.add("scale-mailboxes-rcpt-p50", which,
                         r["rcpt_p50_ms"], r)
                self.add("scale-mailboxes-rcpt-p99", which,
                         r["rcpt_p99_ms"], r)
            p = b.gen(pg, "pop3-load", "--port", pg.pop3_port, *login,
                      "--duration", secs, row="scale-mailboxes-pop3")
            if p.get("ok"):
                self.add("scale-mailboxes-pop3-login-p50", which,
                         p["login_p50_ms"], p)
                self.add("scale-mailboxes-pop3-login-p99", which,
                         p["login_p99_ms"], p)
                self.add("scale-mailboxes-login-cpu", which,
                         p["cpu_ms_per_login"], p)
            m = b.gen(pg, "imap-login", "--port", pg.imap_port, *login,
                      "--duration", secs, row="scale-mailboxes-imap")
            if m.get("ok"):
                self.add("scale-mailboxes-imap-login-p50", which,
                         m["login_p50_ms"], m)
                self.add("scale-mailboxes-imap-login-p99", which,
                         m["login_p99_ms"], m)
            log(
                f"  {('1x', 'large')[which]} run {i + 1}: RCPT p50 "
                f"{r.get('rcpt_p50_ms', 0):.3f} ms, POP3 login p50 "
                f"{p.get('login_p50_ms', 0):.2f} ms, IMAP login p50 "
                f"{m.get('login_p50_ms', 0):.2f} ms")

    # ---- the relay table ----

    def fill_relay(self, pg, first, last):
        """Live POP3-login authorizations for 10.x.y.z (FIRST..LAST-1 in
        their order) into relay.db, one transaction; entry 0 is the load
        generator's 127.0.0.1."""
        db = sqlite3.connect(os.path.join(pg.data_dir, "relay.db"))
        now = int(time.time())

        def entries():
            for i in range(first, last):
                key = ("127.0.0.1" if i == 0 else
                       f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
                yield (key, "bench", f"u{i % SMALL}@{DOMAIN}", key, "pop3",
                       now - 60, now + 86400)
        with db:
            db.executemany(
                "INSERT INTO relay_auth (key, customer, mailbox, client,"
                " listener, opened, expires, net) VALUES (?, ?, ?, ?, ?, ?,"
                " ?, 0)", entries())
        db.close()

    def relay(self):
        pg = self.server("relay", ["inbound_auth = no"])
        pg.lines = [line for line in pg.lines
                    if not line.startswith("trusted_networks")]
        pg.configure()
        pg.cli("relay", "list")         # makes relay.db and its tables
        self.fill_relay(pg, 0, SMALL)
        servers.chown_tree(pg.data_dir)
        self.b.start(pg)
        try:
            self.relay_runs(pg, 0)
            self.b.stop(pg)
            t1 = time.monotonic()
            self.fill_relay(pg, SMALL, RELAY_LARGE)
            log(f"  {RELAY_LARGE} relay authorizations (filled in "
                f"{time.monotonic() - t1:.1f} s)")
            servers.chown_tree(pg.data_dir)
            self.b.start(pg)
            self.relay_runs(pg, 1)
        finally:
            self.b.stop(pg)

    def relay_runs(self, pg, which):
        b = self.b
        args = ["smtp-rcpt", "--port", pg.smtp_port, "--rcpt",
                f"r@{SINK_DOMAIN}", "--rcpts", 100]
        b.gen(pg, *args, "-n", 200)     # warm-up
        for i in range(b.runs):
            r = b.gen(pg, *args, "--duration", max(1.0, b.secs / 2),
                      row="scale-relay")
            if not r.get("rcpts"):
                continue
            self.add("scale-relay-rcpt-p50", which, r["rcpt_p50_ms"], r)
            self.add("scale-relay-rcpt-p99", which, r["rcpt_p99_ms"], r)
            self.add("scale-relay-greet-p50", which, r["greet_p50_ms"], r)
            self.add("scale-relay-cpu", which, r["cpu_ms_per_rcpt"], r)
            log(f"  {('1x', 'large')[which]} run {i + 1}: RCPT p50 "
                f"{r['rcpt_p50_ms']:.3f} ms p99 {r['rcpt_p99_ms']:.3f} ms, "
                f"greeting p50 {r['greet_p50_ms']:.3f} ms")
        rss, pss = memory_kb(pg.pids()[0])
        self.add("scale-relay-rss", which, rss / 1024)
        self.add("scale-relay-pss", which, pss / 1024)
        log(f"  RSS {rss / 1024:.1f} MiB, PSS {pss / 1024:.1f} MiB")

    # ---- the queue ----

    def fill_queue(self, pg, first, last):
        """Messages FIRST..LAST-1 into queue/msg, each with one recipient
        at defer.test deferred once (queue/state), next try in two days:
        nothing is due while the rows run."""
        qdir = os.path.join(pg.data_dir, "queue")
        for sub in ("msg", "state", "tmp"):
            os.makedirs(os.path.join(qdir, sub), exist_ok=True)
        now = int(time.time())
        body = servers.message_text(0, 1024)
        state = (f"0 deferred {now + 2 * 86400} 1\t451 4.4.1 "
                 f"{DEFER_DOMAIN}: connection refused (bench)\n").encode()
        ids = []
        for i in range(first, last):
            qid = f"{now - 60:08x}{i:08x}"
            for sub, data in (("msg", queue_file(qid, now - 60,
                                                 f"d{i}@{DEFER_DOMAIN}",
                                                 body)),
                              ("state", state)):
                fd = os.open(os.path.join(qdir, sub, qid),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, data)
                os.close(fd)
            ids.append(qid)
        if servers.IS_ROOT:
            uid, gid = servers.mail_ids()
            for sub in ("msg", "state"):
                for qid in ids:
                    os.chown(os.path.join(qdir, sub, qid), uid, gid)
            servers.chown_tree(os.path.join(qdir, "tmp"))
            for sub in ("", "msg", "state"):
                os.chown(os.path.join(qdir, sub), uid, gid)

    def queue(self):
        dead, = servers.free_ports(1)
        pg = self.server("queue", [f"transport {DEFER_DOMAIN} = "
                                   f"127.0.0.1:{dead}"])
        servers.chown_tree(pg.data_dir)
        self.b.start(pg)
        try:
            self.deliver_runs(pg, 0)        # the queue empty
            for which, (first, last) in enumerate(((0, SMALL),
                                                   (SMALL, QUEUE_LARGE))):
                self.b.stop(pg)
                t1 = time.monotonic()
                self.fill_queue(pg, first, last)
                log(f"  {last} deferred messages in the queue (written in "
                    f"{time.monotonic() - t1:.1f} s)")
                self.restart_runs(pg, which, last)
            self.deliver_runs(pg, 1)
        finally:
            self.b.stop(pg)

    def restart_runs(self, pg, which, queued):
        b = self.b
        idle = 3.0 if b.quick else 10.0
        for i in range(b.runs):
            self.b.stop(pg)
            t0 = time.monotonic()
            self.b.start(pg)
            up = time.monotonic() - t0
            settle = wait_settled(pg.pids()[0])
            if settle is None:
                b.failures.append(f"scale-queue: the daemon never went "
                                  f"idle with {queued} messages queued")
                return
            c0 = cpu_ticks(pg.pids()[0])
            time.sleep(idle)
            cpu = (cpu_ticks(pg.pids()[0]) - c0) * 1e3 / \
                os.sysconf("SC_CLK_TCK") * 10.0 / idle
            self.add("scale-queue-restart", which, up * 1e3)
            self.add("scale-queue-settle", which, settle)
            self.add("scale-queue-settle-per-msg", which,
                     settle * 1e3 / queued)
            self.add("scale-queue-idle-cpu", which, cpu)
            log(f"  {queued} queued, run {i + 1}: listening after "
                f"{up * 1e3:.0f} ms, idle after {settle:.1f} s, then "
                f"{cpu:.0f} ms CPU per 10 s")

    def deliver_runs(self, pg, which):
        b = self.b
        for i in range(b.runs):
            r = b.gen(pg, "smtp", "--port", pg.smtp_port, "-c", 10, "-s",
                      "1K", "--duration", b.secs, "--per-conn", 1,
                      "--rcpt", f"r@{SINK_DOMAIN}", "--rcpts", 100,
                      "--sink-port", b.sink_port, row="scale-queue-deliver")
            if "rate" in r:
                self.add("scale-queue-deliver-cpu", which,
                         r["cpu_ms_per_msg"], r)
                self.add("scale-queue-deliver-rate", which, r["rate"], r)
                log(f"  {('queue empty', 'deferred queue')[which]} run "
                    f"{i + 1}: {r['rate']:.0f} msg/s, "
                    f"{r['cpu_ms_per_msg']:.3f} ms CPU/msg")
            time.sleep(0.3)

    # ---- a big Maildir ----

    def maildir(self):
        b = self.b
        pg = self.server("maildir")
        hash_ = servers.crypt_hash(PASSWORD, "sha256-1000")
        self.fill_mailboxes(pg, 0, 1, hash_)
        servers.chown_tree(pg.data_dir)
        self.b.start(pg)
        try:
            for which, n in enumerate((SMALL, MAILDIR_LARGE)):
                tpl = b.template(f"check-{n // 1000}k", n, 2048)
                for proto in ("pop3", "imap"):
                    if self.wanted(f"scale-maildir-{proto}"):
                        self.maildir_runs(pg, tpl, which, n, proto)
        finally:
            self.b.stop(pg)

    def maildir_runs(self, pg, tpl, which, n, proto):
        """First access: a fresh copy of the Maildir (no index) and the
        server started after it; warm: the median of the next 5."""
        b = self.b
        warm_n = 5
        for i in range(b.runs):
            self.b.stop(pg)
            servers.copy_maildir(tpl, pg.maildir("u0"))
            self.b.start(pg)
            mode, port = (("pop3-check", pg.pop3_port) if proto == "pop3"
                          else ("imap-select", pg.imap_port))
            r = b.gen(pg, mode, "--port", port, "--user", f"u0@{DOMAIN}",
                      "--pass", PASSWORD, "--sessions", 1 + warm_n,
                      row=f"scale-maildir-{proto}")
            times = [float(t) for t in str(r.get("times_ms", "")).split(",")
                     if t]
            if len(times) != 1 + warm_n or r.get("msgs") != n:
                continue
            warm = statistics.median(times[1:])
            self.add(f"scale-maildir-{proto}-first", which,
                     times[0] * 1e3 / n, r)
            self.add(f"scale-maildir-{proto}-warm", which, warm * 1e3 / n)
            log(f"  {proto} {n} messages run {i + 1}: first "
                f"{times[0]:.1f} ms, warm {warm:.1f} ms")

    # ---- the table ----

    def table(self):
        head = ["row", "unit", "1x", "value", "large", "value", "growth",
                "goal", "met", "bg%"]
        lines = []
        for rid in self.order:
            row = self.rows[rid]
            if not self.b.want(rid):
                continue
            g = row.growth()
            met = row.met()
            lines.append([row.title, row.unit, row.sizes[0],
                          fmt_range(row.small), row.sizes[1],
                          fmt_range(row.large),
                          f"{g:.2f}x" if g is not None else "",
                          row.goal, "" if met is None else
                          ("yes" if met else "NO"),
                          f"{max(row.other):.0f}" if row.other else ""])
        if not lines:
            return ""
        widths = [max(len(c[i]) for c in lines + [head])
                  for i in range(len(head))]
        left = (0, 1, 2, 4, 7, 8)
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
               "  ".join("-" * w for w in widths)]
        for cells in lines:
            out.append("  ".join(c.ljust(w) if i in left else c.rjust(w)
                                 for i, (c, w) in
                                 enumerate(zip(cells, widths))).rstrip())
        return "\n".join(out)


def fmt_range(vals):
    """The median of VALS [min-max]; run.py's table uses it too."""
    if not vals:
        return "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt_num(m)
    return f"{fmt_num(m)} [{fmt_num(min(vals))}-{fmt_num(max(vals))}]"


def fmt_num(v):
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"
