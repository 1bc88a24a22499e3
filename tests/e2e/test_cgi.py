"""Plain CGI: the binary started without a FastCGI listener serves one
request from its environment and stdin, then exits (no web server)."""

import json
import os

from harness import E2ECase, JSON_CT, REQID_RE, TPL1, openid


class CgiModeTests(E2ECase):
    KIND = "logic"

    SERVER = None

    def auth(self):
        return {"HTTP_AUTHORIZATION": "Bearer " + self.env.api_key}

    def assertCgi(self, r, status):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("content-type"), JSON_CT, r)
        self.assertTrue(r.headers.get("x-request-id"), r)
        self.assertEqual(int(r.headers["content-length"]), len(r.body))
        return r.json

    def test_health(self):
        r = self.env.cgi("GET", "/health")
        j = self.assertCgi(r, 200)
        self.assertEqual(j["ok"], True)
        self.assertEqual(j["redis"], "ok")
        self.assertRegex(r.headers["x-request-id"], REQID_RE)

    def test_record(self):
        oid = openid("cgi")
        body = json.dumps({"openId": oid, "templateIds": [TPL1]}).encode()
        r = self.env.cgi("POST", "/record", body,
                         env=dict(self.auth(), HTTP_X_REQUEST_ID="cgi-1"))
        j = self.assertCgi(r, 200)
        self.assertEqual(j["credits"], {TPL1: 1})
        self.assertEqual(r.headers["x-request-id"], "cgi-1")
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_send(self):
        oid = openid("cgisend")
        self.env.give_credit(oid, TPL1)
        r = self.env.cgi("POST", "/send", {"openId": oid,
                                           "data": {"thing1": "cgi"}},
                         env=self.auth())
        j = self.assertCgi(r, 200)
        self.assertEqual(self.env.stats()["sent"][-1]["msgid"], j["msgid"])
        self.assertIsNone(self.env.credit(oid, TPL1))

    def test_refusals(self):
        oid = openid("cgiref")
        body = json.dumps({"openId": oid, "templateId": TPL1}).encode()
        r = self.env.cgi("POST", "/record", body)
        self.assertEqual(self.assertCgi(r, 401)["error"], "unauthorized")
        r = self.env.cgi("GET", "/record", env=self.auth())
        self.assertEqual(self.assertCgi(r, 405)["error"],
                         "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "POST")
        r = self.env.cgi("POST", "/record", b"{'a':1}", env=self.auth())
        self.assertEqual(self.assertCgi(r, 400)["error"], "bad_request")
        for route in ["/../health", "//health", "/health/", "/%2e%2e/health",
                      "/./health", None]:
            with self.subTest(route=route):
                r = self.env.cgi("GET", route)
                self.assertEqual(self.assertCgi(r, 404)["error"],
                                 "not_found")
        self.assertEqual(self.env.snapshot(), {})

    def test_413_without_reading_the_body(self):
        """Content-Length above http.maxBody: refused at once, although
        stdin holds (and will send) nothing like that much."""
        r = self.env.cgi("POST", "/record", b'{"openId":"x"}',
                         env=dict(self.auth(), CONTENT_LENGTH="10000000"),
                         timeout=5)
        self.assertEqual(self.assertCgi(r, 413)["error"],
                         "payload_too_large")
        self.assertLess(r.elapsed, 2.0)

    def test_config_error(self):
        missing = os.path.join(self.env.tmp, "etc", "missing.conf")
        r = self.env.cgi("GET", "/health", config=missing)
        j = self.assertCgi(r, 500)
        self.assertEqual(j["error"], "config_error")
        self.assertNotIn(missing, j["message"])
        self.assertIn("configuration refused", r.stderr)
        self.assertIn(missing, r.stderr)
