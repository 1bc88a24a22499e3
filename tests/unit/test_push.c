/*
 * test_push.c: libcrypto wrappers and the push reader (pushmsg.c), with
 * the vectors of wechat-next.md sections 1.2, 1.4 and its appendix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "unit.h"

#define AESKEY	"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#define APPID	"wxb11529c136998cb6"
/* WxJava's ciphertext of "我是中文abcd123" (random aaaabbbbccccdddd) */
#define WXJAVA_CT "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="

static void
test_sha(void)
{
	const char *a[] = { "1514711492", "1714036504", "AAAAA" };
	const char *b[] = { "1714037059", "486452656", "AAAAA" };
	char hex[65];

	CU_ASSERT_EQUAL(crypto_sha1_hex(a, 3, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, "f464b24fc39322e44b38aa78f5edd27bd1441696");
	CU_ASSERT_EQUAL(crypto_sha1_hex(b, 3, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, "899cf89e464efb63f54ddac96b0a0a235f53aa78");
	CU_ASSERT_EQUAL(crypto_sha256_hex("abc", 3, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_TRUE(crypto_equal("abcd", "abcd", 4));
	CU_ASSERT_FALSE(crypto_equal("abcd", "abce", 4));
}

static void
test_base64(void)
{
	uint8_t out[64];
	char enc[64];
	size_t got;

	CU_ASSERT_EQUAL(crypto_b64_decode(AESKEY "=", 44, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 32);
	CU_ASSERT_EQUAL(crypto_b64_encode(out, got, enc, sizeof(enc)), 0);
	/* the key's last character carries bits past the 32 bytes */
	CU_ASSERT_EQUAL(strncmp(enc, AESKEY, 42), 0);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWJj", 4, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 3);
	CU_ASSERT_EQUAL(memcmp(out, "abc", 3), 0);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWI=", 4, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 2);
	CU_ASSERT_EQUAL(crypto_b64_decode("YQ==", 4, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 1);
	CU_ASSERT_EQUAL(crypto_b64_decode("", 0, out, sizeof(out), &got), 0);
	CU_ASSERT_EQUAL(got, 0);
	/* refused: whitespace, '=' inside, a bad length, no room */
	CU_ASSERT_EQUAL(crypto_b64_decode("YW Jj", 5, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("YW\nj", 4, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("Y=Jj", 4, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWJ", 3, out, sizeof(out), &got), -1);
	CU_ASSERT_EQUAL(crypto_b64_decode("YWJjYWJj", 8, out, 5, &got), -1);
}

static void
test_aes(void)
{
	uint8_t key[32], ct[128], pt[128], back[128];
	size_t keylen, ctlen;

	CU_ASSERT_EQUAL(crypto_b64_decode(AESKEY "=", 44, key, sizeof(key), &keylen), 0);
	CU_ASSERT_EQUAL(crypto_b64_decode(WXJAVA_CT, strlen(WXJAVA_CT), ct,
	    sizeof(ct), &ctlen), 0);
	CU_ASSERT_EQUAL(ctlen, 64);
	CU_ASSERT_EQUAL(crypto_aes256cbc(false, key, key, ct, ctlen, pt), 0);
	CU_ASSERT_EQUAL(memcmp(pt, "aaaabbbbccccdddd\0\0\0\x13", 20), 0);
	CU_ASSERT_EQUAL(memcmp(pt + 20, "我是中文abcd123" APPID, 19 + 18), 0);
	CU_ASSERT_EQUAL(pt[63], 7);	/* pad 7, to a 32-byte block */
	CU_ASSERT_EQUAL(crypto_aes256cbc(true, key, key, pt, ctlen, back), 0);
	CU_ASSERT_EQUAL(memcmp(back, ct, ctlen), 0);
	CU_ASSERT_EQUAL(crypto_aes256cbc(false, key, key, ct, 63, pt), -1);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "SHA-1 signatures, SHA-256", test_sha },
		{ "base64", test_base64 },
		{ "AES-256-CBC, WxJava vector", test_aes },
	};

	return unit_run("push", tests, sizeof(tests) / sizeof(tests[0]));
}
