"""The harness's own checks must be able to fail: a secret or a
sanitizer report planted in the logs is found."""

import os

from harness import E2ECase


class HarnessSelfTests(E2ECase):

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
