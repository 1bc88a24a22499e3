/*
 * crypto.c: thin, checked wrappers over libcrypto (crypto.h).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "num.h"
#include "crypto.h"

static void
to_hex(const uint8_t *in, size_t n, char *out)
{

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = num_hex[in[i] >> 4];
		out[2 * i + 1] = num_hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* One digest over parts joined; raw into md (EVP_MAX_MD_SIZE). */
static int
digest(const EVP_MD *type, const char *const *parts, const size_t *lens,
    size_t n, uint8_t *md, unsigned *mdlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, type, NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], lens[i]);
	ok = ok && EVP_DigestFinal_ex(ctx, md, mdlen);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	const char *p = data;

	if (digest(EVP_sha256(), &p, &len, 1, md, &mdlen) != 0 ||
	    mdlen != CRYPTO_SHA256_LEN)
		return -1;
	memcpy(out, md, CRYPTO_SHA256_LEN);
	return 0;
}

int
crypto_sha256_hex(const void *data, size_t len,
    char out[2 * CRYPTO_SHA256_LEN + 1])
{
	uint8_t md[CRYPTO_SHA256_LEN];

	if (crypto_sha256(data, len, md) != 0) {
		out[0] = '\0';
		return -1;
	}
	to_hex(md, sizeof(md), out);
	return 0;
}

int
crypto_sha1_hex(const char *const *parts, size_t n,
    char out[2 * CRYPTO_SHA1_LEN + 1])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t lens[8];
	unsigned mdlen;

	out[0] = '\0';
	if (n > sizeof(lens) / sizeof(lens[0]))
		return -1;
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(parts[i]);
	if (digest(EVP_sha1(), parts, lens, n, md, &mdlen) != 0 ||
	    mdlen != CRYPTO_SHA1_LEN)
		return -1;
	to_hex(md, CRYPTO_SHA1_LEN, out);
	return 0;
}

bool
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static bool
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int
crypto_b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen,
    size_t *got)
{
	uint8_t last[3];
	size_t pad = 0, body, i;

	*got = 0;
	/*
	 * EVP_DecodeBlock skips whitespace, takes '=' anywhere and writes
	 * the padding out as zero bytes: the shape is checked here first,
	 * and the last quad goes through a buffer of its own, so out needs
	 * room for the decoded bytes only.
	 */
	if (len % 4 != 0 || len > (size_t)INT32_MAX)
		return -1;
	if (len == 0)
		return 0;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!b64_char((unsigned char)in[i]))
			return -1;
	body = len - 4;
	if (body / 4 * 3 + 3 - pad > outlen)
		return -1;
	if (body > 0 && EVP_DecodeBlock(out, (const unsigned char *)in,
	    (int)body) != (int)(body / 4 * 3))
		return -1;
	if (EVP_DecodeBlock(last, (const unsigned char *)in + body, 4) != 3)
		return -1;
	memcpy(out + body / 4 * 3, last, 3 - pad);
	*got = body / 4 * 3 + 3 - pad;
	return 0;
}

int
crypto_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	if (len > (size_t)INT32_MAX / 2 || (len + 2) / 3 * 4 + 1 > outlen)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}

int
crypto_aes256cbc(bool encrypt, const uint8_t key[CRYPTO_AES_KEY],
    const uint8_t iv[CRYPTO_AES_BLOCK], const uint8_t *in, size_t len,
    uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	int n1 = 0, n2 = 0, ok;

	if (len % CRYPTO_AES_BLOCK != 0 || len > (size_t)INT32_MAX)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv,
	    encrypt ? 1 : 0) &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) &&
	    EVP_CipherUpdate(ctx, out, &n1, in, (int)len) &&
	    EVP_CipherFinal_ex(ctx, out + n1, &n2);
	EVP_CIPHER_CTX_free(ctx);
	return ok && (size_t)(n1 + n2) == len ? 0 : -1;
}
