/*
 * handlers.h: one handler per route family (h_*.c). A handler receives
 * an authenticated request with its JSON body parsed and always leaves
 * an answer in the response.
 */
#ifndef WX_HANDLERS_H
#define WX_HANDLERS_H

#include "app.h"
#include "request.h"
#include "response.h"

void	h_health(struct app *, struct request *, struct response *);
void	h_login(struct app *, struct request *, struct response *);
void	h_logout(struct app *, struct request *, struct response *);
void	h_record(struct app *, struct request *, struct response *);
void	h_send(struct app *, struct request *, struct response *);
void	h_metrics(struct app *, struct request *, struct response *);
void	h_subs_get(struct app *, struct request *, struct response *);
void	h_subs_delete(struct app *, struct request *, struct response *);

#endif
