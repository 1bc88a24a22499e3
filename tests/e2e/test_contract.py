"""Contract section 3: routing, methods, authentication, bodies, request
ids and the shape of every answer; a refusal changes nothing."""

from harness import (E2ECase, JSON_CT, REQID_RE, TPL1, TPL2, TPL_LONG,
                     TOKEN_KEY, openid, wait_until)


class ContractTests(E2ECase):

    def seed_state(self):
        """Some state a refusal must leave alone."""
        oid = openid("contract")
        self.env.redis("SET", "SUBSCRIBE:%s:%s" % (TPL1, oid), "2")
        self.env.redis("SET", "SUBSCRIBE:%s:%s" % (TPL_LONG, oid), "1")
        self.env.redis("SET", TOKEN_KEY, "cached-token-value", "EX", "6000")
        return oid

    def assertUnchanged(self, before):
        self.assertEqual(self.env.snapshot(), before,
                         "a refused request changed Redis")
        calls = self.env.calls()
        self.assertEqual(sum(calls.values()), 0,
                         "a refused request called WeChat: %r" % calls)

    # -- routes and methods -------------------------------------------------

    def test_unknown_route_404(self):
        before = self.env.snapshot()
        for method, route in [("GET", "/nope"), ("POST", "/nope"),
                              ("GET", "/health/x"), ("GET", "/Health"),
                              ("GET", "/"), ("GET", ""),
                              ("DELETE", "/sends"), ("GET", "/login/x")]:
            with self.subTest(method=method, route=route):
                r = self.env.http(method, route,
                                  {} if method == "POST" else None)
                self.assertError(r, 404, "not_found")
                self.assertNotIn("allow", r.headers, r)
        self.assertUnchanged(before)

    def test_path_tricks_through_the_server(self):
        """Paths that do not name a route once the server is done with
        them end in a 404; the server may answer that 404 itself (it
        normalises "..", "//" and decodes "%2e"), else wxsub does."""
        base = self.env.script
        for path in [base + "/health/", base + "/health/..",
                     base + "/%2e%2e/health", base + "/%2E%2E",
                     base + "/..", base + "/health%2F..",
                     base + "/he%20alth", base + "/send/",
                     base + "/./send/.", base + "//", base + "/.%2e/"]:
            with self.subTest(path=path):
                r = self.env.http("GET", path, raw_path=True, check=False)
                if r.headers.get("content-type") == JSON_CT:
                    self.assertError(r, 404, "not_found")
                else:   # the server's own refusal
                    self.assertIn(r.status, (400, 403, 404), "%s -> %r"
                                  % (path, r))

    def test_path_tricks_straight_to_the_fastcgi_process(self):
        """No server in between: wxsub itself must refuse "..", "//",
        "." segments, a trailing "/", escapes and odd bytes in PATH_INFO,
        even when what they point at is a real route."""
        socks = self.env.fastcgi_sockets()
        self.assertTrue(socks, "no FastCGI socket found under %s"
                        % self.env.tmp)
        for route in ["/../health", "//health", "/./health", "/health/",
                      "/health/.", "/health/..", "/x/../health",
                      "/%2e%2e/health", "/%2E%2E", "/health%2F..",
                      "/..%2fhealth", "/he alth", "health", "/health\\",
                      "/health;x", "/" + "a" * 80]:
            with self.subTest(route=route):
                r = self.env.fastcgi(socks[0], "GET", route)
                self.assertEqual(r.status, 404, "%r -> %r" % (route, r))
                self.assertEqual(r.json and r.json.get("error"),
                                 "not_found", "%r -> %r" % (route, r))
        r = self.env.fastcgi(socks[0], "GET", "/health")
        self.assertEqual(r.status, 200, r)

    def test_method_not_allowed_405_with_allow(self):
        before = self.env.snapshot()
        for method, route, allow in [
                ("GET", "/send", "POST"), ("DELETE", "/send", "POST"),
                ("GET", "/record", "POST"), ("DELETE", "/record", "POST"),
                ("POST", "/health", "GET, HEAD"),
                ("DELETE", "/health", "GET, HEAD"),
                ("PUT", "/health", "GET, HEAD"), ("PATCH", "/send", "POST"),
                ("POST", "/subscriptions?openId=" + openid("m"),
                 "GET, HEAD, DELETE"),
                ("PUT", "/subscriptions", "GET, HEAD, DELETE")]:
            with self.subTest(method=method, route=route):
                body = {} if method in ("POST", "PUT", "PATCH") else None
                r = self.env.http(method, route, body)
                self.assertError(r, 405, "method_not_allowed")
                got = sorted(m.strip() for m in r.headers.get("allow", "")
                             .split(",") if m.strip())
                self.assertEqual(got, sorted(allow.split(", ")),
                                 "%s %s: Allow %r" % (
                                     method, route, r.headers.get("allow")))
        self.assertUnchanged(before)

    # -- authentication -------------------------------------------------------

    def test_unauthorized_401(self):
        oid = self.seed_state()
        before = self.env.snapshot()
        key = self.env.api_key
        send = {"openId": oid, "data": {"thing1": "x"}}
        bad = [None, "Bearer", "Bearer ", "Basic " + key, key,
               "Bearer " + key[:-1], "Bearer " + key + "x",
               "Bearer " + key.upper(), "Bearer x" + key[1:],
               "bearer" + key]
        for auth in bad:
            for method, route, body in [
                    ("POST", "/send", send),
                    ("POST", "/record", {"openId": oid, "templateId": TPL1}),
                    ("GET", "/subscriptions?openId=" + oid, None),
                    ("DELETE", "/subscriptions?openId=" + oid, None)]:
                with self.subTest(auth=auth, route=route):
                    r = self.env.http(method, route, body, auth=False,
                                      headers={"Authorization": auth})
                    self.assertError(r, 401, "unauthorized")
        # /health needs nothing
        r = self.env.http("GET", "/health", auth=False)
        self.assertOk(r)
        self.assertUnchanged(before)

    def test_bearer_is_case_insensitive_and_key_works(self):
        oid = openid("auth")
        r = self.env.http("POST", "/record", {"openId": oid,
                                              "templateId": TPL1},
                          auth=False, headers={
                              "Authorization": "bearer " + self.env.api_key})
        self.assertOk(r)
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    # -- bodies ------------------------------------------------------------------

    def test_payload_too_large_413(self):
        oid = self.seed_state()
        before = self.env.snapshot()
        pad = "x" * 70000
        for route, body in [("/record", {"openId": oid, "templateId": TPL1,
                                         "pad": pad}),
                            ("/send", {"openId": oid, "data": {"thing1": "a"},
                                       "pad": pad})]:
            with self.subTest(route=route):
                r = self.env.post(route, body)
                self.assertError(r, 413, "payload_too_large")
        self.assertUnchanged(before)

    def test_body_exactly_at_the_limit_is_read(self):
        oid = openid("limit")
        head = '{"openId":"%s","templateId":"%s","pad":"' % (oid, TPL1)
        body = head + "x" * (65536 - len(head) - 2) + '"}'
        self.assertEqual(len(body), 65536)
        r = self.env.post("/record", body)
        self.assertOk(r)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        r = self.env.post("/record", body[:-2] + 'x"}')
        self.assertError(r, 413, "payload_too_large")
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_unsupported_media_type_415(self):
        oid = self.seed_state()
        before = self.env.snapshot()
        body = {"openId": oid, "templateId": TPL1}
        for ct in [None, "text/plain", "application/x-www-form-urlencoded",
                   "application/jsonx", "text/json", "multipart/form-data",
                   "application/json-patch+json", ""]:
            for route in ("/record", "/send"):
                with self.subTest(content_type=ct, route=route):
                    r = self.env.post(route, body,
                                      headers={"Content-Type": ct})
                    self.assertError(r, 415, "unsupported_media_type")
        self.assertUnchanged(before)
        for ct in ["application/json; charset=utf-8",
                   "Application/JSON", "application/json;charset=UTF-8"]:
            with self.subTest(content_type=ct):
                r = self.env.post("/record", body,
                                  headers={"Content-Type": ct})
                self.assertOk(r)

    def test_bad_json_400(self):
        oid = self.seed_state()
        before = self.env.snapshot()
        good = '"openId":"%s","templateId":"%s"' % (oid, TPL1)
        bodies = [
            "{", "}", "{" + good, "not json", "",
            "{'openId':'%s','templateId':'%s'}" % (oid, TPL1),   # quotes
            "{" + good + ",}",                                   # comma
            "{" + good + "} {}",                                 # trailing
            "{" + good + "}x",
            "[" + "{" + good + "}]", '"a string"', "42", "null", "true",
            "[]",
            '{"openId":"%s","templateId":"%s",}' % (oid, TPL1),
            '{"openId":"%s" "templateId":"%s"}' % (oid, TPL1),
            "{openId:\"%s\",templateId:\"%s\"}" % (oid, TPL1),
            '{"openId":"%s","templateId":"%s"} // c' % (oid, TPL1),
            '{"openId":"%s","templateId":"%s" /* c */}' % (oid, TPL1),
            '{"openId":"%s","templateId":NaN}' % oid,
            '{"openId":"%s","templateId":0x10}' % oid,
            '{"a":' * 40 + "1" + "}" * 40,
        ]
        for b in bodies:
            for route in ("/record", "/send"):
                with self.subTest(body=b[:60], route=route):
                    r = self.env.post(route, b)
                    self.assertError(r, 400, "bad_request")
        self.assertUnchanged(before)

    def test_invalid_utf8_400(self):
        oid = self.seed_state()
        before = self.env.snapshot()
        for bad in [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe4\xb8",
                    b"\xf8\x88\x80\x80\x80", b"\x80"]:
            bodies = [
                b'{"openId":"%s","templateId":"%s","x":"a%sb"}'
                % (oid.encode(), TPL1.encode(), bad),
                b'{"openId":"%s","templateId":"T%s"}' % (oid.encode(), bad),
                b'{"openId":"%s","data":{"thing1":"a%sb"}}'
                % (oid.encode(), bad),
                b'{"openId":"%s","data":{"thing1%s":"a"}}'
                % (oid.encode(), bad),
            ]
            for b in bodies:
                for route in ("/record", "/send"):
                    with self.subTest(body=b, route=route):
                        r = self.env.post(route, b)
                        self.assertError(r, 400, "bad_request")
        # an escaped NUL would cut C strings short: refused (as a bad
        # request or as a value breaking its rule), never sent
        for b in ['{"openId":"%s\\u0000","templateId":"%s"}' % (oid, TPL1),
                  '{"openId":"%s","data":{"thing1":"a\\u0000b"}}' % oid]:
            for route in ("/record", "/send"):
                with self.subTest(body=b, route=route):
                    r = self.env.post(route, b)
                    self.assertIn(r.status, (400, 422), r)
        self.assertUnchanged(before)

    def test_wrong_field_types_400_naming_the_field(self):
        oid = self.seed_state()
        before = self.env.snapshot()
        cases = [
            ("/record", {"openId": 5, "templateId": TPL1}, "openId"),
            ("/record", {"openId": [oid], "templateId": TPL1}, "openId"),
            ("/record", {"openId": oid, "templateId": 7}, "templateId"),
            ("/record", {"openId": oid, "templateIds": TPL1}, "templateIds"),
            ("/record", {"openId": oid, "templateIds": [1]}, "templateIds"),
            ("/record", {"openId": oid, "templateIds": []}, "templateIds"),
            ("/record", {"openId": oid, TPL1: True}, TPL1),
            ("/record", {"openId": oid, TPL1: "maybe"}, TPL1),
            ("/record", {"openId": oid, TPL1: "accept", "errMsg": 1},
             "errMsg"),
            ("/record", {"openId": oid}, "templateId"),
            ("/send", {"openId": 5, "data": {"thing1": "a"}}, "openId"),
            ("/send", {"data": {"thing1": "a"}}, "openId"),
            ("/send", {"openId": oid, "templateId": 5,
                       "data": {"thing1": "a"}}, "templateId"),
            ("/send", {"openId": oid, "data": "thing1=a"}, "data"),
            ("/send", {"openId": oid, "data": ["a"]}, "data"),
            ("/send", {"openId": oid}, "data"),
            ("/send", {"openId": oid, "data": {}}, "data"),
            ("/send", {"openId": oid, "data": {"thing1": 5}}, "thing1"),
            ("/send", {"openId": oid, "data": {"thing1": None}}, "thing1"),
            ("/send", {"openId": oid, "data": {"thing1": {"v": "a"}}},
             "thing1"),
            ("/send", {"openId": oid, "data": {"thing1": {"value": 5}}},
             "thing1"),
            ("/send", {"openId": oid, "data": {"1thing": "a"}}, "1thing"),
            ("/send", {"openId": oid, "page": 5, "data": {"thing1": "a"}},
             "page"),
            ("/send", {"openId": oid, "miniprogramState": "prod",
                       "data": {"thing1": "a"}}, "miniprogramState"),
            ("/send", {"openId": oid, "lang": "fr_FR",
                       "data": {"thing1": "a"}}, "lang"),
            ("/send", {"openId": oid, "lang": 1,
                       "data": {"thing1": "a"}}, "lang"),
        ]
        for route, body, field in cases:
            with self.subTest(route=route, body=body):
                r = self.env.post(route, body, check=False)
                self.assertEqual(r.headers.get("content-type"), JSON_CT, r)
                self.assertError(r, 400, "bad_request", msg_has=field)
        self.assertUnchanged(before)

    # -- answers -------------------------------------------------------------------

    def test_request_id_echoed_when_sane(self):
        for rid in ["abc", "req-1.2_3", "A" * 63,
                    "0123456789abcdef0123456789abcdef"]:
            for method, route, auth in [("GET", "/health", True),
                                        ("GET", "/nope", True),
                                        ("POST", "/send", False)]:
                with self.subTest(rid=rid, route=route):
                    r = self.env.http(method, route, {} if method == "POST"
                                      else None, auth=auth,
                                      headers={"X-Request-Id": rid})
                    self.assertEqual(r.headers["x-request-id"], rid, r)

    def test_request_id_in_the_log_lines(self):
        rid = "trace-" + self.env.api_key[-8:] + "-x"
        r = self.env.post("/send", {}, auth=False,
                          headers={"X-Request-Id": rid})
        self.assertError(r, 401, "unauthorized")
        r = self.env.get("/nope", headers={"X-Request-Id": rid + "2"})
        wait_until(lambda: "req=" + rid + "2" in self.env.wxsub_log(), 3,
                   what="the request id in the log")
        line = [ln for ln in self.env.wxsub_log().splitlines()
                if "req=" + rid + " " in ln]
        self.assertTrue(line, "no log line carries req=" + rid)
        self.assertIn("401", line[-1])

    def test_request_id_generated_when_absent_or_insane(self):
        seen = set()
        for rid in [None, "has spaces", "x" * 200, "A" * 64, "semi;colon",
                    "quote\"", "slash/", "\u00e9t\u00e9".encode(
                        "utf-8").decode("latin-1"), ""]:
            with self.subTest(rid=rid):
                r = self.env.http("GET", "/health",
                                  headers={"X-Request-Id": rid})
                got = r.headers["x-request-id"]
                self.assertRegex(got, REQID_RE, "%r -> %r" % (rid, got))
                self.assertNotEqual(got, rid)
                seen.add(got)
        self.assertEqual(len(seen), 9, "generated ids must differ")

    def test_every_answer_is_json_utf8(self):
        # env.http asserts the Content-Type and X-Request-Id of each
        # answer; here a spread of outcomes, and a UTF-8 body
        oid = openid("json")
        self.env.get("/health")
        self.env.get("/nope")
        self.env.http("GET", "/send")
        self.env.post("/send", {}, auth=False)
        self.env.post("/send", "{")
        self.env.post("/send", {"openId": oid, "data": {"thing1": "a"}})
        r = self.env.post("/send", {"openId": oid, "data": {
            "thing1": "\u4e2d\u6587" * 11}})
        self.assertError(r, 422, "invalid_data", msg_has="thing1")
        self.assertEqual(r.headers["content-type"], JSON_CT)
        r.body.decode("utf-8")
        r = self.env.post("/record", {"openId": oid,
                                      "templateId": "TPL_\u4e2d"})
        self.assertError(r, 400, "bad_request")
        # json-c escapes "/" unless told not to: the 415 message has one
        r = self.env.post("/record", {"openId": oid, "templateId": TPL1},
                          headers={"Content-Type": "text/plain"})
        self.assertError(r, 415, "unsupported_media_type")
        self.assertIn("application/json", r.json["message"])
        self.assertNotIn(b"\\/", r.body)

    def test_refusals_change_nothing(self):
        """A sweep of refused requests against a populated Redis."""
        oid = self.seed_state()
        before = self.env.snapshot()
        good = {"openId": oid, "templateId": TPL2}
        refused = [
            ("POST", "/record", good, {"Authorization": None}),
            ("POST", "/record", good, {"Content-Type": "text/plain"}),
            ("POST", "/record", "{'openId':'%s'}" % oid, {}),
            ("POST", "/record", {"openId": oid, "templateId": "NOPE"}, {}),
            ("POST", "/record", {"openId": oid[:-1], "templateId": TPL2}, {}),
            ("POST", "/record", {"openId": oid, "templateIds": [TPL2, "NOPE"]},
             {}),
            ("POST", "/record", {"openId": oid, TPL2: "accept",
                                 "errMsg": "requestSubscribeMessage:fail"},
             {}),
            ("POST", "/send", {"openId": oid, "data": {"thing1": "x" * 21}},
             {}),
            ("POST", "/send", {"openId": oid, "templateId": "NOPE",
                               "data": {"thing1": "x"}}, {}),
            ("GET", "/subscriptions?openId=bad", None, {}),
            ("DELETE", "/subscriptions?openId=bad", None, {}),
            ("DELETE", "/subscriptions?openId=%s&templateId=NOPE" % oid,
             None, {}),
            ("DELETE", "/subscriptions?openId=%s&openId=%s" % (oid, oid),
             None, {}),
            ("DELETE", "/subscriptions?openId=" + oid, None,
             {"Authorization": "Bearer wrong-key-wrong-key-wrong"}),
            ("GET", "/send", None, {}),
            ("POST", "/nope", good, {}),
        ]
        for method, route, body, headers in refused:
            with self.subTest(method=method, route=route, body=body):
                r = self.env.http(method, route, body, headers=headers)
                self.assertGreaterEqual(r.status, 400, "%s %s -> %r"
                                        % (method, route, r))
                self.assertLess(r.status, 500, r)
        self.assertUnchanged(before)
