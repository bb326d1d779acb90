"""The plain pages of the HTTP listeners (SPEC 12, issue 18 points 5 and
7) against a real `popgate serve`: /metrics (promtool, counters that move
with the traffic, metrics_networks), the help page and the client
autoconfiguration served from the live configuration (a reload changes
the next answer). One server for the file."""
import os
import plistlib
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest

import harness
from test_web import OUTLOOK_SCHEMA, Page, request

TIMEOUT = 20
MAIL_ROLES = {"smtp": "smtp", "submission": "submission",
              "submissions": "submissions", "pop3": "pop3",
              "pop3s": "pop3s", "imap": "imap", "imaps": "imaps"}
IMPLICIT = {"submissions", "pop3s", "imaps"}


@pytest.fixture(scope="module")
def inst(tls_files):
    i = harness.Instance(listeners=dict(MAIL_ROLES, http="http"),
                         config={"help_title": "Acme Hosting mail"},
                         tls=tls_files)
    i.start()
    i.cli("customer", "add", "acme", check=True)
    i.cli("domain", "add", "acme.test", "--customer", "acme", check=True)
    i.cli("mailbox", "add", "ann@acme.test", input="s3cret\ns3cret\n",
          check=True)
    yield i
    try:
        if i.running:
            i.stop()
    finally:
        i.cleanup()


def get(inst, path, data=None, method=None):
    """(status, headers, body bytes)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{inst.ports['http']}{path}", data=data,
        method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def reload(inst, **kv):
    since = len(inst.log().encode())
    inst.config_overrides.update(kv)
    inst.write_config()
    p = inst.cli("reload")
    assert p.returncode == 0, p.stdout + p.stderr
    deadline = time.monotonic() + TIMEOUT
    while not re.search(r"reload done", inst.log()[since:]):
        assert time.monotonic() < deadline, "no 'reload done' in the log"
        time.sleep(0.05)


# ---- /metrics ----

def scrape(inst):
    st, h, body = get(inst, "/metrics")
    assert st == 200, body
    assert h["Content-Type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def value(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) \
            if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0.0


def test_metrics_pass_promtool(inst):
    text = scrape(inst)
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "popgate_build_info" in text


def test_metrics_move_with_the_traffic(inst):
    before = scrape(inst)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                      timeout=TIMEOUT) as s:
        s.sendmail("x@sender.example", ["ann@acme.test"],
                   b"Subject: hi\r\n\r\nhello\r\n")
    after = scrape(inst)
    n = "popgate_smtp_messages_total"
    assert value(after, n, result="accepted") == \
        value(before, n, result="accepted") + 1
    s = "popgate_sessions_total"
    assert value(after, s, listener="smtp") == \
        value(before, s, listener="smtp") + 1


def test_metrics_only_from_metrics_networks(inst):
    try:
        reload(inst, metrics_networks="192.0.2.0/24")
        st, h, body = get(inst, "/metrics")
        assert st == 403
        assert b"metrics_networks" in body
        # the other pages are for everyone
        assert get(inst, "/help")[0] == 200
    finally:
        del inst.config_overrides["metrics_networks"]
        reload(inst)
    assert get(inst, "/metrics")[0] == 200


# ---- the help page ----

def help_page(inst):
    st, h, body = get(inst, "/help")
    assert st == 200
    assert h["Content-Type"] == "text/html; charset=utf-8"
    return Page(body.decode())


def test_help_page_names_exactly_the_mail_ports(inst):
    page = help_page(inst)
    got = {(int(r["data-port"]), r["data-role"], r["data-tls"])
           for r in page.rows}
    want = {(inst.ports[n], role,
             "implicit" if role in IMPLICIT else "starttls")
            for n, role in MAIL_ROLES.items()}
    assert got == want
    assert "Acme Hosting mail" in page.title


def test_help_page_follows_a_reload(inst):
    try:
        reload(inst, help_title="Mail at Example & Co")
        page = help_page(inst)
        assert "Mail at Example & Co" in page.title
    finally:
        reload(inst, help_title="Acme Hosting mail")
    assert "Acme Hosting mail" in help_page(inst).title


def test_head_and_wrong_method(inst):
    st, h, body = get(inst, "/help", method="HEAD")
    assert st == 200 and body == b""
    st, h, body = get(inst, "/help", data=b"x", method="POST")
    assert st == 405 and "GET" in h["Allow"]


# ---- client autoconfiguration ----

def incoming(root):
    prov = root.find("emailProvider")
    return [(s.get("type"), int(s.find("port").text),
             s.find("socketType").text)
            for s in prov.findall("incomingServer")]


@pytest.mark.parametrize("path", [
    "/mail/config-v1.1.xml?emailaddress=ann%40acme.test",
    "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann@acme.test",
])
def test_mozilla_autoconfig(inst, path):
    st, h, body = get(inst, path)
    assert st == 200, body
    assert h["Content-Type"].startswith("application/xml")
    root = ET.fromstring(body)
    assert root.find("emailProvider").get("id") == "acme.test"
    p = inst.ports
    assert incoming(root) == [
        ("imap", p["imaps"], "SSL"), ("imap", p["imap"], "STARTTLS"),
        ("pop3", p["pop3s"], "SSL"), ("pop3", p["pop3"], "STARTTLS")]
    out = root.find("emailProvider").findall("outgoingServer")
    assert int(out[0].find("port").text) == p["submissions"]


def test_mozilla_autoconfig_bad_address(inst):
    st, h, body = get(inst, "/mail/config-v1.1.xml?emailaddress=no-at-sign")
    assert st == 400


@pytest.mark.parametrize("path", ["/autodiscover/autodiscover.xml",
                                  "/Autodiscover/Autodiscover.xml"])
def test_autodiscover(inst, path):
    st, h, body = get(inst, path, data=request("ann@acme.test").encode())
    assert st == 200, body
    ns = {"r": OUTLOOK_SCHEMA}
    root = ET.fromstring(body)
    ports = {pr.find("r:Type", ns).text: int(pr.find("r:Port", ns).text)
             for pr in root.iter(f"{{{OUTLOOK_SCHEMA}}}Protocol")}
    assert ports == {"IMAP": inst.ports["imaps"],
                     "POP3": inst.ports["pop3s"],
                     "SMTP": inst.ports["submissions"]}


def test_autodiscover_malformed_is_an_error_document(inst):
    st, h, body = get(inst, "/autodiscover/autodiscover.xml",
                      data=b"<Autodiscover><Request>")
    assert st == 200
    assert b"<ErrorCode>600</ErrorCode>" in body
    assert "http autodiscover refused" in inst.log()


def test_apple_profile(inst):
    st, h, body = get(inst, "/apple/popgate.mobileconfig"
                            "?emailaddress=ann@acme.test")
    assert st == 200, body
    assert h["Content-Type"] == "application/x-apple-aspen-config"
    # a download to install, under the route's name
    assert h.get_all("Content-Disposition") == [
        'attachment; filename="popgate.mobileconfig"']
    assert h.get_all("Content-Type") == ["application/x-apple-aspen-config"]
    prof = plistlib.loads(body)
    assert prof["PayloadType"] == "Configuration"
    ports = {p.get("IncomingMailServerPortNumber")
             for p in prof["PayloadContent"]}
    assert ports & {inst.ports["imaps"], inst.ports["pop3s"]}


def test_apple_profile_error_is_no_download(inst):
    st, h, body = get(inst, "/apple/popgate.mobileconfig"
                            "?emailaddress=no-at-sign")
    assert st == 400
    assert h.get("Content-Disposition") is None
    assert h["Content-Type"].startswith("text/plain")
    # the other pages are shown, not downloaded
    st, h, body = get(inst, "/help")
    assert st == 200 and h.get("Content-Disposition") is None
