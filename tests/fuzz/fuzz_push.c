/*
 * fuzz_push.c: libFuzzer target for WeChat's pushes, read the way /event
 * reads them (push_verify, push_read): query and body are what anyone on
 * the Internet can send to the push URL.
 *
 * Input: byte 0 holds flags: bit 0 a GET (URL verification) instead of a
 * POST; bits 1-2 the Content-Type (none, text/xml, application/json,
 * text/plain); bit 3 "seal": the body is the message inside a safe-mode
 * push, which the harness encrypts and signs as WeChat would (with bit 4
 * choosing a JSON envelope over XML), so that the fuzzer reaches the
 * decrypted reader past the signature. Then the query up to the first
 * '\n', then the body, in an exact-size heap block (ASan sees any read
 * past its end). The clock is fixed at the seeds' timestamp.
 *
 * Besides crashes, leaks and UB it checks what /event relies on:
 *   - the verdict is WX_OK, WX_BAD_SIGNATURE or WX_BAD_REQUEST (or
 *     WX_INTERNAL, out of memory); a refused push is applied by nobody,
 *     so a refusal must be one of these and say why;
 *   - the reason is UTF-8 without control characters (it goes into the
 *     JSON answer and the log);
 *   - a push read as plain is one whose query carries a right signature,
 *     and one read as encrypted carries msg_signature: nothing unsigned
 *     is ever believed;
 *   - a subscribe event read as OK has an openId, 1..PUSH_MAX_ITEMS
 *     entries and a template id in each; a sent event a MsgID of digits;
 *   - GET: echostr comes back only with a right signature.
 *
 * With FUZZ_REDIS_SOCKET (tests/fuzz/run starts a redis-server for it)
 * and bit 5 set, the same request also goes through /event's handler
 * (h_event) against that Redis, sealed inputs with the current time so
 * that they are applied: a push refused (4xx) must leave Redis exactly as
 * it was (DEBUG DIGEST before and after), and one applied is answered
 * "success". Log lines must be escaped (no control byte).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "app.h"
#include "crypto.h"
#include "handlers.h"
#include "log.h"
#include "pushmsg.h"
#include "request.h"
#include "validate.h"
#include "utf8.h"

#define FUZZ_MAX	16384
#define TOKEN		"pamtest"
#define AESKEY		"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#define APPID		"wxb11529c136998cb6"
#define NOW		1714037059LL

static const struct push_conf conf = {
	.token = TOKEN, .aes_key = AESKEY, .appid = APPID, .max_skew = 300,
};
static const char *const ctypes[] = { NULL, "text/xml", "application/json",
	"text/plain" };

static struct app	 app;		/* /event's handler, with Redis */
static redisContext	*rc;		/* the fuzzer's own look at it */
static bool		 have_redis;

/* printf format: the redis.url. */
static const char conf_fmt[] =
	"# written by fuzz_push.c\n"
	"wechat.appid = " APPID "\n"
	"wechat.secret = x\n"
	"wechat.templateIds = TPL_ONE_TIME_0001,TPL_ONE_TIME_0002\n"
	"wechat.longTermTemplateIds = TPL_LONG_TERM_0001\n"
	"wechat.apiBase = http://127.0.0.1:1\n"
	"redis.url = %s\n"
	"push.token = " TOKEN "\n"
	"push.aesKey = " AESKEY "\n"
	"subscribe.source = events\n"
	"log.level = error\n";

/* WeChat signs its parts sorted as byte strings: the model sorts by hand. */
static void
sort_parts(const char **p, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(p[i], p[j]) > 0) {
				const char *t = p[i];
				p[i] = p[j];
				p[j] = t;
			}
}

static void
check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_push: invariant broken: %s\n", what);
	abort();
}

/* The log promises escaped lines: no control byte reaches the sink. */
static void
sink(const char *line, void *arg)
{
	(void)arg;
	for (; *line != '\0'; line++)
		check((unsigned char)*line >= 0x20 && *line != 0x7f,
		    "a log line holds no control byte");
}

static void
redis_digest(char out[64])
{
	redisReply *r = redisCommand(rc, "DEBUG DIGEST");

	check(r != NULL && (r->type == REDIS_REPLY_STATUS ||
	    r->type == REDIS_REPLY_STRING), "DEBUG DIGEST answers");
	snprintf(out, 64, "%s", r->str);
	freeReplyObject(r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *sock = getenv("FUZZ_REDIS_SOCKET");
	char path[] = "/tmp/fuzz_push.conf.XXXXXX", text[sizeof(conf_fmt) + 300];
	char url[256];
	int fd, n;

	(void)argc;
	(void)argv;
	log_set_sink(sink, NULL);
	if (sock == NULL || *sock == '\0')
		return 0;
	snprintf(url, sizeof(url), "unix://%s", sock);
	n = snprintf(text, sizeof(text), conf_fmt, url);
	if (n < 0 || (size_t)n >= sizeof(text) || (fd = mkstemp(path)) < 0 ||
	    write(fd, text, (size_t)n) != (ssize_t)n || close(fd) != 0 ||
	    app_init(&app, path) != 0 || !app.cfg_ok) {
		fprintf(stderr, "fuzz_push: app_init failed: %s\n", app.cfg_err);
		exit(1);
	}
	unlink(path);
	if ((rc = redisConnectUnix(sock)) == NULL || rc->err) {
		fprintf(stderr, "fuzz_push: no Redis at %s\n", sock);
		exit(1);
	}
	have_redis = true;
	return 0;
}

/*
 * The request through h_event against the real Redis: a refusal leaves
 * it as it was; what is applied is answered "success".
 */
static void
through_handler(const char *query, const char *ctype, char *body, size_t len)
{
	struct request r;
	struct response resp;
	char before[64], after[64];
	enum wx_err err;

	req_init(&r);
	resp_init(&resp);
	r.method = M_POST;
	snprintf(r.route, sizeof(r.route), "/event");
	snprintf(r.query, sizeof(r.query), "%s", query);
	snprintf(r.content_type, sizeof(r.content_type), "%s", ctype ? ctype : "");
	snprintf(r.reqid, sizeof(r.reqid), "fuzz");
	r.body = body;
	r.body_len = len;
	redis_digest(before);
	/* The dispatcher's one exit (app.c): a handler's failure is answered
	 * from the request's carrier. */
	if ((err = h_event(&app, &r, &resp)) != WX_OK) {
		r.e.err = err;
		resp_fail(&resp, &r.e);
	}
	redis_digest(after);
	check(resp.status != 0, "an answer");
	if (resp.status >= 400 && resp.status < 500)
		check(strcmp(before, after) == 0, "a refused push changes nothing");
	if (resp.status == 200)
		check(resp.text != NULL && resp.text_len == 7 &&
		    memcmp(resp.text, "success", 7) == 0, "200 says success");
	r.body = NULL;		/* the caller's */
	resp_reset(&resp);
	req_reset(&r);
}

/* Does the query carry a right plain signature? */
static bool
signed_plain(const char *query)
{
	char sig[64], ts[64], nonce[128], want[41];
	const char *p[3];

	if (req_query(query, "signature", sig, sizeof(sig)) != 1 ||
	    req_query(query, "timestamp", ts, sizeof(ts)) != 1 ||
	    req_query(query, "nonce", nonce, sizeof(nonce)) != 1)
		return false;
	p[0] = TOKEN;
	p[1] = ts;
	p[2] = nonce;
	sort_parts(p, 3);
	if (crypto_sha1_hex(p, 3, want) != 0 || strlen(sig) != 40)
		return false;
	for (int i = 0; i < 40; i++)
		if ((sig[i] | 0x20) != want[i])
			return false;
	return true;
}

static void
check_msg(const char *msg)
{
	size_t n = strnlen(msg, 256);

	check(n < 256, "the reason ends inside its buffer");
	check(utf8_valid(msg, n) && !val_has_control(msg, n),
	    "the reason is UTF-8 without control characters");
}

/* Wrap inner as WeChat's safe mode does; the query and body into q, b. */
static bool
seal(const char *inner, size_t len, bool json, long long ts, char *q,
    size_t qlen, char **b, size_t *blen)
{
	char tsb[24];
	static const uint8_t rnd[16] = "fuzzfuzzfuzzfuzz";
	char *enc, sig[41];
	const char *p[4];
	size_t cap = (len + 64) / 3 * 4 + 256;

	if ((enc = malloc(cap)) == NULL)
		return false;
	if (push_encrypt(AESKEY, APPID, rnd, inner, len, enc, cap) != 0) {
		free(enc);
		return false;
	}
	snprintf(tsb, sizeof(tsb), "%lld", ts);
	p[0] = tsb;
	p[1] = "486452656";
	p[2] = enc;
	p[3] = TOKEN;
	sort_parts(p, 4);
	crypto_sha1_hex(p, 4, sig);
	snprintf(q, qlen, "timestamp=%s&nonce=486452656"
	    "&encrypt_type=aes&msg_signature=%s", tsb, sig);
	*blen = strlen(enc) + 64;
	if ((*b = malloc(*blen)) == NULL) {
		free(enc);
		return false;
	}
	*blen = (size_t)snprintf(*b, *blen, json ? "{\"Encrypt\":\"%s\"}" :
	    "<xml><Encrypt><![CDATA[%s]]></Encrypt></xml>", enc);
	free(enc);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char query[LIM_QUERY], *body = NULL, *echo = NULL;
	struct wxe pe;
	char *msg = pe.msg;
	const char *nl, *rest;
	size_t qlen, blen;
	struct push_msg *m;
	enum wx_err err;
	uint8_t flags;
	bool apply;
	long long now;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	flags = data[0];
	rest = (const char *)data + 1;
	nl = memchr(rest, '\n', size - 1);
	qlen = nl ? (size_t)(nl - rest) : size - 1;
	if (qlen >= sizeof(query) || memchr(rest, '\0', qlen) != NULL)
		return 0;
	memcpy(query, rest, qlen);
	query[qlen] = '\0';
	rest = nl ? nl + 1 : rest + qlen;
	blen = size - (size_t)((const uint8_t *)rest - data);

	msg[0] = '\0';
	if (flags & 1) {
		err = push_verify(&conf, query, NOW, &echo, &pe);
		check(err == WX_OK || err == WX_BAD_SIGNATURE ||
		    err == WX_BAD_REQUEST || err == WX_INTERNAL, "a GET verdict");
		check((err == WX_OK) == (echo != NULL), "echostr only on WX_OK");
		check(pe.err == err, "the carrier holds the GET's verdict");
		if (err == WX_OK)
			check(signed_plain(query), "echostr only when signed");
		else
			check_msg(msg);
		free(echo);
		return 0;
	}
	apply = have_redis && (flags & 32) != 0;
	now = apply ? (long long)time(NULL) : NOW;
	if (flags & 8) {
		if (!seal(rest, blen, (flags & 16) != 0, now, query,
		    sizeof(query), &body, &blen))
			return 0;
	} else {
		if ((body = malloc(blen ? blen : 1)) == NULL)
			return 0;
		memcpy(body, rest, blen);
	}
	if ((m = malloc(sizeof(*m))) == NULL) {
		free(body);
		return 0;
	}
	err = push_read(&conf, query, ctypes[(flags >> 1) & 3], body, blen, now,
	    m, &pe);
	check(err == WX_OK || err == WX_BAD_SIGNATURE || err == WX_BAD_REQUEST ||
	    err == WX_INTERNAL, "a POST verdict");
	check(pe.err == err, "the carrier holds the POST's verdict");
	if (err != WX_OK) {
		check_msg(msg);
		check(msg[0] != '\0' || err == WX_INTERNAL, "a refusal says why");
	} else if (m->encrypted) {
		char ms[64];
		check(req_query(query, "msg_signature", ms, sizeof(ms)) == 1,
		    "an encrypted push is read only with msg_signature");
	} else {
		check(signed_plain(query), "a plain push is read only when signed");
	}
	if (err == WX_OK && m->kind != PUSH_OTHER) {
		check(val_openid(m->from), "an event's openId");
		check(m->n >= 1 && m->n <= PUSH_MAX_ITEMS, "an event's entries");
		for (size_t i = 0; i < m->n; i++) {
			check(val_template_id(m->items[i].template_id),
			    "an entry's template id");
			if (m->kind == PUSH_SENT)
				check(m->items[i].msgid[0] != '\0' &&
				    strspn(m->items[i].msgid, "0123456789") ==
				    strlen(m->items[i].msgid), "a MsgID of digits");
		}
	}
	free(m);
	if (apply)
		through_handler(query, ctypes[(flags >> 1) & 3], body, blen);
	free(body);
	return 0;
}
