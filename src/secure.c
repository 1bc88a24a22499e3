/*
 * secure.c: constant-time compare, CSPRNG bytes, unique ids (secure.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "num.h"
#include "secure.h"

bool
sec_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned char diff = la != lb;

	/*
	 * Walk the candidate's length whatever the stored key is, going
	 * round the stored key when it is shorter: a wrapping index, not
	 * i % lb, which costs a division per byte on every request.
	 */
	for (i = 0, j = 0; i < la; i++) {
		diff |= (unsigned char)a[i] ^ (unsigned char)(lb ? b[j] : 0);
		if (++j >= lb)
			j = 0;
	}
	return diff == 0;
}

int
sec_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static uint64_t
next_id(void)
{
	static uint64_t state;
	static bool seeded;
	uint64_t z;

	if (!seeded) {
		if (sec_random(&state, sizeof(state)) != 0)
			state = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
		seeded = true;
	}
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
sec_new_id(char *out, size_t outlen)
{
	uint64_t v = next_id();
	size_t i;

	for (i = 0; i < 16 && i + 1 < outlen; i++)
		out[i] = num_hex[(v >> (60 - 4 * i)) & 15];
	out[i] = '\0';
}
