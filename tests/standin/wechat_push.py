"""WeChat's message push, made as WeChat makes it (wechat-next.md 1.2-1.5).

Pure functions, standard library only (AES through the openssl command,
as Python's standard library has none). Used by the stand-in's
/__control/push (which also delivers and retries) and by the e2e tests to
build, replay and forge pushes.

  signature(token, ts, nonce[, encrypt])   sha1 of the sorted parts, hex
  encrypt(aes_key, appid, msg, random16)   base64(AES-256-CBC(random ||
                                           len || msg || appid || pad32))
  decrypt(aes_key, b64) -> (msg, appid)    the inverse, checking the pad
  message(...)                             the event as XML or JSON text,
                                           in one of section 1.5's shapes
  build(...)                               query, body and Content-Type of
                                           a push in plain, compatible or
                                           safe mode
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import time
from urllib.parse import urlencode

WRAPPERS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}
# JSON shapes of List seen in the wild (wechat-next.md 1.5):
#   auto           an object for one item, an array for several (a)
#   array          an array even for one (b, the official example)
#   wrapper        {"SubscribeMsgSentEvent": {"List": ...}} (c)
#   wrapper-array  {"SubscribeMsgChangeEvent": [...]} (d)
SHAPES = ("auto", "array", "wrapper", "wrapper-array")
MODES = ("plain", "compatible", "safe")
FORMATS = ("xml", "json")
NUMERIC = ("CreateTime", "PopupScene", "ErrorCode", "MsgID")


def signature(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _key(aes_key):
    if len(aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    key = base64.b64decode(aes_key + "=")
    return key, key[:16]


def _openssl(decrypt, key, iv, data):
    argv = ["openssl", "enc", "-aes-256-cbc", "-nopad", "-K", key.hex(),
            "-iv", iv.hex()]
    if decrypt:
        argv.insert(2, "-d")
    r = subprocess.run(argv, input=data, capture_output=True, check=True,
                       timeout=30)
    return r.stdout


def encrypt(aes_key, appid, msg, random16=None):
    """msg (str or bytes) encrypted as WeChat does."""
    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    random16 = random16 if random16 is not None else os.urandom(16)
    plain = random16 + struct.pack(">I", len(msg)) + msg + appid.encode()
    return encrypt_raw(aes_key, plain)


def encrypt_raw(aes_key, plain, pad_byte=None):
    """PKCS#7 to 32-byte blocks and AES-256-CBC of a plaintext as given;
    pad_byte replaces the pad's value (0, 33: broken pads, for tests)."""
    key, iv = _key(aes_key)
    n = 32 - len(plain) % 32
    padded = plain + bytes([n if pad_byte is None else pad_byte]) * n
    return base64.b64encode(_openssl(False, key, iv, padded)).decode()


def decrypt(aes_key, b64):
    key, iv = _key(aes_key)
    plain = _openssl(True, key, iv, base64.b64decode(b64))
    pad = plain[-1]
    if not 1 <= pad <= 32:
        raise ValueError("bad pad")
    plain = plain[:-pad]
    (n,) = struct.unpack(">I", plain[16:20])
    return plain[20:20 + n].decode("utf-8"), plain[20 + n:].decode()


def _xml_text(v):
    if isinstance(v, int):
        return str(v)
    return "<![CDATA[%s]]>" % str(v).replace("]]>", "]]]]><![CDATA[>")


def _xml_fields(d):
    return "".join("<%s>%s</%s>" % (k, _xml_text(v), k) for k, v in d.items())


def message(fmt, event, openid, items=None, create_time=None, to="gh_standin0001",
            shape="auto", numbers="string", msg_type="event", extra=None):
    """The message a push carries, as text. items: a list of dicts
    (TemplateId, SubscribeStatusString, PopupScene / MsgID, ErrorCode,
    ErrorStatus). numbers: "string" as in the doc's JSON examples, or
    "number"."""
    create_time = int(time.time()) if create_time is None else create_time
    head = {"ToUserName": to, "FromUserName": openid,
            "CreateTime": create_time, "MsgType": msg_type}
    if event is not None:
        head["Event"] = event
    head.update(extra or {})
    items = list(items or [])
    wrapper = WRAPPERS.get(event)
    if fmt == "xml":
        body = _xml_fields(head)
        if items:
            lists = "".join("<List>%s</List>" % _xml_fields(it) for it in items)
            body += "<%s>%s</%s>" % (wrapper, lists, wrapper) if wrapper \
                else lists
        return "<xml>%s</xml>" % body

    def num(d):
        out = {}
        for k, v in d.items():
            if k in NUMERIC and numbers == "string":
                v = str(v)
            elif k in NUMERIC and numbers == "number":
                v = int(v)
            out[k] = v
        return out

    obj = num(head)
    if items:
        conv = [num(it) for it in items]
        lst = conv[0] if len(conv) == 1 and shape in ("auto", "wrapper") \
            else conv
        if shape in ("auto", "array"):
            obj["List"] = lst
        elif shape == "wrapper":
            obj[wrapper] = {"List": lst}
        elif shape == "wrapper-array":
            obj[wrapper] = conv
        else:
            raise ValueError("shape must be one of %s" % ", ".join(SHAPES))
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def build(token, msg, fmt, mode="plain", aes_key=None, appid=None,
          timestamp=None, nonce=None, random16=None, to="gh_standin0001"):
    """(query, body bytes, Content-Type) of a push of msg (text made by
    message()). Safe mode: only Encrypt (and ToUserName) in the body;
    compatible: the plaintext fields and Encrypt. Both carry
    encrypt_type=aes and msg_signature, and signature too."""
    if mode not in MODES:
        raise ValueError("mode must be one of %s" % ", ".join(MODES))
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(int.from_bytes(os.urandom(4), "big"))
    q = {"signature": signature(token, ts, nonce), "timestamp": ts,
         "nonce": nonce}
    ctype = "text/xml" if fmt == "xml" else "application/json"
    if mode == "plain":
        return urlencode(q), msg.encode("utf-8"), ctype
    enc = encrypt(aes_key, appid, msg, random16)
    q["encrypt_type"] = "aes"
    q["msg_signature"] = signature(token, ts, nonce, enc)
    if fmt == "xml":
        inner = ""
        if mode == "compatible":
            inner = msg[len("<xml>"):-len("</xml>")]
        else:
            inner = "<ToUserName>%s</ToUserName>" % _xml_text(to)
        body = "<xml>%s<Encrypt>%s</Encrypt></xml>" % (inner, _xml_text(enc))
    else:
        obj = json.loads(msg) if mode == "compatible" else {"ToUserName": to}
        obj["Encrypt"] = enc
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return urlencode(q), body.encode("utf-8"), ctype
