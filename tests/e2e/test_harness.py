"""The harness's own checks must be able to fail: a secret or a
sanitizer report planted in the logs is found; a file the server's user
cannot reach is named at once."""

import os
import time

import harness
from harness import E2ECase, SetupError


class HarnessSelfTests(E2ECase):
    KIND = "logic"

    SERVER = None

    def plant(self, name, text):
        p = os.path.join(self.env.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, p)
        return p

    def test_clean_logs_pass(self):
        self.assertEqual(self.env.check_logs(), [])

    def test_secrets_in_logs_are_found(self):
        tok, _ = self.env.standin_token()
        self.env.collect_tokens()
        for what, value in [("AppSecret", self.env.secret),
                            ("api key", self.env.api_key),
                            ("access token", tok)]:
            with self.subTest(what=what):
                self.plant("logs/planted.log", "line with %s inside\n"
                           % value)
                problems = self.env.check_logs()
                self.assertEqual(len(problems), 1, problems)
                self.assertIn(what.split()[-1], problems[0])
                self.assertNotIn(value, problems[0],
                                 "the report must not repeat the secret")
                self.doCleanups()

    def test_sanitizer_output_is_found(self):
        self.plant("logs/err.log", "src/x.c:1:2: runtime error: oops\n")
        self.assertEqual(len(self.env.check_logs()), 1)
        self.doCleanups()
        self.plant("san/asan.123", "==123==ERROR: AddressSanitizer: x\n")
        problems = self.env.check_logs()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("sanitizer report", problems[0])

    def test_the_world_is_open_to_the_servers_user(self):
        """The binary is a copy inside the 0755 world, wherever the
        checkout lies (issue 18)."""
        self.assertTrue(self.env.binary.startswith(self.env.tmp + os.sep))
        self.assertIsNone(harness.blocked_for(self.env.binary, "www-data", 5))
        self.assertIsNone(harness.blocked_for(self.env.conf_path,
                                              "www-data", 4))

    def test_an_unreachable_file_fails_at_once_in_one_line(self):
        private = os.path.join(self.env.tmp, "private")
        os.mkdir(private, 0o700)
        self.addCleanup(os.rmdir, private)
        os.chmod(private, 0o700)
        why = harness.blocked_for(os.path.join(private, "wxsub.fcgi"),
                                  "www-data", 5)
        self.assertIn("www-data cannot enter %s (mode 700" % private, why)
        t0 = time.monotonic()
        with self.assertRaises(SetupError) as cm:
            self.env._check_reach("www-data", [(self.env.conf_path, 4),
                                               (private + "/x", 5)])
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertNotIn("\n", str(cm.exception))
        self.assertIn(private, str(cm.exception))

    def test_preflight_names_a_missing_binary(self):
        old = os.environ.get("WXSUB_BINARY")
        self.addCleanup(lambda: os.environ.__setitem__("WXSUB_BINARY", old)
                        if old is not None else
                        os.environ.pop("WXSUB_BINARY", None))
        os.environ["WXSUB_BINARY"] = os.path.join(self.env.tmp, "nope")
        why = harness.preflight("apache")
        self.assertIn("no executable wxsub binary", why)
