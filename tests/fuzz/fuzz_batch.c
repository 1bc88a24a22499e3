/*
 * fuzz_batch.c: libFuzzer target for a batch's openIds (h_batch_ids,
 * POST /send with "openIds").
 *
 * The first byte sets outbox.maxBatch (1..64), the rest is the body,
 * parsed as the request path parses it (jsonio_parse_object); bodies it
 * refuses end there. Besides crashes and sanitizer reports it checks
 * h_batch_ids against a model written here from api.md section 5, not
 * from the code:
 *   - no "openIds", not an array, empty, or longer than maxBatch (before
 *     duplicates are dropped): 400 "openIds: an array of 1 to <max>";
 *   - else the first element that is not a string of 28 of A-Z a-z 0-9
 *     _ -: 400 naming its index "openIds[<i>]";
 *   - else WX_OK with the distinct openIds in their first order, each
 *     pointing at the body's own string;
 *   - and a refusal returns no list.
 * LeakSanitizer checks that the list and the parse are freed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "handlers.h"
#include "jsonio.h"
#include "wxerr.h"

#define FUZZ_MAX	16384

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_batch: invariant broken: %s\n", what);
		abort();
	}
}

/* The model's openId: exactly 28 of A-Z a-z 0-9 _ - (api.md, wechat.md). */
static bool
model_openid(json_object *v)
{
	const char *s;
	size_t i, n;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n != 28 || strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* The model's verdict: -2 list refused, -1 all good, else the bad index. */
static long
model(json_object *body, long max, json_object **arr)
{
	size_t i, n;

	if (!json_object_object_get_ex(body, "openIds", arr) || *arr == NULL ||
	    !json_object_is_type(*arr, json_type_array))
		return -2;
	n = json_object_array_length(*arr);
	if (n == 0 || n > (size_t)max)
		return -2;
	for (i = 0; i < n; i++)
		if (!model_openid(json_object_array_get_idx(*arr, i)))
			return (long)i;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *body = NULL, *arr = NULL;
	const char **ids = NULL;
	char *text, want[64];
	struct wxe pe, e = { 0 };
	size_t n = 0, i, j, k, len;
	long max, verdict;
	enum wx_err err;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	max = 1 + data[0] % 64;
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (jsonio_parse_object(text, size - 1, &body, &pe) !=
	    WX_OK) {
		free(text);
		return 0;
	}
	verdict = model(body, max, &arr);
	err = h_batch_ids(body, max, &ids, &n, &e);

	if (verdict == -2) {
		snprintf(want, sizeof(want), "openIds: an array of 1 to %ld ", max);
		check(err == WX_BAD_REQUEST, "a bad list is a 400");
		check(strncmp(e.msg, want, strlen(want)) == 0, "its message");
	} else if (verdict >= 0) {
		snprintf(want, sizeof(want), "openIds[%ld]: ", verdict);
		check(err == WX_BAD_REQUEST, "a bad openId is a 400");
		check(strncmp(e.msg, want, strlen(want)) == 0,
		    "the message names the first bad index");
	} else {
		check(err == WX_OK, "a good list is taken");
		len = json_object_array_length(arr);
		check(n >= 1 && n <= len, "1..given openIds");
		/* the distinct ones, in their first order, from the body */
		k = 0;
		for (i = 0; i < len; i++) {
			json_object *v = json_object_array_get_idx(arr, i);
			const char *s = json_object_get_string(v);
			for (j = 0; j < i; j++)
				if (strcmp(json_object_get_string(
				    json_object_array_get_idx(arr, j)), s) == 0)
					break;
			if (j < i)
				continue;	/* a duplicate: dropped */
			check(k < n, "no distinct openId lost");
			check(ids[k] == s, "each points at the body's string");
			k++;
		}
		check(k == n, "nothing but the distinct openIds");
	}
	check(err == WX_OK || (ids == NULL && n == 0),
	    "a refusal returns no list");
	free(ids);
	json_object_put(body);
	free(text);
	return 0;
}
