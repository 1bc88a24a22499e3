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
	/* What never changes is set once: each setopt copies or parses. */
	curl_easy_setopt(u->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(u->h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(u->h, CURLOPT_WRITEDATA, u);
	curl_easy_setopt(u->h, CURLOPT_PREREQDATA, u);
	curl_easy_setopt(u->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(u->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(u->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(u->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(u->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(u->h, CURLOPT_USERAGENT, "wxsub/" PACKAGE_VERSION);
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
	long connect_ms = timeout_ms < CONNECT_MS_MAX ? timeout_ms : CONNECT_MS_MAX;
	double t0;
	CURLcode rc;
	CURL *h;

	memset(res, 0, sizeof(*res));
	if (ready(u) != 0) {
		snprintf(res->err, sizeof(res->err), "libcurl could not be set up");
		return WX_UPSTREAM;
	}
	h = u->h;
	u->len = 0;
	u->overflow = 0;

	/* Options persist on the handle (ready() set the fixed ones). */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	u->sends = 0;
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

	t0 = clock_s();
	rc = curl_easy_perform(h);
	metrics_observe(HIST_WECHAT, clock_s() - t0);
	u->buf[u->len] = '\0';
	res->body = u->buf;
	res->len = u->len;
	if (rc != CURLE_OK) {
		snprintf(res->err, sizeof(res->err), "%s",
		    u->overflow ? "answer too large" :
		    rc == CURLE_OPERATION_TIMEDOUT ? "timed out" :
		    rc == CURLE_ABORTED_BY_CALLBACK && u->sends > 1 ?
		    "connection lost before an answer (not resent)" :
		    curl_easy_strerror(rc));
		return WX_UPSTREAM;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	return WX_OK;
}
