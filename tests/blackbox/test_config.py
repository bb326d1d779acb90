"""The configuration file (SPEC 8) through `popgate check-config`:
every error names FILE:LINE and what was expected, exit 1; a good file
prints every key's effective value, exit 0."""
import os
import re

import pytest

from harness import run_popgate

# The key names of SPEC 8 (and 1: relay_never_authorize): the interface.
SPEC_KEYS = """hostname data_dir mail_dir user tls_cert tls_key log listen
relay_window relay_ipv6_prefix trusted_networks relay_never_authorize
sender_policy relay_max_recipients relay_max_messages_per_hour
relay_max_recipients_per_hour relay_max_message_size max_message_size
pop3_plaintext_auth store relay_store dns_servers reverse_dns relayhost
max_queue_lifetime retry_min retry_max delay_warning""".split()


def write(inst, lines, name="test.conf", raw=None):
    """Writes LINES (or RAW bytes) to DIR/NAME; returns the path."""
    path = os.path.join(inst.dir, name)
    with open(path, "wb") as f:
        f.write(raw if raw is not None else
                ("\n".join(lines) + "\n").encode())
    return path


def check(path):
    return run_popgate("check-config", "-c", path)


def errors(inst, lines):
    """check-config of LINES must fail: returns its stderr."""
    path = write(inst, lines)
    p = check(path)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stdout == "", "a failed check printed a configuration"
    return path, p.stderr


def effective(stdout):
    """check-config output as {key: value}; the repeated keys (listen,
    transport, milter, tls_host) as lists."""
    out = {"listen": [], "transport": [], "milter": [], "tls_host": []}
    for line in stdout.splitlines():
        key, sep, value = line.partition(" = ")
        if not sep and line.endswith(" ="):
            key, value = line[:-2], ""
        assert key, f"not 'key = value': {line!r}"
        if key in ("listen", "milter", "tls_host"):
            out[key].append(value)
        elif key.startswith("transport "):
            out["transport"].append(f"{key[10:]} = {value}")
        else:
            assert key not in out, f"{key} printed twice"
            out[key] = value.strip()
    return out


def test_unknown_key_names_file_and_line(instance):
    path, err = errors(instance, ["# popgate", "hostname = mx.test",
                                  "relay_windw = 90m"])
    assert f"{path}:3: unknown key 'relay_windw'" in err
    assert "relay_window" in err        # did you mean


@pytest.mark.parametrize("line,fragments", [
    # sizes
    ("max_message_size = 10Q", ["'max_message_size'", "'10Q'",
                                "expected a size"]),
    ("relay_max_message_size = lots", ["'relay_max_message_size'",
                                       "expected a size"]),
    ("max_message_size = 10", ["'max_message_size'", "expected a size"]),
    ("max_message_size = 99999999999999999999999M", ["expected a size"]),
    # durations
    ("relay_window = 90x", ["'relay_window'", "'90x'",
                            "expected a duration"]),
    ("relay_window = 0", ["'relay_window'", "expected a duration"]),
    ("relay_window = 8d", ["'relay_window'", "expected a duration"]),
    ("retry_max = -5m", ["'retry_max'", "expected a duration"]),
    ("relay_window =", ["'relay_window'", "expected a duration"]),
    # enums, booleans, numbers
    ("sender_policy = strict", ["'sender_policy'", "'strict'",
                                "domain or address"]),
    ("pop3_plaintext_auth = sometimes", ["'pop3_plaintext_auth'",
                                         "no, loopback or yes"]),
    ("log = file", ["'log'", "stderr or syslog"]),
    ("reverse_dns = maybe", ["'reverse_dns'", "yes or no"]),
    ("relay_max_recipients = many", ["'relay_max_recipients'",
                                     "whole number"]),
    ("relay_ipv6_prefix = 200", ["'relay_ipv6_prefix'", "16 to 128"]),
    # listen lines
    ("listen = 127.0.0.1 smtp", ["'listen'", "'127.0.0.1'", "PORT"]),
    ("listen = 127.0.0.1:25", ["'listen'", "ROLE"]),
    ("listen = 127.0.0.1:25 smtpx", ["'listen'", "'smtpx'",
                                     "smtp, submission"]),
    ("listen = 127.0.0.1:70000 smtp", ["'listen'", "70000"]),
    ("listen = 999.1.1.1:25 smtp", ["'listen'", "999.1.1.1"]),
    ("listen = 127.0.0.1:25 smtp gate=always", ["'gate=always'",
                                                "gate=connect"]),
    ("listen = 127.0.0.1:25 smtp gate=connect more", ["'listen'"]),
    ("listen = 127.0.0.1:110 pop3 gate=connect", ["gate=connect"]),
    # transport lines
    ("transport example.org = nohost", ["transport example.org",
                                        "'nohost'", "HOST:PORT"]),
    ("transport example.org = 127.0.0.1:99999", ["HOST:PORT"]),
    ("transport = 127.0.0.1:2600", ["transport DOMAIN = HOST:PORT"]),
    ("transport bad_domain = 127.0.0.1:2600", ["'bad_domain'"]),
    # password_min_length: a number from 1 to 128
    ("password_min_length = 0", ["'password_min_length'", "128"]),
    ("password_min_length = 129", ["'password_min_length'", "128"]),
    ("password_min_length = eight", ["'password_min_length'"]),
    # paths, names, networks, addresses, back ends
    ("data_dir = relative/path", ["'data_dir'", "absolute path"]),
    ("tls_key = key.pem", ["'tls_key'", "absolute path"]),
    ("hostname = bad_host", ["'hostname'", "'bad_host'"]),
    ("user = bad user", ["'user'", "user name"]),
    ("postmaster = not an address", ["'postmaster'"]),
    ("trusted_networks = 10.0.0.0/33", ["'trusted_networks'", "10.0.0.0/33",
                                        "networks"]),
    ("relay_never_authorize = webmail", ["'relay_never_authorize'"]),
    ("dns_servers = resolver.example", ["'dns_servers'", "IP addresses"]),
    ("relayhost = a:b:c", ["'relayhost'", "HOST:PORT"]),
    ("store = mysql", ["'store'", "sqlite"]),
    ("relay_store = memcache", ["'relay_store'", "redis://"]),
    # syntax
    ("just some words", ["key = value"]),
    ("= value", ["key"]),
    ("hostname extra = mx.test", ["'extra'", "'hostname'"]),
])
def test_bad_value_names_file_line_and_expectation(instance, line,
                                                   fragments):
    path, err = errors(instance, ["# test", "debug = no", line,
                                  "# end"])
    lines = [l for l in err.splitlines() if l.startswith(f"{path}:3: ")]
    assert len(lines) == 1, err
    for frag in fragments:
        assert frag in lines[0], (frag, err)


def test_duplicate_key(instance):
    path, err = errors(instance, ["hostname = a.test", "log = stderr",
                                  "# again:", "hostname = b.test"])
    assert f"{path}:4: duplicate key 'hostname'" in err
    assert "line 1" in err


def test_duplicate_transport_domain(instance):
    path, err = errors(instance, ["transport example.org = 127.0.0.1:2600",
                                  "transport Example.ORG = 127.0.0.1:2601"])
    assert f"{path}:2: " in err and "example.org" in err


def test_milter_errors_name_file_and_line(instance):
    path, err = errors(instance, [
        "milter = rspamd inet:127.0.0.1:11332",
        "milter = rspamd unix:/run/other.sock",
        "milter_apply clamav = inbound",
        "milter = dkim inet:mx.example:8891",
        "milter_command_timeout rspamd = 5q"])
    assert f"{path}:2: duplicate filter name 'rspamd'" in err, err
    assert f"{path}:3: 'milter_apply clamav': no filter named 'clamav'" \
        in err, err
    assert f"{path}:4: bad address for milter dkim" in err, err
    assert f"{path}:5: bad value for 'milter_command_timeout'" in err, err


def test_milters_printed_in_order_with_overrides(make_instance):
    inst = make_instance(start=False, config={
        "milter_command_timeout": "1m"},
        extra_lines=["milter = rspamd inet:localhost:11332",
                     "milter = clamav unix:/run/clamav/milter.sock",
                     "milter_apply clamav = inbound",
                     "milter_command_timeout rspamd = 5s",
                     "milter_default_action clamav = accept"])
    p = check(inst.conf_path)
    assert p.returncode == 0, p.stderr
    eff = effective(p.stdout)
    assert eff["milter"] == ["rspamd inet:127.0.0.1:11332",
                             "clamav unix:/run/clamav/milter.sock"]
    assert eff["milter_command_timeout"] == "1m"
    assert eff["milter_command_timeout rspamd"] == "5s"
    assert eff["milter_command_timeout clamav"] == "1m"
    assert eff["milter_apply rspamd"] == "all"
    assert eff["milter_apply clamav"] == "inbound"
    assert eff["milter_default_action rspamd"] == "tempfail"
    assert eff["milter_default_action clamav"] == "accept"
    assert eff["milter_total_timeout"] == "5m"


def test_every_error_is_reported(instance):
    path, err = errors(instance, ["hostname = mx.test", "relay_windw = 1h",
                                  "log = stderr", "max_message_size = 1Q",
                                  "listen = nowhere smtp"])
    for n in (2, 4, 5):
        assert f"{path}:{n}: " in err, err


def test_duplicate_listen_address_names_the_line(instance):
    # BUG: "FILE: two 'listen' lines for 127.0.0.1 port 2525" has no line.
    path, err = errors(instance, ["listen = 127.0.0.1:2525 smtp",
                                  "log = stderr",
                                  "listen = 127.0.0.1:2525 pop3"])
    assert "2525" in err
    assert re.search(re.escape(path) + r":3: ", err), err


def test_inconsistent_keys_name_a_line(instance):
    # BUG: "FILE: retry_min (18000s) is larger than retry_max (14400s)" and
    # "relay_max_message_size is larger than max_message_size" name no line.
    path, err = errors(instance, ["log = stderr", "retry_min = 5h"])
    assert "retry_min" in err and "retry_max" in err
    assert re.search(re.escape(path) + r":2: ", err), err
    path, err = errors(instance, ["max_message_size = 5M"])
    assert "relay_max_message_size" in err
    assert re.search(re.escape(path) + r":1: ", err), err


def test_nul_byte(instance):
    path = write(instance, None, raw=b"hostname = mx.test\nlog = std\0err\n")
    p = check(path)
    assert p.returncode == 1
    assert path in p.stderr and "NUL" in p.stderr


def test_line_too_long(instance):
    path, err = errors(instance, ["log = stderr",
                                  "hostname = " + "a" * 5000])
    assert f"{path}:2: " in err and "too long" in err


def test_missing_file(instance):
    path = os.path.join(instance.dir, "nonexistent.conf")
    p = check(path)
    assert p.returncode == 1
    assert path in p.stderr
    assert p.stdout == ""


def test_good_config_prints_every_effective_value(instance):
    p = check(instance.conf_path)
    assert p.returncode == 0, p.stderr
    eff = effective(p.stdout)
    for key in SPEC_KEYS:
        assert key in eff, f"check-config does not print {key}"
    # Set by the harness:
    assert eff["hostname"] == "mail.test.example"
    assert eff["data_dir"] == instance.data_dir
    assert eff["mail_dir"] == instance.mail_dir
    assert eff["reverse_dns"] == "no"
    # Defaults (SPEC 1 and 8):
    assert eff["relay_window"] == "90m"
    assert eff["relay_ipv6_prefix"] == "64"
    assert eff["trusted_networks"] == ""
    assert eff["sender_policy"] == "domain"
    assert eff["relay_max_recipients"] == "50"
    assert eff["relay_max_messages_per_hour"] == "200"
    assert eff["relay_max_recipients_per_hour"] == "500"
    assert eff["relay_max_message_size"] == "10M"
    assert eff["max_message_size"] == "50M"
    assert eff["pop3_plaintext_auth"] == "loopback"
    assert eff["store"] == "sqlite"
    assert eff["relay_store"] == "local"
    assert eff["max_queue_lifetime"] == "5d"
    assert eff["retry_min"] == "5m"
    assert eff["retry_max"] == "4h"
    assert eff["delay_warning"] == "4h"
    # listen repeats, in order, with options.
    assert eff["listen"] == [f"127.0.0.1:{instance.ports[n]} {role}"
                             for n, role in instance.listeners.items()]
    assert eff["transport"] == []


def test_values_with_units_and_repeated_lines(make_instance):
    inst = make_instance(start=False, config={
        "relay_window": "2h", "max_message_size": "20M",
        "relay_max_message_size": "512K", "retry_min": "30s",
        "max_queue_lifetime": "3d", "delay_warning": "0",
        "trusted_networks": "192.0.2.0/24, 2001:db8::/32",
        "sender_policy": "address", "dns_servers": "127.0.0.1:5353",
    }, extra_lines=["transport example.org = 127.0.0.1:2600",
                    "transport example.net = [::1]:2601"])
    p = check(inst.conf_path)
    assert p.returncode == 0, p.stderr
    eff = effective(p.stdout)
    assert eff["relay_window"] == "2h"
    assert eff["max_message_size"] == "20M"
    assert eff["relay_max_message_size"] == "512K"
    assert eff["retry_min"] == "30s"
    assert eff["max_queue_lifetime"] == "3d"
    assert eff["delay_warning"] == "0"
    assert eff["trusted_networks"] == "192.0.2.0/24, 2001:db8::/32"
    assert eff["sender_policy"] == "address"
    assert eff["dns_servers"] == "127.0.0.1:5353"
    assert sorted(eff["transport"]) == ["example.net = [::1]:2601",
                                        "example.org = 127.0.0.1:2600"]
    assert len(eff["listen"]) == len(inst.listeners)


def test_comments_blank_lines_and_crlf(instance):
    raw = (b"# a comment\r\n\r\n   \r\nhostname = mx.test   # trailing\r\n"
           b"\t# indented comment\r\nrelay_window = 45m\r\n"
           b"data_dir = " + instance.data_dir.encode() + b"\r\n")
    p = check(write(instance, None, raw=raw))
    assert p.returncode == 0, p.stderr
    eff = effective(p.stdout)
    assert eff["hostname"] == "mx.test"
    assert eff["relay_window"] == "45m"


def test_derived_defaults(instance):
    p = check(write(instance, ["data_dir = /srv/pg", "hostname = MX.Test"]))
    assert p.returncode == 0, p.stderr
    eff = effective(p.stdout)
    assert eff["mail_dir"] == "/srv/pg/mail"
    assert eff["tls_cert"] == "/srv/pg/tls/cert.pem"
    assert eff["tls_key"] == "/srv/pg/tls/key.pem"
    assert eff["hostname"] == "mx.test"
    # No listen line: the standard ports of SPEC 2.
    ports = sorted(int(l.split()[0].rsplit(":", 1)[1])
                   for l in eff["listen"])
    assert ports == [25, 110, 143, 465, 587, 993, 995, 2525]


def test_check_config_changes_nothing(instance):
    before = sorted(os.listdir(instance.data_dir))
    p = check(instance.conf_path)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(instance.data_dir)) == before


def test_check_config_with_environment(instance):
    p = run_popgate("check-config", env={"POPGATE_CONFIG":
                                         instance.conf_path})
    assert p.returncode == 0, p.stderr
    assert "hostname = mail.test.example" in p.stdout
