"""The outbox (contract section 5): POST /send with "async" and with
"openIds", GET /messages/<id> and /batches/<id>, the worker (`wxsub
worker`, `worker --once`) with its retries, unknowns and claims, and the
`wxsub outbox` commands. Waits are derived from the config below and
polled with generous bounds."""

import collections
import os
import signal
import subprocess
import threading
import time

from harness import E2ECase, TIMEOUT_MS, TPL1, TPL_LONG, openid, wait_until
from test_cli import admin_path

RETRY_BASE_MS = 20
CLAIM_AFTER_MS = 2500          # > wechat.timeoutMs (1500): see worker.h
MAX_ATTEMPTS = 3
WAIT = 30                      # seconds any state change may take, at most


class OutboxCase(E2ECase):
    KIND = "logic"

    CONFIG = {"outbox.retryBaseMs": str(RETRY_BASE_MS),
              "outbox.claimAfterMs": str(CLAIM_AFTER_MS),
              "outbox.maxAttempts": str(MAX_ATTEMPTS),
              "outbox.concurrency": "4",
              "log.level": "info"}

    def setUp(self):
        super().setUp()
        self.workers = []

    def tearDown(self):
        for p in self.workers:
            if p.poll() is None:
                p.kill()
            p.wait()
        super().tearDown()

    # -- the admin tool ------------------------------------------------------

    def _log(self, tag):
        n = len(self.env.extra_logs)
        f = os.path.join(self.env.tmp, "logs", "outbox-%d-%s.log" % (n, tag))
        self.env.extra_logs.append(f)
        return f

    def wxsub(self, *args, timeout=60):
        argv = [admin_path(), "-c", self.env.conf_path] + list(args)
        e = {"PATH": "/usr/bin:/bin"}
        e.update(self.env.sanitizer_env())
        p = subprocess.run(argv, env=e, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        with open(self._log("cli"), "wb") as f:
            f.write(p.stdout + p.stderr)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def start_worker(self):
        e = {"PATH": "/usr/bin:/bin"}
        e.update(self.env.sanitizer_env())
        log = open(self._log("worker"), "wb")
        p = subprocess.Popen([admin_path(), "-c", self.env.conf_path,
                              "worker"], env=e, stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.workers.append(p)
        return p

    def stop_worker(self, p):
        p.send_signal(signal.SIGTERM)
        return p.wait(timeout=WAIT)

    # -- helpers ---------------------------------------------------------------

    def enqueue(self, oid, credit=1, **extra):
        if credit:
            self.env.give_credit(oid, TPL1, credit)
        body = {"openId": oid, "async": True, "data": {"thing1": "hello"}}
        body.update(extra)
        r = self.env.post("/send", body)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["status"], "queued", r)
        return r.json["id"]

    def message(self, mid):
        r = self.env.get("/messages/" + mid)
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_status(self, mid, *want, timeout=WAIT):
        seen = {}

        def done():
            seen["m"] = self.message(mid)
            return seen["m"]["status"] in want
        wait_until(done, timeout, interval=0.1,
                   what="message %s in %s" % (mid, want))
        return seen["m"]

    def sends_to(self):
        """Sends the stand-in counted per openId (not trimmed as "sent")."""
        st = self.env.control("GET", "/__control/stats?per_user=1&sent=0")
        return collections.Counter(st["sent_per_user"])


class OutboxTests(OutboxCase):

    def test_async_is_queued_then_sent_once(self):
        oid = openid("ob-async")
        mid = self.enqueue(oid)
        m = self.message(mid)
        self.assertEqual((m["status"], m["attempts"], m["openId"],
                          m["templateId"]), ("queued", 0, oid, TPL1), m)
        self.assertNotIn("msgid", m)
        self.assertIsNone(self.env.credit(oid, TPL1), "credit taken at "
                          "enqueue")
        self.assertEqual(self.env.stats()["calls"]["send"], 0)
        rc, out, err = self.wxsub("worker", "--once")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.env.redis("XINFO", "CONSUMERS", "WXSUB:outbox",
                                        "wxsub"), [],
                         "a worker that stops leaves no consumer behind")
        m = self.message(mid)
        self.assertEqual((m["status"], m["attempts"]), ("sent", 1), m)
        sent = self.env.stats()["sent"]
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent[0]["msgid"], m["msgid"])
        self.assertEqual(sent[0]["touser"], oid)
        self.assertGreaterEqual(m["updatedAt"], m["createdAt"])
        # Once more: nothing is sent twice.
        rc, _, _ = self.wxsub("worker", "--once")
        self.assertEqual(rc, 0)
        self.assertEqual(self.env.stats()["calls"]["send"], 1)

    def test_async_refusals_are_the_sync_answers_and_queue_nothing(self):
        oid = openid("ob-refuse")
        r = self.env.post("/send", {"openId": oid, "async": True,
                                    "data": {"thing1": "x"}})
        self.assertError(r, 409, "not_subscribed")
        self.env.give_credit(oid, TPL1)
        r = self.env.post("/send", {"openId": oid, "async": True,
                                    "data": {"time3": "not a time"}})
        self.assertError(r, 422, "invalid_data")
        r = self.env.post("/send", {"openId": "short", "async": True,
                                    "data": {"thing1": "x"}})
        self.assertError(r, 400, "bad_request")
        r = self.env.post("/send", {"openId": oid, "async": "yes",
                                    "data": {"thing1": "x"}})
        self.assertError(r, 400, "bad_request", msg_has="async")
        r = self.env.post("/send", {"openId": oid, "async": True,
                                    "data": {"thing1": "x"}}, auth=False)
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.redis("XLEN", "WXSUB:outbox"), 0)
        self.assertEqual(self.env.credit(oid, TPL1), 1, "credit kept")

    def test_unknown_ids_are_404(self):
        for path in ("/messages/m_000000000000000000",
                     "/messages/nonsense", "/batches/b_000000000000000000",
                     "/batches/m_000000000000000000"):
            self.assertError(self.env.get(path), 404, "not_found")
        r = self.env.get("/messages/m_000000000000000000", auth=False)
        self.assertError(r, 401, "unauthorized")

    def test_batch_queues_each_once_and_lists_the_refused(self):
        a, b, c, d = (openid("ob-batch", i) for i in range(4))
        for o in (a, b, c):
            self.env.give_credit(o, TPL1)
        r = self.env.post("/send", {"openIds": [a, b, a, c, d],
                                    "data": {"thing1": "hello"}})
        self.assertEqual(r.status, 202, r)
        j = r.json
        self.assertEqual(j["queued"], 3, j)
        self.assertEqual(sorted(j["messages"]), sorted([a, b, c]))
        self.assertEqual(j["refused"], {d: "not_subscribed"})
        r = self.env.get("/batches/" + j["batch"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["counts"]["queued"], 3, r)
        rc, _, err = self.wxsub("worker", "--once")
        self.assertEqual(rc, 0, err)
        r = self.env.get("/batches/" + j["batch"])
        self.assertEqual(r.json["counts"]["sent"], 3, r)
        self.assertEqual(self.sends_to(), {a: 1, b: 1, c: 1})
        m = self.message(j["messages"][b])
        self.assertEqual(m["batch"], j["batch"])

    def test_batch_bad_input_queues_nothing(self):
        a = openid("ob-badbatch")
        self.env.give_credit(a, TPL1)
        r = self.env.post("/send", {"openIds": [a, a, "nope"],
                                    "data": {"thing1": "x"}})
        self.assertError(r, 400, "bad_request", msg_has="openIds[2]")
        r = self.env.post("/send", {"openIds": [], "data": {"thing1": "x"}})
        self.assertError(r, 400, "bad_request")
        r = self.env.post("/send", {"openIds": [a] * 1001,
                                    "data": {"thing1": "x"}})
        self.assertError(r, 400, "bad_request", msg_has="1000")
        r = self.env.post("/send", {"openIds": [a], "openId": a,
                                    "data": {"thing1": "x"}})
        self.assertError(r, 400, "bad_request")
        r = self.env.post("/send", {"openIds": [a],
                                    "data": {"time3": "x"}})
        self.assertError(r, 422, "invalid_data")
        self.assertEqual(self.env.redis("XLEN", "WXSUB:outbox"), 0)
        self.assertEqual(self.env.credit(a, TPL1), 1)

    def test_errcode_minus_one_is_retried_then_sent(self):
        oid = openid("ob-retry")
        self.env.fault("send", "errcode", count=2, errcode=-1)
        mid = self.enqueue(oid)
        self.start_worker()
        m = self.wait_status(mid, "sent", "failed")
        self.assertEqual((m["status"], m["attempts"]), ("sent", 3), m)
        self.assertEqual(self.sends_to(), {oid: 1})

    def test_5xx_until_max_attempts_then_failed_and_credit_back(self):
        oid = openid("ob-5xx")
        self.env.fault("send", "http500", count=-1)
        mid = self.enqueue(oid)
        self.start_worker()
        m = self.wait_status(mid, "failed")
        self.assertEqual(m["attempts"], MAX_ATTEMPTS, m)
        self.assertEqual(m["error"], "upstream_error", m)
        self.assertEqual(self.env.credit(oid, TPL1), 1, "credit given back")
        self.assertEqual(self.env.stats()["calls"]["send"], MAX_ATTEMPTS)

    def test_final_errors_fail_at_once(self):
        oid = openid("ob-final")
        self.env.fault("send", "errcode", errcode=40003)
        mid = self.enqueue(oid)
        self.wxsub("worker", "--once")
        m = self.message(mid)
        self.assertEqual((m["status"], m["attempts"], m["error"],
                          m["errcode"]), ("failed", 1, "invalid_openid",
                                          40003), m)
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_43101_fails_and_clears_the_credit(self):
        oid = openid("ob-43101")
        self.env.give_credit(oid, TPL1, 2, quota=False)
        mid = self.enqueue(oid, credit=0)
        self.wxsub("worker", "--once")
        m = self.message(mid)
        self.assertEqual((m["status"], m["error"], m["errcode"]),
                         ("failed", "user_refused", 43101), m)
        self.assertIsNone(self.env.credit(oid, TPL1), "cleared, not given "
                          "back")

    def test_timeout_after_sending_is_unknown_and_never_retried(self):
        oid = openid("ob-timeout")
        self.env.fault("send", "delay", delay_ms=TIMEOUT_MS + 1000)
        mid = self.enqueue(oid)
        self.start_worker()
        m = self.wait_status(mid, "unknown", "sent", "failed")
        self.assertEqual((m["status"], m["attempts"]), ("unknown", 1), m)
        # The stand-in counted it once, and it stays once.
        wait_until(lambda: self.env.stats()["sent_total"] == 1, WAIT,
                   what="the stand-in's late send")
        time.sleep(RETRY_BASE_MS * 2 ** MAX_ATTEMPTS / 1000.0 + 0.5)
        self.assertEqual(self.env.stats()["calls"]["send"], 1)
        self.assertEqual(self.message(mid)["status"], "unknown")
        self.assertIsNone(self.env.credit(oid, TPL1), "an unknown keeps "
                          "its credit spent")

    def test_connection_lost_after_writing_is_unknown(self):
        oid = openid("ob-drop")
        self.env.fault("send", "drop")
        mid = self.enqueue(oid)
        self.wxsub("worker", "--once")
        self.assertEqual(self.message(mid)["status"], "unknown")

    def test_sends_to_one_user_take_turns(self):
        oid = openid("ob-turns")
        self.env.give_credit(oid, TPL1, 3)
        # A slow first send: an overlapping one would get 43108.
        self.env.fault("send", "delay", delay_ms=300)
        ids = [self.enqueue(oid, credit=0) for _ in range(3)]
        self.start_worker()
        for mid in ids:
            m = self.wait_status(mid, "sent", "failed", "unknown")
            self.assertEqual((m["status"], m["attempts"]), ("sent", 1), m)
        self.assertEqual(self.env.stats()["calls"]["send"], 3)

    def test_long_term_template_keeps_its_marker(self):
        oid = openid("ob-long")
        self.env.give_credit(oid, TPL_LONG)
        r = self.env.post("/send", {"openId": oid, "templateId": TPL_LONG,
                                    "async": True, "data": {"thing1": "x"}})
        self.assertEqual(r.status, 202, r)
        self.env.fault("send", "errcode", errcode=40003)
        self.wxsub("worker", "--once")
        self.assertEqual(self.message(r.json["id"])["status"], "failed")
        self.assertEqual(self.env.credit(oid, TPL_LONG), 1)


class OutboxWorkerTests(OutboxCase):

    def test_entries_of_a_dead_worker_are_claimed(self):
        """One read by a worker that died before sending: sent by another
        after claimAfterMs. One it was sending: unknown, not sent."""
        a, b = openid("ob-dead", 1), openid("ob-dead", 2)
        ma = self.enqueue(a)
        mb = self.enqueue(b)
        self.env.redis("XGROUP", "CREATE", "WXSUB:outbox", "wxsub", "0",
                       "MKSTREAM")
        got = self.env.redis("XREADGROUP", "GROUP", "wxsub", "dead:1",
                             "COUNT", "10", "STREAMS", "WXSUB:outbox", ">")
        self.assertEqual(len(got[0][1]), 2)
        self.env.redis("HSET", "WXSUB:msg:" + mb, "s", "sending", "a", "1")
        t0 = time.monotonic()
        self.start_worker()
        m = self.wait_status(ma, "sent")
        self.assertGreaterEqual(time.monotonic() - t0,
                                CLAIM_AFTER_MS / 1000.0 * 0.5)
        m = self.wait_status(mb, "unknown", "sent")
        self.assertEqual((m["status"], m["error"]), ("unknown",
                                                     "worker_lost"), m)
        self.assertEqual(self.sends_to(), {a: 1})

    def test_sigterm_lets_it_finish_and_exit_0(self):
        oid = openid("ob-term")
        self.env.fault("send", "delay", delay_ms=500)
        mid = self.enqueue(oid)
        p = self.start_worker()
        wait_until(lambda: self.message(mid)["status"] == "sending", WAIT,
                   interval=0.02, what="the send under way")
        self.assertEqual(self.stop_worker(p), 0)
        self.assertEqual(self.message(mid)["status"], "sent")

    def test_outbox_commands(self):
        oid = openid("ob-cli")
        self.env.fault("send", "errcode", errcode=45009)
        mid = self.enqueue(oid)
        rc, out, _ = self.wxsub("outbox")
        self.assertEqual(rc, 0)
        self.assertIn("stream   1", out)
        self.wxsub("worker", "--once")
        rc, out, _ = self.wxsub("outbox", "failed")
        self.assertEqual(rc, 0)
        self.assertIn(mid, out)
        self.assertIn("quota_exceeded", out)
        rc, out, _ = self.wxsub("outbox", "retry", mid)
        self.assertEqual((rc, out.split()), (0, [mid, "queued"]))
        rc, out, _ = self.wxsub("outbox", "retry", mid)
        self.assertEqual((rc, out.split()), (1, [mid, "not_failed"]))
        rc, out, _ = self.wxsub("outbox", "retry", "m_000000000000000000")
        self.assertEqual(rc, 1)
        self.wxsub("worker", "--once")
        m = self.message(mid)
        self.assertEqual((m["status"], m["attempts"]), ("sent", 1), m)
        rc, _, _ = self.wxsub("outbox", "bogus")
        self.assertEqual(rc, 2)
        rc, _, _ = self.wxsub("worker", "--twice")
        self.assertEqual(rc, 2)

    def test_metrics_count_the_outbox(self):
        oid = openid("ob-metrics")
        self.enqueue(oid)
        self.wxsub("worker", "--once")
        r = self.env.get("/metrics", check=False)
        self.assertEqual(r.status, 200, r)
        text = r.body.decode()
        self.assertIn("wxsub_outbox_sent_total 1", text)
        self.assertIn("wxsub_outbox_latency_seconds_count 1", text)
        self.assertIn("wxsub_outbox_depth 0", text)


class IdempotencyTests(OutboxCase):

    def post_key(self, body, key):
        return self.env.post("/send", body, headers={"Idempotency-Key": key})

    def test_same_key_same_body_answers_the_first_answer(self):
        oid = openid("idem-sync")
        self.env.give_credit(oid, TPL1, 2)
        body = {"openId": oid, "data": {"thing1": "hello"}}
        r1 = self.post_key(body, "order-7:paid")
        self.assertOk(r1)
        r2 = self.post_key(body, "order-7:paid")
        self.assertEqual((r2.status, r2.json), (r1.status, r1.json))
        self.assertEqual(self.env.stats()["calls"]["send"], 1)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        # Another caller's key space is its own: not the same key.
        r3 = self.post_key(dict(body, page="index"), "order-7:paid")
        self.assertError(r3, 422, "idempotency_key_reused")

    def test_async_and_batch_replay_the_same_ids(self):
        a, b = openid("idem-b", 1), openid("idem-b", 2)
        for o in (a, b):
            self.env.give_credit(o, TPL1, 2)
        body = {"openIds": [a, b], "data": {"thing1": "x"}}
        r1 = self.post_key(body, "batch-1")
        self.assertEqual(r1.status, 202, r1)
        r2 = self.post_key(body, "batch-1")
        self.assertEqual((r2.status, r2.json), (202, r1.json))
        body = {"openId": a, "async": True, "data": {"thing1": "x"}}
        r3 = self.post_key(body, "one-1")
        r4 = self.post_key(body, "one-1")
        self.assertEqual((r4.status, r4.json), (202, r3.json))
        self.assertEqual(self.env.redis("XLEN", "WXSUB:outbox"), 3)
        self.wxsub("worker", "--once")
        self.assertEqual(self.sends_to(), {a: 2, b: 1})

    def calls(self):
        """Redis' calls per command since its stats were reset (a script's
        own calls included, as Redis counts them)."""
        out = {}
        for line in self.env.redis("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_"):
                name = line[8:].split(":")[0]
                out[name] = int(line.split("calls=")[1].split(",")[0])
        out.pop("info", None)
        return out

    def test_queued_sends_keep_their_key_in_one_round_trip(self):
        """Credit claim, state, XADD and the key's record are the enqueue's
        one script: one EVALSHA and no command beside it, whether the key
        is new (a 202 or a refusal) or seen (its answer again)."""
        a, b, c = (openid("idem-rt", i) for i in range(3))
        self.env.give_credit(a, TPL1, 3)
        self.env.give_credit(b, TPL1, 1)
        cases = (
            ("one-rt", {"openId": a, "async": True,
                        "data": {"thing1": "x"}}, 202),
            ("batch-rt", {"openIds": [a, b, c], "data": {"thing1": "x"}},
             202),
            ("none-rt", {"openId": c, "async": True,
                         "data": {"thing1": "x"}}, 409),
        )
        # Warm: the script cached, the template list read.
        self.assertEqual(self.post_key(cases[0][1], "warm-rt").status, 202)
        for key, body, status in cases:
            with self.subTest(key=key):
                self.env.redis("CONFIG", "RESETSTAT")
                r1 = self.post_key(body, key)
                self.assertEqual(r1.status, status, r1)
                calls = self.calls()
                self.assertEqual(calls.get("evalsha"), 1, calls)
                self.assertEqual(calls.get("set"), 1, calls)
                self.assertNotIn("eval", calls)
                kept = self.env.redis("KEYS", "WXSUB:idem:*:" + key)
                self.assertEqual(len(kept), 1)
                self.assertTrue(self.env.redis("GET", kept[0]).startswith(
                    "d|"), "the final record, never an in-flight one")
                self.env.redis("CONFIG", "RESETSTAT")
                r2 = self.post_key(body, key)
                self.assertEqual((r2.status, r2.json), (status, r1.json))
                calls = self.calls()
                self.assertEqual(calls.get("evalsha"), 1, calls)
                self.assertNotIn("set", calls)
                self.assertNotIn("xadd", calls)
        self.assertEqual(self.env.redis("XLEN", "WXSUB:outbox"), 4)
        self.assertEqual(self.env.credit(c, TPL1), None)
        self.wxsub("worker", "--once")
        self.assertEqual(self.sends_to(), {a: 3, b: 1})

    def test_refusals_are_remembered_5xx_are_not(self):
        oid = openid("idem-4xx")
        body = {"openId": oid, "data": {"thing1": "x"}}
        self.assertError(self.post_key(body, "k1"), 409, "not_subscribed")
        self.env.give_credit(oid, TPL1)
        self.assertError(self.post_key(body, "k1"), 409, "not_subscribed")
        self.env.fault("send", "http500")
        self.assertError(self.post_key(body, "k2"), 502, "upstream_error")
        self.assertOk(self.post_key(body, "k2"))

    def test_in_flight_and_malformed(self):
        oid = openid("idem-flight")
        self.env.give_credit(oid, TPL1)
        self.env.fault("send", "delay", delay_ms=800)
        body = {"openId": oid, "data": {"thing1": "x"}}
        first = {}
        t = threading.Thread(target=lambda: first.setdefault(
            "r", self.post_key(body, "slow")))
        t.start()
        wait_until(lambda: self.env.stats()["calls"]["send"] == 1, WAIT,
                   what="the first send under way")
        r2 = self.post_key(body, "slow")
        t.join(WAIT)
        self.assertOk(first["r"])
        if r2.status == 200:
            # The server queued it behind the first (mod_fcgid with every
            # process busy): then it is the first answer again.
            self.assertEqual(r2.json, first["r"].json)
        else:
            self.assertError(r2, 409, "idempotency_in_flight")
        self.assertEqual(self.post_key(body, "slow").json, first["r"].json)
        # Deterministically: the key as it is while the first runs.
        key, = self.env.redis("KEYS", "WXSUB:idem:*")
        held = "p|" + self.env.redis("GET", key)[2:66]
        self.env.redis("SET", key, held)
        self.assertError(self.post_key(body, "slow"), 409,
                         "idempotency_in_flight")
        self.assertError(self.post_key(dict(body, page="index"), "slow"),
                         422, "idempotency_key_reused")
        for bad in ("x" * 65, "has space", "semi;colon", "\u00e9t\u00e9"):
            r = self.post_key(body, bad.encode("utf-8").decode("latin-1"))
            self.assertError(r, 400, "bad_request", msg_has="Idempotency-Key")
        self.assertEqual(self.env.stats()["calls"]["send"], 1)


class OutboxAofTests(OutboxCase):

    def test_check_config_warns_without_aof(self):
        rc, out, _ = self.wxsub("check-config")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("appendonly", out)
        self.env.redis("CONFIG", "SET", "appendonly", "no")
        try:
            rc, out, _ = self.wxsub("check-config")
            self.assertEqual(rc, 0, out)
            self.assertIn("warning  redis has appendonly no", out)
        finally:
            self.env.redis("CONFIG", "SET", "appendonly", "yes")


class OutboxFaultCase(OutboxCase):
    """Each fault test ends with the issue's promise: every message a 202
    accepted is delivered exactly once, or is failed/unknown with its
    reason; no openId got a message twice; credits are exact."""

    WORLD = "own"       # kills and restarts Redis, or fails every send

    CONFIG = dict(OutboxCase.CONFIG, **{"outbox.maxAttempts": "8",
                                        "outbox.retryBaseMs": "100"})

    def batch(self, tag, n):
        oids = [openid(tag, i) for i in range(n)]
        self.env.redis.pipeline([("INCRBY", "SUBSCRIBE:%s:%s" % (TPL1, o),
                                  "1") for o in oids])
        for o in oids:
            self.env.quota(o, TPL1)
        r = self.env.post("/send", {"openIds": oids,
                                    "data": {"thing1": "hello"}},
                          timeout=60)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["queued"], n, r)
        return r.json["messages"]

    def states(self, messages):
        ids = list(messages.values())
        rows = self.env.redis.pipeline([("HMGET", "WXSUB:msg:" + i, "s", "e",
                                         "m") for i in ids])
        return dict(zip(ids, rows))

    def wait_final(self, messages, timeout=90):
        final = ("sent", "failed", "unknown")

        def done():
            return all(row[0] in final
                       for row in self.states(messages).values())
        try:
            wait_until(done, timeout, interval=0.25,
                       what="every message final")
        except TimeoutError:
            # what is stuck, and where the outbox has it
            left = {mid: row for mid, row in self.states(messages).items()
                    if row[0] not in final}
            some = sorted(left)[:3]
            rc, out, _ = self.wxsub("outbox")
            raise AssertionError(
                "%d messages not final: %r\nfor example %r\n%s\n%s" % (
                    len(left), collections.Counter(r[0] for r in
                                                   left.values()),
                    [(m, self.env.redis("HGETALL", "WXSUB:msg:" + m),
                      self.env.redis("ZSCORE", "WXSUB:outbox:delayed", m))
                     for m in some], out,
                    "\n".join(open(f, errors="replace").read()[-3000:]
                              for f in self.env.extra_logs
                              if "worker" in f)))

    def assertExactlyOnce(self, messages):
        st = self.env.stats()
        self.assertEqual(st["sent_total"], len(st["sent"]))
        by_user = self.sends_to()
        msgids = {s["touser"]: s["msgid"] for s in st["sent"]}
        states = self.states(messages)
        count = collections.Counter()
        for oid, mid in messages.items():
            s, err, msgid = states[mid]
            count[s] += 1
            self.assertLessEqual(by_user[oid], 1, "%s got two" % oid)
            credit = self.env.credit(oid, TPL1)
            if s == "sent":
                self.assertEqual(by_user[oid], 1, (oid, mid))
                self.assertEqual(int(msgid), msgids[oid])
                self.assertIsNone(credit, "a sent message spent its credit")
            elif s == "failed":
                self.assertTrue(err, "a failure says why")
                self.assertEqual(by_user[oid], 0, (oid, mid))
                self.assertEqual(credit, 1, "given back")
            else:
                self.assertEqual(s, "unknown", (oid, mid, s))
                self.assertTrue(err, "an unknown says why")
                self.assertIsNone(credit, "an unknown keeps it spent")
        self.assertEqual(sum(by_user.values()), count["sent"] +
                         sum(1 for oid, mid in messages.items()
                             if states[mid][0] == "unknown" and by_user[oid]))
        return count



class OutboxFaultTests(OutboxFaultCase):

    def test_redis_killed_and_restarted_mid_batch(self):
        msgs = self.batch("ob-rk", 1000)
        self.env.fault("send", "delay", count=-1, delay_ms=10)
        self.start_worker()
        wait_until(lambda: self.env.stats()["sent_total"] >= 150, WAIT,
                   what="a part of the batch sent")
        self.env.redis_proc.send_signal(signal.SIGKILL)
        self.env.redis_proc.wait()
        self.env.redis_proc = None
        self.env.start_redis()          # the same dir: the AOF comes back
        self.env.control("DELETE", "/__control/fault")
        self.wait_final(msgs, timeout=120)
        count = self.assertExactlyOnce(msgs)
        self.assertGreater(count["sent"], 900, count)

    def test_worker_killed_mid_batch_while_another_runs(self):
        msgs = self.batch("ob-wk", 300)
        self.env.fault("send", "delay", count=-1, delay_ms=20)
        w1 = self.start_worker()
        self.start_worker()
        wait_until(lambda: self.env.stats()["sent_total"] >= 60, WAIT,
                   what="a part of the batch sent")
        w1.kill()
        w1.wait()
        self.env.control("DELETE", "/__control/fault")
        self.wait_final(msgs)
        count = self.assertExactlyOnce(msgs)
        self.assertGreater(count["sent"], 250, count)

    def test_two_workers_and_cron_at_once(self):
        msgs = self.batch("ob-cron", 300)
        self.env.fault("send", "delay", count=-1, delay_ms=5)
        self.start_worker()
        self.start_worker()
        rc, out, err = self.wxsub("worker", "--once", timeout=120)
        self.assertEqual(rc, 0, err)
        self.wait_final(msgs)
        count = self.assertExactlyOnce(msgs)
        self.assertEqual(count["sent"], 300, count)


class OutboxOutageTests(OutboxFaultCase):
    """WeChat failing every send for 30 s, then healing. Retries start at
    0.5 s and double (full jitter) up to the 8th attempt: on average a
    message has used its attempts after about 32 s, so an outage of 30 s
    ends some of them failed and leaves most to be sent once it heals,
    at the longest 32 s later."""

    OUTAGE_S = 30
    CONFIG = dict(OutboxFaultCase.CONFIG, **{"outbox.retryBaseMs": "500"})

    def test_wechat_failing_for_30_s_then_healing(self):
        msgs = self.batch("ob-heal", 100)
        self.env.fault("send", "http500", count=-1)
        self.start_worker()
        wait_until(lambda: self.env.stats()["calls"]["send"] >= 1, WAIT,
                   what="the first failed send")
        start = time.monotonic()
        seen = []               # (seconds into the outage, calls so far)
        while time.monotonic() - start < self.OUTAGE_S:
            time.sleep(1.0)
            seen.append((time.monotonic() - start,
                         self.env.stats()["calls"]["send"]))
        self.assertEqual(self.env.stats()["sent_total"], 0, "nothing got "
                         "through while WeChat failed")
        self.env.control("DELETE", "/__control/fault")
        # the worker kept trying all along, not only at the start
        late = [c for t, c in seen if t >= self.OUTAGE_S - 6]
        early = [c for t, c in seen if t <= self.OUTAGE_S - 12]
        self.assertGreater(max(late), max(early), seen)
        failing = seen[-1][1]
        self.wait_final(msgs, timeout=120)
        count = self.assertExactlyOnce(msgs)
        self.assertGreater(count["sent"], 0, count)
        self.assertEqual(count["unknown"], 0, count)
        self.assertEqual(count["sent"] + count["failed"], 100, count)
        for mid in msgs.values():
            st = self.env.get("/messages/" + mid).json
            if st["status"] == "failed":
                self.assertEqual(st["attempts"], 8, st)
            else:
                self.assertGreaterEqual(st["attempts"], 2, st)
        print("\n    outage %d s: %d failing calls, then %d sent, %d failed"
              % (self.OUTAGE_S, failing, count["sent"], count["failed"]),
              end=" ")


class OutboxRateTests(OutboxCase):

    RATE = 4
    CONFIG = dict(OutboxCase.CONFIG, **{"outbox.ratePerSecond": str(RATE)})

    def test_rate_per_second_holds_for_the_fleet(self):
        msgs = [self.enqueue(openid("ob-rate", i)) for i in range(3 * self.RATE)]
        self.start_worker()
        self.start_worker()
        for mid in msgs:
            self.wait_status(mid, "sent")
        # At most RATE a wall-clock second, whatever the number of
        # workers: 3 x RATE sends span three seconds, so more than one
        # second passes from the first to the last; a second of the
        # stand-in's clock, aligned otherwise, may see two halves.
        at = sorted(s["at"] for s in self.env.stats()["sent"])
        self.assertEqual(len(at), 3 * self.RATE)
        self.assertGreater(at[-1] - at[0], 1.0, at)
        per = collections.Counter(int(t) for t in at)
        self.assertLessEqual(max(per.values()), 2 * self.RATE, at)
