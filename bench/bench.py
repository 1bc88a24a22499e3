#!/usr/bin/env python3
"""wxsub benchmark: figures, not a test. Run by hand (as root, after make):

    python3 bench/bench.py [--seconds 5] [--pairs 5] [--connections 32]
                           [--procs 4] [--requests 100000] [--only-record]
                           [--burst 4]
                           [--server lighttpd|apache|apache-proxy-fcgi|
                                     apache-cgi|apache-htaccess-fcgid|...]

One run measures, on this machine and in this run:
  floor/redis   a minimal FastCGI responder doing one Redis command
  /record       wxsub, api key, one accept per request
  floor/send    the minimal responder plus one kept-alive HTTP POST to the
                WeChat stand-in
  /send         wxsub sending through the stand-in
each behind lighttpd with the same number of FastCGI processes (wxsub from
the shipped apache/lighttpd-wxsub.conf, the floors from the same shape and
environment), driven by wrk. --server puts wxsub behind another deploy kit
of tests/e2e/harness.py instead (apache: the shipped wxsub-fcgid.conf and
its process pool; apache-proxy-fcgi: --procs processes from
wxsub-spawn-fcgi; apache-cgi: one process per request); the floors stay
on lighttpd as the baseline. --only-record measures floor/redis and
/record only (no /send, no memory run): the quick comparison of kits.

Each route is measured in --pairs pairs of runs, floor and wxsub back to
back in ABBA order, so both sides of a ratio see the same drift of a
shared machine; the ratio is the median of the pairs' ratios, printed with
their range. Each run also counts the CPU time the whole machine spent
(every process and the kernel) per request: the ratio of those is the
steadier figure when, as here, the cores are saturated. Then the resident
memory of the wxsub processes before and after --requests more requests,
with the floors' processes as the baseline. Targets: /record >= 0.9 x its
floor, /send >= 0.8 x its floor, RSS < 10 MB with no growth.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import harness  # noqa: E402

USERS = 1000
TPL = harness.TPL1
# Each wrk thread walks the pool of users from its own starting point:
# with one start for all, the two threads asked for the same user at the
# same moment, over and over, and wxsub's per-user send lock (which the
# floor does not have) made one of them wait each time.
WRK_LUA = r"""
local threads = 0
setup = function(thread)
  thread:set("first", threads * %(stride)d)
  threads = threads + 1
end
init = function(args)
  counter = first or 0
end
request = function()
  counter = counter + 1
  local oid = string.format("oBENCH%%022d", counter %% %(users)d)
  local body = %(body)s
  return wrk.format("POST", "%(path)s", wrk.headers, body)
end
"""


def build_floor(tmp):
    out = os.path.join(tmp, "floor")
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, "floor.c"),
                    "-lfcgi", "-lhiredis", "-lcurl"], check=True)
    os.chmod(tmp, 0o755)
    return out


def start_floor_lighttpd(tmp, floor, procs, redis_port, send_url):
    """A lighttpd shaped like the shipped one, serving the two floors."""
    port = harness.free_port()
    d = os.path.join(tmp, "floor-lighttpd")
    os.makedirs(os.path.join(d, "htdocs"))
    entries = []
    for mode in ("redis", "send"):
        entries.append("""  "/floor/%(mode)s" => ((
    "bin-path" => "%(floor)s", "socket" => "%(d)s/%(mode)s.sock",
    "max-procs" => %(procs)d, "check-local" => "disable",
    "bin-environment" => ( "FLOOR_MODE" => "%(mode)s",
      "FLOOR_REDIS_PORT" => "%(rp)d", "FLOOR_URL" => "%(url)s",
      "GNUTLS_NO_IMPLICIT_INIT" => "1" ) ))"""
                       % dict(mode=mode, floor=floor, d=d, procs=procs,
                              rp=redis_port, url=send_url))
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write('server.modules += ( "mod_fastcgi" )\n'
                'server.document-root = "%s/htdocs"\n'
                'server.port = %d\nserver.bind = "127.0.0.1"\n'
                'server.errorlog = "%s/error.log"\n'
                'fastcgi.server = (\n%s\n)\n'
                % (d, port, d, ",\n".join(entries)))
    proc = subprocess.Popen(["lighttpd", "-D", "-f", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            start_new_session=True)
    harness.wait_until(lambda: harness.http_request(
        port, "POST", "/floor/redis", b"{}").status == 200, 15,
        what="floor lighttpd")
    return proc, port


def wrk(port, path, body_lua, seconds, conns, api_key=None, tmp="/tmp"):
    script = os.path.join(tmp, "wrk-%s.lua" % re.sub(r"\W", "_", path))
    with open(script, "w") as f:
        f.write(WRK_LUA % dict(users=USERS, stride=USERS // 2, body=body_lua,
                               path=path))
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency",
           "-s", script, "-H", "Content-Type: application/json"]
    if api_key:
        cmd += ["-H", "Authorization: Bearer %s" % api_key]
    cmd.append("http://127.0.0.1:%d" % port)
    cpu0 = machine_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True,
                         check=True).stdout
    cpu = machine_cpu() - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def lat(pct):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % pct, out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return dict(rps=rps, p50=lat(50), p99=lat(99), total=total,
                errors=int(non2xx.group(1)) if non2xx else 0,
                cpu_us=cpu * 1e6 / max(total, 1))


def machine_cpu():
    """CPU seconds the whole machine has spent busy (every process and
    the kernel, all cores): what a request costs, wrk's share included."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]         # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def rss_kb(pids):
    out = {}
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                st = f.read()
        except OSError:
            continue
        rss = re.search(r"VmRSS:\s+(\d+)", st)
        hwm = re.search(r"VmHWM:\s+(\d+)", st)
        if rss and hwm:         # not a process on its way out
            out[pid] = (int(rss.group(1)), int(hwm.group(1)))
    return out


def floor_rss(floor):
    """RSS (kB) of the floor processes by mode: the memory baseline."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.path.realpath("/proc/%s/exe" % p) != floor:
                continue
            with open("/proc/%s/environ" % p, "rb") as f:
                env = f.read().split(b"\0")
            mode = [e[11:].decode() for e in env
                    if e.startswith(b"FLOOR_MODE=")][0]
        except (OSError, IndexError):
            continue
        out.setdefault(mode, []).extend(rss_kb([int(p)]).values())
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
        return m.group(1).strip() if m else "unknown CPU"
    except OSError:
        return "unknown CPU"


def preload(env):
    """Credits at wxsub and quota at the stand-in for the user pool."""
    cmds = [["SET", "%s%s:oBENCH%022d" % ("SUBSCRIBE:", TPL, i), "100000000"]
            for i in range(USERS)]
    env.redis.pipeline(cmds)
    for i in range(USERS):
        env.quota("oBENCH%022d" % i, TPL, 100000000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5,
                    help="length of each measured run")
    ap.add_argument("--pairs", type=int, default=9,
                    help="measured floor/wxsub pairs per route")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--procs", type=int, default=4,
                    help="FastCGI processes of the floors (the shipped "
                    "lighttpd config runs 4 for wxsub)")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--server", choices=harness.ALL_SERVERS,
                    default="lighttpd", help="the kit wxsub runs behind "
                    "(the floors always run behind lighttpd)")
    ap.add_argument("--only-record", action="store_true",
                    help="floor/redis and /record only")
    ap.add_argument("--burst", type=int, default=4,
                    help="the warm-up starts with 2 s at this many times "
                    "--connections (1: no burst)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (scripts/deps)")

    harness.SPAWN_PROCS = args.procs        # apache-proxy-fcgi
    print("wxsub bench: %s, wxsub behind %s, %d connections, %d s runs, "
          "warm-up burst x%d, %d cores (%s)"
          % (time.strftime("%Y-%m-%d %H:%M"), args.server, args.connections,
             args.seconds, args.burst, os.cpu_count(), cpu_model()),
          flush=True)
    tmp = tempfile.mkdtemp(prefix="wxsub-bench-")
    env = harness.Env(server=args.server,
                      overrides={"log.level": "warn"}).start()
    floor_proc = None
    try:
        floor = build_floor(tmp)
        preload(env)
        # one send so that a token is cached, then point the floor at it
        r = env.send("oBENCH%022d" % 0, TPL, {"thing1": "warm"})
        assert r.status == 200, r
        token = env.redis("GET", harness.TOKEN_KEY)
        send_url = "http://127.0.0.1:%d/cgi-bin/message/subscribe/send?" \
            "access_token=%s" % (env.standin_port, token)
        floor_proc, fport = start_floor_lighttpd(
            tmp, floor, args.procs, env.redis_port, send_url)

        record_body = ('\'{"openId":"\' .. oid .. \'","templateId":"%s"}\''
                       % TPL)
        send_body = ('\'{"openId":"\' .. oid .. \'","templateId":"%s",'
                     '"data":{"thing1":"bench","time3":"2026-11-29 10:30"}}\''
                     % TPL)
        script = env.script
        runs, ratios, cpu_ratios = {}, {}, {}
        # A floor gets the very request its route gets (body, api key),
        # reads it whole and ignores it: the web server and wrk do the
        # same work on both sides of a ratio.
        plan = [("floor/redis", fport, "/floor/redis", record_body,
                 env.api_key),
                ("/record", env.http_port, script + "/record", record_body,
                 env.api_key),
                ("floor/send", fport, "/floor/send", send_body, env.api_key),
                ("/send", env.http_port, script + "/send", send_body,
                 env.api_key)]
        if args.only_record:
            plan = plan[:2]
        for pair in (plan[0:2], plan[2:4]):
            if not pair:
                continue
            # Warm both up, then --pairs measured pairs, floor and wxsub
            # back to back, in ABBA order: both sides of a ratio see the
            # same drift of a shared machine. Each pair gives a ratio;
            # the median of those is the figure.
            # The warm-up starts with a burst at --burst (4) x the
            # concurrency: mod_fcgid grows its pool only when a request
            # finds no idle process (after sleeping a second), so at the
            # measured concurrency alone it settles below it and keeps
            # stalling (docs/deploy.md); the burst fills it to
            # FcgidMaxProcessesPerClass. Harmless for the others.
            for name, port, path, body, key in pair:
                if args.burst > 1:
                    wrk(port, path, body, 2, args.connections * args.burst,
                        key, tmp)
                wrk(port, path, body, 2, args.connections, key, tmp)
            got = {name: [] for name, _, _, _, _ in pair}
            for i in range(args.pairs):
                for name, port, path, body, key in \
                        (pair if i % 2 == 0 else pair[::-1]):
                    r = wrk(port, path, body, args.seconds,
                            args.connections, key, tmp)
                    got[name].append(r)
                    print("  pair %d  %-12s %9.0f req/s  %6.1f us CPU/request"
                          % (i + 1, name, r["rps"], r["cpu_us"]), flush=True)
            floor_name, name = pair[0][0], pair[1][0]
            ratios[name] = [w["rps"] / f["rps"]
                            for f, w in zip(got[floor_name], got[name])]
            cpu_ratios[name] = [f["cpu_us"] / w["cpu_us"]
                                for f, w in zip(got[floor_name], got[name])]
            for n in (floor_name, name):
                rs = got[n]
                runs[n] = dict(rps=median([r["rps"] for r in rs]),
                               p50=median([r["p50"] for r in rs]),
                               p99=median([r["p99"] for r in rs]),
                               cpu_us=median([r["cpu_us"] for r in rs]),
                               errors=sum(r["errors"] for r in rs))
                print("%-12s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  "
                      "%5.1f us CPU/request  non-2xx %d"
                      % (n, runs[n]["rps"], runs[n]["p50"], runs[n]["p99"],
                         runs[n]["cpu_us"], runs[n]["errors"]), flush=True)

        pids = env.fcgi_pids()
        if args.server in ("apache-cgi", "apache-cgid"):
            pids = []           # one process per request: nothing to watch
        else:
            print("wxsub processes after the runs: %d" % len(pids))
        before = rss_kb(pids)
        done = 0
        while done < args.requests and pids and not args.only_record:
            done += wrk(env.http_port, script + "/record", record_body,
                        5, args.connections, env.api_key, tmp)["total"]
        after = rss_kb(pids)

        print()
        print("| run (wxsub behind %s) | req/s | p50 ms | p99 ms | "
              "CPU us/req | ratio to floor: req/s, median of %d pairs "
              "(range) | ratio: CPU per request |"
              % (args.server, args.pairs))
        print("|---|---|---|---|---|---|---|")
        for name in ("floor/redis", "/record", "floor/send", "/send"):
            if name not in runs:
                continue
            r = runs[name]
            rr, cr = ratios.get(name), cpu_ratios.get(name)
            print("| %s | %.0f | %.2f | %.2f | %.1f | %s | %s |"
                  % (name, r["rps"], r["p50"], r["p99"], r["cpu_us"],
                     "%.2f (%.2f-%.2f)" % (median(rr), min(rr), max(rr))
                     if rr else "",
                     "%.2f" % median(cr) if cr else ""))
        if args.only_record or not pids:
            return
        base = floor_rss(floor)
        print()
        print("baseline, the floors' processes (same libraries, same "
              "environment): " + ", ".join(
                  "floor/%s %s MB" % (mode, "/".join(
                      "%.1f" % (r[0] / 1024) for r in sorted(rs)))
                  for mode, rs in sorted(base.items())))
        print("wxsub processes: RSS before -> after %d more requests "
              "(peak VmHWM after):" % done)
        for pid in sorted(before):
            if pid in after:
                print("  pid %d: %.1f MB -> %.1f MB (peak %.1f MB)"
                      % (pid, before[pid][0] / 1024, after[pid][0] / 1024,
                         after[pid][1] / 1024))
            else:
                print("  pid %d: gone" % pid)
    finally:
        if floor_proc is not None:
            harness._kill_group(floor_proc)
        env.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
