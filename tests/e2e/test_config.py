"""A broken configuration: every request answers 500 config_error with a
fixed message (no path, no text of the file: the callers are anonymous),
the log names the file and line, and the web server stays up."""

import os
import time

from harness import E2ECase, TPL1, openid

FIXED = "the service is not configured; see the server log"


class ConfigErrorTests(E2ECase):

    def tearDown(self):
        # leave a working world for the next test
        if self.env.config_text != self.env.render_config():
            self.env.reconfigure()

    def broken(self, bad_line):
        """The default config with bad_line inserted; returns its line
        number."""
        lines = self.env.render_config().splitlines()
        lines.insert(4, bad_line)
        self.env.reconfigure(text="\n".join(lines) + "\n")
        return 5

    def assertAllConfigError(self, *parts, rounds=3):
        """Every route answers the fixed config_error; the log names
        parts (the file, its line, the key)."""
        oid = openid("cfg")
        for _ in range(rounds):
            for method, route, body in [
                    ("GET", "/health", None),
                    ("POST", "/send", {"openId": oid,
                                       "data": {"thing1": "a"}}),
                    ("POST", "/record", {"openId": oid, "templateId": TPL1}),
                    ("GET", "/subscriptions?openId=" + oid, None),
                    ("GET", "/nope", None)]:
                with self.subTest(method=method, route=route):
                    r = self.env.http(method, route, body)
                    self.assertError(r, 500, "config_error")
                    self.assertEqual(r.json["message"], FIXED, r)
            time.sleep(0.2)
        self.assertTrue(self.env.server_alive(), "the web server died")
        log = self.env.wxsub_log()
        for part in parts:
            self.assertIn(part, log)
        self.assertEqual(self.env.snapshot(), {})
        self.assertEqual(sum(self.env.calls().values()), 0)

    def test_unknown_key_names_file_and_line(self):
        n = self.broken("wechat.appId = %s" % self.env.appid)
        self.assertAllConfigError(self.env.conf_path + ":%d:" % n,
                                  "wechat.appId")
        self.assertIn("configuration refused", self.env.wxsub_log())
        self.env.reconfigure()
        self.assertOk(self.env.get("/health"))
        oid = openid("fixed")
        self.assertOk(self.env.record(oid, TPL1))
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_bad_value_names_the_key(self):
        n = self.broken("wechat.timeoutMs = soon")
        self.assertAllConfigError(":%d:" % n, "wechat.timeoutMs", rounds=1)

    def test_bad_secret_is_not_quoted(self):
        bad = "bad secret " + os.urandom(6).hex()
        self.env.add_secret("the refused secret value", bad)
        n = self.broken("wechat.secret = " + bad)
        self.assertAllConfigError(":%d:" % n, "wechat.secret", rounds=1)
        r = self.env.get("/health")
        self.assertNotIn(bad.split()[-1], r.json["message"])

    def test_missing_file(self):
        self.env.stop_server()
        os.unlink(self.env.conf_path)
        self.env.config_text = None
        self.env.start_server()
        self.assertAllConfigError(self.env.conf_path, rounds=1)

    def test_missing_required_key(self):
        self.env.reconfigure({"wechat.secret": None})
        self.assertAllConfigError(self.env.conf_path, "wechat.secret",
                                  rounds=1)
