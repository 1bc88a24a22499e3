"""The nginx kit (apache/nginx-wxsub.conf), server kind nginx: a private
nginx on loopback, its workers as www-data, with the shipped location
block included in a server that also has a hosting panel's regex
locations; wxsub started by the shipped wxsub-spawn-fcgi on a unix socket.

Besides what every kit must do (test_deploy.DeployChecks): the split of
PATH_INFO and the URLs that must not reach a route, HEAD, the two body
limits (wxsub's JSON 413, then nginx's own), the socket's permissions,
and slow bodies, which nginx holds and cuts without a wxsub process ever
seeing them.
"""

import os
import re
import socket

import harness
from harness import E2ECase, JSON_CT, TPL1, openid, parallel
from test_deploy import DeployChecks
from test_hostile import HEALTH_P99_S, Trickler, percentile


def size_bytes(v):
    m = re.match(r"(\d+)([kKmM]?)$", v)
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[
        m.group(2).lower()]


def seconds(v):
    m = re.match(r"(\d+)(ms|s|m)?$", v)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[
        m.group(2)]


def read_to_close(s):
    """Everything the server sends until it closes the connection."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


class NginxDeploy(DeployChecks, E2ECase):
    """apache/nginx-wxsub.conf behind a private nginx."""

    SERVERS = ("nginx",)

    def raw(self, method, path, **kw):
        """A request as sent, whoever answers it (nginx or wxsub)."""
        return self.env.http(method, path, raw_path=True, check=False,
                             auth=False, **kw)

    def record_head(self, *lines):
        """The start of a POST /record with the api key, up to and with
        the blank line; lines are more header lines."""
        return ("POST %s/record HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\n"
                "Authorization: Bearer %s\r\n%s\r\n"
                % (self.env.script, self.env.api_key,
                   "".join(ln + "\r\n" for ln in lines))).encode()

    # -- routes and PATH_INFO ----------------------------------------------

    def test_routes_win_over_the_panels_regex_locations(self):
        """The server also has `location ~ .*\\.(js|css)?$`, which matches
        every URL with a dot: the kit's ^~ location wins, so every route
        and every unknown one is wxsub's answer, never a static 404."""
        self.assertOk(self.env.get("/health", auth=False))
        for route in ("/health.css", "/x.js", "/record.png", "/nope"):
            with self.subTest(route=route):
                r = self.env.get(route)
                self.assertError(r, 404, "not_found", msg_has=route)
        # and the rest of the server is still the panel's
        r = self.raw("GET", "/some/page.css")
        self.assertEqual(r.status, 404, r)
        self.assertNotEqual(r.headers.get("content-type"), JSON_CT, r)

    def test_path_info_tricks(self):
        """What must not reach a route: wxsub's 404, or nginx's own
        refusal; never a 200."""
        base = self.env.script
        for path in (
                base,                           # no route: no PATH_INFO
                base + "X/health",              # not the script
                base + "/health%0A",            # (?s) keeps the newline
                base + "/health%0Ax",
                base + "/health/", base + "/health/..",
                base + "/health%2F..", base + "/he%20alth",
                base + "/send/", base + "/health%3F", base + "/health;x",
                base + "/%2e%2e/health",        # nginx: /cgi-bin/health
                base + "/health%00",            # nginx: 400
                "/cgi-bin/wxsub.fcgi.bak/health"):
            with self.subTest(path=path):
                r = self.raw("GET", path)
                if r.headers.get("content-type") == JSON_CT:
                    self.assertError(r, 404, "not_found")
                else:
                    self.assertIn(r.status, (400, 403, 404), r)

    def test_normalised_urls_reach_the_route_they_name(self):
        """nginx resolves "..", "." and "//" (and decodes escapes) before
        it splits the URL: wxsub gets the clean route as PATH_INFO, the
        same as behind lighttpd. (wxsub's 404 names the route it got.)"""
        for form in ("/cgi-bin/wxsub.fcgi/x/..%s", "/cgi-bin/wxsub.fcgi/%s",
                     "/cgi-bin/wxsub.fcgi/.%s", "/cgi-bin//wxsub.fcgi%s",
                     "/cgi-bin/wxsub%%2Efcgi%s"):
            with self.subTest(form=form):
                r = self.raw("GET", form % "/health")
                self.assertTrue(self.assertOk(r).get("redis"), r)
                r = self.raw("GET", form % "/nope")
                self.assertError(r, 404, "not_found", msg_has="no route "
                                 "/nope")
                self.assertTrue(r.json["message"].endswith("/nope"), r)

    def test_head(self):
        """HEAD reaches wxsub as HEAD: nginx gives the status and headers
        wxsub gives straight on its socket, and no body."""
        sock = self.env.fastcgi_sockets()[0]
        oid = openid("head")
        for route, query, auth in (("/health", "", False),
                                   ("/subscriptions", "openId=" + oid, True),
                                   ("/subscriptions", "openId=" + oid,
                                    False)):
            with self.subTest(route=route, auth=auth):
                env = {"QUERY_STRING": query}
                if auth:
                    env["HTTP_AUTHORIZATION"] = "Bearer " + self.env.api_key
                direct = self.env.fastcgi(sock, "HEAD", route, env=env)
                r = self.env.http("HEAD", route + ("?" + query if query
                                                   else ""),
                                  auth=auth, check=False)
                self.assertEqual(r.status, direct.status, (r, direct))
                self.assertEqual(r.body, b"", r)
                self.assertEqual(r.headers.get("content-type"), JSON_CT, r)
                self.assertTrue(r.headers.get("x-request-id"), r)
                if "allow" in direct.headers:
                    self.assertEqual(r.headers.get("allow"),
                                     direct.headers["allow"])

    # -- bodies -----------------------------------------------------------------

    def test_body_limits(self):
        """Up to http.maxBody wxsub reads the body; above it, wxsub's
        JSON 413; above the kit's client_max_body_size, nginx's own 413
        before wxsub is involved. Nothing changes in Redis."""
        nginx_max = size_bytes(harness.nginx_directive(
            "client_max_body_size"))
        self.assertGreater(nginx_max, 65536, "nginx must leave the 413 to "
                           "wxsub above http.maxBody (65536)")
        oid = openid("nginxbody")
        head = '{"openId":"%s","templateId":"%s","pad":"' % (oid, TPL1)
        body = head + "x" * (65536 - len(head) - 2) + '"}'
        self.assertOk(self.env.post("/record", body))
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        before = self.env.snapshot()
        r = self.env.post("/record", body[:-2] + 'x"}')
        self.assertError(r, 413, "payload_too_large")
        rid = "nginx-toolarge"
        r = self.env.post("/record", head + "x" * nginx_max + '"}',
                          headers={"X-Request-Id": rid}, check=False)
        self.assertEqual(r.status, 413, r)
        self.assertNotEqual(r.headers.get("content-type"), JSON_CT, r)
        self.assertNotIn("x-request-id", r.headers, r)
        self.assertEqual(self.env.snapshot(), before)
        self.assertNotIn("req=" + rid, self.env.wxsub_log())

    def test_chunked_body(self):
        """A chunked body (no Content-Length) is read whole by nginx and
        reaches wxsub with its length."""
        oid = openid("chunked")
        body = ('{"openId":"%s","templateId":"%s"}' % (oid, TPL1)).encode()
        s = socket.create_connection(("127.0.0.1", self.env.http_port), 15)
        try:
            s.sendall(self.record_head("Transfer-Encoding: chunked",
                                       "Connection: close") +
                      b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            data = read_to_close(s)
        finally:
            s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data)
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    # -- the socket -------------------------------------------------------------

    def workers(self):
        """Pids of nginx's worker processes (children of the master)."""
        master = self.env.server_proc.pid
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == master:
                out.append(int(d))
        return out

    def test_workers_are_not_root_and_reach_the_socket(self):
        """The workers run as www-data; the socket is www-data's, 0660.
        Given to root, the workers cannot connect: nginx's 502, not
        wxsub's answer."""
        uid, gid = harness._www_data()
        workers = self.workers()
        self.assertTrue(workers)
        for pid in workers:
            with open("/proc/%d/status" % pid) as f:
                uids = re.search(r"^Uid:\s+(.*)$", f.read(), re.M).group(1)
            self.assertEqual(uids.split(), [str(uid)] * 4, pid)
        sock = self.env.fastcgi_sockets()[0]
        st = os.stat(sock)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (uid, gid, 0o660))
        os.chown(sock, 0, 0)
        try:
            r = self.env.get("/health", auth=False, check=False)
        finally:
            os.chown(sock, uid, gid)
        self.assertEqual(r.status, 502, r)
        self.assertNotIn("x-request-id", r.headers, r)
        self.assertIn("Permission denied", self.env.log_tail(200))
        self.assertOk(self.env.get("/health", auth=False))

    def test_spawned_processes_serve(self):
        spawned = set(self.env.spawned_pids())
        self.assertEqual(len(spawned), harness.SPAWN_PROCS)
        self.assertEqual(set(self.env.fcgi_pids()), spawned)
        for r in parallel(lambda i: self.env.get("/health", auth=False),
                          list(range(40)), workers=8):
            self.assertOk(r)
        self.assertEqual(set(self.env.fcgi_pids()), spawned)

    # -- slow clients (issue 11; the cut: test_hostile.NginxSlowClients) ------

    def test_tricklers_that_keep_sending_hold_no_process(self):
        """client_body_timeout is a limit between two reads, not on the
        whole body: a client that keeps sending is not cut. nginx holds
        it, not wxsub: with three times as many such tricklers as wxsub
        processes /health stays fast, and none of them is answered (an
        anonymous /record that reached wxsub would get its 401 at
        once)."""
        n = 3 * harness.SPAWN_PROCS
        trickle_s = 3.0
        self.assertLess(trickle_s, seconds(harness.nginx_directive(
            "client_body_timeout")))
        log_before = len(self.env.wxsub_log())
        ts = [Trickler(self.env.http_port, self.env.script + "/record",
                       trickle_s) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.started.wait(10)
        lat = []
        while any(t.is_alive() for t in ts):
            r = self.env.get("/health", auth=False, timeout=10)
            self.assertOk(r)
            lat.append(r.elapsed)
        self.assertEqual([t.how for t in ts], ["never cut"] * n)
        self.assertGreaterEqual(len(lat), 10, lat)
        p99 = percentile(lat, 99)
        self.assertLess(p99, HEALTH_P99_S, "p99 of /health %.1f ms while %d "
                        "clients trickled" % (p99 * 1000, n))
        self.assertTrue(all(t.sent > 2 for t in ts), [t.sent for t in ts])
        self.assertNotIn("POST /record", self.env.wxsub_log()[log_before:])


if __name__ == "__main__":
    import unittest
    unittest.main()
