"""POST /send: every row of the contract's outcome table."""

import threading
import time

from harness import (E2ECase, TIMEOUT_MS, TOKEN_KEY, TPL1, TPL2, TPL_LONG,
                     TPL_UNKNOWN, openid, wait_until)


class SendTests(E2ECase):
    KIND = "logic"

    def warm_token(self):
        """A cached token, as after earlier traffic."""
        tok, _ = self.env.standin_token()
        self.env.redis("SET", TOKEN_KEY, tok, "EX", "6000")
        return tok

    def assertCreditKept(self, oid, tpl, n=1):
        self.assertEqual(self.env.credit(oid, tpl), n,
                         "the credit must be kept")

    # -- sent -------------------------------------------------------------------

    def test_sent_records_the_message(self):
        oid = openid("sent")
        self.env.give_credit(oid, TPL1, 2)
        data = {"thing1": "\u8ba2\u5355\u5df2\u53d1\u8d27",
                "time3": {"value": "2024-01-02 10:30"},
                "number2": "3.5", "amount4": "\u00a512.50",
                "character_string5": "SO-2019/001#A",
                "phrase6": "\u914d\u9001\u4e2d"}
        r = self.env.post("/send", {
            "openId": oid, "page": "pages/detail/detail?id=7",
            "miniprogramState": "developer", "lang": "en_US", "data": data})
        j = self.assertOk(r)
        self.assertIsInstance(j["msgid"], int)
        self.assertEqual(self.env.credit(oid, TPL1), 1, "one credit used")
        self.assertEqual(self.env.quota_left(oid, TPL1), 1)
        st = self.env.stats()
        self.assertEqual(st["calls"]["send"], 1)
        self.assertEqual(st["calls"]["stable_token"], 1)
        rec = st["sent"][-1]
        self.assertEqual(rec["msgid"], j["msgid"])
        self.assertEqual(rec["touser"], oid)
        self.assertEqual(rec["template_id"], TPL1, "wechat.templateId "
                         "is the default template")
        self.assertEqual(rec["page"], "pages/detail/detail?id=7")
        self.assertEqual(rec["miniprogram_state"], "developer")
        self.assertEqual(rec["lang"], "en_US")
        want = {k: (v if isinstance(v, dict) else {"value": v})
                for k, v in data.items()}
        self.assertEqual(rec["data"], want)
        self.assertEqual(rec["access_token"],
                         self.env.redis("GET", TOKEN_KEY))
        # defaults: no page, formal, zh_CN; the last credit goes
        j = self.assertOk(self.env.send(oid, TPL1, {"thing1": "again"}))
        rec = self.env.stats()["sent"][-1]
        self.assertEqual(rec["msgid"], j["msgid"])
        self.assertIsNone(rec["page"])
        self.assertEqual(rec["miniprogram_state"], "formal")
        self.assertEqual(rec["lang"], "zh_CN")
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertEqual(self.env.calls()["stable_token"], 1,
                         "the cached token is reused")

    def test_msgid_is_a_64_bit_integer(self):
        oid = openid("msgid")
        self.env.give_credit(oid, TPL2)
        j = self.assertOk(self.env.send(oid, TPL2))
        self.assertGreater(j["msgid"], 2 ** 53, "the stand-in's msgids are "
                           "above 10^18: no float rounding allowed")
        self.assertEqual(self.env.stats()["sent"][-1]["msgid"], j["msgid"])

    # -- refused before WeChat ----------------------------------------------------

    def test_not_subscribed_calls_nothing(self):
        oid = openid("nosub")
        self.env.quota(oid, TPL1, 1)
        r = self.env.send(oid)
        self.assertError(r, 409, "not_subscribed")
        self.env.give_credit(oid, TPL2, 1)
        r = self.env.send(oid, TPL1)
        self.assertError(r, 409, "not_subscribed")
        calls = self.env.calls()
        self.assertEqual(calls["send"], 0)
        self.assertEqual(calls["stable_token"] + calls["token"], 0)
        self.assertCreditKept(oid, TPL2)

    def test_refused_claim_leaves_the_credit_key_as_it_was(self):
        """The claim spends with a DECR and undoes it when refused: no
        key is left behind for a user without one, and a value that is
        not a credit (zero, below zero, not a count, not a string) is
        refused and left exactly as it was, life included."""
        oid = openid("undo")
        key = "SUBSCRIBE:%s:%s" % (TPL1, oid)
        self.env.quota(oid, TPL1, 1)
        self.assertError(self.env.send(oid, TPL1), 409, "not_subscribed")
        self.assertEqual(self.env.redis("EXISTS", key), 0,
                         "no key made by the refused claim")
        for value in ("0", "-3", "abc", "1.5"):
            with self.subTest(value=value):
                self.env.redis("SET", key, value, "EX", 5000)
                self.assertError(self.env.send(oid, TPL1), 409,
                                 "not_subscribed")
                self.assertEqual(self.env.redis("GET", key),
                                 None if value == "0" else value)
                if value != "0":
                    self.assertGreater(self.env.redis("TTL", key), 4000)
        self.env.redis("DEL", key)
        self.env.redis("HSET", key, "f", "1")
        r = self.env.send(oid, TPL1)
        self.assertEqual(r.status // 100, 4, r)
        self.assertEqual(self.env.redis("HGET", key, "f"), "1")
        self.env.redis("DEL", key)
        self.assertEqual(self.env.calls()["send"], 0)

    def test_unknown_template_or_bad_openid_before_anything(self):
        oid = openid("unk")
        self.env.give_credit(oid, TPL1)
        r = self.env.send(oid, "TPL_NOT_CONFIGURED")
        self.assertError(r, 400, "unknown_template")
        r = self.env.send(oid[:-1], TPL1)
        self.assertError(r, 400, "bad_request", msg_has="openId")
        self.assertEqual(sum(self.env.calls().values()), 0)
        self.assertCreditKept(oid, TPL1)

    def test_local_invalid_data_422(self):
        oid = openid("inv")
        self.env.give_credit(oid, TPL1)
        for key, value in [("thing1", "x" * 21),
                           ("thing1", "line\nbreak"),
                           ("number2", "abc"), ("number2", "1.2.3"),
                           ("letter3", "abc1"), ("phrase4", "abc"),
                           ("phrase4", "\u4e00" * 6), ("time5", "25:00"),
                           ("date6", "2019-02-30"), ("amount7", "12 yuan"),
                           ("character_string8", "has space"),
                           ("symbol9", "abc"), ("car_number10", "ABCDEFGHI"),
                           ("thing1", "")]:
            with self.subTest(key=key, value=value):
                r = self.env.send(oid, TPL1, {key: value})
                self.assertError(r, 422, "invalid_data", msg_has=key)
                r = self.env.send(oid, TPL1, {"thing11": "fine",
                                              key: {"value": value}})
                self.assertError(r, 422, "invalid_data", msg_has=key)
        self.assertEqual(sum(self.env.calls().values()), 0,
                         "no call to WeChat")
        self.assertCreditKept(oid, TPL1)

    # -- WeChat's refusals ----------------------------------------------------------

    def test_43101_user_refused_clears_credit(self):
        oid = openid("refused")
        self.env.give_credit(oid, TPL1, 3, quota=False)   # WeChat has none
        r = self.env.send(oid, TPL1)
        self.assertError(r, 409, "user_refused", errcode=43101)
        self.assertIsNone(self.env.credit(oid, TPL1), "credits cleared")
        self.assertEqual(self.env.calls()["send"], 1)

    def test_40003_invalid_openid_injected(self):
        oid = openid("e40003")
        self.env.give_credit(oid, TPL1)
        self.env.fault("send", "errcode", errcode=40003)
        r = self.env.send(oid, TPL1)
        self.assertError(r, 400, "invalid_openid", errcode=40003)
        self.assertCreditKept(oid, TPL1)
        self.assertEqual(self.env.calls()["send"], 1)

    def test_40037_template_unknown_at_wechat(self):
        oid = openid("e40037")
        self.env.give_credit(oid, TPL_UNKNOWN)
        r = self.env.send(oid, TPL_UNKNOWN)
        self.assertError(r, 400, "invalid_template", errcode=40037)
        self.assertCreditKept(oid, TPL_UNKNOWN)
        self.assertEqual(self.env.calls()["send"], 1)

    def test_47003_data_wechat_refuses(self):
        """wxsub lets a signed number through; the stand-in (like
        WeChat's "digits") refuses it with 47003."""
        oid = openid("e47003")
        self.env.give_credit(oid, TPL1)
        r = self.env.send(oid, TPL1, {"number1": "+5"})
        self.assertError(r, 400, "invalid_data", errcode=47003)
        self.assertCreditKept(oid, TPL1)
        self.assertEqual(self.env.calls()["send"], 1)

    def test_41030_page_unknown_at_wechat(self):
        oid = openid("e41030")
        self.env.give_credit(oid, TPL1)
        r = self.env.send(oid, TPL1, page="pages/missing/missing")
        self.assertError(r, 400, "invalid_page", errcode=41030)
        self.assertCreditKept(oid, TPL1)

    def test_43107_template_banned(self):
        oid = openid("e43107")
        self.env.give_credit(oid, TPL2)
        self.env.control("POST", "/__control/template",
                         {"id": TPL2, "banned": True})
        r = self.env.send(oid, TPL2)
        self.assertError(r, 403, "template_banned", errcode=43107)
        self.assertCreditKept(oid, TPL2)

    def test_43108_retried_after_a_pause(self):
        for n in (1, 2):
            with self.subTest(times=n):
                self.env.reset()
                oid = openid("e43108", n)
                self.env.give_credit(oid, TPL1)
                self.env.fault("send", "errcode", count=n, errcode=43108)
                r = self.env.send(oid, TPL1)
                self.assertOk(r)
                self.assertEqual(self.env.calls()["send"], n + 1)
                self.assertIsNone(self.env.credit(oid, TPL1))
                self.assertEqual(self.env.quota_left(oid, TPL1), 0)

    def test_45168_sensitive_content(self):
        oid = openid("e45168")
        self.env.give_credit(oid, TPL1)
        r = self.env.send(oid, TPL1, {"thing1": "sensitive words"})
        self.assertError(r, 422, "sensitive_content", errcode=45168)
        self.assertCreditKept(oid, TPL1)

    def test_45009_quota_exceeded(self):
        oid = openid("e45009")
        self.env.give_credit(oid, TPL1)
        self.env.fault("send", "errcode", errcode=45009)
        r = self.env.send(oid, TPL1)
        self.assertError(r, 429, "quota_exceeded", errcode=45009)
        self.assertCreditKept(oid, TPL1)

    def test_token_rejected_once_renewed_and_retried(self):
        """40001/42001/40014/41001 on a send: the cached token is dropped,
        a fresh one fetched, the send retried once, 200. The injected
        code rejects a token stable_token still hands out, which the
        contract (section 4) treats as revoked: one plain stable_token
        call, then one force_refresh call."""
        for code in (40001, 42001, 40014, 41001):
            with self.subTest(errcode=code):
                self.env.reset()
                old = self.warm_token()
                oid = openid("rej", code)
                self.env.give_credit(oid, TPL1)
                before = self.env.calls()
                self.env.fault("send", "errcode", errcode=code)
                j = self.assertOk(self.env.send(oid, TPL1))
                calls = self.env.calls()
                self.assertEqual(calls["send"] - before["send"], 2,
                                 "one send, one retry")
                self.assertEqual(calls["stable_token"] -
                                 before["stable_token"], 2)
                self.assertEqual(calls["stable_token_force"] -
                                 before["stable_token_force"], 1)
                new = self.env.redis("GET", TOKEN_KEY)
                self.assertNotEqual(new, old, "the refused token was dropped")
                st = self.env.stats()
                self.assertEqual(st["sent"][-1]["access_token"], new)
                self.assertEqual(st["sent"][-1]["msgid"], j["msgid"])
                self.assertIsNone(self.env.credit(oid, TPL1))

    def test_token_rejected_twice_is_not_retried_again(self):
        oid = openid("rej2")
        self.warm_token()
        self.env.give_credit(oid, TPL1)
        self.env.fault("send", "errcode", count=2, errcode=40001)
        r = self.env.send(oid, TPL1)
        self.assertGreaterEqual(r.status, 500, r)
        self.assertEqual(self.env.calls()["send"], 2, "one retry only")
        self.assertCreditKept(oid, TPL1)

    # -- WeChat failing -------------------------------------------------------------

    def test_upstream_errors_502_credit_kept(self):
        limit = TIMEOUT_MS / 1000.0 + 1.0
        cases = [("errcode", {"errcode": -1}, -1),
                 ("errcode", {"errcode": 99999}, 99999),
                 ("errcode", {"errcode": 48001}, 48001),
                 ("http500", {}, None), ("garbage", {}, None),
                 ("drop", {}, None),
                 ("delay", {"delay_ms": TIMEOUT_MS + 1500}, None)]
        for kind, extra, errcode in cases:
            with self.subTest(kind=kind, **extra):
                self.env.reset()
                self.warm_token()
                oid = openid("up" + kind, abs(extra.get("errcode", 0)))
                self.env.give_credit(oid, TPL1)
                self.env.fault("send", kind, **extra)
                t0 = time.monotonic()
                r = self.env.send(oid, TPL1)
                dt = time.monotonic() - t0
                self.assertError(r, 502, "upstream_error", errcode=errcode,
                                 msg_has="not resent" if kind == "drop"
                                 else None)
                self.assertLess(dt, limit, "answered after %.2f s" % dt)
                self.assertCreditKept(oid, TPL1)
                self.assertEqual(self.env.calls()["send"], 1,
                                 "the send must not be repeated")

    def test_token_endpoint_failing_503(self):
        for kind, extra in [("errcode", {"errcode": -1}),
                            ("errcode", {"errcode": 40164}),
                            ("http500", {}), ("garbage", {}),
                            ("drop", {})]:
            with self.subTest(kind=kind, **extra):
                self.env.reset()
                oid = openid("tok" + kind)
                self.env.give_credit(oid, TPL1)
                self.env.fault("stable_token", kind, count=-1, **extra)
                t0 = time.monotonic()
                r = self.env.send(oid, TPL1)
                dt = time.monotonic() - t0
                self.assertError(r, 503, "token_unavailable")
                self.assertLess(dt, TIMEOUT_MS / 1000.0 + 1.0)
                self.assertCreditKept(oid, TPL1)
                self.assertEqual(self.env.calls()["send"], 0)
                self.assertIsNone(self.env.redis("GET", TOKEN_KEY))

    # -- long-term --------------------------------------------------------------------

    def test_lock_released_and_answers_in_step(self):
        """Back-to-back sends to one user, each followed by a read of the
        credit: every send releases the user's lock (a successful one and
        one WeChat refuses), and each answer counts what the one before
        left."""
        oid = openid("nowait")
        self.env.give_credit(oid, TPL1, 6)
        for i in range(6):
            with self.subTest(i=i):
                self.assertOk(self.env.send(oid, TPL1))
                j = self.assertOk(self.env.get(
                    "/subscriptions?openId=%s&templateId=%s" % (oid, TPL1)))
                self.assertEqual(j["credits"], {TPL1: 5 - i})
        wait_until(lambda: not self.env.redis("KEYS", "WXSUB:sendlock:*"),
                   2, what="the send lock released")
        self.assertError(self.env.send(oid, TPL1), 409, "not_subscribed")
        # a long-term send that WeChat refuses keeps its marker: same path
        self.assertOk(self.env.record(oid, TPL_LONG))
        self.env.fault("send", "errcode", errcode=47003)
        self.assertError(self.env.send(oid, TPL_LONG, {"thing1": "x"}), 400,
                         "invalid_data", errcode=47003)
        wait_until(lambda: not self.env.redis("KEYS", "WXSUB:sendlock:*"),
                   2, what="the send lock released after a refusal")
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s"
                                        % (TPL_LONG, oid)), "1")

    def calls(self, command):
        """How many times Redis ran command (scripts' calls included)
        since its stats were reset."""
        for line in self.env.redis("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_%s:" % command):
                return int(line.split("calls=")[1].split(",")[0])
        return 0

    def test_release_after_a_send_is_a_plain_del(self):
        """A send that went through costs Redis one script (the claim) and
        a plain DEL of the user's lock, written once the answer is out and
        not waited for (so the test waits a little, well inside the lock's
        4 s life); one that gives the credit back (or clears it) ends with
        a second script, which compares the lock's value before deleting
        it, before the answer."""
        oid = openid("reldel")
        self.env.give_credit(oid, TPL1, 3)
        self.warm_token()
        self.env.redis("CONFIG", "RESETSTAT")
        self.assertOk(self.env.send(oid, TPL1))
        wait_until(lambda: not self.env.redis("KEYS", "WXSUB:sendlock:*"),
                   0.5, what="the send lock released")
        self.assertEqual(self.calls("evalsha"), 1)
        self.assertEqual(self.calls("del"), 1, "the credit was decremented, "
                         "so the one DEL is the lock's")
        self.assertEqual(self.env.credit(oid, TPL1), 2)
        for errcode, left in ((47003, 2), (43101, None)):
            with self.subTest(errcode=errcode):
                self.env.redis("CONFIG", "RESETSTAT")
                self.env.fault("send", "errcode", errcode=errcode)
                r = self.env.send(oid, TPL1)
                self.assertEqual(r.status // 100, 4, r)
                self.assertFalse(self.env.redis("KEYS", "WXSUB:sendlock:*"),
                                 "released before the answer")
                self.assertEqual(self.calls("evalsha"), 2)
                self.assertEqual(self.env.credit(oid, TPL1), left)

    def test_releases_ride_with_the_next_claim_under_load(self):
        """Under load the next request is already waiting when a send
        ends: its lock's release then rides with that request's claim
        (a compare and a DEL inside the claim script) instead of a DEL
        of its own. Each claim reads one value (the token: the credit is
        a DECR); one that carries a release reads a second (the compare),
        so GETs beyond 1 per send count the releases that rode. Whichever way,
        every lock is released and every credit spent once."""
        n, workers = 120, 24
        oids = [openid("ride", i) for i in range(n)]
        for oid in oids:
            self.env.give_credit(oid, TPL1, 2)
            self.env.quota(oid, TPL1)
        self.warm_token()
        # WeChat taking 20 ms a send: requests queue at every process
        self.env.fault("send", "delay", count=-1, delay_ms=20)
        self.env.redis("CONFIG", "RESETSTAT")
        answers = []

        def run(part):
            for oid in part:
                answers.append(self.env.send(oid, TPL1).status)
        threads = [threading.Thread(target=run, args=(oids[i::workers],))
                   for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.env.control("DELETE", "/__control/fault")
        self.assertEqual(answers, [200] * n)
        wait_until(lambda: not self.env.redis("KEYS", "WXSUB:sendlock:*"),
                   10, what="every send lock released")
        self.assertEqual(self.calls("evalsha"), n, "one claim a send")
        self.assertEqual(self.calls("del"), n, "one release a send")
        self.assertEqual(self.calls("decr"), n, "one DECR a claim")
        rode = self.calls("get") - n
        self.assertGreaterEqual(rode, n // 2, "few releases rode with a claim")
        self.assertLessEqual(rode, n)
        for oid in oids:
            self.assertEqual(self.env.credit(oid, TPL1), 1)
        print("\n    %d of %d releases rode with the next claim" % (rode, n),
              end=" ")

    def test_long_term_sends_without_spending(self):
        oid = openid("lt")
        self.assertOk(self.env.record(oid, TPL_LONG))
        self.env.quota(oid, TPL_LONG, 1)
        for _ in range(3):
            self.assertOk(self.env.send(oid, TPL_LONG))
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s"
                                        % (TPL_LONG, oid)), "1")
        self.assertEqual(self.env.calls()["send"], 3)
        other = openid("lt", 2)
        self.env.quota(other, TPL_LONG, 1)
        r = self.env.send(other, TPL_LONG)
        self.assertError(r, 409, "not_subscribed")
        self.assertEqual(self.env.calls()["send"], 3)

    def test_long_term_refused_clears_marker(self):
        oid = openid("ltref")
        self.assertOk(self.env.record(oid, TPL_LONG))
        r = self.env.send(oid, TPL_LONG)           # no quota at WeChat
        self.assertError(r, 409, "user_refused", errcode=43101)
        self.assertIsNone(self.env.credit(oid, TPL_LONG))

    # -- concurrency -------------------------------------------------------------------

    def test_two_concurrent_sends_on_one_credit(self):
        oid = openid("race")
        self.warm_token()
        self.env.give_credit(oid, TPL1, 1, quota=False)
        self.env.quota(oid, TPL1, 5)         # WeChat would take both
        self.env.fault("send", "delay", delay_ms=400)
        out = []
        barrier = threading.Barrier(2)

        def go():
            barrier.wait()
            out.append(self.env.send(oid, TPL1))
        ts = [threading.Thread(target=go) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(sorted(r.status for r in out), [200, 409], out)
        loser = [r for r in out if r.status == 409][0]
        self.assertError(loser, 409, "not_subscribed")
        self.assertEqual(self.env.calls()["send"], 1)
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertEqual(self.env.quota_left(oid, TPL1), 4)
