"""POST /record in all its body forms, and GET/DELETE /subscriptions."""

from harness import (E2ECase, TPL1, TPL2, TPL3, TPL_LONG, TPL_UNKNOWN,
                     openid)

ALL = [TPL1, TPL2, TPL3, TPL_UNKNOWN, TPL_LONG]


def key(tpl, oid):
    return "SUBSCRIBE:%s:%s" % (tpl, oid)


class RecordTests(E2ECase):
    KIND = "logic"

    def assertNothingWritten(self, before=None):
        self.assertEqual(self.env.snapshot(), before or {},
                         "a refused /record wrote to Redis")

    def test_template_id(self):
        oid = openid("rec")
        j = self.assertOk(self.env.post("/record", {"openId": oid,
                                                    "templateId": TPL2}))
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j["credits"], {TPL2: 1})
        self.assertEqual(self.env.redis("GET", key(TPL2, oid)), "1")
        self.assertEqual(self.env.redis("TTL", key(TPL2, oid)), -1,
                         "subscribe.ttl 0: a one-time accept never expires")
        self.assertEqual(self.env.calls()["send"], 0)

    def test_template_ids(self):
        oid = openid("recs")
        j = self.assertOk(self.env.post("/record", {
            "openId": oid, "templateIds": [TPL1, TPL3]}))
        self.assertEqual(j["credits"], {TPL1: 1, TPL3: 1})
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertEqual(self.env.credit(oid, TPL3), 1)
        self.assertIsNone(self.env.credit(oid, TPL2))

    def test_repeated_id_counts_once(self):
        oid = openid("rep")
        j = self.assertOk(self.env.post("/record", {
            "openId": oid, "templateIds": [TPL1, TPL1]}))
        self.assertEqual(j["credits"], {TPL1: 1})
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_result_object_accept_reject_filter(self):
        oid = openid("res")
        j = self.assertOk(self.env.post("/record", {
            "openId": oid, TPL1: "accept", TPL2: "reject", TPL3: "filter",
            "errMsg": "requestSubscribeMessage:ok"}))
        self.assertEqual(j["credits"], {TPL1: 1})
        self.assertEqual(j.get("skipped"), {TPL2: "reject", TPL3: "filter"})
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertIsNone(self.env.credit(oid, TPL2))
        self.assertIsNone(self.env.credit(oid, TPL3))

    def test_result_object_ban_and_no_errmsg(self):
        oid = openid("ban")
        j = self.assertOk(self.env.post("/record", {
            "openId": oid, TPL2: "ban", TPL3: "accept"}))
        self.assertEqual(j["credits"], {TPL3: 1})
        self.assertEqual(j.get("skipped"), {TPL2: "ban"})
        # nothing accepted: fine, nothing written
        oid2 = openid("ban", 2)
        j = self.assertOk(self.env.post("/record", {
            "openId": oid2, TPL1: "reject",
            "errMsg": "requestSubscribeMessage:ok"}))
        self.assertEqual(j["credits"], {})
        self.assertIsNone(self.env.credit(oid2, TPL1))

    def test_result_object_errmsg_not_ok(self):
        oid = openid("fail")
        for em in ["requestSubscribeMessage:fail cancel",
                   "requestSubscribeMessage:fail:20004", "", "ok"]:
            with self.subTest(errMsg=em):
                r = self.env.post("/record", {"openId": oid, TPL1: "accept",
                                              "errMsg": em})
                self.assertError(r, 400, "bad_request", msg_has="errMsg")
        self.assertNothingWritten()

    def test_credits_accumulate(self):
        oid = openid("acc")
        self.assertEqual(self.assertOk(self.env.record(oid, TPL1))
                         ["credits"], {TPL1: 1})
        self.assertEqual(self.assertOk(self.env.record(oid, TPL1))
                         ["credits"], {TPL1: 2})
        j = self.assertOk(self.env.post("/record", {
            "openId": oid, TPL1: "accept", TPL2: "accept",
            "errMsg": "requestSubscribeMessage:ok"}))
        self.assertEqual(j["credits"], {TPL1: 3, TPL2: 1})
        self.assertEqual(self.env.credit(oid, TPL1), 3)

    def test_unknown_template_writes_nothing(self):
        oid = openid("unk")
        self.env.record(oid, TPL2)
        before = self.env.snapshot()
        for body in [{"openId": oid, "templateId": "TPL_NOT_CONFIGURED"},
                     {"openId": oid, "templateIds": [TPL1,
                                                     "TPL_NOT_CONFIGURED"]},
                     {"openId": oid, "templateIds": ["TPL_NOT_CONFIGURED",
                                                     TPL1]},
                     {"openId": oid, TPL1: "accept", "TPL_NOT_CONFIGURED":
                      "accept", "errMsg": "requestSubscribeMessage:ok"},
                     {"openId": oid, TPL1: "accept", "TPL_NOT_CONFIGURED":
                      "reject"}]:
            with self.subTest(body=body):
                r = self.env.post("/record", body)
                self.assertError(r, 400, "unknown_template",
                                 msg_has="TPL_NOT_CONFIGURED")
        self.assertNothingWritten(before)

    def test_bad_openid(self):
        good = openid("bad")
        for oid in [good[:-1], good + "x", good[:-1] + "!", good[:-1] + " ",
                    "", good[:-1] + "\u00e9", "../" + good[3:]]:
            with self.subTest(openId=oid):
                r = self.env.post("/record", {"openId": oid,
                                              "templateId": TPL1})
                self.assertError(r, 400, "bad_request", msg_has="openId")
        r = self.env.post("/record", {"templateId": TPL1})
        self.assertError(r, 400, "bad_request", msg_has="openId")
        self.assertNothingWritten()

    def test_too_many_or_conflicting_forms(self):
        oid = openid("many")
        for body in [{"openId": oid, "templateIds": [TPL1, TPL2, TPL3,
                                                     TPL_UNKNOWN]},
                     {"openId": oid, "templateId": TPL1,
                      "templateIds": [TPL2]},
                     {"openId": oid, TPL1: "accept", TPL2: "accept",
                      TPL3: "accept", TPL_UNKNOWN: "accept"},
                     {"openId": oid, TPL1: "maybe"},
                     {"openId": oid, TPL1: "ACCEPT"}]:
            with self.subTest(body=body):
                r = self.env.post("/record", body)
                self.assertError(r, 400, "bad_request")
        self.assertNothingWritten()

    def test_null_template_fields_are_refused_not_fatal(self):
        """A JSON null where a template field goes is a wrong type (400),
        and the process must survive it."""
        oid = openid("null")
        for body in [{"openId": oid, "templateIds": [None]},
                     {"openId": oid, "templateId": None},
                     {"openId": oid, "templateIds": None}]:
            with self.subTest(body=body):
                try:
                    r = self.env.post("/record", body, check=False)
                    self.assertEqual(r.headers.get("content-type"),
                                     "application/json; charset=utf-8",
                                     "the process died? %r" % r)
                    self.assertError(r, 400, "bad_request",
                                     msg_has="templateId")
                finally:
                    self.env.settle()
        self.assertNothingWritten()
        self.assertOk(self.env.record(oid, TPL1))

    def test_value_that_is_not_a_count_is_replaced(self):
        """Counts are added without Lua; a value INCRBY refuses (not a
        number) is replaced by the script, and only that key: the others
        of the same request are counted once."""
        oid = openid("garb")
        self.env.redis("SET", key(TPL1, oid), "5")
        self.env.redis("SET", key(TPL2, oid), "garbage")
        self.env.redis("SET", key(TPL_LONG, oid), "x")
        j = self.assertOk(self.env.record(oid, [TPL1, TPL2, TPL3]))
        self.assertEqual(j["credits"], {TPL1: 6, TPL2: 1, TPL3: 1})
        self.assertEqual([self.env.credit(oid, t) for t in (TPL1, TPL2, TPL3)],
                         [6, 1, 1])
        j = self.assertOk(self.env.record(oid, [TPL2, TPL_LONG]))
        self.assertEqual(j["credits"], {TPL2: 2, TPL_LONG: 1})
        self.assertEqual(self.env.redis("GET", key(TPL_LONG, oid)), "1")
        for t in (TPL1, TPL2, TPL3, TPL_LONG):
            self.assertEqual(self.env.redis("TTL", key(t, oid)), -1, t)

    def test_long_term_marker(self):
        oid = openid("long")
        for _ in range(3):
            j = self.assertOk(self.env.record(oid, TPL_LONG))
            self.assertEqual(j["credits"], {TPL_LONG: 1})
        self.assertEqual(self.env.redis("GET", key(TPL_LONG, oid)), "1")
        self.assertEqual(self.env.redis("TTL", key(TPL_LONG, oid)), -1)

    def test_openid_in_body_is_required_with_api_key_only(self):
        """The api key names the user in the body; without it, 400."""
        r = self.env.post("/record", {TPL1: "accept",
                                      "errMsg": "requestSubscribeMessage:ok"})
        self.assertError(r, 400, "bad_request", msg_has="openId")
        self.assertNothingWritten()


class RecordTtlTests(E2ECase):
    """subscribe.ttl > 0: every accept (re)sets the TTL."""

    KIND = "logic"

    CONFIG = {"subscribe.ttl": "3600"}

    def test_ttl_set_and_renewed(self):
        oid = openid("ttl")
        self.assertOk(self.env.record(oid, TPL1))
        ttl = self.env.redis("TTL", key(TPL1, oid))
        self.assertTrue(3590 <= ttl <= 3600, ttl)
        self.env.redis("EXPIRE", key(TPL1, oid), "100")
        j = self.assertOk(self.env.record(oid, TPL1))
        self.assertEqual(j["credits"], {TPL1: 2})
        ttl = self.env.redis("TTL", key(TPL1, oid))
        self.assertTrue(3590 <= ttl <= 3600, "accept must renew: %r" % ttl)
        self.assertOk(self.env.record(oid, TPL_LONG))
        ttl = self.env.redis("TTL", key(TPL_LONG, oid))
        self.assertTrue(3590 <= ttl <= 3600, ttl)

    def test_ttl_when_a_value_is_replaced(self):
        oid = openid("ttlg")
        self.env.redis("SET", key(TPL2, oid), "garbage")
        self.env.redis("SET", key(TPL3, oid), "7")
        j = self.assertOk(self.env.record(oid, [TPL2, TPL3]))
        self.assertEqual(j["credits"], {TPL2: 1, TPL3: 8})
        for t in (TPL2, TPL3):
            ttl = self.env.redis("TTL", key(t, oid))
            self.assertTrue(3590 <= ttl <= 3600, (t, ttl))

    def test_config_took_effect_after_restart(self):
        """The same env with subscribe.ttl removed again: no TTL."""
        self.env.reconfigure({"subscribe.ttl": None})
        try:
            oid = openid("ttl0")
            self.assertOk(self.env.record(oid, TPL1))
            self.assertEqual(self.env.redis("TTL", key(TPL1, oid)), -1)
        finally:
            self.env.reconfigure()
        oid = openid("ttl1")
        self.assertOk(self.env.record(oid, TPL1))
        self.assertGreater(self.env.redis("TTL", key(TPL1, oid)), 3000)


class SubscriptionsTests(E2ECase):
    KIND = "logic"

    def test_get_all_and_one(self):
        oid = openid("subs")
        self.env.record(oid, TPL1)
        self.env.record(oid, TPL1)
        self.env.record(oid, TPL_LONG)
        j = self.assertOk(self.env.get("/subscriptions?openId=" + oid))
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j["credits"], {TPL1: 2, TPL2: 0, TPL3: 0,
                                        TPL_UNKNOWN: 0, TPL_LONG: 1})
        j = self.assertOk(self.env.get("/subscriptions?openId=%s&templateId=%s"
                                       % (oid, TPL1)))
        self.assertEqual(j["credits"], {TPL1: 2})
        j = self.assertOk(self.env.get("/subscriptions?openId=" +
                                       openid("nobody")))
        self.assertEqual(set(j["credits"].values()), {0})

    def test_seed_and_garbage_values(self):
        oid = openid("seedv")
        self.env.redis("SET", key(TPL1, oid), "1", "EX", "2592000")
        self.env.redis("SET", key(TPL2, oid), "garbage")
        j = self.assertOk(self.env.get("/subscriptions?openId=" + oid))
        self.assertEqual(j["credits"][TPL1], 1)
        self.assertEqual(j["credits"][TPL2], 0)

    def test_delete_one_then_all(self):
        oid, other = openid("del"), openid("del", 2)
        for t in (TPL1, TPL2, TPL_LONG):
            self.env.record(oid, t)
        self.env.record(other, TPL1)
        j = self.assertOk(self.env.http(
            "DELETE", "/subscriptions?openId=%s&templateId=%s" % (oid, TPL1)))
        self.assertEqual(j.get("deleted"), 1)
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertEqual(self.env.credit(oid, TPL2), 1)
        j = self.assertOk(self.env.http("DELETE", "/subscriptions?openId="
                                        + oid))
        self.assertEqual(j.get("deleted"), 2)
        for t in (TPL1, TPL2, TPL_LONG):
            self.assertIsNone(self.env.credit(oid, t))
        self.assertEqual(self.env.credit(other, TPL1), 1,
                         "another user's credit must stay")
        j = self.assertOk(self.env.http("DELETE", "/subscriptions?openId="
                                        + oid))
        self.assertEqual(j.get("deleted"), 0)

    def test_bad_queries(self):
        oid = openid("q")
        self.env.record(oid, TPL1)
        before = self.env.snapshot()
        for method in ("GET", "DELETE"):
            for q, status, error in [
                    ("", 400, "bad_request"),
                    ("?openId=", 400, "bad_request"),
                    ("?openId=" + oid[:-1], 400, "bad_request"),
                    ("?openId=%s&openId=%s" % (oid, oid), 400, "bad_request"),
                    ("?openId=%s&templateId=NOPE" % oid, 400,
                     "unknown_template"),
                    ("?openId=%s&templateId=" % oid, 400, "bad_request"),
                    ("?openid=" + oid, 400, "bad_request")]:
                with self.subTest(method=method, query=q):
                    r = self.env.http(method, "/subscriptions" + q)
                    self.assertError(r, status, error)
        self.assertEqual(self.env.snapshot(), before)

    def test_percent_encoded_query(self):
        oid = openid("pct")
        self.env.record(oid, TPL1)
        enc = "".join("%%%02X" % ord(c) for c in oid)
        j = self.assertOk(self.env.get("/subscriptions?openId=%s&templateId=%s"
                                       % (enc, TPL1.replace("_", "%5F"))))
        self.assertEqual(j["credits"], {TPL1: 1})
