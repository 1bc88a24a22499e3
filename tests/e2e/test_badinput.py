"""The bad-input suite: one table, one generated test per row, over every
route. Each row is sent as it is (raw bytes, exact headers) through the
web server, or straight to a FastCGI process where a web server would
normalise the input away, and each must end in the row's status and
error code, in wxsub's JSON error shape, with an X-Request-Id, without a
call to WeChat and without changing Redis (WXSUB:metrics aside).

A row: (name, method, route, headers, body, status, error) plus options:
  msg    text the error message must hold (the field or data key named)
  allow  the Allow header of a 405
  via    "http" (default) or "fcgi" (cgi-fcgi to a FastCGI socket; the
         route is then PATH_INFO as it is, None for none)
  env    extra FastCGI parameters (via "fcgi"), None removes one
  rid    "echo" (default: the row's sane X-Request-Id comes back) or
         "new" (the row's X-Request-Id is insane: a fresh one replaces it)
In headers, @SESSION@ stands for a session of the seeded user that
/login gave in this test, @FORGED@ for a random token of the same shape.
"""

import base64
import json
import os
import re
import time
from collections import namedtuple

from harness import (E2ECase, Env, JSON_CT, REQID_RE, TOKEN_KEY, TPL1, TPL2,
                     TPL3, TPL_LONG, TPL_UNKNOWN, http_request, openid)

OID = openid("badinput")            # the seeded user (and the session's)
OTHER = openid("badinput", 2)
KEY = Env.API_KEY
OIDB = OID.encode()
T1B = TPL1.encode()

Row = namedtuple("Row", "name method route headers body status error msg "
                        "allow via env rid")


def row(name, method, route, headers, body, status, error, msg=None,
        allow=None, via="http", env=None, rid="echo"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    elif isinstance(body, str):
        body = body.encode("utf-8")
    return Row(name, method, route, dict(headers or {}), body, status, error,
               msg, allow, via, dict(env or {}), rid)


def H(auth=None, ct="application/json", **more):
    """Headers: auth "key" (the api key), "session", None, or a literal
    Authorization value; ct None for no Content-Type."""
    h = {}
    if ct is not None:
        h["Content-Type"] = ct
    if auth == "key":
        h["Authorization"] = "Bearer " + KEY
    elif auth == "session":
        h["Authorization"] = "Bearer @SESSION@"
    elif auth is not None:
        h["Authorization"] = auth
    for k, v in more.items():
        h[k.replace("_", "-")] = v
    return h


AK = H("key")                       # api key, JSON
SS = H("session")                   # session, JSON
NOAUTH = H()                        # JSON, no credentials
AK_GET = H("key", ct=None)
SS_GET = H("session", ct=None)


def rec(**fields):
    """A /record body for the api key: the seeded openId plus fields."""
    d = {"openId": OID}
    d.update(fields)
    return d


def snd(data=None, **fields):
    """A /send body of the seeded user (who has a credit for TPL1)."""
    d = {"openId": OID, "data": {"thing1": "hello"} if data is None
         else data}
    d.update(fields)
    return d


GOOD_REC = b'{"openId":"%s","templateId":"%s"}' % (OIDB, T1B)
GOOD_SEND = b'{"openId":"%s","data":{"thing1":"hello"}}' % OIDB


def raw_rec(inner):
    """{"openId":OID, <inner>} as raw bytes."""
    return b'{"openId":"%s",%s}' % (OIDB, inner)


def q(query):
    return "/subscriptions?" + query


CJK28 = "\u4e2d" * 28
PCT_CJK28 = "%E4%B8%AD" * 28

ROWS = [
    # ---- /health ---------------------------------------------------------
    row("health_post_405", "POST", "/health", NOAUTH, b"{}", 405,
        "method_not_allowed", allow="GET, HEAD"),
    row("health_delete_405", "DELETE", "/health", {}, None, 405,
        "method_not_allowed", allow="GET, HEAD"),
    row("health_put_405", "PUT", "/health", NOAUTH, b"{}", 405,
        "method_not_allowed", allow="GET, HEAD"),
    row("health_options_405", "OPTIONS", "/health", {}, None, 405,
        "method_not_allowed", allow="GET, HEAD"),
    row("health_reqid_encoded_crlf_replaced", "GET", "/health",
        {"X-Request-Id": "abc%0D%0AX-Evil:%201"}, None, 200, None,
        rid="new"),
    row("health_reqid_too_long_replaced", "GET", "/health",
        {"X-Request-Id": "r" * 64}, None, 200, None, rid="new"),
    row("health_reqid_crlf_fcgi_replaced", "GET", "/health", {}, None, 200,
        None, via="fcgi", rid="new",
        env={"HTTP_X_REQUEST_ID": "abc\r\nX-Evil: 1"}),

    # ---- /login (anyone) ---------------------------------------------------
    row("login_get_405", "GET", "/login", {}, None, 405,
        "method_not_allowed", allow="POST"),
    row("login_text_plain_415", "POST", "/login", H(ct="text/plain"),
        {"code": "abc"}, 415, "unsupported_media_type"),
    row("login_multipart_415", "POST", "/login",
        H(ct="multipart/form-data; boundary=xx"),
        b'--xx\r\nContent-Disposition: form-data; name="code"\r\n\r\nabc'
        b'\r\n--xx--\r\n', 415, "unsupported_media_type"),
    row("login_no_content_type_415", "POST", "/login", H(ct=None),
        {"code": "abc"}, 415, "unsupported_media_type"),
    row("login_jsonp_415", "POST", "/login", H(ct="application/jsonp"),
        {"code": "abc"}, 415, "unsupported_media_type"),
    row("login_json_seq_415", "POST", "/login",
        H(ct="application/json-seq"), {"code": "abc"}, 415,
        "unsupported_media_type"),
    row("login_empty_body", "POST", "/login", NOAUTH, b"", 400,
        "bad_request"),
    row("login_code_missing", "POST", "/login", NOAUTH, {}, 400,
        "bad_request", msg="code"),
    row("login_code_number", "POST", "/login", NOAUTH, {"code": 5}, 400,
        "bad_request", msg="code"),
    row("login_code_null", "POST", "/login", NOAUTH, {"code": None}, 400,
        "bad_request", msg="code"),
    row("login_code_empty", "POST", "/login", NOAUTH, {"code": ""}, 400,
        "bad_request", msg="code"),
    row("login_code_space", "POST", "/login", NOAUTH, {"code": "ab cd"},
        400, "bad_request", msg="code"),
    row("login_code_cjk", "POST", "/login", NOAUTH, {"code": "\u4ee3\u7801"},
        400, "bad_request", msg="code"),
    row("login_code_ampersand_injection", "POST", "/login", NOAUTH,
        {"code": "abc&appid=evil"}, 400, "bad_request", msg="code"),
    row("login_code_129_chars", "POST", "/login", NOAUTH,
        {"code": "c" * 129}, 400, "bad_request", msg="code"),
    row("login_code_escaped_nul", "POST", "/login", NOAUTH,
        b'{"code":"abc\\u0000def"}', 400, "bad_request", msg="code"),
    row("login_single_quotes", "POST", "/login", NOAUTH, b"{'code':'abc'}",
        400, "bad_request"),
    row("login_top_level_array", "POST", "/login", NOAUTH,
        b'[{"code":"abc"}]', 400, "bad_request"),
    row("login_oversized_413", "POST", "/login", NOAUTH,
        b'{"code":"abc","pad":"' + b"x" * 70000 + b'"}', 413,
        "payload_too_large"),

    # ---- /logout (session only) --------------------------------------------
    row("logout_get_405", "GET", "/logout", H("session", ct=None), None, 405,
        "method_not_allowed", allow="POST"),
    row("logout_no_credentials_401", "POST", "/logout", NOAUTH, b"{}", 401,
        "unauthorized"),
    row("logout_with_api_key_401", "POST", "/logout", AK, b"{}", 401,
        "unauthorized"),
    row("logout_basic_session_401", "POST", "/logout",
        H("Basic @SESSION@"), b"{}", 401, "unauthorized"),
    row("logout_forged_session_401", "POST", "/logout",
        H("Bearer @FORGED@"), b"{}", 401, "unauthorized"),
    row("logout_session_trailing_char_401", "POST", "/logout",
        H("Bearer @SESSION@x"), b"{}", 401, "unauthorized"),
    row("logout_session_missing_char_401", "POST", "/logout",
        H("Bearer @SESSION@", session_cut=1), b"{}", 401, "unauthorized"),

    # ---- /record with the api key: media types and sizes -------------------
    row("record_get_405", "GET", "/record", AK_GET, None, 405,
        "method_not_allowed", allow="POST"),
    row("record_text_plain_415", "POST", "/record", H("key", "text/plain"),
        GOOD_REC, 415, "unsupported_media_type"),
    row("record_multipart_415", "POST", "/record",
        H("key", "multipart/form-data; boundary=xx"),
        b"--xx\r\nContent-Disposition: form-data; name=\"openId\"\r\n\r\n"
        + OIDB + b"\r\n--xx--\r\n", 415, "unsupported_media_type"),
    row("record_no_content_type_415", "POST", "/record", H("key", None),
        GOOD_REC, 415, "unsupported_media_type"),
    row("record_jsonp_415", "POST", "/record",
        H("key", "application/jsonp"), GOOD_REC, 415,
        "unsupported_media_type"),
    row("record_form_urlencoded_415", "POST", "/record",
        H("key", "application/x-www-form-urlencoded"),
        b"openId=" + OIDB + b"&templateId=" + T1B, 415,
        "unsupported_media_type"),
    row("record_oversized_413", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","pad":"%s"' % (T1B, b"x" * 70000)),
        413, "payload_too_large"),
    row("record_oversized_text_plain_is_413_first", "POST", "/record",
        H("key", "text/plain"), b"x" * 70000, 413, "payload_too_large"),
    row("record_empty_body", "POST", "/record", AK, b"", 400, "bad_request"),
    row("record_whitespace_body", "POST", "/record", AK, b" \r\n\t ", 400,
        "bad_request"),

    # ---- /record with the api key: not JSON by RFC 8259 ---------------------
    row("record_truncated_object", "POST", "/record", AK, GOOD_REC[:-1], 400,
        "bad_request"),
    row("record_truncated_in_string", "POST", "/record", AK,
        GOOD_REC[:len(GOOD_REC) // 2], 400, "bad_request"),
    row("record_single_quotes", "POST", "/record", AK,
        b"{'openId':'%s','templateId':'%s'}" % (OIDB, T1B), 400,
        "bad_request"),
    row("record_trailing_comma_object", "POST", "/record", AK,
        GOOD_REC[:-1] + b",}", 400, "bad_request"),
    row("record_trailing_comma_array", "POST", "/record", AK,
        raw_rec(b'"templateIds":["%s",]' % T1B), 400, "bad_request"),
    row("record_nan", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","n":NaN' % T1B), 400, "bad_request"),
    row("record_infinity", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","n":-Infinity' % T1B), 400,
        "bad_request"),
    row("record_hex_number", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","n":0x10' % T1B), 400, "bad_request"),
    row("record_leading_zero_number", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","n":01' % T1B), 400, "bad_request"),
    row("record_number_without_fraction_digits", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","n":1.' % T1B), 400, "bad_request"),
    row("record_line_comment", "POST", "/record", AK,
        GOOD_REC + b" // a comment", 400, "bad_request"),
    row("record_block_comment", "POST", "/record", AK,
        raw_rec(b'/* c */"templateId":"%s"' % T1B), 400, "bad_request"),
    row("record_raw_newline_in_string", "POST", "/record", AK,
        raw_rec(b'"templateId":"TPL_ONE\nTIME_0001"'), 400, "bad_request"),
    row("record_raw_tab_in_string", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s\t"' % T1B), 400, "bad_request"),
    row("record_bad_escape", "POST", "/record", AK,
        raw_rec(b'"templateId":"\\x41"'), 400, "bad_request"),
    row("record_short_unicode_escape", "POST", "/record", AK,
        raw_rec(b'"templateId":"\\u41"'), 400, "bad_request"),
    row("record_unquoted_key", "POST", "/record", AK,
        b'{openId:"%s",templateId:"%s"}' % (OIDB, T1B), 400, "bad_request"),
    row("record_missing_colon", "POST", "/record", AK,
        b'{"openId" "%s","templateId":"%s"}' % (OIDB, T1B), 400,
        "bad_request"),
    row("record_second_object_after", "POST", "/record", AK,
        GOOD_REC + b" {}", 400, "bad_request"),
    row("record_garbage_after", "POST", "/record", AK, GOOD_REC + b"x", 400,
        "bad_request"),
    row("record_duplicate_object_after", "POST", "/record", AK,
        GOOD_REC + GOOD_REC, 400, "bad_request"),
    row("record_nested_arrays_17_levels", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":%s%s' % (T1B, b"[" * 16, b"]" * 16)),
        400, "bad_request"),
    row("record_nested_arrays_200_levels", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":%s1%s' % (T1B, b"[" * 200,
                                                  b"]" * 200)),
        400, "bad_request"),
    row("record_nested_objects_40_levels", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":%s1%s' % (T1B, b'{"a":' * 40,
                                                  b"}" * 40)),
        400, "bad_request"),
    row("record_top_level_array", "POST", "/record", AK,
        b"[" + GOOD_REC + b"]", 400, "bad_request"),
    row("record_top_level_string", "POST", "/record", AK, b'"%s"' % T1B,
        400, "bad_request"),
    row("record_top_level_number", "POST", "/record", AK, b"42", 400,
        "bad_request"),
    row("record_top_level_null", "POST", "/record", AK, b"null", 400,
        "bad_request"),
    row("record_top_level_true", "POST", "/record", AK, b"true", 400,
        "bad_request"),
    row("record_utf8_bom", "POST", "/record", AK, b"\xef\xbb\xbf" + GOOD_REC,
        400, "bad_request"),
    row("record_raw_nul_byte", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"a\x00b"' % T1B), 400,
        "bad_request"),

    # ---- /record with the api key: invalid UTF-8 ----------------------------
    row("record_utf8_overlong_slash", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xc0\xaf"' % T1B), 400,
        "bad_request"),
    row("record_utf8_overlong_3byte", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xe0\x80\xaf"' % T1B), 400,
        "bad_request"),
    row("record_utf8_surrogate", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xed\xa0\x80"' % T1B), 400,
        "bad_request"),
    row("record_utf8_truncated_sequence", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xe4\xb8"' % T1B), 400,
        "bad_request"),
    row("record_utf8_truncated_at_end_of_body", "POST", "/record", AK,
        GOOD_REC + b"\xe4", 400, "bad_request"),
    row("record_utf8_lone_continuation", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\x80"' % T1B), 400, "bad_request"),
    row("record_utf8_ff", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xff"' % T1B), 400, "bad_request"),
    row("record_utf8_five_byte", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xf8\x88\x80\x80\x80"' % T1B), 400,
        "bad_request"),
    row("record_utf8_above_10ffff", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"\xf4\x90\x80\x80"' % T1B), 400,
        "bad_request"),
    row("record_utf8_in_template_id", "POST", "/record", AK,
        raw_rec(b'"templateId":"TPL_\xc3"'), 400, "bad_request"),
    row("record_utf8_in_popup_key", "POST", "/record", AK,
        raw_rec(b'"TPL_\xff":"accept"'), 400, "bad_request"),
    row("record_latin1_body", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s","x":"caf\xe9"' % T1B), 400,
        "bad_request"),

    # ---- /record with the api key: \u0000 -----------------------------------
    row("record_escaped_nul_in_openid", "POST", "/record", AK,
        b'{"openId":"%s\\u0000","templateId":"%s"}' % (OIDB[:27], T1B), 400,
        "bad_request", msg="openId"),
    row("record_escaped_nul_in_template_id", "POST", "/record", AK,
        raw_rec(b'"templateId":"%s\\u0000x"' % T1B), 400, "bad_request",
        msg="templateId"),
    row("record_escaped_nul_in_template_ids", "POST", "/record", AK,
        raw_rec(b'"templateIds":["%s\\u0000x"]' % T1B), 400, "bad_request",
        msg="templateIds"),
    # the key of a popup result: must not count as TPL2 once cut at NUL
    row("record_escaped_nul_in_popup_key", "POST", "/record", AK,
        raw_rec(b'"%s\\u0000x":"accept"' % TPL2.encode()), 400,
        "bad_request"),
    row("record_escaped_nul_in_popup_status", "POST", "/record", AK,
        raw_rec(b'"%s":"accept\\u0000x"' % TPL2.encode()), 400,
        "bad_request"),

    # ---- /record with the api key: wrong types ------------------------------
    row("record_openid_number", "POST", "/record", AK,
        {"openId": 5, "templateId": TPL1}, 400, "bad_request", msg="openId"),
    row("record_openid_array", "POST", "/record", AK,
        {"openId": [OID], "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_openid_object", "POST", "/record", AK,
        {"openId": {"id": OID}, "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_openid_missing", "POST", "/record", AK,
        {"templateId": TPL1}, 400, "bad_request", msg="openId"),
    row("record_openid_null", "POST", "/record", AK,
        {"openId": None, "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_template_id_number", "POST", "/record", AK,
        rec(templateId=7), 400, "bad_request", msg="templateId"),
    row("record_template_id_bool", "POST", "/record", AK,
        rec(templateId=True), 400, "bad_request", msg="templateId"),
    row("record_template_ids_string", "POST", "/record", AK,
        rec(templateIds=TPL1), 400, "bad_request", msg="templateIds"),
    row("record_template_ids_numbers", "POST", "/record", AK,
        rec(templateIds=[1]), 400, "bad_request", msg="templateIds"),
    row("record_template_ids_nested", "POST", "/record", AK,
        rec(templateIds=[[TPL1]]), 400, "bad_request", msg="templateIds"),
    row("record_template_ids_object", "POST", "/record", AK,
        rec(templateIds={TPL1: 1}), 400, "bad_request", msg="templateIds"),
    row("record_template_ids_empty", "POST", "/record", AK,
        rec(templateIds=[]), 400, "bad_request", msg="templateIds"),
    row("record_template_ids_4_items", "POST", "/record", AK,
        rec(templateIds=[TPL1, TPL2, TPL3, TPL_UNKNOWN]), 400, "bad_request",
        msg="templateIds"),
    row("record_both_template_id_and_ids", "POST", "/record", AK,
        rec(templateId=TPL1, templateIds=[TPL2]), 400, "bad_request",
        msg="templateId"),
    row("record_no_template_at_all", "POST", "/record", AK, rec(), 400,
        "bad_request", msg="templateId"),
    row("record_popup_status_bool", "POST", "/record", AK,
        rec(**{TPL1: True}), 400, "bad_request", msg=TPL1),
    row("record_popup_status_unknown_word", "POST", "/record", AK,
        rec(**{TPL1: "maybe"}), 400, "bad_request", msg=TPL1),
    row("record_popup_status_wrong_case", "POST", "/record", AK,
        rec(**{TPL1: "Accept"}), 400, "bad_request", msg=TPL1),
    row("record_popup_errmsg_number", "POST", "/record", AK,
        rec(**{TPL1: "accept", "errMsg": 1}), 400, "bad_request",
        msg="errMsg"),
    row("record_popup_errmsg_fail", "POST", "/record", AK,
        rec(**{TPL1: "accept",
               "errMsg": "requestSubscribeMessage:fail cancel"}), 400,
        "bad_request", msg="errMsg"),
    row("record_popup_4_accepts", "POST", "/record", AK,
        rec(**{TPL1: "accept", TPL2: "accept", TPL3: "accept",
               TPL_UNKNOWN: "accept"}), 400, "bad_request",
        msg="templateIds"),

    # ---- /record with the api key: openIds that are not openIds -------------
    row("record_openid_27_chars", "POST", "/record", AK,
        {"openId": OID[:27], "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_openid_29_chars", "POST", "/record", AK,
        {"openId": OID + "x", "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_openid_empty", "POST", "/record", AK,
        {"openId": "", "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_openid_slash", "POST", "/record", AK,
        {"openId": OID[:13] + "/" + OID[14:], "templateId": TPL1}, 400,
        "bad_request", msg="openId"),
    row("record_openid_dot", "POST", "/record", AK,
        {"openId": OID[:13] + "." + OID[14:], "templateId": TPL1}, 400,
        "bad_request", msg="openId"),
    row("record_openid_dotdot_path", "POST", "/record", AK,
        {"openId": "../../" + OID[6:], "templateId": TPL1}, 400,
        "bad_request", msg="openId"),
    row("record_openid_percent", "POST", "/record", AK,
        {"openId": OID[:25] + "%2F", "templateId": TPL1}, 400,
        "bad_request", msg="openId"),
    row("record_openid_space", "POST", "/record", AK,
        {"openId": OID[:13] + " " + OID[14:], "templateId": TPL1}, 400,
        "bad_request", msg="openId"),
    row("record_openid_cjk", "POST", "/record", AK,
        {"openId": CJK28, "templateId": TPL1}, 400, "bad_request",
        msg="openId"),
    row("record_openid_colon_key_injection", "POST", "/record", AK,
        {"openId": OID[:20] + ":" + OID[21:], "templateId": TPL1}, 400,
        "bad_request", msg="openId"),
    row("record_openid_star_pattern", "POST", "/record", AK,
        {"openId": "*" * 28, "templateId": TPL1}, 400, "bad_request",
        msg="openId"),

    # ---- /record with the api key: templates --------------------------------
    row("record_unknown_template", "POST", "/record", AK,
        rec(templateId="TPL_NOT_CONFIGURED"), 400, "unknown_template",
        msg="TPL_NOT_CONFIGURED"),
    row("record_unknown_template_among_known", "POST", "/record", AK,
        rec(templateIds=[TPL1, "TPL_NOT_CONFIGURED"]), 400,
        "unknown_template", msg="TPL_NOT_CONFIGURED"),
    row("record_unknown_template_in_popup", "POST", "/record", AK,
        rec(**{TPL1: "accept", "TPL_NOT_CONFIGURED": "accept",
               "errMsg": "requestSubscribeMessage:ok"}), 400,
        "unknown_template", msg="TPL_NOT_CONFIGURED"),
    row("record_template_colon_key_injection", "POST", "/record", AK,
        rec(templateId=TPL1 + ":" + OTHER), 400, "bad_request",
        msg="templateId"),
    row("record_template_star_pattern", "POST", "/record", AK,
        rec(templateId="*"), 400, "bad_request", msg="templateId"),
    row("record_template_prefixed_pattern", "POST", "/record", AK,
        rec(templateId="SUBSCRIBE:*"), 400, "bad_request", msg="templateId"),
    row("record_template_question_mark_pattern", "POST", "/record", AK,
        rec(templateIds=["TPL_ONE_TIME_000?"]), 400, "bad_request",
        msg="templateId"),
    row("record_template_star_as_popup_key", "POST", "/record", AK,
        rec(**{"TPL_ONE_TIME_*": "accept"}), 400, "bad_request",
        msg="templateId"),
    row("record_template_colon_as_popup_key", "POST", "/record", AK,
        rec(**{TPL1 + ":x": "accept"}), 400, "bad_request",
        msg="templateId"),
    row("record_template_crlf", "POST", "/record", AK,
        rec(templateId=TPL1 + "\r\nDEL x"), 400, "bad_request",
        msg="templateId"),
    row("record_template_empty", "POST", "/record", AK,
        rec(templateId=""), 400, "bad_request", msg="templateId"),
    row("record_template_128_chars", "POST", "/record", AK,
        rec(templateId="T" * 128), 400, "bad_request", msg="templateId"),

    # ---- /record with a session ---------------------------------------------
    row("record_session_text_plain_415", "POST", "/record",
        H("session", "text/plain"), {"templateId": TPL1}, 415,
        "unsupported_media_type"),
    row("record_session_oversized_413", "POST", "/record", SS,
        b'{"templateId":"%s","pad":"%s"}' % (T1B, b"x" * 70000), 413,
        "payload_too_large"),
    row("record_session_single_quotes", "POST", "/record", SS,
        b"{'templateId':'%s'}" % T1B, 400, "bad_request"),
    row("record_session_top_level_array", "POST", "/record", SS,
        b'["%s"]' % T1B, 400, "bad_request"),
    row("record_session_invalid_utf8", "POST", "/record", SS,
        b'{"%s":"accept","x":"\xc0\x80"}' % T1B, 400, "bad_request"),
    row("record_session_empty_object", "POST", "/record", SS, {}, 400,
        "bad_request", msg="templateId"),
    row("record_session_errmsg_fail", "POST", "/record", SS,
        {TPL1: "accept", "errMsg": "requestSubscribeMessage:fail"}, 400,
        "bad_request", msg="errMsg"),
    row("record_session_status_number", "POST", "/record", SS,
        {TPL1: 1}, 400, "bad_request", msg=TPL1),
    row("record_session_unknown_template", "POST", "/record", SS,
        {TPL1: "accept", "TPL_NOT_CONFIGURED": "acceptWithAudio",
         "errMsg": "requestSubscribeMessage:ok"}, 400, "unknown_template"),
    row("record_session_template_ids_4", "POST", "/record", SS,
        {"templateIds": [TPL1, TPL2, TPL3, TPL_LONG]}, 400, "bad_request",
        msg="templateIds"),
    row("record_session_template_star", "POST", "/record", SS,
        {"templateId": "*"}, 400, "bad_request", msg="templateId"),
    row("record_session_posted_openid_number", "POST", "/record", SS,
        {"openId": 5, "templateId": TPL1}, 400, "bad_request", msg="openId"),
    row("record_session_trailing_char_401", "POST", "/record",
        H("Bearer @SESSION@x"), {"templateId": TPL1}, 401, "unauthorized"),
    row("record_session_forged_401", "POST", "/record",
        H("Bearer @FORGED@"), {"templateId": TPL1}, 401, "unauthorized"),
    row("record_session_basic_401", "POST", "/record",
        H("Basic @SESSION@"), {"templateId": TPL1}, 401, "unauthorized"),
    row("record_session_without_scheme_401", "POST", "/record",
        H("@SESSION@"), {"templateId": TPL1}, 401, "unauthorized"),
    row("record_session_upper_prefix_401", "POST", "/record",
        H("Bearer @SESSION_UPPER@"), {"templateId": TPL1}, 401,
        "unauthorized"),
    row("record_bearer_empty_401", "POST", "/record", H("Bearer "),
        {"templateId": TPL1}, 401, "unauthorized"),
    row("record_no_credentials_401", "POST", "/record", NOAUTH, GOOD_REC,
        401, "unauthorized"),
    row("record_key_trailing_char_401", "POST", "/record",
        H("Bearer " + KEY + "x"), GOOD_REC, 401, "unauthorized"),

    # ---- /send: credentials -------------------------------------------------
    row("send_get_405", "GET", "/send", AK_GET, None, 405,
        "method_not_allowed", allow="POST"),
    row("send_delete_405", "DELETE", "/send", AK_GET, None, 405,
        "method_not_allowed", allow="POST"),
    row("send_no_credentials_401", "POST", "/send", NOAUTH, GOOD_SEND, 401,
        "unauthorized"),
    row("send_basic_401", "POST", "/send", H("Basic " + KEY), GOOD_SEND, 401,
        "unauthorized"),
    row("send_bearer_alone_401", "POST", "/send", H("Bearer"), GOOD_SEND,
        401, "unauthorized"),
    row("send_bearer_empty_401", "POST", "/send", H("Bearer "), GOOD_SEND,
        401, "unauthorized"),
    row("send_bearer_spaces_401", "POST", "/send", H("Bearer    "),
        GOOD_SEND, 401, "unauthorized"),
    row("send_key_without_scheme_401", "POST", "/send", H(KEY), GOOD_SEND,
        401, "unauthorized"),
    row("send_key_trailing_char_401", "POST", "/send",
        H("Bearer " + KEY + "x"), GOOD_SEND, 401, "unauthorized"),
    row("send_key_missing_last_char_401", "POST", "/send",
        H("Bearer " + KEY[:-1]), GOOD_SEND, 401, "unauthorized"),
    row("send_key_upper_case_401", "POST", "/send",
        H("Bearer " + KEY.upper()), GOOD_SEND, 401, "unauthorized"),
    row("send_key_trailing_space_401", "POST", "/send",
        H("Bearer " + KEY + " x"), GOOD_SEND, 401, "unauthorized"),
    row("send_with_session_401", "POST", "/send", SS, GOOD_SEND, 401,
        "unauthorized"),
    row("send_authorization_too_large", "POST", "/send",
        H("Bearer " + "k" * 1500), GOOD_SEND, 400, "bad_request"),
    row("send_unauthorized_before_415", "POST", "/send",
        H(ct="text/plain"), b"junk", 401, "unauthorized"),

    # ---- /send: bodies ------------------------------------------------------
    row("send_text_plain_415", "POST", "/send", H("key", "text/plain"),
        GOOD_SEND, 415, "unsupported_media_type"),
    row("send_multipart_415", "POST", "/send",
        H("key", "multipart/form-data; boundary=b"),
        b"--b\r\n\r\n" + GOOD_SEND + b"\r\n--b--\r\n", 415,
        "unsupported_media_type"),
    row("send_no_content_type_415", "POST", "/send", H("key", None),
        GOOD_SEND, 415, "unsupported_media_type"),
    row("send_jsonp_415", "POST", "/send", H("key", "application/jsonp"),
        GOOD_SEND, 415, "unsupported_media_type"),
    row("send_oversized_413", "POST", "/send", AK,
        GOOD_SEND[:-1] + b',"pad":"' + b"x" * 66000 + b'"}', 413,
        "payload_too_large"),
    row("send_truncated", "POST", "/send", AK, GOOD_SEND[:-2], 400,
        "bad_request"),
    row("send_trailing_comma", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing1":"a",}}' % OIDB, 400,
        "bad_request"),
    row("send_comment", "POST", "/send", AK,
        b'{"openId":"%s",/**/"data":{"thing1":"a"}}' % OIDB, 400,
        "bad_request"),
    row("send_raw_newline_in_value", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing1":"a\nb"}}' % OIDB, 400,
        "bad_request"),
    row("send_invalid_utf8_in_value", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing1":"a\xed\xbf\xbfb"}}' % OIDB, 400,
        "bad_request"),
    row("send_invalid_utf8_in_key", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing\xc1":"a"}}' % OIDB, 400,
        "bad_request"),
    row("send_nested_arrays_17_levels", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing1":"a"},"x":%s%s}'
        % (OIDB, b"[" * 16, b"]" * 16), 400, "bad_request"),

    # ---- /send: fields of the wrong type or value ---------------------------
    row("send_openid_number", "POST", "/send", AK,
        {"openId": 5, "data": {"thing1": "a"}}, 400, "bad_request",
        msg="openId"),
    row("send_openid_missing", "POST", "/send", AK,
        {"data": {"thing1": "a"}}, 400, "bad_request", msg="openId"),
    row("send_openid_27_chars", "POST", "/send", AK,
        {"openId": OID[:27], "data": {"thing1": "a"}}, 400, "bad_request",
        msg="openId"),
    row("send_openid_29_chars", "POST", "/send", AK,
        {"openId": OID + "_", "data": {"thing1": "a"}}, 400, "bad_request",
        msg="openId"),
    row("send_openid_slash", "POST", "/send", AK,
        {"openId": "/" + OID[1:], "data": {"thing1": "a"}}, 400,
        "bad_request", msg="openId"),
    row("send_openid_cjk", "POST", "/send", AK,
        {"openId": CJK28, "data": {"thing1": "a"}}, 400, "bad_request",
        msg="openId"),
    row("send_openid_escaped_nul", "POST", "/send", AK,
        b'{"openId":"%s\\u0000","data":{"thing1":"a"}}' % OIDB[:27], 400,
        "bad_request", msg="openId"),
    row("send_template_id_number", "POST", "/send", AK,
        snd(templateId=5), 400, "bad_request", msg="templateId"),
    row("send_template_unknown", "POST", "/send", AK,
        snd(templateId="TPL_NOT_CONFIGURED"), 400, "unknown_template",
        msg="TPL_NOT_CONFIGURED"),
    row("send_template_colon_key_injection", "POST", "/send", AK,
        snd(templateId=TPL1 + ":" + OID), 400, "bad_request",
        msg="templateId"),
    row("send_template_star_pattern", "POST", "/send", AK,
        snd(templateId="TPL_*"), 400, "bad_request", msg="templateId"),
    row("send_data_missing", "POST", "/send", AK, {"openId": OID}, 400,
        "bad_request", msg="data"),
    row("send_data_array", "POST", "/send", AK, snd(data=["hello"]), 400,
        "bad_request", msg="data"),
    row("send_data_string", "POST", "/send", AK, snd(data="thing1=hello"),
        400, "bad_request", msg="data"),
    row("send_data_empty_object", "POST", "/send", AK, snd(data={}), 400,
        "bad_request", msg="data"),
    row("send_data_value_number", "POST", "/send", AK,
        snd(data={"thing1": 5}), 400, "bad_request", msg="thing1"),
    row("send_data_value_null", "POST", "/send", AK,
        snd(data={"thing1": None}), 400, "bad_request", msg="thing1"),
    row("send_data_value_array", "POST", "/send", AK,
        snd(data={"thing1": ["a"]}), 400, "bad_request", msg="thing1"),
    row("send_data_value_object_without_value", "POST", "/send", AK,
        snd(data={"thing1": {"v": "a"}}), 400, "bad_request", msg="thing1"),
    row("send_data_value_object_value_number", "POST", "/send", AK,
        snd(data={"thing1": {"value": 5}}), 400, "bad_request",
        msg="thing1"),
    row("send_data_value_object_extra_field", "POST", "/send", AK,
        snd(data={"thing1": {"value": "a", "color": "#f00"}}), 400,
        "bad_request", msg="thing1"),
    row("send_data_key_dot_data", "POST", "/send", AK,
        snd(data={"thing1.DATA": "a"}), 400, "bad_request",
        msg="thing1.DATA"),
    row("send_data_key_path", "POST", "/send", AK, snd(data={"../x": "a"}),
        400, "bad_request", msg="../x"),
    row("send_data_key_empty", "POST", "/send", AK, snd(data={"": "a"}), 400,
        "bad_request", msg="data"),
    row("send_data_key_leading_digit", "POST", "/send", AK,
        snd(data={"1thing": "a"}), 400, "bad_request", msg="1thing"),
    row("send_data_key_space", "POST", "/send", AK,
        snd(data={"thing 1": "a"}), 400, "bad_request", msg="data"),
    row("send_data_key_64_chars", "POST", "/send", AK,
        snd(data={"thing" + "1" * 59: "a"}), 400, "bad_request", msg="data"),
    row("send_data_key_newline", "POST", "/send", AK,
        snd(data={"thing1\n": "a"}), 400, "bad_request", msg="data"),
    # cut at the NUL this key would be thing1: it must not pass as one
    row("send_data_key_escaped_nul", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing1\\u0000x":"a"}}' % OIDB, 400,
        "bad_request", msg="data"),
    row("send_page_object", "POST", "/send", AK, snd(page={"path": "index"}),
        400, "bad_request", msg="page"),
    row("send_page_number", "POST", "/send", AK, snd(page=1), 400,
        "bad_request", msg="page"),
    row("send_page_newline", "POST", "/send", AK,
        snd(page="index\r\nX: y"), 400, "bad_request", msg="page"),
    row("send_page_512_chars", "POST", "/send", AK, snd(page="p" * 512), 400,
        "bad_request", msg="page"),
    row("send_mp_state_invalid", "POST", "/send", AK,
        snd(miniprogramState="production"), 400, "bad_request",
        msg="miniprogramState"),
    row("send_mp_state_wrong_case", "POST", "/send", AK,
        snd(miniprogramState="Formal"), 400, "bad_request",
        msg="miniprogramState"),
    row("send_mp_state_number", "POST", "/send", AK,
        snd(miniprogramState=1), 400, "bad_request", msg="miniprogramState"),
    row("send_lang_invalid", "POST", "/send", AK, snd(lang="fr_FR"), 400,
        "bad_request", msg="lang"),
    row("send_lang_lower_case", "POST", "/send", AK, snd(lang="zh_cn"), 400,
        "bad_request", msg="lang"),
    row("send_lang_array", "POST", "/send", AK, snd(lang=["zh_CN"]), 400,
        "bad_request", msg="lang"),

    # ---- /send: data values breaking WeChat's rules (422 naming the key) ----
    row("send_value_empty", "POST", "/send", AK, snd(data={"thing1": ""}),
        422, "invalid_data", msg="thing1"),
    row("send_value_empty_object_form", "POST", "/send", AK,
        snd(data={"thing1": {"value": ""}}), 422, "invalid_data",
        msg="thing1"),
    row("send_value_newline", "POST", "/send", AK,
        snd(data={"thing1": "a\nb"}), 422, "invalid_data", msg="thing1"),
    row("send_value_carriage_return", "POST", "/send", AK,
        snd(data={"thing1": "a\rb"}), 422, "invalid_data", msg="thing1"),
    row("send_value_tab", "POST", "/send", AK, snd(data={"thing1": "a\tb"}),
        422, "invalid_data", msg="thing1"),
    row("send_value_control_char", "POST", "/send", AK,
        snd(data={"thing1": "a\u0001b"}), 422, "invalid_data", msg="thing1"),
    row("send_value_del", "POST", "/send", AK,
        snd(data={"thing1": "a\u007fb"}), 422, "invalid_data", msg="thing1"),
    row("send_value_c1_control", "POST", "/send", AK,
        snd(data={"thing1": "a\u0085b"}), 422, "invalid_data", msg="thing1"),
    row("send_value_line_separator", "POST", "/send", AK,
        snd(data={"thing1": "a\u2028b"}), 422, "invalid_data", msg="thing1"),
    # \u0000 is refused in the whole body, before any field is looked at
    row("send_value_escaped_nul", "POST", "/send", AK,
        b'{"openId":"%s","data":{"thing1":"a\\u0000b"}}' % OIDB, 400,
        "bad_request", msg="thing1"),
    row("send_value_thing_21_chars", "POST", "/send", AK,
        snd(data={"thing1": "x" * 21}), 422, "invalid_data", msg="thing1"),
    row("send_value_thing_21_cjk", "POST", "/send", AK,
        snd(data={"thing1": "\u4e2d" * 21}), 422, "invalid_data",
        msg="thing1"),
    row("send_value_number_with_letter", "POST", "/send", AK,
        snd(data={"thing1": "ok", "number2": "12a"}), 422, "invalid_data",
        msg="number2"),
    row("send_value_number_33_chars", "POST", "/send", AK,
        snd(data={"number2": "1" * 33}), 422, "invalid_data", msg="number2"),
    row("send_value_letter_with_digit", "POST", "/send", AK,
        snd(data={"letter3": "abc1"}), 422, "invalid_data", msg="letter3"),
    row("send_value_symbol_6", "POST", "/send", AK,
        snd(data={"symbol4": "!!!!!!"}), 422, "invalid_data", msg="symbol4"),
    row("send_value_character_string_space", "POST", "/send", AK,
        snd(data={"character_string5": "SO 1"}), 422, "invalid_data",
        msg="character_string5"),
    row("send_value_time_25h", "POST", "/send", AK,
        snd(data={"time6": "25:00"}), 422, "invalid_data", msg="time6"),
    row("send_value_date_feb_30", "POST", "/send", AK,
        snd(data={"date7": "2019-02-30"}), 422, "invalid_data", msg="date7"),
    # the longest rule (146 bytes) is told whole, not cut short
    row("send_value_date_rule_whole", "POST", "/send", AK,
        snd(data={"date7": "soon"}), 422, "invalid_data",
        msg="date7: date: expected y年m月d日, y年m月, m月d日, YYYY-MM-DD, "
            "YYYY-MM or MM-DD (or with / or .), optionally followed by "
            "HH:MM[:SS]; A~B for a range"),
    row("send_value_amount_separator", "POST", "/send", AK,
        snd(data={"amount8": "1,000"}), 422, "invalid_data", msg="amount8"),
    row("send_value_phone_letters", "POST", "/send", AK,
        snd(data={"phone_number9": "call me"}), 422, "invalid_data",
        msg="phone_number9"),
    row("send_value_car_number_9", "POST", "/send", AK,
        snd(data={"car_number10": "AB1234567"}), 422, "invalid_data",
        msg="car_number10"),
    row("send_value_name_digits", "POST", "/send", AK,
        snd(data={"name11": "R2D2"}), 422, "invalid_data", msg="name11"),
    row("send_value_phrase_latin", "POST", "/send", AK,
        snd(data={"phrase12": "ok"}), 422, "invalid_data", msg="phrase12"),
    row("send_value_phrase_6_cjk", "POST", "/send", AK,
        snd(data={"phrase12": "\u4e2d" * 6}), 422, "invalid_data",
        msg="phrase12"),

    # ---- /subscriptions GET -------------------------------------------------
    row("subs_post_405", "POST", q("openId=" + OID), AK, b"{}", 405,
        "method_not_allowed", allow="GET, HEAD, DELETE"),
    row("subs_put_405", "PUT", q("openId=" + OID), AK, b"{}", 405,
        "method_not_allowed", allow="GET, HEAD, DELETE"),
    row("subs_no_credentials_401", "GET", q("openId=" + OID), {}, None, 401,
        "unauthorized"),
    row("subs_with_session_401", "GET", q("openId=" + OID), SS_GET, None,
        401, "unauthorized"),
    row("subs_basic_401", "GET", q("openId=" + OID),
        {"Authorization": "Basic " + KEY}, None, 401, "unauthorized"),
    row("subs_key_trailing_char_401", "GET", q("openId=" + OID),
        {"Authorization": "Bearer " + KEY + "x"}, None, 401, "unauthorized"),
    row("subs_no_query", "GET", "/subscriptions", AK_GET, None, 400,
        "bad_request", msg="openId"),
    row("subs_openid_lower_case_name", "GET", q("openid=" + OID), AK_GET,
        None, 400, "bad_request", msg="openId"),
    row("subs_openid_without_value", "GET", q("openId"), AK_GET, None, 400,
        "bad_request", msg="openId"),
    row("subs_openid_empty", "GET", q("openId="), AK_GET, None, 400,
        "bad_request", msg="openId"),
    row("subs_openid_27_chars", "GET", q("openId=" + OID[:27]), AK_GET,
        None, 400, "bad_request", msg="openId"),
    row("subs_openid_29_chars", "GET", q("openId=" + OID + "x"), AK_GET,
        None, 400, "bad_request", msg="openId"),
    row("subs_openid_encoded_slash", "GET",
        q("openId=" + OID[:25] + "%2Fxx"), AK_GET, None, 400, "bad_request",
        msg="openId"),
    row("subs_openid_dot", "GET", q("openId=" + OID[:27] + "."), AK_GET,
        None, 400, "bad_request", msg="openId"),
    row("subs_openid_encoded_percent", "GET",
        q("openId=" + OID[:27] + "%25"), AK_GET, None, 400, "bad_request",
        msg="openId"),
    row("subs_openid_plus_space", "GET", q("openId=" + OID[:27] + "+"),
        AK_GET, None, 400, "bad_request", msg="openId"),
    row("subs_openid_cjk", "GET", q("openId=" + PCT_CJK28), AK_GET, None,
        400, "bad_request", msg="openId"),
    row("subs_openid_star_pattern", "GET", q("openId=" + "%2A" * 28), AK_GET,
        None, 400, "bad_request", msg="openId"),
    row("subs_openid_colon", "GET", q("openId=" + OID[:27] + "%3A"), AK_GET,
        None, 400, "bad_request", msg="openId"),
    row("subs_openid_bad_escape", "GET", q("openId=" + OID[:26] + "%zz"),
        AK_GET, None, 400, "bad_request", msg="openId"),
    # lighttpd refuses %00 in a query itself: straight to the process
    row("subs_openid_encoded_nul", "GET", q("openId=" + OID[:27] + "%00"),
        AK_GET, None, 400, "bad_request", msg="openId", via="fcgi"),
    row("subs_openid_raw_newline", "GET", q("openId=" + OID[:27] + "\n"),
        AK_GET, None, 400, "bad_request", msg="openId", via="fcgi"),
    row("subs_template_encoded_nul", "DELETE",
        q("openId=%s&templateId=%s%%00x" % (OID, TPL1)), AK_GET, None, 400,
        "bad_request", msg="templateId", via="fcgi"),
    row("subs_openid_repeated", "GET",
        q("openId=%s&openId=%s" % (OTHER, OID)), AK_GET, None, 400,
        "bad_request", msg="openId"),
    row("subs_template_unknown", "GET",
        q("openId=%s&templateId=TPL_NOT_CONFIGURED" % OID), AK_GET, None,
        400, "unknown_template", msg="TPL_NOT_CONFIGURED"),
    row("subs_template_colon", "GET",
        q("openId=%s&templateId=%s%%3A%s" % (OID, TPL1, OID)), AK_GET, None,
        400, "bad_request", msg="templateId"),
    row("subs_template_star", "GET", q("openId=%s&templateId=*" % OID),
        AK_GET, None, 400, "bad_request", msg="templateId"),
    row("subs_template_empty", "GET", q("openId=%s&templateId=" % OID),
        AK_GET, None, 400, "bad_request", msg="templateId"),
    row("subs_template_repeated", "GET",
        q("openId=%s&templateId=%s&templateId=%s" % (OID, TPL1, TPL2)),
        AK_GET, None, 400, "bad_request", msg="templateId"),
    row("subs_query_too_long", "GET",
        q("openId=%s&pad=%s" % (OID, "p" * 1100)), AK_GET, None, 400,
        "bad_request"),

    # ---- /subscriptions DELETE ----------------------------------------------
    row("subs_delete_no_credentials_401", "DELETE", q("openId=" + OID), {},
        None, 401, "unauthorized"),
    row("subs_delete_with_session_401", "DELETE", q("openId=" + OID),
        SS_GET, None, 401, "unauthorized"),
    row("subs_delete_bearer_empty_401", "DELETE", q("openId=" + OID),
        {"Authorization": "Bearer "}, None, 401, "unauthorized"),
    row("subs_delete_no_openid", "DELETE", "/subscriptions", AK_GET, None,
        400, "bad_request", msg="openId"),
    row("subs_delete_openid_29_chars", "DELETE", q("openId=" + OID + "z"),
        AK_GET, None, 400, "bad_request", msg="openId"),
    row("subs_delete_openid_star_pattern", "DELETE",
        q("openId=" + OID[:27] + "*"), AK_GET, None, 400, "bad_request",
        msg="openId"),
    row("subs_delete_openid_repeated", "DELETE",
        q("openId=%s&openId=%s" % (OID, OID)), AK_GET, None, 400,
        "bad_request", msg="openId"),
    row("subs_delete_template_unknown", "DELETE",
        q("openId=%s&templateId=TPL_NOT_CONFIGURED" % OID), AK_GET, None,
        400, "unknown_template"),
    row("subs_delete_template_star", "DELETE",
        q("openId=%s&templateId=%%2A" % OID), AK_GET, None, 400,
        "bad_request", msg="templateId"),
    row("subs_delete_template_colon", "DELETE",
        q("openId=%s&templateId=SUBSCRIBE%%3A%s" % (OID, TPL1)), AK_GET,
        None, 400, "bad_request", msg="templateId"),
    row("subs_delete_template_bracket_pattern", "DELETE",
        q("openId=%s&templateId=TPL%%5Ba-z%%5D" % OID), AK_GET, None, 400,
        "bad_request", msg="templateId"),

    # ---- /metrics -----------------------------------------------------------
    row("metrics_no_credentials_401", "GET", "/metrics", {}, None, 401,
        "unauthorized"),
    row("metrics_with_session_401", "GET", "/metrics", SS_GET, None, 401,
        "unauthorized"),
    row("metrics_basic_401", "GET", "/metrics",
        {"Authorization": "Basic " + KEY}, None, 401, "unauthorized"),
    row("metrics_key_trailing_char_401", "GET", "/metrics",
        {"Authorization": "Bearer " + KEY + "x"}, None, 401, "unauthorized"),
    row("metrics_post_405", "POST", "/metrics", AK, b"{}", 405,
        "method_not_allowed", allow="GET, HEAD"),
    row("metrics_delete_405", "DELETE", "/metrics", AK_GET, None, 405,
        "method_not_allowed", allow="GET, HEAD"),

    # ---- unknown routes -----------------------------------------------------
    row("route_unknown_404", "GET", "/nope", AK_GET, None, 404, "not_found"),
    row("route_unknown_post_404", "POST", "/nope", AK, GOOD_REC, 404,
        "not_found"),
    row("route_plural_404", "POST", "/sends", AK, GOOD_SEND, 404,
        "not_found"),
    row("route_singular_404", "GET", "/subscription?openId=" + OID, AK_GET,
        None, 404, "not_found"),
    row("route_case_404", "GET", "/Health", {}, None, 404, "not_found"),
    row("route_extension_404", "GET", "/health.json", {}, None, 404,
        "not_found"),
    row("route_below_route_404", "GET", "/metrics/x", AK_GET, None, 404,
        "not_found"),
    row("route_login_below_404", "POST", "/login/x", NOAUTH, b'{"code":"a"}',
        404, "not_found"),
    row("route_unknown_reqid_encoded_crlf_replaced", "GET", "/nope",
        {"X-Request-Id": "a%0d%0aSet-Cookie:%20x=1"}, None, 404,
        "not_found", rid="new"),

    # ---- straight to a FastCGI process: what a web server would not pass ----
    row("fcgi_dotdot_404", "GET", "/../health", {}, None, 404, "not_found",
        via="fcgi"),
    row("fcgi_double_slash_404", "POST", "//send", AK, GOOD_SEND, 404,
        "not_found", via="fcgi"),
    row("fcgi_dot_segment_404", "POST", "/./record", AK, GOOD_REC, 404,
        "not_found", via="fcgi"),
    row("fcgi_trailing_slash_404", "POST", "/send/", AK, GOOD_SEND, 404,
        "not_found", via="fcgi"),
    row("fcgi_dotdot_after_route_404", "POST", "/x/../send", AK, GOOD_SEND,
        404, "not_found", via="fcgi"),
    row("fcgi_encoded_dotdot_404", "GET", "/%2e%2e/metrics", AK_GET, None,
        404, "not_found", via="fcgi"),
    row("fcgi_encoded_nul_404", "GET", "/health%00", {}, None, 404,
        "not_found", via="fcgi"),
    row("fcgi_semicolon_404", "POST", "/send;x", AK, GOOD_SEND, 404,
        "not_found", via="fcgi"),
    row("fcgi_backslash_404", "GET", "/health\\", {}, None, 404, "not_found",
        via="fcgi"),
    row("fcgi_no_leading_slash_404", "GET", "health", {}, None, 404,
        "not_found", via="fcgi"),
    row("fcgi_no_path_info_404", "GET", None, {}, None, 404, "not_found",
        via="fcgi"),
    row("fcgi_route_too_long_404", "GET", "/" + "a" * 80, {}, None, 404,
        "not_found", via="fcgi"),
    row("fcgi_unknown_method_405", "BREW", "/health", {}, None, 405,
        "method_not_allowed", allow="GET, HEAD", via="fcgi"),
    row("fcgi_413_without_reading", "POST", "/send", AK, GOOD_SEND, 413,
        "payload_too_large", via="fcgi", env={"CONTENT_LENGTH": "10000000"}),
    row("fcgi_413_before_415", "POST", "/record", H("key", "text/plain"),
        b"x", 413, "payload_too_large", via="fcgi",
        env={"CONTENT_LENGTH": "70000"}),
    row("fcgi_body_shorter_than_content_length", "POST", "/record", AK,
        GOOD_REC, 400, "bad_request", via="fcgi",
        env={"CONTENT_LENGTH": str(len(GOOD_REC) + 50)}),
    row("fcgi_content_length_not_a_number", "POST", "/record", AK, GOOD_REC,
        400, "bad_request", via="fcgi", env={"CONTENT_LENGTH": "12abc"}),
    row("fcgi_content_length_negative", "POST", "/record", AK, GOOD_REC,
        400, "bad_request", via="fcgi", env={"CONTENT_LENGTH": "-1"}),
    row("fcgi_content_length_plus_sign", "POST", "/record", AK, GOOD_REC,
        400, "bad_request", via="fcgi",
        env={"CONTENT_LENGTH": "+%d" % len(GOOD_REC)}),
    row("fcgi_content_length_overflow", "POST", "/record", AK, GOOD_REC,
        400, "bad_request", via="fcgi",
        env={"CONTENT_LENGTH": "99999999999999999999999"}),
    row("fcgi_reqid_crlf_replaced", "GET", "/nope", {}, None, 404,
        "not_found", via="fcgi", rid="new",
        env={"HTTP_X_REQUEST_ID": "abc\r\nX-Evil: 1"}),
    row("fcgi_reqid_lf_replaced", "POST", "/send", {}, None, 401,
        "unauthorized", via="fcgi", rid="new",
        env={"HTTP_X_REQUEST_ID": "abc\nSet-Cookie: x=1"}),
    row("fcgi_reqid_cr_replaced", "GET", "/metrics", {}, None, 401,
        "unauthorized", via="fcgi", rid="new",
        env={"HTTP_X_REQUEST_ID": "abc\rdef"}),
    row("fcgi_content_type_too_large", "POST", "/record",
        H("key", "application/json; x=" + "y" * 1100), GOOD_REC, 400,
        "bad_request", via="fcgi"),
]


def _fcgi_env(case, headers):
    """A row's headers as FastCGI parameters."""
    e = {"CONTENT_TYPE": None}
    for k, v in headers.items():
        lk = k.lower()
        if lk == "content-type":
            e["CONTENT_TYPE"] = v
        elif lk == "content-length":
            e["CONTENT_LENGTH"] = v
        else:
            e["HTTP_" + k.upper().replace("-", "_")] = v
    if case.body is None:
        e["CONTENT_LENGTH"] = None
    e.update(case.env)
    return e


def _assert_error_shape(tc, r, case, what):
    """status, error code, wxsub's JSON error shape, X-Request-Id."""
    tc.assertEqual(r.headers.get("content-type"), JSON_CT, what)
    tc.assertTrue(r.headers.get("x-request-id"), "%s: no X-Request-Id"
                  % what)
    tc.assertEqual(r.status, case.status, what)
    if case.method == "HEAD":
        return
    tc.assertIsInstance(r.json, dict, what)
    if case.error is None:
        tc.assertIs(r.json.get("ok"), True, what)
        return
    tc.assertEqual(set(r.json), {"ok", "error", "message"},
                   "%s: the error shape is {ok,error,message} (no errcode "
                   "for bad input)" % what)
    tc.assertIs(r.json["ok"], False, what)
    tc.assertEqual(r.json["error"], case.error, what)
    tc.assertIsInstance(r.json["message"], str, what)
    tc.assertTrue(r.json["message"], what)
    if case.msg is not None:
        tc.assertIn(case.msg, r.json["message"], "%s: the message must name "
                    "%r" % (what, case.msg))
    if case.allow is not None:
        got = sorted(m.strip() for m in r.headers.get("allow", "").split(",")
                     if m.strip())
        tc.assertEqual(got, sorted(case.allow.split(", ")), "%s: Allow"
                       % what)


def _login(env, oid, code):
    """A session for oid through /login, its secrets kept from the logs."""
    env.control("POST", "/__control/code", {"code": code, "openid": oid})
    r = env.http("POST", "/login", {"code": code}, auth=False)
    if r.status != 200:
        raise AssertionError("login failed: %r" % r)
    session = r.json["session"]
    env.add_secret("a session token", session)
    for k in env.redis("KEYS", "WXSUB:session:*"):
        sk = env.redis("HGET", k, "k")
        env.add_secret("a session_key", sk)
    return session


def _snapshot(env):
    return {k: v for k, v in env.snapshot().items()
            if not k.startswith("WXSUB:metrics")}


class BadInputTests(E2ECase):
    """Generated: one test per row of ROWS (test_<row name>)."""

    KIND = "logic"

    ROWS = ROWS

    def seed(self):
        """State a refusal must leave alone: credits, a long-term marker,
        a real cached token (so a send that slipped through would really
        be delivered and show)."""
        r = self.env.redis
        r("SET", "SUBSCRIBE:%s:%s" % (TPL1, OID), "2")
        r("SET", "SUBSCRIBE:%s:%s" % (TPL_LONG, OID), "1")
        r("SET", "SUBSCRIBE:%s:%s" % (TPL2, OTHER), "1", "EX", "86400")
        tok, _ = self.env.standin_token()
        r("SET", TOKEN_KEY, tok, "EX", "6000")
        self.env.quota(OID, TPL1, 2)
        self.env.quota(OTHER, TPL2, 1)

    def resolve(self, headers):
        out = {}
        cut = int(headers.pop("session-cut", 0))
        for k, v in headers.items():
            if "@SESSION" in v:
                if self.session is None:
                    self.session = _login(self.env, OID, "bad-input-code")
                s = self.session
                if cut:
                    s = s[:-cut]
                v = v.replace("@SESSION_UPPER@", "WXS_" + s[4:])
                v = v.replace("@SESSION@", s)
            if "@FORGED@" in v:
                forged = "wxs_" + base64.urlsafe_b64encode(
                    os.urandom(32)).decode().rstrip("=")
                v = v.replace("@FORGED@", forged)
            out[k] = v
        return out

    def run_case(self, case):
        self.session = None
        self.seed()
        headers = self.resolve(dict(case.headers))
        sent_rid = None
        if case.rid == "echo":
            sent_rid = "bad-" + case.name[:40]
            headers.setdefault("X-Request-Id", sent_rid)
        before = _snapshot(self.env)
        calls = self.env.calls()
        what = "%s: %s %s" % (case.name, case.method, case.route)
        if case.via == "http":
            url = self.env.script + case.route
            r = http_request(self.env.http_port, case.method, url, case.body,
                             headers, timeout=20)
        else:
            socks = self.env.fastcgi_sockets()
            self.assertTrue(socks, "no FastCGI socket under %s"
                            % self.env.tmp)
            route, query = case.route, ""
            if route is not None and "?" in route:
                route, query = route.split("?", 1)
            fenv = dict(_fcgi_env(case, headers), QUERY_STRING=query)
            t0 = time.monotonic()
            r = self.env.fastcgi(socks[0], case.method, route,
                                 case.body or b"", env=fenv, timeout=20)
            self.assertEqual(r.returncode, 0, "%s: cgi-fcgi: %s"
                             % (what, r.stderr))
            if "413" in case.name:
                self.assertLess(time.monotonic() - t0, 3.0,
                                "%s: a 413 must not wait for the body"
                                % what)
            head = r.stdout.partition(b"\r\n\r\n")[0]
            self.assertNotIn(b"X-Evil", head, what)
            self.assertNotIn(b"Set-Cookie", head, what)
        what += " -> %r" % r
        _assert_error_shape(self, r, case, what)
        rid = r.headers["x-request-id"]
        if case.rid == "echo":
            self.assertEqual(rid, sent_rid, "%s: a sane X-Request-Id is "
                             "echoed" % what)
        else:
            self.assertRegex(rid, REQID_RE, "%s: an insane X-Request-Id is "
                             "replaced by a new one" % what)
            self.assertNotIn("evil", rid.lower(), what)
            self.assertNotIn("\r", rid, what)
            self.assertNotIn("\n", rid, what)
        self.assertNotIn("x-evil", r.headers, what)
        self.assertNotIn("set-cookie", r.headers, what)
        self.assertEqual(_snapshot(self.env), before,
                         "%s: a refused request changed Redis" % what)
        after = self.env.calls()
        self.assertEqual(after, calls, "%s: a refused request called WeChat"
                         % what)

    # -- a few checks outside the table ---------------------------------------

    def test_zz_table_covers_every_route(self):
        routes = {c.route.split("?")[0] for c in ROWS if c.route}
        for rt in ["/health", "/login", "/logout", "/record", "/send",
                   "/subscriptions", "/metrics"]:
            self.assertIn(rt, routes)
        names = [c.name for c in ROWS]
        self.assertEqual(len(names), len(set(names)), "row names repeat")
        self.assertGreaterEqual(len(ROWS), 70)

    def test_zz_allow_header_only_on_405(self):
        """Allow belongs to a 405 (and must then be right): a DELETE
        /subscriptions, refused or done, must not say "Allow: GET"."""
        self.seed()
        for method, route, status in [
                ("DELETE", q("openId=" + OID), 200),
                ("DELETE", q("openId=bad"), 400),
                ("GET", q("openId=" + OID), 200),
                ("GET", q("openId=bad"), 400),
                ("POST", "/record", 400)]:
            with self.subTest(method=method, route=route):
                r = self.env.http(method, route,
                                  {} if method == "POST" else None)
                self.assertEqual(r.status, status, r)
                self.assertNotIn("allow", r.headers,
                                 "%s %s answered %d with Allow: %s" % (
                                     method, route, r.status,
                                     r.headers.get("allow")))

    def test_zz_nesting_of_16_levels_is_accepted(self):
        """The other side of record_nested_arrays_17_levels: 15 arrays in
        the object (16 levels) pass, so the refusal above is the bound."""
        body = raw_rec(b'"templateId":"%s","x":%s%s' % (T1B, b"[" * 15,
                                                        b"]" * 15))
        r = self.env.post("/record", body)
        self.assertOk(r)
        self.assertEqual(self.env.credit(OID, TPL1), 1)


def _make(case):
    def test(self):
        self.run_case(case)
    test.__name__ = "test_" + case.name
    test.__doc__ = None
    return test


for _case in ROWS:
    _name = "test_" + _case.name
    assert re.match(r"test_[a-z0-9_]+\Z", _name), _name
    assert not hasattr(BadInputTests, _name), _name
    setattr(BadInputTests, _name, _make(_case))
del _case, _name
