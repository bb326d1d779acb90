#!/usr/bin/python3
"""bench/run.py - `make bench` and `make bench-compare`.

    run.py --build DIR [--compare] [--quick] [--rows "ID ..."] [--runs N]
           [--keep] [--perf] [--set 'KEY = VALUE' ...]

Builds nothing: the Makefile has built DIR/popgate and DIR/bench/pgbench
(and DIR/bench/bench_milter, the no-op filter of the milter row).
Makes a temporary directory /tmp/pgbench-*, writes the accounts and
mailboxes, starts each server alone (popgate; with --compare also
Postfix, then Dovecot), runs the load generator for every row, prints
the table (median [min-max] of the runs) and writes it to
DIR/bench/results-popgate.txt or, with --compare, DIR/bench/results.txt.
Everything it started is stopped and the directory removed at the end,
also on Ctrl-C or failure (--keep keeps the directory).

Rows and what they measure: bench/README.md. --rows takes row ids or
their prefixes ("local-1k", "pop3-check-10k-first"). --perf records
popgate with `perf record --call-graph dwarf` during the last run of
each row into DIR/bench/perf-ROW.data. --set adds a line to popgate's
configuration (repeatable), to try a setting.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402
from scale import fmt_range  # noqa: E402
import servers  # noqa: E402
from servers import DOMAIN, PASSWORD, SINK_DOMAIN  # noqa: E402

GEN_TIMEOUT = 900           # seconds for one generator run
DATA_SESSIONS = 1000        # the data-* rows: sessions held inside DATA


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Row:
    """One line of the table: ID, TITLE, UNIT, BETTER ("higher" or
    "lower"), GOAL (text) and CHECK(popgate, peer) -> bool or None, KIND
    (which peer: "smtp" = Postfix, "pop3" and "imap" = Dovecot, None =
    none)."""

    def __init__(self, id, title, unit, better, kind, goal="", check=None):
        self.id, self.title, self.unit, self.better = id, title, unit, better
        self.kind, self.goal, self.check = kind, goal, check
        self.values = {}        # server name -> [values]
        self.other = []         # other processes' CPU % in its runs


def ratio_at_least(x):
    return lambda p, q: p / q >= x if p and q else None


def ratio_at_most(x):
    return lambda p, q: p / q <= x if p and q else None


def at_most(x):
    return lambda p, q: p <= x if p is not None else None


def at_least(x):
    return lambda p, q: p >= x if p is not None else None


def make_rows():
    rows = [Row("fsync-ref", "fsync reference: create+write 4 KiB+fsync+"
                "rename+fsync dir, 1 stream", "ops/s", "higher", None)]
    for size in ("1k", "64k"):
        for c in (1, 10, 50):
            goal = check = None
            if c in (10, 50):
                goal, check = ">= 10x Postfix", ratio_at_least(10)
            rows.append(Row(f"local-{size}-c{c}", f"local delivery "
                            f"{size[:-1]} KiB, C={c}, 1 msg/conn", "msg/s",
                            "higher", "smtp", goal or "", check))
            rows.append(Row(f"local-{size}-c{c}-cpu", "  server CPU per message",
                            "ms", "lower", "smtp",
                            "<= 0.3 ms" if size == "1k" else "",
                            at_most(0.3) if size == "1k" else None))
    rows.append(Row("local-1k-c10-pipe", "local delivery 1 KiB, C=10, 100 "
                    "msg/conn, PIPELINING", "msg/s", "higher", "smtp"))
    rows.append(Row("local-1k-c10-pipe-cpu", "  server CPU per message",
                    "ms", "lower", "smtp", "<= 0.3 ms", at_most(0.3)))
    rows.append(Row("local-1k-c50-milter", "local delivery 1 KiB, C=50, "
                    "through a no-op milter", "msg/s", "higher", "smtp"))
    rows.append(Row("local-1k-c50-milter-cpu", "  server CPU per message",
                    "ms", "lower", "smtp"))
    rows.append(Row("local-1k-c50-milter-filter", "  the filter's CPU per "
                    "message", "ms", "lower", "smtp"))
    rows.append(Row("local-1k-c50-auth", "local delivery 1 KiB, C=50, "
                    "from the internet, SPF+DKIM+DMARC checked", "msg/s",
                    "higher", None))
    rows.append(Row("local-1k-c50-auth-cpu", "  server CPU per message",
                    "ms", "lower", None))
    rows.append(Row("local-1k-c50-noauth", "local delivery 1 KiB, C=50, "
                    "from the internet, inbound_auth = no", "msg/s",
                    "higher", None))
    rows.append(Row("local-1k-c50-noauth-cpu", "  server CPU per message",
                    "ms", "lower", None))
    for c in (10, 50):
        rows.append(Row(f"relay-1k-c{c}", f"relay 1 KiB to the sink, C={c}, "
                        "1 msg/conn", "msg/s", "higher", "smtp",
                        ">= 10x Postfix", ratio_at_least(10)))
        rows.append(Row(f"relay-1k-c{c}-cpu", "  server CPU per message",
                        "ms", "lower", "smtp", "<= 0.3 ms", at_most(0.3)))
    rows.append(Row("relay-1k-c50-nosign", "relay 1 KiB, C=50, From: a "
                    "domain without DKIM keys (unsigned)", "msg/s",
                    "higher", None))
    rows.append(Row("relay-1k-c50-nosign-cpu", "  server CPU per message",
                    "ms", "lower", None))
    rows.append(Row("durable-vs-fsync", "local 1 KiB C=50 / fsync reference",
                    "x", "higher", None, ">= 2", at_least(2)))
    rows.append(Row("milter-cost", "throughput lost to the no-op milter "
                    "(local 1 KiB C=50)", "%", "lower", "smtp", "<= 30%",
                    at_most(30)))
    rows.append(Row("auth-cost", "throughput lost to the inbound checks "
                    "(local 1 KiB C=50)", "%", "lower", None, "<= 15%",
                    at_most(15)))
    rows.append(Row("auth-checks-cost", "  of which the checks alone (vs "
                    "from the internet unchecked)", "%", "lower", None))
    rows.append(Row("dkim-cost", "throughput lost to DKIM signing (relay "
                    "1 KiB C=50)", "%", "lower", None, "<= 15%",
                    at_most(15)))
    for m in ("1k", "10k"):
        for when in ("first", "warm"):
            rows.append(Row(f"pop3-check-{m}-{when}", f"POP3 check-mail, "
                            f"{m} msgs, {when} access", "ms", "lower",
                            "pop3", "<= 0.5x Dovecot (2x faster)",
                            ratio_at_most(0.5)))
    rows.append(Row("pop3-retr-1k-64k", "POP3 RETR all, 1000 x 64 KiB",
                    "MB/s", "higher", "pop3", ">= 2x Dovecot",
                    ratio_at_least(2)))
    for rid, title, goal, check in (
            ("pop3-load-yescrypt-vs-plain", "50 POP3 sessions, popgate "
             "yescrypt vs Dovecot PLAIN", ">= 1x Dovecot", ratio_at_least(1)),
            ("pop3-load-yescrypt", "50 POP3 sessions, both yescrypt",
             ">= 2x Dovecot", ratio_at_least(2)),
            ("pop3-load-sha512", "50 POP3 sessions, both SHA512-CRYPT",
             ">= 2x Dovecot", ratio_at_least(2))):
        rows.append(Row(rid, title, "logins/s", "higher", "pop3", goal,
                        check))
        rows.append(Row(f"{rid}-p50", "  session latency p50", "ms",
                        "lower", "pop3"))
        rows.append(Row(f"{rid}-p99", "  session latency p99", "ms",
                        "lower", "pop3"))
    for when in ("first", "warm"):
        rows.append(Row(f"imap-select-flags-10k-{when}", "IMAP SELECT + UID "
                        f"FETCH 1:* (FLAGS), 10k msgs, {when} access", "ms",
                        "lower", "imap", "<= 0.5x Dovecot (2x faster)",
                        ratio_at_most(0.5)))
        rows.append(Row(f"imap-select-flags-10k-{when}-select",
                        "  of which SELECT INBOX", "ms", "lower", "imap"))
    rows.append(Row("imap-fetch-bodies-1k", "IMAP FETCH BODY.PEEK[] of "
                    "1000 x 64 KiB, one command", "MB/s", "higher", "imap",
                    ">= 2x Dovecot", ratio_at_least(2)))
    rows.append(Row("imap-fetch-bodies-1k-cpu", "  server CPU per MB sent",
                    "ms", "lower", "imap"))
    for rid, title, goal, check in (
            ("imap-login-c50", "50 IMAP sessions LOGIN+LOGOUT, both "
             "SHA512-CRYPT", ">= 2x Dovecot", ratio_at_least(2)),
            ("imap-login-c50-vs-plain", "50 IMAP sessions LOGIN+LOGOUT, "
             "Dovecot PLAIN", "", None)):
        rows.append(Row(rid, title, "logins/s", "higher", "imap", goal,
                        check))
        rows.append(Row(f"{rid}-p50", "  session latency p50", "ms",
                        "lower", "imap"))
        rows.append(Row(f"{rid}-p99", "  session latency p99", "ms",
                        "lower", "imap"))
    rows.append(Row("imap-idle-10k", "IMAP sessions in IDLE, INBOX "
                    "selected: server RSS", "MiB", "lower", "imap",
                    "<= 100 MiB", at_most(100)))
    rows.append(Row("imap-idle-10k-pss", "  server PSS (all processes)",
                    "MiB", "lower", "imap"))
    rows.append(Row("imap-idle-10k-per-session", "  PSS per session", "KiB",
                    "lower", "imap"))
    rows.append(Row("idle-rss", "idle SMTP sessions after EHLO: server RSS",
                    "MiB", "lower", "smtp", "<= 64 MiB", at_most(64)))
    rows.append(Row("idle-pss", "  server PSS (all processes)", "MiB",
                    "lower", "smtp"))
    rows.append(Row("idle-per-session", "  PSS per session", "KiB", "lower",
                    "smtp"))
    rows.append(Row("data-rss", "1000 SMTP sessions inside DATA, 200 KiB "
                    "of header lines each: server RSS", "MiB", "lower",
                    "smtp"))
    rows.append(Row("data-per-session", "  PSS per session in DATA", "KiB",
                    "lower", "smtp"))
    return rows


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.gen_bin = os.path.join(self.build, "bench", "pgbench")
        self.quick = args.quick
        self.runs = args.runs or (1 if self.quick else 3)
        self.secs = 1.0 if self.quick else 4.0
        self.idle_n = 1000 if self.quick else 10000
        self.rows = {r.id: r for r in make_rows()}
        self.order = list(self.rows)
        self.wanted = args.rows.split() if args.rows else None
        self.scale = scale.Scale(self)
        self.root = None
        self.templates = {}
        self.running = []
        self.failures = []
        self.notes = []
        self.other_cpu = []     # other processes' CPU % during runs

    # ---- helpers ----

    def want(self, rid):
        if self.wanted is None:
            return True
        return any(rid.startswith(w) for w in self.wanted)

    def want_any(self, prefix):
        """Is any row whose id starts with PREFIX wanted? (--rows may name
        one row of a group that is measured together.)"""
        return any(self.want(rid) for rid in self.order
                   if rid.startswith(prefix))

    def gen(self, server, *args, row=None):
        """Runs pgbench; its RESULT line as a dict (numbers as float),
        with "rc" added. A failed run is noted for the report. With
        --perf, popgate is profiled during the runs of ROW."""
        cmd = [self.gen_bin, *map(str, args)]
        for pid in server.pids() if server else []:
            cmd += ["--pid", str(pid)]
        perf = self.perf_start(server, row)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=GEN_TIMEOUT)
        finally:
            self.perf_stop(perf)
        res = {"rc": p.returncode}
        for line in p.stdout.splitlines():
            if line.startswith("RESULT "):
                for kv in line.split()[1:]:
                    k, _, v = kv.partition("=")
                    try:
                        res[k] = float(v)
                    except ValueError:
                        res[k] = v
        if isinstance(res.get("other_cpu_pct"), float):
            self.other_cpu.append(res["other_cpu_pct"])
        if p.returncode != 0 or "mode" not in res:
            name = server.name if server else "-"
            self.failures.append(f"{name}: pgbench {' '.join(map(str, args))}: exit "
                                 f"{p.returncode}\n{p.stderr.strip()}")
            log(f"    pgbench exited {p.returncode}: "
                f"{p.stderr.strip()[-500:]}")
        return res

    def perf_start(self, server, row):
        """`perf record` of popgate for ROW into DIR/bench/perf-ROW.data
        (the last run of the row stays), or None."""
        if not self.args.perf or row is None or server is None or \
                server.name != "popgate":
            return None
        path = os.path.join(self.build, "bench", f"perf-{row}.data")
        p = subprocess.Popen(["perf", "record", "-q", "-F", "999",
                              "--call-graph", "dwarf", "-o", path, "-p",
                              str(server.pids()[0])],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.3)         # attached before the load starts
        return p

    @staticmethod
    def perf_stop(p):
        if p is not None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def add(self, rid, server, value, res=None):
        """Adds a run's VALUE to row RID for SERVER (or a server name);
        RES: the generator's result, for the load of other processes."""
        name = server if isinstance(server, str) else server.name
        if value is None or rid not in self.rows:
            return
        self.rows[rid].values.setdefault(name, []).append(value)
        if res is not None and isinstance(res.get("other_cpu_pct"), float):
            self.rows[rid].other.append(res["other_cpu_pct"])

    def template(self, name, count, size):
        """A Maildir of COUNT messages of SIZE octets, made once."""
        if name not in self.templates:
            path = os.path.join(self.root, "templates", name)
            log(f"  making a Maildir of {count} x {size} octets")
            servers.fill_maildir(path, count, size)
            self.templates[name] = path
        return self.templates[name]

    def start(self, server):
        server.start()
        self.running.append(server)

    def stop(self, server):
        if server in self.running:
            self.running.remove(server)
        server.stop()

    # ---- SMTP rows ----

    def smtp_rows(self, server):
        for size in ("1k", "64k"):
            for c in (1, 10, 50):
                self.smtp_row(server, f"local-{size}-c{c}", size, c,
                              also=(size, c) == ("1k", 50) and
                              (self.want("milter-cost") or
                               self.want("auth-cost")))
        self.smtp_row(server, "local-1k-c10-pipe", "1k", 10, per_conn=100,
                      pipelining=True)
        for c in (10, 50):
            self.smtp_row(server, f"relay-1k-c{c}", "1k", c, relay=True,
                          also=c == 50 and self.want("dkim-cost"))
        if server.name == "popgate":
            # popgate only: the same, From: a hosted domain without keys.
            self.smtp_row(server, "relay-1k-c50-nosign", "1k", 50,
                          relay=True, also=self.want("dkim-cost"),
                          sender=f"pgbench@{servers.NOKEY_DOMAIN}")

    def smtp_row(self, server, rid, size, conc, per_conn=1,
                 pipelining=False, relay=False, also=False, milter=None,
                 sender=f"pgbench@{DOMAIN}", header_file=None):
        """ALSO: run it even if not asked for (a ratio row needs it);
        MILTER: the filter the server is configured with (its CPU goes in
        the row RID-filter); SENDER: MAIL FROM and From:; HEADER_FILE:
        header lines above each message (pgbench --header-file)."""
        if not (also or self.want(rid)):
            return
        for i in range(self.runs):
            for local in servers.DELIVERY_BOXES:
                servers.empty_new(server.maildir(local))
            args = ["smtp", "--port", server.smtp_port, "-c", conc, "-s",
                    size.upper(), "--duration", self.secs, "--per-conn",
                    per_conn, "--from", sender, "--rcpts",
                    len(servers.DELIVERY_BOXES)]
            if header_file:
                args += ["--header-file", header_file]
            if pipelining:
                args.append("--pipelining")
            if relay:
                args += ["--rcpt", f"r@{SINK_DOMAIN}", "--sink-port",
                         self.sink_port]
            else:
                args += ["--rcpt", f"u@{DOMAIN}", "--maildir",
                         server.domain_dir]
            cpu0 = milter.cpu_secs() if milter else 0
            t0 = time.monotonic()
            r = self.gen(server, *args, row=rid)
            extra = ""
            if milter:
                self.not_other(r, milter.cpu_secs() - cpu0,
                               time.monotonic() - t0)
            if milter and r.get("delivered"):
                ms = (milter.cpu_secs() - cpu0) * 1e3 / r["delivered"]
                self.add(f"{rid}-filter", server, ms)
                extra = f", filter {ms:.3f} ms CPU/msg"
            if "rate" in r:
                self.add(rid, server, r["rate"], r)
                self.add(f"{rid}-cpu", server, r["cpu_ms_per_msg"])
                log(f"  {server.name} {rid} run {i + 1}: {r['rate']:.0f} "
                    f"msg/s, {r['cpu_ms_per_msg']:.3f} ms CPU/msg{extra}"
                    f"{'' if r['rc'] == 0 else ' (FAILED: see below)'}")
            self.settle(server)

    def not_other(self, res, cpu_secs, wall_secs):
        """Takes the filter's CPU_SECS out of the other processes' load
        of the generator's result RES: pgbench counts it as other work
        (it is no --pid, so that the server's CPU stays the server's)."""
        pct = res.get("other_cpu_pct")
        if not isinstance(pct, float) or wall_secs <= 0:
            return
        fixed = max(0.0, pct - 100 * cpu_secs / wall_secs / os.cpu_count())
        res["other_cpu_pct"] = fixed
        if self.other_cpu and self.other_cpu[-1] == pct:
            self.other_cpu[-1] = fixed

    def milter_rows(self, server):
        """local-1k-c50 again, the server configured with the no-op
        filter (bench_milter, started here on a free port and stopped at
        the end); the server is restarted without it afterwards."""
        rid = "local-1k-c50-milter"
        if not (self.want(rid) or self.want("milter-cost")):
            return
        filt = servers.NoopMilter(self.root, self.build)
        self.start(filt)
        self.stop(server)
        server.configure(milter=filt.address)
        self.start(server)
        # On an error cleanup() stops both (they are in self.running).
        self.smtp_row(server, rid, "1k", 50, also=True, milter=filt)
        self.stop(server)
        server.configure()
        self.start(server)
        self.stop(filt)
        c = filt.counts
        log(f"  {server.name} bench_milter saw {c.get('connections', 0)} "
            f"connections, {c.get('messages', 0)} messages, "
            f"{c.get('body_octets', 0)} body octets")
        if not c.get("messages"):
            self.notes.append(f"{server.name}: the no-op milter saw no "
                              f"message ({filt.log_path}): {c}")

    def auth_rows(self, server):
        """local-1k-c50 from the internet with the inbound checks on:
        popgate restarted without trusted_networks, its resolver a DNS
        stub (servers.BenchDns) with the sender domain's SPF record,
        DMARC p=reject and DKIM key, every message DKIM-signed (a
        signature made here once over a sample of what pgbench sends: its
        body and From: are the same in every message). The delivered
        messages must say dkim=pass and dmarc=pass. The server is
        restarted as it was afterwards."""
        rid = "local-1k-c50-auth"
        if not (self.want(rid) or self.want("auth-cost") or
                self.want("auth-checks-cost")):
            return
        sender = f"pgbench@{servers.SENDER_DOMAIN}"
        head, records = self.auth_signature(sender)
        dns = servers.BenchDns(records)
        self.start(dns)
        self.stop(server)
        server.configure(dns=dns.server)
        self.start(server)
        log(f"  {server.name}: inbound checks on, DNS stub {dns.server}")
        self.smtp_row(server, rid, "1k", 50, also=True, sender=sender,
                      header_file=head)
        self.auth_verdicts(server)
        # Always beside it: the same clients and messages from the
        # internet, the checks off (what is the checks', what is the
        # internet's: the relay table asked for each client).
        self.stop(server)
        server.configure(dns=dns.server, checks=False)
        self.start(server)
        self.smtp_row(server, "local-1k-c50-noauth", "1k", 50, also=True,
                      sender=sender, header_file=head)
        self.stop(server)
        server.configure()
        self.start(server)
        self.stop(dns)
        log(f"  DNS stub: {len(dns.queries)} queries: "
            f"{sorted(set(dns.queries))}")

    def auth_signature(self, sender):
        """(header file, DNS records): an RSA-2048 key, a DKIM-Signature
        (rsa-sha256, relaxed/relaxed, h=from, d= the sender's domain) by
        python3-dkim over a sample message from pgbench (to its own sink,
        which stores it), checked here against the key."""
        import base64
        try:
            import dkim
        except ImportError:
            raise RuntimeError("the auth rows need python3-dkim "
                               "(scripts/bootstrap)")
        domain = sender.split("@")[1]
        d = os.path.join(self.root, "auth")
        os.makedirs(os.path.join(d, "sample"))
        pem = servers.run(["openssl", "genrsa", "-traditional", "2048"]
                          ).stdout.encode()
        der = subprocess.run(["openssl", "rsa", "-pubout", "-outform",
                              "DER"], input=pem, capture_output=True,
                             check=True).stdout
        port, = servers.free_ports(1)
        servers.run([self.gen_bin, "smtp", "--port", str(port),
                     "--sink-port", str(port), "--sink-store",
                     os.path.join(d, "sample"), "-c", "1", "-n", "1", "-s",
                     "1K", "--from", sender, "--rcpt", f"u@{DOMAIN}",
                     "--rcpts", str(len(servers.DELIVERY_BOXES))])
        with open(os.path.join(d, "sample", "1"), "rb") as f:
            sample = f.read()
        sig = dkim.sign(sample, b"bench", domain.encode(), pem,
                        canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from"])
        key = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
        if not dkim.verify(sig + sample,
                           dnsfunc=lambda name, timeout=5: key.encode()):
            raise RuntimeError("the sample's DKIM signature does not verify")
        head = os.path.join(d, "dkim-signature")
        with open(head, "wb") as f:
            f.write(sig)
        records = {
            # The SPF stand-in of this branch (src/mauth/zz_spf_tmp.c)
            # passes a record naming 127.0.0.2; the first term is what
            # passes the client 127.0.0.1 with a real SPF check.
            domain: {"TXT": ["v=spf1 ip4:127.0.0.0/8 ip4:127.0.0.2 -all"]},
            f"_dmarc.{domain}": {"TXT": [f"v=DMARC1; p=reject; "
                                         f"rua=mailto:dmarc@{domain}"]},
            f"bench._domainkey.{domain}": {"TXT": [key]},
        }
        return head, records

    def auth_verdicts(self, server):
        """Every message delivered by the last run must carry our
        Authentication-Results with dkim=pass and dmarc=pass."""
        total = good = 0
        bad = None
        for local in servers.DELIVERY_BOXES:
            new = os.path.join(server.maildir(local), "new")
            for name in os.listdir(new):
                with open(os.path.join(new, name), "rb") as f:
                    head = f.read(8192).split(b"\n\n", 1)[0]
                total += 1
                ar = re.search(rb"(?mi)^Authentication-Results: "
                               rb"mail\.bench\.test;(.*(?:\n[ \t].*)*)",
                               head)
                text = ar.group(1) if ar else b""
                if b"dkim=pass" in text and b"dmarc=pass" in text:
                    good += 1
                elif bad is None:
                    bad = (ar.group(0) if ar else head[:300]).decode(
                        errors="replace")
        msg = (f"local-1k-c50-auth: {good} of {total} delivered messages "
               f"(last run) say dkim=pass and dmarc=pass")
        log(f"  {msg}")
        if total == 0 or good != total:
            self.notes.append(f"{msg}; not all: the row means nothing. "
                              f"First other: {bad}")
            self.failures.append(msg)
        else:
            self.notes.append(msg)

    def settle(self, server):
        """Lets a server finish its queue between runs."""
        if isinstance(server, servers.Postfix):
            deadline = time.monotonic() + 60
            while not server.queue_empty() and time.monotonic() < deadline:
                time.sleep(0.2)
        time.sleep(0.3)

    def idle_rows(self, server, runs):
        if not self.want_any("idle"):
            return
        for i in range(runs):
            # A fresh server for each run: what stays allocated after a
            # run would hide the next run's cost.
            self.stop(server)
            self.start(server)
            r = self.gen(server, "idle", "--port", server.smtp_port, "-n",
                         self.idle_n, "-c", 100, "--hold", 1)
            if "rss_kb" in r:
                self.add("idle-rss", server, r["rss_kb"] / 1024)
                self.add("idle-pss", server, r["pss_kb"] / 1024)
                self.add("idle-per-session", server,
                         r["pss_kb_per_session"])
                log(f"  {server.name} idle run {i + 1}: {r['sessions']:.0f} "
                    f"sessions, RSS {r['rss_kb'] / 1024:.1f} MiB, PSS "
                    f"{r['pss_kb'] / 1024:.1f} MiB")
            time.sleep(1)

    def data_rows(self, server, runs):
        """Sessions held inside DATA after 200 KiB of header lines (no
        empty line, no end of data): what a session in DATA costs at
        worst, header copy and in-memory spool included."""
        if not self.want_any("data"):
            return
        for i in range(runs):
            self.stop(server)
            self.start(server)
            r = self.gen(server, "idle", "--port", server.smtp_port, "-n",
                         DATA_SESSIONS, "-c", 100, "--hold", 1, "--rcpt",
                         f"u0@{servers.DOMAIN}", "-s", "200K")
            if "rss_kb" in r:
                self.add("data-rss", server, r["rss_kb"] / 1024)
                self.add("data-per-session", server,
                         r["pss_kb_per_session"])
                log(f"  {server.name} data run {i + 1}: {r['sessions']:.0f} "
                    f"sessions in DATA, RSS {r['rss_kb'] / 1024:.1f} MiB, "
                    f"{r['pss_kb_per_session']:.0f} KiB per session")
            time.sleep(1)

    # ---- POP3 rows ----

    def pop3_rows(self, server):
        for m, count in (("1k", 1000), ("10k", 10000)):
            if self.want_any(f"pop3-check-{m}"):
                self.check_rows(server, m, count)
        if self.want_any("pop3-retr"):
            self.retr_row(server)
        load = [("pop3-load-yescrypt", "py", "py"),
                ("pop3-load-sha512", "ps", "ps"),
                ("pop3-load-yescrypt-vs-plain", "py", "pl")]
        done = {}
        for rid, ours, theirs in load:
            prefix = ours if server.name == "popgate" else theirs
            if not self.want(rid):
                continue
            if prefix not in done:
                done[prefix] = self.load_runs(server, prefix)
            for vals in done[prefix]:
                self.add(rid, server, vals[0], vals[3])
                self.add(f"{rid}-p50", server, vals[1])
                self.add(f"{rid}-p99", server, vals[2])

    def check_rows(self, server, m, count):
        """First access: a fresh copy of the mailbox and a server
        started after it was made; then warm: the next sessions."""
        tpl = self.template(f"check-{m}", count, 2048)
        box = f"m{m}"
        warm_n = 5
        for i in range(self.runs):
            self.stop(server)
            servers.copy_maildir(tpl, server.maildir(box))
            self.start(server)
            r = self.gen(server, "pop3-check", "--port", server.pop3_port,
                         "--user", f"{box}@{DOMAIN}", "--pass", PASSWORD,
                         "--sessions", 1 + warm_n, row=f"pop3-check-{m}")
            times = [float(t) for t in str(r.get("times_ms", "")).split(",")
                     if t]
            if len(times) == 1 + warm_n:
                self.add(f"pop3-check-{m}-first", server, times[0], r)
                self.add(f"pop3-check-{m}-warm", server,
                         statistics.median(times[1:]), r)
                log(f"  {server.name} check-mail {m} run {i + 1}: first "
                    f"{times[0]:.1f} ms, warm "
                    f"{statistics.median(times[1:]):.1f} ms")

    def retr_row(self, server):
        tpl = self.template("retr-1k-64k", 1000, 65536)
        box = "r1k"
        servers.copy_maildir(tpl, server.maildir(box))
        args = ["pop3-retr", "--port", server.pop3_port, "--user",
                f"{box}@{DOMAIN}", "--pass", PASSWORD]
        self.gen(server, *args)         # first access: not counted
        for i in range(self.runs):
            r = self.gen(server, *args, "--sessions", 3,
                         row="pop3-retr-1k-64k")
            if "mbps" in r:
                self.add("pop3-retr-1k-64k", server, r["mbps"], r)
                log(f"  {server.name} RETR run {i + 1}: {r['mbps']:.1f} MB/s")

    def load_runs(self, server, prefix):
        """[(logins/s, p50, p99)] of the runs with mailboxes PREFIX0..49;
        a short run first warms the mailboxes and caches."""
        args = ["pop3-load", "--port", server.pop3_port, "-c",
                servers.LOAD_SESSIONS, "--user", f"{prefix}@{DOMAIN}",
                "--users", servers.LOAD_SESSIONS, "--pass", PASSWORD]
        self.gen(server, *args, "--duration", 1)
        out = []
        for i in range(self.runs):
            r = self.gen(server, *args, "--duration", self.secs,
                         row=f"pop3-load-{prefix}")
            if "rate" in r:
                out.append((r["rate"], r["sess_p50_ms"], r["sess_p99_ms"],
                            r))
                log(f"  {server.name} {prefix}* logins run {i + 1}: "
                    f"{r['rate']:.0f}/s, p50 {r['sess_p50_ms']:.1f} ms, "
                    f"p99 {r['sess_p99_ms']:.1f} ms")
        return out

    def fill_load_boxes(self, server, prefixes):
        tpl = self.template("load-20", 20, 2048)
        for prefix in prefixes:
            for i in range(servers.LOAD_SESSIONS):
                servers.copy_maildir(tpl, server.maildir(f"{prefix}{i}"))

    # ---- IMAP rows ----

    def imap_rows(self, server):
        if self.want_any("imap-select-flags-10k"):
            self.select_rows(server)
        if self.want_any("imap-fetch-bodies"):
            self.fetch_row(server)
        load = [("imap-login-c50", "ps", "ps"),
                ("imap-login-c50-vs-plain", "ps", "pl")]
        done = {}
        for rid, ours, theirs in load:
            prefix = ours if server.name == "popgate" else theirs
            if not self.want(rid):
                continue
            if prefix not in done:
                done[prefix] = self.imap_login_runs(server, prefix)
            for vals in done[prefix]:
                self.add(rid, server, vals[0], vals[3])
                self.add(f"{rid}-p50", server, vals[1])
                self.add(f"{rid}-p99", server, vals[2])
        if done and server.name == "popgate":
            self.notes.append(
                "imap-login-*: popgate opens the relay for 127.0.0.1 on "
                "every LOGIN (a relay table write and an audit log line), as "
                "on a POP3 login; Dovecot has nothing of the kind")

    def select_rows(self, server):
        """First access: a fresh copy of the mailbox (no index of any
        server: copy_maildir removes the Maildir with popgate's
        popgate-index* and Dovecot's dovecot.index* files) and a server
        started after it was made; then warm: the next sessions, with the
        index the first one wrote."""
        tpl = self.template("check-10k", 10000, 2048)
        box = "m10k"
        warm_n = 5
        rid = "imap-select-flags-10k"
        for i in range(self.runs):
            self.stop(server)
            servers.copy_maildir(tpl, server.maildir(box))
            self.start(server)
            r = self.gen(server, "imap-select", "--port", server.imap_port,
                         "--user", f"{box}@{DOMAIN}", "--pass", PASSWORD,
                         "--sessions", 1 + warm_n, row=rid)
            times = ms_list(r.get("times_ms"))
            sel = ms_list(r.get("select_ms"))
            if len(times) == len(sel) == 1 + warm_n and \
                    r.get("msgs") == 10000:
                self.add(f"{rid}-first", server, times[0], r)
                self.add(f"{rid}-warm", server,
                         statistics.median(times[1:]), r)
                self.add(f"{rid}-first-select", server, sel[0])
                self.add(f"{rid}-warm-select", server,
                         statistics.median(sel[1:]))
                log(f"  {server.name} SELECT+FETCH FLAGS run {i + 1}: "
                    f"first {times[0]:.1f} ms, warm "
                    f"{statistics.median(times[1:]):.1f} ms (SELECT alone: "
                    f"{sel[0]:.1f} ms, "
                    f"{statistics.median(sel[1:]):.1f} ms)")

    def fetch_row(self, server):
        tpl = self.template("retr-1k-64k", 1000, 65536)
        box = "r1k"
        servers.copy_maildir(tpl, server.maildir(box))
        args = ["imap-fetch", "--port", server.imap_port, "--user",
                f"{box}@{DOMAIN}", "--pass", PASSWORD]
        self.gen(server, *args)         # first access: not counted
        for i in range(self.runs):
            r = self.gen(server, *args, "--sessions", 3,
                         row="imap-fetch-bodies-1k")
            if "mbps" in r and r.get("fetch_msgs") == 3000:
                self.add("imap-fetch-bodies-1k", server, r["mbps"], r)
                if r.get("cpu_ms", 0) > 0 and r.get("fetch_bytes", 0) > 0:
                    self.add("imap-fetch-bodies-1k-cpu", server,
                             r["cpu_ms"] / (r["fetch_bytes"] / 1e6))
                log(f"  {server.name} FETCH bodies run {i + 1}: "
                    f"{r['mbps']:.1f} MB/s")

    def imap_login_runs(self, server, prefix):
        """[(logins/s, p50, p99, result)] of the runs with mailboxes
        PREFIX0..49; a short run first warms the caches (and makes
        popgate's folders, which it creates at the first login)."""
        args = ["imap-login", "--port", server.imap_port, "-c",
                servers.LOAD_SESSIONS, "--user", f"{prefix}@{DOMAIN}",
                "--users", servers.LOAD_SESSIONS, "--pass", PASSWORD]
        self.gen(server, *args, "--duration", 1)
        out = []
        for i in range(self.runs):
            r = self.gen(server, *args, "--duration", self.secs,
                         row=f"imap-login-{prefix}")
            if "rate" in r:
                out.append((r["rate"], r["sess_p50_ms"], r["sess_p99_ms"],
                            r))
                log(f"  {server.name} IMAP {prefix}* logins run {i + 1}: "
                    f"{r['rate']:.0f}/s, p50 {r['sess_p50_ms']:.1f} ms, "
                    f"p99 {r['sess_p99_ms']:.1f} ms")
        return out

    def imap_idle_rows(self, server, runs):
        """IDLE_N sessions over the 50 mailboxes ps0..ps49 (SHA512-CRYPT,
        20 messages each), INBOX selected, in IDLE, on a fresh server."""
        if not self.want_any("imap-idle"):
            return
        for i in range(runs):
            self.stop(server)
            self.start(server)
            r = self.gen(server, "imap-idle", "--port", server.imap_port,
                         "-n", self.idle_n, "-c", 100, "--hold", 1,
                         "--user", f"ps@{DOMAIN}", "--users",
                         servers.LOAD_SESSIONS, "--pass", PASSWORD,
                         row="imap-idle-10k")
            if "rss_kb" in r and r.get("sessions") == self.idle_n:
                self.add("imap-idle-10k", server, r["rss_kb"] / 1024, r)
                self.add("imap-idle-10k-pss", server, r["pss_kb"] / 1024)
                self.add("imap-idle-10k-per-session", server,
                         r["pss_kb_per_session"])
                log(f"  {server.name} IMAP idle run {i + 1}: "
                    f"{r['sessions']:.0f} sessions in IDLE (set up in "
                    f"{r['setup_secs']:.0f} s), RSS "
                    f"{r['rss_kb'] / 1024:.1f} MiB, PSS "
                    f"{r['pss_kb'] / 1024:.1f} MiB in "
                    f"{r['server_procs']:.0f} processes")
            time.sleep(1)

    # ---- the servers in turn ----

    def run_popgate(self, accounts):
        pg = servers.Popgate(self.root, self.build, accounts, self.sink_port,
                             self.args.set)
        self.fill_load_boxes(pg, ("py", "ps"))
        servers.chown_tree(pg.mail_dir)
        self.start(pg)
        log(f"popgate: SMTP 127.0.0.1:{pg.smtp_port}, POP3 "
            f"127.0.0.1:{pg.pop3_port}, IMAP 127.0.0.1:{pg.imap_port}, "
            f"dir {pg.dir}")
        self.smtp_rows(pg)
        self.milter_rows(pg)
        self.auth_rows(pg)
        self.pop3_rows(pg)
        self.imap_rows(pg)
        self.idle_rows(pg, self.runs)
        self.data_rows(pg, self.runs)
        self.imap_idle_rows(pg, self.runs)
        self.stop(pg)
        self.sign_notes(pg)
        errors = pg.log_errors()
        if errors:
            self.notes.append(f"popgate logged {len(errors)} warning/error "
                              f"lines; the first ones:")
            self.notes += [f"  {line}" for line in errors[:10]]

    def sign_notes(self, pg):
        """What the log says of signing in the relay rows: the signed
        domain must never be unsigned, the other always."""
        if not (self.want_any("relay-1k-c50") or self.want("dkim-cost")):
            return
        counts = {DOMAIN: 0, servers.NOKEY_DOMAIN: 0}
        with open(pg.log_path, errors="replace") as f:
            for line in f:
                m = re.search(r" dkim unsigned d=(\S+)", line)
                if m and m.group(1) in counts:
                    counts[m.group(1)] += 1
        self.notes.append(f"relay rows: the log has {counts[DOMAIN]} "
                          f"'dkim unsigned d={DOMAIN}' (signed rows) and "
                          f"{counts[servers.NOKEY_DOMAIN]} 'dkim unsigned "
                          f"d={servers.NOKEY_DOMAIN}' (the -nosign row)")
        if counts[DOMAIN]:
            self.failures.append(f"{DOMAIN} relayed unsigned "
                                 f"{counts[DOMAIN]} times")

    def run_postfix(self, accounts):
        if not (self.want_any("local") or self.want_any("relay") or
                self.want_any("idle") or self.want("milter-cost")):
            return
        pf = servers.Postfix(self.root, accounts, self.sink_port,
                             self.idle_n)
        self.start(pf)
        log(f"Postfix: SMTP 127.0.0.1:{pf.smtp_port}, dir {pf.dir}")
        self.smtp_rows(pf)
        self.milter_rows(pf)
        # One run: Postfix forks an smtpd per session, ~2 min for 10 000.
        self.idle_rows(pf, 1)
        self.stop(pf)

    def run_dovecot(self, accounts):
        protocols = [p for p in ("pop3", "imap") if self.want_any(p)]
        if not protocols:
            return
        dc = servers.Dovecot(self.root, accounts, protocols)
        self.fill_load_boxes(dc, ("py", "ps", "pl"))
        servers.chown_tree(dc.mail_dir)
        self.start(dc)
        log(f"Dovecot: POP3 127.0.0.1:{dc.pop3_port}, IMAP "
            f"127.0.0.1:{dc.imap_port} ({' '.join(protocols)}), dir "
            f"{dc.dir}")
        self.pop3_rows(dc)
        self.imap_rows(dc)
        if self.want_any("imap-idle"):
            dc.configure(many=True)
            self.imap_idle_rows(dc, self.runs)
        self.stop(dc)
        errors = dc.log_errors()
        if errors:
            self.notes.append(f"Dovecot logged {len(errors)} kinds of "
                              f"warnings or errors; the first ones:")
            self.notes += [f"  {line}" for line in errors[:10]]

    def fsync_ref(self):
        if not (self.want_any("fsync-ref") or
                self.want_any("durable-vs-fsync")):
            return
        for i in range(self.runs):
            r = self.gen(None, "fsync", "--dir",
                         os.path.join(self.root, "fsync-ref"),
                         "--duration", self.secs)
            if "rate" in r:
                self.add("fsync-ref", "popgate", r["rate"], r)
                log(f"  fsync reference run {i + 1}: {r['rate']:.0f}/s")

    def run(self):
        built = datetime.datetime.fromtimestamp(
            os.path.getmtime(os.path.join(self.build, "popgate")),
            datetime.timezone.utc)
        self.version = (f"{source_version()}; binary built "
                        f"{built:%Y-%m-%d %H:%M:%S} UTC")
        self.root = tempfile.mkdtemp(dir="/tmp", prefix="pgbench-")
        os.chmod(self.root, 0o755)
        self.sink_port, = servers.free_ports(1)
        log(f"bench: {self.runs} run(s) per row, {self.secs:.0f} s each; "
            f"working in {self.root}")
        self.fsync_ref()
        # The rows of the main table, when any is wanted; the scale rows
        # (bench/scale.py) have servers of their own.
        if any(self.want(rid) for rid in self.order):
            accounts = servers.Accounts(["m1k", "m10k", "r1k"])
            self.run_popgate(accounts)
            if self.args.compare:
                self.run_postfix(accounts)
                self.run_dovecot(accounts)
        self.scale.run()
        self.derived()

    def derived(self):
        pg = self.rows["local-1k-c50"].values.get("popgate")
        ref = self.rows["fsync-ref"].values.get("popgate")
        if pg and ref:
            self.rows["durable-vs-fsync"].values["popgate"] = [
                v / statistics.median(ref) for v in pg]
        # Each run with the filter against the median without it.
        for name, plain in self.rows["local-1k-c50"].values.items():
            filtered = self.rows["local-1k-c50-milter"].values.get(name)
            if plain and filtered:
                self.rows["milter-cost"].values[name] = [
                    100 * (1 - v / statistics.median(plain))
                    for v in filtered]
        # The same for the inbound checks and for signing (popgate only).
        for cost, with_, without in (
                ("auth-cost", "local-1k-c50-auth", "local-1k-c50"),
                ("auth-checks-cost", "local-1k-c50-auth",
                 "local-1k-c50-noauth"),
                ("dkim-cost", "relay-1k-c50", "relay-1k-c50-nosign")):
            plain = self.rows[without].values.get("popgate")
            paid = self.rows[with_].values.get("popgate")
            if plain and paid:
                self.rows[cost].values["popgate"] = [
                    100 * (1 - v / statistics.median(plain)) for v in paid]

    def cleanup(self):
        # A second Ctrl-C must not leave servers behind.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for server in list(self.running):
            try:
                self.stop(server)
            except Exception as e:      # keep cleaning up
                log(f"bench: stopping {server.name}: {e}")
        if self.root and not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- the table ----

    def table(self):
        compare = self.args.compare
        head = ["row", "unit", "better", "popgate"]
        if compare:
            head += ["peer", "peer value", "popgate/peer"]
        head += ["goal", "met", "bg%"]
        lines = []
        for rid in self.order:
            row = self.rows[rid]
            if not self.want(rid) and not row.values:
                continue
            if not compare and (rid.startswith("pop3-load-yescrypt-vs") or
                                rid.startswith("imap-login-c50-vs")):
                continue        # the same popgate runs as another row
            pv = row.values.get("popgate")
            peer = {"smtp": "Postfix", "pop3": "Dovecot",
                    "imap": "Dovecot"}.get(row.kind)
            qv = row.values.get(peer) if peer else None
            pm = statistics.median(pv) if pv else None
            qm = statistics.median(qv) if qv else None
            cells = [row.title, row.unit, row.better, fmt_range(pv)]
            if compare:
                ratio = f"{pm / qm:.2f}" if pm and qm else ""
                cells += [peer or "", fmt_range(qv), ratio]
            met = ""
            if row.check is not None:
                ok = None
                try:
                    ok = row.check(pm, qm)
                except (TypeError, ZeroDivisionError):
                    pass
                met = "" if ok is None else ("yes" if ok else "NO")
            cells += [row.goal if (compare or row.kind is None or
                                   "x" not in row.goal) else "", met,
                      f"{max(row.other):.0f}" if row.other else ""]
            lines.append(cells)
        widths = [max(len(c[i]) for c in lines + [head])
                  for i in range(len(head))]
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
               "  ".join("-" * w for w in widths)]
        for cells in lines:
            out.append("  ".join(c.ljust(w) if i < 3 or
                                 head[i] in ("peer", "goal", "met")
                                 else c.rjust(w) for i, (c, w) in
                                 enumerate(zip(cells, widths))).rstrip())
        return "\n".join(out)

    def report(self, elapsed):
        now = datetime.datetime.now(datetime.timezone.utc)
        what = ("popgate vs Postfix (SMTP rows) and Dovecot (POP3 and IMAP "
                "rows)"
                if self.args.compare else "popgate alone")
        cmd = (f"make B={self.args.build} "
               f"{'bench-compare' if self.args.compare else 'bench'}"
               f"{' BENCH_QUICK=1' if self.quick else ''}"
               f"{' BENCH_ROWS=' + repr(self.args.rows) if self.args.rows else ''}")
        text = [f"popgate benchmark, {what}",
                f"date: {now:%Y-%m-%d %H:%M} UTC; took {elapsed / 60:.1f} min",
                f"machine: {machine()}",
                f"popgate: {self.version}"
                f"{'; with ' + ', '.join(self.args.set) if self.args.set else ''}",
                f"command: {cmd}",
                f"cells: median [min-max] of {self.runs} run(s); SMTP and "
                f"login runs last {self.secs:.0f} s, idle: "
                f"{self.idle_n} sessions",
                f"other processes on the machine during the runs: "
                f"{other_load(self.other_cpu)}; bg% = the most in a run "
                f"of the row",
                ""]
        if any(self.want(rid) or self.rows[rid].values
               for rid in self.order):
            text += [self.table(), ""]
        big = self.scale.table()
        if big:
            text += ["costs that stay flat as the work grows (popgate "
                     "alone; growth = large / 1x; bench/README.md):", big,
                     ""]
        text.pop()
        if self.failures:
            text += ["", "failed runs (exit status 1 = some message or "
                     "session failed, or a timeout):"]
            text += [f"  {f}" for f in self.failures]
        if self.notes:
            text += ["", "notes:"] + [f"  {n}" for n in self.notes]
        return "\n".join(text) + "\n"


def ms_list(v):
    """A generator's list of times "1.5,2.25" as floats."""
    return [float(x) for x in str(v or "").split(",") if x]


def other_load(vals):
    if not vals:
        return "not measured"
    return (f"mean {statistics.mean(vals):.0f}%, max {max(vals):.0f}% of "
            f"the CPUs (0% = the servers and pgbench had the machine)")


def source_version():
    """The commit popgate was built from, and whether src/ had changes
    not committed (the build is made from the working tree)."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", top, "log", "-1",
                               "--format=%h %cd", "--date=iso"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", top, "status", "--porcelain",
                                "--", "src"], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return "unknown commit"
    return (f"source tree at commit {head or '?'}"
            f"{', with uncommitted changes in src/' if dirty else ''}")


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = "?"
    try:
        out = subprocess.run(["df", "-T", "/tmp"], capture_output=True,
                             text=True).stdout.splitlines()[-1].split()
        fs = f"{out[1]} on {out[0]}"
    except (OSError, IndexError):
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Linux "
            f"{platform.release()}, /tmp: {fs}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", default="")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--set", action="append", default=[],
                    metavar="'KEY = VALUE'")
    args = ap.parse_args()
    bench = Bench(args)

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    # Also when started with SIGINT ignored (in the background).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    t0 = time.monotonic()
    try:
        bench.run()
    except KeyboardInterrupt:
        log("bench: interrupted; cleaning up")
        bench.cleanup()
        return 130
    except Exception:
        bench.cleanup()
        raise
    bench.cleanup()
    text = bench.report(time.monotonic() - t0)
    print(text, end="")
    name = "results.txt" if args.compare else "results-popgate.txt"
    path = os.path.join(bench.build, "bench", name)
    with open(path, "w") as f:
        f.write(text)
    log(f"bench: table written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
