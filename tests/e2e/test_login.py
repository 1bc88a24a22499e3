"""POST /login and sessions (contract section 3, Authentication): a
session proves an openId; nothing else does."""

from harness import E2ECase, TPL1, TPL2, openid


class LoginTests(E2ECase):
    KIND = "logic"

    def test_login_gives_a_session_that_records_for_its_user(self):
        oid, other = openid("login"), openid("login", 2)
        j = self.login(oid, unionid="union-0001")
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j.get("unionId"), "union-0001")
        self.assertEqual(j["expiresIn"], 604800)
        self.assertNotIn("session_key", j)
        self.assertNotIn("sessionKey", j)
        session = j["session"]
        # a posted openId is ignored: the session says who it is
        r = self.env.post("/record", {"openId": other, TPL1: "accept",
                                      "errMsg": "requestSubscribeMessage:ok"},
                          auth=session)
        j = self.assertOk(r)
        self.assertEqual(j["openId"], oid)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertIsNone(self.env.credit(other, TPL1))
        self.assertOk(self.env.post("/record", {"templateId": TPL2},
                                    auth=session))
        self.assertEqual(self.env.credit(oid, TPL2), 1)
        # a session is not an api key
        r = self.env.post("/send", {"openId": oid, "data": {"thing1": "a"}},
                          auth=session)
        self.assertError(r, 401, "unauthorized")
        r = self.env.get("/subscriptions?openId=" + oid, auth=session)
        self.assertError(r, 401, "unauthorized")

    def test_bad_codes(self):
        r = self.env.post("/login", {"code": "never-issued"}, auth=False)
        self.assertError(r, 400, "invalid_code", errcode=40029)
        oid = openid("twice")
        self.login(oid, code="once-only")
        r = self.env.post("/login", {"code": "once-only"}, auth=False)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json.get("errcode"), 40163, r)
        for body in [{}, {"code": ""}, {"code": 5}, {"code": "a b"}]:
            with self.subTest(body=body):
                r = self.env.post("/login", body, auth=False)
                self.assertError(r, 400, "bad_request", msg_has="code")

    def test_logout_and_forged_sessions(self):
        oid = openid("logout")
        session = self.login(oid)["session"]
        forged = session[:-1] + ("A" if session[-1] != "A" else "B")
        r = self.env.post("/record", {"templateId": TPL1}, auth=forged)
        self.assertError(r, 401, "unauthorized")
        self.assertOk(self.env.post("/logout", {}, auth=session))
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertError(r, 401, "unauthorized")
        self.assertIsNone(self.env.credit(oid, TPL1))
