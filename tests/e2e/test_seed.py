"""Sharing Redis with the seed's Spring Boot service during a migration:
its token, its credits, its application.properties."""

from harness import E2ECase, TOKEN_KEY, TPL1, TPL2, openid


class SeedSharedRedisTests(E2ECase):
    KIND = "logic"

    def test_token_cached_by_another_program_is_used(self):
        tok, expires_in = self.env.standin_token()      # "the seed" fetched
        self.env.redis("SET", TOKEN_KEY, tok, "EX", str(expires_in - 200))
        base = self.env.calls()
        oid = openid("seedtok")
        self.env.give_credit(oid, TPL1)
        self.assertOk(self.env.send(oid, TPL1))
        calls = self.env.calls()
        self.assertEqual(calls["stable_token"], base["stable_token"],
                         "wxsub must not fetch a token of its own")
        self.assertEqual(calls["token"], 0)
        self.assertEqual(self.env.stats()["sent"][-1]["access_token"], tok)
        self.assertEqual(self.env.redis("GET", TOKEN_KEY), tok)

    def test_seed_style_credit_counts_as_one(self):
        oid = openid("seedcr")
        key = "SUBSCRIBE:%s:%s" % (TPL1, oid)
        self.env.redis("SET", key, "1", "EX", "2592000")
        self.env.quota(oid, TPL1, 1)
        j = self.assertOk(self.env.get("/subscriptions?openId=" + oid))
        self.assertEqual(j["credits"][TPL1], 1)
        self.assertOk(self.env.send(oid, TPL1))
        self.assertIsNone(self.env.redis("GET", key))
        r = self.env.send(oid, TPL1)
        self.assertError(r, 409, "not_subscribed")
        # an accept on top of a seed credit adds to it
        self.env.redis("SET", key, "1", "EX", "2592000")
        j = self.assertOk(self.env.record(oid, TPL1))
        self.assertEqual(j["credits"], {TPL1: 2})


def seed_properties(env, extra=""):
    """The seed's application.properties, pointed at the test world."""
    base = "http://127.0.0.1:%d" % env.standin_port
    return "\n".join([
        "server.port=8080",
        "spring.application.name=subscribe-demo",
        "spring.redis.host=127.0.0.1",
        "spring.redis.port=%d" % env.redis_port,
        "spring.redis.database=0",
        "logging.level.root=INFO",
        "#\u5c0f\u7a0b\u5e8fappid",
        "wechat.appid=%s" % env.appid,
        "#\u5c0f\u7a0b\u5e8f\u5bc6\u94a5",
        "wechat.secret=%s" % env.secret,
        "#\u8ba2\u9605\u6d88\u606f\u7684\u6a21\u677fid",
        "wechat.templateId=%s" % TPL1,
        "#\u767b\u5f55wx\u767b\u5f55\u9a8c\u8bc1",
        "wechat.loginUrl=%s/sns/jscode2session" % base,
        "#wx\u8ba2\u9605\u6d88\u606f\u53d1\u9001",
        "wechat.sendUrl=%s/cgi-bin/message/subscribe/send?access_token="
        % base,
        extra, ""])


class SeedPropertiesTests(E2ECase):
    """wxsub started on the seed's own application.properties (plus the
    api key its server routes need: the seed had none)."""

    KIND = "logic"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.env.reconfigure(text=seed_properties(
                cls.env, "auth.apiKeys=%s" % cls.env.api_key))
        except BaseException:
            cls.tearDownClass()
            raise

    def test_loads_with_one_warning(self):
        j = self.assertOk(self.env.get("/health"))
        self.assertEqual(j["redis"], "ok", "spring.redis.* give the address")
        log = self.env.wxsub_log()
        self.assertIn("ignoring", log)
        self.assertIn("server.port", log)
        self.assertNotIn("configuration refused", log)

    def test_record_and_send_through_the_seed_urls(self):
        # no wechat.apiBase in the seed file: the token endpoint is the
        # real one, so the token comes from the cache the seed filled
        tok, _ = self.env.standin_token()
        self.env.redis("SET", TOKEN_KEY, tok, "EX", "7000")
        oid = openid("seedprop")
        j = self.assertOk(self.env.post("/record", {
            "openId": oid, TPL1: "accept",
            "errMsg": "requestSubscribeMessage:ok"}))
        self.assertEqual(j["credits"], {TPL1: 1})
        self.env.quota(oid, TPL1, 1)
        j = self.assertOk(self.env.send(oid, None, {"thing1": "seed"}))
        rec = self.env.stats()["sent"][-1]
        self.assertEqual(rec["msgid"], j["msgid"])
        self.assertEqual(rec["template_id"], TPL1)
        self.assertEqual(rec["access_token"], tok)
        r = self.env.record(oid, TPL2)
        self.assertError(r, 400, "unknown_template",
                         msg_has=TPL2)

    def test_login_through_the_seed_login_url(self):
        oid = openid("seedlogin")
        self.env.control("POST", "/__control/code",
                         {"code": "seedcode123", "openid": oid})
        r = self.env.post("/login", {"code": "seedcode123"}, auth=False)
        j = self.assertOk(r)
        self.env.add_secret("a session token", j.get("session"))
        self.assertEqual(j["openId"], oid)
        self.assertEqual(self.env.calls()["jscode2session"], 1)
