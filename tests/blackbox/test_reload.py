"""Reload (SPEC 14, popgate(8) SIGNALS, popgate.conf(5) "Reload"): SIGHUP
and `popgate reload` reread the configuration and the TLS files without
dropping a session. New listeners accept (a port below 1024 too, as
root: bound by the privileged helper), removed ones close while their
sessions go on, changed limits apply to the next session and not to
the one in a DATA transfer, new certificates to the next handshake. A
configuration with errors is refused with FILE:LINE in the log and in
`popgate reload`'s output, and the daemon goes on as it was; a key that
needs a restart keeps its old value and says so."""
import http.client
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import tempfile

import pytest

import harness
from harness import der, make_cert
from delivery_helpers import wait_log

TIMEOUT = 10
root_only = pytest.mark.skipif(not harness.IS_ROOT, reason="needs root")


def reload_cli(inst):
    return inst.cli("reload")


def sighup_and_wait(inst):
    """SIGHUP; the log line that says how it went."""
    since = len(inst.log().encode())
    inst.send_signal(signal.SIGHUP)
    return wait_log(inst, r"reload (done|refused)", since=since)


def set_config(inst, **kv):
    inst.config_overrides.update(kv)
    inst.write_config()


def add_listener(inst, name, role, port=None):
    inst.listeners[name] = role
    inst.ports[name] = port if port is not None else harness.free_ports(1)[0]
    inst.write_config()
    return inst.ports[name]


def remove_listener(inst, name):
    del inst.listeners[name]
    port = inst.ports.pop(name)
    inst.write_config()
    return port


def ehlo_size(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as s:
        s.ehlo("client.example")
        return int(s.esmtp_features["size"])


class Raw:
    """A line-by-line SMTP client on a plain socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=TIMEOUT)
        self.f = self.sock.makefile("rb")
        self.reply()

    def reply(self):
        lines = []
        while True:
            l = self.f.readline().decode()
            assert l, "connection closed"
            lines.append(l.rstrip("\r\n"))
            if l[3:4] != "-":
                return "\n".join(lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.f.close()
        self.sock.close()


@pytest.fixture
def server(make_instance):
    inst = make_instance(start=False)
    inst.setup_mailbox("ann@acme.test", "s3cret")
    inst.start()
    return inst


def test_sighup_during_data_new_limit_and_listener(server):
    old = ehlo_size(server.ports["smtp"])
    c = Raw(server.ports["smtp"])
    assert c.cmd("EHLO client.example").startswith("250")
    assert c.cmd("MAIL FROM:<x@example.net>").startswith("250")
    assert c.cmd("RCPT TO:<ann@acme.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    body = b"Subject: during reload\r\n\r\n" + b"x" * 70 + b"\r\n"
    c.sock.sendall(body * 50)            # ~3.6 KB so far
    port = add_listener(server, "smtp_new", "smtp")
    set_config(server, max_message_size="2K", relay_max_message_size="2K")
    assert "reload done" in sighup_and_wait(server)
    c.sock.sendall(body * 50 + b".\r\n")  # ~7 KB: over the new limit
    assert c.reply().startswith("250"), "the transfer in progress " \
        "must keep the limit it started with"
    assert c.cmd("QUIT").startswith("221")
    c.close()
    assert ehlo_size(server.ports["smtp"]) == 2048 != old
    assert ehlo_size(port) == 2048
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as s:
        s.ehlo("client.example")
        code, msg = s.docmd("MAIL FROM:<x@example.net> SIZE=7000")
        assert code == 552 and b"5.3.4" in msg, (code, msg)
    md = server.maildir("ann@acme.test")
    msgs = os.listdir(os.path.join(md, "new")) + \
        os.listdir(os.path.join(md, "cur"))
    assert len(msgs) == 1, msgs
    server.stop()


def test_removed_listener_closes_its_session_goes_on(server):
    c = Raw(server.ports["smtp2"])
    assert c.cmd("EHLO client.example").startswith("250")
    port = remove_listener(server, "smtp2")
    out = reload_cli(server)
    assert out.returncode == 0 and "reloaded" in out.stdout, out
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # The session of the closed listener still works.
    assert c.cmd("MAIL FROM:<x@example.net>").startswith("250")
    assert c.cmd("RCPT TO:<ann@acme.test>").startswith("250")
    assert c.cmd("QUIT").startswith("221")
    c.close()
    assert harness.port_is_free(port)
    server.stop()


def test_broken_config_is_refused_and_the_old_one_kept(server):
    good = open(server.conf_path).read()
    with open(server.conf_path, "a") as f:
        f.write("max_message_size = lots\nno_such_key = 1\n")
    n = good.count("\n")
    # popgate reload reads the file first, and does not ask the daemon.
    out = reload_cli(server)
    assert out.returncode == 1, out
    assert f"popgate.conf:{n + 1}:" in out.stderr, out.stderr
    assert f"popgate.conf:{n + 2}:" in out.stderr, out.stderr
    assert "keeps the one it has" in out.stderr
    # SIGHUP: the daemon reads it, logs every error, and serves on with
    # its old limit.
    since = len(server.log().encode())
    assert "reload refused" in sighup_and_wait(server)
    log = server.log(since)
    assert re.search(r"reload: .*popgate.conf:%d: " % (n + 1), log), log
    assert re.search(r"reload: .*popgate.conf:%d: " % (n + 2), log), log
    assert "reload refused: the configuration in use is kept" in log
    assert ehlo_size(server.ports["smtp"]) == 50 * 1024 * 1024
    server.stop()


def test_missing_tls_file_refuses_the_reload(server):
    set_config(server, tls_cert="/nonexistent/cert.pem")
    out = reload_cli(server)
    assert out.returncode == 1, out
    assert "/nonexistent/cert.pem: cannot open" in out.stderr, out.stderr
    assert "refused the new configuration" in out.stderr, out.stderr
    # TLS still works with the old certificate.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", server.ports["pop3s"]),
                                  timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw) as t:
            assert t.recv(100).startswith(b"+OK")
    server.stop()


def test_restart_keys_keep_their_value_and_say_so(server):
    set_config(server, auth_max_failures="3", max_errors="4")
    out = reload_cli(server)
    assert out.returncode == 0, out
    assert "auth_max_failures: the file now says '3'; the running " \
        "daemon keeps '10' until it restarts" in out.stdout, out.stdout
    assert "max_errors" not in out.stdout
    wait_log(server, r"reload: auth_max_failures: .* until it restarts")
    server.stop()


def test_reload_without_a_daemon(instance):
    out = instance.cli("reload")
    assert out.returncode == 1
    assert "no daemon is running for data_dir" in out.stderr, out.stderr


def served_cert(port, sni=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as r:
        with ctx.wrap_socket(r, server_hostname=sni) as t:
            return t.getpeercert(binary_form=True)


def test_certificates_renewed_in_place_and_added_by_sni(server):
    """What a certbot deploy hook does: new files at the same paths (the
    key root's only, 0600), then a reload. A session open across the
    reload keeps its connection; new handshakes get the new
    certificate."""
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-reload-")
    os.chmod(d, 0o700)
    try:
        port = server.ports["imaps"]
        before = served_cert(port)
        cert = os.path.join(server.data_dir, "tls", "cert.pem")
        key = os.path.join(server.data_dir, "tls", "key.pem")
        assert before == der(cert)
        c = Raw(server.ports["smtp"])
        new_cert, new_key = make_cert(d, "renewed", "mail.test.example")
        shutil.copyfile(new_cert, cert)
        shutil.copyfile(new_key, key)
        os.chmod(key, 0o600)
        os.chown(key, 0, 0)
        host_cert, host_key = make_cert(d, "cust", "mail.customer.example")
        server.extra_lines.append(
            f"tls_host = mail.customer.example {host_cert} {host_key}")
        server.write_config()
        out = reload_cli(server)
        assert out.returncode == 0, out
        assert served_cert(port) == der(new_cert) != before
        assert served_cert(port, "mail.customer.example") == der(host_cert)
        assert c.cmd("NOOP").startswith("250")
        c.close()
        wait_log(server, r"reload done .*tls_hosts=1")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    server.stop()


def low_free_port():
    for port in range(989, 600, -1):
        if harness.port_is_free(port):
            return port
    pytest.skip("no free port below 1024")


@root_only
def test_privileged_port_added_by_reload(server):
    """The daemon runs as `user` and cannot bind below 1024: the
    privileged helper does it for the reload. A port the configuration
    does not name it never binds (checked through the reload: the
    helper only answers the daemon)."""
    port = add_listener(server, "low", "smtp", port=low_free_port())
    out = reload_cli(server)
    assert out.returncode == 0, out
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as s:
        assert s.ehlo("client.example")[0] == 250
    server.stop()


def comm(pid):
    """/proc/PID/comm, or None for a process gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def children(ppid):
    """The pids whose parent is PPID (processes that go meanwhile are
    left out)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == str(ppid):
                    out.append(p)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


@root_only
def unix_socket_inodes():
    with open("/proc/net/unix") as f:
        next(f)
        return {line.split()[6] for line in f if len(line.split()) > 6}


def test_privileged_helper_holds_nothing_of_the_network(server):
    """The helper stays root, so it holds nothing but its socket to the
    daemon, its socket to popgate-keys, the key files in use (for a
    restart of popgate-keys) and the pidfd of popgate-lookup (its child:
    to see it end): no listener, no other file, no lock."""
    # The daemon's child popgate-priv, and popgate-keys below it.
    helpers = [p for p in children(server.pid)
               if comm(p) == "popgate-priv"]
    assert len(helpers) == 1, helpers
    pid = helpers[0]
    key = os.path.realpath(server.config["tls_key"])
    fds = sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
    assert fds[:4] == [0, 1, 2, 3], fds
    targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds[3:]]
    sockets = [t for t in targets if t.startswith("socket:")]
    assert len(sockets) == 2, targets
    assert os.readlink(f"/proc/{pid}/fd/3").startswith("socket:")
    # Unix sockets (the two pairs), not a listener of the network.
    unix = unix_socket_inodes()
    assert all(t[len("socket:["):-1] in unix for t in sockets), targets
    assert targets.count("anon_inode:[pidfd]") == 1, targets
    assert [t for t in targets if not t.startswith("socket:") and
            t != "anon_inode:[pidfd]"] == [key], targets
    server.stop()
    # It goes with the daemon.
    assert not os.path.exists(f"/proc/{pid}/status") or \
        "State:\tZ" in open(f"/proc/{pid}/status").read()


# ---- the HTTP listeners (evhttp's) follow a reload as the others do ----

def http_conn(port, tls=False):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", port,
                                           timeout=TIMEOUT, context=ctx)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)


def http_get(port, path="/help", tls=False):
    """(status, body) of one request on its own connection."""
    c = http_conn(port, tls)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def reload_ok(inst):
    out = reload_cli(inst)
    assert out.returncode == 0 and "reloaded" in out.stdout, out


def test_http_listeners_added_and_removed_by_reload(server):
    http_port = add_listener(server, "http", "http")
    https_port = add_listener(server, "https", "https")
    assert harness.port_is_free(http_port)
    reload_ok(server)
    wait_log(server, r"reload done .*added=2 closed=0")
    assert http_get(http_port)[0] == 200
    assert http_get(https_port, tls=True)[0] == 200
    # a kept-alive connection across the removal goes on
    c = http_conn(http_port)
    c.request("GET", "/help")
    assert c.getresponse().read()
    remove_listener(server, "http")
    reload_ok(server)
    wait_log(server, r"reload done .*added=0 closed=1")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", http_port), timeout=2).close()
    assert harness.port_is_free(http_port)
    c.request("GET", "/help")
    r = c.getresponse()
    assert r.status == 200 and b"<html" in r.read().lower()
    c.close()
    # the other one was kept, as it was
    assert http_get(https_port, tls=True)[0] == 200
    server.stop()


def test_a_port_changes_role_between_http_and_mail(server):
    port = add_listener(server, "web", "http")
    reload_ok(server)
    assert http_get(port)[0] == 200
    # the same address now https, then smtp, then http again: never
    # closed in between (no "cannot listen": the socket is handed over)
    server.listeners["web"] = "https"
    server.write_config()
    reload_ok(server)
    assert http_get(port, tls=True)[0] == 200
    server.listeners["web"] = "smtp"
    server.write_config()
    reload_ok(server)
    assert ehlo_size(port) > 0
    server.listeners["web"] = "http"
    server.write_config()
    reload_ok(server)
    assert http_get(port)[0] == 200
    server.stop()


def test_help_page_follows_a_port_change(server):
    web = add_listener(server, "http", "http")
    reload_ok(server)
    old = server.ports["submission"]
    st, body = http_get(web)
    assert st == 200 and f'data-port="{old}"'.encode() in body
    new = harness.free_ports(1)[0]
    server.ports["submission"] = new
    server.write_config()
    reload_ok(server)
    st, body = http_get(web)
    assert st == 200
    assert f'data-port="{new}"'.encode() in body
    assert f'data-port="{old}"'.encode() not in body
    with smtplib.SMTP("127.0.0.1", new, timeout=TIMEOUT) as s:
        assert s.ehlo("client.example")[0] == 250
    server.stop()
