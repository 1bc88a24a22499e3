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


class DeployChecks:
    """What every kit must do; mixed into one E2ECase per kind."""

    SERVERS = ()

    @classmethod
    def setUpClass(cls):
        if harness.current_server() not in cls.SERVERS:
            raise unittest.SkipTest("for %s (this pass: %s)" % (
                "/".join(cls.SERVERS), harness.current_server()))
        super().setUpClass()

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
        cgi = os.path.join(self.env.tmp, "home", "public_html", "cgi-bin")
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
