"""The deploy kits, each started for real on loopback: what every kit
must deliver to wxsub (the route as PATH_INFO, the query string, the
Authorization header, WXSUB_CONFIG) and what is particular to each.

One class per server kind; a class runs only in the pass of the kinds in
its SERVERS (run.py filters on that; run directly, the class skips
itself). The kinds of harness.DEPLOY_SERVERS run nothing but these.

  LighttpdDeploy            apache/lighttpd-wxsub.conf
  ApacheFcgidDeploy         apache/wxsub-fcgid.conf (and its tuned pool)
  ApacheCgiDeploy           apache/shared-hosting/.htaccess, mod_cgi
  ApacheCgidDeploy          the same under mod_cgid (a known problem:
                            answers before the body is read are lost)
  ApacheHtaccessFcgidDeploy apache/shared-hosting/.htaccess, mod_fcgid
                            (FcgidWrapper + wxsub-start.sh)
  ApacheProxyFcgiDeploy     apache/wxsub-proxy-fcgi.conf, wxsub started
                            by apache/wxsub-spawn-fcgi
  ApacheSuexecFcgidDeploy   apache/shared-hosting/.htaccess, mod_fcgid,
                            through suEXEC (SuexecUserGroup): works
  ApacheSuexecCgiDeploy     the same under mod_cgi: suEXEC drops
                            WXSUB_CONFIG (a known limitation)
"""

import os
import re
import shutil
import subprocess
import time
import unittest

import harness
from harness import E2ECase, REQID_RE, TPL1, TPL2, openid, parallel, \
    wait_until


class ForKinds:
    """Runs only in the passes of the kinds in SERVERS."""

    SERVERS = ()

    @classmethod
    def setUpClass(cls):
        if harness.current_server() not in cls.SERVERS:
            raise unittest.SkipTest("for %s (this pass: %s)" % (
                "/".join(cls.SERVERS), harness.current_server()))
        super().setUpClass()


class DeployChecks(ForKinds):
    """What every kit must do; mixed into one E2ECase per kind."""

    def test_health(self):
        r = self.env.get("/health", auth=False)
        j = self.assertOk(r)
        self.assertEqual(j["redis"], "ok")
        self.assertRegex(r.headers["x-request-id"], REQID_RE)

    def test_record_with_the_api_key(self):
        """The Authorization header reaches wxsub."""
        oid = openid("deployrec")
        j = self.assertOk(self.env.record(oid, [TPL1, TPL2]))
        self.assertEqual(j["credits"], {TPL1: 1, TPL2: 1})
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertOk(self.env.record(oid, TPL1))
        self.assertEqual(self.env.credit(oid, TPL1), 2)

    def test_send_through_the_standin(self):
        oid = openid("deploysend")
        self.env.give_credit(oid, TPL1)
        r = self.env.send(oid, TPL1, {"thing1": "deploy"})
        j = self.assertOk(r)
        sent = self.env.stats()["sent"]
        self.assertEqual(len(sent), 1, sent)
        self.assertEqual(sent[-1]["msgid"], j["msgid"])
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertError(self.env.send(oid, TPL1), 409, "not_subscribed")

    def test_path_info_and_query_intact(self):
        oid = openid("deploypath")
        self.env.give_credit(oid, TPL2, 3, quota=False)
        j = self.assertOk(self.env.get("/subscriptions?openId=" + oid))
        self.assertEqual(j["openId"], oid)
        self.assertEqual(j["credits"][TPL2], 3)
        self.assertEqual(j["credits"][TPL1], 0)
        r = self.env.http("DELETE", "/subscriptions?openId=%s&templateId=%s"
                          % (oid, TPL2))
        self.assertOk(r)
        self.assertIsNone(self.env.credit(oid, TPL2))
        # wxsub's own 404 and 405: the route reached it as it was sent
        self.assertError(self.env.get("/nope"), 404, "not_found")
        r = self.env.get("/send")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "POST")

    BAD_KEYS = (False, "not-the-right-key-0123456789")

    def test_401_without_or_with_a_wrong_key(self):
        oid = openid("deploy401")
        self.env.give_credit(oid, TPL1, quota=False)
        before = self.env.snapshot()
        for auth in self.BAD_KEYS:
            with self.subTest(auth=auth):
                r = self.env.get("/subscriptions?openId=" + oid, auth=auth)
                self.assertError(r, 401, "unauthorized")
                r = self.env.http("DELETE", "/subscriptions?openId=" + oid,
                                  auth=auth)
                self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.snapshot(), before)

    def test_401_with_a_body_left_unread(self):
        """wxsub refuses before it reads the body: the server must still
        deliver the answer."""
        oid = openid("deploy401b")
        before = self.env.snapshot()
        for auth in self.BAD_KEYS:
            with self.subTest(auth=auth):
                r = self.env.post("/record", {"openId": oid,
                                              "templateId": TPL1}, auth=auth,
                                  timeout=self.BODY_TIMEOUT)
                self.assertError(r, 401, "unauthorized")
                r = self.env.post("/send", {"openId": oid, "templateId": TPL1,
                                            "data": {"thing1": "x"}},
                                  auth=auth, timeout=self.BODY_TIMEOUT)
                self.assertError(r, 401, "unauthorized")
        self.assertEqual(self.env.snapshot(), before)

    BODY_TIMEOUT = 30.0

    def test_session_bearer(self):
        """A /login session in Authorization records for its user."""
        oid = openid("deploysess")
        self.env.control("POST", "/__control/code",
                         {"code": "deploy-code-1", "openid": oid})
        j = self.assertOk(self.env.post("/login", {"code": "deploy-code-1"},
                                        auth=False))
        session = j["session"]
        self.env.add_secret("a session token", session)
        for k in self.env.redis("KEYS", "WXSUB:session:*"):
            if self.env.redis("TYPE", k) == "hash":
                for v in self.env.redis("HGETALL", k)[1::2]:
                    if v != oid and len(v) >= 16:
                        self.env.add_secret("a session_key or hash", v)
        r = self.env.post("/record", {TPL1: "accept",
                                      "errMsg": "requestSubscribeMessage:ok"},
                          auth=session)
        self.assertEqual(self.assertOk(r)["openId"], oid)
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_request_id_echoed(self):
        r = self.env.get("/health", auth=False,
                         headers={"X-Request-Id": "deploy-check-1"})
        self.assertEqual(r.headers["x-request-id"], "deploy-check-1")

    # Kits whose processes live on set GNUTLS_NO_IMPLICIT_INIT (libcurl
    # loads GnuTLS without using it; 0.8 MB per process): see docs/deploy.md.
    SLIM = True

    def test_processes_skip_the_unused_gnutls_setup(self):
        if not self.SLIM:
            self.skipTest("one process per request: nothing to save")
        self.assertOk(self.env.get("/health", auth=False))
        pids = self.env.fcgi_pids()
        self.assertTrue(pids)
        for pid in pids:
            with open("/proc/%d/environ" % pid, "rb") as f:
                environ = f.read().split(b"\0")
            self.assertIn(b"GNUTLS_NO_IMPLICIT_INIT=1", environ, pid)
        # and TLS-capable libcurl still works: a send goes through
        oid = openid("slim")
        self.env.give_credit(oid, TPL1)
        self.assertOk(self.env.send(oid, TPL1))


class LighttpdDeploy(DeployChecks, E2ECase):
    """The shipped lighttpd config."""

    SERVERS = ("lighttpd",)


WRK_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"openId":"oPOOL%%023d","templateId":"%s"}',
                             counter %% 100)
  return wrk.format("POST", "%s", wrk.headers, body)
end
"""


def ms(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)$", text).groups()
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


class ApacheFcgidDeploy(DeployChecks, E2ECase):
    """The shipped mod_fcgid config, and its process pool."""

    SERVERS = ("apache",)

    CLIENTS = 32

    def wrk(self, conns, seconds):
        script = os.path.join(self.env.tmp, "pool.lua")
        with open(script, "w") as f:
            f.write(WRK_LUA % (TPL1, self.env.script + "/record"))
        out = subprocess.run(
            ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency",
             "-s", script, "-H", "Content-Type: application/json",
             "-H", "Authorization: Bearer " + self.env.api_key,
             "http://127.0.0.1:%d" % self.env.http_port],
            capture_output=True, text=True, timeout=seconds + 30,
            check=True).stdout
        lat = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
        p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
        self.assertNotIn("Non-2xx", out, out)
        return {"max": ms(lat.group(3)), "p99": ms(p99.group(1)), "out": out}

    def test_pool_fills_once_and_stays_full(self):
        """The tuned pool (wxsub-fcgid.conf) that keeps mod_fcgid from its
        one-second wait for an idle process: a burst fills it to more
        processes than the 32 clients, and under those clients none ends
        or is added. (Latencies are the benchmark's business: bench/.)"""
        if shutil.which("wrk") is None:
            self.skipTest("wrk is not installed (scripts/deps)")
        with open(harness.SHIPPED_APACHE) as f:
            pool = int(re.search(r"^FcgidMinProcessesPerClass\s+(\d+)",
                                 f.read(), re.M).group(1))
        self.assertGreater(pool, self.CLIENTS)
        self.wrk(4 * self.CLIENTS, 2)
        wait_until(lambda: len(self.env.fcgi_pids()) >= pool, 10,
                   what="a full pool after a burst of %d clients"
                   % (4 * self.CLIENTS))
        time.sleep(2)
        before = set(self.env.fcgi_pids())
        self.wrk(self.CLIENTS, 3)
        after = set(self.env.fcgi_pids())
        self.assertEqual(before, after, "the pool changed under %d clients"
                         % self.CLIENTS)


class ApacheCgiDeploy(DeployChecks, E2ECase):
    """mod_cgi via the shipped .htaccess: one process per request,
    WXSUB_CONFIG from SetEnv, Authorization from SetEnvIf."""

    SERVERS = ("apache-cgi",)
    SLIM = False

    def test_one_process_per_request(self):
        r = self.env.get("/subscriptions?openId=" + openid("cgi"),
                         auth=False)
        self.assertError(r, 401, "unauthorized")
        wait_until(lambda: not self.env.fcgi_pids(), 5,
                   what="the CGI process to exit")
        # its stderr reached Apache's error log
        self.assertIn("req=%s GET /subscriptions" % r.headers["x-request-id"],
                      self.env.wxsub_log())


class ApacheCgidDeploy(ApacheCgiDeploy):
    """The same .htaccess under mod_cgid (what Debian enables for CGI
    with the event or worker MPM). mod_cgid gives the script one socket
    as both stdin and stdout: a process that exits with request body
    still unread there makes the kernel reset the socket, and Apache
    loses the answer it had already been given (the client waits ~5 s and
    gets a truncated response). wxsub refuses some requests (401, 413)
    before it reads the body, so in CGI mode it drains what is left of
    CONTENT_LENGTH before it exits (src/main.c cgi_drain)."""

    SERVERS = ("apache-cgid",)
    BODY_TIMEOUT = 3.0

    def test_401_with_a_body_left_unread(self):
        oid = openid("deploy401b")
        r = self.env.post("/record", {"openId": oid, "templateId": TPL1},
                          auth=False, timeout=self.BODY_TIMEOUT)
        self.assertError(r, 401, "unauthorized")


class ApacheHtaccessFcgidDeploy(DeployChecks, E2ECase):
    """mod_fcgid via the shipped .htaccess: FcgidWrapper starts
    wxsub-start.sh, which exports WXSUB_CONFIG and execs the binary."""

    SERVERS = ("apache-htaccess-fcgid",)

    def test_processes_stay_and_carry_the_config(self):
        self.assertOk(self.env.get("/health", auth=False))
        pids = self.env.fcgi_pids()
        self.assertTrue(pids, "no wxsub process carries WXSUB_CONFIG")
        cgi = os.path.realpath(self.env.user_cgi)
        for pid in pids:
            self.assertEqual(os.path.realpath("/proc/%d/exe" % pid),
                             os.path.join(cgi, "wxsub.fcgi"))
        for _ in range(10):
            self.assertOk(self.env.get("/health", auth=False))
        self.assertTrue(set(pids) & set(self.env.fcgi_pids()),
                        "the processes did not stay")

    def test_wrapper_not_served(self):
        r = self.env.http("GET", "/cgi-bin/wxsub-start.sh", raw_path=True,
                          check=False)
        self.assertEqual(r.status, 404, r)
        r = self.env.http("GET", "/cgi-bin/.htaccess", raw_path=True,
                          check=False)
        self.assertEqual(r.status, 403, r)


SUEXEC_LINE = re.compile(r"uid: \((\d+)/([^)]*)\) gid: \((\d+)/([^)]*)\) "
                         r"cmd: (\S+)$", re.M)


class SuexecChecks:
    """What suEXEC must have done, for both suEXEC kinds."""

    def suexec_execs(self):
        """(uid, user, gid, group, cmd) of each exec suexec logged in
        this class's run."""
        return [(int(u), un, int(g), gn, cmd) for u, un, g, gn, cmd
                in SUEXEC_LINE.findall(self.env.suexec_log())]

    def assertSuexecRan(self, cmd):
        uid, gid = harness.suexec_user()
        execs = self.suexec_execs()
        self.assertTrue(execs, "suexec logged no exec:\n%s"
                        % self.env.suexec_log())
        for e in execs:
            self.assertEqual(e, (uid, harness.SUEXEC_USER, gid,
                                 harness.SUEXEC_USER, cmd))
        return execs

    def test_config_unreadable_by_the_web_server(self):
        """The config is the user's alone (0600), as README.txt advises
        under suEXEC: www-data cannot read it."""
        uid, _ = harness.suexec_user()
        st = os.stat(self.env.conf_path)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (uid, 0o600))
        r = subprocess.run(["runuser", "-u", "www-data", "--", "cat",
                            self.env.conf_path], capture_output=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(self.env.secret.encode(), r.stdout)


class ApacheSuexecFcgidDeploy(SuexecChecks, ApacheHtaccessFcgidDeploy):
    """The shipped .htaccess under mod_fcgid through suEXEC: mod_fcgid
    has /usr/lib/apache2/suexec start the FcgidWrapper as the user;
    suexec clears the environment, the wrapper exports WXSUB_CONFIG
    again. Everything DeployChecks asks works, Authorization included
    (suexec passes HTTP_* variables)."""

    SERVERS = ("apache-suexec-fcgid",)

    def test_wxsub_runs_as_the_user(self):
        """suexec (not Apache as www-data) started the wrapper, and the
        wxsub processes run as the user, real and effective ids: they
        read the 0600 config www-data cannot."""
        self.assertOk(self.env.get("/subscriptions?openId="
                                   + openid("suexec")))
        uid, gid = harness.suexec_user()
        pids = self.env.fcgi_pids()
        self.assertTrue(pids)
        for pid in pids:
            with open("/proc/%d/status" % pid) as f:
                status = f.read()
            ids = {k: v.split() for k, v in
                   re.findall(r"^(Uid|Gid):\s+(.*)$", status, re.M)}
            self.assertEqual(ids["Uid"], [str(uid)] * 4, pid)
            self.assertEqual(ids["Gid"], [str(gid)] * 4, pid)
        self.assertSuexecRan("wxsub-start.sh")


class ApacheSuexecCgiDeploy(SuexecChecks, ForKinds, E2ECase):
    """The shipped .htaccess under mod_cgi through suEXEC. suexec passes
    the CGI variables and HTTP_*, nothing else: SetEnv WXSUB_CONFIG is
    dropped, wxsub reads its compiled-in default, and every answer is
    500 config_error. (The same .htaccess without suEXEC works:
    ApacheCgiDeploy.) Under mod_cgi and suEXEC, build with
    ./configure --sysconfdir (README.txt)."""

    SERVERS = ("apache-suexec-cgi",)

    def compiled_in_answer(self):
        """What the binary answers with no WXSUB_CONFIG at all (plain
        CGI, no web server)."""
        r = self.env.cgi("GET", "/health", env={"WXSUB_CONFIG": None})
        if r.status != 500 or r.json.get("error") != "config_error":
            self.skipTest("the compiled-in default config exists here: %r"
                          % r)
        return r

    def test_setenv_config_is_dropped(self):
        ref = self.compiled_in_answer()
        self.assertNotIn(self.env.conf_path, ref.json["message"])
        before = len(self.suexec_execs())
        for route in ("/health", "/subscriptions?openId=" + openid("sx")):
            with self.subTest(route=route):
                r = self.env.get(route)
                self.assertError(r, 500, "config_error",
                                 msg_has=ref.json["message"])
                self.assertNotIn(self.env.conf_path, r.json["message"])
        # one exec per request, each by suexec as the user
        self.assertEqual(len(self.assertSuexecRan("wxsub.fcgi")[before:]), 2)

    def test_suexec_refuses_what_others_could_change(self):
        """suexec's ownership rules: a group-writable cgi-bin, or a
        binary not owned by the user, and it refuses to run it (Apache's
        own 500, not wxsub's); put right, wxsub answers again."""
        cgi = self.env.user_cgi
        binary = os.path.join(cgi, "wxsub.fcgi")
        uid, gid = harness.suexec_user()
        cases = (("writable by others", lambda: os.chmod(cgi, 0o775),
                  lambda: os.chmod(cgi, 0o755)),
                 ("mismatch with directory", lambda: os.chown(binary, 0, 0),
                  lambda: os.chown(binary, uid, gid)))
        for why, break_it, mend in cases:
            with self.subTest(why=why):
                before = len(self.env.suexec_log())
                break_it()
                try:
                    r = self.env.get("/health", auth=False, check=False)
                finally:
                    mend()
                self.assertEqual(r.status, 500, r)
                self.assertNotIn("x-request-id", r.headers, r)
                self.assertIn(why, self.env.suexec_log()[before:])
                r = self.env.get("/health", auth=False)
                self.assertError(r, 500, "config_error")


class ApacheProxyFcgiDeploy(DeployChecks, E2ECase):
    """mod_proxy_fcgi to wxsub processes started by wxsub-spawn-fcgi."""

    SERVERS = ("apache-proxy-fcgi",)

    def test_spawned_processes_serve(self):
        spawned = set(self.env.spawned_pids())
        self.assertEqual(len(spawned), harness.SPAWN_PROCS)
        self.assertEqual(set(self.env.fcgi_pids()), spawned)
        results = parallel(lambda i: self.env.get("/health", auth=False),
                           list(range(40)), workers=8)
        for r in results:
            self.assertOk(r)
        self.assertEqual(set(self.env.fcgi_pids()), spawned)

    def test_straight_to_the_socket(self):
        socks = self.env.fastcgi_sockets()
        self.assertEqual(len(socks), 1, socks)
        r = self.env.fastcgi(socks[0], "GET", "/health")
        self.assertEqual(r.status, 200, r)
        r = self.env.fastcgi(socks[0], "GET", "/subscriptions",
                             env={"QUERY_STRING": "openId=" + openid("s")})
        self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
    unittest.main()
