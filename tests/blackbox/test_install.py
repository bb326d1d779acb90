"""What `make install` puts where, and the files it installs: the modes
and paths an admin (and dpkg) gets, the example configuration accepted
by `popgate check-config` and in step with what `popgate init` writes
as root, the systemd unit valid for systemd, the man pages rendering
without a warning and naming every command of the binary.

make install runs with B= a directory holding the binary under test, so
no release build is made here (`make -o` keeps make from remaking it)."""
import os
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

import harness
from harness import run_popgate

REPO = harness.REPO
MAN8 = os.path.join(REPO, "docs", "popgate.8")
MAN5 = os.path.join(REPO, "docs", "popgate.conf.5")
EXAMPLE = os.path.join(REPO, "contrib", "popgate.conf.example")
UNIT = os.path.join(REPO, "contrib", "systemd", "popgate.service")

# PREFIX-relative path -> mode, as `make install` leaves them.
INSTALLED = {
    "sbin/popgate": 0o755,
    "share/man/man8/popgate.8": 0o644,
    "share/man/man5/popgate.conf.5": 0o644,
    "lib/systemd/system/popgate.service": 0o644,
    "share/doc/popgate/examples/popgate.conf.example": 0o644,
    "share/doc/popgate/examples/fail2ban/jail.d/popgate.conf": 0o644,
}
FAIL2BAN_FILTER = "etc/fail2ban/filter.d/popgate.conf"


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(dir="/tmp", prefix="popgate-test-install-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make(tmp, target, prefix, *extra):
    """`make TARGET` into DESTDIR=TMP/dest with the binary under test."""
    b = os.path.join(tmp, "b")
    os.makedirs(b, exist_ok=True)
    if not os.path.exists(os.path.join(b, "popgate")):
        shutil.copy(harness.BIN, os.path.join(b, "popgate"))
    return subprocess.run(
        ["make", "--no-print-directory", "-C", REPO, f"B={b}",
         "-o", f"{b}/popgate", f"DESTDIR={tmp}/dest", f"PREFIX={prefix}",
         *extra, target], capture_output=True, text=True, timeout=120)


def files_under(root):
    found = set()
    for d, _, names in os.walk(root):
        for n in names:
            found.add(os.path.relpath(os.path.join(d, n), root))
    return found


def test_install_puts_every_file_with_its_mode(tmp):
    p = make(tmp, "install", "/usr/local")
    assert p.returncode == 0, p.stdout + p.stderr
    dest = os.path.join(tmp, "dest")
    want = {"usr/local/" + f for f in INSTALLED} | {FAIL2BAN_FILTER}
    assert files_under(dest) == want
    for f in want:
        st = os.lstat(os.path.join(dest, f))
        assert stat.S_ISREG(st.st_mode), f
        mode = INSTALLED.get(f.removeprefix("usr/local/"), 0o644)
        assert stat.S_IMODE(st.st_mode) == mode, f"{f}: {oct(st.st_mode)}"
    for d, dirs, _ in os.walk(dest):
        for n in dirs:
            m = stat.S_IMODE(os.lstat(os.path.join(d, n)).st_mode)
            assert m & 0o022 == 0, f"{d}/{n} is writable by others"
    # The installed files are the tree's, the binary is the one built.
    with open(os.path.join(dest, "usr/local/sbin/popgate"), "rb") as f, \
            open(harness.BIN, "rb") as g:
        assert f.read() == g.read()
    for src, f in ((MAN8, "share/man/man8/popgate.8"),
                   (EXAMPLE, "share/doc/popgate/examples/popgate.conf.example")):
        with open(src) as a, open(os.path.join(dest, "usr/local", f)) as b:
            assert a.read() == b.read()


def test_unit_runs_the_installed_binary(tmp):
    """The unit names /usr/sbin/popgate in the tree; make install
    rewrites every command to its own sbin directory."""
    p = make(tmp, "install", "/opt/pg")
    assert p.returncode == 0, p.stdout + p.stderr
    with open(os.path.join(tmp, "dest/opt/pg/lib/systemd/system/"
                           "popgate.service")) as f:
        unit = f.read()
    execs = re.findall(r"^Exec\w+=(.*)$", unit, re.M)
    assert len(execs) == 3
    for line in execs:
        assert "/opt/pg/sbin/popgate " in line, line
        assert "/usr/sbin/popgate" not in line, line
    assert "check-config -c /etc/popgate/popgate.conf" in execs[0]
    assert execs[1] == "/opt/pg/sbin/popgate serve -c /etc/popgate/popgate.conf"
    assert execs[2] == "/opt/pg/sbin/popgate reload -c /etc/popgate/popgate.conf"


def test_uninstall_removes_what_install_put(tmp):
    assert make(tmp, "install", "/usr").returncode == 0
    p = make(tmp, "uninstall", "/usr")
    assert p.returncode == 0, p.stdout + p.stderr
    assert files_under(os.path.join(tmp, "dest")) == set()
    assert not os.path.exists(os.path.join(tmp, "dest/usr/share/doc/popgate"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze_verify(tmp):
    """systemd-analyze verify of the unit (its binary rewritten to one that
    exists here, the man pages of Documentation= found in the tree's
    install)."""
    assert make(tmp, "install", "/usr").returncode == 0
    dest = os.path.join(tmp, "dest")
    with open(UNIT) as f:
        unit = f.read().replace("/usr/sbin/popgate", f"{dest}/usr/sbin/popgate")
    path = os.path.join(tmp, "popgate.service")
    with open(path, "w") as f:
        f.write(unit)
    p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                       text=True, timeout=60,
                       env=dict(os.environ, MANPATH=f"{dest}/usr/share/man"))
    assert p.returncode == 0 and p.stderr == "", p.stderr


def config_keys(text):
    """KEY -> [values] of a configuration text (comments dropped)."""
    keys = {}
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line:
            continue
        k, _, v = line.partition("=")
        keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def test_example_config_passes_check_config(tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    with open(EXAMPLE) as f:
        text = f.read()
    assert "/var/lib/popgate" in text
    conf = os.path.join(tmp, "popgate.conf")
    with open(conf, "w") as f:
        f.write(text.replace("/var/lib/popgate", data))
    p = run_popgate("check-config", "-c", conf)
    assert p.returncode == 0, p.stderr
    # Only the warning that the TLS files are not there (init makes them).
    assert re.fullmatch(r"(popgate check-config: warning: cannot read "
                        r"\S+/tls/cert.pem or \S+/tls/key.pem: .*\n)?",
                        p.stderr), p.stderr
    printed = p.stdout
    assert re.search(r"^data_dir\s*=\s*" + re.escape(data) + "$", printed, re.M)
    assert re.search(r"^user\s*=\s*popgate$", printed, re.M)


@pytest.mark.skipif(not harness.IS_ROOT,
                    reason="init writes a production instance only as root")
def test_example_config_has_the_keys_init_writes_as_root(tmp):
    """The example is what `popgate init` writes as root (without --dev),
    key for key: the same keys, the same listeners and values but for the
    host's name and the paths; init writes the [::] listeners only where
    the host has IPv6, the example always."""
    top = os.path.join(tmp, "inst")
    p = run_popgate("init", "--hostname", "mail.example.net", top)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(top, "popgate.conf")) as f:
        init = config_keys(f.read().replace(os.path.join(top, "data"),
                                            "/var/lib/popgate"))
    with open(EXAMPLE) as f:
        example = config_keys(f.read())
    if not any(v.startswith("[::]") for v in init["listen"]):
        example["listen"] = [v for v in example["listen"]
                             if not v.startswith("[::]")]
    assert example == init


def test_man_pages_render_without_warnings():
    for page in (MAN8, MAN5):
        p = subprocess.run(["groff", "-man", "-ww", "-z", page],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stderr == "", f"{page}: {p.stderr}"
        p = subprocess.run(["man", "-l", page], capture_output=True,
                           text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80"))
        assert p.returncode == 0 and p.stderr == "", f"{page}: {p.stderr}"
        assert "popgate" in p.stdout


@pytest.mark.skipif(shutil.which("mandoc") is None,
                    reason="mandoc is not installed")
def test_man_pages_pass_mandoc_lint():
    for page in (MAN8, MAN5):
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page],
                           capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        if page == MAN5:
            # popgate.conf.5's .TH gives a year, not a date.
            out = re.sub(r".*WARNING: cannot parse date.*\n", "", out)
        assert out == "", out


def commands(*group):
    """The command names a --help of popgate (or of GROUP) lists."""
    p = run_popgate(*group, "--help")
    assert p.returncode == 0, p.stderr
    body = p.stdout.split("commands:\n", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  (\S+)", body, re.M)]


def test_popgate_8_describes_every_command():
    """Every command of `popgate --help`, and every subcommand of each
    group, is an entry of popgate(8)."""
    with open(MAN8) as f:
        page = f.read()
    top = commands()
    assert {"init", "serve", "check-config", "customer", "queue"} <= set(top)
    for cmd in top:
        word = cmd.replace("-", r"\\-")
        p = run_popgate(cmd, "--help")
        if "commands:\n" not in p.stdout:
            assert re.search(r"^\.(B|BI|TP)\s+" + word + r"\b", page, re.M), cmd
            continue
        for sub in commands(cmd):
            assert re.search(r'^\.BI? "?' + word + " " + sub + r"\b", page,
                             re.M), f"{cmd} {sub}"


def test_debian_changelog_has_the_binary_version():
    """The package's version (debian/changelog, 3.0 native) is the one
    `popgate --version` prints."""
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        m = re.match(r"popgate \(([^)]+)\) ", f.readline())
    assert m, "debian/changelog: no 'popgate (VERSION)' first line"
    p = run_popgate("--version")
    assert p.stdout == f"popgate {m.group(1)}\n"
