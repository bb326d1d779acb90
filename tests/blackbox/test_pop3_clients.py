"""Real POP3 clients against popgate: poplib, curl (the issue's "Checked
by": a message sent with swaks is printed by curl) and fetchmail."""
import os
import shutil
import subprocess

import pytest

from pop3_helpers import (PASS, USER, POP3From, message, message_files,
                          put_file, relay_for, start_pop3)

needs = pytest.mark.skipif


@pytest.fixture
def pop3(make_instance):
    return start_pop3(make_instance)


def swaks(inst, subject, body):
    p = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{inst.ports['smtp']}",
         "--from", "bob@example.org", "--to", USER,
         "--header", f"Subject: {subject}", "--body", body],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def curl(*args):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "20", *args],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


@needs(shutil.which("swaks") is None or shutil.which("curl") is None,
       reason="swaks or curl missing")
def test_swaks_then_curl(pop3):
    swaks(pop3, "Hello from swaks", "Line one\n.dotted line\nthe end")
    port = pop3.ports["pop3"]
    url = f"pop3://ann%40acme.test:{PASS}@127.0.0.1:{port}"
    listing = curl(f"{url}/").decode()
    [line] = listing.splitlines()
    n, size = line.split()
    assert n == "1"
    out = curl(f"{url}/1")
    assert b"Subject: Hello from swaks" in out
    assert b"\r\n.dotted line\r\n" in out        # unstuffed by curl
    assert len(out) == int(size)
    # Over STLS and over pop3s too.
    assert curl("--ssl-reqd", "-k", f"{url}/1") == out
    assert curl("-k", f"pop3s://ann%40acme.test:{PASS}@127.0.0.1:"
                f"{pop3.ports['pop3s']}/1") == out
    # curl read it; nothing was deleted.
    assert curl(f"{url}/") == listing.encode()


def test_poplib_session(pop3):
    put_file(pop3, message("one"))
    put_file(pop3, message("two", body=".\n..\nend\n"))
    p = POP3From("127.0.0.1", pop3.ports["pop3"], "127.0.0.5")
    try:
        assert p.getwelcome() == b"+OK popgate POP3 ready"
        caps = p.capa()
        assert "TOP" in caps and "UIDL" in caps and "USER" in caps
        p.user(USER)
        p.pass_(PASS)
        count, total = p.stat()
        assert count == 2
        resp, lines, octets = p.list()
        sizes = [int(l.split()[1]) for l in lines]
        assert sum(sizes) == total
        for i in (1, 2):
            resp, msg, octets = p.retr(i)
            # The lines poplib returns (unstuffed, CRLF off) add up to
            # the size LIST gave.
            assert sum(len(l) + 2 for l in msg) == sizes[i - 1]
            assert resp == f"+OK {sizes[i - 1]} octets".encode()
        resp, msg, _ = p.retr(2)
        assert msg[-3:] == [b".", b"..", b"end"]
        resp, msg, _ = p.top(2, 0)
        assert msg[-1] == b""
        assert len(p.uidl()[1]) == 2
        p.dele(1)
        assert p.stat()[0] == 1
        p.rset()
        p.dele(2)
        p.quit()
    finally:
        p.close()
    assert len(message_files(pop3)) == 1
    assert relay_for(pop3, "127.0.0.5")[0]["mailbox"] == USER


@needs(shutil.which("fetchmail") is None, reason="fetchmail missing")
@pytest.mark.parametrize("mode", ["pop3", "stls", "pop3s"])
def test_fetchmail(pop3, tmp_path, mode):
    """fetchmail fetches and deletes every message; it works with no
    terminal and no ~/.fetchmailrc: the password comes from a 0600 rc
    file given with -f."""
    put_file(pop3, message("for fetchmail", body=".leading\nbody\n"))
    put_file(pop3, message("second"))
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll 127.0.0.1 password "{PASS}"\n')
    rc.chmod(0o600)
    out = tmp_path / "mbox"
    port = pop3.ports["pop3s" if mode == "pop3s" else "pop3"]
    args = ["fetchmail", "--nosyslog", "--nodetach", "--nokeep",
            "-f", str(rc), "-i", str(tmp_path / "ids"),
            "--pidfile", str(tmp_path / "pid"),
            "-p", "POP3", "-P", str(port), "-u", USER,
            "--mda", f"cat >> {out}", "-t", "20"]
    if mode == "pop3":
        args += ["--sslproto", ""]
    elif mode == "stls":
        args += ["--sslproto", "auto", "--nosslcertck"]
    else:
        args += ["--ssl", "--nosslcertck"]
    env = {**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME":
           str(tmp_path)}
    p = subprocess.run(args + ["127.0.0.1"], capture_output=True,
                       text=True, env=env, timeout=60, stdin=
                       subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    text = out.read_text()
    assert text.count("Subject: ") == 2
    assert "Subject: for fetchmail" in text
    assert "\n.leading\nbody\n" in text
    assert message_files(pop3) == []
    # Nothing left: fetchmail exits 1 ("no mail").
    p = subprocess.run(args + ["127.0.0.1"], capture_output=True,
                       text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p.stdout + p.stderr
