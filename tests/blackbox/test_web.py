"""What customers and their mail programs are told (src/web/), through
the command line: `popgate help-page`, `popgate autoconfig` (Mozilla,
autodiscover, Apple) and `popgate domain dns`. The HTTP routes serve the
same generators; here each answer is parsed the way a browser or a mail
program would (html.parser, xml.etree, plistlib, a zone-line parser)
and held to the configuration it came from: change the file, run again,
the answer follows."""
import html.parser
import plistlib
import re
import xml.etree.ElementTree as ET

import pytest

import harness

AUTODISCOVER_REQ_NS = ("http://schemas.microsoft.com/exchange/"
                       "autodiscover/outlook/requestschema/2006")
OUTLOOK_SCHEMA = ("http://schemas.microsoft.com/exchange/autodiscover/"
                  "outlook/responseschema/2006a")
RESPONSE_NS = ("http://schemas.microsoft.com/exchange/autodiscover/"
               "responseschema/2006")
IMPLICIT = {"submissions", "pop3s", "imaps"}


class Page(html.parser.HTMLParser):
    """The parts of the help page a test reads: the port rows (their
    data- attributes), elements by id (attributes and text), the title,
    every tag, and the whole text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.ids, self.tags, self.text = [], {}, [], []
        self.title = ""
        self.stack = []
        self.feed(text)
        self.close()
        self.text = "".join(self.text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr" and "data-port" in a:
            self.rows.append(a)
        self.stack.append((tag, a.get("id")))
        if a.get("id"):
            self.ids[a["id"]] = {"attrs": a, "text": ""}

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        for t, i in self.stack:
            if i:
                self.ids[i]["text"] += data
        if self.stack and self.stack[-1][0] == "title":
            self.title += data


def help_page(inst):
    p = inst.cli("help-page", check=True)
    assert p.stderr == ""
    assert p.stdout.startswith("<!DOCTYPE html>")
    return Page(p.stdout)


def page_ports(page):
    return {(int(r["data-port"]), r["data-role"], r["data-tls"])
            for r in page.rows}


def configured_ports(inst):
    return {(inst.ports[name], role.split()[0],
             "implicit" if role.split()[0] in IMPLICIT else "starttls")
            for name, role in inst.listeners.items()}


# ---- the help page ----

def test_help_page_names_exactly_the_configured_ports(instance):
    page = help_page(instance)
    assert page_ports(page) == configured_ports(instance)
    assert len(page.rows) == len(instance.ports)
    # each port's number is in its row, as the customer reads it
    for port in instance.ports.values():
        assert re.search(rf"\b{port}\b", page.text)


def test_help_page_follows_the_config(instance):
    before = page_ports(help_page(instance))
    del instance.listeners["imap"]
    del instance.listeners["pop3"]
    del instance.ports["imap"]
    del instance.ports["pop3"]
    instance.listeners["submission2"] = "submission"
    instance.ports["submission2"] = max(instance.ports.values()) + 1
    instance.write_config()
    after = page_ports(help_page(instance))
    assert after == configured_ports(instance)
    assert after != before
    assert (instance.ports["submission2"], "submission", "starttls") in after
    assert not any(role in ("imap", "pop3") for _, role, _ in after)


def test_help_page_public_listeners_hide_loopback_ones(instance):
    """With listeners on public addresses, the loopback ones (the
    defaults' 127.0.0.1:2526 gate=connect) serve the host, not the
    customers: the page leaves them out; a port on two addresses is
    one row."""
    instance.listeners = {}
    instance.ports = {}
    instance.extra_lines = [
        "listen = 0.0.0.0:25 smtp", "listen = [::]:25 smtp",
        "listen = 0.0.0.0:2525 smtp", "listen = 0.0.0.0:587 submission",
        "listen = 0.0.0.0:465 submissions", "listen = 0.0.0.0:110 pop3",
        "listen = 0.0.0.0:995 pop3s", "listen = [::]:143 imap",
        "listen = 0.0.0.0:993 imaps",
        "listen = 127.0.0.1:2526 smtp gate=connect"]
    instance.write_config()
    page = help_page(instance)
    assert page_ports(page) == {
        (25, "smtp", "starttls"), (2525, "smtp", "starttls"),
        (587, "submission", "starttls"), (465, "submissions", "implicit"),
        (110, "pop3", "starttls"), (995, "pop3s", "implicit"),
        (143, "imap", "starttls"), (993, "imaps", "implicit")}
    assert "2526" not in page.text
    assert "if your ISP blocks port 25" in page.text


def test_help_page_limits_and_window(instance):
    instance.config_overrides.update({
        "relay_window": "45m", "relay_max_recipients": "7",
        "relay_max_messages_per_hour": "33",
        "relay_max_recipients_per_hour": "99",
        "relay_max_message_size": "3M", "max_message_size": "20M"})
    instance.write_config()
    page = help_page(instance)
    assert page.ids["relay-window"]["text"] == "45 minutes"
    assert page.ids["relay-window"]["attrs"]["data-seconds"] == "2700"
    assert "check your mail first" in page.text
    assert "you may then send for 45 minutes" in page.text
    want = {"limit-recipients": (7, "7 recipients per message"),
            "limit-messages-per-hour": (33, "33 messages per hour"),
            "limit-recipients-per-hour": (99, "99 recipients per hour"),
            "limit-message-size": (3 << 20, "3 MB"),
            "limit-inbound-size": (20 << 20, "20 MB")}
    for id_, (value, words) in want.items():
        assert int(page.ids[id_]["attrs"]["data-value"]) == value, id_
        assert words in " ".join(page.ids[id_]["text"].split()), id_
    # SMTP AUTH is the better way, with the submission ports
    auth = page.ids["smtp-auth"]["text"]
    assert "the better way" in auth
    for name in ("submission", "submissions"):
        assert str(instance.ports[name]) in page.text

    instance.config_overrides["relay_window"] = "2h"
    instance.write_config()
    assert help_page(instance).ids["relay-window"]["text"] == "2 hours"


def test_help_page_escapes_a_hostile_title(instance):
    title = "<script>alert(\"x\")</script> & <b onmouseover='y'>Co"
    company = "Acme</p><img src=x onerror=alert(1)> & Sons"
    instance.config_overrides.update({"help_title": title,
                                      "help_company": company})
    instance.write_config()
    p = instance.cli("help-page", check=True)
    page = Page(p.stdout)
    assert page.title == title
    assert company in page.text
    tags = {t for t, _ in page.tags}
    assert "script" not in tags and "img" not in tags and "b" not in tags
    assert not any("onmouseover" in a or "onerror" in a
                   for _, a in page.tags)
    assert "<script>" not in p.stdout


def test_help_page_is_self_contained(instance):
    instance.config_overrides["help_company"] = "Example Hosting"
    instance.write_config()
    page = help_page(instance)
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object"}
    for _, a in page.tags:
        for k in ("src", "href"):
            assert k not in a, a
    assert page.title == "Mail settings for mail.test.example"
    assert "Example Hosting" in page.text


# ---- Mozilla autoconfig ----

def mozilla(inst, email=None):
    args = ["autoconfig"] + ([email] if email is not None else [])
    p = inst.cli(*args, check=True)
    root = ET.fromstring(p.stdout)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    return root.find("emailProvider")


def servers(provider, tag):
    return [{c.tag: c.text for c in s} | {"type": s.get("type")}
            for s in provider.findall(tag)]


def test_mozilla_autoconfig_offers_the_configured_ports(instance):
    prov = mozilla(instance, "Ann@Acme.TEST")
    assert prov.get("id") == "acme.test"
    assert prov.find("domain").text == "acme.test"
    ports = instance.ports
    inc = servers(prov, "incomingServer")
    assert [(s["type"], int(s["port"]), s["socketType"]) for s in inc] == [
        ("imap", ports["imaps"], "SSL"), ("imap", ports["imap"], "STARTTLS"),
        ("pop3", ports["pop3s"], "SSL"), ("pop3", ports["pop3"], "STARTTLS")]
    out = servers(prov, "outgoingServer")
    # submission with AUTH first (implicit TLS before STARTTLS), then
    # the smtp ports for POP-before-SMTP
    assert [(int(s["port"]), s["socketType"], s["authentication"])
            for s in out][:2] == [
        (ports["submissions"], "SSL", "password-cleartext"),
        (ports["submission"], "STARTTLS", "password-cleartext")]
    smtp = {ports["smtp"], ports["smtp2"], ports["smtp_gate"]}
    assert {int(s["port"]) for s in out[2:]} == smtp
    assert all(s["authentication"] == "client-IP-address" for s in out[2:])
    for s in inc + out:
        assert s["hostname"] == "mail.test.example"
        assert s["socketType"] in ("SSL", "STARTTLS")     # never plain
        if s["authentication"] == "password-cleartext":
            assert s["username"] == "%EMAILADDRESS%"


def test_mozilla_autoconfig_follows_the_config(instance):
    instance.listeners = {"submission": "submission", "pop3s": "pop3s"}
    instance.ports = {k: instance.ports[k] for k in instance.listeners}
    instance.config_overrides["help_company"] = "Acme & Sons"
    instance.write_config()
    prov = mozilla(instance)
    assert prov.get("id") == "mail.test.example"     # no address given
    assert prov.find("displayName").text == "Acme & Sons"
    assert [(s["type"], int(s["port"])) for s in
            servers(prov, "incomingServer")] == [
        ("pop3", instance.ports["pop3s"])]
    assert [int(s["port"]) for s in servers(prov, "outgoingServer")] == [
        instance.ports["submission"]]


@pytest.mark.parametrize("email", ["not-an-address", "a@b@c", "<x>@y.test",
                                   "ann@[127.0.0.1]", "x" * 300 + "@a.test"])
def test_mozilla_autoconfig_refuses_a_bad_address(instance, email):
    p = instance.cli("autoconfig", email)
    assert p.returncode == 1
    assert p.stdout == ""
    assert "no mail address" in p.stderr


def test_autoconfig_bad_format(instance):
    p = instance.cli("autoconfig", "--format", "thunderbird")
    assert p.returncode == 1
    assert "bad --format 'thunderbird'" in p.stderr


# ---- Microsoft autodiscover ----

def request(email, schema=OUTLOOK_SCHEMA):
    s = (f"<AcceptableResponseSchema>{schema}</AcceptableResponseSchema>"
         if schema else "")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n'
            f'<Autodiscover xmlns="{AUTODISCOVER_REQ_NS}">\n<Request>\n'
            f"<EMailAddress>{email}</EMailAddress>\n{s}\n</Request>\n"
            f"</Autodiscover>\n")


def autodiscover(inst, body):
    p = inst.cli("autoconfig", "--format", "autodiscover", input=body)
    root = ET.fromstring(p.stdout)      # an answer, even to a refusal
    assert root.tag == f"{{{RESPONSE_NS}}}Autodiscover"
    return p, root


def test_autodiscover_answers_for_the_address(instance):
    p, root = autodiscover(instance, request("Ann@ACME.test"))
    assert p.returncode == 0, p.stderr
    acct = root.find(f"{{{OUTLOOK_SCHEMA}}}Response/{{{OUTLOOK_SCHEMA}}}"
                     "Account")
    ns = {"r": OUTLOOK_SCHEMA}
    assert acct.find("r:AccountType", ns).text == "email"
    assert acct.find("r:Action", ns).text == "settings"
    protos = {pr.find("r:Type", ns).text: pr
              for pr in acct.findall("r:Protocol", ns)}
    assert set(protos) == {"IMAP", "POP3", "SMTP"}
    want = {"IMAP": instance.ports["imaps"], "POP3": instance.ports["pop3s"],
            "SMTP": instance.ports["submissions"]}
    for t, pr in protos.items():
        assert int(pr.find("r:Port", ns).text) == want[t]
        assert pr.find("r:Server", ns).text == "mail.test.example"
        assert pr.find("r:LoginName", ns).text == "Ann@acme.test"
        assert pr.find("r:Encryption", ns).text == "SSL"
        assert pr.find("r:AuthRequired", ns).text == "on"


def test_autodiscover_starttls_when_no_implicit_tls(instance):
    instance.listeners = {"imap": "imap", "submission": "submission"}
    instance.ports = {k: instance.ports[k] for k in instance.listeners}
    instance.write_config()
    p, root = autodiscover(instance, request("ann@acme.test", schema=None))
    assert p.returncode == 0, p.stderr
    ns = {"r": OUTLOOK_SCHEMA}
    protos = root.findall(".//r:Protocol", ns)
    assert [(x.find("r:Type", ns).text, int(x.find("r:Port", ns).text),
             x.find("r:Encryption", ns).text) for x in protos] == [
        ("IMAP", instance.ports["imap"], "TLS"),
        ("SMTP", instance.ports["submission"], "TLS")]


def test_autodiscover_with_the_address_on_the_command_line(instance):
    p = instance.cli("autoconfig", "ann@acme.test", "--format",
                     "autodiscover", check=True)
    assert "<LoginName>ann@acme.test</LoginName>" in p.stdout


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE Autodiscover [<!ENTITY a "aaaa">'
          '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
          '<Autodiscover><Request><EMailAddress>&c;@acme.test</EMailAddress>'
          '</Request></Autodiscover>')
XXE = ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM '
       '"file:///etc/passwd">]><Autodiscover><Request><EMailAddress>&x;'
       '</EMailAddress></Request></Autodiscover>')


@pytest.mark.parametrize("body,reason", [
    ("", "no well-formed XML"),
    ("this is not XML", "no well-formed XML"),
    ("<Autodiscover><Request><EMailAddress>ann@acme.test",
     "no well-formed XML"),
    (LAUGHS, "DOCTYPE"),
    (XXE, "DOCTYPE"),
    ("<Other><Request><EMailAddress>a@b.test</EMailAddress></Request>"
     "</Other>", "no Autodiscover request"),
    ("<Autodiscover><Request></Request></Autodiscover>", "no EMailAddress"),
    (request("not an address"), "no mail address"),
    (request("a@b.test</EMailAddress><EMailAddress>c@d.test"),
     "more than one"),
    (request("x" * 400 + "@acme.test"), "too long"),
    ("<Autodiscover>" + "<x>" * 40 + "</x>" * 40 + "</Autodiscover>",
     "nested too deep"),
    (request("ann@acme.test") + " " * 20000, "too large"),
], ids=["empty", "text", "truncated", "billion-laughs", "external-entity",
        "other-root", "no-address", "bad-address", "two-addresses",
        "long-address", "deep", "too-large"])
def test_autodiscover_refuses_malformed_requests(instance, body, reason):
    p, root = autodiscover(instance, body)
    assert p.returncode == 1
    assert reason in p.stderr, p.stderr
    err = root.find(f"{{{RESPONSE_NS}}}Response/{{{RESPONSE_NS}}}Error")
    assert err.find(f"{{{RESPONSE_NS}}}ErrorCode").text == "600"
    assert "passwd" not in p.stdout and "root:" not in p.stdout


def test_autodiscover_other_schema_is_not_available(instance):
    body = request("ann@acme.test", schema="http://schemas.microsoft.com/"
                   "exchange/autodiscover/mobilesync/responseschema/2006")
    p, root = autodiscover(instance, body)
    assert p.returncode == 1
    err = root.find(f"{{{RESPONSE_NS}}}Response/{{{RESPONSE_NS}}}Error")
    assert err.find(f"{{{RESPONSE_NS}}}ErrorCode").text == "601"


# ---- Apple configuration profile ----

def apple(inst, email=None):
    args = ["autoconfig", "--format", "apple"] + ([email] if email else [])
    p = inst.cli(*args, check=True)
    return p.stdout, plistlib.loads(p.stdout.encode())


def test_apple_profile_parses_and_offers_imap_and_submission(instance):
    instance.config_overrides["help_company"] = "Acme <Hosting>"
    instance.write_config()
    text, prof = apple(instance, "ann@acme.test")
    assert prof["PayloadType"] == "Configuration"
    assert prof["PayloadVersion"] == 1
    assert prof["PayloadOrganization"] == "Acme <Hosting>"
    [acct] = prof["PayloadContent"]
    assert acct["PayloadType"] == "com.apple.mail.managed"
    assert acct["EmailAccountType"] == "EmailTypeIMAP"
    assert acct["EmailAddress"] == "ann@acme.test"
    assert acct["IncomingMailServerHostName"] == "mail.test.example"
    assert acct["IncomingMailServerPortNumber"] == instance.ports["imaps"]
    assert acct["IncomingMailServerUseSSL"] is True
    assert acct["IncomingMailServerUsername"] == "ann@acme.test"
    assert acct["OutgoingMailServerPortNumber"] == \
        instance.ports["submissions"]
    assert acct["OutgoingMailServerAuthentication"] == "EmailAuthPassword"
    assert acct["OutgoingMailServerUseSSL"] is True
    # the same account gives the same profile (installing it again
    # replaces it), another account another one
    assert apple(instance, "ann@acme.test")[0] == text
    other = apple(instance, "bob@acme.test")[1]
    assert other["PayloadUUID"] != prof["PayloadUUID"]
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-"
                        r"[89AB][0-9A-F]{3}-[0-9A-F]{12}",
                        prof["PayloadUUID"])


def test_apple_profile_without_address_lets_the_device_ask(instance):
    instance.listeners = {"pop3s": "pop3s", "smtp": "smtp"}
    instance.ports = {k: instance.ports[k] for k in instance.listeners}
    instance.write_config()
    _, prof = apple(instance)
    [acct] = prof["PayloadContent"]
    assert "EmailAddress" not in acct
    assert "IncomingMailServerUsername" not in acct
    assert acct["EmailAccountType"] == "EmailTypePOP"
    assert acct["IncomingMailServerPortNumber"] == instance.ports["pop3s"]
    # only POP-before-SMTP to send with: no password for sending
    assert acct["OutgoingMailServerPortNumber"] == instance.ports["smtp"]
    assert acct["OutgoingMailServerAuthentication"] == "EmailAuthNone"


def test_apple_profile_needs_a_mailbox_listener(instance):
    instance.listeners = {"smtp": "smtp"}
    instance.ports = {"smtp": instance.ports["smtp"]}
    instance.write_config()
    p = instance.cli("autoconfig", "--format", "apple")
    assert p.returncode == 1 and p.stdout == ""
    assert "no POP3 or IMAP listener" in p.stderr


# ---- domain dns ----

ZONE_LINE = re.compile(r"^(?P<name>\S+\.) (?:(?P<ttl>\d+) )?IN "
                       r"(?P<type>[A-Z]+) (?P<rdata>.+)$")


def zone(text):
    """The records of TEXT, as a simple zone-file reader sees them: one
    record a line, absolute names, ';' comments, TXT strings (several
    in parentheses on one line) joined."""
    recs = []
    for line in text.splitlines():
        if not line or line.startswith(";"):
            continue
        m = ZONE_LINE.match(line)
        assert m, f"not a zone line: {line!r}"
        rdata = m["rdata"]
        if m["type"] == "TXT":
            inner = rdata[1:-1].strip() if rdata.startswith("(") else rdata
            assert re.fullmatch(r'("[^"\\]*"\s*)+', inner), line
            rdata = "".join(re.findall(r'"([^"]*)"', inner))
            assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"',
                                                         inner))
        recs.append((m["name"], m["type"], rdata))
    return recs


@pytest.fixture
def acme(instance):
    instance.cli("customer", "add", "acme", check=True)
    instance.cli("domain", "add", "acme.test", "--customer", "acme",
                 check=True)
    return instance


def test_domain_dns_prints_every_record(acme):
    p = acme.cli("domain", "dns", "ACME.test", check=True)
    recs = zone(p.stdout)
    by_type = {}
    for name, t, rdata in recs:
        by_type.setdefault(t, []).append((name, rdata))
    assert by_type["MX"] == [("acme.test.", "10 mail.test.example.")]
    txt = dict(by_type["TXT"])
    assert txt["acme.test."] == "v=spf1 a:mail.test.example -all"
    assert txt["_dmarc.acme.test."].startswith("v=DMARC1; p=")
    ports = acme.ports
    srv = {name: rdata for name, rdata in by_type["SRV"]}
    assert srv == {
        "_submissions._tcp.acme.test.":
            f"0 1 {ports['submissions']} mail.test.example.",
        "_submission._tcp.acme.test.":
            f"10 1 {ports['submission']} mail.test.example.",
        "_imaps._tcp.acme.test.": f"0 1 {ports['imaps']} mail.test.example.",
        "_imap._tcp.acme.test.": f"10 1 {ports['imap']} mail.test.example.",
        "_pop3s._tcp.acme.test.": f"20 1 {ports['pop3s']} mail.test.example.",
        "_pop3._tcp.acme.test.": f"30 1 {ports['pop3']} mail.test.example.",
        # no HTTP listener here: nothing answers Outlook
        "_autodiscover._tcp.acme.test.": "0 0 0 .",
    }
    assert dict(by_type["CNAME"]) == {
        "autoconfig.acme.test.": "mail.test.example.",
        "autodiscover.acme.test.": "mail.test.example."}
    # the DKIM records are `domain dkim show`'s, line for line
    show = acme.cli("domain", "dkim", "show", "acme.test", check=True)
    dkim = [line for line in show.stdout.splitlines()
            if not line.startswith(";")]
    assert len(dkim) == 2
    for line in dkim:
        assert line in p.stdout.splitlines()
    keys = {n: r for n, r in txt.items() if "._domainkey." in n}
    assert len(keys) == 2
    assert {r.split(";")[1].strip() for r in keys.values()} == {
        "k=rsa", "k=ed25519"}


def test_domain_dns_services_not_offered(acme):
    acme.listeners = {"smtp": "smtp", "submission": "submission",
                      "imaps": "imaps"}
    acme.ports = {k: acme.ports[k] for k in acme.listeners}
    acme.write_config()
    recs = zone(acme.cli("domain", "dns", "acme.test", check=True).stdout)
    srv = {name: rdata for name, t, rdata in recs if t == "SRV"}
    for svc in ("_submissions", "_imap", "_pop3s", "_pop3"):
        assert srv[f"{svc}._tcp.acme.test."] == "0 0 0 .", svc
    assert srv["_imaps._tcp.acme.test."].split()[2] == \
        str(acme.ports["imaps"])


def dns_srv(inst):
    recs = zone(inst.cli("domain", "dns", "acme.test", check=True).stdout)
    return {name: rdata for name, t, rdata in recs if t == "SRV"}


def test_domain_dns_autodiscover_srv_names_the_https_port(acme):
    acme.listeners = {"smtp": "smtp", "submissions": "submissions",
                      "imaps": "imaps", "http": "http", "https": "https"}
    acme.ports = dict(zip(acme.listeners,
                          harness.free_ports(len(acme.listeners))))
    acme.write_config()
    srv = dns_srv(acme)
    assert srv["_autodiscover._tcp.acme.test."] == \
        f"0 0 {acme.ports['https']} mail.test.example."
    # RFC 8314: implicit TLS first, the services not offered "."
    assert srv["_submissions._tcp.acme.test."] == \
        f"0 1 {acme.ports['submissions']} mail.test.example."
    assert srv["_imaps._tcp.acme.test."] == \
        f"0 1 {acme.ports['imaps']} mail.test.example."
    for svc in ("_submission", "_imap", "_pop3s", "_pop3"):
        assert srv[f"{svc}._tcp.acme.test."] == "0 0 0 .", svc


def test_domain_dns_autodiscover_srv_behind_a_proxy(acme):
    # public mail listeners (the CLI binds nothing): a loopback https
    # one serves the host, and an http one is behind a reverse proxy
    acme.listeners = {"http": "http", "https": "https"}
    acme.ports = dict(zip(acme.listeners, harness.free_ports(2)))
    acme.extra_lines = ["listen = 0.0.0.0:465 submissions",
                        "listen = 0.0.0.0:993 imaps"]
    acme.write_config()
    out = acme.cli("domain", "dns", "acme.test", check=True).stdout
    assert "reverse proxy" in out
    srv = dns_srv(acme)
    assert srv["_autodiscover._tcp.acme.test."] == \
        "0 0 443 mail.test.example."
    assert srv["_imaps._tcp.acme.test."] == "0 1 993 mail.test.example."
    # a public https listener is named itself
    acme.extra_lines.append("listen = 0.0.0.0:8443 https")
    acme.write_config()
    assert dns_srv(acme)["_autodiscover._tcp.acme.test."] == \
        "0 0 8443 mail.test.example."


def test_domain_dns_after_a_rotation_lists_both_pairs(acme):
    acme.cli("domain", "dkim", "rotate", "acme.test", check=True)
    out = acme.cli("domain", "dns", "acme.test", check=True).stdout
    recs = zone(out)
    assert len([1 for n, t, _ in recs if "._domainkey." in n]) == 4
    assert out.count("retired") == 2
    show = acme.cli("domain", "dkim", "show", "acme.test", check=True)
    for line in show.stdout.splitlines():
        if not line.startswith(";"):
            assert line in out.splitlines()


def test_domain_dns_unknown_domain(acme):
    acme.cli_refused("domain", "dns", "nowhere.test",
                     message="no domain 'nowhere.test' is hosted here")
