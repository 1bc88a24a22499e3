/*
 * response.h: the answer to one request, as data until it is rendered.
 * Success is {"ok":true,...}; failure is {"ok":false,"error":code,
 * "message":text} plus "errcode" when WeChat gave one.
 */
#ifndef WX_RESPONSE_H
#define WX_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "jsonw.h"
#include "wxerr.h"

struct response {
	int		 status;
	enum wx_err	 err;		/* WX_OK on success */
	bool		 has_body;	/* body holds an answer */
	struct jsonw	 body;		/* writes into json */
	char		 json[LIM_ANSWER];
	char		 allow[32];	/* for 405 */
	long		 retry_after;	/* seconds, for 429/503; 0: none */
	char		*text;		/* owned; a non-JSON body (/metrics) */
	size_t		 text_len;
	const char	*ctype;		/* its Content-Type */
};

/* Start a success answer; returns the writer to add members with. */
struct jsonw	*resp_ok(struct response *);

/* A 200 answer with a non-JSON body; takes ownership of text (malloc'd). */
void		 resp_text(struct response *, const char *ctype, char *text,
		    size_t len);

/*
 * The error answer of a request's carrier (wxerr.h): its code, its
 * message (or the error's default text) and WeChat's errcode if any.
 * What the request set for the failure's headers (Allow, Retry-After)
 * stays; a success body begun before is dropped.
 */
void		 resp_fail(struct response *, const struct wxe *);

/*
 * Render the CGI header block into head (status, content type,
 * X-Request-Id, Allow) and point *body at the JSON text (owned by r).
 * An answer that did not fit its buffer becomes a fixed 500. Returns 0,
 * or -1 when head is too small.
 */
int		 resp_render(struct response *, const char *reqid,
		    char *head, size_t headlen, const char **body, size_t *bodylen);

/*
 * An empty response. Field by field: the body buffer is large and needs
 * no clearing, and this runs for every request.
 */
void		 resp_init(struct response *);
/* Free what it owns and make it empty again. */
void		 resp_reset(struct response *);

#endif
