"""multihost_helpers.py - a throwaway PostgreSQL and Redis for the
two-host black-box test (test_multihost.py, issue 9).

    base = tempfile.mkdtemp(...)
    pg = Postgres(base).start()         # initdb + postgres on 127.0.0.1
    uri = pg.create_db("popgate_mh")    # postgresql://popgate_app@127.0.0.1:P/popgate_mh
    pg.psql("SELECT 1", db="popgate_mh")
    pg.stop() / pg.start() / pg.restart()

    rd = Redis(base).start()            # redis-server on 127.0.0.1
    rd.uri(3)                           # redis://127.0.0.1:P/3
    rd.command("PING", db=3)            # RESP over a socket -> "PONG"
    rd.stop() / rd.start()              # same port again
    rd.pause() / rd.resume()            # SIGSTOP / SIGCONT: a hung server

Both servers come from Debian's packages (scripts/bootstrap installs them
and keeps their system services from starting); nothing here uses or
needs a system service. They listen on a free loopback port, 127.0.0.1
only; PostgreSQL's unix socket is in the temporary directory (`-k`),
Redis has none. PostgreSQL refuses to run as root, so as root both
servers run as the daemon's user (harness.DAEMON_USER, `popgate`), made
by scripts/bootstrap; otherwise as whoever runs the tests. Settings are
for speed, not safety (fsync=off, no Redis persistence).

PostgreSQL has two roles: SUPERUSER (made by initdb, used for createdb
and inspection) and APP_USER, an ordinary LOGIN role that owns every
database made by create_db(): popgate connects as that one, so its
migrations run with the rights a real installation gives it. Trust
authentication on loopback (a test database).

A server that cannot start raises ServerError with its log: the fixtures
turn it into a test failure, never a skip. Backends.cleanup() stops both
servers and removes the directory; if the test process is killed before
it can, a small detached watchdog (/bin/sh, polling once a second) does.
"""
import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import time

import harness

REDIS_SERVER = "/usr/bin/redis-server"
SUPERUSER = "postgres"
APP_USER = "popgate_app"
START_TIMEOUT = 30      # seconds for a server to accept connections
STOP_TIMEOUT = 30       # seconds for a server to exit after its signal


class ServerError(Exception):
    pass


def pg_bindir():
    """Debian's PostgreSQL server binaries (the newest installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if not found:
        raise ServerError("PostgreSQL is not installed "
                          "(/usr/lib/postgresql/*/bin/postgres missing): "
                          "run scripts/bootstrap as root")
    return os.path.dirname(found[-1])


def run_as():
    """(uid, gid) the servers run as: the daemon's user as root, else
    None (ourselves)."""
    if harness.IS_ROOT:
        try:
            return harness.daemon_ids()
        except KeyError:
            raise ServerError(f"user {harness.DAEMON_USER!r} does not "
                              f"exist: run scripts/bootstrap as root")
    return None


def make_base_dir(prefix="popgate-mh-"):
    """A fresh directory under /tmp for the servers (and shared files of
    the test), owned by the user the servers run as, mode 0755."""
    import tempfile
    d = tempfile.mkdtemp(dir="/tmp", prefix=prefix)
    os.chmod(d, 0o755)
    give(d)
    return d


def give(path):
    """chown PATH (not recursive) to the servers' user (as root)."""
    ids = run_as()
    if ids is not None:
        os.chown(path, *ids)


def server_env(home):
    """A clean environment for the servers and their tools: no PG* or
    REDIS* variables of the caller, a C locale, HOME in our directory."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "REDIS", "LC_", "LANG"))}
    env.update({"LC_ALL": "C", "LANG": "C", "HOME": home,
                "PATH": "/usr/bin:/bin"})
    return env


def popen_as(args, cwd, log_path, env):
    """Starts ARGS as the servers' user, stdout+stderr appended to
    LOG_PATH, in a new process group (so a Ctrl-C of pytest does not
    reach it first)."""
    ids = run_as()
    kw = {}
    if ids is not None:
        kw = {"user": ids[0], "group": ids[1], "extra_groups": []}
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(args, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True, **kw)
    finally:
        log.close()


def run_as_user(args, cwd, env, timeout=120):
    ids = run_as()
    kw = {}
    if ids is not None:
        kw = {"user": ids[0], "group": ids[1], "extra_groups": []}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


def stop_process(proc, sig, timeout=STOP_TIMEOUT):
    """Sends SIG and waits; SIGKILL after TIMEOUT. Returns the status."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    return proc.returncode


# ---- PostgreSQL ----

class Postgres:
    """A PostgreSQL cluster in BASE/pg: data/, sock/ (the unix socket
    directory), postgres.log. Listens on 127.0.0.1:self.port."""

    def __init__(self, base):
        self.bindir = pg_bindir()
        self.dir = os.path.join(base, "pg")
        self.data = os.path.join(self.dir, "data")
        self.sock_dir = os.path.join(self.dir, "sock")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = None
        self.proc = None
        self.env = server_env(self.dir)
        os.makedirs(self.sock_dir)
        os.chmod(self.dir, 0o755)
        os.chmod(self.sock_dir, 0o755)
        give(self.dir)
        give(self.sock_dir)
        self.initdb()

    def tool(self, name):
        return os.path.join(self.bindir, name)

    def initdb(self):
        p = run_as_user([self.tool("initdb"), "-D", self.data,
                         "-U", SUPERUSER, "--auth=trust", "--no-locale",
                         "-E", "UTF8", "--no-sync", "--no-instructions"],
                        cwd=self.dir, env=self.env)
        if p.returncode != 0:
            raise ServerError(f"initdb failed (exit {p.returncode}):\n"
                              f"{p.stdout}\n{p.stderr}")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, port=None):
        """Starts postgres (on PORT, else the port it had, else a free
        one) and waits until it answers queries. Returns self."""
        assert not self.running, "postgres already running"
        if port is not None:
            self.port = port
        for attempt in range(3):
            if self.port is None:
                self.port = harness.free_ports(1)[0]
            offset = os.path.getsize(self.log_path) \
                if os.path.exists(self.log_path) else 0
            self.proc = popen_as(
                [self.tool("postgres"), "-D", self.data,
                 "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1",
                 "-c", f"unix_socket_directories={self.sock_dir}",
                 "-c", "fsync=off",
                 "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off",
                 "-c", "max_connections=300",
                 "-c", "shared_buffers=32MB",
                 "-c", "logging_collector=off",
                 "-c", "log_connections=off",
                 "-c", "log_min_messages=warning",
                 "-c", "log_line_prefix=%m [%p] %u@%d ",
                 "-c", "autovacuum=off",
                 "-c", "jit=off"],
                cwd=self.dir, log_path=self.log_path, env=self.env)
            deadline = time.monotonic() + START_TIMEOUT
            while self.proc.poll() is None:
                if self.ready():
                    return self
                if time.monotonic() > deadline:
                    stop_process(self.proc, signal.SIGQUIT, 5)
                    raise ServerError(
                        f"postgres not ready on 127.0.0.1:{self.port} "
                        f"after {START_TIMEOUT}s:\n{tail(self.log_path)}")
                time.sleep(0.05)
            log = tail(self.log_path)
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                this_run = f.read().decode("utf-8", "replace")
            if "could not bind" in this_run and attempt < 2 and \
                    port is None:
                self.port = None
                continue
            raise ServerError(f"postgres exited {self.proc.returncode} at "
                              f"start:\n{log}")
        raise AssertionError("unreachable")

    def ready(self):
        p = subprocess.run([self.tool("pg_isready"), "-q", "-h",
                            "127.0.0.1", "-p", str(self.port), "-t", "1",
                            "-U", SUPERUSER, "-d", "postgres"],
                           env=self.env, capture_output=True, timeout=10)
        return p.returncode == 0

    def stop(self, mode="fast"):
        """Stops postgres: "fast" (SIGINT: disconnects every client,
        clean shutdown) or "immediate" (SIGQUIT: like a crash)."""
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT,
               "immediate": signal.SIGQUIT}[mode]
        stop_process(self.proc, sig)
        self.proc = None
        # The port must be free again before a start() on it.
        deadline = time.monotonic() + 10
        while not harness.port_is_free(self.port) and \
                time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, mode="fast"):
        self.stop(mode)
        return self.start()

    def psql(self, sql, db="postgres", user=SUPERUSER, check=True):
        """Runs SQL with psql (unaligned, tuples only, stop on error);
        returns stdout, or the CompletedProcess when CHECK is false."""
        p = subprocess.run(
            [self.tool("psql"), "-X", "-q", "-A", "-t", "-v",
             "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", user, "-d", db, "-c", sql],
            env=self.env, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL)
        if not check:
            return p
        if p.returncode != 0:
            raise ServerError(f"psql -d {db} -U {user} -c {sql!r} exited "
                              f"{p.returncode}:\n{p.stderr}")
        return p.stdout

    def ensure_app_user(self):
        if self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = "
                     f"'{APP_USER}'").strip() != "1":
            self.psql(f"CREATE ROLE {APP_USER} LOGIN NOSUPERUSER "
                      f"NOCREATEDB NOCREATEROLE")

    def create_db(self, name, owner=APP_USER):
        """A new empty database NAME owned by OWNER (the schema is
        popgate's job); returns its URI for OWNER over TCP."""
        if owner == APP_USER:
            self.ensure_app_user()
        p = subprocess.run(
            [self.tool("createdb"), "-h", "127.0.0.1", "-p",
             str(self.port), "-U", SUPERUSER, "-O", owner, name],
            env=self.env, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise ServerError(f"createdb {name} failed:\n{p.stderr}")
        return self.uri(name, owner)

    def drop_db(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def uri(self, db, user=APP_USER):
        """postgresql://USER@127.0.0.1:PORT/DB (the form of the README)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def socket_uri(self, db, user=APP_USER):
        """The same database through the unix socket, in libpq's query
        form: postgresql:///DB?host=SOCKDIR&port=PORT&user=USER."""
        return (f"postgresql:///{db}?host={self.sock_dir}&port={self.port}"
                f"&user={user}")

    def tables(self, db):
        """The names of the tables in DB's public schema."""
        out = self.psql("SELECT tablename FROM pg_tables WHERE "
                        "schemaname = 'public' ORDER BY 1", db=db)
        return out.split()

    def connections(self, db):
        """How many sessions are connected to DB now."""
        return int(self.psql(f"SELECT count(*) FROM pg_stat_activity "
                             f"WHERE datname = '{db}'").strip())

    def cleanup(self):
        if self.running:
            self.stop("immediate")


# ---- Redis ----

class RespError(Exception):
    """An error reply (-ERR ...) from Redis."""


def resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespReader:
    def __init__(self, sock):
        self.f = sock.makefile("rb")

    def line(self):
        l = self.f.readline()
        if not l.endswith(b"\r\n"):
            raise ConnectionError(f"redis: connection closed ({l!r})")
        return l[:-2]

    def reply(self):
        l = self.line()
        t, rest = l[:1], l[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2].decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.reply() for _ in range(n)]
        raise ConnectionError(f"redis: bad reply {l!r}")

    def close(self):
        self.f.close()


class Redis:
    """A redis-server in BASE/redis, no persistence, on
    127.0.0.1:self.port."""

    def __init__(self, base):
        self.dir = os.path.join(base, "redis")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.port = None
        self.proc = None
        self.env = server_env(self.dir)
        if not os.access(REDIS_SERVER, os.X_OK):
            raise ServerError(f"{REDIS_SERVER} is not installed: run "
                              f"scripts/bootstrap as root")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        give(self.dir)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, port=None):
        """Starts redis-server (on PORT, else the port it had, else a
        free one) and waits for PONG. Returns self."""
        assert not self.running, "redis already running"
        if port is not None:
            self.port = port
        for attempt in range(3):
            if self.port is None:
                self.port = harness.free_ports(1)[0]
            offset = os.path.getsize(self.log_path) \
                if os.path.exists(self.log_path) else 0
            self.proc = popen_as(
                [REDIS_SERVER, "--port", str(self.port),
                 "--bind", "127.0.0.1", "--protected-mode", "yes",
                 "--unixsocket", "", "--daemonize", "no",
                 "--supervised", "no",
                 "--pidfile", os.path.join(self.dir, "redis.pid"),
                 "--dir", self.dir, "--logfile", "",
                 "--save", "", "--appendonly", "no",
                 "--databases", "16", "--loglevel", "warning"],
                cwd=self.dir, log_path=self.log_path, env=self.env)
            deadline = time.monotonic() + START_TIMEOUT
            while self.proc.poll() is None:
                try:
                    if self.command("PING", timeout=1) == "PONG":
                        return self
                except (OSError, ConnectionError, RespError):
                    pass
                if time.monotonic() > deadline:
                    stop_process(self.proc, signal.SIGKILL, 5)
                    raise ServerError(
                        f"redis-server not ready on 127.0.0.1:{self.port} "
                        f"after {START_TIMEOUT}s:\n{tail(self.log_path)}")
                time.sleep(0.05)
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                this_run = f.read().decode("utf-8", "replace")
            if "in use" in this_run and attempt < 2 and port is None:
                self.port = None
                continue
            raise ServerError(f"redis-server exited {self.proc.returncode} "
                              f"at start:\n{tail(self.log_path)}")
        raise AssertionError("unreachable")

    def stop(self):
        """Stops redis-server (SIGTERM; nothing is saved, so its data is
        gone) and waits until the port is free."""
        stop_process(self.proc, signal.SIGTERM)
        self.proc = None
        deadline = time.monotonic() + 10
        while not harness.port_is_free(self.port) and \
                time.monotonic() < deadline:
            time.sleep(0.05)

    def pause(self):
        """SIGSTOP: Redis hangs (connections are accepted by the kernel,
        nothing is answered), as an overloaded or stuck server does."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def uri(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self, *args, db=None, timeout=5):
        """One command (after SELECT DB) on a new connection; the reply
        (str, int, None, list; an error reply raises RespError)."""
        return self.pipeline([args], db=db, timeout=timeout)[0]

    def pipeline(self, commands, db=None, timeout=5):
        """Several commands on one connection; their replies."""
        if db is not None:
            commands = [("SELECT", db)] + list(commands)
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=timeout) as s:
            s.sendall(b"".join(resp_encode(c) for c in commands))
            r = RespReader(s)
            try:
                replies = [r.reply() for _ in commands]
            finally:
                r.close()
        for rep in replies:
            if isinstance(rep, RespError):
                raise rep
        return replies[1:] if db is not None else replies

    def keys(self, db):
        """{key: TTL in seconds (-1: none)} of every key in DB."""
        names = self.command("KEYS", "*", db=db)
        if not names:
            return {}
        ttls = self.pipeline([("TTL", k) for k in names], db=db)
        return dict(zip(names, ttls))

    def cleanup(self):
        if self.running:
            stop_process(self.proc, signal.SIGKILL, 5)
            self.proc = None


# ---- both ----

# Stops the servers and removes BASE when the test process is gone
# without its clean-up (killed): polls once a second. Ends by itself once
# BASE is removed (the normal clean-up).
WATCHDOG = r"""
parent=$1 base=$2
while kill -0 "$parent" 2>/dev/null && [ -d "$base" ]; do sleep 1; done
[ -d "$base" ] || exit 0
if [ -f "$base/pg/data/postmaster.pid" ]; then
    read -r pid < "$base/pg/data/postmaster.pid" && kill -QUIT "$pid"
fi
if [ -f "$base/redis/redis.pid" ]; then
    read -r pid < "$base/redis/redis.pid" && kill -KILL "$pid"
fi
sleep 2
rm -rf "$base"
"""


def start_watchdog(base):
    """A detached /bin/sh running WATCHDOG for BASE and this process."""
    return subprocess.Popen(["/bin/sh", "-c", WATCHDOG, "watchdog",
                             str(os.getpid()), base],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            start_new_session=True)


class Backends:
    """PostgreSQL and Redis in one base directory; cleanup() stops both
    and removes it (kept with POPGATE_KEEP=1)."""

    def __init__(self):
        self.base = make_base_dir()
        self.pg = None
        self.redis = None
        self.watchdog = None
        # Also when pytest is interrupted before the fixtures' teardown,
        # and (the watchdog) when it is killed.
        atexit.register(self.cleanup)
        self.watchdog = start_watchdog(self.base)
        try:
            self.pg = Postgres(self.base).start()
            self.redis = Redis(self.base).start()
        except BaseException:
            self.cleanup()
            raise

    def cleanup(self):
        try:
            if self.pg is not None:
                self.pg.cleanup()
        finally:
            if self.redis is not None:
                self.redis.cleanup()
            if os.environ.get("POPGATE_KEEP") != "1":
                shutil.rmtree(self.base, ignore_errors=True)
            if self.watchdog is not None:
                self.watchdog.kill()
                self.watchdog.wait()
