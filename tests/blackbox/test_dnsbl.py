"""DNS blocklists (RFC 5782; issue 15 point 3, popgate.conf(5) dnsbl and
dnsbl_threshold), against tests/blackbox/dnsstub.py, never the machine's
resolver. A client of an smtp listener is looked up at connect and
answered at RCPT: a listed one gets 554 5.7.1 naming the lists for every
recipient, hosted or not, unless a POP3 login, SMTP AUTH or
trusted_networks lets it relay. 127.255.255.x is a list error, not a
listing; NXDOMAIN and a failing list are not listed. Submission
listeners and trusted networks are never looked up."""
import os
import re

import pytest

from dnsstub import DnsStub
from relay_helpers import Smtp, pop3_login, relay_instance, wait_log

LISTED = {"A": ["127.0.0.2"]}
RECORDS = {
    # zen.test lists 127.0.0.1, .3, .5 (trusted), .6 and .9
    "1.0.0.127.zen.test": LISTED,
    "3.0.0.127.zen.test": LISTED,
    "5.0.0.127.zen.test": LISTED,
    "6.0.0.127.zen.test": LISTED,
    "9.0.0.127.zen.test": LISTED,
    # two lists of weight 1: a.test lists .2 and .3, b.test only .3
    "2.0.0.127.a.test": {"A": ["127.0.0.4"]},
    "3.0.0.127.a.test": {"A": ["127.0.0.4"]},
    "3.0.0.127.b.test": {"A": ["127.0.0.10"]},
    # Spamhaus's "query refused" code: an error, not a listing
    "1.0.0.127.err.test": {"A": ["127.255.255.254"]},
    "1.0.0.127.fail.test": "SERVFAIL",
    "1.0.0.127.slow.test": "TIMEOUT",
    # nx.test: nothing, so NXDOMAIN
}
HOSTED = "ann@acme.test"
SENDER = "someone@example.org"


@pytest.fixture
def stub():
    s = DnsStub(RECORDS).start()
    yield s
    s.stop()


def dnsbl_instance(make_instance, stub, lists, config=None, **kw):
    cfg = {"dns_servers": stub.server}
    cfg.update(config or {})
    return relay_instance(make_instance, config=cfg,
                          extra_lines=[f"dnsbl = {l}" for l in lists], **kw)


def rcpt(inst, source, to=HOSTED, port="smtp"):
    """The reply to RCPT TO:<TO> from SOURCE, after EHLO and MAIL."""
    with Smtp(inst.ports[port], source=source) as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        r = c.cmd(f"RCPT TO:<{to}>")
        c.quit()
    return r


def asked(stub, source):
    """The blocklist queries about SOURCE (name, type)."""
    rev = ".".join(reversed(source.split("."))) + "."
    return [q for q in stub.queries if q[0].startswith(rev)]


def test_listed_client_is_refused_at_rcpt_naming_the_list(make_instance,
                                                          stub):
    inst = dnsbl_instance(make_instance, stub, ["zen.test"])
    with Smtp(inst.ports["smtp"]) as c:
        assert c.greeting.code == 220, c.greeting  # answered at RCPT
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        r = c.cmd(f"RCPT TO:<{HOSTED}>")
        assert str(r) == ("554 5.7.1 Service unavailable; client "
                          "[127.0.0.1] listed by zen.test"), r
        r = c.cmd("RCPT TO:<bob@example.org>")
        assert r.code == 554 and "listed by zen.test" in str(r), r
        c.quit()
    line = wait_log(inst, r"smtp dnsbl client=127\.0\.0\.1 ")
    assert re.search(r"sess=\S+ smtp dnsbl client=127\.0\.0\.1 score=1 "
                     r"lists=zen\.test$", line), line
    line = wait_log(inst, r"rcpt-rejected .*rule=dnsbl")
    assert "to=<ann@acme.test>" in line and \
        "why=\"client 127.0.0.1 listed by zen.test\"" in line, line
    assert ("1.0.0.127.zen.test", "A") in stub.queries
    assert os.listdir(os.path.join(inst.maildir(HOSTED), "new")) == []


def test_weights_add_up_to_the_threshold(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["a.test 1", "b.test"],
                          config={"dnsbl_threshold": "2"})
    # one list of weight 1: below the threshold, logged all the same
    assert rcpt(inst, "127.0.0.2").code == 250
    line = wait_log(inst, r"smtp dnsbl client=127\.0\.0\.2 ")
    assert line.endswith("score=1 lists=a.test"), line
    r = rcpt(inst, "127.0.0.3")
    assert str(r) == ("554 5.7.1 Service unavailable; client [127.0.0.3] "
                      "listed by a.test, b.test"), r
    line = wait_log(inst, r"smtp dnsbl client=127\.0\.0\.3 ")
    assert line.endswith("score=2 lists=a.test,b.test"), line
    # a client no list has is not logged
    assert rcpt(inst, "127.0.0.4").code == 250
    assert not re.search(r"dnsbl client=127\.0\.0\.4", inst.log())


def test_refused_code_is_a_list_error_not_a_listing(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["err.test"])
    assert rcpt(inst, "127.0.0.1").code == 250
    line = wait_log(inst, r"smtp dnsbl-error client=127\.0\.0\.1 "
                          r"list=err\.test")
    assert "answer=127.255.255.254" in line, line
    assert "smtp dnsbl client=" not in inst.log()


def test_nxdomain_and_failing_list_accept(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["nx.test", "fail.test"])
    assert rcpt(inst, "127.0.0.1").code == 250
    # relaying is refused, by the relay rules, not by the lists
    r = rcpt(inst, "127.0.0.1", to="bob@example.org")
    assert r.code == 554 and "listed" not in str(r), r
    wait_log(inst, r"smtp dnsbl-error client=127\.0\.0\.1 list=fail\.test "
                   r"error=")
    log = inst.log()
    assert "list=nx.test" not in log and "rule=dnsbl" not in log, log
    assert ("1.0.0.127.nx.test", "A") in stub.queries
    assert ("1.0.0.127.fail.test", "A") in stub.queries


def test_list_that_does_not_answer_is_logged_not_listed(make_instance,
                                                        stub):
    """The resolver gives up (a few seconds, at most 10): the greeting
    comes, the client is not listed."""
    inst = dnsbl_instance(make_instance, stub, ["slow.test"])
    assert rcpt(inst, "127.0.0.1").code == 250
    wait_log(inst, r"smtp dnsbl-error client=127\.0\.0\.1 list=slow\.test "
                   r"error=\"no answer")
    assert "rule=dnsbl" not in inst.log()


def test_listed_stays_listed_after_starttls(make_instance, stub):
    """STARTTLS forgets what the client said, not what the lists said."""
    inst = dnsbl_instance(make_instance, stub, ["zen.test"])
    with Smtp(inst.ports["smtp"]) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.expect(f"MAIL FROM:<{SENDER}>", "250 2.1.0")
        r = c.cmd(f"RCPT TO:<{HOSTED}>")
        assert r.code == 554 and "listed by zen.test" in str(r), r
        c.quit()


def test_pop3_login_lets_a_listed_client_relay_and_receive(make_instance,
                                                           stub):
    inst = dnsbl_instance(make_instance, stub, ["zen.test"])
    assert rcpt(inst, "127.0.0.6").code == 554
    pop3_login(inst, "ann@acme.test", source="127.0.0.6")
    with Smtp(inst.ports["smtp"], source="127.0.0.6") as c:
        c.ehlo()
        replies = c.send_mail("ann@acme.test",
                              ["bob@example.org", "dave@beta.test"])
        assert [r.code for r in replies] == [250, 250, 250, 250], \
            [str(r) for r in replies]
        c.quit()
    assert "smtp dnsbl client=127.0.0.6 score=1" in inst.log()


def test_submission_with_auth_looks_nothing_up(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["zen.test"])
    with Smtp(inst.ports["submission"], source="127.0.0.9") as c:
        c.ehlo()
        r = c.auth_plain("ann@acme.test")
        assert r.code == 235, r
        replies = c.send_mail("ann@acme.test", ["bob@example.org", HOSTED])
        assert [r.code for r in replies] == [250, 250, 250, 250], \
            [str(r) for r in replies]
        c.quit()
    assert asked(stub, "127.0.0.9") == []
    assert "dnsbl" not in inst.log()


def test_trusted_networks_are_not_looked_up(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["zen.test"],
                          config={"trusted_networks": "127.0.0.5/32"})
    assert rcpt(inst, "127.0.0.5").code == 250
    assert rcpt(inst, "127.0.0.5", to="bob@example.org").code == 250
    assert asked(stub, "127.0.0.5") == []


def test_reload_adds_a_list_for_the_next_session(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, [])
    assert rcpt(inst, "127.0.0.6").code == 250
    assert asked(stub, "127.0.0.6") == []
    inst.extra_lines.append("dnsbl = zen.test 5")
    inst.write_config()
    out = inst.cli("reload")
    assert out.returncode == 0, out
    r = rcpt(inst, "127.0.0.6")
    assert str(r) == ("554 5.7.1 Service unavailable; client [127.0.0.6] "
                      "listed by zen.test"), r
    assert "smtp dnsbl client=127.0.0.6 score=5 lists=zen.test" in inst.log()


def test_check_config_prints_the_lists(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["Zen.Test", "a.test 7"],
                          config={"dnsbl_threshold": "8"}, start=False)
    out = inst.cli("check-config", check=True)
    assert "dnsbl = zen.test 1\ndnsbl = a.test 7\n" in out.stdout, out.stdout
    assert "dnsbl_threshold = 8\n" in out.stdout, out.stdout


def test_bad_weight_names_file_and_line(make_instance, stub):
    inst = dnsbl_instance(make_instance, stub, ["zen.test 0"], start=False)
    out = inst.cli("check-config")
    assert out.returncode != 0
    n = open(inst.conf_path).read().splitlines().index("dnsbl = zen.test 0")
    assert f"popgate.conf:{n + 1}: bad weight in 'dnsbl zen.test': '0'" in \
        out.stderr, out.stderr
