#!/usr/bin/env python3
"""The demo behind scripts/demo: start a private wxsub world (through the
end-to-end harness), walk the journey with curl, and leave it running.

  demo.py start     stop the previous demo if any, start, walk, leave it up
  demo.py status    what runs and where (exit 0 all up, 1 partly, 3 none)
  demo.py stop      end what start left running, by pid; remove its files

Everything lives in the state directory, $WXSUB_DEMO_DIR or .demo/ in
the checkout: state.json (what runs: pids with their start times, ports,
paths) and the world (Redis's dir, the config, logs). The directory is
0700 and ours, on a path no other user can swap; state.json is ours,
0600, not a link. stop and status refuse anything else, and signal a
pid only while it is the process the demo started (same start time).
"""

import contextlib
import errno
import fcntl
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import harness  # noqa: E402

STATE_DIR = os.path.abspath(os.environ.get("WXSUB_DEMO_DIR") or
                            os.path.join(REPO, ".demo"))
STATE = os.path.join(STATE_DIR, "state.json")
WRITER = "wxsub scripts/demo 2"       # what a state file of ours says
OPENID = "oDEMO_grid_worker_0000000001"


class Refused(Exception):
    """A state directory or file the demo did not make: touch nothing."""


def say(text):
    print("\n\033[1m# %s\033[0m" % text, flush=True)


def curl(args):
    """Run curl, show the command (secrets as variables) and the answer."""
    def show(a):
        for var, name in (("_KEY", "$API_KEY"), ("_SESSION", "$SESSION")):
            secret = os.environ.get(var)
            if secret and secret in a:
                return '"%s"' % a.replace(secret, name)
        return shlex.quote(a)
    print("$ curl " + " ".join(show(a) for a in args), flush=True)
    out = subprocess.run(["curl", "-sS"] + args, capture_output=True,
                         text=True).stdout
    print(out, flush=True)
    try:
        return json.loads(out)
    except ValueError:
        return {}


# -- the state directory and file ----------------------------------------------

def check_path(path):
    """Refuse a path another user could swap: every directory above it
    is root's or ours, and writable by no one else unless sticky."""
    me = os.geteuid()
    d = os.path.dirname(path)
    while True:
        st = os.lstat(d)
        if st.st_uid not in (0, me) or (
                st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            raise Refused("%s is writable by other users (mode %o, uid %d):"
                          " set WXSUB_DEMO_DIR to a directory of root's"
                          % (d, st.st_mode & 0o7777, st.st_uid))
        if d == os.sep:
            return
        d = os.path.dirname(d)


def check_dir(make=False):
    """The state directory, ours and 0700 (made so with make)."""
    check_path(STATE_DIR)
    if make:
        try:
            os.mkdir(STATE_DIR, 0o700)
        except FileExistsError:
            pass
    st = os.lstat(STATE_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or \
            st.st_mode & 0o077:
        raise Refused("%s is not a 0700 directory of uid %d; scripts/demo "
                      "did not make it: remove it yourself"
                      % (STATE_DIR, os.geteuid()))


def lock(make=False):
    """One start/stop/status at a time: an exclusive flock on the state
    directory itself (no lock file to leave behind), held until closed
    or the process exits. A stop may remove the directory while we
    wait: then take the new one."""
    while True:
        check_dir(make)
        fd = os.open(STATE_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.lstat(STATE_DIR)):
                return fd
        os.close(fd)
        if not make:
            raise FileNotFoundError(STATE_DIR)


def load():
    """The state a start of ours wrote, None if there is none."""
    try:
        fd = os.open(STATE, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Refused("%s is a symbolic link; not ours" % STATE)
        raise
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or \
                st.st_mode & 0o077 or st.st_nlink != 1:
            raise Refused("%s is not a 0600 file of uid %d; scripts/demo "
                          "did not write it" % (STATE, os.geteuid()))
        try:
            state = json.load(f)
        except ValueError:
            raise Refused("%s is not the demo's JSON" % STATE)
    world = state.get("world") if isinstance(state, dict) else None
    if state.get("writer") != WRITER or not isinstance(world, str) or \
            os.path.dirname(os.path.realpath(world)) != \
            os.path.realpath(STATE_DIR):
        raise Refused("%s was not written by scripts/demo" % STATE)
    return state


def save(state):
    tmp = STATE + ".new"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, STATE)


# -- processes -------------------------------------------------------------------

def ours(entry):
    """Whether the process entry names ([pid, start time]) still runs."""
    pid, started = entry
    return started is not None and harness.proc_start_time(pid) == started


def end(state):
    """Stop what state names, by pid, then remove the world."""
    procs = state.get("procs", {})
    # the web server first: it stops its FastCGI processes
    for what in ("server", "standin", "redis"):
        entry = procs.get(what)
        if not entry or not ours(entry):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry[0], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while ours(entry) and time.monotonic() < deadline:
            time.sleep(0.05)
        if ours(entry):
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry[0], signal.SIGKILL)
    # FastCGI processes the server left behind carry the world's config
    harness.sweep_config(state["conf"])
    shutil.rmtree(state["world"], ignore_errors=True)
    os.unlink(STATE)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(STATE + ".new")


# -- commands ---------------------------------------------------------------------

def stop():
    try:
        lk = lock()
    except FileNotFoundError:
        print("scripts/demo: nothing to stop")
        return 0
    state = load()
    if state is not None:
        end(state)
    # the directory goes too when nothing else is in it
    with contextlib.suppress(OSError):
        os.rmdir(STATE_DIR)
    os.close(lk)
    if state is None:
        print("scripts/demo: nothing to stop")
    else:
        print("stopped Redis, the stand-in and lighttpd of the demo; "
              "removed %s" % state["world"])
    return 0


def status():
    try:
        lk = lock()
    except FileNotFoundError:
        print("scripts/demo: not running")
        return 3
    state = load()
    os.close(lk)
    if state is None:
        print("scripts/demo: not running")
        return 3
    up = 0
    for what, entry in sorted(state["procs"].items()):
        alive = ours(entry)
        up += alive
        print("%-8s pid %-7d %s" % (what, entry[0],
                                    "running" if alive else "GONE"))
    fcgi = harness.pids_with_config(state["conf"])
    print("wxsub    %d FastCGI process%s%s" % (
        len(fcgi), "" if len(fcgi) == 1 else "es",
        (" (pids %s)" % " ".join(map(str, fcgi))) if fcgi else ""))
    try:
        r = harness.http_request(state["http_port"], "GET",
                                 state["script"] + "/health", timeout=5)
        health = "%d %s" % (r.status, r.body.decode("utf-8", "replace"))
    except OSError as e:
        health = "no answer (%s)" % e
    print("service  %s/<route>" % state["base"])
    print("health   %s" % health.strip())
    print("redis    redis-cli -p %d" % state["redis_port"])
    print("world    %s" % state["world"])
    if up == len(state["procs"]):
        return 0
    print("part of the demo is gone: scripts/demo stop, then scripts/demo")
    return 1


def start():
    lk = lock(make=True)
    old = load()
    if old is not None:
        say("stopping the previous demo first")
        end(old)
    env = harness.Env(server="lighttpd", base=STATE_DIR).start()
    procs = env.detach()
    base = "http://127.0.0.1:%d%s" % (env.http_port, env.script)
    save({"writer": WRITER, "world": env.tmp, "conf": env.conf_path,
          "procs": procs, "base": base, "script": env.script,
          "http_port": env.http_port, "redis_port": env.redis_port,
          "standin_port": env.standin_port, "started": time.time()})
    try:
        walk(env, base)
    except BaseException:
        end(load())
        raise
    os.close(lk)
    return 0


def walk(env, base):
    os.environ["_KEY"] = env.api_key
    tpl = harness.TPL1

    say("wxsub answers behind lighttpd at %s" % base)
    curl([base + "/health"])

    say("the mini program calls wx.login and posts the code (WeChat knows "
        "the code: the stand-in registers it)")
    env.control("POST", "/__control/code", {"code": "demo-code-1",
                                            "openid": OPENID})
    login = curl(["-H", "Content-Type: application/json",
                  "-d", '{"code":"demo-code-1"}', base + "/login"])
    session = login.get("session", "")
    os.environ["_SESSION"] = session

    say("the user taps 'accept' in wx.requestSubscribeMessage; the front end "
        "forwards the result with its session")
    env.quota(OPENID, tpl, 1)     # WeChat's side of the same accept
    curl(["-H", "Authorization: Bearer " + session,
          "-H", "Content-Type: application/json",
          "-d", json.dumps({tpl: "accept", harness.TPL2: "reject",
                            "errMsg": "requestSubscribeMessage:ok"}),
          base + "/record"])

    say("later the PHP site: a villager filed feedback, tell the grid worker")
    curl(["-H", "Authorization: Bearer " + env.api_key,
          "-H", "Content-Type: application/json",
          "-d", json.dumps({"openId": OPENID, "templateId": tpl,
                            "page": "pages/detail/detail?id=7",
                            "data": {"thing1": "意见提醒",
                                     "time3": "2026-11-29 10:30"}},
                           ensure_ascii=False),
          base + "/send"])

    say("the credit is spent: a second send is refused before WeChat")
    curl(["-H", "Authorization: Bearer " + env.api_key,
          base + "/subscriptions?openId=" + OPENID])
    second = ["-H", "Authorization: Bearer " + env.api_key,
              "-H", "Content-Type: application/json",
              "-d", json.dumps({"openId": OPENID,
                                "data": {"thing1": "again"}}),
              base + "/send"]
    curl(second)

    sent = env.stats().get("sent", [])
    if sent:
        m = dict(sent[0])
        m.pop("access_token", None)
        say("what the WeChat stand-in received")
        print(json.dumps(m, ensure_ascii=False, indent=1))

    say("still running")
    print("service   %s/<route>" % base)
    print("api key   %s" % env.api_key)
    print("config    %s" % env.conf_path)
    print("stand-in  http://127.0.0.1:%d (control API: docs/standin.md)"
          % env.standin_port)
    print("redis     redis-cli -p %d" % env.redis_port)
    print("logs      %s" % os.path.join(env.tmp, "lighttpd"))
    print("status:   scripts/demo status")
    print("stop it:  scripts/demo stop")

    say("try next")
    print("curl -sS %s" % shlex.quote(base + "/health"))
    print("# a second send (refused: the one credit is spent; another "
          "accept in the mini program gives one)")
    print("curl -sS " + " ".join(shlex.quote(a) for a in second))
    print("%s -c %s subs %s" % (shlex.quote(os.path.join(REPO, "wxsub")),
                                shlex.quote(env.conf_path), OPENID))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "start"
    fns = {"start": start, "stop": stop, "status": status}
    if cmd not in fns:
        sys.stderr.write("usage: scripts/demo [start|status|stop]\n")
        return 2
    try:
        return fns[cmd]()
    except Refused as e:
        sys.stderr.write("scripts/demo: refusing: %s\n" % e)
        return 1
    except harness.SetupError as e:
        sys.stderr.write("scripts/demo: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
