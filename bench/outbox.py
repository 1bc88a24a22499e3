#!/usr/bin/env python3
"""The outbox's figures (issue 12), by hand, as root, after make:

    python3 bench/outbox.py [--seconds 5] [--pairs 3] [--connections 32]
                            [--batch 1000] [--delay-ms 100]
                            [--messages 100000]

One run, one machine, ratios from that run:
  enqueue   POST /send {"async":true} against POST /record, ABBA pairs
            of wrk runs (bench.py's driver); target: >= 0.8 x /record
  batch     one 1,000-recipient batch, the stand-in answering each send
            after --delay-ms, one `wxsub worker` at outbox.concurrency
            (16): seconds from the worker's start to the last sent,
            against 1000 / 16 x delay; target: <= 1.3 x
  memory    --messages queued in batches of 1,000, one worker drains
            them: its RSS sampled as it goes (flat = no growth)
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import bench  # noqa: E402
import harness  # noqa: E402

TPL = harness.TPL1
ADMIN = os.path.join(REPO, "wxsub")


def oid(i):
    return "oBENCH%022d" % i


def worker(env):
    return subprocess.Popen([ADMIN, "-c", env.conf_path, "worker"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def counts(env):
    out = subprocess.run([ADMIN, "-c", env.conf_path, "outbox"],
                         capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (ln.split() for ln in out.splitlines())}


def queue_batch(env, first, n):
    r = env.post("/send", {"openIds": [oid(first + i) for i in range(n)],
                           "data": {"thing1": "bench"}}, timeout=120)
    assert r.status == 202 and r.json["queued"] == n, r
    return r.json


def enqueue_vs_record(env, args, tmp):
    script = env.script
    record = ('\'{"openId":"\' .. oid .. \'","templateId":"%s"}\'' % TPL)
    enqueue = ('\'{"openId":"\' .. oid .. \'","templateId":"%s",'
               '"async":true,"data":{"thing1":"bench"}}\'' % TPL)
    plan = [("/record", script + "/record", record),
            ("/send async", script + "/send", enqueue)]
    for _, path, body in plan:
        bench.wrk(env.http_port, path, body, 2, args.connections,
                  env.api_key, tmp)
    got = {name: [] for name, _, _ in plan}
    ratios = []
    for i in range(args.pairs):
        res = {}
        for name, path, body in (plan if i % 2 == 0 else plan[::-1]):
            r = bench.wrk(env.http_port, path, body, args.seconds,
                          args.connections, env.api_key, tmp)
            assert r["errors"] == 0, (name, r)
            res[name] = r
            got[name].append(r)
            print("  pair %d  %-12s %9.0f req/s  p99 %.1f ms" %
                  (i + 1, name, r["rps"], r["p99"]), flush=True)
        ratios.append(res["/send async"]["rps"] / res["/record"]["rps"])
    print("enqueue: /send async = %.2f x /record (pairs %.2f..%.2f; "
          "target >= 0.8)" % (bench.median(ratios), min(ratios),
                              max(ratios)), flush=True)


def batch_delivery(env, args):
    env.reset()
    bench.preload(env, True)
    env.fault("send", "delay", count=-1, delay_ms=args.delay_ms)
    queue_batch(env, 0, args.batch)
    t0 = time.monotonic()
    w = worker(env)
    try:
        harness.wait_until(lambda: env.stats()["sent_total"] >= args.batch,
                           600, interval=0.05, what="the batch sent")
        took = time.monotonic() - t0
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait()
    ideal = args.batch / 16.0 * args.delay_ms / 1000.0
    print("batch: %d recipients, %d ms a send, concurrency 16: %.2f s = "
          "%.2f x the ideal %.2f s (target <= 1.3)"
          % (args.batch, args.delay_ms, took, took / ideal, ideal),
          flush=True)
    env.control("DELETE", "/__control/fault")


def memory(env, args):
    env.reset()
    bench.preload(env, True)
    per = 1000
    for b in range(args.messages // per):
        queue_batch(env, 0, per)
    t0 = time.monotonic()
    w = worker(env)
    samples = []
    try:
        while True:
            sent = env.stats()["sent_total"]
            rss = bench.rss_kb([w.pid]).get(w.pid, (0, 0))
            samples.append((sent, rss[0], rss[1]))
            if sent >= args.messages or w.poll() is not None:
                break
            time.sleep(2)
        took = time.monotonic() - t0
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait()
    print("memory: %d messages in %.1f s (%.0f sends/s); worker RSS kB "
          "by messages sent:" % (args.messages, took, args.messages / took))
    step = max(1, len(samples) // 10)
    for sent, rss, hwm in samples[::step] + samples[-1:]:
        print("  %7d sent  RSS %6d kB  peak %6d kB" % (sent, rss, hwm))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--delay-ms", type=int, default=100)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--skip", action="append", default=[],
                    help="enqueue, batch or memory")
    args = ap.parse_args()
    print("wxsub outbox bench %s, %d cores, %s" % (
        time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), bench.cpu_model()),
        flush=True)
    tmp = tempfile.mkdtemp(prefix="wxsub-bench-")
    env = harness.Env(overrides={"log.level": "warn",
                                 "outbox.concurrency": "16"}).start()
    try:
        bench.preload(env, True)
        if "enqueue" not in args.skip:
            enqueue_vs_record(env, args, tmp)
        if "batch" not in args.skip:
            batch_delivery(env, args)
        if "memory" not in args.skip:
            memory(env, args)
    finally:
        for p in env.stop():
            print(p, file=sys.stderr)


if __name__ == "__main__":
    main()
