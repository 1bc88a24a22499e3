#!/usr/bin/env python3
"""The demo behind scripts/demo: start a private wxsub world (through the
end-to-end harness), walk the journey with curl, and leave it running."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import harness  # noqa: E402

STATE = "/tmp/wxsub-demo.json"
OPENID = "oDEMO_grid_worker_0000000001"


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


def stop():
    try:
        with open(STATE) as f:
            st = json.load(f)
    except OSError:
        print("nothing to stop")
        return
    if st.get("apache_pid"):
        subprocess.run(["apache2", "-f", st["apache_conf"], "-k", "stop"],
                       capture_output=True)
    for pid in st["pids"]:
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    shutil.rmtree(st["tmp"], ignore_errors=True)
    os.unlink(STATE)
    print("stopped (Redis, stand-in, web server) and removed", st["tmp"])


def start():
    if os.path.exists(STATE):
        stop()
    env = harness.Env(server="lighttpd").start()
    base = "http://127.0.0.1:%d%s" % (env.http_port, env.script)
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
    curl(["-H", "Authorization: Bearer " + env.api_key,
          "-H", "Content-Type: application/json",
          "-d", json.dumps({"openId": OPENID, "data": {"thing1": "again"}}),
          base + "/send"])

    sent = env.stats().get("sent", [])
    if sent:
        m = dict(sent[0])
        m.pop("access_token", None)
        say("what the WeChat stand-in received")
        print(json.dumps(m, ensure_ascii=False, indent=1))

    pids = [p.pid for p in (env.redis_proc, env.standin_proc,
                            env.server_proc) if p is not None]
    with open(STATE, "w") as f:
        json.dump({"tmp": env.tmp, "pids": pids,
                   "apache_pid": env.apache_pid,
                   "apache_conf": getattr(env, "apache_conf", None)}, f)
    say("still running")
    print("service   %s/<route>" % base)
    print("api key   %s" % env.api_key)
    print("config    %s" % env.conf_path)
    print("stand-in  http://127.0.0.1:%d (control API: docs/standin.md)"
          % env.standin_port)
    print("redis     redis-cli -p %d" % env.redis_port)
    print("logs      %s" % os.path.join(env.tmp, "lighttpd"))
    print("stop it:  scripts/demo stop")


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1] if len(sys.argv) > 1
                                    else "start"]()
