/*
 * test_push.c: libcrypto wrappers and the push reader (pushmsg.c), with
 * the vectors of wechat-next.md sections 1.2, 1.4 and its appendix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "pushmsg.h"
#include "templates.h"
#include "unit.h"

#define AESKEY	"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#define APPID	"wxb11529c136998cb6"
/* WxJava's ciphertext of "我是中文abcd123" (random aaaabbbbccccdddd) */
#define WXJAVA_CT "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="

static void
test_sha(void)
{
	const char *a[] = { "1514711492", "1714036504", "AAAAA" };
	const char *b[] = { "1714037059", "486452656", "AAAAA" };
	char hex[65];

	CU_ASSERT_EQUAL(crypto_sha1_hex(a, 3, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, "f464b24fc39322e44b38aa78f5edd27bd1441696");
	CU_ASSERT_EQUAL(crypto_sha1_hex(b, 3, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, "899cf89e464efb63f54ddac96b0a0a235f53aa78");
	CU_ASSERT_EQUAL(crypto_sha256_hex("abc", 3, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_TRUE(crypto_equal("abcd", "abcd", 4));
	CU_ASSERT_FALSE(crypto_equal("abcd", "abce", 4));
}

static void
test_base64(void)
{
	uint8_t out[64];
	char enc[64];
	size_t got;

	CU_ASSERT_EQUAL(crypto_b64_decode(AESKEY "=", 44, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 32);
	CU_ASSERT_EQUAL(crypto_b64_encode(out, got, enc, sizeof(enc)), 0);
	/* the key's last character carries bits past the 32 bytes */
	CU_ASSERT_EQUAL(strncmp(enc, AESKEY, 42), 0);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWJj", 4, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 3);
	CU_ASSERT_EQUAL(memcmp(out, "abc", 3), 0);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWI=", 4, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 2);
	CU_ASSERT_EQUAL(crypto_b64_decode("YQ==", 4, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 1);
	CU_ASSERT_EQUAL(crypto_b64_decode("", 0, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 0);
	/* refused: whitespace, '=' inside, a bad length, no room */
	CU_ASSERT_EQUAL(crypto_b64_decode("YW Jj", 5, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("YW\nj", 4, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("Y=Jj", 4, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWJ", 3, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWJjYWJj", 8, out, 5, &got), -1);
}

static void
test_aes(void)
{
	uint8_t key[32], ct[128], pt[128], back[128];
	size_t keylen, ctlen;

	CU_ASSERT_EQUAL(crypto_b64_decode(AESKEY "=", 44, key, sizeof(key), &keylen), 0);
	CU_ASSERT_EQUAL(crypto_b64_decode(WXJAVA_CT, strlen(WXJAVA_CT), ct,
	    sizeof(ct), &ctlen), 0);
	CU_ASSERT_EQUAL(ctlen, 64);
	CU_ASSERT_EQUAL(crypto_aes256cbc(false, key, key, ct, ctlen, pt), 0);
	CU_ASSERT_EQUAL(memcmp(pt, "aaaabbbbccccdddd\0\0\0\x13", 20), 0);
	CU_ASSERT_EQUAL(memcmp(pt + 20, "我是中文abcd123" APPID, 19 + 18), 0);
	CU_ASSERT_EQUAL(pt[63], 7);	/* pad 7, to a 32-byte block */
	CU_ASSERT_EQUAL(crypto_aes256cbc(true, key, key, pt, ctlen, back), 0);
	CU_ASSERT_EQUAL(memcmp(back, ct, ctlen), 0);
	CU_ASSERT_EQUAL(crypto_aes256cbc(false, key, key, ct, 63, pt), -1);
}

/* ---- the push reader ---- */

#define TOKEN	"pamtest"
#define TS	"1714037059"
#define NOW	1714037059LL
#define NONCE	"486452656"
#define OPENID	"o7esq5OI1Uej6Xixw1lA2H7XDVbc"
/* wechat-next.md, appendix: the popup event, encrypted with the key above */
#define APPX_CT "jn1L23DB+6ELqJ+6bruv20wwA6zKDxnLqvqNVy9PfTK6ybK1RL4bh1DPBR3BiidnqGwIjy3mEkMTaE/HTfAOmYb2h2dKRE4myOOEfZC631eubGMVEEJaB1LPvgKBaU0cyWUTYJvX//w0nQI1kIbvzYRH/eekYO4tkrh3SFyC6aRzI1PRdZIxFckJTqcmPmuJ9UKvYMa44xG1ZGflRrE2i9sASH47Cp1e7Bvanq/3IKDAbtRJv7krBQ6GgvFRutW8ZzCu7VADGq+G2hQX3TP/6ZiY7nhW5BxTedJySfZK+9X796wtLbgWAi7AYDhAiLSRO5RXe/vusxHvQitj2aqbrP3wLPq+Ixtd65on0IiNAKbBoAQdaOO6RVJ7HICQ4Q9DzQDAilZ6TdISO/aQDXh0IQg43ODnkEx2GDXd50/i/ro="
#define APPX_MSIG "24667e6d9b75b3b21eb9112132b14a81f111442e"
#define APPX_SIG "48189228ce43f08b0c670d025ae5e10d003f997a"

static const struct push_conf pconf = {
	.token = TOKEN, .aes_key = AESKEY, .appid = APPID, .max_skew = 300,
};

static enum wx_err
rd(const char *query, const char *ctype, const char *body, struct push_msg *m)
{
	struct wxe pe;

	return push_read(&pconf, query, ctype, body, strlen(body), NOW, m, &pe);
}

static void
test_verify(void)
{
	struct push_conf c = pconf;
	char *echo = NULL;
	struct wxe pe;

	c.token = "AAAAA";
	CU_ASSERT_EQUAL(push_verify(&c, "signature=f464b24fc39322e44b38aa78f5edd27bd1441696"
	    "&timestamp=1714036504&nonce=1514711492&echostr=ab%2Bc", 1714036504,
	    &echo, &pe), WX_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(echo);
	CU_ASSERT_STRING_EQUAL(echo, "ab+c");
	free(echo);
	/* upper-case hex is the same signature */
	CU_ASSERT_EQUAL(push_verify(&c, "signature=F464B24FC39322E44B38AA78F5EDD27BD1441696"
	    "&timestamp=1714036504&nonce=1514711492&echostr=x", 1714036504,
	    &echo, &pe), WX_OK);
	free(echo);
	CU_ASSERT_EQUAL(push_verify(&c, "signature=f464b24fc39322e44b38aa78f5edd27bd1441697"
	    "&timestamp=1714036504&nonce=1514711492&echostr=x", 1714036504,
	    &echo, &pe), WX_BAD_SIGNATURE);
	CU_ASSERT_PTR_NULL(echo);
	/* stale: 301 s late */
	CU_ASSERT_EQUAL(push_verify(&c, "signature=f464b24fc39322e44b38aa78f5edd27bd1441696"
	    "&timestamp=1714036504&nonce=1514711492&echostr=x", 1714036504 + 301,
	    &echo, &pe), WX_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(push_verify(&c, "timestamp=1714036504&nonce=1514711492&echostr=x",
	    1714036504, &echo, &pe), WX_BAD_SIGNATURE);
	c.token = "AAAAB";
	CU_ASSERT_EQUAL(push_verify(&c, "signature=f464b24fc39322e44b38aa78f5edd27bd1441696"
	    "&timestamp=1714036504&nonce=1514711492&echostr=x", 1714036504,
	    &echo, &pe), WX_BAD_SIGNATURE);
}

#define SAFEQ(sig, msig) "signature=" sig "&timestamp=" TS "&nonce=" NONCE \
	"&encrypt_type=aes&msg_signature=" msig

static void
test_safe_appendix(void)
{
	struct push_conf c = pconf;
	struct push_msg m;
	struct wxe pe;
	char *msg = pe.msg;
	const char *body = "{\"ToUserName\":\"gh_123456789abc\",\"Encrypt\":\"" APPX_CT "\"}";

	CU_ASSERT_EQUAL_FATAL(rd(SAFEQ(APPX_SIG, APPX_MSIG), "application/json", body, &m), WX_OK);
	CU_ASSERT_TRUE(m.encrypted);
	CU_ASSERT_TRUE(m.json);
	CU_ASSERT_EQUAL(m.kind, PUSH_POPUP);
	CU_ASSERT_STRING_EQUAL(m.from, OPENID);
	CU_ASSERT_EQUAL(m.create_time, 1620973045);
	CU_ASSERT_EQUAL_FATAL(m.n, 1);
	CU_ASSERT_STRING_EQUAL(m.items[0].template_id, "hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vzyvQu7O68");
	CU_ASSERT_STRING_EQUAL(m.items[0].status, "accept");
	/* without the plain signature, msg_signature alone is enough */
	CU_ASSERT_EQUAL(rd("timestamp=" TS "&nonce=" NONCE "&encrypt_type=aes&msg_signature="
	    APPX_MSIG, NULL, body, &m), WX_OK);
	/* forged: each signature, the timestamp, the appid, no key */
	CU_ASSERT_EQUAL(rd(SAFEQ(APPX_SIG, "24667e6d9b75b3b21eb9112132b14a81f111442f"),
	    NULL, body, &m), WX_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(rd(SAFEQ("48189228ce43f08b0c670d025ae5e10d003f997b", APPX_MSIG),
	    NULL, body, &m), WX_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(rd("signature=" APPX_SIG "&timestamp=" TS "&nonce=" NONCE
	    "&encrypt_type=aes", NULL, body, &m), WX_BAD_SIGNATURE);
	c.appid = "wxb11529c136998cb7";
	CU_ASSERT_EQUAL(push_read(&c, SAFEQ(APPX_SIG, APPX_MSIG), NULL, body,
	    strlen(body), NOW, &m, &pe), WX_BAD_SIGNATURE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "appid"));
	c.appid = APPID;
	CU_ASSERT_EQUAL(push_read(&c, SAFEQ(APPX_SIG, APPX_MSIG), NULL, body,
	    strlen(body), NOW + 301, &m, &pe), WX_BAD_SIGNATURE);
	c.aes_key = "";
	CU_ASSERT_EQUAL(push_read(&c, SAFEQ(APPX_SIG, APPX_MSIG), NULL, body,
	    strlen(body), NOW, &m, &pe), WX_BAD_SIGNATURE);
}

/* Encrypt a raw plaintext (pad and all) and sign it: for broken pads. */
static void
seal(const uint8_t *pt, size_t len, char *b64, size_t b64len, char *query,
    size_t qlen)
{
	uint8_t key[35], ct[512];
	size_t keylen;
	char sig[41];
	const char *p[4];

	CU_ASSERT_FATAL(len <= sizeof(ct));
	crypto_b64_decode(AESKEY "=", 44, key, sizeof(key), &keylen);
	CU_ASSERT_EQUAL(crypto_aes256cbc(true, key, key, pt, len, ct), 0);
	CU_ASSERT_EQUAL(crypto_b64_encode(ct, len, b64, b64len), 0);
	p[0] = NONCE; p[1] = TS; p[2] = b64; p[3] = TOKEN;
	for (size_t i = 1; i < 4; i++)		/* sorted as byte strings */
		for (size_t j = i; j > 0 && strcmp(p[j - 1], p[j]) > 0; j--) {
			const char *t = p[j];
			p[j] = p[j - 1];
			p[j - 1] = t;
		}
	CU_ASSERT_EQUAL(crypto_sha1_hex(p, 4, sig), 0);
	snprintf(query, qlen, "timestamp=" TS "&nonce=" NONCE
	    "&encrypt_type=aes&msg_signature=%s", sig);
}

static enum wx_err
sealed(const uint8_t *pt, size_t len, struct push_msg *m)
{
	char b64[1024], q[256], body[1200];

	seal(pt, len, b64, sizeof(b64), q, sizeof(q));
	snprintf(body, sizeof(body), "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
	    "<Encrypt><![CDATA[%s]]></Encrypt></xml>", b64);
	return rd(q, "text/xml", body, m);
}

static void
test_safe_pads(void)
{
	static const char xmlmsg[] = "<xml><ToUserName>gh_1</ToUserName>"
	    "<FromUserName>" OPENID "</FromUserName><CreateTime>1</CreateTime>"
	    "<MsgType>text</MsgType><A>aaa</A></xml>";	/* 156 bytes: pad 30 */
	uint8_t pt[256];
	size_t mlen = strlen(xmlmsg), alen = strlen(APPID), base = 20 + mlen + alen;
	size_t total, pad;
	struct push_msg m;

	memcpy(pt, "0123456789abcdef", 16);
	pt[16] = 0; pt[17] = 0; pt[18] = (uint8_t)(mlen >> 8); pt[19] = (uint8_t)mlen;
	memcpy(pt + 20, xmlmsg, mlen);
	memcpy(pt + 20 + mlen, APPID, alen);
	/* pad 30 (above 16: OpenSSL's own unpadding says "bad decrypt") */
	pad = 32 - base % 32;
	CU_ASSERT_EQUAL_FATAL(pad, 30);
	total = base + pad;
	memset(pt + base, (int)pad, pad);
	CU_ASSERT_EQUAL(sealed(pt, total, &m), WX_OK);
	CU_ASSERT_TRUE(m.encrypted);
	CU_ASSERT_STRING_EQUAL(m.msg_type, "text");
	/* pad 0 */
	memset(pt + base, 0, pad);
	CU_ASSERT_EQUAL(sealed(pt, total, &m), WX_BAD_SIGNATURE);
	/* pad 33 (one more block of it) */
	memset(pt + base, 33, pad + 32);
	CU_ASSERT_EQUAL(sealed(pt, total + 32, &m), WX_BAD_SIGNATURE);
	/* a pad byte that differs from the others */
	memset(pt + base, (int)pad, pad);
	pt[base] = 29;
	CU_ASSERT_EQUAL(sealed(pt, total, &m), WX_BAD_SIGNATURE);
	pt[base] = (uint8_t)pad;
	/* a length past the end */
	pt[19] = (uint8_t)(mlen + alen + 1);
	pt[18] = (uint8_t)((mlen + alen + 1) >> 8);
	CU_ASSERT_EQUAL(sealed(pt, total, &m), WX_BAD_SIGNATURE);
	/* a length that leaves a wrong appid */
	pt[19] = (uint8_t)(mlen + 1);
	pt[18] = (uint8_t)((mlen + 1) >> 8);
	CU_ASSERT_EQUAL(sealed(pt, total, &m), WX_BAD_SIGNATURE);
}

static void
test_encrypt_roundtrip(void)
{
	static const char body[] = "{\"ToUserName\":\"gh_123456789abc\",\"FromUserName\":\""
	    OPENID "\",\"CreateTime\":\"1620973045\",\"MsgType\":\"event\",\"Event\":"
	    "\"subscribe_msg_popup_event\",\"List\":{\"TemplateId\":\"hD-ixGOhYmUfjOnI8MCzQ"
	    "MPshzGVeux_2vzyvQu7O68\",\"SubscribeStatusString\":\"accept\",\"PopupScene\":\"0\"}}";
	char out[1024];

	CU_ASSERT_EQUAL(push_encrypt(AESKEY, APPID, (const uint8_t *)"aaaabbbbccccdddd",
	    body, strlen(body), out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, APPX_CT);
	CU_ASSERT_EQUAL(push_encrypt(AESKEY, APPID, (const uint8_t *)"aaaabbbbccccdddd",
	    body, strlen(body), out, 100), -1);
}

/* plain mode, token pamtest, the appendix's timestamp and nonce */
#define PLAINQ	"signature=" APPX_SIG "&timestamp=" TS "&nonce=" NONCE
#define HEAD(ev) "\"ToUserName\":\"gh_1\",\"FromUserName\":\"" OPENID "\"," \
	"\"CreateTime\":1620973045,\"MsgType\":\"event\",\"Event\":\"" ev "\""
#define T1	"TPL_ONE_TIME_0001"
#define T2	"TPL_ONE_TIME_0002"

static void
test_shapes(void)
{
	static const char *const popups[] = {
		/* (a) one item: an object; several: an array */
		"{" HEAD("subscribe_msg_popup_event") ",\"List\":{\"TemplateId\":\"" T1
		    "\",\"SubscribeStatusString\":\"accept\",\"PopupScene\":\"0\"}}",
		/* (b) an array even for one */
		"{" HEAD("subscribe_msg_popup_event") ",\"List\":[{\"TemplateId\":\"" T1
		    "\",\"SubscribeStatusString\":\"accept\",\"PopupScene\":0}]}",
		/* (c) inside the event-named wrapper */
		"{" HEAD("subscribe_msg_popup_event") ",\"SubscribeMsgPopupEvent\":"
		    "{\"List\":{\"TemplateId\":\"" T1 "\",\"SubscribeStatusString\":\"accept\"}}}",
		/* (d) the wrapper as an array */
		"{" HEAD("subscribe_msg_popup_event") ",\"SubscribeMsgPopupEvent\":"
		    "[{\"TemplateId\":\"" T1 "\",\"SubscribeStatusString\":\"accept\"}]}",
		/* XML */
		"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA["
		    OPENID "]]></FromUserName><CreateTime>1620973045</CreateTime>"
		    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]>"
		    "</Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[" T1
		    "]]></TemplateId><SubscribeStatusString><![CDATA[accept]]>"
		    "</SubscribeStatusString><PopupScene>0</PopupScene></List>"
		    "</SubscribeMsgPopupEvent></xml>",
		/* XML, List at the top */
		"<?xml version=\"1.0\"?>\n<xml><FromUserName>" OPENID "</FromUserName>"
		    "<CreateTime>1620973045</CreateTime><MsgType>event</MsgType>"
		    "<Event>subscribe_msg_popup_event</Event><List><TemplateId>" T1
		    "</TemplateId><SubscribeStatusString>accept</SubscribeStatusString></List></xml>",
	};
	struct push_msg m;
	char id[256];

	for (size_t i = 0; i < sizeof(popups) / sizeof(popups[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(rd(PLAINQ, NULL, popups[i], &m), WX_OK);
		CU_ASSERT_FALSE(m.encrypted);
		CU_ASSERT_EQUAL(m.kind, PUSH_POPUP);
		CU_ASSERT_EQUAL(m.create_time, 1620973045);
		CU_ASSERT_STRING_EQUAL(m.from, OPENID);
		CU_ASSERT_EQUAL_FATAL(m.n, 1);
		CU_ASSERT_STRING_EQUAL(m.items[0].template_id, T1);
		CU_ASSERT_STRING_EQUAL(m.items[0].status, "accept");
		CU_ASSERT_EQUAL(push_dedup_id(&m, id, sizeof(id)), 0);
		CU_ASSERT_STRING_EQUAL(id, OPENID "|1620973045|subscribe_msg_popup_event");
	}
	/* sent events: strings for numbers, the wrapper, two items in XML */
	CU_ASSERT_EQUAL_FATAL(rd(PLAINQ, "application/json", "{" HEAD("subscribe_msg_sent_event")
	    ",\"SubscribeMsgSentEvent\":{\"List\":{\"TemplateId\":\"" T1 "\",\"MsgID\":"
	    "\"1864323726461255680\",\"ErrorCode\":\"0\",\"ErrorStatus\":\"success\"}}}", &m), WX_OK);
	CU_ASSERT_EQUAL(m.kind, PUSH_SENT);
	CU_ASSERT_STRING_EQUAL(m.items[0].msgid, "1864323726461255680");
	CU_ASSERT_TRUE(m.items[0].has_errcode);
	CU_ASSERT_EQUAL(m.items[0].errcode, 0);
	CU_ASSERT_EQUAL(push_dedup_id(&m, id, sizeof(id)), 0);
	CU_ASSERT_STRING_EQUAL(id, OPENID "|1620973045|subscribe_msg_sent_event|1864323726461255680");
	CU_ASSERT_EQUAL_FATAL(rd(PLAINQ, "text/xml", "<xml><FromUserName>" OPENID
	    "</FromUserName><CreateTime>1610969468</CreateTime><MsgType>event</MsgType>"
	    "<Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List>"
	    "<TemplateId>" T1 "</TemplateId><MsgID>1700827132819554304</MsgID><ErrorCode>0"
	    "</ErrorCode><ErrorStatus>success</ErrorStatus></List><List><TemplateId>" T2
	    "</TemplateId><MsgID>18446744073709551615</MsgID><ErrorCode>10605</ErrorCode>"
	    "<ErrorStatus>fail</ErrorStatus></List></SubscribeMsgSentEvent></xml>", &m), WX_OK);
	CU_ASSERT_EQUAL_FATAL(m.n, 2);
	CU_ASSERT_STRING_EQUAL(m.items[1].msgid, "18446744073709551615");
	CU_ASSERT_EQUAL(m.items[1].errcode, 10605);
	/* a JSON number MsgID above 2^63 */
	CU_ASSERT_EQUAL_FATAL(rd(PLAINQ, NULL, "{" HEAD("subscribe_msg_sent_event")
	    ",\"List\":[{\"TemplateId\":\"" T1 "\",\"MsgID\":18446744073709551615,"
	    "\"ErrorCode\":0},{\"TemplateId\":\"" T2 "\",\"MsgID\":7,\"ErrorCode\":\"-1\"}]}",
	    &m), WX_OK);
	CU_ASSERT_EQUAL_FATAL(m.n, 2);
	CU_ASSERT_STRING_EQUAL(m.items[0].msgid, "18446744073709551615");
	CU_ASSERT_EQUAL(m.items[1].errcode, -1);
	/* change event */
	CU_ASSERT_EQUAL_FATAL(rd(PLAINQ, NULL, "{" HEAD("subscribe_msg_change_event")
	    ",\"List\":{\"TemplateId\":\"" T1 "\",\"SubscribeStatusString\":\"reject\"}}", &m), WX_OK);
	CU_ASSERT_EQUAL(m.kind, PUSH_CHANGE);
	CU_ASSERT_STRING_EQUAL(m.items[0].status, "reject");
	/* anything else is read and left alone */
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "{\"ToUserName\":\"gh_1\",\"FromUserName\":\"x\","
	    "\"CreateTime\":1714037059,\"MsgType\":\"event\",\"Event\":\"debug_demo\","
	    "\"debug_str\":\"hello world\"}", &m), WX_OK);
	CU_ASSERT_EQUAL(m.kind, PUSH_OTHER);
}

static void
test_refusals(void)
{
	struct push_msg m;

	/* unsigned, wrongly signed, stale */
	CU_ASSERT_EQUAL(rd("timestamp=" TS "&nonce=" NONCE, NULL, "{}", &m), WX_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(rd("signature=48189228ce43f08b0c670d025ae5e10d003f997b&timestamp="
	    TS "&nonce=" NONCE, NULL, "{}", &m), WX_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(rd("signature=" APPX_SIG "&timestamp=1714036000&nonce=" NONCE,
	    NULL, "{}", &m), WX_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(rd(PLAINQ "&signature=" APPX_SIG, NULL, "{}", &m), WX_BAD_SIGNATURE);
	/* signed but unreadable: 400 */
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "{", &m), WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "<xml><a></xml>", &m), WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "{" HEAD("subscribe_msg_popup_event") "}", &m),
	    WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "{" HEAD("subscribe_msg_sent_event")
	    ",\"List\":{\"TemplateId\":\"" T1 "\",\"MsgID\":\"12x\",\"ErrorCode\":0}}", &m),
	    WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "{" HEAD("subscribe_msg_popup_event")
	    ",\"List\":{\"TemplateId\":\"T 1\",\"SubscribeStatusString\":\"accept\"}}", &m),
	    WX_BAD_REQUEST);
	/* entities: no DOCTYPE at all, so no billion laughs */
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "<?xml version=\"1.0\"?><!DOCTYPE lolz ["
	    "<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>"
	    "<xml><FromUserName>&lol2;</FromUserName></xml>", &m), WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><xml/>", &m),
	    WX_BAD_REQUEST);
	/* depth */
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "<a><b><c><d><e><f><g><h><i>x</i></h></g></f>"
	    "</e></d></c></b></a>", &m), WX_BAD_REQUEST);
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "<a><b><c><d><e><f><g><h>x</h></g></f>"
	    "</e></d></c></b></a>", &m), WX_OK);
	/* an encrypted push that is not signed as one */
	CU_ASSERT_EQUAL(rd(PLAINQ, NULL, "{\"Encrypt\":\"" APPX_CT "\"}", &m),
	    WX_BAD_SIGNATURE);
}

/* ---- the template list (templates.c) ---- */

static void
test_templates(void)
{
	static const char answer[] = "{\"errcode\":0,\"errmsg\":\"ok\",\"data\":["
	    "{\"priTmplId\":\"T1\",\"title\":\"会议\",\"content\":\"会议时间:{{date2.DATA}}"
	    "\\n会议地点:{{thing1.DATA}}\\n状态：{{enum_string3.DATA}}\\n\",\"example\":\"\","
	    "\"type\":2,\"keywordEnumValueList\":[{\"keywordCode\":\"{{enum_string3.DATA}}\","
	    "\"enumValueList\":[\"开\",\"关\"]}]},"
	    "{\"priTmplId\":\"T2\",\"title\":\"x\",\"content\":\"{{phrase1.DATA}}{{bad.data}}\","
	    "\"type\":3,\"keywordEnumValueList\":[{\"keywordCode\":\"phrase1\","
	    "\"enumValueList\":[\"a\"]}]},"
	    "{\"title\":\"no id\",\"content\":\"{{thing1.DATA}}\"}]}";
	json_object *list = NULL, *t, *kws, *kw, *v;
	struct wxe ans;
	struct wx_item d[3] = {
		{ "date2", "2026-12-04", 10 }, { "thing1", "A", 1 },
		{ "enum_string3", "开", 3 },
	};
	struct wxe pe;
	char *msg = pe.msg;

	CU_ASSERT_EQUAL_FATAL(tpl_read_wechat(200, answer, strlen(answer), &list,
	    &ans), WX_OK);
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(list), 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t = tpl_find(list, "T1"));
	CU_ASSERT_FALSE(tpl_is_longterm(t));
	CU_ASSERT_TRUE(json_object_object_get_ex(t, "keywords", &kws));
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(kws), 3);
	kw = json_object_array_get_idx(kws, 2);
	json_object_object_get_ex(kw, "key", &v);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), "enum_string3");
	json_object_object_get_ex(kw, "name", &v);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), "状态");
	CU_ASSERT_TRUE(json_object_object_get_ex(kw, "enum", &v));
	CU_ASSERT_TRUE(tpl_is_longterm(tpl_find(list, "T2")));
	CU_ASSERT_PTR_NULL(tpl_find(list, "T3"));

	CU_ASSERT_EQUAL(tpl_check(t, d, 3, &pe), WX_OK);
	CU_ASSERT_EQUAL(pe.err, WX_OK);
	CU_ASSERT_STRING_EQUAL(pe.msg, "");
	CU_ASSERT_EQUAL(tpl_check(t, d, 2, &pe), WX_INVALID_DATA);
	CU_ASSERT_EQUAL(pe.err, WX_INVALID_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "enum_string3"));
	d[2].value = "半";
	CU_ASSERT_EQUAL(tpl_check(t, d, 3, &pe), WX_INVALID_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "enum_string3"));
	d[2].key = "thing9";
	CU_ASSERT_EQUAL(tpl_check(t, d, 3, &pe), WX_INVALID_DATA);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "thing9"));
	json_object_put(list);

	/* WeChat's refusals */
	CU_ASSERT_EQUAL(tpl_read_wechat(200, "{\"errcode\":45009,\"errmsg\":\"quota\"}",
	    35, &list, &ans), WX_UPSTREAM);
	CU_ASSERT_EQUAL(ans.err, WX_UPSTREAM);
	CU_ASSERT_EQUAL(ans.errcode, 45009);
	CU_ASSERT_EQUAL(tpl_read_wechat(500, "x", 1, &list, &ans), WX_UPSTREAM);
	CU_ASSERT_EQUAL(tpl_read_wechat(200, "{\"errcode\":0}", 13, &list, &ans),
	    WX_UPSTREAM);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "SHA-1 signatures, SHA-256", test_sha },
		{ "base64", test_base64 },
		{ "AES-256-CBC, WxJava vector", test_aes },
		{ "GET verification, official vectors", test_verify },
		{ "safe mode, the appendix's vector", test_safe_appendix },
		{ "safe mode, pads and lengths", test_safe_pads },
		{ "encrypt as WeChat does", test_encrypt_roundtrip },
		{ "every shape of section 1.5", test_shapes },
		{ "refusals", test_refusals },
		{ "getTemplateList read, data checked", test_templates },
	};

	return unit_run("push", tests, sizeof(tests) / sizeof(tests[0]));
}
