/*
 * templates.h: the templates as WeChat has them.
 *
 * getTemplateList (GET /wxaapi/newtmpl/gettemplate) is fetched by
 * `wxsub templates sync`, and then kept fresh by the service itself: at
 * most every templates.refreshSeconds, by one process of the fleet under
 * a lock (a marker key lives that long), always after an answer has gone
 * out (tpl_after), never in a request's path. Without a list the
 * service starts none on its own unless wechat.templateIds = * asks for
 * one: installs that never ran `templates sync` keep the type rules.
 *
 * The list is kept in Redis in the form GET /templates answers:
 *   WXSUB:templates         {"fetchedAt":N,"templates":[{"id","title",
 *                           "type":"one-time"|"long-term","keywords":
 *                           [{"key":"thing1","name":"…","enum":[…]?}]}]}
 *   WXSUB:templates:fresh   marker, lives templates.refreshSeconds
 *   WXSUB:templates:lock    the refresh lock
 * Each process keeps a parsed copy, read again at most every
 * TPL_RELOAD_S.
 *
 * With a list, /send checks data against the template (tpl_check): a key
 * it does not have, one it has left out, a value outside a keyword's
 * enum list are 422 invalid_data naming the key; its type decides
 * one-time vs long-term. A template missing from the list (added since
 * the last refresh) keeps the type rules, as when there is no list.
 */
#ifndef WX_TEMPLATES_H
#define WX_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "wechat.h"
#include "wxerr.h"

#define TPL_RELOAD_S	30	/* a process reads the list again */
#define TPL_CHECK_S	60	/* a process asks whether a refresh is due */
#define TPL_LOCK_MS	30000	/* the refresh lock's life */
#define LIM_TPL_CACHE	(1024 * 1024)	/* the list as kept in Redis */

struct app;

/* ---- pure: the unit tests and the fuzzer call these ---- */

/*
 * WeChat's getTemplateList answer (status, body as it came) into an
 * array in the cached form (*out, caller puts). Keys come from content
 * ("{{thing1.DATA}}"), names from the text before them on their line,
 * enums from keywordEnumValueList (keywordCode "enum_string3" or
 * "{{enum_string3.DATA}}"). WX_OK, or the mapped error with ans filled.
 */
enum wx_err	 tpl_read_wechat(long status, const char *body, size_t len,
		    json_object **out, struct wxe *ans);

/* The template id in a cached array (borrowed), or NULL. */
json_object	*tpl_find(json_object *templates, const char *id);
bool		 tpl_is_longterm(json_object *tpl);

/*
 * Check data[0..n) against one cached template: WX_OK, or
 * WX_INVALID_DATA carried in e, naming the key.
 */
enum wx_err	 tpl_check(json_object *tpl, const struct wx_item *data,
		    size_t n, struct wxe *e);

/* ---- with I/O ---- */

/*
 * Fetch the list from WeChat and keep it (with its marker). WX_OK with
 * *count; WX_TOKEN_UNAVAILABLE, WX_UPSTREAM (e says why, 45009 and
 * the like included), WX_REDIS_UNAVAILABLE.
 */
enum wx_err	 tpl_sync(struct app *, size_t *count, struct wxe *e);

/* The process's copy of the list (borrowed until the next call); NULL: none. */
json_object	*tpl_list(struct app *);

/* /record and /send: is id accepted (config, or * and listed)? long-term? */
bool		 tpl_known(struct app *, const char *id);
bool		 tpl_longterm(struct app *, const char *id);

/* After an answer: refresh the fleet's list when due (see above). */
void		 tpl_after(struct app *);

void		 tpl_cache_free(struct app *);

#endif
