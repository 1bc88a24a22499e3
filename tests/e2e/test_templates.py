"""Templates as WeChat has them (contract section 7): `wxsub templates
sync` and `wxsub templates`, GET /templates, /send checked against the
template (422 naming the key, no call to WeChat), the type from the list,
wechat.templateIds = *, and the fleet's refresh: one call to WeChat
however many processes notice."""

import subprocess
import time

from harness import (E2ECase, TPL1, TPL2, TPL3, TPL_LONG, openid, parallel,
                     wait_until)
from test_cli import admin_path

CONTENT1 = "事项:{{thing1.DATA}}\n状态：{{phrase2.DATA}}\n时间:{{time3.DATA}}\n"
ENUMS1 = [{"keywordCode": "{{phrase2.DATA}}",
           "enumValueList": ["待处理", "已完成"]}]


class TemplatesCase(E2ECase):
    KIND = "logic"
    WORLD = "own"       # its processes keep the template list they read

    def wxsub(self, *args):
        p = subprocess.run([admin_path(), "-c", self.env.conf_path] + list(args),
                           capture_output=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin"},
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def list_at_wechat(self):
        c = self.env.control
        c("POST", "/__control/template", {"id": TPL1, "title": "工单提醒",
                                          "content": CONTENT1, "enums": ENUMS1})
        c("POST", "/__control/template", {"id": TPL2, "title": "长期提醒",
                                          "type": "long-term",
                                          "content": "内容:{{thing1.DATA}}\n"})
        c("POST", "/__control/template", {
            "id": TPL3, "title": "T3", "content": "{{character_string1.DATA}}",
            "enums": [{"keywordCode": "enum_string9", "enumValueList": ["x"]}]})

    def sync(self):
        """Sync, then fresh FastCGI processes, which read the list at once
        (a running process reads it again within TPL_RELOAD_S)."""
        rc, out, err = self.wxsub("templates", "sync")
        self.assertEqual(rc, 0, err)
        self.env.restart_server()
        return out


class Templates(TemplatesCase):

    def test_sync_list_and_route(self):
        self.list_at_wechat()
        out = self.sync()
        self.assertIn("3 template(s)", out)
        self.assertEqual(self.env.stats()["calls"]["gettemplate"], 1)
        r = self.env.get("/templates")
        j = self.assertOk(r)
        self.assertIsInstance(j["fetchedAt"], int)
        by = {t["id"]: t for t in j["templates"]}
        self.assertEqual(set(by), {TPL1, TPL2, TPL3})
        self.assertEqual(by[TPL1], {
            "id": TPL1, "title": "工单提醒", "type": "one-time", "keywords": [
                {"key": "thing1", "name": "事项"},
                {"key": "phrase2", "name": "状态", "enum": ["待处理", "已完成"]},
                {"key": "time3", "name": "时间"}]})
        self.assertEqual(by[TPL2]["type"], "long-term")
        self.assertEqual(by[TPL3]["keywords"], [{"key": "character_string1",
                                                 "name": ""}])
        rc, out, _ = self.wxsub("templates")
        self.assertEqual(rc, 0)
        self.assertIn(TPL1 + "\tone-time\tthing1,phrase2(enum),time3\t工单提醒", out)
        # the api key is needed
        r = self.env.get("/templates", auth=False)
        self.assertError(r, 401, "unauthorized")

    def test_no_list(self):
        rc, _, err = self.wxsub("templates")
        self.assertEqual(rc, 1)
        self.assertIn("templates sync", err)
        self.assertEqual(self.assertOk(self.env.get("/templates"))["templates"], [])
        self.env.control("POST", "/__control/fault",
                         {"endpoint": "gettemplate", "kind": "errcode",
                          "errcode": 45009})
        rc, _, err = self.wxsub("templates", "sync")
        self.assertEqual(rc, 5, err)
        self.assertIn("45009", err)

    def test_send_checked_against_the_template(self):
        self.list_at_wechat()
        self.sync()
        oid = openid("tplsend")
        self.env.give_credit(oid, TPL1, 1)
        good = {"thing1": "水管维修", "phrase2": "待处理", "time3": "2026-12-04 10:30"}
        for data, key in (
                (dict(good, thing9="x"), "thing9"),          # not in it
                ({"thing1": "a", "phrase2": "待处理"}, "time3"),  # left out
                (dict(good, phrase2="处理中"), "phrase2")):     # outside enum
            r = self.env.send(oid, TPL1, data)
            self.assertError(r, 422, "invalid_data", msg_has="data." + key)
            r = self.env.post("/send", {"openId": oid, "templateId": TPL1,
                                        "data": data, "async": True})
            self.assertError(r, 422, "invalid_data", msg_has="data." + key)
        self.assertEqual(self.env.stats()["calls"]["send"], 0)
        self.assertEqual(self.env.credit(oid, TPL1), 1)
        self.assertOk(self.env.send(oid, TPL1, good))
        self.assertFalse(self.env.credit(oid, TPL1))

    def test_type_comes_from_the_list(self):
        self.list_at_wechat()
        self.sync()
        oid = openid("tpltype")
        # TPL2 is one-time in wechat.* but long-term at WeChat: a marker
        r = self.env.record(oid, [TPL2])
        self.assertEqual(self.assertOk(r)["credits"], {TPL2: 1})
        self.env.quota(oid, TPL2, 1)
        self.assertOk(self.env.send(oid, TPL2, {"thing1": "a"}))
        self.assertOk(self.env.send(oid, TPL2, {"thing1": "b"}))
        self.assertEqual(self.env.redis("GET", "SUBSCRIBE:%s:%s" % (TPL2, oid)), "1")

    def test_refresh_once_for_the_fleet(self):
        self.list_at_wechat()
        self.sync()
        self.assertEqual(self.env.stats()["calls"]["gettemplate"], 1)
        # the list is due again: every process notices, one asks WeChat
        self.env.control("POST", "/__control/template",
                         {"id": TPL1, "content": "{{thing1.DATA}}"})
        self.env.redis("DEL", "WXSUB:templates:fresh")
        self.env.restart_server()
        parallel(lambda _: self.env.get("/health"), list(range(40)), workers=20)
        for sock in self.env.fastcgi_sockets():
            try:
                self.env.fastcgi(sock, "GET", "/poke", timeout=5)
            except Exception:   # noqa: BLE001 - a gone process's socket
                pass
        wait_until(lambda: self.env.stats()["calls"]["gettemplate"] >= 2, 20,
                   what="the refresh")
        self.assertEqual(self.env.stats()["calls"]["gettemplate"], 2)
        self.assertGreater(self.env.redis("TTL", "WXSUB:templates:fresh"), 0)
        j = self.assertOk(self.env.get("/templates"))
        by = {t["id"]: t for t in j["templates"]}
        self.assertEqual(by[TPL1]["keywords"], [{"key": "thing1", "name": ""}])


class TemplatesStar(TemplatesCase):
    CONFIG = {"wechat.templateIds": "*", "wechat.templateId": None,
              "wechat.longTermTemplateIds": TPL_LONG}

    def test_star_accepts_every_listed_template(self):
        oid = openid("tplstar")
        # no list yet: only what wechat.* names
        self.assertError(self.env.record(oid, [TPL3]), 400, "unknown_template")
        self.assertOk(self.env.record(oid, [TPL_LONG]))
        self.list_at_wechat()
        self.sync()
        r = self.env.record(oid, [TPL1, TPL3])
        self.assertEqual(self.assertOk(r)["credits"], {TPL1: 1, TPL3: 1})
        self.assertError(self.env.record(oid, ["TPL_NOT_LISTED_AT_ALL"]), 400,
                         "unknown_template")
        # GET /subscriptions covers the listed templates too
        r = self.env.get("/subscriptions?openId=" + oid)
        self.assertEqual(self.assertOk(r)["credits"],
                         {TPL_LONG: 1, TPL1: 1, TPL2: 0, TPL3: 1})
        r = self.env.get("/subscriptions?openId=%s&templateId=%s" % (oid, TPL3))
        self.assertEqual(self.assertOk(r)["credits"], {TPL3: 1})
