/*
 * fuzz_json.c: libFuzzer target for the JSON-to-request mapping, through
 * the real pipeline: app_serve() with a fake web server.
 *
 * Input: the first byte picks the request, the rest is the body.
 *   byte & 3:   0 POST /send, 1 POST /record, 2 POST /login,
 *               3 GET /subscriptions with the rest as QUERY_STRING
 *   byte & 4:   no CONTENT_LENGTH (the body is read to its end)
 *   byte & 8:   the body arrives in small pieces (read() gives 1..7 bytes)
 *   byte & 16:  Redis is there (when FUZZ_REDIS_SOCKET names one)
 * Every request carries "Authorization: Bearer <the configured api key>".
 *
 * WeChat is configured on a port where nothing listens, so every call to
 * it fails fast (upstream error). Redis is either unreachable too, or,
 * with FUZZ_REDIS_SOCKET (tests/fuzz/run starts a redis-server on a
 * unix socket), a real one holding a valid token, so the handlers run
 * past it: credits are recorded, read, claimed and given back. The
 * invariants: a CGI header block with the status, the JSON content type,
 * the request id and the right Content-Length; a body that is one JSON
 * object (RFC 8259, UTF-8) with "ok" agreeing with the status; a body
 * jsonio_parse_object refuses is a 400 bad_request with the same
 * message; no 500; nothing succeeds that needs WeChat, nor, without
 * Redis, anything that needs Redis. With Redis: a refusal (4xx) leaves
 * Redis exactly as it was (DEBUG DIGEST before and after), and the
 * credits a /record reports are the counts Redis holds. LeakSanitizer
 * checks that requests free what they take.
 *
 * Byte-level mutation rarely turns one valid body into another of a
 * different shape ("x":"T" into "x":null takes several steps, each of
 * them invalid JSON). So half of the mutations are structural: the body
 * is parsed, one value is replaced (by null, another type, a known id),
 * deleted, wrapped or given a new sibling, and the result serialized.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "app.h"
#include "jsonio.h"
#include "jsonw.h"
#include "validate.h"
#include "wechat.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "utf8.h"

#define FUZZ_MAX	16384	/* 16 KiB, well under http.maxBody */
#define API_KEY		"fuzz-api-key-0123456789"

/* printf format: the redis.url. */
static const char conf_fmt[] =
	"# written by fuzz_json.c\n"
	"wechat.appid = wxfuzz0000000001\n"
	"wechat.secret = x\n"
	"wechat.templateId = TPL_ONE_TIME_0001\n"
	"wechat.templateIds = TPL_ONE_TIME_0002\n"
	"wechat.longTermTemplateIds = TPL_LONG_TERM_0001\n"
	"wechat.apiBase = http://127.0.0.1:1\n"
	"wechat.timeoutMs = 100\n"
	"redis.url = %s\n"
	"auth.apiKeys = " API_KEY "\n"
	"log.level = error\n";

static struct app	 app_down;	/* Redis unreachable */
static struct app	 app_up;	/* the real Redis, when there is one */
static redisContext	*rc;		/* the fuzzer's own look at it */

struct fake {
	const char	*method, *path, *query, *clen;
	bool		 json_ctype;
	const char	*body;
	size_t		 body_len, off, chunk;
	char		*out;
	size_t		 out_len, out_cap;
	char		*env[8];	/* "NAME=value", NULL-terminated */
};

static void
check(bool ok, const char *what, const struct fake *f)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_json: invariant broken: %s\n", what);
	if (f != NULL && f->out != NULL)
		fprintf(stderr, "answer (%zu bytes):\n%.*s\n", f->out_len,
		    (int)(f->out_len > 4096 ? 4096 : f->out_len), f->out);
	abort();
}

/* The log promises escaped lines: no control byte reaches the sink. */
static void
sink(const char *line, void *arg)
{
	(void)arg;
	for (; *line != '\0'; line++)
		if ((unsigned char)*line < 0x20 || *line == 0x7f)
			check(false, "a log line holds a control byte", NULL);
}

static char *
kv(const char *name, const char *v)
{
	size_t n = strlen(name) + 1 + strlen(v) + 1;
	char *s = malloc(n);

	if (s == NULL)
		abort();
	snprintf(s, n, "%s=%s", name, v);
	return s;
}

/* The web server's parameters for f's request. */
static void
fake_env(struct fake *f)
{
	size_t k = 0;

	f->env[k++] = kv("REQUEST_METHOD", f->method);
	f->env[k++] = kv("PATH_INFO", f->path);
	if (f->query != NULL)
		f->env[k++] = kv("QUERY_STRING", f->query);
	if (f->json_ctype)
		f->env[k++] = kv("CONTENT_TYPE", "application/json");
	if (f->clen != NULL)
		f->env[k++] = kv("CONTENT_LENGTH", f->clen);
	f->env[k++] = kv("HTTP_AUTHORIZATION", "Bearer " API_KEY);
	f->env[k] = NULL;
}

static char *const *
params(void *ctx)
{
	return ((struct fake *)ctx)->env;
}

/*
 * The answer writer on arbitrary bytes: what it writes is always one JSON
 * object json-c reads back, UTF-8 comes back byte for byte, anything else
 * as UTF-8; only what cannot fit is refused.
 */
static void
check_writer(const char *b, size_t n)
{
	static char buf[LIM_ANSWER];
	struct jsonw w;
	json_tokener *tok;
	json_object *o, *v = NULL;
	const char *text;
	size_t len;

	char *key = malloc(n + 1);

	if (key == NULL)
		abort();
	memcpy(key, b, n);		/* the bytes as a key, too: up to a NUL */
	key[n] = '\0';
	jw_init(&w, buf, sizeof(buf));
	jw_strn(&w, "k", b, n);
	jw_open(&w, "o");
	jw_strn(&w, key, "v", 1);
	free(key);
	if ((text = jw_finish(&w, &len)) == NULL) {
		check(n * 6 + 16 > LIM_ANSWER / 2, "jsonw refuses only what "
		    "cannot fit", NULL);
		return;
	}
	check(strlen(text) == len, "jsonw's text has no NUL", NULL);
	if ((tok = json_tokener_new()) == NULL)
		abort();
	o = json_tokener_parse_ex(tok, text, (int)len);
	check(o != NULL && tok->char_offset == (int)len, "jsonw writes JSON",
	    NULL);
	check(json_object_object_get_ex(o, "k", &v) &&
	    json_object_is_type(v, json_type_string), "jsonw's member is there",
	    NULL);
	if (utf8_valid(b, n))
		check((size_t)json_object_get_string_len(v) == n &&
		    memcmp(json_object_get_string(v), b, n) == 0,
		    "jsonw keeps UTF-8 as it is", NULL);
	else if (memchr(b, '\0', n) == NULL)
		check(utf8_valid(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v)),
		    "jsonw makes UTF-8 of anything", NULL);
	check(jsonio_syntax_ok(text, len) || memchr(b, '\0', n) != NULL,
	    "jsonw passes wxsub's own strict check", NULL);
	json_object_put(o);
	json_tokener_free(tok);
}

/*
 * The message WeChat gets, with the bytes as a data value and (up to a
 * NUL) as the page: always one JSON object json-c reads back, UTF-8
 * values byte for byte.
 */
static void
check_message(const char *b, size_t n)
{
	char *page = malloc(n + 1), *msg;
	struct wx_item item = { "thing1", b, n };
	struct wx_message m = { .openid = "oFUZZ", .template_id = "TPL",
		.mp_state = "formal", .lang = "zh_CN", .data = &item, .ndata = 1 };
	json_tokener *tok = json_tokener_new();
	json_object *o, *v;
	size_t len;

	if (page == NULL || tok == NULL)
		abort();
	memcpy(page, b, n);
	page[n] = '\0';
	m.page = page;
	msg = wechat_message_text(&m, &len);
	check(msg != NULL && strlen(msg) == len, "the message is written", NULL);
	o = json_tokener_parse_ex(tok, msg, (int)len);
	check(o != NULL && tok->char_offset == (int)len &&
	    json_object_object_get_ex(o, "data", &v) &&
	    json_object_object_get_ex(v, "thing1", &v) &&
	    json_object_object_get_ex(v, "value", &v), "the message is JSON",
	    NULL);
	if (utf8_valid(b, n))
		check((size_t)json_object_get_string_len(v) == n &&
		    memcmp(json_object_get_string(v), b, n) == 0,
		    "the message keeps UTF-8 values as they are", NULL);
	json_object_put(o);
	json_tokener_free(tok);
	free(msg);
	free(page);
}

static size_t
body_read(void *ctx, char *buf, size_t n)
{
	struct fake *f = ctx;
	size_t left = f->body_len - f->off;

	if (n > left)
		n = left;
	if (f->chunk > 0 && n > f->chunk)
		n = f->chunk;
	if (n > 0)
		memcpy(buf, f->body + f->off, n);
	f->off += n;
	return n;
}

static int
answer_write(void *ctx, const char *buf, size_t n)
{
	struct fake *f = ctx;

	if (f->out_len + n + 1 > f->out_cap) {
		size_t cap = (f->out_len + n + 1) * 2;
		char *p = realloc(f->out, cap);
		if (p == NULL)
			abort();
		f->out = p;
		f->out_cap = cap;
	}
	memcpy(f->out + f->out_len, buf, n);
	f->out_len += n;
	f->out[f->out_len] = '\0';
	return 0;
}

static void
app_start(struct app *a, const char *redis_url)
{
	char path[] = "/tmp/fuzz_json.conf.XXXXXX", text[sizeof(conf_fmt) + 256];
	int fd, n = snprintf(text, sizeof(text), conf_fmt, redis_url);

	if (n < 0 || (size_t)n >= sizeof(text) || (fd = mkstemp(path)) < 0 ||
	    write(fd, text, (size_t)n) != (ssize_t)n || close(fd) != 0) {
		perror("fuzz_json: writing the configuration");
		exit(1);
	}
	if (app_init(a, path) != 0 || !a->cfg_ok) {
		fprintf(stderr, "fuzz_json: app_init failed: %s\n", a->cfg_err);
		unlink(path);
		exit(1);
	}
	unlink(path);
}

static redisReply *
redis(const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "fuzz_json: redis %s: %s\n", fmt,
		    r != NULL ? r->str : rc->errstr);
		abort();
	}
	return r;
}

/* An empty database but for a token with hours to live. */
static void
redis_reset(void)
{
	freeReplyObject(redis("FLUSHDB"));
	freeReplyObject(redis("SET %s %s EX 7200", app_up.cfg.token_key,
	    "FUZZ_ACCESS_TOKEN_0123456789"));
}

/* DEBUG DIGEST: a hash of every key, value and expiry. */
static void
redis_digest(char out[64])
{
	redisReply *r = redis("DEBUG DIGEST");

	check(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING,
	    "DEBUG DIGEST answers", NULL);
	snprintf(out, 64, "%s", r->str);
	freeReplyObject(r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *sock = getenv("FUZZ_REDIS_SOCKET");
	char url[256];

	(void)argc;
	(void)argv;
	log_set_sink(sink, NULL);
	app_start(&app_down, "redis://127.0.0.1:1/0");
	if (sock != NULL && *sock != '\0') {
		snprintf(url, sizeof(url), "unix://%s", sock);
		app_start(&app_up, url);
		if ((rc = redisConnectUnix(sock)) == NULL || rc->err) {
			fprintf(stderr, "fuzz_json: no Redis at %s\n", sock);
			exit(1);
		}
		redis_reset();
	}
	log_set_level(LOG_ERROR);
	return 0;
}

/* ---- the structural mutator ------------------------------------------ */

size_t	LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static uint32_t
rnd(uint32_t *st)
{
	uint32_t x = *st;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *st = x;
}

/* Values a caller might send where another type is expected. */
static json_object *
new_value(uint32_t *st)
{
	static const char *const strs[] = {
		"", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "TPL_ONE_TIME_0001",
		"TPL_ONE_TIME_0002", "TPL_LONG_TERM_0001", "accept", "reject",
		"ban", "filter", "requestSubscribeMessage:ok", "formal",
		"zh_CN", "pages/index/index", "081Kq4Ga1ptdDC0Ehd1Ga0rpx51Kq4Gx",
		"\xe4\xbc\x9a\xe8\xae\xae\xe6\x8f\x90\xe9\x86\x92",
		"2024-05-01 10:00", ("\xc2\xa5" "100.00"), "thing1",
	};
	json_object *o;

	switch (rnd(st) % 12) {
	case 0:
		return NULL;	/* JSON null */
	case 1:
		return json_object_new_boolean(rnd(st) & 1);
	case 2:
		return json_object_new_int64((int64_t)(int32_t)rnd(st) % 5);
	case 3:
		return json_object_new_double(0.5);
	case 4:
		return json_object_new_array();
	case 5:
		return json_object_new_object();
	case 6:
		o = json_object_new_array();
		json_object_array_add(o, json_object_new_string(
		    strs[rnd(st) % (sizeof(strs) / sizeof(strs[0]))]));
		return o;
	case 7:
		o = json_object_new_object();
		json_object_object_add(o, "value", json_object_new_string(
		    strs[rnd(st) % (sizeof(strs) / sizeof(strs[0]))]));
		return o;
	default:
		return json_object_new_string(
		    strs[rnd(st) % (sizeof(strs) / sizeof(strs[0]))]);
	}
}

struct pick {
	json_object	*parent;	/* the container of the picked value */
	char		 key[256];	/* its key, for an object */
	size_t		 idx;		/* its index, for an array */
	unsigned	 seen;
};

/* Reservoir-sample one value below o (any depth). */
static void
walk(json_object *o, struct pick *p, uint32_t *st, int depth)
{
	size_t i, n;

	if (depth > 20)
		return;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			if (rnd(st) % ++p->seen == 0) {
				p->parent = o;
				snprintf(p->key, sizeof(p->key), "%s", k);
				p->idx = 0;
			}
			walk(v, p, st, depth + 1);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			if (rnd(st) % ++p->seen == 0) {
				p->parent = o;
				p->key[0] = '\0';
				p->idx = i;
			}
			walk(json_object_array_get_idx(o, i), p, st, depth + 1);
		}
	}
}

static void
mutate_tree(json_object *root, uint32_t *st)
{
	static const char *const keys[] = {
		"openId", "templateId", "templateIds", "data", "page", "lang",
		"miniprogramState", "errMsg", "code", "value", "thing1",
		"time2", "TPL_ONE_TIME_0001", "TPL_LONG_TERM_0001",
	};
	struct pick p = { .parent = NULL };
	json_object *v, *w;
	bool obj;

	walk(root, &p, st, 0);
	if (p.parent == NULL || rnd(st) % 5 == 0) {
		/* A new member of the root (or of the picked container). */
		json_object *to = p.parent != NULL && rnd(st) & 1 ? p.parent : root;
		if (json_object_is_type(to, json_type_array))
			json_object_array_add(to, new_value(st));
		else
			json_object_object_add(to,
			    keys[rnd(st) % (sizeof(keys) / sizeof(keys[0]))],
			    new_value(st));
		return;
	}
	obj = json_object_is_type(p.parent, json_type_object);
	switch (rnd(st) % 4) {
	case 0:		/* delete */
		if (obj)
			json_object_object_del(p.parent, p.key);
		else
			json_object_array_del_idx(p.parent, p.idx, 1);
		return;
	case 1:		/* wrap: [v] or {"value":v} */
		v = obj ? json_object_object_get(p.parent, p.key) :
		    json_object_array_get_idx(p.parent, p.idx);
		w = rnd(st) & 1 ? json_object_new_array() : json_object_new_object();
		json_object_get(v);
		if (json_object_is_type(w, json_type_array))
			json_object_array_add(w, v);
		else
			json_object_object_add(w, "value", v);
		break;
	default:	/* replace */
		w = new_value(st);
		break;
	}
	if (obj)
		json_object_object_add(p.parent, p.key, w);
	else
		json_object_array_put_idx(p.parent, p.idx, w);
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
    unsigned int seed)
{
	struct json_tokener *tok;
	json_object *root;
	const char *text;
	size_t len;
	uint32_t st = seed | 1;

	if (size < 3 || (data[0] & 3) == 3 || rnd(&st) % 2 == 0)
		return LLVMFuzzerMutate(data, size, max_size);
	if ((tok = json_tokener_new()) == NULL)
		return LLVMFuzzerMutate(data, size, max_size);
	root = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
	json_tokener_free(tok);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	mutate_tree(root, &st);
	text = json_object_to_json_string_length(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL || len + 1 > max_size) {
		json_object_put(root);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	memcpy(data + 1, text, len);
	json_object_put(root);
	return len + 1;
}

/* ---- the target ------------------------------------------------------- */

/* The value of header name in the block head[0..len), or NULL. */
static const char *
header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	const char *p = head, *end = head + len, *eol;

	while (p < end) {
		eol = memchr(p, '\r', (size_t)(end - p));
		if (eol == NULL)
			return NULL;
		if ((size_t)(eol - p) > n + 1 && memcmp(p, name, n) == 0 &&
		    p[n] == ':' && p[n + 1] == ' ') {
			*vlen = (size_t)(eol - p) - n - 2;
			return p + n + 2;
		}
		p = eol + 2;
	}
	return NULL;
}

/* The answer's status, once every rule for the answer's shape holds. */
static int
check_answer(const struct fake *f, int route, bool redis_up,
    const char *req_msg, bool req_parsed)
{
	const char *sep, *body, *v;
	size_t head_len, body_len, vlen;
	json_object *o = NULL, *ok, *err = NULL, *message = NULL;
	char num[LIM_REQID];
	struct wxe pe;
	char *msg = pe.msg;
	int status;

	check(f->out != NULL && f->out_len > 8, "an answer", f);
	check(strncmp(f->out, "Status: ", 8) == 0, "starts with Status:", f);
	sep = strstr(f->out, "\r\n\r\n");
	check(sep != NULL, "a blank line ends the header block", f);
	head_len = (size_t)(sep - f->out) + 2;
	body = sep + 4;
	body_len = f->out_len - (size_t)(body - f->out);
	check(memchr(f->out, '\0', head_len) == NULL, "no NUL in the headers", f);

	status = atoi(f->out + 8);
	check(status >= 200 && status <= 599, "a status code", f);
	v = header(f->out, head_len, "Content-Type", &vlen);
	check(v != NULL && vlen == strlen("application/json; charset=utf-8") &&
	    memcmp(v, "application/json; charset=utf-8", vlen) == 0,
	    "Content-Type: application/json; charset=utf-8", f);
	v = header(f->out, head_len, "X-Request-Id", &vlen);
	check(v != NULL && vlen > 0 && vlen < LIM_REQID, "X-Request-Id:", f);
	memcpy(num, v, vlen < sizeof(num) ? vlen : sizeof(num) - 1);
	num[vlen < sizeof(num) ? vlen : sizeof(num) - 1] = '\0';
	check(val_request_id(num), "a request id we would accept", f);
	v = header(f->out, head_len, "Content-Length", &vlen);
	check(v != NULL && vlen < sizeof(num), "Content-Length:", f);
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	check(strtoull(num, NULL, 10) == body_len, "Content-Length is right", f);

	check(jsonio_syntax_ok(body, body_len), "the body is JSON", f);
	check(jsonio_parse_object(body, body_len, &o, &pe) == WX_OK,
	    "the body is one JSON object in UTF-8", f);
	check(json_object_object_get_ex(o, "ok", &ok) &&
	    json_object_is_type(ok, json_type_boolean), "\"ok\": a boolean", f);
	check(json_object_get_boolean(ok) == (status == 200),
	    "\"ok\" agrees with the status", f);
	if (status != 200)
		check(json_object_object_get_ex(o, "error", &err) &&
		    json_object_is_type(err, json_type_string) &&
		    json_object_object_get_ex(o, "message", &message) &&
		    json_object_is_type(message, json_type_string),
		    "an error has \"error\" and \"message\"", f);
	check(status != 500, "no internal error", f);
	/* WeChat is unreachable: /send and /login never succeed. Without
	 * Redis, /record succeeds only when it has nothing to write. */
	if (route == 0 || route == 2 || (route == 3 && !redis_up))
		check(status != 200, "no success without WeChat (or Redis)", f);
	/* What jsonio_parse_object refuses, the app refuses the same way. */
	if (route != 3 && !req_parsed)
		check(status == 400 &&
		    strcmp(json_object_get_string(err), "bad_request") == 0 &&
		    strcmp(json_object_get_string(message), req_msg) == 0,
		    "a body that is not a JSON object is a 400 bad_request", f);
	json_object_put(o);
	return status;
}

/* The counts a successful /record reports are the ones Redis holds. */
static void
check_credits(const struct fake *f)
{
	const char *body = strstr(f->out, "\r\n\r\n") + 4, *openid;
	json_object *o = NULL, *credits;
	char key[LIM_KEY];
	struct wxe pe;
	char *msg = pe.msg;
	redisReply *r;

	check(jsonio_parse_object(body, strlen(body), &o, &pe) ==
	    WX_OK && jsonio_string(o, "openId", &openid, NULL) == 1 &&
	    jsonio_object(o, "credits", &credits) == 1, "a /record answer has "
	    "openId and credits", f);
	json_object_object_foreach(credits, tpl, n) {
		check(json_object_is_type(n, json_type_int) &&
		    store_key_sub(&app_up.cfg, tpl, openid, key, sizeof(key)) == 0,
		    "a credit is a count of a template", f);
		r = redis("GET %s", key);
		check(r->type == REDIS_REPLY_STRING &&
		    strtoll(r->str, NULL, 10) == json_object_get_int64(n),
		    "the credit reported is the one Redis holds", f);
		freeReplyObject(r);
	}
	json_object_put(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[4] = {
		"/send", "/record", "/login", "/subscriptions"
	};
	struct fake f;
	struct io io = { .params = params, .read = body_read,
	    .write = answer_write };
	static unsigned long runs;
	char clen[24], *query = NULL, before[64], after[64];
	struct wxe pe;
	char *msg = pe.msg;
	json_object *o = NULL, *v;
	const char *s;
	size_t len;
	bool parsed, up;
	struct app *app;
	int route, status;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	memset(&f, 0, sizeof(f));
	route = data[0] & 3;
	up = rc != NULL && (data[0] & 16);
	app = up ? &app_up : &app_down;
	f.path = paths[route];
	if (route == 3) {
		/* An exact-size copy: ASan sees reads past the string. */
		if ((query = malloc(size)) == NULL)
			abort();
		memcpy(query, data + 1, size - 1);
		query[size - 1] = '\0';
		f.method = "GET";
		f.query = query;
	} else {
		f.method = "POST";
		f.json_ctype = true;
		f.body = (const char *)data + 1;
		f.body_len = size - 1;
		f.chunk = data[0] & 8 ? 1 + (size % 7) : 0;
		if (!(data[0] & 4)) {
			snprintf(clen, sizeof(clen), "%zu", f.body_len);
			f.clen = clen;
		}
	}

	/* The body on its own: the parser and the typed accessors. */
	parsed = false;
	msg[0] = '\0';
	if (route != 3) {
		parsed = jsonio_parse_object(f.body, f.body_len, &o, &pe) == WX_OK;
		check(parsed == (o != NULL), "an object exactly on success", NULL);
		check(parsed == (pe.err == WX_OK), "the carrier holds the verdict",
		    NULL);
		check(!parsed || jsonio_syntax_ok(f.body, f.body_len),
		    "what parses passes the syntax check", NULL);
		if (!parsed)
			check(msg[0] != '\0', "a refusal says why", NULL);
		if (parsed) {
			(void)jsonio_string(o, "openId", &s, &len);
			(void)jsonio_string(o, "templateId", &s, &len);
			(void)jsonio_array(o, "templateIds", &v);
			(void)jsonio_object(o, "data", &v);
			(void)jsonio_text(o, &len);
		}
		json_object_put(o);
	}

	check_writer((const char *)data + 1, size - 1);
	check_message((const char *)data + 1, size - 1);

	fake_env(&f);
	io.ctx = &f;
	if (up) {
		if (++runs % 4096 == 0)
			redis_reset();	/* a bounded database, a quick digest */
		redis_digest(before);
	}
	app_serve(app, &io);
	metrics_clear();	/* no flush of counts: the request's own writes */
	app_after(app, false);
	status = check_answer(&f, route, up, msg, parsed);
	if (up && status >= 400 && status < 500) {
		redis_digest(after);
		check(strcmp(before, after) == 0, "a refusal changes nothing in "
		    "Redis", &f);
	}
	if (up && route == 1 && status == 200)
		check_credits(&f);
	if (route != 3)
		check(f.off == f.body_len, "the body is read whole", &f);

	free(f.out);
	for (size_t i = 0; f.env[i] != NULL; i++)
		free(f.env[i]);
	free(query);
	return 0;
}
