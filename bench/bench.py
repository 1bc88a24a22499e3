#!/usr/bin/env python3
"""wxsub benchmark: figures, not a test. Run by hand (as root, after make):

    python3 bench/bench.py [--seconds 5] [--pairs 9] [--connections 32]
                           [--procs 4] [--requests 100000] [--only-record]
                           [--only-send] [--burst 4]
                           [--upstream nginx|standin]
                           [--server lighttpd|apache|apache-proxy-fcgi|
                                     apache-cgi|apache-htaccess-fcgid|...]

One run measures, on this machine and in this run:
  floor/redis   a minimal FastCGI responder doing one Redis command
  /record       wxsub, api key, one accept per request
  floor/send    the minimal responder plus one kept-alive HTTP POST of
                the same send to the upstream
  /send         wxsub sending through the upstream
each behind lighttpd with the same number of FastCGI processes (wxsub from
the shipped apache/lighttpd-wxsub.conf, the floors from the same shape and
environment), driven by wrk. --server puts wxsub behind another deploy kit
of tests/e2e/harness.py instead (apache: the shipped wxsub-fcgid.conf and
its process pool; apache-proxy-fcgi: --procs processes from
wxsub-spawn-fcgi; apache-cgi: one process per request); the floors stay
on lighttpd as the baseline. --only-record measures floor/redis and
/record only (no /send, no memory run): the quick comparison of kits;
--only-send floor/send and /send only.

The upstream (WeChat's token and send endpoints) is by default a private
nginx with WeChat's answers written in (bench/benchlib.py, one worker,
unlimited keep-alive): it costs a few microseconds a request, so /send
and its floor are measured on what they themselves cost. --upstream
standin sends to the Python WeChat stand-in instead (WeChat's behaviour;
it tops out at a few thousand sends a second): then the stand-in is what
both sides wait on and the ratio says little about wxsub. Each run prints the CPU time
per request of each part (the web server, wxsub or the floor, Redis, the
upstream, wrk, and the rest of the machine), the upstream's share of one
core (well below 100 %: it had CPU to spare) and its calls per request,
and each route Redis' INFO commandstats over its runs.

Each route is measured in --pairs pairs of runs, floor and wxsub back to
back in ABBA order, so both sides of a ratio see the same drift of a
shared machine; the ratio is the median of the pairs' ratios, printed with
their range. Each run also counts the CPU time the whole machine spent
(every process and the kernel) per request: the ratio of those is the
steadier figure when, as here, the cores are saturated. Then the resident
memory of the wxsub processes before and after --requests more requests,
with the floors' processes as the baseline. Targets: /record >= 0.9 x its
floor, /send >= 0.85 x its floor, RSS < 10 MB with no growth.
"""

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import harness  # noqa: E402
import benchlib  # noqa: E402

USERS = 1000
TPL = harness.TPL1
# Each wrk thread walks its own half of the pool of users: with one
# start for all, the two threads asked for the same user at the same
# moment, over and over, and with two starts half the pool apart they
# still met when one thread ran ahead (1 % of sends waited); wxsub's
# per-user send lock (which the floor does not have) made one of them
# wait each time. Real traffic spreads over many users.
WRK_LUA = r"""
local threads = 0
setup = function(thread)
  thread:set("first", threads * %(stride)d)
  threads = threads + 1
end
init = function(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local oid = string.format("oBENCH%%022d", (first or 0) + counter %% %(stride)d)
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


def wrk(port, path, body_lua, seconds, conns, api_key=None, tmp="/tmp",
        meter=None, redis=None):
    """One wrk run. With a meter, the CPU seconds of each part per
    request (cpu: {part: us}); with redis (a harness.Resp), Redis'
    commandstats of the run (stats: {command: (calls, usec)})."""
    script = os.path.join(tmp, "wrk-%s.lua" % re.sub(r"\W", "_", path))
    with open(script, "w") as f:
        f.write(WRK_LUA % dict(users=USERS, stride=USERS // 2, body=body_lua,
                               path=path))
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency",
           "-s", script, "-H", "Content-Type: application/json"]
    if api_key:
        cmd += ["-H", "Authorization: Bearer %s" % api_key]
    cmd.append("http://127.0.0.1:%d" % port)
    if redis is not None:
        redis("CONFIG", "RESETSTAT")
        reads0 = redis_reads(redis)
    if meter is not None:
        meter.start()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = benchlib.machine_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True,
                         check=True).stdout
    cpu = benchlib.machine_cpu() - cpu0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    parts = meter.stop() if meter is not None else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def lat(pct):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % pct, out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    r = dict(rps=rps, p50=lat(50), p99=lat(99), total=total,
             errors=int(non2xx.group(1)) if non2xx else 0,
             cpu_us=cpu * 1e6 / max(total, 1))
    if parts is not None:
        parts["wrk"] = (kids.ru_utime + kids.ru_stime -
                        kids0.ru_utime - kids0.ru_stime)
        wall = parts.pop("wall")
        up_calls = parts.pop("upstream_calls", None)
        parts["other"] = parts["machine"] - sum(
            v for k, v in parts.items() if k != "machine")
        r["parts"] = {k: v * 1e6 / max(total, 1) for k, v in parts.items()}
        # the upstream's share of one core: well below 1, it had CPU to
        # spare (nginx: one worker)
        r["up_share"] = parts.get("upstream", 0.0) / wall
        r["cores"] = parts["machine"] / wall
        if up_calls is not None:
            r["up_calls"] = up_calls / max(total, 1)
    if redis is not None:
        r["stats"] = commandstats(redis("INFO", "commandstats"))
        # the times Redis read a client's socket: its wake-ups
        r["redis_reads"] = (redis_reads(redis) - reads0 - 2) / max(total, 1)
    return r


def redis_reads(redis):
    m = re.search(r"^total_reads_processed:(\d+)", redis("INFO", "stats"),
                  re.M)
    return int(m.group(1))


class Meter(benchlib.CpuMeter):
    """CpuMeter plus the upstream's calls (nginx' request counter)."""

    def __init__(self, groups, upstream=None):
        super().__init__(groups)
        self.upstream = upstream

    def start(self):
        self.calls0 = self.upstream.requests() if self.upstream else None
        super().start()

    def stop(self):
        out = super().stop()
        if self.calls0 is not None:
            # less the status request itself
            out["upstream_calls"] = self.upstream.requests() - \
                self.calls0 - 1
        return out


def commandstats(text):
    """INFO commandstats into {command: (calls, usec)}."""
    out = {}
    for m in re.finditer(r"^cmdstat_(\S+):calls=(\d+),usec=(\d+)", text,
                         re.M):
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    out.pop("config", None)
    out.pop("info", None)
    return out


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


def preload(env, standin):
    """Credits at wxsub (and quota at the stand-in) for the user pool."""
    cmds = [["SET", "%s%s:oBENCH%022d" % ("SUBSCRIBE:", TPL, i), "100000000"]
            for i in range(USERS)]
    env.redis.pipeline(cmds)
    for i in range(USERS if standin else 0):
        env.quota("oBENCH%022d" % i, TPL, 100000000)


def exe_pids(path):
    """Pids of the processes running the executable path."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.path.realpath("/proc/%s/exe" % p) == path:
                    out.append(int(p))
            except OSError:
                pass
    return out


PARTS = ("web", "app", "redis", "upstream", "wrk", "other", "machine")


def chain(r):
    """The CPU per request of the measured chain: every part but other."""
    return sum(v for k, v in r["parts"].items()
               if k not in ("other", "machine"))


def summarize(runs_of):
    """The medians of a route's runs."""
    rs = runs_of
    out = dict(rps=median([r["rps"] for r in rs]),
               p50=median([r["p50"] for r in rs]),
               p99=median([r["p99"] for r in rs]),
               cpu_us=median([r["cpu_us"] for r in rs]),
               errors=sum(r["errors"] for r in rs),
               total=sum(r["total"] for r in rs))
    if "parts" in rs[0]:
        out["parts"] = {k: median([r["parts"][k] for r in rs])
                        for k in PARTS}
        out["up_share"] = median([r["up_share"] for r in rs])
        out["cores"] = median([r["cores"] for r in rs])
        out["up_share_max"] = max(r["up_share"] for r in rs)
        if "up_calls" in rs[0]:
            out["up_calls"] = median([r["up_calls"] for r in rs])
    if "redis_reads" in rs[0]:
        out["redis_reads"] = median([r["redis_reads"] for r in rs])
    stats = {}
    for r in rs:
        for cmd, (calls, usec) in r.get("stats", {}).items():
            c0, u0 = stats.get(cmd, (0, 0))
            stats[cmd] = (c0 + calls, u0 + usec)
    out["stats"] = stats
    return out


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
    ap.add_argument("--upstream", choices=("nginx", "standin"),
                    default="nginx", help="WeChat for /send and its floor: "
                    "nginx with fixed answers (throughput), or the "
                    "stand-in (WeChat's behaviour)")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--only-record", action="store_true",
                      help="floor/redis and /record only")
    only.add_argument("--only-send", action="store_true",
                      help="floor/send and /send only (no memory run)")
    ap.add_argument("--save", metavar="FILE",
                    help="append this run's pairs to FILE (JSON lines; "
                    "bench/pool.py pools the pairs of several runs)")
    ap.add_argument("--burst", type=int, default=4,
                    help="the warm-up starts with 2 s at this many times "
                    "--connections (1: no burst)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (scripts/deps)")

    harness.SPAWN_PROCS = args.procs        # apache-proxy-fcgi
    print("wxsub bench: %s, wxsub behind %s, upstream %s, %d connections, "
          "%d s runs, warm-up burst x%d, %d cores (%s), load %s"
          % (time.strftime("%Y-%m-%d %H:%M"), args.server, args.upstream,
             args.connections, args.seconds, args.burst, os.cpu_count(),
             cpu_model(), " ".join("%.2f" % x for x in os.getloadavg())),
          flush=True)
    tmp = tempfile.mkdtemp(prefix="wxsub-bench-")
    os.chmod(tmp, 0o755)
    upstream = None
    overrides = {"log.level": "warn"}
    if args.upstream == "nginx":
        upstream = benchlib.NginxUpstream(tmp, harness.free_port()).start()
        overrides["wechat.apiBase"] = upstream.base
    env = harness.Env(server=args.server, overrides=overrides).start()
    floor_proc = None
    try:
        floor = build_floor(tmp)
        preload(env, upstream is None)
        # one send so that a token is cached, then point the floor at it
        r = env.send("oBENCH%022d" % 0, TPL, {"thing1": "warm"})
        assert r.status == 200, r
        token = env.redis("GET", harness.TOKEN_KEY)
        base = upstream.base if upstream else \
            "http://127.0.0.1:%d" % env.standin_port
        send_url = base + "/cgi-bin/message/subscribe/send?access_token=" + \
            token
        floor_proc, fport = start_floor_lighttpd(
            tmp, floor, args.procs, env.redis_port, send_url)

        up_pids = upstream.pids if upstream else \
            (lambda: [env.standin_proc.pid])
        redis_pids = (lambda: [env.redis_proc.pid])

        def meter(web, app):
            return Meter({"web": web, "app": app, "redis": redis_pids,
                          "upstream": up_pids}, upstream)
        def web(pid, app):
            """The web server: its process and its children but the
            FastCGI ones (Apache's workers)."""
            def pids():
                if pid is None:
                    return []
                apps = set(app())
                return [pid] + [p for p in benchlib.children(pid)
                                if p not in apps]
            return pids
        floor_meter = meter(web(floor_proc.pid, lambda: exe_pids(floor)),
                            lambda: exe_pids(floor))
        wxsub_meter = meter(web(env.server_proc.pid if env.server_proc
                                else None, env.fcgi_pids), env.fcgi_pids)
        rs = harness.Resp(env.redis_port)

        record_body = ('\'{"openId":"\' .. oid .. \'","templateId":"%s"}\''
                       % TPL)
        send_body = ('\'{"openId":"\' .. oid .. \'","templateId":"%s",'
                     '"data":{"thing1":"bench","time3":"2026-11-29 10:30"}}\''
                     % TPL)
        script = env.script
        runs, ratios, cpu_ratios, chain_ratios = {}, {}, {}, {}
        # A floor gets the very request its route gets (body, api key),
        # reads it whole and ignores it: the web server and wrk do the
        # same work on both sides of a ratio.
        plan = [("floor/redis", fport, "/floor/redis", record_body,
                 env.api_key, floor_meter),
                ("/record", env.http_port, script + "/record", record_body,
                 env.api_key, wxsub_meter),
                ("floor/send", fport, "/floor/send", send_body, env.api_key,
                 floor_meter),
                ("/send", env.http_port, script + "/send", send_body,
                 env.api_key, wxsub_meter)]
        if args.only_record:
            plan = plan[:2]
        elif args.only_send:
            plan = plan[2:]
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
            for name, port, path, body, key, _ in pair:
                if args.burst > 1:
                    wrk(port, path, body, 2, args.connections * args.burst,
                        key, tmp)
                wrk(port, path, body, 2, args.connections, key, tmp)
            got = {p[0]: [] for p in pair}
            for i in range(args.pairs):
                for name, port, path, body, key, m in \
                        (pair if i % 2 == 0 else pair[::-1]):
                    r = wrk(port, path, body, args.seconds,
                            args.connections, key, tmp, m, rs)
                    got[name].append(r)
                    print("  pair %d  %-12s %9.0f req/s  %6.1f us CPU/request"
                          " (%s)  upstream %3.0f%% of a core, %.2f cores "
                          "busy, load %.1f"
                          % (i + 1, name, r["rps"], r["cpu_us"], " ".join(
                              "%s %.1f" % (k, r["parts"][k])
                              for k in PARTS[:-1]), 100 * r["up_share"],
                             r["cores"], os.getloadavg()[0]),
                          flush=True)
            floor_name, name = pair[0][0], pair[1][0]
            ratios[name] = [w["rps"] / f["rps"]
                            for f, w in zip(got[floor_name], got[name])]
            cpu_ratios[name] = [f["cpu_us"] / w["cpu_us"]
                                for f, w in zip(got[floor_name], got[name])]
            # the chain's own CPU per request (web server, responder,
            # Redis, upstream, wrk): what the machine's total is less
            # other load, so steadier on a shared machine
            chain_ratios[name] = [chain(f) / chain(w) for f, w in
                                  zip(got[floor_name], got[name])]
            for n in (floor_name, name):
                runs[n] = summarize(got[n])
                print("%-12s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  "
                      "%5.1f us CPU/request  non-2xx %d"
                      % (n, runs[n]["rps"], runs[n]["p50"], runs[n]["p99"],
                         runs[n]["cpu_us"], runs[n]["errors"]), flush=True)
            print("  ratios of the pairs: %s" % " ".join(
                "%.3f" % x for x in ratios[name]), flush=True)
            print("  ratios of the chain's CPU per request: %s" % " ".join(
                "%.3f" % x for x in chain_ratios[name]), flush=True)

        pids = env.fcgi_pids()
        if args.server in ("apache-cgi", "apache-cgid"):
            pids = []           # one process per request: nothing to watch
        else:
            print("wxsub processes after the runs: %d" % len(pids))
        before = rss_kb(pids)
        done = 0
        while done < args.requests and pids and not (args.only_record or
                                                     args.only_send):
            done += wrk(env.http_port, script + "/record", record_body,
                        5, args.connections, env.api_key, tmp)["total"]
        after = rss_kb(pids)

        names = [n for n in ("floor/redis", "/record", "floor/send", "/send")
                 if n in runs]
        if args.save:
            import json
            with open(args.save, "a") as f:
                f.write(json.dumps(dict(
                    when=time.strftime("%Y-%m-%d %H:%M"), server=args.server,
                    upstream=args.upstream, seconds=args.seconds,
                    load=os.getloadavg()[0], ratios=ratios,
                    cpu_ratios=cpu_ratios, chain_ratios=chain_ratios,
                    runs={n: {k: v for k, v in runs[n].items()
                              if k != "stats"} for n in names})) + "\n")
        print()
        print("| run (wxsub behind %s, upstream %s) | req/s | p50 ms | "
              "p99 ms | CPU us/req | ratio to floor: req/s, median of %d "
              "pairs (range) | ratio: CPU per request | ratio: the "
              "chain's CPU per request (range) |"
              % (args.server, args.upstream, args.pairs))
        print("|---|---|---|---|---|---|---|---|")
        for name in names:
            r = runs[name]
            rr, cr = ratios.get(name), cpu_ratios.get(name)
            hr = chain_ratios.get(name)
            print("| %s | %.0f | %.2f | %.2f | %.1f | %s | %s | %s |"
                  % (name, r["rps"], r["p50"], r["p99"], r["cpu_us"],
                     "%.2f (%.2f-%.2f)" % (median(rr), min(rr), max(rr))
                     if rr else "",
                     "%.2f" % median(cr) if cr else "",
                     "%.2f (%.2f-%.2f)" % (median(hr), min(hr), max(hr))
                     if hr else ""))
        print()
        print("CPU us per request by part (medians of the runs; other: the "
              "kernel's threads and anything else on the machine):")
        print()
        print("| run | " + " | ".join(PARTS) + " | cores busy | upstream, "
              "share of one core (max) | upstream calls/req |")
        print("|---|" + "---|" * (len(PARTS) + 3))
        for name in names:
            r = runs[name]
            print("| %s | %s | %.2f | %.0f%% (%.0f%%) | %s |" % (
                name, " | ".join("%.1f" % r["parts"][k] for k in PARTS),
                r["cores"], 100 * r["up_share"], 100 * r["up_share_max"],
                "%.2f" % r["up_calls"] if "up_calls" in r else "-"))
        print()
        print("Redis INFO commandstats over each route's runs (calls per "
              "request, us per call):")
        for name in names:
            r = runs[name]
            print("  %-12s %.2f reads of a client socket per request; %s"
                  % (name, r.get("redis_reads", 0), ", ".join(
                "%s %.2f x %.1f us" % (cmd, calls / max(r["total"], 1),
                                       usec / max(calls, 1))
                for cmd, (calls, usec) in sorted(
                    r["stats"].items(), key=lambda kv: -kv[1][1])
                if calls / max(r["total"], 1) >= 0.001)))

        if args.only_record or args.only_send or not pids:
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
        if upstream is not None:
            upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
