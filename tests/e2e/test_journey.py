"""The mini program's whole journey through the web server: wx.login code
-> /login -> session; the session forwards the popup's result to
/record -> credits; a back end /send's with the api key -> delivered.
Around it, what a session is worth: forged, expired, logged out, deleted,
naming another user, the trustClientOpenId switch; no secret in any log;
and /login's answers to WeChat's errors."""

import base64
import os
import re
import time

from harness import (E2ECase, TPL1, TPL2, TPL3, parallel, openid,
                     wait_until)

SESSION_RE = re.compile(r"wxs_[A-Za-z0-9_-]{43}\Z")
POPUP_OK = "requestSubscribeMessage:ok"
TRUST_WARNING = "record.trustClientOpenId is on"


def forged_session():
    """The right shape, random: no /login ever gave it."""
    return "wxs_" + base64.urlsafe_b64encode(os.urandom(32)).decode() \
        .rstrip("=")


class JourneyBase(E2ECase):
    KIND = "logic"

    def session_keys(self):
        return self.env.redis("KEYS", "WXSUB:session:*")

    def assertNoLogProblems(self):
        self.env.collect_tokens()
        self.assertEqual(self.env.check_logs(), [])


class JourneyTests(JourneyBase):

    # every log line the service can write, so that the secret checks
    # look at as much as there is
    CONFIG = {"log.level": "debug"}

    def test_whole_journey(self):
        oid = openid("journey")
        # 1. wx.login -> /login
        j = self.login(oid, unionid="union-journey-1")
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j["unionId"], "union-journey-1")
        self.assertEqual(j["expiresIn"], 604800)
        self.assertRegex(j["session"], SESSION_RE)
        self.assertEqual(set(j), {"ok", "openId", "unionId", "session",
                                  "expiresIn"},
                         "the /login answer holds nothing else (no "
                         "session_key)")
        session = j["session"]
        (skey,) = self.session_keys()
        self.assertGreater(self.env.redis("TTL", skey), 604000)
        self.assertNotIn(session, skey, "the token itself is not stored")
        stored = self.env.redis("HGETALL", skey)
        self.assertNotIn(session, stored)
        self.assertEqual(self.env.calls()["jscode2session"], 1)

        # 2. wx.requestSubscribeMessage: the user accepts TPL1, rejects
        # TPL2, accepts TPL3 with a sound; WeChat counts the accepts
        self.env.quota(oid, TPL1)
        self.env.quota(oid, TPL3)
        popup = {TPL1: "accept", TPL2: "reject", TPL3: "acceptWithAudio",
                 "errMsg": POPUP_OK}
        r = self.env.post("/record", popup, auth=session)
        j = self.assertOk(r)
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j["credits"], {TPL1: 1, TPL3: 1})
        self.assertEqual(j.get("skipped"), {TPL2: "reject"})
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertIsNone(self.env.credit(oid, TPL2))
        self.assertEqual(self.env.credit(oid, TPL3), 1)
        j = self.assertOk(self.env.get("/subscriptions?openId=" + oid))
        self.assertEqual(j["credits"][TPL1], 1)
        self.assertEqual(j["credits"][TPL2], 0)
        self.assertEqual(j["credits"][TPL3], 1)

        # 3. the back end sends with the api key: delivered
        data = {"thing1": "\u8ba2\u5355\u5df2\u53d1\u8d27",
                "time2": "2026-11-29 10:30"}
        r = self.env.post("/send", {"openId": oid, "templateId": TPL1,
                                    "page": "pages/detail/detail?id=7",
                                    "data": data})
        msgid = self.assertOk(r)["msgid"]
        st = self.env.stats()
        self.assertEqual(st["sent_total"], 1)
        rec = st["sent"][-1]
        self.assertEqual(rec["msgid"], msgid)
        self.assertEqual(rec["touser"], oid)
        self.assertEqual(rec["template_id"], TPL1)
        self.assertEqual(rec["page"], "pages/detail/detail?id=7")
        self.assertEqual(rec["data"], {k: {"value": v}
                                       for k, v in data.items()})
        self.assertEqual(st["calls"]["stable_token"], 1)
        self.assertEqual(self.env.quota_left(oid, TPL1), 0)
        # the accept with audio is a credit like any other
        msgid3 = self.assertOk(self.env.send(oid, TPL3,
                                             {"thing1": "second"}))["msgid"]
        self.assertEqual(self.env.stats()["sent"][-1]["msgid"], msgid3)
        self.assertEqual(self.env.stats()["calls"]["stable_token"], 1,
                         "the token is cached")

        # 4. credits are spent; the rejected template never had one
        for tpl in (TPL1, TPL2, TPL3):
            with self.subTest(tpl=tpl):
                r = self.env.send(oid, tpl, {"thing1": "again"})
                self.assertError(r, 409, "not_subscribed")
        self.assertEqual(self.env.stats()["sent_total"], 2)
        j = self.assertOk(self.env.get("/subscriptions?openId=" + oid))
        self.assertEqual([j["credits"][t] for t in (TPL1, TPL2, TPL3)],
                         [0, 0, 0])

        # 5. the user accepts again and the journey repeats
        self.env.quota(oid, TPL1)
        self.assertOk(self.env.post("/record", {TPL1: "acceptWithAlert",
                                                "errMsg": POPUP_OK},
                                    auth=session))
        self.assertOk(self.env.send(oid, TPL1, {"thing1": "third"}))

        # 6. logout; the session is gone
        self.assertOk(self.env.post("/logout", {}, auth=session))
        self.assertEqual(self.session_keys(), [])
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertError(r, 401, "unauthorized")
        self.assertNoLogProblems()

    def test_forged_session_401(self):
        oid = openid("forged")
        real = self.login(oid)["session"]
        before = self.env.snapshot()
        for forged in [forged_session(), forged_session(),
                       real[:-1] + ("A" if real[-1] != "A" else "B"),
                       "wxs_" + "A" * 43]:
            with self.subTest(forged=forged[:10]):
                self.assertRegex(forged, SESSION_RE)
                r = self.env.post("/record", {"templateId": TPL1},
                                  auth=forged)
                self.assertError(r, 401, "unauthorized")
                r = self.env.post("/logout", {}, auth=forged)
                self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.snapshot(), before)
        self.assertIsNone(self.env.credit(oid, TPL1))
        # the real one still works
        self.assertOk(self.env.post("/record", {"templateId": TPL1},
                                    auth=real))

    def test_logout_then_replay_401(self):
        oid = openid("replay")
        session = self.login(oid)["session"]
        self.assertOk(self.env.post("/record", {"templateId": TPL2},
                                    auth=session))
        self.assertOk(self.env.post("/logout", {}, auth=session))
        for route, body in [("/record", {"templateId": TPL1}),
                            ("/record", {TPL1: "accept", "errMsg": POPUP_OK}),
                            ("/logout", {})]:
            with self.subTest(route=route):
                r = self.env.post(route, body, auth=session)
                self.assertError(r, 401, "unauthorized")
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertEqual(self.env.credit(oid, TPL2), 1)

    def test_logout_ends_only_its_own_session(self):
        oid = openid("twodev")
        s1 = self.login(oid)["session"]
        s2 = self.login(oid)["session"]
        self.assertNotEqual(s1, s2)
        self.assertEqual(len(self.session_keys()), 2)
        self.assertOk(self.env.post("/logout", {}, auth=s1))
        self.assertError(self.env.post("/record", {"templateId": TPL1},
                                       auth=s1), 401, "unauthorized")
        self.assertOk(self.env.post("/record", {"templateId": TPL1},
                                    auth=s2))

    def test_deleted_session_record_401(self):
        oid = openid("deleted")
        session = self.login(oid)["session"]
        (skey,) = self.session_keys()
        self.assertEqual(self.env.redis("DEL", skey), 1)
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertError(r, 401, "unauthorized")
        self.assertIsNone(self.env.credit(oid, TPL1))
        # "Deleting WXSUB:session:* in Redis ends every session"
        s2 = self.login(openid("deleted", 2))["session"]
        s3 = self.login(openid("deleted", 3))["session"]
        for k in self.session_keys():
            self.env.redis("DEL", k)
        for s in (s2, s3):
            r = self.env.post("/record", {"templateId": TPL1}, auth=s)
            self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.redis("KEYS", "SUBSCRIBE:*"), [])

    def test_session_record_with_its_openid_missing_401(self):
        """A session record whose openId field is gone proves nobody."""
        oid = openid("noopenid")
        session = self.login(oid)["session"]
        (skey,) = self.session_keys()
        self.env.redis("HDEL", skey, "o")
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.redis("KEYS", "SUBSCRIBE:*"), [])

    def test_session_user_naming_another_openid(self):
        me, other = openid("me"), openid("other")
        session = self.login(me)["session"]
        for body in [{"openId": other, "templateId": TPL1},
                     {"openId": other, "templateIds": [TPL1, TPL2]},
                     {"openId": other, TPL1: "accept", "errMsg": POPUP_OK},
                     {"openId": "not-an-openid", "templateId": TPL1}]:
            with self.subTest(body=body):
                j = self.assertOk(self.env.post("/record", body,
                                                auth=session))
                self.assertEqual(j["openId"], me)
        self.assertEqual(self.env.credit(me, TPL1), 4)
        self.assertEqual(self.env.credit(me, TPL2), 1)
        j = self.assertOk(self.env.get("/subscriptions?openId=" + other))
        self.assertEqual(set(j["credits"].values()), {0},
                         "the other user has nothing")
        self.assertEqual(self.env.redis("KEYS", "SUBSCRIBE:*:" + other), [])
        self.assertNotIn(TRUST_WARNING, self.env.wxsub_log())

    def test_secrets_never_in_logs_or_answers(self):
        oid = openid("secrets")
        self.env.control("POST", "/__control/code",
                         {"code": "code-secret-1", "openid": oid})
        r = self.env.post("/login", {"code": "code-secret-1"}, auth=False)
        j = self.assertOk(r)
        session = j["session"]
        self.env.add_secret("a session token", session)
        (skey,) = self.session_keys()
        session_key = self.env.redis("HGET", skey, "k")
        self.assertTrue(session_key)
        self.env.add_secret("a session_key", session_key)
        self.assertNotIn("session_key", j)
        self.assertNotIn("sessionKey", j)
        self.assertNotIn(session_key.encode(), r.body)
        # traffic that logs: a record, refusals, a send, a failed send,
        # logout, a replay
        self.env.quota(oid, TPL1, 2)
        self.assertOk(self.env.post("/record", {TPL1: "accept",
                                                "errMsg": POPUP_OK},
                                    auth=session))
        self.env.post("/record", {"templateId": "NOPE"}, auth=session)
        self.env.post("/send", {"openId": oid, "data": {"thing1": "a"}},
                      auth=session)
        self.assertOk(self.env.send(oid, TPL1, {"thing1": "x"}))
        self.env.give_credit(oid, TPL1, quota=False)
        self.env.control("POST", "/__control/revoke", {"mode": "revoke"})
        self.env.fault("send", "errcode", errcode=45009)
        self.env.send(oid, TPL1, {"thing1": "y"})
        self.assertOk(self.env.post("/logout", {}, auth=session))
        self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.env.post("/login", {"code": "code-secret-1"}, auth=False)
        st = self.env.stats()
        self.assertGreaterEqual(len(st["tokens"]["all"]), 1)
        # the session token's sha256 half names the key: not in logs
        # either (at most 8 hex digits of the hash may appear)
        self.env.add_secret("a session key name", skey.split(":")[-1])
        wait_until(lambda: "logout" in self.env.wxsub_log(), 3,
                   what="the logout log line")
        self.assertNoLogProblems()


class ShortSessionTests(JourneyBase):

    CONFIG = {"session.ttl": "60"}

    def test_session_ttl_and_expiry_401(self):
        oid = openid("expiry")
        j = self.login(oid)
        self.assertEqual(j["expiresIn"], 60)
        session = j["session"]
        (skey,) = self.session_keys()
        ttl = self.env.redis("TTL", skey)
        self.assertTrue(50 <= ttl <= 60, ttl)
        self.assertOk(self.env.post("/record", {"templateId": TPL1},
                                    auth=session))
        # let the session run out: Redis expires it, as after 60 s
        self.assertEqual(self.env.redis("PEXPIRE", skey, 300), 1)
        wait_until(lambda: self.env.redis("EXISTS", skey) == 0, 5,
                   what="the session key to expire")
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertError(r, 401, "unauthorized")
        r = self.env.post("/logout", {}, auth=session)
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_expire_to_one_second(self):
        oid = openid("expiry1s")
        session = self.login(oid)["session"]
        (skey,) = self.session_keys()
        self.env.redis("EXPIRE", skey, 1)
        self.assertOk(self.env.post("/record", {"templateId": TPL2},
                                    auth=session))
        time.sleep(1.2)
        wait_until(lambda: self.env.redis("EXISTS", skey) == 0, 5,
                   what="the session key to expire")
        r = self.env.post("/record", {"templateId": TPL2}, auth=session)
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.credit(oid, TPL2), 1)


class TrustClientOpenIdTests(JourneyBase):

    CONFIG = {"record.trustClientOpenId": "true"}

    def test_posted_openid_is_used_and_warned_once_per_process(self):
        me, other = openid("trustme"), openid("trustother")
        session = self.login(me)["session"]
        self.assertNotIn(TRUST_WARNING, self.env.wxsub_log())
        j = self.assertOk(self.env.post("/record", {
            "openId": other, "templateId": TPL1}, auth=session))
        self.assertEqual(j["openId"], other)
        self.assertEqual(self.env.credit(other, TPL1), 1)
        self.assertIsNone(self.env.credit(me, TPL1))
        # without a posted openId, the session's own
        j = self.assertOk(self.env.post("/record", {"templateId": TPL2},
                                        auth=session))
        self.assertEqual(j["openId"], me)
        # a posted openId must still be an openId
        r = self.env.post("/record", {"openId": "x" * 27,
                                      "templateId": TPL1}, auth=session)
        self.assertError(r, 400, "bad_request", msg_has="openId")
        # many requests at once, over every FastCGI process
        n = 120
        procs = set(self.env.fcgi_pids())

        def one(i):
            r = self.env.post("/record", {"openId": other,
                                          "templateId": TPL3},
                              auth=session)
            procs.update(self.env.fcgi_pids() if i % 20 == 0 else [])
            return r.status
        res = parallel(one, list(range(n)), workers=16)
        self.assertEqual(res, [200] * n)
        self.assertEqual(self.env.credit(other, TPL3), n)
        procs.update(self.env.fcgi_pids())

        def warnings():
            return sum(TRUST_WARNING in ln
                       for ln in self.env.wxsub_log().splitlines())
        wait_until(lambda: warnings() >= 1, 3, what="the trust warning")
        time.sleep(0.3)
        got = warnings()
        self.assertGreaterEqual(got, 1)
        self.assertLessEqual(got, len(procs),
                             "the warning is logged once per process: %d "
                             "lines for %d processes" % (got, len(procs)))
        # an api key caller is trusted anyway: no warning for it
        before = warnings()
        self.assertOk(self.env.record(other, TPL1))
        self.assertEqual(warnings(), before)


class LoginErrorTests(JourneyBase):

    def test_wechat_login_errors(self):
        oid = openid("loginerr")
        for errcode, status, error in [(40029, 400, "invalid_code"),
                                       (40163, 400, "invalid_code"),
                                       (45011, 429, "rate_limited"),
                                       (40226, 403, "forbidden"),
                                       (-1, 502, "upstream_error"),
                                       (40013, 502, "upstream_error")]:
            with self.subTest(errcode=errcode):
                code = "code-err-%d" % (errcode + 100000)
                self.env.control("POST", "/__control/code",
                                 {"code": code, "openid": oid})
                self.env.fault("jscode2session", "errcode", errcode=errcode)
                calls = self.env.calls()["jscode2session"]
                r = self.env.post("/login", {"code": code}, auth=False)
                self.assertError(r, status, error, errcode=errcode)
                self.assertNotIn("session", r.json)
                self.assertEqual(self.env.calls()["jscode2session"],
                                 calls + 1)
                self.assertEqual(self.session_keys(), [])

    def test_wechat_login_failures_without_errcode(self):
        oid = openid("loginfail")
        # libcurl may try a dropped kept-alive connection once more (the
        # code is not used up by a call that got no answer): drop both
        for kind, count in (("drop", 2), ("http500", 1), ("garbage", 1)):
            with self.subTest(kind=kind):
                self.env.reset()
                code = "code-fail-" + kind
                self.env.control("POST", "/__control/code",
                                 {"code": code, "openid": oid})
                self.env.fault("jscode2session", kind, count=count)
                r = self.env.post("/login", {"code": code}, auth=False)
                self.assertError(r, 502, "upstream_error")
                self.assertEqual(self.session_keys(), [])

    def test_code_is_single_use_through_the_server(self):
        oid = openid("once")
        self.login(oid, code="code-once-1")
        r = self.env.post("/login", {"code": "code-once-1"}, auth=False)
        self.assertError(r, 400, "invalid_code", errcode=40163)
        r = self.env.post("/login", {"code": "code-never-issued"},
                          auth=False)
        self.assertError(r, 400, "invalid_code", errcode=40029)
        self.assertEqual(len(self.session_keys()), 1)
