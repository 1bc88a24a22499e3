"""Contract section 4: one access token for every process, one token
call however many find the cache empty, revocations, the lock's bounds,
the classic API and the refresh ahead of expiry."""

import time

from harness import (E2ECase, LOCK_KEY, LOCK_MS, TIMEOUT_MS, TOKEN_KEY, TPL1,
                     openid, parallel, wait_until)


class TokenCase(E2ECase):
    KIND = "logic"

    def credits_for(self, tag, n, tpl=TPL1):
        oids = [openid(tag, i) for i in range(n)]
        self.env.redis.pipeline([("INCRBY", "SUBSCRIBE:%s:%s" % (tpl, o), 1)
                                 for o in oids])
        for o in oids:
            self.env.quota(o, tpl, 1)
        return oids

    def send_all(self, oids, workers=50, tpl=TPL1):
        t0 = time.monotonic()
        out = parallel(lambda o: (self.env.send(o, tpl),
                                  time.monotonic() - t0), oids, workers)
        for r in out:
            if isinstance(r, Exception):
                raise r
        return [r for r, _ in out], [t for _, t in out]

    def warm(self):
        """A send through wxsub, so that it cached a token itself."""
        oid = openid("warm")
        self.env.give_credit(oid, TPL1)
        self.assertOk(self.env.send(oid, TPL1))
        tok = self.env.redis("GET", TOKEN_KEY)
        self.assertTrue(tok)
        return tok


class TokenTests(TokenCase):

    def test_200_concurrent_sends_one_token_call(self):
        oids = self.credits_for("many", 200)
        self.assertIsNone(self.env.redis("GET", TOKEN_KEY))
        rs, _ = self.send_all(oids, workers=50)
        bad = [r for r in rs if r.status != 200]
        self.assertEqual(bad, [], "%d of 200 failed" % len(bad))
        calls = self.env.calls()
        self.assertEqual(calls["stable_token"] + calls["token"], 1,
                         "WeChat must see one token call: %r" % calls)
        self.assertEqual(calls["send"], 200)
        left = self.env.redis.pipeline([("EXISTS", "SUBSCRIBE:%s:%s"
                                         % (TPL1, o)) for o in oids])
        self.assertEqual(sum(left), 0, "every credit spent")
        self.assertGreaterEqual(len(self.env.fcgi_pids()), 2,
                                "several FastCGI processes took part")
        ttl = self.env.redis("TTL", TOKEN_KEY)
        self.assertTrue(7000 - 10 <= ttl <= 7000, "TTL expires_in - 200: %r"
                        % ttl)

    def test_revoked_token_one_refresh(self):
        old = self.warm()
        base = self.env.calls()
        self.env.control("POST", "/__control/revoke", {"mode": "revoke"})
        oids = self.credits_for("rev", 12)
        r = self.env.send(oids[0], TPL1)
        self.assertOk(r)
        rs, _ = self.send_all(oids[1:], workers=11)
        self.assertEqual([r.status for r in rs], [200] * 11, rs)
        calls = self.env.calls()
        self.assertEqual(calls["stable_token"] - base["stable_token"], 1,
                         "exactly one refresh: %r" % calls)
        self.assertEqual(calls["stable_token_force"], 0)
        new = self.env.redis("GET", TOKEN_KEY)
        self.assertNotEqual(new, old)
        self.assertEqual(self.env.stats()["sent"][-1]["access_token"], new)

    def test_stuck_revocation_forces_once_then_throttles(self):
        """stable_token keeps handing out the revoked token: wxsub forces
        one refresh; a second such revocation within 30 s (WeChat ignores
        forced refreshes closer than that) answers 503, not a second
        force."""
        old = self.warm()
        base = self.env.calls()
        self.env.control("POST", "/__control/revoke", {"mode": "stuck"})
        oid = openid("stuck")
        self.env.give_credit(oid, TPL1)
        self.assertOk(self.env.send(oid, TPL1))
        calls = self.env.calls()
        self.assertEqual(calls["stable_token_force"], 1, calls)
        self.assertEqual(calls["stable_token"] - base["stable_token"], 2,
                         "one plain call, one forced: %r" % calls)
        new = self.env.redis("GET", TOKEN_KEY)
        self.assertNotEqual(new, old)
        self.assertIn("force", self.env.wxsub_log(),
                      "the forced refresh is logged")
        # again, 10 s later on WeChat's clock
        self.env.control("POST", "/__control/advance", {"seconds": 10})
        self.env.control("POST", "/__control/revoke", {"mode": "stuck"})
        oid2 = openid("stuck", 2)
        self.env.give_credit(oid2, TPL1)
        r = self.env.send(oid2, TPL1)
        # WeChat's refusal of the send (40001) is passed on
        self.assertError(r, 503, "token_unavailable", errcode=40001,
                         msg_has="30 s")
        self.assertEqual(self.env.calls()["stable_token_force"], 1,
                         "no second forced refresh within 30 s")
        self.assertEqual(self.env.credit(oid2, TPL1), 1)

    def test_token_fetch_slower_than_the_lock(self):
        """Every stable_token call hangs longer than wechat.timeoutMs and
        than the lock's life; 20 concurrent sends on an empty cache:
        WeChat sees one token call and every request answers 503 within
        timeout + lock life."""
        self.env.fault("stable_token", "delay", count=-1,
                       delay_ms=LOCK_MS + 2500)
        oids = self.credits_for("slow", 20)
        rs, times = self.send_all(oids, workers=20)
        bound = (TIMEOUT_MS + LOCK_MS) / 1000.0 + 0.5
        calls = self.env.calls()
        problems = []
        if calls["stable_token"] != 1:
            problems.append("WeChat saw %d stable_token calls, want 1"
                            % calls["stable_token"])
        if max(times) >= bound:
            problems.append("answers came after %s s, want all < %.1f s"
                            % (sorted(round(t, 1) for t in times), bound))
        other = [r for r in rs if r.status != 503 or
                 r.json.get("error") != "token_unavailable"]
        if other:
            problems.append("not 503 token_unavailable: %r" % other)
        self.assertFalse(problems, "; ".join(problems))
        self.assertEqual(calls["send"], 0)
        left = self.env.redis.pipeline([("GET", "SUBSCRIBE:%s:%s"
                                         % (TPL1, o)) for o in oids])
        self.assertEqual(left, ["1"] * 20, "every credit kept")

    def test_waiter_past_its_bound_503(self):
        """Someone else holds the lock and never stores a token: the
        waiter gives up after its bound (lock life + 0.5 s), fetching
        nothing itself."""
        self.env.redis("SET", LOCK_KEY, "held-by-the-test", "PX", "60000")
        oid = openid("bound")
        self.env.give_credit(oid, TPL1)
        t0 = time.monotonic()
        r = self.env.send(oid, TPL1)
        dt = time.monotonic() - t0
        self.assertError(r, 503, "token_unavailable")
        want = (LOCK_MS + 500) / 1000.0
        self.assertTrue(want - 0.3 <= dt <= want + 1.0,
                        "answered after %.2f s, bound %.2f s" % (dt, want))
        self.assertEqual(sum(self.env.calls().values()), 0)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertEqual(self.env.redis("GET", LOCK_KEY), "held-by-the-test",
                         "the waiter must not touch someone else's lock")

    def test_refresh_ahead_of_expiry(self):
        old = self.warm()
        base = self.env.calls()
        self.env.redis("EXPIRE", TOKEN_KEY, "50")
        # the stable token enters its last 300 s: WeChat rotates it
        self.env.control("POST", "/__control/advance", {"seconds": 7200 - 250})
        oid = openid("ahead")
        self.env.give_credit(oid, TPL1)
        r = self.env.send(oid, TPL1)
        self.assertOk(r)
        self.assertLess(r.elapsed, 0.5, "the refresh must not delay the "
                        "answer")
        self.assertEqual(self.env.stats()["sent"][-1]["access_token"], old)

        def refreshed():
            tok = self.env.redis("GET", TOKEN_KEY)
            return tok and tok != old and \
                self.env.redis("TTL", TOKEN_KEY) > 6000
        try:
            wait_until(refreshed, 3, what="a refreshed token")
        except TimeoutError:
            self.fail("no new token in Redis: %r (TTL %r)" % (
                self.env.redis("GET", TOKEN_KEY) == old,
                self.env.redis("TTL", TOKEN_KEY)))
        calls = self.env.calls()
        self.assertEqual(calls["stable_token"] - base["stable_token"], 1,
                         calls)
        self.assertEqual(calls["stable_token_force"], 0)
        # and the new one is used
        oid2 = openid("ahead", 2)
        self.env.give_credit(oid2, TPL1)
        self.assertOk(self.env.send(oid2, TPL1))
        self.assertEqual(self.env.stats()["sent"][-1]["access_token"],
                         self.env.redis("GET", TOKEN_KEY))


class ClassicTokenTests(TokenCase):
    """wechat.tokenApi = classic: GET /cgi-bin/token."""

    CONFIG = {"wechat.tokenApi": "classic"}

    def test_classic_api_one_call_for_many(self):
        oids = self.credits_for("cl", 40)
        rs, _ = self.send_all(oids, workers=40)
        self.assertEqual([r.status for r in rs], [200] * 40)
        calls = self.env.calls()
        self.assertEqual(calls["token"], 1, calls)
        self.assertEqual(calls["stable_token"], 0, calls)
        st = self.env.stats()
        self.assertEqual(self.env.redis("GET", TOKEN_KEY),
                         st["tokens"]["classic_current"])

    def test_classic_rejected_token_one_new_call(self):
        for code in (40001, 42001, 40014, 41001):
            with self.subTest(errcode=code):
                self.env.reset()
                old = self.warm()
                base = self.env.calls()
                oid = openid("clrej", code)
                self.env.give_credit(oid, TPL1)
                self.env.fault("send", "errcode", errcode=code)
                self.assertOk(self.env.send(oid, TPL1))
                calls = self.env.calls()
                self.assertEqual(calls["token"] - base["token"], 1, calls)
                self.assertEqual(calls["send"] - base["send"], 2)
                new = self.env.redis("GET", TOKEN_KEY)
                self.assertNotEqual(new, old)
                self.assertEqual(self.env.stats()["sent"][-1]
                                 ["access_token"], new)

    def test_classic_revoked(self):
        self.warm()
        base = self.env.calls()
        self.env.control("POST", "/__control/revoke", {"mode": "revoke"})
        oid = openid("clrev")
        self.env.give_credit(oid, TPL1)
        self.assertOk(self.env.send(oid, TPL1))
        self.assertEqual(self.env.calls()["token"] - base["token"], 1)
