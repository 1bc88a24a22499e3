/*
 * pushmsg.h: WeChat's message push, read without
 * I/O: the query string, the body and the clock go in; a verdict and the
 * events come out. The same functions are the live path (h_event.c),
 * the unit tests and the fuzz target.
 *
 * What is checked, in this order, before anything is believed:
 *   - timestamp within push.maxSkewSeconds of now;
 *   - signature = sha1(sort(token, timestamp, nonce)), when present,
 *     and always in plain mode;
 *   - safe or compatible mode (encrypt_type=aes, msg_signature, or an
 *     Encrypt field in the body): msg_signature = sha1(sort(token,
 *     timestamp, nonce, Encrypt)), then AES-256-CBC with the key and IV
 *     from push.aesKey, PKCS#7 to 32-byte blocks checked here (pad 1..32,
 *     every pad byte equal), the 4-byte length inside the plaintext, and
 *     the appid after the message equal to wechat.appid.
 * Signatures are compared in constant time. In compatible mode the
 * plaintext copy beside Encrypt is ignored: only what was signed counts.
 *
 * Bodies are XML (through expat: widely deployed, small, streaming, with
 * its own defence against entity expansion since 2.4; a DOCTYPE is refused
 * outright here, so no entity is ever declared, and elements are nested
 * at most PUSH_MAX_DEPTH deep) or JSON (json-c, strict, depth-bounded),
 * told apart by Content-Type, else by the first non-space byte. Every
 * shape WeChat documents (../shared/spec/wechat-next.md) reads alike: List as an object or
 * an array, at the top or inside an object (or array) named after the
 * event, repeated <List> in XML, numbers as numbers or strings.
 */
#ifndef WX_PUSHMSG_H
#define WX_PUSHMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wxerr.h"
#include "wxlimits.h"

#define PUSH_MAX_ITEMS	16	/* List entries in one push */
#define PUSH_MAX_DEPTH	8	/* XML elements / JSON nesting */
#define PUSH_MAX_FIELD	128	/* one plain field (ids, names, statuses) */

/* What a push needs from the configuration. */
struct push_conf {
	const char	*token;		/* push.token */
	const char	*aes_key;	/* push.aesKey (43 chars) or "" */
	const char	*appid;		/* wechat.appid */
	long		 max_skew;	/* push.maxSkewSeconds */
};

enum push_kind {
	PUSH_OTHER = 0,		/* any other message or event */
	PUSH_POPUP,		/* subscribe_msg_popup_event */
	PUSH_CHANGE,		/* subscribe_msg_change_event */
	PUSH_SENT,		/* subscribe_msg_sent_event */
};

struct push_item {
	char		 template_id[PUSH_MAX_FIELD];
	char		 status[32];	/* SubscribeStatusString */
	char		 msgid[24];	/* MsgID, decimal; "" when none */
	bool		 has_errcode;
	long long	 errcode;	/* ErrorCode */
	char		 error_status[PUSH_MAX_FIELD];	/* ErrorStatus */
};

struct push_msg {
	bool		 encrypted;	/* came through safe/compatible mode */
	bool		 json;		/* the message was JSON (else XML) */
	char		 to[PUSH_MAX_FIELD];	/* ToUserName */
	char		 from[PUSH_MAX_FIELD];	/* FromUserName: the openId */
	long long	 create_time;		/* CreateTime; 0 when absent */
	char		 msg_type[32];		/* MsgType */
	char		 event[64];		/* Event */
	enum push_kind	 kind;
	struct push_item items[PUSH_MAX_ITEMS];
	size_t		 n;
};

/*
 * GET URL verification. WX_OK with *echostr (malloc'd, the caller frees
 * it; returned as it came, not decrypted) when the signature is right
 * and the timestamp fresh; WX_BAD_SIGNATURE when not, WX_BAD_REQUEST when
 * the query is malformed, each with its reason carried in e.
 */
enum wx_err	 push_verify(const struct push_conf *, const char *query,
		    long long now, char **echostr, struct wxe *e);

/*
 * A POST push. WX_OK with out filled; WX_BAD_SIGNATURE (a check above
 * failed: nothing in the push may be believed, e says which);
 * WX_BAD_REQUEST (authentic, but not a message wxsub can read: a field
 * of a subscribe event that is missing or malformed); WX_INTERNAL (out
 * of memory).
 */
enum wx_err	 push_read(const struct push_conf *, const char *query,
		    const char *content_type, const char *body, size_t len,
		    long long now, struct push_msg *out, struct wxe *e);

/*
 * What makes a push the same push when WeChat sends it again:
 * FromUserName, CreateTime, Event and, for sent events, the MsgIDs.
 * -1 if it does not fit out.
 */
int		 push_dedup_id(const struct push_msg *, char *out, size_t outlen);

/*
 * Encrypt msg for a push as WeChat does (tests, the fuzzer's seeds):
 * random16 || len || msg || appid, padded to 32, AES-256-CBC, base64
 * into out. -1 if it does not fit.
 */
int		 push_encrypt(const char *aes_key, const char *appid,
		    const uint8_t random16[16], const char *msg, size_t len,
		    char *out, size_t outlen);

/* push.token and push.aesKey shapes (config.c). */
bool		 push_token_ok(const char *);
bool		 push_aes_key_ok(const char *);

#endif
