#!/usr/bin/env python3
"""End-to-end harness for wxsub (Python 3 standard library only).

One Env is a private world on loopback, everything under a fresh temp dir:

  redis-server      own port, no persistence
  WeChat stand-in   tests/standin/wechat_standin.py, random AppSecret
  web server        lighttpd (mod_fastcgi) or a private Apache (mod_fcgid),
                    configured FROM the shipped apache/lighttpd-wxsub.conf
                    and apache/wxsub-fcgid.conf by plain text substitution
                    of their install paths, plus the instance's own lines;
                    or one of the other deploy kits (DEPLOY_SERVERS):
                    apache/shared-hosting/.htaccess under mod_cgid or
                    mod_fcgid, also through suEXEC (SUEXEC_KINDS),
                    apache/wxsub-proxy-fcgi.conf with wxsub started by
                    apache/wxsub-spawn-fcgi; apache/nginx-wxsub.conf in a
                    private nginx, wxsub started the same way
  wxsub.conf        written here (api.md section 2), rewritable by tests

The binary is $WXSUB_BINARY, by default cgi-bin/wxsub.fcgi of this
checkout, copied into the world (bin/wxsub.fcgi): the world is 0755 under
a temp dir every user can enter, so Apache's children (www-data) reach
the binary, the config and the docroot wherever the checkout lies (root's
0700 home included). The same suite runs an ASan/UBSan build: ASAN_OPTIONS and
UBSAN_OPTIONS reach the FastCGI processes with a log_path in the temp dir,
and stopping an Env reports any sanitizer output, as well as any log line
holding the AppSecret, the api key or an access token the stand-in issued.

The server is chosen by $E2E_SERVER or set_server() (run.py does that):
"lighttpd" or "apache" (the whole suite runs on these), or one of
DEPLOY_SERVERS (only the classes that name it in their SERVERS attribute,
test_deploy.py, run on those).
"""

import atexit
import contextlib
import grp
import http.client
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STANDIN = os.path.join(REPO, "tests", "standin", "wechat_standin.py")
SHIPPED_APACHE = os.path.join(REPO, "apache", "wxsub-fcgid.conf")
SHIPPED_LIGHTTPD = os.path.join(REPO, "apache", "lighttpd-wxsub.conf")
SHIPPED_PROXY = os.path.join(REPO, "apache", "wxsub-proxy-fcgi.conf")
SHIPPED_SPAWN = os.path.join(REPO, "apache", "wxsub-spawn-fcgi")
SHIPPED_NGINX = os.path.join(REPO, "apache", "nginx-wxsub.conf")
SHIPPED_HTACCESS = os.path.join(REPO, "apache", "shared-hosting", ".htaccess")
SHIPPED_START = os.path.join(REPO, "apache", "shared-hosting",
                             "wxsub-start.sh")
DEFAULT_BINARY = os.path.join(REPO, "cgi-bin", "wxsub.fcgi")

# What the shipped files say (a `make install` with prefix /usr/local).
SHIPPED_BIN = "/usr/local/lib/cgi-bin/wxsub.fcgi"
SHIPPED_BINDIR = "/usr/local/lib/cgi-bin"
SHIPPED_CONF = "/usr/local/etc/wxsub.conf"
SHIPPED_SOCK = "/run/lighttpd/wxsub.sock"
SHIPPED_PROXY_SOCK = "/run/wxsub/wxsub.sock"        # wxsub-proxy-fcgi.conf
SHIPPED_USER_CGI = "/home/USER/public_html/cgi-bin"  # shared-hosting/
SHIPPED_USER_CONF = "/home/USER/etc/wxsub.conf"

# The whole suite runs on SERVERS; DEPLOY_SERVERS only run the test
# classes that name them in SERVERS (test_deploy.py).
SERVERS = ("lighttpd", "apache")
DEPLOY_SERVERS = ("apache-cgi", "apache-cgid", "apache-htaccess-fcgid",
                  "apache-proxy-fcgi", "apache-suexec-fcgid",
                  "apache-suexec-cgi", "nginx")
# The shared-hosting kit run through Apache's suEXEC (SuexecUserGroup):
# the user's cgi-bin lies under suexec's compiled-in docroot, owned by
# SUEXEC_USER (created if missing), and so is the config (0600).
SUEXEC_KINDS = ("apache-suexec-fcgid", "apache-suexec-cgi")
SUEXEC_BIN = "/usr/lib/apache2/suexec"
SUEXEC_USER = "wxsubsx"
ALL_SERVERS = SERVERS + DEPLOY_SERVERS
APACHE_SERVERS = ("apache",) + tuple(k for k in DEPLOY_SERVERS
                                     if k.startswith("apache-"))
SPAWN_PROCS = 4           # wxsub processes spawn-fcgi starts (proxy-fcgi, nginx)

APACHE_MODULES_DIR = "/usr/lib/apache2/modules"
APACHE_MODULES = [("mpm_event_module", "mod_mpm_event.so"),
                  ("authz_core_module", "mod_authz_core.so"),
                  ("alias_module", "mod_alias.so"),
                  ("mime_module", "mod_mime.so"),
                  ("env_module", "mod_env.so"),
                  ("setenvif_module", "mod_setenvif.so"),
                  ("log_config_module", "mod_log_config.so"),
                  ("reqtimeout_module", "mod_reqtimeout.so"),
                  ("fcgid_module", "mod_fcgid.so")]
# The other kinds: what a stock Debian Apache (or a shared host) loads,
# plus what the kind needs.
APACHE_BASE_MODULES = [m for m in APACHE_MODULES if m[0] != "fcgid_module"] \
    + [("rewrite_module", "mod_rewrite.so")]
APACHE_KIND_MODULES = {
    "apache-cgi": [("cgi_module", "mod_cgi.so")],
    "apache-cgid": [("cgid_module", "mod_cgid.so")],
    "apache-htaccess-fcgid": [("cgid_module", "mod_cgid.so"),
                              ("fcgid_module", "mod_fcgid.so")],
    "apache-proxy-fcgi": [("proxy_module", "mod_proxy.so"),
                          ("proxy_fcgi_module", "mod_proxy_fcgi.so"),
                          ("buffer_module", "mod_buffer.so")],
    "apache-suexec-fcgid": [("cgid_module", "mod_cgid.so"),
                            ("fcgid_module", "mod_fcgid.so"),
                            ("suexec_module", "mod_suexec.so")],
    "apache-suexec-cgi": [("cgi_module", "mod_cgi.so"),
                          ("suexec_module", "mod_suexec.so")],
}

# Stand-in identities and the templates of the default wxsub config.
APPID = "wxe2e0000000000001"
TPL1, TPL2, TPL3 = ("TPL_ONE_TIME_0001", "TPL_ONE_TIME_0002",
                    "TPL_ONE_TIME_0003")
TPL_UNKNOWN = "TPL_UNKNOWN_AT_WX"     # wxsub accepts it, WeChat does not
TPL_LONG = "TPL_LONG_TERM_0001"
TIMEOUT_MS = 1500                     # wechat.timeoutMs of the default config
LOCK_MS = TIMEOUT_MS + 2000           # the token lock's life (token.c)
TOKEN_KEY = "WECHAT:ACCESS_TOKEN"
LOCK_KEY = "WECHAT:APPEAL_TOKEN_LOCK"

_server = os.environ.get("E2E_SERVER", "lighttpd")

# What the run started, for run.py's summary (the cost of the fixtures).
STARTS = {"redis": 0, "stand-in": 0, "server": 0}


def set_server(name):
    global _server
    if name not in ALL_SERVERS:
        raise ValueError("server must be one of %s" % ", ".join(ALL_SERVERS))
    _server = name


def current_server():
    return _server


def binary_path():
    return os.path.abspath(os.environ.get("WXSUB_BINARY") or DEFAULT_BINARY)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openid(tag, n=0):
    """A valid 28-character openId, distinct per (tag, n)."""
    base = re.sub(r"[^A-Za-z0-9]", "", tag)[:14]
    s = "o%s_%d_" % (base, n)
    return (s + "x" * 28)[:28]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polled, reported below
            last = e
        time.sleep(interval)
    raise TimeoutError("timed out after %.1f s waiting for %s%s"
                       % (timeout, what, " (last error: %r)" % last
                          if last else ""))


# ---------------------------------------------------------------------------
# A tiny RESP client (no redis-py).

class RedisError(Exception):
    pass


class Resp:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buf = b""
        self.lock = threading.Lock()

    def close(self):
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self.buf = b""

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode("utf-8")
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self._exact(n).decode("utf-8", "surrogateescape")
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._reply() for _ in range(n)]
        raise RedisError("bad reply line %r" % line)

    def pipeline(self, commands):
        with self.lock:
            for attempt in (0, 1):
                try:
                    if self.sock is None:
                        self.sock = socket.create_connection(self.addr,
                                                             self.timeout)
                    self.sock.sendall(b"".join(self._encode(c)
                                               for c in commands))
                    return [self._reply() for _ in commands]
                except (OSError, ConnectionError):
                    self.close()
                    if attempt:
                        raise

    def __call__(self, *args):
        r = self.pipeline([args])[0]
        if isinstance(r, RedisError):
            raise r
        return r


# ---------------------------------------------------------------------------
# HTTP

def unique_members(pairs):
    """An answer naming a member twice is not an answer: json is None."""
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("a member is repeated: %r" % pairs)
    return d


class Response:
    """Unpacks as (status, headers, json); more in attributes."""

    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers          # lower-case names
        self.body = body                # bytes
        self.elapsed = elapsed          # seconds
        try:
            self.json = json.loads(body.decode("utf-8"),
                                   object_pairs_hook=unique_members) \
                if body else None
        except ValueError:
            self.json = None

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    def __repr__(self):
        return "<%d %s %.3fs %r>" % (self.status, self.headers.get(
            "content-type"), self.elapsed, self.body[:300])


JSON_CT = "application/json; charset=utf-8"
REQID_RE = re.compile(r"[0-9a-f]{16}\Z")


def http_request(port, method, path, body=None, headers=None, timeout=30.0):
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    elif isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        names = {k.lower() for k in headers}
        if body is not None and "content-length" not in names:
            headers["Content-Length"] = str(len(body))
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        return Response(r.status, hdrs, data, time.monotonic() - t0)
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Processes

def _kill_group(proc_or_pid, sig=signal.SIGTERM):
    pid = proc_or_pid if isinstance(proc_or_pid, int) else proc_or_pid.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie of ours counts as gone
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_start_time(pid):
    """When pid started (clock ticks since boot, /proc/PID/stat field
    22), or None if there is no such process or it is a zombie: a pid
    and its start time name one process, even after the pid is reused."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _stop_popen(proc, timeout=5.0):
    if proc is None or proc.poll() is not None:
        return
    _kill_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait(5)


def pids_with_config(conf_path):
    """Pids of the live processes whose environment holds exactly
    WXSUB_CONFIG=conf_path (the FastCGI processes of one world), this
    process aside."""
    needle = ("WXSUB_CONFIG=" + conf_path).encode()
    me, out = os.getpid(), []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if needle in f.read().split(b"\0") and _alive(int(d)):
                    out.append(int(d))
        except OSError:
            continue
    return out


def sweep_config(conf_path):
    """SIGKILL every process pids_with_config() names."""
    for pid in pids_with_config(conf_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _listening(path):
    """Whether a process accepts on the unix socket path (a server
    restarted in the same world leaves its old processes' sockets)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def _www_data():
    try:
        return pwd.getpwnam("www-data").pw_uid, grp.getgrnam("www-data").gr_gid
    except KeyError:
        return None, None


class SetupError(Exception):
    pass


def _can(st, uid, gids, bit):
    """Whether uid (with groups gids) has permission bit (4 r, 2 w, 1 x)
    on a file of stat st; root aside (it passes anyway)."""
    if st.st_uid == uid:
        return bool(st.st_mode >> 6 & bit)
    if st.st_gid in gids:
        return bool(st.st_mode >> 3 & bit)
    return bool(st.st_mode & bit)


def blocked_for(path, user="www-data", need=4):
    """Why `user` cannot reach path (every directory on the way must let
    it through, path itself grant `need`: 4 read, 5 read+execute), as
    one line, or None when it can. Servers run their children as
    www-data (Apache) or spawn-fcgi's user: a checkout under a 0700
    directory (root's home, `mktemp -d`) is out of their reach."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return "there is no user %s" % user
    gids = {pw.pw_gid} | {g.gr_gid for g in grp.getgrall()
                          if user in g.gr_mem}
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    try:
        for i in range(1, len(parts)):
            d = os.sep.join(parts[:i]) or os.sep
            st = os.stat(d)
            if not _can(st, pw.pw_uid, gids, 1):
                return "%s cannot enter %s (mode %o, owner uid %d), on " \
                    "the way to %s" % (user, d, st.st_mode & 0o7777,
                                       st.st_uid, path)
        st = os.stat(path)
    except FileNotFoundError:
        return None     # missing, not out of reach: what runs says so
    if not all(_can(st, pw.pw_uid, gids, b) for b in (4, 2, 1) if need & b):
        return "%s may not %s %s (mode %o)" % (
            user, "run" if need & 1 else "read", path, st.st_mode & 0o7777)
    return None


def world_base():
    """Where the private worlds are made: the temp dir when every user
    can enter it (the servers' users must), else /tmp."""
    def open_to_all(d):
        p = os.path.abspath(d)
        while True:
            if not os.stat(p).st_mode & 0o001:
                return False
            if p == os.sep:
                return True
            p = os.path.dirname(p)
    for d in (tempfile.gettempdir(), "/tmp"):
        if os.path.isdir(d) and open_to_all(d):
            return d
    raise SetupError("no temp dir every user can enter (%s, /tmp): set "
                     "TMPDIR to one" % tempfile.gettempdir())


def nginx_directive(name):
    """The value of a directive in the shipped nginx kit (its tests
    derive their waits and sizes from it)."""
    with open(SHIPPED_NGINX) as f:
        m = re.search(r"^\s*%s\s+([^;]+);" % re.escape(name), f.read(),
                      re.M)
    if m is None:
        raise SetupError("%s sets no %s" % (SHIPPED_NGINX, name))
    return m.group(1).strip()


def preflight(server):
    """What makes a whole pass on `server` impossible, as one line (or
    None): run.py says it once instead of failing every class."""
    b = binary_path()
    if not os.access(b, os.X_OK):
        return "no executable wxsub binary at %s (build it: make, or set " \
            "WXSUB_BINARY)" % b
    need = ["redis-server"]
    if server == "lighttpd":
        need.append("lighttpd")
    elif server in APACHE_SERVERS:
        need.append("apache2")
        if server == "apache-proxy-fcgi":
            need.append("spawn-fcgi")
    elif server == "nginx":
        need += ["nginx", "spawn-fcgi"]
    for cmd in need:
        if shutil.which(cmd) is None:
            return "%s is not installed (scripts/deps installs it)" % cmd
    try:
        world_base()
    except SetupError as e:
        return str(e)
    if server in APACHE_SERVERS + ("nginx",):
        if os.geteuid() != 0:
            return "%s needs root (its children run as www-data)" % server
        if _www_data()[0] is None:
            return "%s needs the www-data user" % server
    return None


_suexec_cache = {}


def suexec_settings():
    """What `suexec -V` says it was compiled with (AP_DOC_ROOT,
    AP_UID_MIN, AP_LOG_EXEC, ...), values unquoted."""
    if "settings" not in _suexec_cache:
        st = os.stat(SUEXEC_BIN) if os.path.exists(SUEXEC_BIN) else None
        if st is None or not st.st_mode & 0o4000 or st.st_uid != 0:
            raise SetupError("no setuid-root %s: install "
                             "apache2-suexec-pristine (scripts/deps)"
                             % SUEXEC_BIN)
        r = subprocess.run([SUEXEC_BIN, "-V"], capture_output=True,
                           text=True, timeout=10)
        out = {}
        for m in re.finditer(r'-D (\w+)=("?)(.*?)\2$', r.stdout + r.stderr,
                             re.M):
            out[m.group(1)] = m.group(3)
        if "AP_DOC_ROOT" not in out:
            raise SetupError("%s -V: %r" % (SUEXEC_BIN, r.stdout + r.stderr))
        _suexec_cache["settings"] = out
    return _suexec_cache["settings"]


def suexec_user():
    """uid, gid of SUEXEC_USER, a system user created if missing (the
    tests run as root on a throwaway machine); suexec refuses a uid or
    gid below its AP_UID_MIN / AP_GID_MIN."""
    try:
        pw = pwd.getpwnam(SUEXEC_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group",
                        "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", SUEXEC_USER],
                       check=True, capture_output=True, timeout=30)
        pw = pwd.getpwnam(SUEXEC_USER)
    s = suexec_settings()
    if pw.pw_uid < int(s.get("AP_UID_MIN", 0)) or \
            pw.pw_gid < int(s.get("AP_GID_MIN", 0)):
        raise SetupError("%s has uid/gid %d/%d, under suexec's minimum "
                         "%s/%s" % (SUEXEC_USER, pw.pw_uid, pw.pw_gid,
                                    s.get("AP_UID_MIN"), s.get("AP_GID_MIN")))
    return pw.pw_uid, pw.pw_gid


_live_envs = set()


@atexit.register
def _stop_live_envs():
    """An interrupted run (Ctrl-C between setUpClass and tearDownClass)
    still stops what it started."""
    for env in list(_live_envs):
        with contextlib.suppress(Exception):
            env.stop()


class Env:
    """One private world; see the module docstring.

    server: "lighttpd", "apache", one of DEPLOY_SERVERS, or None (Redis
    and stand-in only, for the plain CGI tests). overrides: wxsub config keys to change (None
    removes a key) for this Env's default configuration.
    """

    API_KEY = "e2e-api-key-" + os.urandom(12).hex()

    def __init__(self, server="lighttpd", overrides=None, binary=None,
                 base=None, shared=None):
        self.server = server
        # a started Env whose Redis and stand-in this one uses instead of
        # its own (E2ECase WORLD = "shared"); it never stops them
        self.shared = shared
        self.base = base     # where the world is made (default world_base())
        self.binary = os.path.abspath(binary or binary_path())
        self.overrides = dict(overrides or {})
        self.secret = "e2e-secret-" + os.urandom(12).hex()
        self.appid = APPID
        self.api_key = self.API_KEY
        self.tmp = None
        self.redis_proc = self.standin_proc = self.server_proc = None
        self.redis_port = self.standin_port = self.http_port = None
        self.apache_pid = None
        self.spawn_pidfile = None
        self.tokens_seen = set()
        self.extra_secrets = {}   # what -> set of values never to be logged
        self.extra_logs = []
        self.redis = None
        self.config_text = None
        self.script = None   # URL of the script, routes are appended
        self.user_cgi = None    # the user's cgi-bin (shared-hosting kinds)
        self.suexec_root = None      # the user's "home" under suexec's docroot
        self.suexec_log_start = None  # suexec's log size when we started
        # lines appended to the generated server config (E2ECase.SERVER_EXTRA)
        self.server_extra = []

    # -- life ----------------------------------------------------------------

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise SetupError("no executable wxsub binary at %s (build it: "
                             "make, or set WXSUB_BINARY)" % self.binary)
        self.tmp = tempfile.mkdtemp(prefix="wxsub-e2e-",
                                    dir=self.base or world_base())
        _live_envs.add(self)
        os.chmod(self.tmp, 0o755)
        for d in ("bin", "etc", "san", "htdocs", "logs"):
            os.makedirs(os.path.join(self.tmp, d))
            os.chmod(os.path.join(self.tmp, d), 0o755)
        # The servers run wxsub as www-data (Apache, spawn-fcgi): it must
        # not depend on the checkout's directories letting them through.
        self.source_binary = self.binary
        self.binary = os.path.join(self.tmp, "bin", "wxsub.fcgi")
        shutil.copyfile(self.source_binary, self.binary)
        os.chmod(self.binary, 0o755)
        # sanitizer logs are written by the FastCGI processes (www-data)
        os.chmod(os.path.join(self.tmp, "san"), 0o1777)
        self.conf_path = os.path.join(self.tmp, "etc", "wxsub.conf")
        if self.shared is not None:
            sh = self.shared
            self.secret, self.appid = sh.secret, sh.appid
            self.redis_port, self.standin_port = sh.redis_port, sh.standin_port
            self.redis = Resp(self.redis_port)
        else:
            self.start_redis()
            self.start_standin()
        self.write_config()
        if self.server is not None:
            self.start_server()
        return self

    def stop(self):
        """Stop everything; return a list of problems found in the logs."""
        problems = []
        _live_envs.discard(self)
        with contextlib.suppress(Exception):
            self.stop_server()
        if self.standin_proc is not None or self.shared is not None:
            with contextlib.suppress(Exception):
                self.collect_tokens()
        _stop_popen(self.standin_proc)
        self.standin_proc = None
        if self.shared is None:
            self.stop_redis()
        elif self.redis is not None:
            self.redis.close()
        if self.tmp is not None:
            self._sweep()
            self._copy_suexec_log()
            problems = self.check_logs()
            if problems or os.environ.get("E2E_KEEP"):
                sys.stderr.write("e2e: kept %s\n" % self.tmp)
                if self.suexec_root:
                    sys.stderr.write("e2e: kept %s\n" % self.suexec_root)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
                if self.suexec_root:
                    shutil.rmtree(self.suexec_root, ignore_errors=True)
        return problems

    def detach(self):
        """Leave this world running when Python exits (scripts/demo):
        the atexit hook no longer stops it. Returns what runs, as
        {"redis"|"standin"|"server": (pid, start time)}; stopping it is
        then the caller's job."""
        _live_envs.discard(self)
        out = {}
        for what, proc in (("redis", self.redis_proc),
                           ("standin", self.standin_proc),
                           ("server", self.server_proc)):
            if proc is not None and proc.poll() is None:
                out[what] = (proc.pid, proc_start_time(proc.pid))
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        problems = self.stop()
        if problems and exc[0] is None:
            raise AssertionError("\n".join(problems))

    def _sweep(self):
        """Kill any process still carrying this Env's WXSUB_CONFIG (a
        FastCGI process a server left behind), by pid."""
        sweep_config(self.conf_path)

    def fcgi_pids(self):
        """Pids of the running wxsub processes of this Env."""
        return pids_with_config(self.conf_path)

    # -- Redis ---------------------------------------------------------------

    def start_redis(self):
        self._own_redis()
        STARTS["redis"] += 1
        if self.redis_port is None:
            self.redis_port = free_port()
        log = open(os.path.join(self.tmp, "logs", "redis.log"), "ab")
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--dir", self.tmp, "--protected-mode", "no",
             "--daemonize", "no"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        if self.redis is None:
            self.redis = Resp(self.redis_port)
        self.redis.close()
        wait_until(lambda: self.redis("PING") == "PONG", 10,
                   what="redis-server on port %d" % self.redis_port)

    def _own_redis(self):
        if self.shared is not None:
            raise SetupError("this class stops or starts Redis, which its "
                             "pass shares: give it WORLD = \"own\"")

    def stop_redis(self):
        self._own_redis()
        if self.redis is not None:
            self.redis.close()
        _stop_popen(self.redis_proc)
        self.redis_proc = None

    def redis_running(self):
        if self.shared is not None:
            return self.shared.redis_running()
        return self.redis_proc is not None and self.redis_proc.poll() is None

    # wxsub's own telemetry: counters in one hash that any answer may
    # bump (GET /metrics); not state a refusal could corrupt
    SNAPSHOT_IGNORE = ("WXSUB:metrics",)

    def snapshot(self):
        """Every key with its type, value and whether it has a TTL
        (SNAPSHOT_IGNORE aside)."""
        keys = sorted(k for k in self.redis("KEYS", "*")
                      if k not in self.SNAPSHOT_IGNORE)
        out = {}
        for k in keys:
            t = self.redis("TYPE", k)
            v = self.redis("GET", k) if t == "string" else t
            out[k] = (t, v, self.redis("TTL", k) >= 0)
        return out

    # -- stand-in --------------------------------------------------------------

    def start_standin(self):
        STARTS["stand-in"] += 1
        err = open(os.path.join(self.tmp, "logs", "standin.log"), "ab")
        self.standin_proc = subprocess.Popen(
            [sys.executable, STANDIN, "--port", "0", "--appid", self.appid,
             "--secret", self.secret],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
            start_new_session=True)
        err.close()
        deadline = time.monotonic() + 15
        line = b""
        fd = self.standin_proc.stdout
        while time.monotonic() < deadline and b"\n" not in line:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                ch = os.read(fd.fileno(), 256)
                if not ch:
                    break
                line += ch
        m = re.search(rb"standin listening on [^:\s]+:(\d+)", line)
        if not m:
            _stop_popen(self.standin_proc)
            raise SetupError("the stand-in did not start (%r); see %s"
                             % (line, os.path.join(self.tmp, "logs",
                                                   "standin.log")))
        self.standin_port = int(m.group(1))
        wait_until(lambda: self.control("GET", "/__control/ping")["ok"], 10,
                   what="the stand-in")

    def control(self, method, path, body=None):
        """A stand-in control call; returns its JSON (asserts 200)."""
        if body is None and method == "POST":
            body = {}
        r = http_request(self.standin_port, method, path, body,
                         {"Content-Type": "application/json"}
                         if body is not None else None, timeout=15)
        if r.status != 200:
            raise AssertionError("stand-in %s %s -> %r" % (method, path, r))
        return r.json

    def stats(self):
        s = self.control("GET", "/__control/stats")
        self.tokens_seen.update(s["tokens"]["all"])
        return s

    def calls(self):
        return self.stats()["calls"]

    def token_calls(self):
        c = self.calls()
        return c["stable_token"] + c["token"]

    def collect_tokens(self):
        self.stats()

    def fault(self, endpoint, kind, count=1, errcode=None, delay_ms=None):
        body = {"endpoint": endpoint, "kind": kind, "count": count}
        if errcode is not None:
            body["errcode"] = errcode
        if delay_ms is not None:
            body["delay_ms"] = delay_ms
        return self.control("POST", "/__control/fault", body)

    def quota(self, oid, tpl, count=1):
        return self.control("POST", "/__control/quota",
                            {"openid": oid, "template_id": tpl,
                             "count": count})["count"]

    def quota_left(self, oid, tpl):
        return self.control("GET", "/__control/quota?openid=%s&template_id=%s"
                            % (oid, tpl))["count"]

    def standin_token(self, force=False):
        """Fetch a stable token directly, as another program would."""
        r = http_request(self.standin_port, "POST", "/cgi-bin/stable_token",
                         {"grant_type": "client_credential",
                          "appid": self.appid, "secret": self.secret,
                          "force_refresh": force},
                         {"Content-Type": "application/json"})
        tok = r.json.get("access_token") if r.json else None
        if not tok:
            raise AssertionError("stand-in gave no token: %r" % r)
        self.tokens_seen.add(tok)
        return tok, r.json["expires_in"]

    # -- wxsub config ------------------------------------------------------------

    def default_config(self):
        return {
            "wechat.appid": self.appid,
            "wechat.secret": self.secret,
            "wechat.templateId": TPL1,
            "wechat.templateIds": ",".join([TPL1, TPL2, TPL3, TPL_UNKNOWN]),
            "wechat.longTermTemplateIds": TPL_LONG,
            "wechat.apiBase": "http://127.0.0.1:%d" % self.standin_port,
            "wechat.timeoutMs": str(TIMEOUT_MS),
            "redis.url": "redis://127.0.0.1:%d/0" % self.redis_port,
            # The 400 ms default is for a healthy Redis; a test Redis on
            # two cores shared with sanitizer builds and busy loops can
            # stall longer than that. Tests of a frozen Redis set their own.
            "redis.timeoutMs": "3000",
            "auth.apiKeys": self.api_key,
        }

    def render_config(self, overrides=None):
        cfg = self.default_config()
        for src in (self.overrides, overrides or {}):
            for k, v in src.items():
                if v is None:
                    cfg.pop(k, None)
                else:
                    cfg[k] = v
        lines = ["# wxsub configuration written by tests/e2e/harness.py", ""]
        lines += ["%s = %s" % kv for kv in cfg.items()]
        return "\n".join(lines) + "\n"

    def write_config(self, overrides=None, text=None):
        """Write the wxsub config: the defaults with overrides, or text
        as it is. Readable by www-data only through its group (0640);
        under suEXEC owned by SUEXEC_USER, 0600 (README.txt's advice)."""
        self.config_text = text if text is not None else \
            self.render_config(overrides)
        tmp = self.conf_path + ".new"
        with open(tmp, "w") as f:
            f.write(self.config_text)
        if self.server in SUEXEC_KINDS:
            os.chown(tmp, *suexec_user())
            os.chmod(tmp, 0o600)
        else:
            _, gid = _www_data()
            if gid is not None:
                os.chown(tmp, 0, gid)
            os.chmod(tmp, 0o640)
        os.replace(tmp, self.conf_path)
        return self.conf_path

    def reconfigure(self, overrides=None, text=None):
        """Rewrite the config and restart the web server."""
        self.write_config(overrides, text)
        if self.server is not None:
            self.restart_server()

    # -- sanitizers ----------------------------------------------------------------

    def sanitizer_env(self):
        san = os.path.join(self.tmp, "san")
        asan = "log_path=%s/asan:detect_leaks=1:abort_on_error=0" % san
        ubsan = "log_path=%s/ubsan:print_stacktrace=1:halt_on_error=1" % san
        if os.environ.get("ASAN_OPTIONS"):
            asan = os.environ["ASAN_OPTIONS"] + ":" + asan
        if os.environ.get("UBSAN_OPTIONS"):
            ubsan = os.environ["UBSAN_OPTIONS"] + ":" + ubsan
        return {"ASAN_OPTIONS": asan, "UBSAN_OPTIONS": ubsan}

    # -- web servers -------------------------------------------------------------------

    @staticmethod
    def _substitute(text, pairs, fname):
        for old, new in pairs:
            if old not in text:
                raise SetupError("%s no longer contains %r: the harness "
                                 "substitutes it" % (fname, old))
            text = text.replace(old, new)
        return text

    def start_server(self):
        STARTS["server"] += 1
        if self.http_port is None:
            self.http_port = free_port()
        if self.server == "lighttpd":
            self._start_lighttpd()
        elif self.server == "apache":
            self._start_apache()
        elif self.server == "nginx":
            self._start_nginx()
        elif self.server in DEPLOY_SERVERS:
            self._start_deploy_kind()
        else:
            raise SetupError("unknown server %r" % self.server)
        self.wait_ready()

    def stop_server(self):
        if self.server in ("lighttpd", "nginx"):
            _stop_popen(self.server_proc, timeout=10)
            self.server_proc = None
        elif self.server in APACHE_SERVERS and self.apache_pid is not None:
            subprocess.run(["apache2", "-f", self.apache_conf, "-k", "stop"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not _alive(self.apache_pid), 10,
                           what="apache to stop")
            if _alive(self.apache_pid):
                _kill_group(self.apache_pid, signal.SIGKILL)
            self.apache_pid = None
        if self.server in ("apache-proxy-fcgi", "nginx"):
            self._stop_spawned()
        if self.tmp is not None:
            # FastCGI processes must be gone before the next start, so
            # that a rewritten config is read by every process.
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not self.fcgi_pids(), 5,
                           what="FastCGI processes to exit")
            self._sweep()

    def restart_server(self):
        self.stop_server()
        self.start_server()

    def server_alive(self):
        if self.server in ("lighttpd", "nginx"):
            return self.server_proc is not None and \
                self.server_proc.poll() is None
        if self.server in APACHE_SERVERS:
            return self.apache_pid is not None and _alive(self.apache_pid)
        return False

    def _start_lighttpd(self):
        d = os.path.join(self.tmp, "lighttpd")
        os.makedirs(d, exist_ok=True)
        os.makedirs(os.path.join(d, "upload"), exist_ok=True)
        with open(SHIPPED_LIGHTTPD) as f:
            shipped = f.read()
        senv = self.sanitizer_env()
        benv = '"WXSUB_CONFIG" => "%s",\n            "ASAN_OPTIONS" => "%s",' \
            '\n            "UBSAN_OPTIONS" => "%s"' % (
                self.conf_path, senv["ASAN_OPTIONS"], senv["UBSAN_OPTIONS"])
        body = self._substitute(shipped, [
            ('"WXSUB_CONFIG" => "%s"' % SHIPPED_CONF, benv),
            (SHIPPED_BIN, self.binary),
            (SHIPPED_SOCK, os.path.join(d, "wxsub.sock")),
        ], SHIPPED_LIGHTTPD)
        head = "\n".join([
            "# generated by tests/e2e/harness.py from %s" % SHIPPED_LIGHTTPD,
            'server.document-root = "%s"' % os.path.join(self.tmp, "htdocs"),
            "server.port = %d" % self.http_port,
            'server.bind = "127.0.0.1"',
            'server.errorlog = "%s"' % os.path.join(d, "error.log"),
            'server.breakagelog = "%s"' % os.path.join(d, "breakage.log"),
            'server.upload-dirs = ( "%s" )' % os.path.join(d, "upload"),
            "", "# ---- the shipped file, paths substituted ----", ""])
        self.lighttpd_conf = os.path.join(d, "lighttpd.conf")
        with open(self.lighttpd_conf, "w") as f:
            f.write(head + body + self._extra())
        chk = subprocess.run(["lighttpd", "-tt", "-f", self.lighttpd_conf],
                             capture_output=True, text=True, timeout=20)
        if chk.returncode != 0:
            raise SetupError("lighttpd refuses %s: %s" % (
                self.lighttpd_conf, chk.stderr + chk.stdout))
        out = open(os.path.join(d, "stdout.log"), "ab")
        self.server_proc = subprocess.Popen(
            ["lighttpd", "-D", "-f", self.lighttpd_conf],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL,
            start_new_session=True)
        out.close()
        self.script = "/cgi-bin/wxsub.fcgi"

    def _check_reach(self, user, items):
        """Fail at once, in one line, if `user` (the one the server runs
        wxsub as) cannot reach one of items, (path, need) pairs."""
        for path, need in items:
            why = blocked_for(path, user, need)
            if why:
                raise SetupError("%s cannot work: %s" % (self.server, why))

    def _apache_head(self, origin, d, run, modules, docroot):
        """The lines every private Apache starts with: its own root,
        pid file, port, log, the modules that exist here, and a
        DocumentRoot with everything denied by default."""
        loads = []
        for name, so in modules:
            path = os.path.join(APACHE_MODULES_DIR, so)
            if os.path.exists(path):
                loads.append("LoadModule %s %s" % (name, path))
        return [
            "# generated by tests/e2e/harness.py %s" % origin,
            'ServerRoot "%s"' % d,
            'DefaultRuntimeDir "%s"' % run,
            'PidFile "%s"' % os.path.join(run, "httpd.pid"),
            "Listen 127.0.0.1:%d" % self.http_port,
            "ServerName 127.0.0.1",
            "User www-data",
            "Group www-data",
            'ErrorLog "%s"' % os.path.join(d, "error.log"),
            "LogLevel warn",
        ] + loads + [
            "TypesConfig /etc/mime.types",
            'DocumentRoot "%s"' % docroot,
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
        ]

    def _start_apache(self):
        d = os.path.join(self.tmp, "apache")
        run = os.path.join(d, "run")
        ipc = os.path.join(d, "fcgid")
        for p in (d, run, ipc):
            os.makedirs(p, exist_ok=True)
            os.chmod(p, 0o755)
        uid, gid = _www_data()
        if uid is None:
            raise SetupError("Apache needs the www-data user")
        os.chown(ipc, uid, gid)
        bindir = os.path.dirname(self.binary)
        with open(SHIPPED_APACHE) as f:
            shipped = f.read()
        body = self._substitute(shipped, [
            (SHIPPED_BINDIR, bindir),
            (SHIPPED_CONF, self.conf_path),
        ], SHIPPED_APACHE)
        senv = self.sanitizer_env()
        head = "\n".join(self._apache_head(
            "from %s" % SHIPPED_APACHE, d, run, APACHE_MODULES,
            os.path.join(self.tmp, "htdocs")) + [
            # mod_fcgid looks PATH_INFO up under DocumentRoot for
            # PATH_TRANSLATED: a denied lookup logs an error per request
            '<Directory "%s">' % os.path.join(self.tmp, "htdocs"),
            "    Require all granted",
            "</Directory>",
            'LogFormat "%h %t \\"%r\\" %>s %b %D" e2e',
            'CustomLog "%s" e2e' % os.path.join(d, "access.log"),
            'FcgidIPCDir "%s"' % ipc,
            'FcgidProcessTableFile "%s"' % os.path.join(ipc, "shm"),
            "FcgidInitialEnv ASAN_OPTIONS %s" % senv["ASAN_OPTIONS"],
            "FcgidInitialEnv UBSAN_OPTIONS %s" % senv["UBSAN_OPTIONS"],
            "", "# ---- the shipped file, paths substituted ----", ""])
        self._check_reach("www-data", [(self.binary, 5), (self.conf_path, 4),
                                       (os.path.join(self.tmp, "htdocs"), 1)])
        self._run_apache(d, head + body)
        self.script = "/cgi-bin/" + os.path.basename(self.binary)

    def _extra(self):
        """The test's own server lines (a shorter timeout, a smaller
        pool), after the shipped file so that they win."""
        if not self.server_extra:
            return ""
        return "\n# ---- the test's own lines ----\n" + \
            "\n".join(self.server_extra) + "\n"

    def _run_apache(self, d, text):
        """Write d/httpd.conf and start that Apache; its pid file is
        d/run/httpd.pid."""
        self.apache_conf = os.path.join(d, "httpd.conf")
        with open(self.apache_conf, "w") as f:
            f.write(text + self._extra())
        r = subprocess.run(["apache2", "-f", self.apache_conf, "-k", "start"],
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise SetupError("apache2 -k start failed: %s%s" % (r.stdout,
                                                                 r.stderr))
        pidfile = os.path.join(d, "run", "httpd.pid")
        wait_until(lambda: os.path.exists(pidfile) and
                   open(pidfile).read().strip(), 10, what="apache's pid file")
        self.apache_pid = int(open(pidfile).read().strip())

    # -- the other deploy kits (DEPLOY_SERVERS) --------------------------------------

    def _start_deploy_kind(self):
        """apache-cgi, apache-cgid, apache-htaccess-fcgid: a user's
        cgi-bin under the DocumentRoot holding the binary and the shipped
        .htaccess (and wxsub-start.sh), the server config granting only
        what shared-hosting/README.txt asks of a host (AllowOverride
        FileInfo Options=ExecCGI). mod_cgi, mod_cgid, or mod_cgid and
        mod_fcgid both loaded as on a host that offers mod_fcgid.
        apache-proxy-fcgi: the shipped wxsub-proxy-fcgi.conf, wxsub
        started by the shipped wxsub-spawn-fcgi on a unix socket.
        apache-suexec-fcgid, apache-suexec-cgi: the user's cgi-bin as for
        apache-htaccess-fcgid / apache-cgi, but in a fresh directory
        under suexec's docroot (AP_DOC_ROOT, /var/www on Debian), owned
        by SUEXEC_USER, and SuexecUserGroup in the server config: Apache
        (as www-data, suexec's AP_HTTPD_USER) runs the script through
        /usr/lib/apache2/suexec."""
        kind = self.server
        d = os.path.join(self.tmp, "apache")
        run = os.path.join(d, "run")
        for p in (d, run):
            os.makedirs(p, exist_ok=True)
            os.chmod(p, 0o755)
        uid, gid = _www_data()
        if uid is None:
            raise SetupError("Apache needs the www-data user")
        os.chown(run, uid, gid)          # mod_cgid's daemon socket
        senv = self.sanitizer_env()
        if kind == "apache-proxy-fcgi":
            docroot = os.path.join(self.tmp, "htdocs")
        elif kind in SUEXEC_KINDS:
            settings = suexec_settings()
            top = settings["AP_DOC_ROOT"]
            if not os.path.isdir(top):
                raise SetupError("suexec's docroot %s does not exist" % top)
            if self.suexec_root is None:
                self.suexec_root = tempfile.mkdtemp(prefix="wxsub-e2e-",
                                                    dir=top)
            docroot = os.path.join(self.suexec_root, "public_html")
            log = settings.get("AP_LOG_EXEC", "")
            self.suexec_log_start = os.path.getsize(log) \
                if os.path.exists(log) else 0
        else:
            docroot = os.path.join(self.tmp, "home", "public_html")
        head = self._apache_head(
            "(%s)" % kind, d, run,
            APACHE_BASE_MODULES + APACHE_KIND_MODULES[kind], docroot) + [
            '<FilesMatch "^\\.ht">',
            "    Require all denied",
            "</FilesMatch>",
            'LogFormat "%h %t \\"%r\\" %>s %b %D" e2e',
            'CustomLog "%s" e2e' % os.path.join(d, "access.log"),
        ]
        if kind == "apache-proxy-fcgi":
            sp = os.path.join(d, "spawn")
            os.makedirs(sp, exist_ok=True)
            os.chmod(sp, 0o755)
            sock = os.path.join(sp, "wxsub.sock")
            with open(SHIPPED_PROXY) as f:
                body = self._substitute(f.read(), [(SHIPPED_PROXY_SOCK, sock)],
                                        SHIPPED_PROXY)
            head += [
                # PATH_TRANSLATED is looked up under DocumentRoot: a
                # denied lookup logs an error per request
                '<Directory "%s">' % docroot,
                "    Require all granted",
                "</Directory>",
                "", "# ---- %s, socket substituted ----" % SHIPPED_PROXY, ""]
            self._start_spawned(sp, sock)
        else:
            self._user_cgi_bin(docroot)
            head += [
                "<IfModule cgid_module>",
                '    ScriptSock "%s"' % os.path.join(run, "cgid.sock"),
                "</IfModule>",
                '<Directory "%s">' % docroot,
                "    AllowOverride FileInfo Options=ExecCGI",
                "    Require all granted",
                "</Directory>",
                # the CGI processes' environment (mod_cgid)
                'SetEnv ASAN_OPTIONS "%s"' % senv["ASAN_OPTIONS"],
                'SetEnv UBSAN_OPTIONS "%s"' % senv["UBSAN_OPTIONS"],
            ]
            if kind in SUEXEC_KINDS:
                # (suexec passes neither *SAN_OPTIONS nor any other
                # variable off its safe list: a sanitizer report goes to
                # the error log, which check_logs reads)
                head += ["SuexecUserGroup %s %s" % (SUEXEC_USER,
                                                    SUEXEC_USER)]
            if kind in ("apache-htaccess-fcgid", "apache-suexec-fcgid"):
                ipc = os.path.join(d, "fcgid")
                os.makedirs(ipc, exist_ok=True)
                os.chown(ipc, uid, gid)
                head += [
                    'FcgidIPCDir "%s"' % ipc,
                    'FcgidProcessTableFile "%s"' % os.path.join(ipc, "shm"),
                    "FcgidInitialEnv ASAN_OPTIONS %s" % senv["ASAN_OPTIONS"],
                    "FcgidInitialEnv UBSAN_OPTIONS %s"
                    % senv["UBSAN_OPTIONS"],
                ]
            head += ["", "# the rest is %s/.htaccess, from %s"
                     % (os.path.join(docroot, "cgi-bin"), SHIPPED_HTACCESS),
                     ""]
            body = ""
            self._check_reach(
                SUEXEC_USER if kind in SUEXEC_KINDS else "www-data",
                [(os.path.join(self.user_cgi, "wxsub.fcgi"), 5),
                 (self.conf_path, 4)])
        self._run_apache(d, "\n".join(head) + "\n" + body)
        self.script = "/cgi-bin/wxsub.fcgi"

    def _user_cgi_bin(self, docroot):
        """What a user uploads to a shared host: the binary as
        cgi-bin/wxsub.fcgi, the shipped .htaccess and wxsub-start.sh with
        their /home/USER paths substituted. Under suEXEC all of it, up to
        the user's "home", is owned by SUEXEC_USER (suexec refuses a
        script or directory owned by anyone else)."""
        cgi = os.path.join(docroot, "cgi-bin")
        os.makedirs(cgi, exist_ok=True)
        self.user_cgi = cgi
        owner = suexec_user() if self.server in SUEXEC_KINDS else None
        home = self.suexec_root if owner else self.tmp
        p = cgi
        while True:
            os.chmod(p, 0o755)
            if owner:
                os.chown(p, *owner)
            if p == home:
                break
            p = os.path.dirname(p)
        pairs = [(SHIPPED_USER_CGI, cgi), (SHIPPED_USER_CONF, self.conf_path)]
        target = os.path.join(cgi, "wxsub.fcgi")
        shutil.copyfile(self.binary, target + ".new")
        os.chmod(target + ".new", 0o755)
        os.replace(target + ".new", target)
        for src, mode in ((SHIPPED_HTACCESS, 0o644), (SHIPPED_START, 0o755)):
            with open(src) as f:
                text = f.read()
            text = self._substitute(text, pairs, src)
            out = os.path.join(cgi, os.path.basename(src))
            with open(out, "w") as f:
                f.write(text)
            os.chmod(out, mode)
        if owner:
            for fn in os.listdir(cgi):
                os.chown(os.path.join(cgi, fn), *owner)
        return cgi

    def suexec_log(self):
        """What suexec logged (AP_LOG_EXEC) since this Env's server
        started: a line per exec naming uid, gid and command, or why it
        refused."""
        if self.suexec_log_start is None:
            return ""
        try:
            with open(suexec_settings()["AP_LOG_EXEC"], "rb") as f:
                f.seek(self.suexec_log_start)
                return f.read().decode("utf-8", "replace")
        except (OSError, KeyError):
            return ""

    def _copy_suexec_log(self):
        """suexec's lines of this run into logs/suexec.log (log_tail and
        check_logs see them)."""
        text = self.suexec_log()
        if text and self.tmp:
            with open(os.path.join(self.tmp, "logs", "suexec.log"), "w") as f:
                f.write(text)

    # A hosting panel's regex locations (BT panel's defaults): the kit's
    # ^~ location must win over them, or every route is a static 404.
    NGINX_PANEL_LOCATIONS = [
        "location ~ .*\\.(gif|jpg|jpeg|png|bmp|swf)$ { expires 30d; }",
        "location ~ .*\\.(js|css)?$ { expires 12h; }",
        "location ~ /\\. { deny all; }",
    ]

    def _start_nginx(self):
        """The shipped nginx-wxsub.conf included in the server block of a
        private nginx (workers as www-data, its own prefix, temp dirs and
        logs), wxsub started by the shipped wxsub-spawn-fcgi on a unix
        socket, as for apache-proxy-fcgi."""
        d = os.path.join(self.tmp, "nginx")
        sp = os.path.join(d, "spawn")
        for p in (d, sp):
            os.makedirs(p, exist_ok=True)
            os.chmod(p, 0o755)
        if _www_data()[0] is None:
            raise SetupError("nginx's workers need the www-data user")
        if self.server_extra:
            # nginx refuses a directive set twice in one block: the kit's
            # location values cannot be overridden by appending lines
            raise SetupError("SERVER_EXTRA is not supported for nginx")
        sock = os.path.join(sp, "wxsub.sock")
        with open(SHIPPED_NGINX) as f:
            kit = self._substitute(f.read(), [(SHIPPED_PROXY_SOCK, sock)],
                                   SHIPPED_NGINX)
        with open(os.path.join(d, "nginx-wxsub.conf"), "w") as f:
            f.write(kit)
        # the kit includes Debian's fastcgi_params, relative to the
        # configuration's directory
        shutil.copyfile("/etc/nginx/fastcgi_params",
                        os.path.join(d, "fastcgi_params"))
        temps = ["%s_temp_path %s;" % (t, os.path.join(d, t))
                 for t in ("client_body", "fastcgi", "proxy", "scgi",
                           "uwsgi")]
        self.nginx_conf = os.path.join(d, "nginx.conf")
        with open(self.nginx_conf, "w") as f:
            f.write("\n".join([
                "# generated by tests/e2e/harness.py (nginx)",
                "user www-data;",
                "worker_processes 1;",
                "pid %s;" % os.path.join(d, "nginx.pid"),
                "error_log %s warn;" % os.path.join(d, "error.log"),
                "events { worker_connections 1024; }",
                "http {",
                "    access_log %s;" % os.path.join(d, "access.log"),
                "    default_type application/octet-stream;",
                ] + ["    " + t for t in temps] + [
                "    server {",
                "        listen 127.0.0.1:%d;" % self.http_port,
                "        server_name 127.0.0.1;",
                "        root %s;" % os.path.join(self.tmp, "htdocs"),
                ] + ["        " + loc for loc in self.NGINX_PANEL_LOCATIONS]
                + ["        # ---- %s, socket substituted ----"
                   % SHIPPED_NGINX,
                   "        include nginx-wxsub.conf;",
                   "    }", "}", ""]))
        nginx = ["nginx", "-p", d + "/", "-e", os.path.join(d, "error.log"),
                 "-c", self.nginx_conf]
        chk = subprocess.run(nginx + ["-t", "-q"], capture_output=True,
                             text=True, timeout=20, stdin=subprocess.DEVNULL)
        if chk.returncode != 0:
            raise SetupError("nginx refuses %s: %s" % (
                self.nginx_conf, chk.stderr + chk.stdout))
        self._start_spawned(sp, sock)
        out = open(os.path.join(d, "stdout.log"), "ab")
        self.server_proc = subprocess.Popen(
            nginx + ["-g", "daemon off;"], stdout=out, stderr=out,
            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.script = "/cgi-bin/wxsub.fcgi"

    def _start_spawned(self, sp, sock):
        """wxsub processes on a unix socket, started by the shipped
        apache/wxsub-spawn-fcgi with its settings in the environment."""
        self.spawn_pidfile = os.path.join(sp, "wxsub.pid")
        self._check_reach("www-data", [(self.binary, 5), (self.conf_path, 4)])
        e = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
             "WXSUB_BIN": self.binary,
             "WXSUB_CONFIG": self.conf_path,
             "WXSUB_SOCKET": sock,
             "WXSUB_PIDFILE": self.spawn_pidfile,
             "WXSUB_LOG": os.path.join(os.path.dirname(sp), "wxsub.log"),
             "WXSUB_PROCS": str(SPAWN_PROCS),
             "WXSUB_USER": "www-data"}
        e.update(self.sanitizer_env())
        r = subprocess.run(["sh", SHIPPED_SPAWN], env=e, capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise SetupError("%s failed: %s%s" % (SHIPPED_SPAWN, r.stdout,
                                                   r.stderr))

    def spawned_pids(self):
        """The pids spawn-fcgi wrote (apache-proxy-fcgi)."""
        try:
            with open(self.spawn_pidfile) as f:
                return [int(x) for x in f.read().split()]
        except (OSError, TypeError, ValueError):
            return []

    def _stop_spawned(self):
        pids = self.spawned_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not any(_alive(p) for p in pids), 5,
                       what="the spawned wxsub processes to exit")
        for pid in pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def wait_ready(self, timeout=20):
        """Until wxsub itself answers (its JSON with X-Request-Id)."""
        def ready():
            if not self.server_alive():
                raise SetupError("%s exited; see %s" % (self.server,
                                                        self.tmp))
            r = http_request(self.http_port, "GET", self.script + "/health",
                             timeout=5)
            return "x-request-id" in r.headers and r.json is not None
        try:
            wait_until(ready, timeout, interval=0.1,
                       what="wxsub behind %s" % self.server)
        except TimeoutError:
            self._copy_suexec_log()
            raise SetupError("wxsub behind %s never answered; logs in %s:\n%s"
                             % (self.server, self.tmp, self.log_tail()))

    def settle(self, n=8, timeout=10):
        """After a request that may have killed a FastCGI process: wait
        until n answers in a row are wxsub's own 200 to /health, so that
        what follows does not meet the dead process."""
        def healthy():
            for _ in range(n):
                r = http_request(self.http_port, "GET",
                                 self.script + "/health", timeout=5)
                if r.status != 200 or "x-request-id" not in r.headers:
                    return False
            return True
        if self.server is not None:
            wait_until(healthy, timeout, interval=0.2,
                       what="the server to recover")

    # -- requests to wxsub ---------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, auth=True,
             raw_path=False, check=True, timeout=30.0):
        """A request to wxsub: path is a route ("/send", with a query if
        any) unless raw_path. A JSON body gets Content-Type
        application/json unless headers say otherwise; auth=True sends the
        api key, a string sends that as the bearer, False nothing.
        With check, the answer must be wxsub's: JSON with the contract's
        Content-Type and an X-Request-Id."""
        h = {}
        if body is not None:
            h["Content-Type"] = "application/json"
        if auth is True:
            h["Authorization"] = "Bearer " + self.api_key
        elif auth:
            h["Authorization"] = "Bearer " + auth
        for k, v in (headers or {}).items():
            for old in list(h):
                if old.lower() == k.lower():
                    del h[old]
            if v is not None:
                h[k] = v
        url = path if raw_path else self.script + path
        r = http_request(self.http_port, method, url, body, h, timeout)
        if check:
            assert_wxsub_answer(r, "%s %s" % (method, url))
        return r

    def get(self, path, **kw):
        return self.http("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.http("POST", path, body, **kw)

    def record(self, oid, tpls, **kw):
        if isinstance(tpls, str):
            tpls = [tpls]
        return self.post("/record", {"openId": oid, "templateIds": tpls},
                         **kw)

    def send(self, oid, tpl=None, data=None, **extra):
        body = {"openId": oid, "data": data or {"thing1": "hello"}}
        if tpl is not None:
            body["templateId"] = tpl
        body.update(extra)
        return self.post("/send", body)

    def credit(self, oid, tpl):
        v = self.redis("GET", "SUBSCRIBE:%s:%s" % (tpl, oid))
        return None if v is None else int(v)

    def give_credit(self, oid, tpl, n=1, quota=True):
        """n credits in Redis (as /record would) and, with quota, n at
        the stand-in (the user really accepted n times)."""
        self.redis("INCRBY", "SUBSCRIBE:%s:%s" % (tpl, oid), n)
        if quota:
            self.quota(oid, tpl, n)

    def add_secret(self, what, value):
        """A value (session token, session_key...) no log may hold."""
        if value:
            self.extra_secrets.setdefault(what, set()).add(value)

    def reset(self):
        """Between tests: empty Redis (every database), a fresh stand-in."""
        if not self.redis_running():
            (self.shared or self).start_redis()
        self.redis("FLUSHALL")
        self.collect_tokens()
        self.control("POST", "/__control/reset")     # faults included

    # -- plain CGI ------------------------------------------------------------------------

    def cgi(self, method, route, body=b"", env=None, config=None, timeout=20):
        """Run the binary as plain CGI (no web server). Returns a Response
        built from its output; its stderr is kept for the log checks."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        e = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
             "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
             "SCRIPT_NAME": "/cgi-bin/wxsub.fcgi", "REMOTE_ADDR": "127.0.0.1",
             "WXSUB_CONFIG": config or self.conf_path, "QUERY_STRING": ""}
        if route is not None:
            e["PATH_INFO"] = route
        if body:
            e["CONTENT_TYPE"] = "application/json"
            e["CONTENT_LENGTH"] = str(len(body))
        e.update(self.sanitizer_env())
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return self._run_cgi([self.binary], body, e, timeout)

    def fastcgi_sockets(self):
        """The sockets the web server's FastCGI processes listen on
        (those that accept a connection)."""
        import stat
        out = []
        for d in (os.path.join(self.tmp, "lighttpd"),
                  os.path.join(self.tmp, "apache", "fcgid"),
                  os.path.join(self.tmp, "apache", "spawn"),
                  os.path.join(self.tmp, "nginx", "spawn")):
            if not os.path.isdir(d):
                continue
            for fn in sorted(os.listdir(d)):
                p = os.path.join(d, fn)
                with contextlib.suppress(OSError):
                    if stat.S_ISSOCK(os.stat(p).st_mode) and _listening(p):
                        out.append(p)
        return out

    def fastcgi(self, sock, method, route, body=b"", env=None, timeout=20):
        """One request straight to a running FastCGI process with
        cgi-fcgi (no web server in between to normalise anything)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        e = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
             "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
             "SCRIPT_NAME": "/cgi-bin/wxsub.fcgi", "REMOTE_ADDR": "127.0.0.1",
             "QUERY_STRING": ""}
        if route is not None:
            e["PATH_INFO"] = route
        if body:
            e["CONTENT_TYPE"] = "application/json"
            e["CONTENT_LENGTH"] = str(len(body))
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return self._run_cgi(["cgi-fcgi", "-bind", "-connect", sock], body,
                             e, timeout)

    def _run_cgi(self, argv, body, env, timeout):
        t0 = time.monotonic()
        p = subprocess.run(argv, input=body, env=env, capture_output=True,
                           timeout=timeout)
        elapsed = time.monotonic() - t0
        errf = os.path.join(self.tmp, "logs", "cgi-stderr-%d.log"
                            % len(self.extra_logs))
        with open(errf, "wb") as f:
            f.write(p.stderr)
        self.extra_logs.append(errf)
        head, _, data = p.stdout.partition(b"\r\n\r\n")
        hdrs, status = {}, None
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                k = k.strip().lower()
                hdrs[k] = hdrs[k] + ", " + v.strip() if k in hdrs \
                    else v.strip()
        if "status" in hdrs:
            status = int(hdrs["status"].split()[0])
        r = Response(status, hdrs, data, elapsed)
        r.returncode = p.returncode
        r.stderr = p.stderr.decode("utf-8", "replace")
        r.stdout = p.stdout
        return r

    # -- logs ------------------------------------------------------------------------------

    def log_files(self):
        """This world's logs, and those of the Redis and stand-in it
        shares (so each class checks them with its own secrets)."""
        out = self.shared.log_files() if self.shared is not None else []
        for root, _, files in os.walk(self.tmp):
            for fn in files:
                p = os.path.join(root, fn)
                if fn.endswith(".log") or \
                        os.path.dirname(p) == os.path.join(self.tmp, "san"):
                    out.append(p)
        return sorted(set(out + self.extra_logs))

    def mark_logs(self):
        """From now on wxsub_log() starts here: a class taking over a
        shared world reads only what was written in its own time (the
        log checks still read everything)."""
        self.log_marks = {}
        for p in self.log_files():
            with contextlib.suppress(OSError):
                self.log_marks[p] = os.path.getsize(p)

    def wxsub_log(self):
        """What wxsub processes wrote to stderr so far (all servers),
        since mark_logs() if it was called."""
        out = []
        marks = getattr(self, "log_marks", {})
        for p in self.log_files():
            if os.path.basename(p) in ("error.log", "breakage.log",
                                        "stdout.log", "wxsub.log"):
                with open(p, "rb") as f:
                    f.seek(marks.get(p, 0))
                    out.append(f.read().decode("utf-8", "replace"))
        return "".join(out)

    def log_tail(self, n=30):
        out = []
        for p in self.log_files():
            with open(p, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            if lines:
                out.append("== %s\n%s" % (p, "\n".join(lines[-n:])))
        return "\n".join(out)

    def check_logs(self):
        problems = []
        san = os.path.join(self.tmp, "san")
        for fn in sorted(os.listdir(san)) if os.path.isdir(san) else []:
            p = os.path.join(san, fn)
            with open(p, "rb") as f:
                problems.append("sanitizer report %s:\n%s" % (
                    p, f.read().decode("utf-8", "replace")[:4000]))
        secrets = [("the AppSecret", self.secret), ("the api key",
                                                    self.api_key)]
        secrets += [("an access token", t) for t in self.tokens_seen]
        for what, values in self.extra_secrets.items():
            secrets += [(what, v) for v in values]
        for p in self.log_files():
            if p.startswith(san):
                continue
            with open(p, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            for marker in ("AddressSanitizer", "LeakSanitizer",
                           "runtime error:"):
                if marker in text:
                    i = text.index(marker)
                    problems.append("%s in %s: %s" % (
                        marker, p, text[max(0, i - 200):i + 800]))
            for what, s in secrets:
                if s and s in text:
                    line = next(ln for ln in text.splitlines() if s in ln)
                    problems.append("%s appears in %s: %s" % (
                        what, p, line.replace(s, "<%s>" % what)[:300]))
        return problems


def assert_wxsub_answer(r, what=""):
    """Every wxsub answer: JSON, application/json; charset=utf-8, an
    X-Request-Id, and ok/error in the contract's shape."""
    ct = r.headers.get("content-type")
    if ct != JSON_CT:
        raise AssertionError("%s: Content-Type %r, want %r: %r"
                             % (what, ct, JSON_CT, r))
    if not r.headers.get("x-request-id"):
        raise AssertionError("%s: no X-Request-Id: %r" % (what, r))
    if not isinstance(r.json, dict):
        raise AssertionError("%s: the body is not a JSON object: %r"
                             % (what, r))
    if r.status in (200, 202):
        if r.json.get("ok") is not True:
            raise AssertionError("%s: %d without ok:true: %r"
                                 % (what, r.status, r))
    else:
        if r.json.get("ok") is not False or \
                not isinstance(r.json.get("error"), str) or \
                not isinstance(r.json.get("message"), str):
            raise AssertionError("%s: a failure must be {ok:false, error, "
                                 "message}: %r" % (what, r))


# ---------------------------------------------------------------------------
# Shared worlds: one Redis and stand-in per run, web servers reused by the
# classes of the same kind and config (E2ECase WORLD = "shared").

_fixtures = None          # Env(None): the Redis and stand-in classes share
_idle = {}                # key -> an Env no class uses now
MAX_IDLE = 2              # idle worlds kept (run.py groups classes by key)
_late = []                # problems found when an idle world was stopped


def shared_fixtures():
    """The run's Redis and stand-in, started at first use."""
    global _fixtures
    if _fixtures is None or _fixtures.standin_proc is None or \
            _fixtures.standin_proc.poll() is not None:
        if _fixtures is not None:
            _late.extend(_fixtures.stop())
        _fixtures = Env(None).start()
    return _fixtures


def world_key(cls, server):
    """Classes with equal keys can use one world, one after the other."""
    return (server, binary_path(),
            tuple(sorted((k, str(v)) for k, v in cls.CONFIG.items())),
            tuple(cls.SERVER_EXTRA.get(server, ())))


def _retire(env):
    problems = env.stop()
    if problems:
        _late.append("a world used by %s:\n%s" % (
            ", ".join(env.used_by), "\n\n".join(problems)))


def take_world(cls, server):
    """A started Env for cls: an idle one of its key if healthy, else a
    new one on the shared Redis and stand-in."""
    key = world_key(cls, server)
    env = _idle.pop(key, None)
    if env is not None:
        try:
            if env.server is not None:
                env.wait_ready(timeout=10)
        except SetupError:
            _retire(env)
            env = None
    if env is None:
        env = Env(server, overrides=cls.CONFIG, shared=shared_fixtures())
        env.server_extra = list(cls.SERVER_EXTRA.get(server, ()))
        env.used_by = []
        env.key = key
        try:
            env.start()
        except BaseException:
            problems = env.stop()
            if problems:
                sys.stderr.write("\n".join(problems) + "\n")
            raise
    else:
        env.mark_logs()
    env.used_by.append(cls.__name__)
    return env


def give_back(env):
    """A class is done with a shared world: its logs are checked now;
    the world stays up for the next class of its key if nothing
    changed (config as rendered, server running, no problem)."""
    problems = env.check_logs()
    reusable = not problems and env.config_text == env.render_config() and \
        (env.server is None or env.server_alive())
    if not reusable:
        problems += env.stop()
        return problems
    old = _idle.pop(env.key, None)
    if old is not None:
        _retire(old)
    _idle[env.key] = env
    while len(_idle) > MAX_IDLE:
        _retire(_idle.pop(next(iter(_idle))))
    return problems


def end_pass(final=False):
    """Stop the idle worlds (and, final, the shared Redis and stand-in);
    return what their logs showed (e.g. a leak reported at exit)."""
    global _fixtures
    while _idle:
        _retire(_idle.pop(next(iter(_idle))))
    if final and _fixtures is not None:
        problems = _fixtures.stop()
        if problems:
            _late.append("the shared Redis and stand-in:\n" +
                         "\n\n".join(problems))
        _fixtures = None
    out = list(_late)
    del _late[:]
    return out


# ---------------------------------------------------------------------------
# unittest glue

class E2ECase(unittest.TestCase):
    """A class of end-to-end tests; Redis and the stand-in are reset
    before each test. Class attributes:

    KIND    "server" (default): tests the web server, runs in the pass
            of every server of the whole suite (SERVERS);
            "logic": tests wxsub itself, runs once per run.py run, in
            its first pass (lighttpd under --server all).
    SERVERS a tuple of server kinds: runs in those passes only (KIND
            aside).
    WORLD   "shared" (default): the run's Redis and stand-in, and a web
            server reused by the classes of the same server, CONFIG and
            SERVER_EXTRA (it must leave the config as it found it);
            "own": a Redis, stand-in and server of its own, for a class
            that stops Redis or needs fresh processes.
    CONFIG  wxsub config overrides; SERVER_EXTRA server kind -> lines
            added to the server config; SERVER None: no web server.
    ENV     the Env class of an "own" world (a subclass that builds a
            different world: several apps, Sentinel).
    """

    KIND = "server"
    WORLD = "shared"
    CONFIG = {}
    SERVER_EXTRA = {}   # server kind -> lines added to its config
    SERVER = "default"
    ENV = Env
    env = None

    @classmethod
    def setUpClass(cls):
        server = current_server() if cls.SERVER == "default" else cls.SERVER
        if cls.WORLD == "shared":
            cls.env = take_world(cls, server)
            return
        env = cls.ENV(server, overrides=cls.CONFIG)
        env.server_extra = list(cls.SERVER_EXTRA.get(server, ()))
        try:
            env.start()
        except BaseException:
            problems = env.stop()
            if problems:
                sys.stderr.write("\n".join(problems) + "\n")
            raise
        cls.env = env

    @classmethod
    def tearDownClass(cls):
        if cls.env is None:
            return
        env, cls.env = cls.env, None
        problems = give_back(env) if env.shared is not None else env.stop()
        if problems:
            raise AssertionError("after %s:\n%s" % (cls.__name__,
                                                    "\n\n".join(problems)))

    def setUp(self):
        self.env.reset()

    # -- assertions ------------------------------------------------------------

    def assertError(self, r, status, error, errcode=None, msg_has=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertIs(r.json.get("ok"), False, r)
        self.assertEqual(r.json.get("error"), error, r)
        if errcode is None:
            self.assertNotIn("errcode", r.json, r)
        else:
            self.assertEqual(r.json.get("errcode"), errcode, r)
        if msg_has is not None:
            for part in ([msg_has] if isinstance(msg_has, str) else msg_has):
                self.assertIn(part, r.json.get("message", ""), r)

    def login(self, oid, code=None, unionid=None):
        """wx.login at the stand-in, then POST /login; returns the answer.
        The session token, its hash and the session_key are registered as
        secrets no log may hold."""
        code = code or "code-" + os.urandom(6).hex()
        body = {"code": code, "openid": oid}
        if unionid:
            body["unionid"] = unionid
        self.env.control("POST", "/__control/code", body)
        r = self.env.post("/login", {"code": code}, auth=False)
        j = self.assertOk(r)
        self.env.add_secret("a session token", j.get("session"))
        for k in self.env.redis("KEYS", "WXSUB:session:*"):
            self.env.add_secret("a session_key",
                                self.env.redis("HGET", k, "k"))
            self.env.add_secret("a session hash",
                                self.env.redis("HGET", k, "h"))
        return j

    def assertOk(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json.get("ok"), True, r)
        return r.json


def parallel(fn, items, workers=50, timeout=120):
    """fn(item) for every item on `workers` threads at once; results in
    item order (an exception is returned in place of its result)."""
    import queue
    results = [None] * len(items)
    q = queue.Queue()
    for i, it in enumerate(items):
        q.put((i, it))
    start = threading.Barrier(min(workers, len(items)) or 1)

    def worker():
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(10)
        while True:
            try:
                i, it = q.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = fn(it)
            except Exception as e:  # noqa: BLE001 - reported by the caller
                results[i] = e
    ts = [threading.Thread(target=worker, daemon=True)
          for _ in range(min(workers, len(items)))]
    for t in ts:
        t.start()
    deadline = time.monotonic() + timeout
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic()))
    return results
