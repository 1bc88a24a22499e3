"""Several mini programs on one install (api.md section 8).

WXSUB_CONFIG names a directory holding shop.conf and clinic.conf, two
apps with their own appid, secret, api key and WeChat stand-in, sharing
one Redis. Routes start with the app's name; every Redis key of an app
carries its appid; one app's api key or session is 401 at the other; one
app's token revoked leaves the other's alone; an unknown app is 404.
"""

import contextlib
import os
import subprocess

import harness
from harness import (E2ECase, Env, TPL1, TPL2, openid, _stop_popen,
                     _www_data, SUEXEC_KINDS, suexec_user)
from test_cli import admin_path

CLINIC_APPID = "wxe2e0000000000002"


class AppsEnv(Env):
    """Env whose config is a directory of two apps: shop (the Env's own
    stand-in and api key) and clinic (a second stand-in, its own appid,
    secret and api key)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.clinic = Env(None)
        self.clinic.appid = CLINIC_APPID
        self.clinic.api_key = "e2e-clinic-key-" + os.urandom(12).hex()

    def start_standin(self):
        super().start_standin()
        self.clinic.tmp = os.path.join(self.tmp, "clinic")
        os.makedirs(os.path.join(self.clinic.tmp, "logs"))
        self.clinic.start_standin()
        self.add_secret("the clinic's AppSecret", self.clinic.secret)
        self.add_secret("the clinic's api key", self.clinic.api_key)

    def stop(self):
        if self.clinic.standin_proc is not None:
            with contextlib.suppress(Exception):
                self.clinic.collect_tokens()
            for t in self.clinic.tokens_seen:
                self.add_secret("a clinic access token", t)
        _stop_popen(self.clinic.standin_proc)
        self.clinic.standin_proc = None
        return super().stop()

    def reset(self):
        super().reset()
        self.clinic.collect_tokens()
        self.clinic.control("DELETE", "/__control/fault")
        self.clinic.control("POST", "/__control/reset")

    def app_configs(self):
        shop = self.default_config()
        clinic = dict(shop)
        clinic.update({
            "wechat.appid": CLINIC_APPID,
            "wechat.secret": self.clinic.secret,
            "wechat.apiBase": "http://127.0.0.1:%d" % self.clinic.standin_port,
            "auth.apiKeys": self.clinic.api_key,
        })
        return {"shop": shop, "clinic": clinic}

    def write_config(self, overrides=None, text=None):
        d = os.path.join(self.tmp, "etc", "apps")
        self.conf_path = d
        os.makedirs(d, exist_ok=True)
        uid, gid = 0, _www_data()[1]
        if self.server in SUEXEC_KINDS:
            uid, gid = suexec_user()
        for name, cfg in self.app_configs().items():
            for k, v in (overrides or {}).items():
                cfg[k] = v
            p = os.path.join(d, name + ".conf")
            with open(p + ".new", "w") as f:
                f.write("".join("%s = %s\n" % kv for kv in cfg.items()))
            if gid is not None:
                os.chown(p + ".new", uid, gid)
            os.chmod(p + ".new", 0o640)
            os.replace(p + ".new", p)
        if gid is not None:
            os.chown(d, uid, gid)
        os.chmod(d, 0o750)
        return d


class TwoAppsTests(E2ECase):
    WORLD = "own"       # a directory config and a second stand-in
    ENV = AppsEnv

    def shop(self, method, route, body=None, auth=True, **kw):
        return self.env.http(method, "/shop" + route, body, auth=auth, **kw)

    def clinic(self, method, route, body=None, auth=None, **kw):
        return self.env.http(method, "/clinic" + route, body,
                             auth=auth or self.env.clinic.api_key, **kw)

    def record(self, who, oid, tpl=TPL1, auth=None):
        body = {"openId": oid, "templateIds": [tpl]}
        if who == "shop":
            return self.shop("POST", "/record", body, auth=auth or True)
        return self.clinic("POST", "/record", body, auth=auth)

    def send(self, who, oid, tpl=TPL1):
        body = {"openId": oid, "templateId": tpl, "data": {"thing1": "hi"}}
        if who == "shop":
            return self.shop("POST", "/send", body)
        return self.clinic("POST", "/send", body)

    def test_routes_prefixed_by_app(self):
        j = self.assertOk(self.env.get("/health", auth=False))
        self.assertEqual(j["redis"], "ok")
        oid = openid("routes")
        self.assertOk(self.record("shop", oid))
        self.assertOk(self.record("clinic", oid))
        for path in ("/nosuch/record", "/Shop/record", "/record", "/send"):
            with self.subTest(path=path):
                r = self.env.post(path, {"openId": oid, "templateIds": [TPL1]})
                self.assertError(r, 404, "not_found")
        r = self.env.get("/nosuch/subscriptions?openId=" + oid)
        self.assertError(r, 404, "not_found", msg_has="nosuch")
        j = self.assertOk(self.shop("GET", "/subscriptions?openId=" + oid))
        self.assertEqual(j["credits"][TPL1], 1)
        # the install's /metrics, opened by either app's key, by app
        for key in (self.env.api_key, self.env.clinic.api_key):
            r = self.env.get("/metrics", auth=key, check=False)
            self.assertEqual(r.status, 200, r)
            text = r.body.decode()
            self.assertIn('wxsub_requests_total{route="/record",'
                          'status="200",app="shop"}', text)
            self.assertIn('wxsub_requests_total{route="/record",'
                          'status="200",app="clinic"}', text)
            for name in ("shop", "clinic"):
                self.assertIn('wxsub_outbox_depth{app="%s"} 0' % name, text)

    def test_every_key_carries_its_appid(self):
        oid = openid("keys")
        self.assertOk(self.record("shop", oid))
        self.assertOk(self.record("clinic", oid))
        self.assertOk(self.record("clinic", oid))
        self.env.quota(oid, TPL1, 1)
        self.env.clinic.quota(oid, TPL1, 1)
        self.assertOk(self.send("shop", oid))
        self.assertOk(self.send("clinic", oid))
        r = self.env.redis
        self.assertIsNone(r("GET", "SUBSCRIBE:%s:%s:%s"
                            % (harness.APPID, TPL1, oid)))   # spent
        self.assertEqual(r("GET", "SUBSCRIBE:%s:%s:%s"
                           % (CLINIC_APPID, TPL1, oid)), "1")
        self.assertTrue(r("GET", "WECHAT:ACCESS_TOKEN:" + harness.APPID))
        self.assertTrue(r("GET", "WECHAT:ACCESS_TOKEN:" + CLINIC_APPID))
        self.assertNotEqual(r("GET", "WECHAT:ACCESS_TOKEN:" + harness.APPID),
                            r("GET", "WECHAT:ACCESS_TOKEN:" + CLINIC_APPID))
        # nothing of the seed's single-app layout, nothing without an appid
        # (the install's counters aside)
        for k in r("KEYS", "*"):
            with self.subTest(key=k):
                self.assertTrue(k == "WXSUB:metrics" or harness.APPID in k or
                                CLINIC_APPID in k, k)
        self.assertIsNone(r("GET", "WECHAT:ACCESS_TOKEN"))
        # each stand-in saw its own app's send only
        self.assertEqual(self.env.calls()["send"], 1)
        self.assertEqual(self.env.clinic.calls()["send"], 1)

    def test_api_key_of_another_app_is_401(self):
        oid = openid("xkey")
        self.assertOk(self.record("shop", oid))
        shop_key = self.env.api_key
        for route, body, method in (
                ("/record", {"openId": oid, "templateIds": [TPL1]}, "POST"),
                ("/send", {"openId": oid, "data": {"thing1": "x"}}, "POST"),
                ("/subscriptions?openId=" + oid, None, "GET"),
                ("/subscriptions?openId=" + oid, None, "DELETE")):
            with self.subTest(route=route, method=method):
                r = self.clinic(method, route, body, auth=shop_key)
                self.assertError(r, 401, "unauthorized")
        r = self.shop("POST", "/send", {"openId": oid, "data": {"x": "y"}},
                      auth=self.env.clinic.api_key)
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s:%s" % (
            harness.APPID, TPL1, oid)), "1", "nothing changed")
        self.assertEqual(self.env.clinic.calls()["send"], 0)

    def test_session_of_another_app_is_401(self):
        oid = openid("xsess")
        code = "code-" + os.urandom(6).hex()
        self.env.control("POST", "/__control/code",
                         {"code": code, "openid": oid})
        j = self.assertOk(self.shop("POST", "/login", {"code": code},
                                    auth=False))
        sess = j["session"]
        self.env.add_secret("a session token", sess)
        for k in self.env.redis("KEYS", "WXSUB:*:session:*"):
            self.env.add_secret("a session_key",
                                self.env.redis("HGET", k, "k"))
        self.assertTrue(self.env.redis("KEYS", "WXSUB:%s:session:*"
                                       % harness.APPID))
        r = self.clinic("POST", "/record", {"templateIds": [TPL1]}, auth=sess)
        self.assertError(r, 401, "unauthorized")
        j = self.assertOk(self.shop("POST", "/record", {"templateIds": [TPL1]},
                                    auth=sess))
        self.assertEqual(j["openId"], oid)
        # the clinic's WeChat never heard of this login
        self.assertEqual(self.env.clinic.calls().get("jscode2session", 0), 0)

    def test_one_apps_token_revoked_leaves_the_other(self):
        oids = [openid("rev", i) for i in range(2)]
        for o in oids:
            self.assertOk(self.record("shop", o))
            self.assertOk(self.record("clinic", o))
            self.env.quota(o, TPL1, 1)
            self.env.clinic.quota(o, TPL1, 1)
        self.assertOk(self.send("shop", oids[0]))
        self.assertOk(self.send("clinic", oids[0]))
        shop_tok = self.env.redis("GET", "WECHAT:ACCESS_TOKEN:" + harness.APPID)
        clinic_tok = self.env.redis("GET", "WECHAT:ACCESS_TOKEN:" + CLINIC_APPID)
        clinic_calls = self.env.clinic.calls()
        self.env.control("POST", "/__control/revoke", {"mode": "revoke"})
        self.assertOk(self.send("shop", oids[1]))
        self.assertOk(self.send("clinic", oids[1]))
        self.assertNotEqual(self.env.redis(
            "GET", "WECHAT:ACCESS_TOKEN:" + harness.APPID), shop_tok)
        self.assertEqual(self.env.redis(
            "GET", "WECHAT:ACCESS_TOKEN:" + CLINIC_APPID), clinic_tok)
        after = self.env.clinic.calls()
        self.assertEqual(after["stable_token"], clinic_calls["stable_token"],
                         "the clinic fetched no token")
        self.assertEqual(self.env.clinic.stats()["sent"][-1]["access_token"],
                         clinic_tok)

    def test_admin_tool_takes_the_app(self):
        oid = openid("cli")
        self.assertOk(self.record("clinic", oid, TPL2))
        run = lambda *a: subprocess.run(   # noqa: E731
            [admin_path(), "-c", self.env.conf_path] + list(a),
            capture_output=True, text=True, timeout=30)
        p = run("--app", "clinic", "subs", oid)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('"%s":1' % TPL2, p.stdout.replace(" ", ""))
        p = run("--app", "shop", "subs", oid)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn('"%s":1' % TPL2, p.stdout.replace(" ", ""))
        p = run("subs", oid)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("--app", p.stderr)
        p = run("--app", "nosuch", "subs", oid)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        p = run("check-config")
        self.assertIn("app      clinic", p.stdout)
        self.assertIn("app      shop", p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def redis_sockets(self, pid):
        """How many TCP connections process pid has open to Redis."""
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir("/proc/%d/fd" % pid):
                with contextlib.suppress(OSError):
                    t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                    if t.startswith("socket:["):
                        inodes.add(t[8:-1])
        n = 0
        for table in ("/proc/%d/net/tcp" % pid, "/proc/%d/net/tcp6" % pid):
            with contextlib.suppress(OSError), open(table) as f:
                for ln in f.readlines()[1:]:
                    v = ln.split()
                    if int(v[2].rsplit(":", 1)[1], 16) == self.env.redis_port \
                            and v[9] in inodes:
                        n += 1
        return n

    def test_apps_on_one_redis_share_a_connection(self):
        """Both apps use the same Redis: a process that served both keeps
        one connection for them, not one per app."""
        for i in range(16):
            oid = openid("conn", i)
            self.assertOk(self.record("shop", oid))
            self.assertOk(self.record("clinic", oid))
        counts = {pid: self.redis_sockets(pid) for pid in self.env.fcgi_pids()}
        self.assertTrue(any(counts.values()), counts)
        self.assertLessEqual(max(counts.values()), 1, counts)

    def test_worker_serves_every_app(self):
        """`wxsub worker --once` on the directory drains each app's outbox
        through that app's WeChat."""
        ids = {}
        for who in ("shop", "clinic"):
            oid = openid("wrk" + who)
            self.assertOk(self.record(who, oid))
            (self.env if who == "shop" else self.env.clinic).quota(oid, TPL1, 1)
            body = {"openId": oid, "templateId": TPL1, "async": True,
                    "data": {"thing1": "hi"}}
            r = (self.shop if who == "shop" else self.clinic)(
                "POST", "/send", body)
            self.assertEqual(r.status, 202, r)
            ids[who] = r.json["id"]
        p = subprocess.run([admin_path(), "-c", self.env.conf_path, "worker",
                            "--once"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("shop: sent 1", p.stdout)
        self.assertIn("clinic: sent 1", p.stdout)
        for who, mid in ids.items():
            r = (self.shop if who == "shop" else self.clinic)(
                "GET", "/messages/" + mid)
            self.assertEqual(self.assertOk(r)["status"], "sent", r)
            # another app does not know the id
            r = (self.clinic if who == "shop" else self.shop)(
                "GET", "/messages/" + mid)
            self.assertError(r, 404, "not_found")
        self.assertEqual(self.env.calls()["send"], 1)
        self.assertEqual(self.env.clinic.calls()["send"], 1)
