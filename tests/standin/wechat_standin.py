#!/usr/bin/env python3
"""Local stand-in of the WeChat Mini Program server API.

Used by wxsub's end-to-end tests, the demo and the benchmark. It reproduces
the behaviour described in shared/spec/wechat.md (sections 1-6 and 8):

  GET  /cgi-bin/token                   classic access_token, 300 s overlap
  POST /cgi-bin/stable_token            stable token, rotation, force_refresh
  GET  /sns/jscode2session              single-use wx.login codes (300 s)
  POST /cgi-bin/message/subscribe/send  subscribe message, quota, 43108, ...

and adds a control API under /__control/ (not part of WeChat) to set up
quotas, codes, templates, faults, token revocation and a movable clock.
See docs/standin.md for the full reference.

Python 3.11 standard library only. State lives in memory behind one lock;
no request holds the lock while it sleeps (delay faults), so other clients
keep being served.
"""

import argparse
import base64
import json
import os
import random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import unicodedata
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
import http.client

import wechat_push

DEFAULT_APPID = "wxstandin00000001"
DEFAULT_SECRET = "standin-secret-0001"
DEFAULT_TEMPLATES = "TPL_ONE_TIME_0001,TPL_ONE_TIME_0002,TPL_ONE_TIME_0003"
DEFAULT_LONGTERM = "TPL_LONG_TERM_0001"
DEFAULT_PAGES = ("", "index", "pages/index/index", "pages/detail/detail")

OVERLAP_S = 300          # old token keeps working this long / stable rotates
CODE_LIFE_S = 300        # a wx.login code lives 5 minutes
FORCE_WINDOW_S = 30      # forced refreshes closer than this do not refresh
FORCE_PER_DAY = 20       # force_refresh=true calls allowed per stand-in day
DAY_S = 86400
MAX_BODY = 10 * 1024 * 1024
MAX_TOKENS_BEFORE_PRUNE = 20000

ENDPOINTS = ("token", "stable_token", "jscode2session", "send", "gettemplate")
FAULT_KINDS = ("errcode", "delay", "drop", "http500", "garbage")
STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")

OPENID_RE = re.compile(r"[A-Za-z0-9_-]{28}\Z")
REDACT_RE = re.compile(r"(access_token|secret|js_code)=[^&\s'\"]*")
JSON_CT = "application/json; charset=utf-8"

# WeChat paths -> endpoint name used by calls/faults, and allowed methods.
WECHAT_PATHS = {
    "/cgi-bin/token": ("token", ("GET", "POST")),
    "/cgi-bin/stable_token": ("stable_token", ("POST",)),
    "/sns/jscode2session": ("jscode2session", ("GET", "POST")),
    "/cgi-bin/message/subscribe/send": ("send", ("POST",)),
    "/wxaapi/newtmpl/gettemplate": ("gettemplate", ("GET",)),
}


# ---------------------------------------------------------------------------
# Template data value rules (wechat.md section 5). Characters are counted as
# code points, never bytes.

def _is_han(ch):
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF
            or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2EBEF
            or 0x2F800 <= o <= 0x2FA1F or 0x30000 <= o <= 0x3134F
            or o == 0x3007)


def char_class(ch):
    """'d' ASCII digit, 'l' letter, 'h' Chinese (Han), 'x' control or line
    break (never allowed), 's' anything else (a symbol: punctuation, space,
    currency, emoji, full-width forms...)."""
    if "0" <= ch <= "9":
        return "d"
    if ch < "\x80":
        if ch.isalpha():
            return "l"
        if ch < " " or ch == "\x7f":
            return "x"
        return "s"
    if _is_han(ch):
        return "h"
    cat = unicodedata.category(ch)
    if cat[0] == "C" or cat in ("Zl", "Zp"):
        return "x"
    if cat[0] == "L":
        return "l"
    return "s"


def _only(value, allowed):
    return all(char_class(c) in allowed for c in value)


_Y = r"\d{4}"
_M = r"(?:0?[1-9]|1[0-2])"
_D = r"(?:0?[1-9]|[12]\d|3[01])"
_DATE = "|".join([
    f"{_Y}年{_M}月(?:{_D}日)?", f"{_M}月{_D}日",
    f"{_Y}-{_M}-{_D}", f"{_Y}/{_M}/{_D}", rf"{_Y}\.{_M}\.{_D}",
    f"{_Y}-{_M}", f"{_Y}/{_M}", rf"{_Y}\.{_M}",
    f"{_M}-{_D}", f"{_M}/{_D}", rf"{_M}\.{_D}",
])
_DATE = f"(?:{_DATE})"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_V = f"(?:{_DATE}\\s*)?{_TIME}"
_DATE_V = f"{_DATE}(?:\\s*{_TIME})?"
TIME_RE = re.compile(f"{_TIME_V}(?:\\s*~\\s*{_TIME_V})?\\Z", re.ASCII)
DATE_RE = re.compile(f"{_DATE_V}(?:\\s*~\\s*(?:{_DATE_V}|{_TIME}))?\\Z",
                     re.ASCII)
NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
AMOUNT_RE = re.compile(r"[0-9]{1,10}(?:\.[0-9]+)?\Z")


def _v_thing(v):
    return len(v) <= 20


def _v_number(v):
    return len(v) <= 32 and NUMBER_RE.match(v) is not None


def _v_letter(v):
    return len(v) <= 32 and _only(v, "l")


def _v_symbol(v):
    return len(v) <= 5 and _only(v, "s")


def _v_character_string(v):
    return len(v) <= 32 and _only(v, "dls")


def _v_time(v):
    return len(v) <= 64 and TIME_RE.match(v) is not None


def _v_date(v):
    return len(v) <= 64 and DATE_RE.match(v) is not None


def _v_amount(v):
    # one optional currency symbol (e.g. ¥ $ ￥), <=10 integer digits,
    # optional decimals, optional trailing 元
    if len(v) > 32:
        return False
    if v.endswith("元"):
        v = v[:-1]
    if v and char_class(v[0]) == "s" and v[0] not in ".+-":
        v = v[1:]
    return AMOUNT_RE.match(v) is not None


def _v_phone_number(v):
    return len(v) <= 17 and _only(v, "ds") and any("0" <= c <= "9" for c in v)


def _v_car_number(v):
    if len(v) > 8:
        return False
    for i, c in enumerate(v):
        k = char_class(c)
        if k == "d" or (k == "l" and c < "\x80"):
            continue
        if k == "h" and (i == 0 or i == len(v) - 1):
            continue
        return False
    return True


def _v_name(v):
    if any(char_class(c) == "h" for c in v):
        return len(v) <= 10 and _only(v, "hls")
    return len(v) <= 20 and _only(v, "ls")


def _v_phrase(v):
    return len(v) <= 5 and _only(v, "h")


TYPE_RULES = {
    "thing": _v_thing, "number": _v_number, "letter": _v_letter,
    "symbol": _v_symbol, "character_string": _v_character_string,
    "time": _v_time, "date": _v_date, "amount": _v_amount,
    "phone_number": _v_phone_number, "car_number": _v_car_number,
    "name": _v_name, "phrase": _v_phrase,
}
def key_type(key):
    """'thing1' -> 'thing', 'character_string12' -> 'character_string'."""
    return key.rstrip("0123456789")


def check_value(key, value):
    """True if a (non-empty) string value obeys its key's type rule.
    Unknown types pass; control characters and line breaks never do for a
    known type."""
    rule = TYPE_RULES.get(key_type(key))
    if rule is None:
        return True
    if any(char_class(c) == "x" for c in value):
        return False
    return rule(value)


# ---------------------------------------------------------------------------
# State

class Token:
    __slots__ = ("value", "kind", "issued", "expires", "dies", "revoked")

    def __init__(self, value, kind, issued, expires):
        self.value = value
        self.kind = kind          # "classic" | "stable"
        self.issued = issued
        self.expires = expires    # stand-in clock time of natural expiry
        self.dies = None          # end of overlap once superseded (classic)
        self.revoked = False      # 40001 on send


class Config:
    def __init__(self, args):
        self.appid = args.appid
        self.secret = args.secret
        self.token_ttl = args.token_ttl
        self.one_time = [t for t in args.templates.split(",") if t]
        self.long_term = [t for t in args.longterm_templates.split(",") if t]
        self.pages = (list(DEFAULT_PAGES) if args.pages is None
                      else [p for p in args.pages.split(",")])
        self.max_sent = args.max_sent
        self.quiet = args.quiet


class State:
    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.rng = random.SystemRandom()
        self.reset()

    # Called with or without the lock (reset is atomic enough: assigning
    # attributes; the control handler holds the lock).
    def reset(self):
        cfg = self.cfg
        self.offset = 0.0
        self.base = time.monotonic()
        self.tokens = {}
        self.classic_current = None
        self.stable_current = None
        self.stable_stuck = False
        self.last_force_refresh = None
        self.force_day = None
        self.force_count = 0
        self.quota = {}
        self.codes = {}
        self.faults = {ep: [] for ep in ENDPOINTS + ("*",)}
        self.calls = {"token": 0, "stable_token": 0, "stable_token_force": 0,
                      "jscode2session": 0, "send": 0, "gettemplate": 0}
        self.sent = deque(maxlen=cfg.max_sent if cfg.max_sent > 0 else None)
        self.sent_total = 0
        self.sent_per_user = {}    # touser -> sends counted, never trimmed
        self.inflight = set()
        self.templates = {}
        for t in cfg.one_time:
            self.templates[t] = {"type": "one-time", "banned": False}
        for t in cfg.long_term:
            self.templates[t] = {"type": "long-term", "banned": False}
        self.pages = set(cfg.pages)
        self.push_config = None     # /__control/push-config: sent events

    def now(self):
        return time.monotonic() + self.offset

    def day(self, now):
        return int((now - self.base) // DAY_S)

    def new_token(self, kind, now):
        if len(self.tokens) > MAX_TOKENS_BEFORE_PRUNE:
            self._prune(now)
        value = secrets.token_urlsafe(96)  # 128 url-safe characters
        tok = Token(value, kind, now, now + self.cfg.token_ttl)
        self.tokens[value] = tok
        return tok

    def _prune(self, now):
        dead = [v for v, t in self.tokens.items()
                if t.revoked or now >= t.expires
                or (t.dies is not None and now >= t.dies)]
        for v in dead:
            if (self.classic_current is not None
                    and self.classic_current.value == v):
                continue
            if (self.stable_current is not None
                    and self.stable_current.value == v):
                continue
            del self.tokens[v]

    def take_fault(self, endpoint):
        """Consume one pending fault for the endpoint (its own queue first,
        then '*'). Returns a dict copy or None. Call with the lock held."""
        for key in (endpoint, "*"):
            q = self.faults[key]
            if q:
                f = q[0]
                if f["count"] > 0:
                    f["count"] -= 1
                    if f["count"] == 0:
                        q.pop(0)
                return dict(f)
        return None


def check_push_spec(obj):
    """The fields a push needs, checked (ControlError 400 if not)."""
    _str_field(obj, "url")
    _str_field(obj, "token")
    if obj.get("format", "xml") not in wechat_push.FORMATS or \
            obj.get("mode", "plain") not in wechat_push.MODES or \
            obj.get("shape", "auto") not in wechat_push.SHAPES or \
            obj.get("numbers", "string") not in ("string", "number"):
        raise ControlError(400, "format, mode, shape or numbers unknown")
    aes_key = obj.get("aesKey")
    mode = obj.get("mode", "plain")
    if mode != "plain" and (not isinstance(aes_key, str)
                            or len(aes_key) != 43):
        raise ControlError(400, "aesKey (43 characters) is required in "
                           "%s mode" % mode)


def deliver_push(obj, appid):
    """Build the push obj describes and POST it to obj["url"] as WeChat
    does: the same request again when no answer came in time, up to
    obj["tries"] (3) tries. Returns what was sent and each try's end."""
    fmt = obj.get("format", "xml")
    msg = wechat_push.message(
        fmt, obj.get("event"), obj["openid"], obj.get("items", []),
        create_time=obj.get("createTime"), shape=obj.get("shape", "auto"),
        numbers=obj.get("numbers", "string"),
        msg_type=obj.get("msgType", "event"), extra=obj.get("extra"))
    query, body, ctype = wechat_push.build(
        obj["token"], msg, fmt, obj.get("mode", "plain"), obj.get("aesKey"),
        obj.get("appid", appid), timestamp=obj.get("timestamp"))
    if "contentType" in obj:
        ctype = obj["contentType"]
    out = {"query": query, "body": body.decode("utf-8"),
           "contentType": ctype, "message": msg, "tries": []}
    if obj.get("deliver", True) is False:
        return out
    u = urlsplit(obj["url"])
    path = u.path + "?" + (u.query + "&" if u.query else "") + query
    timeout = obj.get("timeoutMs", 5000) / 1000.0
    for _ in range(obj.get("tries", 3)):
        conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                          timeout=timeout)
        try:
            headers = {"Content-Length": str(len(body))}
            if ctype:
                headers["Content-Type"] = ctype
            conn.request("POST", path, body, headers)
            r = conn.getresponse()
            out["tries"].append({"status": r.status, "body":
                                 r.read().decode("utf-8", "replace")})
            break
        except (OSError, http.client.HTTPException) as e:
            # no answer in time: WeChat sends the same push again
            out["tries"].append({"error": type(e).__name__})
        finally:
            conn.close()
    return out


def _push_later(spec, appid):
    time.sleep(spec.get("delayMs", 0) / 1000.0)
    try:
        deliver_push(spec, appid)
    except Exception:   # noqa: BLE001 - a push is best effort, as WeChat's
        sys.stderr.write("standin: sent-event push failed\n%s"
                         % traceback.format_exc())


def rid():
    return "%08x-%08x-%08x" % (int(time.time()) & 0xFFFFFFFF,
                               random.getrandbits(32), random.getrandbits(32))


def wxerr(code, msg):
    return {"errcode": code, "errmsg": "%s rid: %s" % (msg, rid())}


def json_object_body(body):
    """The body as a JSON object, or None (WeChat then answers 47001)."""
    try:
        o = json.loads(body)
    except ValueError:
        return None
    return o if isinstance(o, dict) else None


def first(q, name):
    v = q.get(name)
    return v[0] if v else None


def check_creds(cfg, grant_expected, grant, appid, secret):
    """Common credential checks of the token endpoints; None when fine."""
    if grant_expected is not None and grant != grant_expected:
        return wxerr(40002, "invalid grant_type")
    if not appid:
        return wxerr(41002, "appid missing")
    if appid != cfg.appid:
        return wxerr(40013, "invalid appid")
    if not secret:
        return wxerr(41004, "appsecret missing")
    if not secrets.compare_digest(secret.encode(), cfg.secret.encode()):
        return wxerr(40125, "invalid appsecret")
    return None


class ControlError(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status
        self.msg = msg


def _int_field(obj, name, default=None, minimum=None):
    v = obj.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ControlError(400, "%s must be a number" % name)
    if isinstance(v, float):
        if v != int(v):
            raise ControlError(400, "%s must be an integer" % name)
        v = int(v)
    if minimum is not None and v < minimum:
        raise ControlError(400, "%s must be >= %d" % (name, minimum))
    return v


def _str_field(obj, name, required=True):
    v = obj.get(name)
    if v is None:
        if required:
            raise ControlError(400, "%s is required" % name)
        return None
    if not isinstance(v, str) or (required and v == ""):
        raise ControlError(400, "%s must be a non-empty string" % name)
    return v


# ---------------------------------------------------------------------------
# HTTP

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large",
           500: "Internal Server Error"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wechat-standin"
    timeout = 300  # idle keep-alive connections are closed after this

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):  # only for http.server's own errors
        if not self.server.state.cfg.quiet:
            # these messages may quote the request line: hide credentials
            text = REDACT_RE.sub(r"\1=***", fmt % args)
            sys.stderr.write("standin: %s\n" % text)

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    # -- plumbing ----------------------------------------------------------

    def _send_raw(self, status, body, ctype, extra=""):
        conn = ""
        if self.close_connection:
            conn = "Connection: close\r\n"
        elif self.request_version == "HTTP/1.0":
            conn = "Connection: keep-alive\r\n"
        head = ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "%s%s\r\n" % (status, REASONS.get(status, "Error"), ctype,
                              len(body), conn, extra))
        self.wfile.write(head.encode("latin-1") + body)
        self._status = status

    def _send_json(self, obj, status=200, extra=""):
        body = json.dumps(obj, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        if isinstance(obj, dict):
            self._errcode = obj.get("errcode")
        self._send_raw(status, body, JSON_CT, extra)

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        cl = self.headers.get("Content-Length")
        if not cl:
            return b""
        try:
            n = int(cl)
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def _handle(self):
        t0 = time.perf_counter()
        self._status = None
        self._errcode = None
        self._note = ""
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
            if body is None:
                self.close_connection = True
                self._send_json({"ok": False, "error": "body too large"}, 413)
                return
            qs = self.path.partition("?")[2]
            if path.startswith("/__control/"):
                self._control(path, qs, body)
            elif path in WECHAT_PATHS:
                self._wechat(path, qs, body)
            else:
                self._send_json({"errcode": 40066, "errmsg": "invalid url rid: "
                                 + rid()}, 404)
        except (ConnectionError, socket.timeout, BrokenPipeError):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            sys.stderr.write("standin: internal error on %s %s\n%s"
                             % (self.command, path, traceback.format_exc()))
            try:
                self._send_json({"errcode": -1, "errmsg": "system error rid: "
                                 + rid()}, 500)
            except OSError:
                pass
        finally:
            if not self.server.state.cfg.quiet:
                ms = (time.perf_counter() - t0) * 1000.0
                # Path only: the query holds the secret, tokens and codes.
                line = "%s %s %s %s %s%s %.1fms\n" % (
                    time.strftime("%H:%M:%S"), self.client_address[0],
                    self.command, path,
                    self._status if self._status is not None else "-",
                    "" if self._errcode is None
                    else " errcode=%s" % self._errcode,
                    ms)
                if self._note:
                    line = line[:-1] + " " + self._note + "\n"
                sys.stderr.write(line)

    # -- WeChat endpoints --------------------------------------------------

    def _wechat(self, path, qs, body):
        st = self.server.state
        endpoint, methods = WECHAT_PATHS[path]
        forced = False
        if endpoint == "stable_token":
            try:
                b = json.loads(body)
                forced = isinstance(b, dict) and b.get("force_refresh") is True
            except ValueError:
                pass
        with st.lock:
            st.calls[endpoint] += 1
            if forced:
                st.calls["stable_token_force"] += 1
            fault = st.take_fault(endpoint)
        inner_delay = 0.0
        if fault is not None:
            self._note = "fault=%s" % fault["kind"]
            kind = fault["kind"]
            delay = (fault.get("delay_ms") or 0) / 1000.0
            if kind == "delay" and fault.get("errcode") is None:
                if endpoint == "send":
                    inner_delay = delay  # inside the send's busy window
                elif delay > 0:
                    time.sleep(delay)
            else:
                if delay > 0:
                    time.sleep(delay)
                if kind == "drop":
                    self.close_connection = True
                    self._status = "dropped"
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if kind == "http500":
                    self._send_raw(500, b"<html><body><h1>500 Internal "
                                   b"Server Error</h1></body></html>\n",
                                   "text/html")
                    return
                if kind == "garbage":
                    self._send_raw(200, b"<html>upstream garbage, not json"
                                   b" {\"errcode\":", JSON_CT)
                    return
                # errcode (possibly a delay carrying an errcode)
                self._send_json({"errcode": fault.get("errcode", -1),
                                 "errmsg": "injected"})
                return
        if self.command not in methods:
            if "POST" in methods and len(methods) == 1:
                self._send_json(wxerr(43002, "require POST method"))
            else:
                self._send_json(wxerr(43001, "require GET method"))
            return
        if endpoint == "token":
            self._send_json(self._token(qs))
        elif endpoint == "stable_token":
            self._send_json(self._stable_token(body))
        elif endpoint == "jscode2session":
            self._send_json(self._jscode2session(qs))
        elif endpoint == "gettemplate":
            self._send_json(self._gettemplate(qs))
        else:
            self._send_json(self._send(qs, body, inner_delay))

    def _token(self, qs):
        st = self.server.state
        q = parse_qs(qs, keep_blank_values=True)
        e = check_creds(st.cfg, "client_credential", first(q, "grant_type"),
                        first(q, "appid"), first(q, "secret"))
        if e:
            return e
        with st.lock:
            now = st.now()
            old = st.classic_current
            if old is not None and old.dies is None:
                old.dies = min(old.expires, now + OVERLAP_S)
            tok = st.new_token("classic", now)
            st.classic_current = tok
        return {"access_token": tok.value, "expires_in": st.cfg.token_ttl}

    def _stable_token(self, body):
        st = self.server.state
        b = json_object_body(body)
        if b is None:
            return wxerr(47001, "data format error")
        fr = b.get("force_refresh")
        if fr is not None and not isinstance(fr, bool):
            return wxerr(47001, "data format error")
        for k in ("grant_type", "appid", "secret"):
            if b.get(k) is not None and not isinstance(b.get(k), str):
                return wxerr(47001, "data format error")
        e = check_creds(st.cfg, "client_credential", b.get("grant_type"),
                        b.get("appid"), b.get("secret"))
        if e:
            return e
        with st.lock:
            now = st.now()
            cur = st.stable_current
            if fr:
                day = st.day(now)
                if st.force_day != day:
                    st.force_day = day
                    st.force_count = 0
                st.force_count += 1
                if st.force_count > FORCE_PER_DAY:
                    return wxerr(45009, "reach max api daily quota limit")
                if (cur is not None and st.last_force_refresh is not None
                        and now - st.last_force_refresh < FORCE_WINDOW_S
                        and now < cur.expires):
                    return {"access_token": cur.value,
                            "expires_in": int(cur.expires - now)}
                if cur is not None:
                    cur.revoked = True
                tok = st.new_token("stable", now)
                st.stable_current = tok
                st.stable_stuck = False
                st.last_force_refresh = now
                return {"access_token": tok.value,
                        "expires_in": st.cfg.token_ttl}
            if (cur is not None and (not cur.revoked or st.stable_stuck)
                    and cur.expires - now > OVERLAP_S):
                return {"access_token": cur.value,
                        "expires_in": int(cur.expires - now)}
            # none yet, revoked, or in its last 5 minutes: rotate; the old
            # one keeps working until its own expiry
            tok = st.new_token("stable", now)
            st.stable_current = tok
            st.stable_stuck = False
            return {"access_token": tok.value, "expires_in": st.cfg.token_ttl}

    def _token_error(self, token):
        """The errcode a call with this access_token gets (0: none)."""
        st = self.server.state
        if not token:
            return wxerr(41001, "access_token missing")
        with st.lock:
            now = st.now()
            t = st.tokens.get(token)
            if t is None or t.revoked:
                return wxerr(40001, "invalid credential, access_token is "
                             "invalid or not latest")
            if now >= t.expires or (t.dies is not None and now >= t.dies):
                return wxerr(42001, "access_token expired")
        return None

    def _gettemplate(self, qs):
        """getTemplateList: the templates given a content through
        /__control/template, type 2 (one-time) or 3 (long-term), with
        their keyword enum lists."""
        st = self.server.state
        bad = self._token_error(first(parse_qs(qs), "access_token"))
        if bad is not None:
            return bad
        data = []
        with st.lock:
            for tid, t in st.templates.items():
                if t.get("content") is None:
                    continue
                data.append({
                    "priTmplId": tid, "title": t.get("title", ""),
                    "content": t["content"], "example": t.get("example", ""),
                    "type": 3 if t["type"] == "long-term" else 2,
                    "keywordEnumValueList": list(t.get("enums", [])),
                })
        return {"errcode": 0, "errmsg": "ok", "data": data}

    def _jscode2session(self, qs):
        st = self.server.state
        q = parse_qs(qs, keep_blank_values=True)
        e = check_creds(st.cfg, None, None, first(q, "appid"),
                        first(q, "secret"))
        if e:
            return e
        code = first(q, "js_code")
        if not code:
            return wxerr(41008, "missing code")
        with st.lock:
            now = st.now()
            c = st.codes.get(code)
            if c is None:
                return wxerr(40029, "invalid code")
            if c["used"]:
                return wxerr(40163, "code been used")
            if now - c["issued"] >= CODE_LIFE_S:
                return wxerr(40029, "invalid code")
            c["used"] = True
        out = {"session_key": base64.b64encode(os.urandom(16)).decode(),
               "openid": c["openid"]}
        if c.get("unionid"):
            out["unionid"] = c["unionid"]
        return out

    def _send(self, qs, body, delay):
        st = self.server.state
        q = parse_qs(qs, keep_blank_values=True)
        token = first(q, "access_token")
        bad = self._token_error(token)
        if bad is not None:
            return bad
        m = json_object_body(body)
        if m is None:
            return wxerr(47001, "data format error")
        touser = m.get("touser")
        if not isinstance(touser, str) or not OPENID_RE.match(touser):
            return wxerr(40003, "invalid openid")
        tid = m.get("template_id")
        with st.lock:
            tpl = st.templates.get(tid) if isinstance(tid, str) else None
            tpl = dict(tpl) if tpl is not None else None
            pages = st.pages
        if tpl is None:
            return wxerr(40037, "invalid template_id")
        if tpl["banned"]:
            return wxerr(43107, "template or capability banned")
        page = m.get("page")
        if page is not None:
            if not isinstance(page, str) or page.split("?", 1)[0] not in pages:
                return wxerr(41030, "invalid page")
        data = m.get("data")
        if not isinstance(data, dict) or not data:
            return wxerr(47003, "argument invalid! data is empty")
        for key, val in data.items():
            if not isinstance(val, dict) or "value" not in val \
                    or val["value"] is None:
                return wxerr(47003, "argument invalid! data.%s.value is empty"
                             % key)
            v = val["value"]
            if not isinstance(v, str):
                return wxerr(47003, "argument invalid! data.%s.value invalid"
                             % key)
            if v == "":
                return wxerr(47003, "argument invalid! data.%s.value is empty"
                             % key)
            if not check_value(key, v):
                return wxerr(47003, "argument invalid! data.%s.value invalid"
                             % key)
        for key, val in data.items():
            v = val["value"]
            if "敏感" in v or "sensitive" in v.lower():
                return wxerr(45168, "keyword is sensitive")
        state = m.get("miniprogram_state")
        if state is not None and state not in STATES:
            return wxerr(47003, "argument invalid! miniprogram_state invalid")
        lang = m.get("lang")
        if lang is not None and lang not in LANGS:
            return wxerr(47003, "argument invalid! lang invalid")
        rec = {"touser": touser, "template_id": tid, "page": page,
               "data": data, "miniprogram_state": state, "lang": lang,
               "access_token": token}
        key = (touser, tid)
        if delay <= 0:
            with st.lock:
                if touser in st.inflight:
                    return wxerr(43108, "concurrent sends to the same user")
                return self._commit_locked(st, key, tpl, rec)
        with st.lock:
            if touser in st.inflight:
                return wxerr(43108, "concurrent sends to the same user")
            st.inflight.add(touser)
        try:
            time.sleep(delay)
        finally:
            with st.lock:
                st.inflight.discard(touser)
                out = self._commit_locked(st, key, tpl, rec)
        return out

    @staticmethod
    def _commit_locked(st, key, tpl, rec):
        n = st.quota.get(key, 0)
        if n <= 0:
            return wxerr(43101, "user refuse to accept the msg")
        if tpl["type"] != "long-term":
            st.quota[key] = n - 1
        msgid = st.rng.randrange(10 ** 18, 9 * 10 ** 18)
        rec["msgid"] = msgid
        rec["at"] = round(st.now() - st.base, 3)
        st.sent.append(rec)
        st.sent_total += 1
        if st.push_config is not None:
            spec = dict(st.push_config, event="subscribe_msg_sent_event",
                        openid=rec["touser"])
            code = spec.get("errorCode", 0)
            spec["items"] = [{"TemplateId": rec["template_id"], "MsgID": msgid,
                              "ErrorCode": code, "ErrorStatus":
                              "success" if code == 0 else "fail"}]
            threading.Thread(target=_push_later, daemon=True,
                             args=(spec, st.cfg.appid)).start()
        st.sent_per_user[rec["touser"]] = \
            st.sent_per_user.get(rec["touser"], 0) + 1
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # -- control API ---------------------------------------------------------

    CONTROL = {
        "/__control/ping": ("GET",),
        "/__control/reset": ("POST",),
        "/__control/stats": ("GET",),
        "/__control/quota": ("GET", "POST"),
        "/__control/code": ("POST",),
        "/__control/template": ("GET", "POST"),
        "/__control/pages": ("GET", "POST"),
        "/__control/revoke": ("POST",),
        "/__control/advance": ("POST",),
        "/__control/clock": ("GET",),
        "/__control/fault": ("GET", "POST", "DELETE"),
        "/__control/push": ("POST",),
        "/__control/push-config": ("GET", "POST", "DELETE"),
    }

    def _control(self, path, qs, body):
        methods = self.CONTROL.get(path)
        if methods is None:
            self._send_json({"ok": False, "error": "unknown control path"},
                            404)
            return
        if self.command not in methods:
            self._send_json({"ok": False, "error": "method not allowed"}, 405,
                            "Allow: %s\r\n" % ", ".join(methods))
            return
        obj = {}
        if self.command == "POST" and body.strip():
            try:
                obj = json.loads(body)
            except ValueError:
                self._send_json({"ok": False, "error": "body is not JSON"},
                                400)
                return
            if not isinstance(obj, dict):
                self._send_json({"ok": False,
                                 "error": "body must be a JSON object"}, 400)
                return
        q = parse_qs(qs, keep_blank_values=True)
        name = "_c_%s_%s" % (path[len("/__control/"):].replace("-", "_"),
                             self.command.lower())
        try:
            out = getattr(self, name)(obj, q)
        except ControlError as e:
            self._send_json({"ok": False, "error": e.msg}, e.status)
            return
        out = dict(out or {})
        out.setdefault("ok", True)
        self._send_json(out)

    def _c_ping_get(self, obj, q):
        return {}

    def _c_reset_post(self, obj, q):
        st = self.server.state
        with st.lock:
            st.reset()
        return {}

    def _c_stats_get(self, obj, q):
        st = self.server.state
        with st.lock:
            sent = list(st.sent)
            lim = first(q, "sent")
            if lim is not None:
                try:
                    n = int(lim)
                except ValueError:
                    raise ControlError(400, "sent must be an integer")
                sent = sent[-n:] if n > 0 else []
            out = {}
            if first(q, "per_user") == "1":
                out["sent_per_user"] = dict(st.sent_per_user)
            out.update({
                "calls": dict(st.calls),
                "sent": sent,
                "sent_total": st.sent_total,
                "tokens": {
                    "classic_current": (st.classic_current.value
                                        if st.classic_current else None),
                    "stable_current": (st.stable_current.value
                                       if st.stable_current else None),
                    "all": list(st.tokens),
                },
                "force_refresh_today": st.force_count,
                "clock_offset": st.offset,
                "faults_pending": {k: [dict(f) for f in v]
                                   for k, v in st.faults.items() if v},
            })
            return out

    def _c_quota_get(self, obj, q):
        st = self.server.state
        openid, tid = first(q, "openid"), first(q, "template_id")
        if not openid or not tid:
            raise ControlError(400, "openid and template_id are required")
        with st.lock:
            return {"count": st.quota.get((openid, tid), 0)}

    def _c_quota_post(self, obj, q):
        st = self.server.state
        openid = _str_field(obj, "openid")
        tid = _str_field(obj, "template_id")
        n = _int_field(obj, "count", 1)
        with st.lock:
            c = max(0, st.quota.get((openid, tid), 0) + n)
            st.quota[(openid, tid)] = c
        return {"count": c}

    def _c_code_post(self, obj, q):
        st = self.server.state
        code = _str_field(obj, "code")
        openid = _str_field(obj, "openid")
        unionid = _str_field(obj, "unionid", required=False)
        with st.lock:
            st.codes[code] = {"openid": openid, "unionid": unionid,
                              "issued": st.now(), "used": False}
        return {"expires_in": CODE_LIFE_S}

    def _c_template_get(self, obj, q):
        st = self.server.state
        with st.lock:
            return {"templates": {k: dict(v) for k, v in st.templates.items()}}

    def _c_template_post(self, obj, q):
        st = self.server.state
        tid = _str_field(obj, "id")
        typ = obj.get("type")
        if typ is not None and typ not in ("one-time", "long-term"):
            raise ControlError(400, "type must be one-time or long-term")
        banned = obj.get("banned")
        if banned is not None and not isinstance(banned, bool):
            raise ControlError(400, "banned must be a boolean")
        listed = {k: obj[k] for k in ("title", "content", "example", "enums")
                  if k in obj}
        for k in ("title", "content", "example"):
            if k in listed and not isinstance(listed[k], str):
                raise ControlError(400, "%s must be a string" % k)
        if "enums" in listed and not isinstance(listed["enums"], list):
            raise ControlError(400, "enums must be a list of "
                               "{keywordCode, enumValueList}")
        with st.lock:
            t = st.templates.get(tid, {"type": "one-time", "banned": False})
            t = dict(t)
            t.update(listed)
            if typ is not None:
                t["type"] = typ
            if banned is not None:
                t["banned"] = banned
            st.templates[tid] = t
            return {"template": dict(t, id=tid)}

    def _c_push_post(self, obj, q):
        """Push a message to a server as WeChat does (docs/standin.md):
        signed, encrypted in safe and compatible mode, XML or JSON in a
        shape of wechat-next.md 1.5, and tried again (3 tries in all)
        when no answer came within timeoutMs (WeChat: 5 s)."""
        check_push_spec(obj)
        _str_field(obj, "openid")
        items = obj.get("items", [])
        if not isinstance(items, list) or \
                not all(isinstance(i, dict) for i in items):
            raise ControlError(400, "items must be a list of objects")
        _int_field(obj, "tries", 3, 1)
        _int_field(obj, "timeoutMs", 5000, 1)
        return deliver_push(obj, self.server.state.cfg.appid)

    def _c_push_config_get(self, obj, q):
        with self.server.state.lock:
            return {"config": self.server.state.push_config}

    def _c_push_config_post(self, obj, q):
        """After each send that WeChat accepts, push its
        subscribe_msg_sent_event to url (as WeChat does, asynchronously),
        with ErrorCode errorCode, delayMs after the send."""
        check_push_spec(obj)
        _int_field(obj, "delayMs", 0, 0)
        _int_field(obj, "errorCode", 0)
        with self.server.state.lock:
            self.server.state.push_config = dict(obj)
        return {"config": dict(obj)}

    def _c_push_config_delete(self, obj, q):
        with self.server.state.lock:
            self.server.state.push_config = None
        return {}

    def _c_pages_get(self, obj, q):
        st = self.server.state
        with st.lock:
            return {"pages": sorted(st.pages)}

    def _c_pages_post(self, obj, q):
        st = self.server.state
        pages = obj.get("pages")
        if not isinstance(pages, list) or \
                not all(isinstance(p, str) for p in pages):
            raise ControlError(400, "pages must be a list of strings")
        with st.lock:
            st.pages = set(pages)
            return {"pages": sorted(st.pages)}

    def _c_revoke_post(self, obj, q):
        st = self.server.state
        mode = obj.get("mode", "revoke")
        with st.lock:
            if mode == "revoke":
                n = 0
                for t in st.tokens.values():
                    if not t.revoked:
                        t.revoked = True
                        n += 1
                st.classic_current = None
                st.stable_current = None
                st.stable_stuck = False
                return {"revoked": n}
            if mode == "stuck":
                if st.stable_current is None:
                    st.stable_current = st.new_token("stable", st.now())
                st.stable_current.revoked = True
                st.stable_stuck = True
                return {"revoked": 1}
        raise ControlError(400, "mode must be revoke or stuck")

    def _c_advance_post(self, obj, q):
        st = self.server.state
        s = obj.get("seconds")
        if isinstance(s, bool) or not isinstance(s, (int, float)) or s < 0:
            raise ControlError(400, "seconds must be a number >= 0")
        with st.lock:
            st.offset += s
            return {"offset": st.offset}

    def _c_clock_get(self, obj, q):
        st = self.server.state
        with st.lock:
            return {"offset": st.offset, "now": st.now() - st.base}

    def _c_fault_get(self, obj, q):
        st = self.server.state
        with st.lock:
            return {"faults": {k: [dict(f) for f in v]
                               for k, v in st.faults.items() if v}}

    def _c_fault_post(self, obj, q):
        st = self.server.state
        ep = obj.get("endpoint", "*")
        if ep not in ENDPOINTS and ep != "*":
            raise ControlError(400, "endpoint must be one of %s or *"
                               % ", ".join(ENDPOINTS))
        kind = obj.get("kind")
        if kind not in FAULT_KINDS:
            raise ControlError(400, "kind must be one of %s"
                               % ", ".join(FAULT_KINDS))
        errcode = _int_field(obj, "errcode")
        delay_ms = _int_field(obj, "delay_ms", 0, minimum=0)
        count = _int_field(obj, "count", 1, minimum=-1)
        if count == 0:
            raise ControlError(400, "count must be >= 1 or -1")
        if kind == "errcode" and errcode is None:
            raise ControlError(400, "kind errcode needs errcode")
        if kind == "delay" and delay_ms <= 0:
            raise ControlError(400, "kind delay needs delay_ms > 0")
        f = {"endpoint": ep, "kind": kind, "errcode": errcode,
             "delay_ms": delay_ms, "count": count}
        with st.lock:
            st.faults[ep].append(f)
            return {"fault": dict(f), "queued": len(st.faults[ep])}

    def _c_fault_delete(self, obj, q):
        st = self.server.state
        with st.lock:
            n = sum(len(v) for v in st.faults.values())
            for v in st.faults.values():
                v.clear()
        return {"cleared": n}


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # Clients that reset or drop kept-alive connections (wrk at the end
        # of a run, curl on a time-out) are normal here: no traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        sys.stderr.write("standin: error serving %s:%s\n%s"
                         % (client_address[0], client_address[1],
                            traceback.format_exc()))


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Local stand-in of the WeChat Mini Program API")
    p.add_argument("--port", type=int, required=True,
                   help="TCP port (0 = any free port; the line printed at "
                        "start-up tells which)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--appid", default=DEFAULT_APPID)
    p.add_argument("--secret", default=DEFAULT_SECRET)
    p.add_argument("--token-ttl", type=int, default=7200)
    p.add_argument("--templates", default=DEFAULT_TEMPLATES,
                   help="comma list of one-time template ids")
    p.add_argument("--longterm-templates", default=DEFAULT_LONGTERM,
                   help="comma list of long-term template ids")
    p.add_argument("--pages", default=None,
                   help="comma list of valid pages (default: '',index,"
                        "pages/index/index,pages/detail/detail)")
    p.add_argument("--max-sent", type=int, default=200000,
                   help="keep at most this many sent messages for /stats "
                        "(0 = no limit)")
    p.add_argument("--quiet", action="store_true",
                   help="no per-request log lines on stderr")
    a = p.parse_args(argv)
    if a.token_ttl <= 0:
        p.error("--token-ttl must be > 0")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = Config(args)
    server = StandinServer((args.host, args.port), Handler)
    server.state = State(cfg)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    sys.stdout.write("standin listening on %s:%d\n" % (host, port))
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
