#!/usr/bin/env python3
"""Self-test of the WeChat stand-in (wechat_standin.py).

Run: python3 tests/standin/test_standin.py [-v]
Starts the stand-in as a subprocess on a free loopback port (--port 0) and
exercises every behaviour the tests, demo and benchmark rely on.
"""

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "wechat_standin.py")
APPID = "wxtest000000000001"
SECRET = "test-secret-not-to-be-logged"
TTL = 7200
OPENID = "oTestUser_000000000000000001"
OPENID2 = "oTestUser_000000000000000002"
assert len(OPENID) == len(OPENID2) == 28
T1, T2, T3 = "TPL_A_1", "TPL_A_2", "TPL_A_3"
LT = "TPL_LT_1"
RID_RE = re.compile(r" rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}\Z")

PROC = None
PORT = None
ERRLOG = None


def setUpModule():
    global PROC, PORT, ERRLOG
    ERRLOG = tempfile.NamedTemporaryFile(prefix="standin-", suffix=".log",
                                         delete=False)
    PROC = subprocess.Popen(
        [sys.executable, STANDIN, "--port", "0", "--appid", APPID,
         "--secret", SECRET, "--token-ttl", str(TTL),
         "--templates", ",".join([T1, T2, T3]), "--longterm-templates", LT],
        stdout=subprocess.PIPE, stderr=ERRLOG, text=True)
    line = PROC.stdout.readline()
    m = re.match(r"standin listening on 127\.0\.0\.1:(\d+)$", line.strip())
    if not m:
        PROC.kill()
        raise RuntimeError("stand-in did not start: %r" % line)
    PORT = int(m.group(1))


def tearDownModule():
    PROC.terminate()
    try:
        PROC.wait(5)
    except subprocess.TimeoutExpired:
        PROC.kill()
    ERRLOG.close()
    os.unlink(ERRLOG.name)


def conn(timeout=10):
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)


def raw(method, path, body=None, headers=None, c=None, timeout=10):
    """Returns (status, headers, body bytes)."""
    own = c is None
    c = c or conn(timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode()
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r, r.read()
    finally:
        if own:
            c.close()


def call(method, path, body=None, c=None, timeout=10):
    status, r, data = raw(method, path, body, c=c, timeout=timeout)
    assert status == 200, (status, data)
    assert r.getheader("Content-Type") == "application/json; charset=utf-8"
    return json.loads(data)


def ctl(method, name, body=None, query=None):
    path = "/__control/" + name
    if query:
        path += "?" + urlencode(query)
    return call(method, path, body)


def token(appid=APPID, secret=SECRET, grant="client_credential"):
    q = {"grant_type": grant, "appid": appid, "secret": secret}
    return call("GET", "/cgi-bin/token?" + urlencode(q))


def stable(force=None, appid=APPID, secret=SECRET,
           grant="client_credential"):
    b = {"grant_type": grant, "appid": appid, "secret": secret}
    if force is not None:
        b["force_refresh"] = force
    return call("POST", "/cgi-bin/stable_token", b)


def code2session(code, appid=APPID, secret=SECRET):
    q = {"appid": appid, "secret": secret, "js_code": code,
         "grant_type": "authorization_code"}
    return call("GET", "/sns/jscode2session?" + urlencode(q))


def send(tok, body, c=None):
    path = "/cgi-bin/message/subscribe/send"
    if tok is not None:
        path += "?access_token=" + tok
    return call("POST", path, body, c=c)


def msg(**kw):
    m = {"touser": OPENID, "template_id": T1,
         "data": {"thing1": {"value": "订单已发货"}}}
    m.update(kw)
    return m


def advance(s):
    ctl("POST", "advance", {"seconds": s})


class Base(unittest.TestCase):
    def setUp(self):
        self.assertEqual(ctl("POST", "reset"), {"ok": True})

    def assertErr(self, out, code):
        self.assertEqual(out.get("errcode"), code, out)
        if code != 0 and out["errmsg"] != "injected":
            self.assertRegex(out["errmsg"], RID_RE)

    def grant(self, openid=OPENID, tid=T1, n=1):
        return ctl("POST", "quota", {"openid": openid, "template_id": tid,
                                     "count": n})["count"]

    def accepted(self, tok):
        """A send that fails *after* the token checks proves the token is
        accepted without spending quota (40003 = touser invalid)."""
        out = send(tok, msg(touser="short"))
        return out["errcode"] == 40003

    def token_state(self, tok):
        out = send(tok, msg(touser="short"))
        return out["errcode"]


class TestClassicToken(Base):
    def test_errors(self):
        self.assertErr(token(grant="password"), 40002)
        self.assertErr(token(appid="wxnope"), 40013)
        self.assertErr(token(secret="wrong"), 40125)
        self.assertErr(token(appid=""), 41002)
        self.assertErr(token(secret=""), 41004)

    def test_ok_shape(self):
        out = token()
        self.assertEqual(set(out), {"access_token", "expires_in"})
        self.assertEqual(out["expires_in"], TTL)
        self.assertGreaterEqual(len(out["access_token"]), 64)
        self.assertRegex(out["access_token"], r"\A[A-Za-z0-9_-]+\Z")

    def test_each_fetch_new_token_with_overlap(self):
        a = token()["access_token"]
        b = token()["access_token"]
        self.assertNotEqual(a, b)
        self.assertTrue(self.accepted(a))
        self.assertTrue(self.accepted(b))
        advance(299)
        self.assertTrue(self.accepted(a))
        advance(2)
        self.assertEqual(self.token_state(a), 42001)
        self.assertTrue(self.accepted(b))
        advance(TTL)
        self.assertEqual(self.token_state(b), 42001)

    def test_overlap_counts_from_supersede(self):
        a = token()["access_token"]
        advance(1000)
        b = token()["access_token"]
        advance(299)
        self.assertTrue(self.accepted(a))
        c = token()["access_token"]  # does not extend a's overlap
        advance(2)
        self.assertEqual(self.token_state(a), 42001)
        self.assertTrue(self.accepted(b))  # b's overlap started at c
        self.assertTrue(self.accepted(c))

    def test_isolated_from_stable(self):
        s = stable()["access_token"]
        token()
        token()
        advance(400)
        self.assertTrue(self.accepted(s))
        self.assertEqual(stable()["access_token"], s)


class TestStableToken(Base):
    def test_errors(self):
        self.assertErr(stable(grant="x"), 40002)
        self.assertErr(stable(appid="wxnope"), 40013)
        self.assertErr(stable(secret="nope"), 40125)
        out = call("POST", "/cgi-bin/stable_token", "appid=x&secret=y")
        self.assertErr(out, 47001)
        self.assertErr(call("GET", "/cgi-bin/stable_token"), 43002)

    def test_same_token_remaining_life(self):
        a = stable()
        self.assertEqual(a["expires_in"], TTL)
        advance(100)
        b = stable()
        self.assertEqual(b["access_token"], a["access_token"])
        self.assertIn(b["expires_in"], (TTL - 100, TTL - 101))
        self.assertTrue(self.accepted(a["access_token"]))

    def test_rotation_in_last_five_minutes(self):
        a = stable()["access_token"]
        advance(TTL - 301)
        out = stable()
        self.assertEqual(out["access_token"], a)
        self.assertGreaterEqual(out["expires_in"], 299)
        advance(2)
        out = stable()
        b = out["access_token"]
        self.assertNotEqual(b, a)
        self.assertEqual(out["expires_in"], TTL)
        self.assertTrue(self.accepted(a))   # old one until its own expiry
        self.assertEqual(stable()["access_token"], b)
        advance(300)
        self.assertEqual(self.token_state(a), 42001)
        self.assertTrue(self.accepted(b))

    def test_force_refresh_and_window(self):
        a = stable()["access_token"]
        out = stable(force=True)
        b = out["access_token"]
        self.assertNotEqual(a, b)
        self.assertEqual(out["expires_in"], TTL)
        self.assertEqual(self.token_state(a), 40001)
        advance(10)
        c = stable(force=True)["access_token"]
        self.assertEqual(c, b)              # < 30 s: no refresh
        advance(20)
        d = stable(force=True)["access_token"]
        self.assertNotEqual(d, b)           # 30 s after the refresh
        self.assertEqual(self.token_state(b), 40001)
        self.assertEqual(stable()["access_token"], d)
        self.assertEqual(stable(force=False)["access_token"], d)
        calls = ctl("GET", "stats")["calls"]
        self.assertEqual(calls["stable_token_force"], 3)
        self.assertEqual(calls["stable_token"], 6)

    def test_force_daily_limit(self):
        for i in range(20):
            out = stable(force=True)
            self.assertIn("access_token", out, (i, out))
            advance(31)
        self.assertErr(stable(force=True), 45009)
        self.assertIn("access_token", stable())   # normal mode unaffected
        advance(86400)
        self.assertIn("access_token", stable(force=True))

    def test_force_bad_type(self):
        out = call("POST", "/cgi-bin/stable_token",
                   {"grant_type": "client_credential", "appid": APPID,
                    "secret": SECRET, "force_refresh": "yes"})
        self.assertErr(out, 47001)


class TestRevoke(Base):
    def test_revoke_all(self):
        c = token()["access_token"]
        s = stable()["access_token"]
        ctl("POST", "revoke", {"mode": "revoke"})
        self.assertEqual(self.token_state(c), 40001)
        self.assertEqual(self.token_state(s), 40001)
        s2 = stable()["access_token"]
        self.assertNotEqual(s2, s)
        self.assertTrue(self.accepted(s2))
        c2 = token()["access_token"]
        self.assertTrue(self.accepted(c2))

    def test_stuck(self):
        s = stable()["access_token"]
        ctl("POST", "revoke", {"mode": "stuck"})
        self.assertEqual(self.token_state(s), 40001)
        self.assertEqual(stable()["access_token"], s)  # still handed out
        self.assertEqual(stable()["access_token"], s)
        f = stable(force=True)["access_token"]
        self.assertNotEqual(f, s)
        self.assertTrue(self.accepted(f))
        self.assertEqual(stable()["access_token"], f)

    def test_stuck_without_token(self):
        out = ctl("POST", "revoke", {"mode": "stuck"})
        self.assertTrue(out["ok"])
        s = stable()["access_token"]
        self.assertEqual(self.token_state(s), 40001)

    def test_bad_mode(self):
        st, _, _ = raw("POST", "/__control/revoke", {"mode": "x"})
        self.assertEqual(st, 400)


class TestTemplatesAndPush(Base):

    def test_gettemplate_lists_templates_with_content(self):
        tok = token()["access_token"]
        out = call("GET", "/wxaapi/newtmpl/gettemplate?access_token=" + tok)
        self.assertEqual(out, {"errcode": 0, "errmsg": "ok", "data": []})
        ctl("POST", "template", {"id": LT, "title": "t", "content":
                                 "a:{{phrase1.DATA}}", "enums": [
                                     {"keywordCode": "phrase1",
                                      "enumValueList": ["x", "y"]}]})
        out = call("GET", "/wxaapi/newtmpl/gettemplate?access_token=" + tok)
        self.assertEqual(out["data"], [{
            "priTmplId": LT, "title": "t", "content": "a:{{phrase1.DATA}}",
            "example": "", "type": 3, "keywordEnumValueList": [
                {"keywordCode": "phrase1", "enumValueList": ["x", "y"]}]}])
        self.assertErr(call("GET", "/wxaapi/newtmpl/gettemplate?access_token=x"),
                       40001)
        self.assertEqual(ctl("GET", "stats")["calls"]["gettemplate"], 3)

    def test_push_built_as_wechat_builds_it(self):
        sys.path.insert(0, HERE)
        import wechat_push
        key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        # wechat-next.md 1.2 and 1.4: the official and WxJava vectors
        self.assertEqual(wechat_push.signature("AAAAA", "1714036504",
                                               "1514711492"),
                         "f464b24fc39322e44b38aa78f5edd27bd1441696")
        self.assertEqual(wechat_push.encrypt(key, "wxb11529c136998cb6",
                                             "我是中文abcd123",
                                             b"aaaabbbbccccdddd"),
                         "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5"
                         "+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==")
        out = ctl("POST", "push", {
            "url": "http://127.0.0.1:1/event", "token": "tok", "aesKey": key,
            "mode": "safe", "format": "json", "event":
            "subscribe_msg_popup_event", "openid": OPENID, "deliver": False,
            "items": [{"TemplateId": T1, "SubscribeStatusString": "accept"}]})
        self.assertEqual(out["tries"], [])
        body = json.loads(out["body"])
        msg, appid = wechat_push.decrypt(key, body["Encrypt"])
        self.assertEqual(appid, APPID)
        self.assertEqual(json.loads(msg)["List"]["TemplateId"], T1)
        self.assertIn("msg_signature=", out["query"])
        # nothing listens on port 1: three tries, each refused
        out = ctl("POST", "push", {"url": "http://127.0.0.1:1/event",
                                   "token": "tok", "event": "x",
                                   "openid": OPENID, "timeoutMs": 500})
        self.assertEqual(len(out["tries"]), 3, out)

class TestCode2Session(Base):
    def test_flow(self):
        self.assertErr(code2session("nope"), 40029)
        ctl("POST", "code", {"code": "c1", "openid": OPENID})
        ctl("POST", "code", {"code": "c2", "openid": OPENID2,
                             "unionid": "uUNION"})
        self.assertErr(code2session("c1", appid="wxbad"), 40013)
        self.assertErr(code2session("c1", secret="bad"), 40125)
        out = code2session("c1")
        self.assertEqual(out["openid"], OPENID)
        self.assertNotIn("unionid", out)
        self.assertNotIn("errcode", out)
        self.assertEqual(len(out["session_key"]), 24)
        self.assertEqual(len(base64.b64decode(out["session_key"])), 16)
        self.assertErr(code2session("c1"), 40163)
        out = code2session("c2")
        self.assertEqual(out["unionid"], "uUNION")
        self.assertEqual(out["openid"], OPENID2)

    def test_expiry(self):
        ctl("POST", "code", {"code": "old", "openid": OPENID})
        ctl("POST", "code", {"code": "young", "openid": OPENID})
        advance(299)
        self.assertEqual(code2session("young")["openid"], OPENID)
        advance(1)
        self.assertErr(code2session("old"), 40029)

    def test_missing_code(self):
        self.assertErr(code2session(""), 41008)


class TestSend(Base):
    def setUp(self):
        super().setUp()
        self.tok = stable()["access_token"]

    def test_token_errors(self):
        self.assertErr(send(None, msg()), 41001)
        self.assertErr(send("", msg()), 41001)
        self.assertErr(send("unknown-token", msg()), 40001)
        advance(TTL)
        self.assertErr(send(self.tok, msg()), 42001)
        self.assertErr(send(self.tok, "not json"), 42001)  # token first

    def test_body_errors(self):
        self.grant(n=5)
        self.assertErr(send(self.tok, "not json"), 47001)
        self.assertErr(send(self.tok, "[1,2]"), 47001)
        self.assertErr(send(self.tok, b"\xff\xfe{"), 47001)
        self.assertErr(send(self.tok, msg(touser="")), 40003)
        self.assertErr(send(self.tok, msg(touser=OPENID + "x")), 40003)
        self.assertErr(send(self.tok, msg(touser=OPENID[:-1] + "!")), 40003)
        self.assertErr(send(self.tok, msg(touser=None)), 40003)
        self.assertErr(send(self.tok, msg(template_id="TPL_NOPE")), 40037)
        self.assertErr(send(self.tok, msg(template_id=None)), 40037)
        self.assertErr(send(self.tok, msg(page="pages/nope/nope")), 41030)
        self.assertErr(send(self.tok, msg(page=5)), 41030)
        self.assertErr(send(self.tok, msg(data="{\"thing1\":1}")), 47003)
        self.assertErr(send(self.tok, msg(data={})), 47003)
        self.assertErr(send(self.tok, msg(miniprogram_state="prod")), 47003)
        self.assertErr(send(self.tok, msg(lang="fr_FR")), 47003)
        self.assertEqual(ctl("GET", "quota", query={
            "openid": OPENID, "template_id": T1})["count"], 5)

    def test_data_messages(self):
        self.grant()
        out = send(self.tok, msg(data={"thing1": "x"}))
        self.assertErr(out, 47003)
        self.assertIn("argument invalid! data.thing1.value is empty",
                      out["errmsg"])
        out = send(self.tok, msg(data={"thing1": {"v": "x"}}))
        self.assertIn("data.thing1.value is empty", out["errmsg"])
        out = send(self.tok, msg(data={"thing1": {"value": ""}}))
        self.assertIn("data.thing1.value is empty", out["errmsg"])
        out = send(self.tok, msg(data={"thing1": {"value": 12}}))
        self.assertErr(out, 47003)
        self.assertIn("data.thing1.value invalid", out["errmsg"])
        out = send(self.tok, msg(data={"thing1": {"value": "ok"},
                                       "phrase2": {"value": "abc"}}))
        self.assertIn("argument invalid! data.phrase2.value invalid",
                      out["errmsg"])

    def test_page_rules(self):
        self.grant(n=10)
        for p in ("", "index", "pages/index/index", "pages/detail/detail",
                  "pages/detail/detail?id=42&x=y", "index?foo=bar"):
            self.assertErr(send(self.tok, msg(page=p)), 0)
        self.assertErr(send(self.tok, msg(page="/pages/index/index")), 41030)
        ctl("POST", "pages", {"pages": ["pages/other/other"]})
        self.assertErr(send(self.tok, msg(page="pages/other/other")), 0)
        self.assertErr(send(self.tok, msg(page="index")), 41030)

    def test_sensitive(self):
        self.grant()
        self.assertErr(send(self.tok, msg(
            data={"thing1": {"value": "敏感词"}})), 45168)
        self.assertErr(send(self.tok, msg(
            data={"thing1": {"value": "a Sensitive word"}})), 45168)
        # a type violation wins over the sensitive word
        self.assertErr(send(self.tok, msg(
            data={"phrase1": {"value": "sensitive"}})), 47003)

    def test_banned_and_template_control(self):
        self.grant(tid="TPL_NEW")
        self.assertErr(send(self.tok, msg(template_id="TPL_NEW")), 40037)
        ctl("POST", "template", {"id": "TPL_NEW", "type": "one-time"})
        self.assertErr(send(self.tok, msg(template_id="TPL_NEW")), 0)
        self.grant(tid=T2)
        ctl("POST", "template", {"id": T2, "banned": True})
        self.assertErr(send(self.tok, msg(template_id=T2)), 43107)
        ctl("POST", "template", {"id": T2, "banned": False})
        self.assertErr(send(self.tok, msg(template_id=T2)), 0)
        tpls = ctl("GET", "template")["templates"]
        self.assertEqual(tpls[LT]["type"], "long-term")
        self.assertEqual(tpls[T1]["type"], "one-time")
        st, _, _ = raw("POST", "/__control/template", {"id": "X",
                                                       "type": "weekly"})
        self.assertEqual(st, 400)

    def test_quota_one_time(self):
        self.assertErr(send(self.tok, msg()), 43101)
        self.assertIn("user refuse to accept the msg",
                      send(self.tok, msg())["errmsg"])
        self.assertEqual(self.grant(n=2), 2)
        self.assertEqual(self.grant(), 3)
        for _ in range(3):
            out = send(self.tok, msg())
            self.assertErr(out, 0)
            self.assertEqual(out["errmsg"], "ok")
            self.assertIsInstance(out["msgid"], int)
            self.assertTrue(10 ** 18 <= out["msgid"] < 9 * 10 ** 18)
        self.assertErr(send(self.tok, msg()), 43101)
        self.assertEqual(ctl("GET", "quota", query={
            "openid": OPENID, "template_id": T1}), {"count": 0, "ok": True})
        # per (user, template)
        self.grant(openid=OPENID2, tid=T2)
        self.assertErr(send(self.tok, msg(touser=OPENID2)), 43101)
        self.assertErr(send(self.tok, msg(touser=OPENID2, template_id=T2)), 0)

    def test_quota_not_used_by_failures(self):
        self.grant()
        self.assertErr(send(self.tok, msg(lang="xx")), 47003)
        self.assertErr(send(self.tok, msg()), 0)

    def test_long_term(self):
        self.assertErr(send(self.tok, msg(template_id=LT)), 43101)
        self.grant(tid=LT)
        for _ in range(5):
            self.assertErr(send(self.tok, msg(template_id=LT)), 0)
        self.assertEqual(ctl("GET", "quota", query={
            "openid": OPENID, "template_id": LT})["count"], 1)

    def test_recorded(self):
        self.grant(n=2)
        ctok = token()["access_token"]
        out = send(ctok, msg(page="index?x=1", miniprogram_state="developer",
                             lang="en_US",
                             data={"thing1": {"value": "你好"},
                                   "time2": {"value": "15:01"}}))
        self.assertErr(out, 0)
        self.assertErr(send(self.tok, msg()), 0)
        st = ctl("GET", "stats")
        self.assertEqual(len(st["sent"]), 2)
        r = st["sent"][0]
        self.assertEqual(r["touser"], OPENID)
        self.assertEqual(r["template_id"], T1)
        self.assertEqual(r["page"], "index?x=1")
        self.assertEqual(r["data"]["thing1"]["value"], "你好")
        self.assertEqual(r["miniprogram_state"], "developer")
        self.assertEqual(r["lang"], "en_US")
        self.assertEqual(r["msgid"], out["msgid"])
        self.assertEqual(r["access_token"], ctok)
        self.assertEqual(st["sent"][1]["access_token"], self.tok)
        self.assertIsNone(st["sent"][1]["page"])
        self.assertEqual(st["tokens"]["classic_current"], ctok)
        self.assertEqual(st["tokens"]["stable_current"], self.tok)
        self.assertEqual(len(ctl("GET", "stats", query={"sent": 1})["sent"]),
                         1)

    def test_wrong_method(self):
        out = call("GET", "/cgi-bin/message/subscribe/send?access_token="
                   + self.tok)
        self.assertErr(out, 43002)

    def test_concurrent_43108(self):
        self.grant(n=5)
        ctl("POST", "fault", {"endpoint": "send", "kind": "delay",
                              "delay_ms": 800})
        results = {}

        def slow():
            results["slow"] = send(self.tok, msg())

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        results["fast"] = send(self.tok, msg())
        # another user is not blocked
        self.grant(openid=OPENID2)
        results["other"] = send(self.tok, msg(touser=OPENID2))
        fast_elapsed = time.monotonic() - t0
        th.join()
        self.assertErr(results["fast"], 43108)
        self.assertErr(results["other"], 0)
        self.assertErr(results["slow"], 0)
        self.assertLess(fast_elapsed, 0.4)
        # free again afterwards
        self.assertErr(send(self.tok, msg()), 0)
        self.assertEqual(ctl("GET", "quota", query={
            "openid": OPENID, "template_id": T1})["count"], 3)


VALID = {
    "thing": ["订单已发货", "a" * 20, "Hello, World! 123", "中文English12#"],
    "number": ["0", "123", "3.14", "1" * 32],
    "letter": ["abc", "A" * 32],
    "symbol": ["!", "#-+", "¥$%&*"],
    "character_string": ["ORDER-2024_001", "abc123", "x" * 32],
    "time": ["15:01", "9:05", "15:01:59", "2019年10月1日 15:01",
             "2019-10-01 15:01", "15:01 ~ 16:00", "2019-10-01 15:01~16:30"],
    "date": ["2019年10月1日", "2019年10月", "10月1日", "2018-01-01",
             "2018.01.01", "2018/1/1", "2018-01", "01-01",
             "2019年10月1日 15:01", "2019-12-25 09:42",
             "2018-01-01 ~ 2018-01-05"],
    "amount": ["¥100", "¥100.00", "$5", "100元", "¥8.8元", "1234567890"],
    "phone_number": ["+86-0766-66888866", "13800138000", "(010)12345"],
    "car_number": ["粤A8Z888挂", "粤A12345", "AB123"],
    "name": ["张三", "欧阳娜娜娜娜娜娜娜娜", "John Smith", "a" * 20, "张San"],
    "phrase": ["配送中", "审核通过", "五个汉字啊"],
    "enum_string": ["anything at all 123 !!"],
    "unknownkind": ["x" * 500],
}
INVALID = {
    "thing": ["a" * 21, "line\nbreak", "tab\there"],
    "number": ["12a", "1.2.3", "1" * 33, "-1", "1,000"],
    "letter": ["abc1", "a b", "A" * 33, "中"],
    "symbol": ["!!!!!!", "a!", "1"],
    "character_string": ["中文", "x" * 33],
    "time": ["25:00", "15:60", "1501", "now", "15:01 ~ later"],
    "date": ["2019-13-01", "2019-12-32", "yesterday", "2019年13月1日",
             "12/25/2019"],
    "amount": ["¥", "¥12345678901", "abc", "¥¥10", "10 dollars"],
    "phone_number": ["+86-0766-6688886612", "call me", "---"],
    "car_number": ["粤A8Z888挂X", "A中B", "粤A-8Z88"],
    "name": ["欧阳娜娜娜娜娜娜娜娜娜", "a" * 21, "Agent 007", "张三3"],
    "phrase": ["配送中配送中", "ok", "审核 通过", "审核!"],
}


class TestValueRules(Base):
    def setUp(self):
        super().setUp()
        self.tok = stable()["access_token"]
        self.grant(n=1000)

    def test_valid(self):
        for typ, values in VALID.items():
            for v in values:
                with self.subTest(type=typ, value=v):
                    out = send(self.tok, msg(data={typ + "1": {"value": v}}))
                    self.assertErr(out, 0)

    def test_invalid(self):
        for typ, values in INVALID.items():
            for v in values:
                with self.subTest(type=typ, value=v):
                    key = typ + "3"
                    out = send(self.tok, msg(data={key: {"value": v}}))
                    self.assertErr(out, 47003)
                    self.assertIn("data.%s.value invalid" % key,
                                  out["errmsg"])

    def test_chars_not_bytes(self):
        self.assertErr(send(self.tok, msg(
            data={"thing1": {"value": "汉" * 20}})), 0)
        self.assertErr(send(self.tok, msg(
            data={"thing1": {"value": "汉" * 21}})), 47003)
        self.assertErr(send(self.tok, msg(
            data={"thing1": {"value": "😀" * 20}})), 0)


class TestFaults(Base):
    def setUp(self):
        super().setUp()
        self.tok = stable()["access_token"]

    def test_errcode(self):
        ctl("POST", "fault", {"endpoint": "send", "kind": "errcode",
                              "errcode": -1, "count": 2})
        self.assertEqual(send(self.tok, msg()),
                         {"errcode": -1, "errmsg": "injected"})
        self.assertErr(send(self.tok, msg()), -1)
        self.assertErr(send(self.tok, msg()), 43101)   # back to normal

    def test_errcode_on_token_endpoints(self):
        ctl("POST", "fault", {"endpoint": "token", "kind": "errcode",
                              "errcode": 45009})
        ctl("POST", "fault", {"endpoint": "stable_token", "kind": "errcode",
                              "errcode": 40164})
        ctl("POST", "fault", {"endpoint": "jscode2session",
                              "kind": "errcode", "errcode": 45011})
        self.assertEqual(token()["errcode"], 45009)
        self.assertEqual(stable()["errcode"], 40164)
        self.assertEqual(code2session("x")["errcode"], 45011)
        self.assertIn("access_token", token())
        self.assertIn("access_token", stable())
        self.assertEqual(code2session("x")["errcode"], 40029)

    def test_delay_other_threads_served(self):
        ctl("POST", "fault", {"endpoint": "token", "kind": "delay",
                              "delay_ms": 700})
        box = {}

        def slow():
            t0 = time.monotonic()
            box["out"] = token()
            box["t"] = time.monotonic() - t0

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        for _ in range(5):
            self.assertIn("access_token", stable())
        ctl("GET", "stats")
        quick = time.monotonic() - t0
        th.join()
        self.assertIn("access_token", box["out"])
        self.assertGreaterEqual(box["t"], 0.65)
        self.assertLess(quick, 0.4)

    def test_delay_with_errcode(self):
        ctl("POST", "fault", {"endpoint": "stable_token", "kind": "delay",
                              "delay_ms": 300, "errcode": -1})
        t0 = time.monotonic()
        out = stable()
        self.assertGreaterEqual(time.monotonic() - t0, 0.28)
        self.assertEqual(out, {"errcode": -1, "errmsg": "injected"})

    def test_drop(self):
        ctl("POST", "fault", {"endpoint": "send", "kind": "drop"})
        c = conn()
        with self.assertRaises((http.client.RemoteDisconnected,
                                ConnectionError)):
            send(self.tok, msg(), c=c)
        c.close()
        self.assertErr(send(self.tok, msg()), 43101)

    def test_http500(self):
        ctl("POST", "fault", {"endpoint": "send", "kind": "http500"})
        st, r, body = raw("POST", "/cgi-bin/message/subscribe/send"
                          "?access_token=" + self.tok, msg())
        self.assertEqual(st, 500)
        self.assertEqual(int(r.getheader("Content-Length")), len(body))
        with self.assertRaises(ValueError):
            json.loads(body)

    def test_garbage(self):
        ctl("POST", "fault", {"endpoint": "jscode2session",
                              "kind": "garbage"})
        st, r, body = raw("GET", "/sns/jscode2session?appid=%s&secret=%s"
                          "&js_code=x" % (APPID, SECRET))
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(body)

    def test_star_and_until_cleared(self):
        ctl("POST", "fault", {"endpoint": "*", "kind": "errcode",
                              "errcode": -1, "count": -1})
        for _ in range(3):
            self.assertErr(token(), -1)
            self.assertErr(stable(), -1)
            self.assertErr(send(self.tok, msg()), -1)
            self.assertErr(code2session("x"), -1)
        pend = ctl("GET", "fault")["faults"]
        self.assertEqual(pend["*"][0]["count"], -1)
        self.assertEqual(ctl("DELETE", "fault")["cleared"], 1)
        self.assertIn("access_token", token())
        self.assertEqual(ctl("GET", "fault")["faults"], {})

    def test_queue_order(self):
        ctl("POST", "fault", {"endpoint": "token", "kind": "errcode",
                              "errcode": 1})
        ctl("POST", "fault", {"endpoint": "token", "kind": "errcode",
                              "errcode": 2, "count": 2})
        self.assertEqual([token().get("errcode") for _ in range(4)],
                         [1, 2, 2, None])

    def test_counters_include_faults(self):
        ctl("POST", "fault", {"endpoint": "send", "kind": "drop"})
        ctl("POST", "fault", {"endpoint": "stable_token", "kind": "http500"})
        try:
            send(self.tok, msg())
        except (http.client.RemoteDisconnected, ConnectionError):
            pass
        raw("POST", "/cgi-bin/stable_token",
            {"grant_type": "client_credential", "appid": APPID,
             "secret": SECRET, "force_refresh": True})
        send(self.tok, msg())
        token()
        ctl("POST", "code", {"code": "c", "openid": OPENID})
        code2session("c")
        calls = ctl("GET", "stats")["calls"]
        self.assertEqual(calls, {"token": 1, "stable_token": 2,
                                 "stable_token_force": 1,
                                 "jscode2session": 1, "send": 2,
                                 "gettemplate": 0})

    def test_bad_fault_specs(self):
        for spec in ({"endpoint": "nope", "kind": "drop"},
                     {"endpoint": "send", "kind": "explode"},
                     {"endpoint": "send", "kind": "errcode"},
                     {"endpoint": "send", "kind": "delay"},
                     {"endpoint": "send", "kind": "drop", "count": 0},
                     {"endpoint": "send", "kind": "errcode",
                      "errcode": "x"}):
            with self.subTest(spec=spec):
                st, _, body = raw("POST", "/__control/fault", spec)
                self.assertEqual(st, 400, body)
                self.assertFalse(json.loads(body)["ok"])


class TestControlAndHttp(Base):
    def test_reset_keeps_cli_config(self):
        ctl("POST", "template", {"id": T1, "banned": True})
        ctl("POST", "template", {"id": "EXTRA"})
        self.grant()
        advance(5000)
        ctl("POST", "fault", {"endpoint": "*", "kind": "drop", "count": -1})
        ctl("POST", "reset")
        st = ctl("GET", "stats")
        self.assertEqual(st["clock_offset"], 0)
        self.assertEqual(st["faults_pending"], {})
        self.assertEqual(sum(st["calls"].values()), 0)
        self.assertEqual(st["sent"], [])
        self.assertIsNone(st["tokens"]["stable_current"])
        tpls = ctl("GET", "template")["templates"]
        self.assertEqual(set(tpls), {T1, T2, T3, LT})
        self.assertFalse(tpls[T1]["banned"])
        self.assertEqual(ctl("GET", "quota", query={
            "openid": OPENID, "template_id": T1})["count"], 0)

    def test_control_robustness(self):
        st, _, body = raw("POST", "/__control/quota", "{nope")
        self.assertEqual(st, 400)
        st, _, _ = raw("POST", "/__control/quota", "[]")
        self.assertEqual(st, 400)
        st, _, _ = raw("POST", "/__control/quota", {"openid": OPENID})
        self.assertEqual(st, 400)
        st, _, _ = raw("POST", "/__control/quota",
                       {"openid": OPENID, "template_id": T1, "count": "2"})
        self.assertEqual(st, 400)
        st, _, _ = raw("GET", "/__control/quota")
        self.assertEqual(st, 400)
        st, _, _ = raw("POST", "/__control/advance", {"seconds": -5})
        self.assertEqual(st, 400)
        st, _, _ = raw("POST", "/__control/code", {"code": "x"})
        self.assertEqual(st, 400)
        st, _, _ = raw("GET", "/__control/nothing")
        self.assertEqual(st, 404)
        st, r, _ = raw("GET", "/__control/reset")
        self.assertEqual(st, 405)
        self.assertEqual(r.getheader("Allow"), "POST")
        st, _, _ = raw("GET", "/nowhere")
        self.assertEqual(st, 404)
        self.assertEqual(ctl("GET", "ping"), {"ok": True})

    def test_keep_alive_and_chunked(self):
        c = conn()
        tok = stable()["access_token"]
        self.grant(n=301)
        for _ in range(300):
            out = send(tok, msg(), c=c)
            self.assertErr(out, 0)
        self.assertIsNotNone(c.sock)  # same connection all along
        # chunked request body
        c.putrequest("POST", "/cgi-bin/message/subscribe/send?access_token="
                     + tok)
        c.putheader("Transfer-Encoding", "chunked")
        c.putheader("Content-Type", "application/json")
        c.endheaders()
        data = json.dumps(msg(touser=OPENID2)).encode()
        for part in (data[:10], data[10:]):
            c.send(b"%x\r\n%s\r\n" % (len(part), part))
        c.send(b"0\r\n\r\n")
        out = json.loads(c.getresponse().read())
        self.assertErr(out, 43101)
        c.close()
        # Expect: 100-continue as libcurl sends it
        st, _, body = raw("POST", "/cgi-bin/message/subscribe/send"
                          "?access_token=" + tok, msg(),
                          headers={"Expect": "100-continue"})
        self.assertEqual(st, 200)
        self.assertEqual(ctl("GET", "stats")["sent_total"], 301)

    def test_log_has_no_secrets(self):
        ctl("POST", "code", {"code": "secret-code-value", "openid": OPENID})
        code2session("secret-code-value")
        tok = token()["access_token"]
        s = stable()["access_token"]
        send(tok, msg())
        send(s, msg())
        # a malformed request line is logged by http.server itself
        import socket
        with socket.create_connection(("127.0.0.1", PORT), 5) as so:
            so.sendall(("GET /cgi-bin/token?secret=%s&access_token=%s "
                        "HTTP/9.9\r\n\r\n" % (SECRET, tok)).encode())
            self.assertIn(b"Error", so.recv(4096))
        ERRLOG.flush()
        time.sleep(0.1)
        with open(ERRLOG.name, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn("/cgi-bin/message/subscribe/send", log)
        for needle in (SECRET, tok, s, "secret-code-value"):
            self.assertNotIn(needle, log)


if __name__ == "__main__":
    unittest.main()
