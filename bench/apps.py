#!/usr/bin/env python3
"""wxsub benchmark: does a directory of many apps cost more per request
than one app? Figures, not a test. Run by hand (as root, after make):

    python3 bench/apps.py [--apps 50] [--seconds 5] [--pairs 5]
                          [--connections 32]

Two worlds side by side (tests/e2e/harness.py: own Redis, stand-in and
lighttpd from the shipped apache/lighttpd-wxsub.conf): WXSUB_CONFIG is a
directory holding one app in the first, --apps apps in the second, and
wrk posts /record (api key, one accept) to the same app, app-25, in both.
The runs alternate in ABBA pairs, so both sides of a ratio see the same
drift of a shared machine; the figure is the median of the pairs' ratios
(many / one; one / many for CPU), with their range, for requests per
second, for the CPU the whole machine spent per request, and for the CPU
the wxsub processes themselves spent per request (utime + stime from
/proc: the steadiest of the three on a busy machine). Target (issue 14):
>= 0.95.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from bench import cpu_model, median, wrk  # noqa: E402

TARGET = "app-25"


class DirEnv(harness.Env):
    """A world whose config is a directory of n apps (app-00 ...), each
    with its own appid and api key; TARGET's api key is the Env's."""

    def __init__(self, n, **kw):
        super().__init__("lighttpd", **kw)
        self.n = n

    def write_config(self, overrides=None, text=None):
        d = os.path.join(self.tmp, "etc", "apps")
        self.conf_path = d
        os.makedirs(d, exist_ok=True)
        gid = harness._www_data()[1]
        names = [TARGET] if self.n == 1 else \
            ["app-%02d" % i for i in range(self.n)]
        for i, name in enumerate(names):
            cfg = self.default_config()
            cfg["log.level"] = "warn"
            if name != TARGET:
                cfg["wechat.appid"] = "wxbench%011d" % i
                cfg["auth.apiKeys"] = "bench-key-%02d-%s" % (
                    i, os.urandom(8).hex())
            p = os.path.join(d, name + ".conf")
            with open(p, "w") as f:
                f.write("".join("%s = %s\n" % kv for kv in cfg.items()))
            if gid is not None:
                os.chown(p, 0, gid)
            os.chmod(p, 0o640)
        if gid is not None:
            os.chown(d, 0, gid)
        os.chmod(d, 0o750)
        return d


def proc_cpu(pids):
    """CPU seconds (user + system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                v = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(v[11]) + int(v[12])        # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (scripts/deps)")
    print("wxsub bench/apps.py: %s, lighttpd, 1 app vs %d apps, /record to "
          "%s, %d connections, %d s runs, %d pairs, %d cores (%s)"
          % (time.strftime("%Y-%m-%d %H:%M"), args.apps, TARGET,
             args.connections, args.seconds, args.pairs, os.cpu_count(),
             cpu_model()), flush=True)
    tmp = tempfile.mkdtemp(prefix="wxsub-bench-apps-")
    one = many = None
    try:
        one = DirEnv(1).start()
        many = DirEnv(args.apps).start()
        body = ('\'{"openId":"\' .. oid .. \'","templateId":"%s"}\''
                % harness.TPL1)
        sides = [("1 app", one), ("%d apps" % args.apps, many)]
        for name, env in sides:         # warm up every process
            wrk(env.http_port, env.script + "/" + TARGET + "/record", body,
                2, args.connections, env.api_key, tmp)
        got = {name: [] for name, _ in sides}
        for i in range(args.pairs):
            for name, env in (sides if i % 2 == 0 else sides[::-1]):
                pids = env.fcgi_pids()
                c0 = proc_cpu(pids)
                r = wrk(env.http_port, env.script + "/" + TARGET + "/record",
                        body, args.seconds, args.connections, env.api_key,
                        tmp)
                r["wx_us"] = (proc_cpu(pids) - c0) * 1e6 / max(r["total"], 1)
                if r["errors"]:
                    sys.exit("%s: %d non-2xx answers" % (name, r["errors"]))
                got[name].append(r)
                print("  pair %d  %-8s %9.0f req/s  p99 %6.2f ms  %6.1f us "
                      "CPU/request, %5.1f us of it wxsub's"
                      % (i + 1, name, r["rps"], r["p99"], r["cpu_us"],
                         r["wx_us"]), flush=True)
        a, b = (got[n] for n, _ in sides)
        rps = [y["rps"] / x["rps"] for x, y in zip(a, b)]
        cpu = [x["cpu_us"] / y["cpu_us"] for x, y in zip(a, b)]
        wx = [x["wx_us"] / y["wx_us"] for x, y in zip(a, b)]
        for n, _ in sides:
            print("%-8s median %9.0f req/s  p99 %6.2f ms  %6.1f us CPU/request"
                  "  %5.1f us wxsub CPU/request"
                  % (n, median([r["rps"] for r in got[n]]),
                     median([r["p99"] for r in got[n]]),
                     median([r["cpu_us"] for r in got[n]]),
                     median([r["wx_us"] for r in got[n]])))
        print("ratio %d apps / 1 app (inverse for CPU): req/s %.3f (pairs "
              "%.3f..%.3f), machine CPU per request %.3f (%.3f..%.3f), "
              "wxsub CPU per request %.3f (%.3f..%.3f); target >= 0.95"
              % (args.apps, median(rps), min(rps), max(rps), median(cpu),
                 min(cpu), max(cpu), median(wx), min(wx), max(wx)))
    finally:
        for env in (one, many):
            if env is not None:
                env.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
