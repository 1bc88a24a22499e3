/*
 * handlers.h: one handler per route family (h_*.c). A handler receives
 * an authenticated request with its JSON body parsed, and returns WX_OK
 * with its answer in the response, or its failure carried in r->e (see
 * wxerr.h), which the dispatcher answers: one exit for every failure.
 */
#ifndef WX_HANDLERS_H
#define WX_HANDLERS_H

#include "app.h"
#include "request.h"
#include "response.h"

enum wx_err h_health(struct app *, struct request *, struct response *);
enum wx_err h_login(struct app *, struct request *, struct response *);
enum wx_err h_logout(struct app *, struct request *, struct response *);
enum wx_err h_record(struct app *, struct request *, struct response *);
enum wx_err h_send(struct app *, struct request *, struct response *);
enum wx_err h_metrics(struct app *, struct request *, struct response *);
enum wx_err h_subs_get(struct app *, struct request *, struct response *);
enum wx_err h_subs_delete(struct app *, struct request *, struct response *);
enum wx_err h_message_get(struct app *, struct request *, struct response *);
enum wx_err h_batch_get(struct app *, struct request *, struct response *);

/*
 * The queued forms of /send (h_outbox.c), called by h_send once the
 * body and every data value are checked: m holds the message (no
 * openId for a batch, whose openIds come from body). They leave a 202
 * in resp, or return the refusal, carried in e. With a prepared
 * Idempotency-Key (idem.h) they answer in full (resp holds the answer,
 * refusals included, once id->settled), keeping the key in the
 * enqueue's own round trip.
 */
struct wx_message;
struct idem;
enum send_mode { SEND_NOW, SEND_ASYNC, SEND_BATCH };
enum wx_err h_send_async(struct app *, struct wx_message *m, bool longterm,
	    struct idem *, struct response *, struct wxe *e);
enum wx_err h_send_batch(struct app *, json_object *body, struct wx_message *m,
	    bool longterm, struct idem *, struct response *, struct wxe *e);
/*
 * A batch's openIds as sent (pure; tests/fuzz/fuzz_batch.c): 1..max
 * WeChat openIds, a bad one a 400 naming its index, duplicates dropped
 * (the first kept, in order). *out (malloc'd) points into body.
 */
enum wx_err h_batch_ids(json_object *body, long max, const char ***out,
	    size_t *n, struct wxe *e);
enum wx_err h_event_verify(struct app *, struct request *, struct response *);
enum wx_err h_event(struct app *, struct request *, struct response *);
enum wx_err h_templates(struct app *, struct request *, struct response *);

#endif
