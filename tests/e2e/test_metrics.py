"""GET /metrics: the fleet's counters in the Prometheus text format
(version 0.0.4). Each FastCGI process counts in memory and adds its
counts into one Redis hash after an answer, at most once a second, so a
scrape answered by any process shows every process's requests."""

import os
import re
import time

from harness import E2ECase, TPL1, openid, parallel

METRICS_CT = "text/plain; version=0.0.4; charset=utf-8"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r"(%s)(?:\{(%s(?:,%s)*)\})? (\S+)\Z"
                       % (NAME, LABEL, LABEL))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
HISTOGRAMS = ("wxsub_redis_seconds", "wxsub_wechat_seconds",
              "wxsub_outbox_latency_seconds")


class Scrape:
    """A parsed exposition: samples[(name, ((label, value), ...))] =
    float, types[family] = type. A sample that appears twice (which a
    Prometheus server refuses) is listed in duplicates and summed, so that
    the tests of the counts still see every process's counts."""

    def __init__(self, text):
        self.text = text
        self.duplicates = []
        self.samples = {}
        self.types = {}
        self.helps = {}
        self.order = []
        for ln in text.split("\n")[:-1]:
            if ln.startswith("# TYPE "):
                _, _, fam, typ = ln.split(" ", 3)
                if fam in self.types:
                    raise AssertionError("TYPE twice for %s" % fam)
                if any(self.family(n) == fam for n, _ in self.samples):
                    raise AssertionError("TYPE of %s after its samples"
                                         % fam)
                self.types[fam] = typ
                continue
            if ln.startswith("# HELP "):
                _, _, fam, txt = ln.split(" ", 3)
                self.helps[fam] = txt
                continue
            if ln.startswith("#"):
                continue
            m = SAMPLE_RE.match(ln)
            if m is None:
                raise AssertionError("not a Prometheus sample line: %r"
                                     % ln)
            labels = tuple(LABEL_RE.findall(m.group(2) or ""))
            key = (m.group(1), labels)
            if key in self.samples:
                self.duplicates.append(ln)
                self.samples[key] += float(m.group(3))
                continue
            self.samples[key] = float(m.group(3))
            self.order.append(key)

    def family(self, name):
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in HISTOGRAMS:
                return name[:-len(suffix)]
        return name

    def get(self, name, **labels):
        return self.samples.get((name, tuple(labels.items())), 0.0)

    def requests(self, route, status):
        return self.get("wxsub_requests_total", route=route,
                        status=str(status))

    def sends(self, outcome, errcode=0):
        return self.get("wxsub_sends_total", outcome=outcome,
                        errcode=str(errcode))


def _login(env, oid):
    code = "code-" + os.urandom(6).hex()
    env.control("POST", "/__control/code", {"code": code, "openid": oid})
    r = env.http("POST", "/login", {"code": code}, auth=False)
    if r.status != 200:
        raise AssertionError("login failed: %r" % r)
    env.add_secret("a session token", r.json["session"])
    for k in env.redis("KEYS", "WXSUB:session:*"):
        env.add_secret("a session_key", env.redis("HGET", k, "k"))
    return r.json["session"]


class MetricsBase(E2ECase):
    KIND = "logic"

    def scrape(self, auth=True, headers=None):
        r = self.env.http("GET", "/metrics", auth=auth, headers=headers,
                          check=False)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-type"), METRICS_CT, r)
        self.assertTrue(r.headers.get("x-request-id"), r)
        self.assertEqual(int(r.headers["content-length"]), len(r.body))
        text = r.body.decode("utf-8")
        self.assertTrue(text.endswith("\n"), text[-200:])
        return Scrape(text)

    def poke_every_process(self):
        """One request straight to every FastCGI process: each flushes
        its counts after answering (a second after its last flush). A
        GET of an unknown route, so that it only counts as "other"."""
        for sock in self.env.fastcgi_sockets():
            try:
                self.env.fastcgi(sock, "GET", "/poke", timeout=5)
            except Exception:   # noqa: BLE001 - a socket of a gone process
                pass

    def scrape_fleet(self, pred, timeout=10.0, what="the counts"):
        """Scrape until pred(scrape) holds (bounded). Each round lets a
        second pass, makes every process answer once (so that it flushes)
        and scrapes from several connections at once."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            time.sleep(1.1)
            self.poke_every_process()
            res = parallel(lambda _: self.scrape(), list(range(6)),
                           workers=6)
            for s in res:
                if isinstance(s, Exception):
                    raise s
                last = s
                if pred(s):
                    return s
            if time.monotonic() > deadline:
                self.fail("timed out after %.0f s waiting for %s; last "
                          "scrape:\n%s" % (timeout, what, last.text))

    def assertHistogramsConsistent(self, s):
        for h in HISTOGRAMS:
            with self.subTest(histogram=h):
                self.assertEqual(s.types.get(h), "histogram")
                buckets = [(dict(lb)["le"], v) for (n, lb), v in
                           s.samples.items() if n == h + "_bucket"]
                self.assertGreaterEqual(len(buckets), 2)
                self.assertEqual(buckets[-1][0], "+Inf",
                                 "the last bucket is +Inf")
                les = [float(le) for le, _ in buckets[:-1]]
                self.assertEqual(les, sorted(les))
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts),
                                 "buckets are cumulative")
                count = s.get(h + "_count")
                self.assertEqual(s.get(h + "_bucket", le="+Inf"), count,
                                 "+Inf bucket == count")
                self.assertGreaterEqual(s.get(h + "_sum"), 0)
                self.assertIn((h + "_sum", ()), s.samples)
                self.assertIn((h + "_count", ()), s.samples)


class MetricsTests(MetricsBase):

    def test_scrape_with_api_key(self):
        self.env.get("/health")
        s = self.scrape()
        # the families and their types
        self.assertEqual(s.types.get("wxsub_requests_total"), "counter")
        self.assertEqual(s.types.get("wxsub_sends_total"), "counter")
        self.assertEqual(s.types.get("wxsub_token_fetches_total"),
                         "counter")
        for h in HISTOGRAMS:
            self.assertEqual(s.types.get(h), "histogram")
        for key in s.order:
            fam = s.family(key[0])
            self.assertIn(fam, s.types, "sample %r has no TYPE" % (key,))
            if s.types[fam] == "counter":
                self.assertGreaterEqual(s.samples[key], 0)
        self.assertIn(("wxsub_token_fetches_total", (("result", "ok"),)),
                      s.samples)
        self.assertIn(("wxsub_token_fetches_total", (("result", "failed"),)),
                      s.samples)
        self.assertGreaterEqual(s.requests("/health", 200), 1)
        self.assertHistogramsConsistent(s)
        # nothing secret in it
        self.assertNotIn(self.env.api_key, s.text)
        self.assertNotIn(self.env.secret, s.text)

    def test_no_sample_twice(self):
        """One line per label set: the fleet's stored counts and the
        answering process's unflushed ones are one sample, not two (a
        Prometheus server refuses a scrape with a repeated sample)."""
        bad = []
        for _ in range(4):
            for _ in range(3):
                self.env.get("/health")
                self.scrape()
            time.sleep(1.1)
            for _ in range(3):
                self.env.get("/health")
                s = self.scrape()
                bad += s.duplicates
                if s.duplicates:
                    last_text = s.text
        if bad:
            self.fail("%d sample lines repeat a label set already in the "
                      "same scrape, e.g.:\n%s\nin:\n%s" % (
                          len(bad), "\n".join(sorted(set(bad))[:5]),
                          last_text))

    def test_refused_without_credentials_or_with_a_session(self):
        session = _login(self.env, openid("metricsess"))
        for what, auth, headers in [
                ("none", False, None),
                ("session", session, None),
                ("basic", False, {"Authorization": "Basic "
                                  + self.env.api_key}),
                ("wrong key", "x" + self.env.api_key[1:], None),
                ("empty bearer", False, {"Authorization": "Bearer "})]:
            with self.subTest(credential=what):
                r = self.env.http("GET", "/metrics", auth=auth,
                                  headers=headers)
                self.assertError(r, 401, "unauthorized")
        r = self.env.http("POST", "/metrics", {})
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "GET, HEAD")

    def test_counts_are_fleet_wide(self):
        n = 60
        rid = "fleet-%s" % os.urandom(3).hex()
        res = parallel(lambda i: self.env.get(
            "/health", headers={"X-Request-Id": "%s-%d" % (rid, i)}).status,
            list(range(n)), workers=12)
        self.assertEqual(res, [200] * n)
        pids = self.env.fcgi_pids()
        self.assertGreaterEqual(len(pids), 2, "the server runs several "
                                "FastCGI processes: %r" % pids)
        s = self.scrape_fleet(lambda s: s.requests("/health", 200) >= n,
                              what="%d /health answers in the counts" % n)
        self.assertGreaterEqual(s.requests("/health", 200), n)
        # refusals are counted under their route and status (unknown
        # routes under "other")
        for _ in range(3):
            self.env.post("/record", {}, headers={"Content-Type":
                                                  "text/plain"})
            self.env.post("/send", {}, auth=False)
        s = self.scrape_fleet(
            lambda s: s.requests("/record", 415) >= 3 and
            s.requests("/send", 401) >= 3 and
            s.requests("other", 404) >= 1, what="415s, 401s and 404s")
        self.assertHistogramsConsistent(s)

    def test_sends_by_outcome(self):
        oid = openid("msends")
        self.env.give_credit(oid, TPL1)
        self.assertOk(self.env.send(oid, TPL1))
        r = self.env.send(oid, TPL1)
        self.assertError(r, 409, "not_subscribed")
        self.env.give_credit(oid, TPL1)
        self.env.fault("send", "errcode", errcode=45009)
        r = self.env.send(oid, TPL1)
        self.assertError(r, 429, "quota_exceeded", errcode=45009)
        s = self.scrape_fleet(
            lambda s: s.sends("sent") >= 1 and
            s.sends("not_subscribed") >= 1 and
            s.sends("quota_exceeded", 45009) >= 1,
            what="the three send outcomes")
        self.assertGreaterEqual(s.requests("/send", 200), 1)
        self.assertGreaterEqual(s.requests("/send", 409), 1)
        self.assertGreaterEqual(s.requests("/send", 429), 1)
        self.assertEqual(s.sends("sent", 45009), 0)
        self.assertEqual(s.sends("not_subscribed", 45009), 0)
        for (name, labels), _ in s.samples.items():
            if name == "wxsub_sends_total":
                d = dict(labels)
                self.assertEqual(set(d), {"outcome", "errcode"})
                self.assertRegex(d["errcode"], r"-?\d+\Z")
                self.assertRegex(d["outcome"], r"[a-z_]+\Z")
        self.assertGreaterEqual(s.get("wxsub_wechat_seconds_count"), 2)
        self.assertHistogramsConsistent(s)

    def test_metrics_allow(self):
        self.addCleanup(self.env.reconfigure)
        self.env.reconfigure({"http.metricsAllow": "127.0.0.1"})
        s = self.scrape(auth=False)
        self.assertIn("wxsub_requests_total", s.types)
        # the address opens /metrics only
        r = self.env.get("/subscriptions?openId=" + openid("ma"),
                         auth=False)
        self.assertError(r, 401, "unauthorized")
        self.env.reconfigure({"http.metricsAllow": "10.0.0.0/8,::1"})
        r = self.env.get("/metrics", auth=False)
        self.assertError(r, 401, "unauthorized")
        self.scrape()


class TokenCounterTests(MetricsBase):
    """A fresh world: no process has fetched a token yet."""

    WORLD = "own"       # no process has fetched a token yet

    def test_one_token_fetch_after_the_first_send(self):
        self.assertEqual(self.env.token_calls(), 0)
        self.assertIsNone(self.env.redis("GET", "WECHAT:ACCESS_TOKEN"))
        s = self.scrape()
        self.assertEqual(s.get("wxsub_token_fetches_total", result="ok"), 0)
        oid = openid("mtoken")
        self.env.give_credit(oid, TPL1, 3)
        self.assertOk(self.env.send(oid, TPL1))
        s = self.scrape_fleet(
            lambda s: s.get("wxsub_token_fetches_total", result="ok") >= 1,
            what="the token fetch in the counts")
        # later sends use the cached token; let every process flush
        self.assertOk(self.env.send(oid, TPL1))
        self.assertOk(self.env.send(oid, TPL1))
        s = self.scrape_fleet(lambda s: s.sends("sent") >= 3,
                              what="three sends")
        s = self.scrape_fleet(lambda s: True)
        self.assertEqual(s.get("wxsub_token_fetches_total", result="ok"), 1)
        self.assertEqual(s.get("wxsub_token_fetches_total",
                               result="failed"), 0)
        self.assertEqual(s.get("wxsub_token_waits_total"), 0)
        self.assertEqual(s.get("wxsub_token_forced_refreshes_total"), 0)
        self.assertEqual(self.env.token_calls(), 1)
        self.assertHistogramsConsistent(s)
