"""test_security.py - threats of SECURITY.md that no other file covers as
directly: addresses that try to name paths outside their Maildir, and
client text that tries to forge log lines or terminal escapes."""
import os
import re

import pytest

from smtp_helpers import Client, body_message, finish, mx_instance


@pytest.fixture(scope="module")
def mx(tls_files):
    inst = mx_instance(tls_files)
    # Mailboxes whose (quoted) local parts look like paths.
    for local in ['"../../escape"', '".hidden"', '"a/b"', '"%2e%2e"']:
        inst.setup_mailbox(f"{local}@acme.test", "pw-pw-pw",
                           customer="acme")
    yield inst
    finish(inst)


def files_under(top):
    out = set()
    for d, _, names in os.walk(top):
        for n in names:
            out.add(os.path.join(d, n))
    return out


@pytest.mark.parametrize("local", ['"../../escape"', '".hidden"', '"a/b"',
                                   '"%2e%2e"'])
def test_local_parts_stay_inside_their_maildir(mx, local):
    """Mail for a local part with '/', '..', a leading dot or '%' is
    stored below mail_dir/acme.test/, in a directory of its own, never
    above it or in another mailbox's."""
    outside_before = files_under(mx.data_dir) - files_under(mx.mail_dir)
    with Client(mx.ports["smtp"]) as c:
        c.ehlo()
        r = c.transaction("a@example.org", [f"{local}@acme.test"],
                          body_message("path-" + local))
        assert r.startswith("250 2.0.0"), r
        c.quit()
    dom = os.path.join(mx.mail_dir, "acme.test")
    boxes = [d for d in os.listdir(dom)
             if os.path.isdir(os.path.join(dom, d, "new"))]
    mine = [d for d in boxes
            if any(b"path-" + local.encode() in open(
                os.path.join(dom, d, "new", f), "rb").read()
                for f in os.listdir(os.path.join(dom, d, "new")))]
    assert len(mine) == 1, (boxes, mine)
    name = mine[0]
    assert "/" not in name and not name.startswith(".") and ".." != name
    # Nothing new outside mail_dir (the queue and the stores aside).
    outside_after = files_under(mx.data_dir) - files_under(mx.mail_dir)
    new = {p for p in outside_after - outside_before
           if "/queue/" not in p and not p.endswith(("-wal", "-shm",
                                                      ".db", "control"))}
    assert not new, new
    assert not os.path.exists(os.path.join(os.path.dirname(mx.mail_dir),
                                           "escape"))


@pytest.fixture(scope="module")
def debug_mx(tls_files):
    """With `debug = yes` every command line a client sends is logged:
    the most client text that reaches the log."""
    inst = mx_instance(tls_files, config={"debug": "yes"})
    yield inst
    finish(inst)


@pytest.mark.parametrize("line, marker", [
    (b"EHLO evil\x1b[2Jx", b"evil"),
    (b"MAIL FROM:<a@example.org> X=\x1b]0;pwned\x07", b"pwned"),
    (b"HELO a\x00b", b"HELO a"),
    (b"XEVIL " + "\u202e".encode() + b" popgate[1]: forged", b"XEVIL"),
    (b"RCPT TO:<\"x\rforged\"@acme.test>", None),
])
def test_client_text_cannot_forge_log_lines(debug_mx, line, marker):
    """Whatever a client sends, serve.log gets one escaped line per
    event: no terminal escapes, no NUL, no CR or LF of the client's, no
    raw non-ASCII; the client's text shows, escaped, inside its line."""
    mx = debug_mx
    before = os.path.getsize(mx.log_path)
    with Client(mx.ports["smtp"]) as c:
        c.ehlo()
        c.send(line + b"\r\n")
        c.reply()
        c.quit()
    with open(mx.log_path, "rb") as f:
        f.seek(before)
        new = f.read()
    for bad in (b"\x1b", b"\x00", b"\x07", b"\r", "\u202e".encode()):
        assert bad not in new, (bad, new)
    lines = new.split(b"\n")[:-1]
    for ln in lines:
        # Every line is popgate's: its timestamp, its name, a session.
        assert re.match(rb"\d{4}-\d\d-\d\dT[\d:.]+Z popgate\[\d+\]: "
                        rb"(debug: )?sess=", ln), ln
    if marker is not None:
        assert any(marker in ln for ln in lines), new
