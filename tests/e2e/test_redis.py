"""Redis going away and coming back while the web server keeps running."""

import time

from harness import E2ECase, TPL1, openid, wait_until


class RedisDownTests(E2ECase):
    WORLD = "own"       # stops and restarts Redis

    def tearDown(self):
        if not self.env.redis_running():
            self.env.start_redis()

    def assertEveryProcessRecordsAndSends(self, tag):
        """After Redis came back empty: a record and a send through each
        of the processes (eight requests reach them all), each complete."""
        for i in range(8):
            with self.subTest(tag=tag, i=i):
                oid = openid(tag, i)
                j = self.assertOk(self.env.record(oid, TPL1))
                self.assertEqual(j["credits"], {TPL1: 1})
                self.env.quota(oid, TPL1, 1)
                self.assertOk(self.env.send(oid, TPL1))
                self.assertIsNone(self.env.credit(oid, TPL1))

    def test_health_200_503_200(self):
        j = self.assertOk(self.env.get("/health"))
        self.assertEqual(j["redis"], "ok")
        self.assertIsInstance(j.get("version"), str)
        self.env.stop_redis()
        for _ in range(8):          # reach every process
            r = self.env.get("/health")
            self.assertError(r, 503, "redis_unavailable")
            self.assertLess(r.elapsed, 1.0)
        self.env.start_redis()
        for _ in range(8):
            self.assertOk(self.env.get("/health"))

    def test_send_and_record_503_then_recover(self):
        oid = openid("rdown")
        self.env.give_credit(oid, TPL1, 2)
        self.assertOk(self.env.send(oid, TPL1))       # a token is cached
        self.env.stop_redis()
        for i in range(8):
            with self.subTest(i=i):
                r = self.env.send(oid, TPL1)
                self.assertError(r, 503, "redis_unavailable")
                self.assertLess(r.elapsed, 1.0, r)
                r = self.env.record(oid, TPL1)
                self.assertError(r, 503, "redis_unavailable")
                self.assertLess(r.elapsed, 1.0, r)
                r = self.env.get("/subscriptions?openId=" + oid)
                self.assertError(r, 503, "redis_unavailable")
                self.assertLess(r.elapsed, 1.0, r)
        self.assertEqual(self.env.calls()["send"], 1,
                         "nothing reached WeChat while Redis was down")
        server_pids = self.env.fcgi_pids()
        # same port, empty (no persistence): everything works again
        self.env.start_redis()
        t0 = time.monotonic()
        self.assertEveryProcessRecordsAndSends("rup")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertTrue(self.env.server_alive())
        if self.env.server == "lighttpd":
            self.assertEqual(sorted(self.env.fcgi_pids()),
                             sorted(server_pids),
                             "no FastCGI process was restarted")
        log = self.env.wxsub_log()
        self.assertIn("redis", log.lower())

    def test_restart_with_lock_releases_held(self):
        """A send's lock release is written once its answer is out, and
        its reply is read with the process's next command. Redis restarting
        in between must cost nothing: every process answers the next
        request."""
        for i in range(8):          # reach every process
            oid = openid("owed", i)
            self.env.give_credit(oid, TPL1)
            self.assertOk(self.env.send(oid, TPL1))
        self.env.stop_redis()
        self.env.start_redis()      # same port, empty
        self.assertEveryProcessRecordsAndSends("owed2")
        # the last release goes out although no request follows it
        wait_until(lambda: not self.env.redis("KEYS", "WXSUB:sendlock:*"),
                   0.5, what="the send locks released")
