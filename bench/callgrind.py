#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: the repeatable figure
(a busy machine changes wall-clock times, not instruction counts). Run
by hand (as root, after make):

    python3 bench/callgrind.py [--route send|send-async|record|floor-send|
                                        floor-redis]
                               [--requests 2000] [--warm 200] [--top 25]
                               [--no-redis] [--keep DIR]

One FastCGI process (wxsub, or bench/floor.c for the floor routes) and
Redis run under valgrind --tool=callgrind; the upstream is bench's nginx
with WeChat's answers written in (bench/benchlib.py). A FastCGI client
here sends --warm requests (the first send fetches the token, libcurl
connects), zeroes both processes' counters, sends --requests more, one
at a time, the body and parameters bench.py's wrk sends through
lighttpd, and dumps the counters: instructions per request for the
FastCGI process and for Redis, and the process's --top functions by
inclusive cost (callgrind_annotate). --keep DIR keeps the dumps for
kcachegrind or callgrind_annotate.
"""

import argparse
import os
import re
import shutil
import socket
import struct
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
VALGRIND = ["valgrind", "--tool=callgrind", "--quiet"]
STRACE = False

# ---- a FastCGI client (one request per connection, as lighttpd does) ----

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def _record(kind, content, rid=1):
    out = b""
    for i in range(0, max(len(content), 1), 65535):
        chunk = content[i:i + 65535]
        out += struct.pack(">BBHHBx", 1, kind, rid, len(chunk), 0) + chunk
    return out


def _pair(name, value):
    def n(x):
        return bytes([len(x)]) if len(x) < 128 else \
            struct.pack(">I", len(x) | 0x80000000)
    return n(name) + n(value) + name + value


def fcgi(addr, params, body):
    """One request; the answer's status line and body."""
    p = b"".join(_pair(k.encode(), v.encode()) for k, v in params.items())
    msg = (_record(BEGIN, struct.pack(">HB5x", 1, 0)) + _record(PARAMS, p) +
           _record(PARAMS, b"") + _record(STDIN, body) + _record(STDIN, b""))
    s = socket.create_connection(addr, timeout=120)
    s.sendall(msg)
    buf, out = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            if kind == STDOUT:
                out += buf[8:8 + clen]
            buf = buf[8 + clen + plen:]
            if kind == END:
                s.close()
                head, _, text = out.partition(b"\r\n\r\n")
                m = re.search(rb"^Status: (\d+)", head, re.M)
                return int(m.group(1)) if m else 200, text
    s.close()
    raise RuntimeError("the FastCGI process closed without an answer")


def params_for(path, body, api_key):
    """What lighttpd sends for bench.py's request (same names, same
    order of magnitude of bytes)."""
    return {
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "QUERY_STRING": "",
        "REQUEST_URI": path,
        "REDIRECT_STATUS": "200",
        "SCRIPT_NAME": path.rsplit("/", 1)[0] if "wxsub" in path else path,
        "PATH_INFO": "/" + path.rsplit("/", 1)[1] if "wxsub" in path else "",
        "SCRIPT_FILENAME": "/var/www" + path,
        "DOCUMENT_ROOT": "/var/www",
        "REQUEST_METHOD": "POST",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "lighttpd/1.4.69",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_SCHEME": "http",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_CONTENT_TYPE": "application/json",
        "HTTP_CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": "Bearer %s" % api_key,
    }


def body_for(route, i):
    oid = "oBENCH%022d" % (i % USERS)
    if route == "send-async":   # the outbox's enqueue (bench/outbox.py's)
        return ('{"openId":"%s","templateId":"%s","async":true,"data":'
                '{"thing1":"bench"}}' % (oid, TPL)).encode()
    if route.endswith("send"):
        return ('{"openId":"%s","templateId":"%s","data":{"thing1":"bench",'
                '"time3":"2026-11-29 10:30"}}' % (oid, TPL)).encode()
    return ('{"openId":"%s","templateId":"%s"}' % (oid, TPL)).encode()


# ---- processes under callgrind ----------------------------------------------

def start_callgrind(cmd, out, env=None, stdin=None):
    log = open(out + ".log", "ab")
    if STRACE:
        pre = []
    else:
        pre = VALGRIND + ["--callgrind-out-file=" + out]
    p = subprocess.Popen(pre + cmd,
                         stdin=stdin if stdin is not None
                         else subprocess.DEVNULL, stdout=log, stderr=log,
                         env=env, start_new_session=True)
    log.close()
    return p


def control(pid, what):
    subprocess.run(["callgrind_control", what, str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)


def totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no totals in %s" % path)


def newest_dump(prefix):
    d = os.path.dirname(prefix)
    got = [os.path.join(d, f) for f in os.listdir(d)
           if os.path.join(d, f).startswith(prefix + ".") and
           not f.endswith(".log")]
    return max(got, key=os.path.getmtime)


def strace_run(args, counted, run, binary, tmp):
    """System calls per request of each counted process."""
    tracers = []
    for p, name in zip(counted, (os.path.basename(binary), "redis-server")):
        out = os.path.join(tmp, "strace-" + name)
        tracers.append((name, out, subprocess.Popen(
            ["strace", "-c", "-f", "-o", out, "-p", str(p.pid)],
            stderr=subprocess.DEVNULL)))
    time.sleep(1)           # attached
    run(args.requests, args.warm)
    for name, out, t in tracers:
        t.send_signal(2)
        t.wait(30)
        calls = {}
        with open(out) as f:
            for line in f:
                m = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+"
                             r"(?:\d+\s+)?(\w+)\s*$", line)
                if m and m.group(2) != "total":
                    calls[m.group(2)] = int(m.group(1))
        total = sum(calls.values())
        print("  %-14s %5.2f system calls per request: %s" % (
            name, total / args.requests, ", ".join(
                "%s %.2f" % (k, v / args.requests) for k, v in sorted(
                    calls.items(), key=lambda kv: -kv[1])
                if v / args.requests >= 0.01)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--route", default="send",
                    choices=("send", "send-async", "record", "floor-send",
                             "floor-redis"))
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--warm", type=int, default=200)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-redis", action="store_true",
                    help="Redis runs plainly (faster; no Redis count)")
    ap.add_argument("--binary", default=os.path.join(REPO, "cgi-bin",
                                                     "wxsub.fcgi"))
    ap.add_argument("--keep", help="keep the dumps in this directory")
    ap.add_argument("--cpu", action="store_true",
                    help="CPU time per request instead (/proc, no "
                    "valgrind): noisy on a busy machine")
    ap.add_argument("--perf", action="store_true",
                    help="with --cpu: perf stat's software counters")
    ap.add_argument("--strace", action="store_true",
                    help="count system calls instead (strace -c attached "
                    "after the warm-up; no valgrind)")
    args = ap.parse_args()
    global STRACE
    STRACE = args.strace or args.cpu

    tmp = tempfile.mkdtemp(prefix="wxsub-callgrind-")
    os.chmod(tmp, 0o755)
    upstream = benchlib.NginxUpstream(tmp, harness.free_port()).start()
    env = harness.Env(server=None, binary=args.binary,
                      overrides={"log.level": "warn",
                                 "wechat.apiBase": upstream.base})
    procs = []
    try:
        env.start()
        if not args.no_redis:
            # Redis again, under callgrind, on the same port
            env.stop_redis()
            env.redis_proc = start_callgrind(
                ["redis-server", "--port", str(env.redis_port), "--bind",
                 "127.0.0.1", "--save", "", "--appendonly", "yes",
                 "--dir", env.tmp, "--protected-mode", "no"],
                os.path.join(tmp, "redis"))
            procs.append(env.redis_proc)
            env.redis.close()
            harness.wait_until(lambda: env.redis("PING") == "PONG", 120,
                               what="redis-server under callgrind")
        env.redis.pipeline([["SET", "SUBSCRIBE:%s:oBENCH%022d" % (TPL, i),
                             "100000000"] for i in range(USERS)])

        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(64)
        addr = lsock.getsockname()
        penv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "WXSUB_CONFIG": env.conf_path}
        if args.route.startswith("floor"):
            binary = os.path.join(tmp, "floor")
            subprocess.run(["cc", "-O2", "-g", "-o", binary,
                            os.path.join(HERE, "floor.c"), "-lfcgi",
                            "-lhiredis", "-lcurl"], check=True)
            penv.update(FLOOR_MODE=args.route[6:],
                        FLOOR_REDIS_PORT=str(env.redis_port),
                        FLOOR_URL=upstream.base +
                        "/cgi-bin/message/subscribe/send?access_token=" +
                        benchlib.TOKEN)
            path = "/" + args.route.replace("-", "/")
        else:
            binary = env.binary
            path = "/cgi-bin/wxsub.fcgi/" + args.route.split("-")[0]
        app = start_callgrind([binary], os.path.join(tmp, "app"), penv,
                              stdin=lsock.fileno())
        procs.append(app)
        lsock.close()

        def run(n, first):
            bad = 0
            for i in range(first, first + n):
                body = body_for(args.route, i)
                status, text = fcgi(addr, params_for(path, body,
                                                     env.api_key), body)
                if status not in (200, 202):
                    bad += 1
                    if bad == 1:
                        print("  answer %d: %s" % (status, text[:200]))
            return bad

        t0 = time.monotonic()
        bad = run(args.warm, 0)
        counted = [app] + ([env.redis_proc] if not args.no_redis else [])
        if args.strace:
            return strace_run(args, counted, run, binary, tmp)
        if args.cpu:
            perf = [subprocess.Popen(["perf", "stat", "-e", "task-clock,"
                                      "context-switches,page-faults,"
                                      "cpu-migrations", "-p", str(p.pid),
                                      "-o", os.path.join(tmp, "perf-%d" % i)],
                                     stderr=subprocess.DEVNULL)
                    for i, p in enumerate(counted)] if args.perf else []
            time.sleep(0.5 if perf else 0)
            t0 = [benchlib.pid_cpu(p.pid) for p in counted]
            w0 = time.monotonic()
            run(args.requests, args.warm)
            w = time.monotonic() - w0
            for p, name, t in zip(counted, (os.path.basename(binary),
                                            "redis-server"), t0):
                print("  %-14s %6.1f us CPU per request" % (
                    name, (benchlib.pid_cpu(p.pid) - t) * 1e6 /
                    args.requests))
            print("  %.0f requests/s, one at a time" % (args.requests / w))
            for i, p in enumerate(perf):
                p.send_signal(2)
                p.wait(30)
                with open(os.path.join(tmp, "perf-%d" % i)) as f:
                    for line in f:
                        m = re.match(r"^\s*([\d,.]+)\s+(?:msec\s+)?"
                                     r"([\w-]+)", line)
                        if m:
                            print("    %s %-18s %8.2f per request" % (
                                ("app", "redis")[i], m.group(2), float(
                                    m.group(1).replace(",", "")) /
                                args.requests))
            return
        for p in counted:
            control(p.pid, "-z")
        bad += run(args.requests, args.warm)
        for p in counted:
            control(p.pid, "-d")
        secs = time.monotonic() - t0
        time.sleep(0.5)
        app_dump = newest_dump(os.path.join(tmp, "app"))
        print("route %s: %d + %d requests (%d not 200) in %.0f s"
              % (args.route, args.warm, args.requests, bad, secs))
        print("  %-14s %9.0f instructions per request"
              % (os.path.basename(binary), totals(app_dump) / args.requests))
        if not args.no_redis:
            rd = newest_dump(os.path.join(tmp, "redis"))
            # serverCron runs 10 times a second whatever the load: under
            # valgrind's slowness it would count as part of each request
            out = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                                  rd], capture_output=True, text=True).stdout
            m = re.search(r"^\s*([\d,]+) .*:serverCron ", out, re.M)
            cron = int(m.group(1).replace(",", "")) if m else 0
            print("  %-14s %9.0f instructions per request (less its timer "
                  "serverCron: %.0f)" % ("redis-server",
                                         totals(rd) / args.requests,
                                         (totals(rd) - cron) / args.requests))
        if args.top:
            out = subprocess.run(
                ["callgrind_annotate", "--inclusive=yes", app_dump],
                capture_output=True, text=True).stdout
            lines = [ln for ln in out.splitlines() if re.match(r"^\s*[\d,]+ ",
                                                                ln)]
            print("  top functions of %s by inclusive instructions per "
                  "request:" % os.path.basename(binary))
            for ln in lines[:args.top]:
                n, rest = ln.split(None, 1)
                print("  %9.0f  %s" % (int(n.replace(",", "")) /
                                       args.requests, rest[:110]))
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for f in os.listdir(tmp):
                if f.startswith(("app.", "redis.")):
                    shutil.copy(os.path.join(tmp, f), args.keep)
    finally:
        for p in reversed(procs):      # wxsub before its Redis
            if p.poll() is None:
                os.killpg(p.pid, 15)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, 9)
        env.redis_proc = None if not args.no_redis else env.redis_proc
        env.stop()
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
