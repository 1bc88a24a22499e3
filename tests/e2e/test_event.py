"""/event: WeChat's message push (contract section 6), delivered by the
stand-in as WeChat delivers it (tests/standin/wechat_push.py): URL
verification, every event in every format and mode, the shapes of
wechat-next.md 1.5, replays and retries, stale and forged pushes, and the
effect on credits with both values of subscribe.source."""

import os
import socket
import sys
import time
from urllib.parse import urlencode

from harness import E2ECase, TPL1, TPL2, TPL_LONG, openid, http_request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "standin"))
import wechat_push  # noqa: E402

TOKEN = "e2ePushToken42"
AESKEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEXT_CT = "text/plain; charset=utf-8"
POPUP, CHANGE, SENT = ("subscribe_msg_popup_event",
                       "subscribe_msg_change_event",
                       "subscribe_msg_sent_event")


def popup(tpl, status="accept"):
    return {"TemplateId": tpl, "SubscribeStatusString": status,
            "PopupScene": 0}


def sent(tpl, msgid, errcode=0):
    return {"TemplateId": tpl, "MsgID": msgid, "ErrorCode": errcode,
            "ErrorStatus": "success" if errcode == 0 else "fail"}


class EventBase(E2ECase):
    KIND = "logic"
    CONFIG = {"push.token": TOKEN, "push.aesKey": AESKEY}

    def url(self):
        return "http://127.0.0.1:%d%s/event" % (self.env.http_port,
                                                 self.env.script)

    def push(self, event, oid, items, **kw):
        """The stand-in pushes; returns its report (query, body, tries)."""
        body = {"url": self.url(), "token": TOKEN, "aesKey": AESKEY,
                "event": event, "openid": oid, "items": items}
        body.update(kw)
        r = self.env.control("POST", "/__control/push", body)
        return r

    def assertSuccess(self, rep):
        last = rep["tries"][-1]
        self.assertEqual(last.get("status"), 200, rep)
        self.assertEqual(last.get("body"), "success", rep)

    def raw(self, query, body, ctype="text/xml", method="POST"):
        h = {"Content-Type": ctype} if ctype else {}
        return http_request(self.env.http_port, method,
                            "%s/event?%s" % (self.env.script, query),
                            body, h)

    def assertRefused(self, r, status=401, error="bad_signature"):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json and r.json.get("error"), error, r)

    def counts(self):
        h = self.env.redis("HGETALL", "WXSUB:metrics") or []
        return {h[i]: int(h[i + 1]) for i in range(0, len(h), 2)}

    def wait_count(self, field, want, timeout=15.0):
        """Poll the fleet's counter (each process adds its counts after
        an answer, at most once a second): poke every process until the
        field reaches want. At least: a process may still hold counts of
        the test before, taken after Redis was flushed."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.counts().get(field, 0)
            if got >= want or time.monotonic() > deadline:
                self.assertGreaterEqual(got, want, "%s in %r"
                                        % (field, self.counts()))
                return
            time.sleep(1.1)
            for sock in self.env.fastcgi_sockets():
                try:
                    self.env.fastcgi(sock, "GET", "/poke", timeout=5)
                except Exception:   # noqa: BLE001 - a gone process's socket
                    pass


class EventVerify(EventBase):

    def query(self, ts=None, token=TOKEN, echostr="1234567890abc"):
        ts = str(int(time.time()) if ts is None else ts)
        nonce = "98765"
        return urlencode({"signature": wechat_push.signature(token, ts, nonce),
                          "timestamp": ts, "nonce": nonce, "echostr": echostr})

    def test_get_echoes_echostr(self):
        r = self.raw(self.query(echostr="a+b/c=="), None, None, "GET")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-type"), TEXT_CT, r)
        self.assertEqual(r.body, b"a+b/c==", r)
        self.assertTrue(r.headers.get("x-request-id"), r)

    def test_get_refused(self):
        for q in (self.query(token="wrongToken1"),
                  self.query(ts=int(time.time()) - 400),
                  self.query(ts=int(time.time()) + 400),
                  "timestamp=1&nonce=2&echostr=3",
                  ""):
            r = self.raw(q, None, None, "GET")
            self.assertRefused(r)
            self.assertNotIn(b"1234567890abc", r.body)


class EventClientSource(EventBase):
    """subscribe.source = client (the default): the popup event is only
    counted; change events clear credits; sent events are counted."""

    def test_popup_counted_not_recorded(self):
        oid = openid("evclient")
        now = int(time.time())
        for i, fmt in enumerate(("xml", "json")):
            self.assertSuccess(self.push(POPUP, oid, [popup(TPL1)], format=fmt,
                                         createTime=now + i))
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.wait_count("p|popup|accept", 2)

    def test_change_reject_clears_credits(self):
        oid = openid("evchange")
        self.env.give_credit(oid, TPL1, 3, quota=False)
        self.env.give_credit(oid, TPL2, 2, quota=False)
        self.env.redis("SET", "SUBSCRIBE:%s:%s" % (TPL_LONG, oid), "1")
        rep = self.push(CHANGE, oid, [popup(TPL1, "reject"),
                                      popup(TPL_LONG, "reject")],
                        format="json", shape="wrapper-array")
        self.assertSuccess(rep)
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertIsNone(self.env.credit(oid, TPL_LONG))
        self.assertEqual(self.env.credit(oid, TPL2), 2)

    def test_sent_event_counted(self):
        oid = openid("evsent")
        self.assertSuccess(self.push(SENT, oid, [sent(TPL1, "1864323726461255680")],
                                     format="json", shape="wrapper"))
        self.assertSuccess(self.push(SENT, oid, [sent(TPL1, 42, 10605)],
                                     format="xml", mode="safe"))
        self.wait_count("p|sent|delivered", 1)
        self.wait_count("p|sent|failed", 1)

    def test_session_record_still_adds(self):
        oid = openid("evrecord")
        r = self.env.record(oid, TPL1)
        self.assertOk(r)
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_other_messages_answered(self):
        oid = openid("evother")
        rep = self.push("debug_demo", oid, [], format="json",
                        extra={"debug_str": "hello world"})
        self.assertSuccess(rep)
        rep = self.push(None, oid, [], format="xml", msgType="text",
                        extra={"Content": "hi", "MsgId": 1234567})
        self.assertSuccess(rep)
        self.assertEqual(self.env.redis("KEYS", "SUBSCRIBE:*"), [])


class EventEventsSource(EventBase):
    """subscribe.source = events: the popup's accepts are the credits."""
    CONFIG = dict(EventBase.CONFIG, **{"subscribe.source": "events"})

    def test_every_format_mode_and_shape(self):
        cases = []
        for mode in wechat_push.MODES:
            cases.append(dict(format="xml", mode=mode))
            for shape in wechat_push.SHAPES:
                for numbers in ("string", "number"):
                    cases.append(dict(format="json", mode=mode, shape=shape,
                                      numbers=numbers))
        cases.append(dict(format="xml", mode="safe", contentType=""))
        cases.append(dict(format="json", mode="plain", contentType=""))
        for i, kw in enumerate(cases):
            oid = openid("evshape", i)
            rep = self.push(POPUP, oid, [popup(TPL1), popup(TPL2, "reject")], **kw)
            self.assertSuccess(rep)
            self.assertEqual(self.env.credit(oid, TPL1), 1, kw)
            self.assertIsNone(self.env.credit(oid, TPL2), kw)
            # another push: the same user in the same second is the same push
            one = self.push(POPUP, oid, [popup(TPL2)],
                            createTime=int(time.time()) + 1, **kw)
            self.assertSuccess(one)
            self.assertEqual(self.env.credit(oid, TPL2), 1, kw)

    def test_long_term_marker_and_unknown_template(self):
        oid = openid("evlong")
        rep = self.push(POPUP, oid, [popup(TPL_LONG), popup("TPL_NOT_LISTED")],
                        format="json", mode="safe")
        self.assertSuccess(rep)
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s" % (TPL_LONG, oid)), "1")
        self.assertEqual(self.env.redis("KEYS", "SUBSCRIBE:TPL_NOT_LISTED:*"), [])

    def test_replay_applied_once(self):
        oid = openid("evreplay")
        rep = self.push(POPUP, oid, [popup(TPL1)], format="xml", mode="safe")
        self.assertSuccess(rep)
        for _ in range(3):
            r = self.raw(rep["query"], rep["body"].encode(), rep["contentType"])
            self.assertEqual((r.status, r.body), (200, b"success"), r)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        # a later popup of the same user is another push
        rep = self.push(POPUP, oid, [popup(TPL1)], format="xml", mode="safe",
                        createTime=int(time.time()) + 1)
        self.assertSuccess(rep)
        self.assertEqual(self.env.credit(oid, TPL1), 2)
        self.wait_count("p|popup|duplicate", 3)

    def test_plain_signature_carries_one_message(self):
        """A plain signature does not cover the body: another body under a
        signature already used is refused; the same body is a retry."""
        oid, other = openid("evsig"), openid("evsig", 1)
        for fmt in ("xml", "json"):
            rep = self.push(POPUP, oid, [popup(TPL1)], format=fmt,
                            createTime=int(time.time()) + (fmt == "json"))
            self.assertSuccess(rep)
            forged = self.push(POPUP, other, [popup(TPL1)], format=fmt,
                               deliver=False)
            r = self.raw(rep["query"], forged["body"].encode(), rep["contentType"])
            self.assertRefused(r)
            q = rep["query"].replace("signature=", "signature=X", 1)
            sig = q.split("signature=X", 1)[1][:40]
            q = q.replace("X" + sig, sig.upper(), 1)
            self.assertRefused(self.raw(q, forged["body"].encode(),
                                        rep["contentType"]))
            r = self.raw(rep["query"], rep["body"].encode(), rep["contentType"])
            self.assertEqual((r.status, r.body), (200, b"success"), r)
        self.assertEqual(self.env.credit(oid, TPL1), 2)
        self.assertIsNone(self.env.credit(other, TPL1))

    def test_retried_when_not_answered_in_time(self):
        oid = openid("evretry")
        # a server that never answers: the stand-in tries three times
        hole = socket.socket()
        try:
            hole.bind(("127.0.0.1", 0))
            hole.listen(8)
            url = "http://127.0.0.1:%d/event" % hole.getsockname()[1]
            rep = self.push(POPUP, oid, [popup(TPL1)], format="json",
                            mode="safe", timeoutMs=200, url=url)
        finally:
            hole.close()
        self.assertEqual([t.get("error") for t in rep["tries"]],
                         ["TimeoutError"] * 3, rep)
        # the same push three times at wxsub: applied once
        for _ in range(3):
            r = self.raw(rep["query"], rep["body"].encode(), rep["contentType"])
            self.assertEqual((r.status, r.body), (200, b"success"), r)
        self.assertEqual(self.env.credit(oid, TPL1), 1)

    def test_session_record_reads_only(self):
        oid = openid("evsess")
        self.env.control("POST", "/__control/code", {"code": "c-evsess", "openid": oid})
        r = self.env.post("/login", {"code": "c-evsess"}, auth=False)
        session = self.assertOk(r)["session"]
        self.env.add_secret("a session token", session)
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertEqual(self.assertOk(r)["credits"], {TPL1: 0})
        self.assertIsNone(self.env.credit(oid, TPL1))
        self.assertSuccess(self.push(POPUP, oid, [popup(TPL1)]))
        r = self.env.post("/record", {"templateId": TPL1}, auth=session)
        self.assertEqual(self.assertOk(r)["credits"], {TPL1: 1})
        # a back end's api-key /record still adds
        r = self.env.record(oid, TPL1)
        self.assertEqual(self.assertOk(r)["credits"], {TPL1: 2})

    def test_forged_stale_and_foreign_change_nothing(self):
        oid = openid("evforged")
        before = self.env.snapshot()
        now = int(time.time())
        forged = [
            dict(token="notTheToken1"),
            dict(timestamp=now - 400),
            dict(timestamp=now + 400),
            dict(mode="safe", appid="wx0000000000000000"),
            dict(mode="compatible", appid="wx0000000000000000", format="json"),
        ]
        for kw in forged:
            rep = self.push(POPUP, oid, [popup(TPL1)], **kw)
            last = rep["tries"][-1]
            self.assertEqual(last.get("status"), 401, (kw, rep))
            self.assertIn("bad_signature", last.get("body", ""), (kw, rep))
        # a signed query with a body it did not sign (safe mode)
        good = self.push(POPUP, oid, [popup(TPL1)], mode="safe", deliver=False)
        other = self.push(POPUP, oid, [popup(TPL2)], mode="safe", deliver=False)
        r = self.raw(good["query"], other["body"].encode())
        self.assertRefused(r)
        # plain pushes without a signature; encrypted ones without msg_signature
        plain = self.push(POPUP, oid, [popup(TPL1)], deliver=False)
        q = "&".join(p for p in plain["query"].split("&")
                     if not p.startswith("signature="))
        self.assertRefused(self.raw(q, plain["body"].encode()))
        q = "&".join(p for p in good["query"].split("&")
                     if not p.startswith("msg_signature="))
        self.assertRefused(self.raw(q, good["body"].encode()))
        # entities are refused even when signed
        bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><FromUserName>&b;'
                '</FromUserName></xml>')
        r = self.raw(plain["query"], bomb.encode())
        self.assertRefused(r, 400, "bad_request")
        self.assertEqual(self.env.snapshot(), before)


class EventDisabled(EventBase):
    CONFIG = {"push.token": None, "push.aesKey": None}

    def test_no_token_no_route(self):
        r = self.raw("signature=x&timestamp=1&nonce=2&echostr=3", None, None, "GET")
        self.assertRefused(r, 404, "not_found")
        r = self.raw("signature=x&timestamp=1&nonce=2", b"<xml/>")
        self.assertRefused(r, 404, "not_found")


from test_outbox import OutboxCase  # noqa: E402


class EventOutbox(EventBase, OutboxCase):
    """Sent events settle the outbox's messages (contract section 5)."""
    CONFIG = dict(OutboxCase.CONFIG, **EventBase.CONFIG)

    def test_sent_event_delivers_or_fails_the_message(self):
        for i, (errcode, status) in enumerate(((0, "delivered"),
                                               (10605, "failed"))):
            oid = openid("evob", i)
            mid = self.enqueue(oid)
            rc, _, err = self.wxsub("worker", "--once")
            self.assertEqual(rc, 0, err)
            m = self.message(mid)
            self.assertEqual(m["status"], "sent", m)
            self.assertSuccess(self.push(SENT, oid, [sent(TPL1, m["msgid"], errcode)],
                                         format="json", shape="wrapper"))
            m = self.message(mid)
            self.assertEqual(m["status"], status, m)
            if errcode:
                self.assertEqual(m.get("errcode"), errcode, m)

    def test_sent_event_settles_an_unknown(self):
        oid = openid("evobunknown")
        self.env.fault("send", "drop")
        mid = self.enqueue(oid)
        self.wxsub("worker", "--once")
        self.assertEqual(self.message(mid)["status"], "unknown")
        # WeChat's msgid never reached us: the event settles by user and template
        self.assertSuccess(self.push(SENT, oid, [sent(TPL1, "1234567890123")],
                                     format="xml", mode="safe"))
        self.assertEqual(self.message(mid)["status"], "delivered")

    def test_standin_pushes_sent_events_by_itself(self):
        """As WeChat does: after a send it accepted, the stand-in pushes
        the sent event (push-config); the worker's message ends
        delivered, or failed with the event's ErrorCode."""
        for i, (code, status) in enumerate(((0, "delivered"), (10605, "failed"))):
            self.env.control("POST", "/__control/push-config", {
                "url": self.url(), "token": TOKEN, "aesKey": AESKEY,
                "mode": "safe", "format": "xml", "errorCode": code})
            oid = openid("evobauto", i)
            mid = self.enqueue(oid)
            rc, _, err = self.wxsub("worker", "--once")
            self.assertEqual(rc, 0, err)
            m = self.wait_status(mid, status)
            self.assertEqual(m["status"], status, m)


from test_apps import AppsEnv, CLINIC_APPID  # noqa: E402


class PushAppsEnv(AppsEnv):
    """Two apps, each with its own push token (and the same aesKey)."""

    def app_configs(self):
        cfgs = super().app_configs()
        for name, cfg in cfgs.items():
            cfg.update({"push.token": name + "PushToken1", "push.aesKey": AESKEY,
                        "subscribe.source": "events"})
        return cfgs


class EventApps(E2ECase):
    """api.md section 8: each app's push URL is /<app>/event, with its
    own token and appid; its credits carry its appid."""
    WORLD = "own"
    ENV = PushAppsEnv

    def push_to(self, app, token, appid, oid):
        return self.env.control("POST", "/__control/push", {
            "url": "http://127.0.0.1:%d%s/%s/event" % (
                self.env.http_port, self.env.script, app),
            "token": token, "aesKey": AESKEY, "appid": appid, "mode": "safe",
            "format": "json", "event": POPUP, "openid": oid,
            "items": [popup(TPL1)]})["tries"][-1]

    def test_each_app_its_own_push(self):
        shop_appid = self.env.appid
        oid = openid("evapps")
        last = self.push_to("shop", "shopPushToken1", shop_appid, oid)
        self.assertEqual((last.get("status"), last.get("body")), (200, "success"))
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s:%s" % (
            shop_appid, TPL1, oid)), "1")
        # the shop's push at the clinic's URL; the clinic's token sealed
        # for the shop's appid
        for app, token, appid in (("clinic", "shopPushToken1", shop_appid),
                                  ("clinic", "clinicPushToken1", shop_appid)):
            last = self.push_to(app, token, appid, oid)
            self.assertEqual(last.get("status"), 401, last)
        self.assertIsNone(self.env.redis("GET", "SUBSCRIBE:%s:%s:%s" % (
            CLINIC_APPID, TPL1, oid)))
        last = self.push_to("clinic", "clinicPushToken1", CLINIC_APPID, oid)
        self.assertEqual(last.get("status"), 200, last)
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s:%s" % (
            CLINIC_APPID, TPL1, oid)), "1")
