/*
 * crypto.h: every hash, cipher and base64 wxsub uses, through OpenSSL's
 * libcrypto (libcurl loads it anyway); nothing here is hand-rolled.
 *
 *   SHA-256   session tokens are stored hashed (session.c), token
 *             fingerprints (cli.c)
 *   SHA-1     WeChat's push signatures (pushmsg.c)
 *   AES-256-CBC without padding, base64: WeChat's safe-mode pushes
 *
 * Functions return 0 or -1 and never allocate on the caller's behalf:
 * output goes into buffers the caller sizes.
 */
#ifndef WX_CRYPTO_H
#define WX_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_SHA1_LEN		20
#define CRYPTO_AES_KEY		32	/* AES-256 */
#define CRYPTO_AES_BLOCK	16

/* SHA-256 of data, raw, or as lower-case hex (out: 65 bytes). */
int	crypto_sha256(const void *data, size_t len,
	    uint8_t out[CRYPTO_SHA256_LEN]);
int	crypto_sha256_hex(const void *data, size_t len,
	    char out[2 * CRYPTO_SHA256_LEN + 1]);

/*
 * SHA-1 of parts[0..n) joined without separators, as lower-case hex
 * (out: 41 bytes): WeChat signs sort(token, timestamp, nonce[, Encrypt])
 * joined, and the caller sorts.
 */
int	crypto_sha1_hex(const char *const *parts, size_t n,
	    char out[2 * CRYPTO_SHA1_LEN + 1]);

/* a and b equal, in time that depends on n only (CRYPTO_memcmp). */
bool	crypto_equal(const void *a, const void *b, size_t n);

/*
 * Strict base64 (RFC 4648, '=' padding, no whitespace) of in[0..len)
 * into out; *got is the decoded length. -1 on a character outside the
 * alphabet, a bad padding, or when outlen is too small
 * (outlen >= 3 * len / 4 always suffices).
 */
int	crypto_b64_decode(const char *in, size_t len, uint8_t *out,
	    size_t outlen, size_t *got);
/* base64 of in[0..len) into out (4 * ceil(len / 3) + 1 bytes, NUL'd). */
int	crypto_b64_encode(const uint8_t *in, size_t len, char *out,
	    size_t outlen);

/*
 * AES-256-CBC over len bytes (a multiple of 16), with OpenSSL's padding
 * turned off: WeChat pads to 32-byte blocks (PKCS#7 with k = 32), which
 * OpenSSL's own unpadding refuses whenever the pad is above 16, so the
 * caller adds and checks the pad itself. out holds len bytes.
 */
int	crypto_aes256cbc(bool encrypt, const uint8_t key[CRYPTO_AES_KEY],
	    const uint8_t iv[CRYPTO_AES_BLOCK], const uint8_t *in, size_t len,
	    uint8_t *out);

#endif
