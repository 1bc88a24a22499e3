/*
 * upstream.c: libcurl easy handle, reused for keep-alive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "wxlimits.h"
#include "clock.h"
#include "metrics.h"
#include "upstream.h"

/* Connecting may take at most this much of the total limit. */
#define CONNECT_MS_MAX	2000

struct upstream {
	CURL		*h;
	struct curl_slist *json_hdr;
	int		 sends;		/* requests put on the wire this call */
	char		*buf;		/* LIM_UPSTREAM_BODY + 1 */
	size_t		 len;
	int		 overflow;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct upstream *u = arg;
	size_t n = size * nmemb;

	if (u->len + n > LIM_UPSTREAM_BODY) {
		u->overflow = 1;
		return 0;	/* aborts the transfer */
	}
	memcpy(u->buf + u->len, data, n);
	u->len += n;
	return n;
}

/*
 * Called by libcurl each time a request is about to go out on a
 * connection. libcurl sends a request again by itself when a reused
 * connection dies before any answer; a subscribe message may have been
 * delivered by then, so for UP_NO_RESEND a second time aborts the call.
 * (The body stays in POSTFIELDS: it leaves in one write with the headers.)
 */
static int
once(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct upstream *u = arg;

	(void)ip; (void)local_ip; (void)port; (void)local_port;
	return ++u->sends > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/*
 * What never changes on a handle is set once: each setopt copies or
 * parses. Every handle that calls WeChat, the responder's and the
 * worker's, gets the same.
 */
static void
fixed_options(CURL *h, struct upstream *u)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, u);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, u);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "wxsub/" PACKAGE_VERSION);
}

/*
 * The options of one call (URL, limits, body, the resend rule) on h,
 * whose transfer state is u.
 */
static void
call_options(CURL *h, struct upstream *u, const char *url, const char *json,
    enum up_resend resend, long timeout_ms)
{
	long connect_ms = timeout_ms < CONNECT_MS_MAX ? timeout_ms : CONNECT_MS_MAX;

	u->len = 0;
	u->overflow = 0;
	u->sends = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION,
	    resend == UP_NO_RESEND ? once : NULL);
	if (json != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, u->json_hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
}

/* The result of a finished transfer on h (state u), as up_call gives it. */
static enum wx_err
call_result(CURL *h, struct upstream *u, CURLcode rc, struct up_result *res)
{
	u->buf[u->len] = '\0';
	res->body = u->buf;
	res->len = u->len;
	if (rc != CURLE_OK) {
		return wxe_msg(&res->e, WX_UPSTREAM, 0,
		    u->overflow ? "answer too large" :
		    rc == CURLE_OPERATION_TIMEDOUT ? "timed out" :
		    rc == CURLE_ABORTED_BY_CALLBACK && u->sends > 1 ?
		    "connection lost before an answer (not resent)" :
		    curl_easy_strerror(rc));
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	return WX_OK;
}

struct upstream *
up_new(void)
{
	return calloc(1, sizeof(struct upstream));
}

/*
 * libcurl, its TLS library and the handle are set up at the first call,
 * not at start: a process that never calls WeChat (one that only records,
 * say) never pays for them, about 2.5 MB of resident memory. 0, or -1
 * when something could not be made (tried again at the next call).
 */
static int
ready(struct upstream *u)
{
	static int global_done;

	if (u->h != NULL)
		return 0;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return -1;
		global_done = 1;
	}
	if (u->buf == NULL && (u->buf = malloc(LIM_UPSTREAM_BODY + 1)) == NULL)
		return -1;
	if (u->json_hdr == NULL) {
		struct curl_slist *l = curl_slist_append(NULL,
		    "Content-Type: application/json; charset=utf-8");
		/* No 100-continue round trip: WeChat's answers are immediate. */
		struct curl_slist *both = l != NULL ?
		    curl_slist_append(l, "Expect:") : NULL;
		if (both == NULL) {
			curl_slist_free_all(l);
			return -1;
		}
		u->json_hdr = both;
	}
	if ((u->h = curl_easy_init()) == NULL)
		return -1;
	fixed_options(u->h, u);
	return 0;
}

void
up_free(struct upstream *u)
{
	if (u == NULL)
		return;
	if (u->h != NULL)
		curl_easy_cleanup(u->h);
	curl_slist_free_all(u->json_hdr);
	free(u->buf);
	free(u);
}

enum wx_err
up_call(struct upstream *u, const char *url, const char *json,
    enum up_resend resend, long timeout_ms, struct up_result *res)
{
	double t0;
	CURLcode rc;

	memset(res, 0, sizeof(*res));
	if (ready(u) != 0) {
		return wxe_set(&res->e, WX_UPSTREAM,
		    "libcurl could not be set up");
	}
	/* Options persist on the handle (ready() set the fixed ones). */
	call_options(u->h, u, url, json, resend, timeout_ms);
	t0 = clock_s();
	rc = curl_easy_perform(u->h);
	metrics_observe(HIST_WECHAT, clock_s() - t0);
	return call_result(u->h, u, rc, res);
}

/* ---- many at once (the outbox worker) ---- */

struct up_multi {
	CURLM		*m;
	struct upstream	*slots;		/* one transfer state per slot */
	void		**tags;		/* the caller's, NULL when free */
	double		*t0;
	size_t		 n, running;
};

struct up_multi *
up_multi_new(size_t n)
{
	struct up_multi *m = calloc(1, sizeof(*m));
	size_t i;

	if (m == NULL)
		return NULL;
	m->n = n;
	m->slots = calloc(n, sizeof(*m->slots));
	m->tags = calloc(n, sizeof(*m->tags));
	m->t0 = calloc(n, sizeof(*m->t0));
	if (m->slots == NULL || m->tags == NULL || m->t0 == NULL ||
	    (m->m = curl_multi_init()) == NULL)
		goto fail;
	/* One pool of connections, kept alive, for every slot. */
	curl_multi_setopt(m->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
	curl_multi_setopt(m->m, CURLMOPT_MAXCONNECTS, (long)n);
	for (i = 0; i < n; i++)
		if (ready(&m->slots[i]) != 0)
			goto fail;
	return m;
fail:
	up_multi_free(m);
	return NULL;
}

void
up_multi_free(struct up_multi *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; m->slots != NULL && i < m->n; i++) {
		struct upstream *u = &m->slots[i];
		if (m->m != NULL && u->h != NULL && m->tags[i] != NULL)
			curl_multi_remove_handle(m->m, u->h);
		if (u->h != NULL)
			curl_easy_cleanup(u->h);
		curl_slist_free_all(u->json_hdr);
		free(u->buf);
	}
	if (m->m != NULL)
		curl_multi_cleanup(m->m);
	free(m->slots);
	free(m->tags);
	free(m->t0);
	free(m);
}

size_t
up_multi_running(const struct up_multi *m)
{
	return m->running;
}

int
up_multi_add(struct up_multi *m, const char *url, const char *json,
    long timeout_ms, void *tag)
{
	size_t i;

	for (i = 0; i < m->n && m->tags[i] != NULL; i++)
		;
	if (i == m->n || tag == NULL)
		return -1;
	call_options(m->slots[i].h, &m->slots[i], url, json, UP_NO_RESEND,
	    timeout_ms);
	curl_easy_setopt(m->slots[i].h, CURLOPT_PRIVATE, (void *)&m->tags[i]);
	if (curl_multi_add_handle(m->m, m->slots[i].h) != CURLM_OK)
		return -1;
	m->tags[i] = tag;
	m->t0[i] = clock_s();
	m->running++;
	return 0;
}

/*
 * Did the request leave, so that WeChat may have acted on it? Not when
 * the connection never came up; otherwise when any request byte was
 * written.
 */
static bool
request_left(CURL *h, CURLcode rc)
{
	long sent = 0;

	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_COULDNT_RESOLVE_PROXY)
		return false;
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
	return sent > 0;
}

int
up_multi_run(struct up_multi *m, long wait_ms, up_done_fn done, void *arg)
{
	struct up_result res;
	CURLMsg *msg;
	int still, left, numfds;
	void **slot;
	size_t i;

	if (curl_multi_perform(m->m, &still) != CURLM_OK)
		return -1;
	if (still > 0 && wait_ms > 0 &&
	    curl_multi_poll(m->m, NULL, 0, (int)wait_ms, &numfds) != CURLM_OK)
		return -1;
	if (curl_multi_perform(m->m, &still) != CURLM_OK)
		return -1;
	while ((msg = curl_multi_info_read(m->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&slot);
		i = (size_t)(slot - m->tags);
		memset(&res, 0, sizeof(res));
		metrics_observe(HIST_WECHAT, clock_s() - m->t0[i]);
		call_result(msg->easy_handle, &m->slots[i], msg->data.result, &res);
		bool sent = msg->data.result == CURLE_OK ||
		    request_left(msg->easy_handle, msg->data.result);
		void *tag = m->tags[i];
		curl_multi_remove_handle(m->m, msg->easy_handle);
		m->tags[i] = NULL;
		m->running--;
		done(arg, tag, &res, sent);
	}
	return 0;
}
