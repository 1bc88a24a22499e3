/*
 * fuzz_validate.c: libFuzzer target for validate.c. The input is
 * "key NUL value": the bytes before the first NUL are the data key, the
 * rest the value (no NUL: all key, empty value). Besides crashes and
 * sanitizer reports, it checks the promises validate.h makes, so a
 * wrong answer aborts as loudly as a bad read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "utf8.h"

#define FUZZ_MAX	4096	/* larger inputs teach nothing new */

/* why must be NUL-terminated inside whylen, and valid UTF-8. */
static void
check_why(const char *why, size_t whylen)
{
	const char	*nul;

	if (whylen == 0)
		return;
	nul = memchr(why, '\0', whylen);
	if (nul == NULL || !utf8_valid(why, (size_t)(nul - why)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 key[FUZZ_MAX + 1];
	char		 why[128];
	const char	*value, *nul;
	size_t		 klen, vlen, chars, tiny;
	bool		 ok, ok2;

	if (size > FUZZ_MAX)
		return 0;
	if (data == NULL)	/* memchr and memcpy want a pointer */
		data = (const uint8_t *)"";
	nul = memchr(data, '\0', size);
	klen = nul != NULL ? (size_t)(nul - (const char *)data) : size;
	memcpy(key, data, klen);
	key[klen] = '\0';
	/* The value stays in the fuzzer's exact-size buffer: ASan sees
	 * any read past len. */
	value = nul != NULL ? nul + 1 : (const char *)data + size;
	vlen = nul != NULL ? size - klen - 1 : 0;

	chars = utf8_chars(value, vlen);
	if (utf8_valid(value, vlen) != (chars != (size_t)-1))
		abort();
	if (chars != (size_t)-1 && chars > vlen)
		abort();
	(void)val_has_control(value, vlen);
	(void)val_openid(key);
	(void)val_template_id(key);
	(void)val_request_id(key);
	(void)val_data_key(key);

	ok = val_data_value(key, value, vlen, why, sizeof(why));
	check_why(why, sizeof(why));
	if (ok && (!val_data_key(key) || vlen == 0 ||
	    chars == (size_t)-1 || val_has_control(value, vlen) ||
	    why[0] != '\0'))
		abort();
	if (!ok && why[0] == '\0')
		abort();

	/* Same answer with a tiny or absent why, and no write past it. */
	tiny = size > 0 ? data[0] % 8 : 0;
	memset(why, 'Z', sizeof(why));
	ok2 = val_data_value(key, value, vlen, why, tiny);
	check_why(why, tiny);
	if (ok2 != ok || why[tiny] != 'Z')
		abort();
	if (val_data_value(key, value, vlen, NULL, 0) != ok)
		abort();
	return 0;
}
