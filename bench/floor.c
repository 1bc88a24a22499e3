/*
 * floor.c: the benchmark's baselines, not part of wxsub. A minimal
 * FastCGI responder that does the least work /record and /send could:
 *   FLOOR_MODE=redis  one Redis command per request (the /record floor)
 *   FLOOR_MODE=send   that plus one kept-alive HTTP POST to FLOOR_URL
 *                     (the /send floor): the same successful send that
 *                     wxsub makes, to the bench's pool of users
 * Settings come from the environment, read before the accept loop.
 * Each answers with the header lines every wxsub answer carries
 * (Content-Type, Cache-Control, X-Request-Id, Content-Length) and a body
 * the size of its route's (/record: the openId and a count; /send: the
 * msgid): the web server and wrk then do the same work on the way back
 * as on the way in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <hiredis/hiredis.h>

static size_t
sink(char *p, size_t s, size_t n, void *u)
{
	(void)p; (void)u;
	return s * n;
}

int
main(void)
{
	const char *mode = getenv("FLOOR_MODE"), *url = getenv("FLOOR_URL");
	const char *port = getenv("FLOOR_REDIS_PORT");
	char body[256];
	unsigned long n = 0;
	int send = mode != NULL && strcmp(mode, "send") == 0;
	redisContext *rc;
	FCGX_Request req;
	CURL *h = NULL;
	char buf[4096], answer[256];
	long long count;
	int len;

	rc = redisConnect("127.0.0.1", port ? atoi(port) : 6379);
	if (rc == NULL || rc->err)
		return 1;
	if (send) {
		/* The header lines wxsub sends, so WeChat's side parses as much. */
		struct curl_slist *hdr = curl_slist_append(NULL,
		    "Content-Type: application/json; charset=utf-8");
		h = curl_easy_init();
		curl_easy_setopt(h, CURLOPT_USERAGENT, "wxsub/floor");
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	}
	FCGX_Init();
	FCGX_InitRequest(&req, 0, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		redisReply *r;
		while (FCGX_GetStr(buf, sizeof(buf), req.in) > 0)
			;
		r = redisCommand(rc, "INCR bench:floor");
		count = r != NULL && r->type == REDIS_REPLY_INTEGER ?
		    r->integer : 0;
		if (r != NULL)
			freeReplyObject(r);
		if (send) {
			/*
			 * The same successful send wxsub makes: a user of the
			 * bench's pool (who has quota at the stand-in), a valid
			 * token, the same data.
			 */
			snprintf(body, sizeof(body), "{\"touser\":\"oBENCH%022lu\","
			    "\"template_id\":\"TPL_ONE_TIME_0001\",\"data\":{"
			    "\"thing1\":{\"value\":\"bench\"},\"time3\":{\"value\":"
			    "\"2026-11-29 10:30\"}},\"miniprogram_state\":\"formal\","
			    "\"lang\":\"zh_CN\"}", n % 1000);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
			curl_easy_perform(h);
		}
		if (send)
			len = snprintf(answer, sizeof(answer), "{\"ok\":true,"
			    "\"msgid\":2813570231456448513}");
		else
			len = snprintf(answer, sizeof(answer), "{\"ok\":true,"
			    "\"openId\":\"oBENCH0000000000000000000000\","
			    "\"credits\":{\"TPL_ONE_TIME_0001\":%lld}}", count);
		FCGX_FPrintF(req.out, "Status: 200 OK\r\nContent-Type: "
		    "application/json; charset=utf-8\r\nCache-Control: no-store"
		    "\r\nX-Request-Id: %016lx\r\nContent-Length: %d\r\n\r\n%s",
		    n++, len, answer);
		FCGX_Finish_r(&req);
	}
	return 0;
}
