"""The admin tool `wxsub` (the repo's ./wxsub next to cgi-bin, or
$WXSUB_ADMIN) with -c <the Env's config>, no web server: check-config,
token [--refresh | --force], send, subs, and its exit codes
(0 done, 1 refused, 2 usage, 3 configuration, 4 Redis, 5 WeChat/token).
What it prints goes to the Env's logs too, so the log checks make sure
it never shows the AppSecret, the api key or an access token."""

import hashlib
import json
import os
import re
import subprocess

from harness import (E2ECase, REPO, TOKEN_KEY, TPL1, TPL2, TPL_LONG,
                     openid)

FP_RE = r"[0-9a-f]{12}"


def admin_path():
    return os.path.abspath(os.environ.get("WXSUB_ADMIN") or
                           os.path.join(REPO, "wxsub"))


def fingerprint(token):
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class Run:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout.decode("utf-8", "replace")
        self.err = p.stderr.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.out.strip().splitlines()[-1])

    def __repr__(self):
        return "<exit %d stdout %r stderr %r>" % (self.rc, self.out[:600],
                                                  self.err[:600])


class CliTests(E2ECase):
    KIND = "logic"
    WORLD = "own"       # a test stops Redis

    SERVER = None

    @classmethod
    def setUpClass(cls):
        if not os.access(admin_path(), os.X_OK):
            raise AssertionError("no admin tool at %s (make, or set "
                                 "WXSUB_ADMIN)" % admin_path())
        super().setUpClass()

    def wxsub(self, *args, config=None, timeout=30):
        """Run the admin tool; its output is kept as a log of the Env."""
        argv = [admin_path(), "-c", config or self.env.conf_path]
        argv += list(args)
        e = {"PATH": "/usr/bin:/bin"}
        e.update(self.env.sanitizer_env())
        p = subprocess.run(argv, env=e, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        r = Run(p)
        n = len(self.env.extra_logs)
        for name, data in (("stdout", p.stdout), ("stderr", p.stderr)):
            f = os.path.join(self.env.tmp, "logs", "cli-%d-%s.log"
                             % (n, name))
            with open(f, "wb") as fh:
                fh.write(data)
            self.env.extra_logs.append(f)
        for s in [self.env.secret, self.env.api_key] + \
                sorted(self.env.tokens_seen):
            self.assertNotIn(s, r.out + r.err, "a secret in the output of "
                             "%r" % (args,))
        return r

    def cached_token(self):
        return self.env.redis("GET", TOKEN_KEY)

    def assertNoSecrets(self, r):
        self.env.collect_tokens()
        for tok in self.env.tokens_seen:
            self.assertNotIn(tok, r.out + r.err)
        self.assertNotIn(self.env.secret, r.out + r.err)
        self.assertNotIn(self.env.api_key, r.out + r.err)

    # -- check-config ---------------------------------------------------------

    def test_check_config_ok(self):
        r = self.wxsub("check-config")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(self.env.conf_path + ": ok", r.out)
        self.assertRegex(r.out, r"(?m)^redis +ok$")
        self.assertIn("token endpoint ok", r.out)
        # nothing was cached: it fetched one, through the lock, and cached it
        tok = self.cached_token()
        self.assertTrue(tok)
        self.assertIn(fingerprint(tok) + " now cached", r.out)
        self.assertEqual(self.env.token_calls(), 1)
        self.assertIsNone(self.env.redis("GET", "WECHAT:APPEAL_TOKEN_LOCK"))
        self.assertNoSecrets(r)
        # again, with the token cached: shown by fingerprint, endpoint
        # checked without force_refresh, the cache left alone
        r = self.wxsub("check-config")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"(?m)^redis +ok$")
        self.assertIn("fingerprint %s" % fingerprint(tok), r.out)
        self.assertIn("token endpoint ok", r.out)
        self.assertEqual(self.cached_token(), tok)
        self.assertEqual(self.env.calls()["stable_token_force"], 0)
        self.assertNoSecrets(r)

    def test_check_config_redis_stopped_exit_4(self):
        self.addCleanup(self.env.start_redis)
        self.env.stop_redis()
        r = self.wxsub("check-config")
        self.assertEqual(r.rc, 4, r)
        self.assertIn("NOT reachable", r.out)
        self.assertIn(str(self.env.redis_port), r.out)
        oid = openid("cliredis")
        for args in (["token"], ["token", "--refresh"], ["subs", oid],
                     ["send", oid, "thing1=hi"]):
            with self.subTest(args=args):
                r = self.wxsub(*args)
                self.assertEqual(r.rc, 4, r)
        self.assertEqual(self.env.calls()["send"], 0)

    def test_broken_config_exit_3_naming_file_and_line(self):
        path = os.path.join(self.env.tmp, "etc", "broken.conf")
        good = self.env.render_config().splitlines()
        cases = [("a typo", ["wechat.appidd = x"], "did you mean"),
                 ("a bad value", ["wechat.timeoutMs = 5"], "timeoutMs"),
                 ("no equals sign", ["redis.url"], "redis.url")]
        for what, bad, says in cases:
            with self.subTest(what=what):
                lines = good[:3] + bad + good[3:]
                with open(path, "w") as f:
                    f.write("\n".join(lines) + "\n")
                os.chmod(path, 0o600)
                for args in (["check-config"], ["token"],
                             ["subs", openid("clibroken")]):
                    r = self.wxsub(*args, config=path)
                    self.assertEqual(r.rc, 3, r)
                    self.assertIn("%s:4" % path, r.err, r)
                    self.assertIn(says, r.err, r)
                    self.assertNotIn(self.env.secret, r.err)
        missing = os.path.join(self.env.tmp, "etc", "missing.conf")
        r = self.wxsub("check-config", config=missing)
        self.assertEqual(r.rc, 3, r)
        self.assertIn(missing, r.err)
        self.assertEqual(self.env.token_calls(), 0)

    def test_token_endpoint_failing_without_cache_exit_5(self):
        for kind, extra in [("errcode", {"errcode": -1}),
                            ("errcode", {"errcode": 40125}),
                            ("http500", {}), ("drop", {})]:
            with self.subTest(kind=kind, **extra):
                self.env.reset()
                self.env.fault("stable_token", kind, count=-1, **extra)
                r = self.wxsub("check-config")
                self.assertEqual(r.rc, 5, r)
                self.assertRegex(r.out, r"(?m)^redis +ok$")
                self.assertIn("token endpoint FAILED", r.out)
                r = self.wxsub("token", "--refresh")
                self.assertEqual(r.rc, 5, r)
                self.assertIsNone(self.cached_token())
                self.assertIsNone(self.env.redis("GET",
                                                 "WECHAT:APPEAL_TOKEN_LOCK"))
                oid = openid("clifail")
                self.env.give_credit(oid, TPL1)
                r = self.wxsub("send", oid, "thing1=hi")
                self.assertEqual(r.rc, 5, r)
                self.assertEqual(r.json()["error"], "token_unavailable")
                self.assertEqual(self.env.credit(oid, TPL1), 1)

    # -- token ----------------------------------------------------------------

    def test_token_shows_a_fingerprint_never_the_token(self):
        r = self.wxsub("token")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("no token cached", r.out)
        self.assertEqual(self.env.token_calls(), 0)
        # --refresh: one token call, cached, shown by fingerprint
        r = self.wxsub("token", "--refresh")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.env.token_calls(), 1)
        tok = self.cached_token()
        self.assertTrue(tok)
        self.assertRegex(r.out, r"new token %s: \d+ s left"
                         % fingerprint(tok))
        self.assertNotIn(tok, r.out + r.err)
        # plain `token`: no call, the same fingerprint
        r = self.wxsub("token")
        self.assertEqual(r.rc, 0, r)
        m = re.search(r"cached token (%s): (\d+) s left" % FP_RE, r.out)
        self.assertTrue(m, r)
        self.assertEqual(m.group(1), fingerprint(tok))
        self.assertGreater(int(m.group(2)), 6000)
        self.assertNotIn(tok, r.out + r.err)
        self.assertEqual(self.env.token_calls(), 1)
        # --refresh with a token cached: drops it and makes one call
        r = self.wxsub("token", "--refresh")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.env.token_calls(), 2)
        self.assertEqual(self.env.calls()["stable_token_force"], 0)
        tok2 = self.cached_token()
        self.assertIn("new token %s" % fingerprint(tok2), r.out)
        self.assertNoSecrets(r)

    def test_token_force(self):
        r = self.wxsub("token", "--refresh")
        self.assertEqual(r.rc, 0, r)
        old = self.cached_token()
        r = self.wxsub("token", "--force")
        self.assertEqual(r.rc, 0, r)
        new = self.cached_token()
        self.assertNotEqual(new, old)
        self.assertEqual(self.env.calls()["stable_token_force"], 1)
        self.assertIn("cached token %s" % fingerprint(old), r.out)
        self.assertIn("new token %s" % fingerprint(new), r.out)
        self.assertNoSecrets(r)

    # -- send and subs --------------------------------------------------------

    def test_send_then_not_subscribed(self):
        oid = openid("clisend")
        self.env.give_credit(oid, TPL1)
        r = self.wxsub("send", oid, "thing1=\u4f60\u597d", "time2=10:30")
        self.assertEqual(r.rc, 0, r)
        j = r.json()
        self.assertIs(j["ok"], True)
        self.assertIsInstance(j["msgid"], int)
        rec = self.env.stats()["sent"][-1]
        self.assertEqual(rec["msgid"], j["msgid"])
        self.assertEqual(rec["touser"], oid)
        self.assertEqual(rec["template_id"], TPL1)
        self.assertEqual(rec["data"], {"thing1": {"value": "\u4f60\u597d"},
                                       "time2": {"value": "10:30"}})
        self.assertIsNone(self.env.credit(oid, TPL1))
        r = self.wxsub("send", oid, "thing1=again")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.json()["error"], "not_subscribed")
        self.assertEqual(self.env.stats()["sent_total"], 1)
        self.assertNoSecrets(r)

    def test_send_with_template_and_page(self):
        oid = openid("clisendtp")
        self.env.give_credit(oid, TPL2)
        r = self.wxsub("send", oid, "-t", TPL2, "-p", "pages/index/index",
                       "thing1=x=y")
        self.assertEqual(r.rc, 0, r)
        rec = self.env.stats()["sent"][-1]
        self.assertEqual(rec["template_id"], TPL2)
        self.assertEqual(rec["page"], "pages/index/index")
        self.assertEqual(rec["data"], {"thing1": {"value": "x=y"}})

    def test_send_refusals_exit_1(self):
        oid = openid("clisendbad")
        self.env.give_credit(oid, TPL1)
        for args, error in [
                (["send", oid, "thing1="], "invalid_data"),
                (["send", oid, "thing1=" + "x" * 21], "invalid_data"),
                (["send", oid, "bad.key=x"], "bad_request"),
                (["send", oid, "-t", "NOPE", "thing1=x"], "unknown_template"),
                (["send", oid, "-t", "T:*", "thing1=x"], "bad_request"),
                (["send", "not-an-openid", "thing1=x"], "bad_request")]:
            with self.subTest(args=args):
                r = self.wxsub(*args)
                self.assertEqual(r.rc, 1, r)
                self.assertEqual(r.json()["error"], error, r)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertEqual(self.env.calls()["send"], 0)

    def test_subs_shows_credits(self):
        oid = openid("clisubs")
        self.env.give_credit(oid, TPL1, 2, quota=False)
        self.env.give_credit(oid, TPL_LONG, 1, quota=False)
        r = self.wxsub("subs", oid)
        self.assertEqual(r.rc, 0, r)
        j = r.json()
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j["credits"][TPL1], 2)
        self.assertEqual(j["credits"][TPL2], 0)
        self.assertEqual(j["credits"][TPL_LONG], 1)
        r = self.wxsub("subs", "bad")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.json()["error"], "bad_request")

    # -- usage ----------------------------------------------------------------

    def test_usage_errors_exit_2(self):
        oid = openid("cliusage")
        for args in [[], ["nope"], ["check-config", "extra"],
                     ["token", "--bogus"], ["token", "--refresh", "x"],
                     ["send"], ["send", oid], ["send", oid, "novalue"],
                     ["send", oid, "=x"], ["send", oid, "-t"],
                     ["subs"], ["subs", oid, oid], ["-x", "check-config"],
                     ["-h"]]:
            with self.subTest(args=args):
                r = self.wxsub(*args)
                self.assertEqual(r.rc, 2, r)
                self.assertIn("usage:", r.err)
        self.assertEqual(self.env.calls()["send"], 0)
        self.assertEqual(self.env.snapshot(), {})
