/*
 * validate.c: what a caller's bytes may look like.
 *
 * Every function here is pure: no I/O, no allocation, no state, and every
 * loop is bounded by a length the caller gave. The same code is the live
 * path, the CUnit target and the fuzz target.
 *
 * Subscribe-message values (WeChat's types: ../shared/spec/wechat.md) are
 * checked in two steps.
 * First the rules every value obeys: not empty, strict UTF-8 (no NUL), no
 * control characters or line breaks. Then the rule of the key's type,
 * looked up in the table types[] below, which works on the value decoded
 * into at most MAXCP code points. WeChat's own wording of the rules is
 * loose; where it leaves a choice, the choice is written down at the
 * checker that makes it, and the rule text sent back says the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wxlimits.h"
#include "utf8.h"
#include "validate.h"

#define NOFIT	((size_t)-1)	/* a date/time parser did not match */
#define MAXCP	64		/* code points a typed value is decoded into */
#define KEYMAX	64		/* a data key is shorter than this */

/* Code points the date, time and amount rules name. */
#define CP_NIAN	0x5E74		/* 年 year */
#define CP_YUE	0x6708		/* 月 month */
#define CP_RI	0x65E5		/* 日 day */
#define CP_YUAN	0x5143		/* 元 yuan */

struct range {
	uint32_t	lo, hi;		/* inclusive */
};

/* Checks the decoded value; NULL when it passes, else the broken rule. */
typedef const char *(*type_check)(const uint32_t *, size_t);

struct vtype {
	const char	*name;
	size_t		 max;		/* code points; never above MAXCP */
	const char	*lenrule;	/* why, when the value is longer */
	type_check	 check;		/* NULL: the length is the only rule */
};

/* Rule texts: each is both the why and the documentation of the rule. */
#define R_NUMBER	"digits with an optional leading + or - and at most " \
			"one decimal point"
#define R_LETTER	"ASCII letters only"
#define R_SYMBOL	"symbols only (punctuation and signs; no letters, " \
			"digits, spaces or Chinese)"
#define R_CHARSTR	"ASCII letters, digits and punctuation only (no " \
			"spaces)"
#define R_TIME		"expected HH:MM or HH:MM:SS, optionally after a " \
			"date; A~B for a range"
#define R_DATE		"expected y年m月d日, y年m月, m月d日, YYYY-MM-DD, " \
			"YYYY-MM or MM-DD (or with / or .), optionally " \
			"followed by HH:MM[:SS]; A~B for a range"
#define R_AMOUNT	"expected an optional currency sign (¥ ￥ $ € £), " \
			"1 to 10 digits, up to 2 decimals, optionally 元"
#define R_PHONE		"digits, spaces and + - ( ) only"
#define R_CAR		"ASCII letters and digits, with a Chinese character " \
			"allowed first and last"
#define R_NAME_LEN	"at most 10 characters with Chinese, else 20"
#define R_NAME		"letters, spaces and . · - ' only"
#define R_PHRASE	"Chinese characters only"

/* ---- character classes ------------------------------------------------ */

#define G	VC_GRAPH
#define ID	(VC_ID | VC_DOTID | VC_URLTOK | G)
#define DIG	(VC_DIGIT | VC_HEX | VC_WORD | ID)
#define HEXA	(VC_ALPHA | VC_HEX | VC_WORD | ID)
#define ALPH	(VC_ALPHA | VC_WORD | ID)

/* GNU range designators; the ranges never overlap (-Woverride-init). */
const uint16_t val_cc[256] = {
	[0x09 ... 0x0D] = VC_SPACE, [' '] = VC_SPACE,
	[0x21 ... 0x29] = G, ['*'] = VC_URLTOK | G, [0x2B ... 0x2C] = G,
	['-'] = ID, ['.'] = VC_DOTID | VC_URLTOK | G, ['/'] = G,
	['0' ... '9'] = DIG, [0x3A ... 0x40] = G,
	['A' ... 'F'] = HEXA, ['G' ... 'Z'] = ALPH,
	[0x5B ... 0x5E] = G, ['_'] = VC_WORD | ID, ['`'] = G,
	['a' ... 'f'] = HEXA, ['g' ... 'z'] = ALPH,
	[0x7B ... 0x7D] = G, ['~'] = VC_URLTOK | G,
};

#undef G
#undef ID
#undef DIG
#undef HEXA
#undef ALPH

/* The code-point forms of the classes the typed checkers use. */
static bool
is_digit(uint32_t c)
{
	return c < 0x80 && val_is(c, VC_DIGIT);
}

static bool
is_alpha(uint32_t c)
{
	return c < 0x80 && val_is(c, VC_ALPHA);
}

static bool
is_alnum(uint32_t c)
{
	return c < 0x80 && val_is(c, VC_ALNUM);
}

/* Printable ASCII other than letters, digits and space. */
static bool
is_punct(uint32_t c)
{
	return c > 0x20 && c < 0x7F && !is_alnum(c);
}

static bool
in_ranges(uint32_t c, const struct range *r, size_t nr)
{
	size_t	i;

	for (i = 0; i < nr; i++)
		if (c >= r[i].lo && c <= r[i].hi)
			return true;
	return false;
}

/*
 * A Chinese character: CJK Unified Ideographs, Extension A, the
 * compatibility ideographs and the supplementary ideographic plane
 * (Extensions B to F and the compatibility supplement).
 */
static bool
is_cjk(uint32_t c)
{
	static const struct range	cjk[] = {
		{ 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF },
		{ 0xF900, 0xFAFF }, { 0x20000, 0x2FA1F },
	};

	return in_ranges(c, cjk, sizeof(cjk) / sizeof(cjk[0]));
}

/*
 * A symbol: a visible sign that is not a letter, a digit, a space or a
 * Chinese character. WeChat publishes no list, so this is the set Chinese
 * templates use: ASCII punctuation, Latin-1 signs, general punctuation
 * (— … ‰ ※), currency signs, ℃ № ™, arrows, maths, shapes and dingbats
 * (→ ≥ ★ ✓), the CJK and fullwidth punctuation an IME types
 * (、。《》【】！，：？￥). Left out: letter-like and digit-like signs
 * (ª º ² ① ❶), invisible ones (soft hyphen, zero-width), Braille, and
 * emoji, which are pictures and often span several code points.
 */
static bool
is_symbol(uint32_t c)
{
	static const struct range	sym[] = {
		{ 0x0021, 0x002F }, { 0x003A, 0x0040 },	/* ASCII */
		{ 0x005B, 0x0060 }, { 0x007B, 0x007E },
		{ 0x00A1, 0x00A9 },	/* ¡ ¢ £ ¤ ¥ ¦ § ¨ © */
		{ 0x00AB, 0x00AC },	/* « ¬ */
		{ 0x00AE, 0x00B1 },	/* ® ¯ ° ± */
		{ 0x00B4, 0x00B4 },	/* ´ */
		{ 0x00B6, 0x00B8 },	/* ¶ · ¸ */
		{ 0x00BB, 0x00BB },	/* » */
		{ 0x00BF, 0x00BF },	/* ¿ */
		{ 0x00D7, 0x00D7 },	/* × */
		{ 0x00F7, 0x00F7 },	/* ÷ */
		{ 0x2010, 0x2027 },	/* dashes, quotes, bullets, … */
		{ 0x2030, 0x205E },	/* ‰ ′ ″ ‹ › ※ ‼ */
		{ 0x20A0, 0x20C0 },	/* currency signs */
		{ 0x2103, 0x2103 },	/* ℃ */
		{ 0x2109, 0x2109 },	/* ℉ */
		{ 0x2116, 0x2116 },	/* № */
		{ 0x2122, 0x2122 },	/* ™ */
		{ 0x2190, 0x23FF },	/* arrows, maths, technical */
		{ 0x2500, 0x2775 },	/* boxes, shapes, misc, dingbats */
		{ 0x2794, 0x27FF },	/* dingbats after ❶..➓, arrows */
		{ 0x2900, 0x2BFF },	/* more arrows, maths and symbols */
		{ 0x3001, 0x3003 },	/* 、 。 〃 */
		{ 0x3008, 0x301F },	/* 〈 〉 《 》 「 」 『 』 【 】 〒 〜 */
		{ 0x3030, 0x3030 },	/* 〰 */
		{ 0x30FB, 0x30FB },	/* ・ */
		{ 0xFE30, 0xFE6B },	/* vertical and small forms */
		{ 0xFF01, 0xFF0F },	/* fullwidth ！ ＂ … ／ */
		{ 0xFF1A, 0xFF20 },	/* ： ； ＜ ＝ ＞ ？ ＠ */
		{ 0xFF3B, 0xFF40 },	/* ［ ＼ ］ ＾ ＿ ｀ */
		{ 0xFF5B, 0xFF65 },	/* ｛ ｜ ｝ ～ ｟ ｠ ｡ ｢ ｣ ､ ･ */
		{ 0xFFE0, 0xFFE6 },	/* ￠ ￡ ￢ ￣ ￤ ￥ ￦ */
		{ 0xFFE8, 0xFFEE },	/* ￨ .. ￮ */
	};

	return in_ranges(c, sym, sizeof(sym) / sizeof(sym[0]));
}

/* The currency signs an amount may start with: ¥ ￥ $ € £. */
static bool
is_currency(uint32_t c)
{
	return c == 0x00A5 || c == 0xFFE5 || c == '$' || c == 0x20AC ||
	    c == 0x00A3;
}

/*
 * A letter of a name in Latin script: ASCII, Latin-1 and Latin Extended
 * A/B (José, Müller, Dvořák), but not × and ÷, which sit among them.
 */
static bool
is_name_letter(uint32_t c)
{
	return is_alpha(c) ||
	    (c >= 0x00C0 && c <= 0x024F && c != 0x00D7 && c != 0x00F7);
}

/* The marks a name may carry: space . · - ' */
static bool
is_name_mark(uint32_t c)
{
	return c == ' ' || c == '.' || c == 0x00B7 || c == '-' || c == '\'';
}

/*
 * Byte-wise, so it answers for any bytes, UTF-8 or not: the C0 controls
 * (NUL, \t, \n and \r among them), DEL, C1 (U+0080..U+009F, C2 80..C2 9F)
 * and U+2028/U+2029 (E2 80 A8/A9), which JavaScript and WeChat's
 * renderer take as line breaks. None of these lead bytes can be a
 * continuation byte, so a match is never the tail of another character.
 */
bool
val_has_control(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;

	if (s == NULL)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7F)
			return true;
		if (p[i] == 0xC2 && i + 1 < len &&
		    p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
			return true;
		if (p[i] == 0xE2 && i + 2 < len && p[i + 1] == 0x80 &&
		    (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
			return true;
	}
	return false;
}

/* ---- identifiers ------------------------------------------------------ */

int
val_decimal(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	/* strtoll's leniency (spaces, '+', '-') is shut out by a digit first. */
	if (!val_is(*s, VC_DIGIT))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

bool
val_graph(const char *s, size_t max)
{
	size_t	n;

	for (n = 0; s[n] != '\0'; n++)
		if (!val_is(s[n], VC_GRAPH))
			return false;
	return n > 0 && n <= max;
}

bool
val_nospace(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool
val_span(const char *s, size_t len, unsigned cls)
{
	for (size_t i = 0; i < len; i++)
		if (!val_is(s[i], cls))
			return false;
	return true;
}

const struct val_rule val_rules[VS__MAX] = {
	[VS_OPENID] = { "openId", VC_ID, LIM_OPENID, LIM_OPENID },
	[VS_TEMPLATE_ID] = { "templateId", VC_ID, 1, LIM_ID - 1 },
	[VS_REQUEST_ID] = { "X-Request-Id", VC_DOTID, 1, LIM_REQID - 1 },
	[VS_LOGIN_CODE] = { "code", VC_ID, 1, 128 },
	[VS_ACCESS_TOKEN] = { "access_token", VC_URLTOK, 1, LIM_TOKEN - 1 },
};

bool
val_shape(enum val_shape k, const char *s, size_t len)
{
	const struct val_rule *r = &val_rules[k];

	return s != NULL && len >= r->min && len <= r->max &&
	    val_span(s, len, r->cls);
}

bool
val_shape_str(enum val_shape k, const char *s)
{
	/* A huge string costs no more than a short one. */
	return s != NULL &&
	    val_shape(k, s, strnlen(s, val_rules[k].max + 1));
}

bool
val_openid(const char *s)
{
	return val_shape_str(VS_OPENID, s);
}

bool
val_template_id(const char *s)
{
	return val_shape_str(VS_TEMPLATE_ID, s);
}

bool
val_request_id(const char *s)
{
	return val_shape_str(VS_REQUEST_ID, s);
}

bool
val_data_key(const char *s)
{
	size_t	n;

	if (s == NULL || !val_is(s[0], VC_ALPHA))
		return false;
	n = strnlen(s, KEYMAX);
	return n < KEYMAX && val_span(s, n, VC_WORD);
}

/* ---- type checkers: NULL when the value passes, else the rule -------- */

/*
 * number: ASCII digits, at least one, with at most one '.' anywhere among
 * them ("3.14", ".5" and "5." pass, "." and "1.2.3" do not), and one
 * optional leading '-' or '+' (temperatures, balances). No thousands
 * separators or exponents: WeChat says digits. The sign and the point
 * count towards the 32 characters.
 */
static const char *
chk_number(const uint32_t *c, size_t n)
{
	size_t	i = 0, digits = 0, points = 0;

	if (c[0] == '-' || c[0] == '+')
		i = 1;
	for (; i < n; i++) {
		if (is_digit(c[i]))
			digits++;
		else if (c[i] == '.')
			points++;
		else
			return R_NUMBER;
	}
	return digits > 0 && points <= 1 ? NULL : R_NUMBER;
}

/* Are all of c[0..n) in the class? The rule of the one-class types. */
static bool
every(const uint32_t *c, size_t n, bool (*in_class)(uint32_t))
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!in_class(c[i]))
			return false;
	return true;
}

/* letter: ASCII letters only; fullwidth and accented letters are not. */
static const char *
chk_letter(const uint32_t *c, size_t n)
{
	return every(c, n, is_alpha) ? NULL : R_LETTER;
}

/* symbol: every character passes is_symbol() (see there). */
static const char *
chk_symbol(const uint32_t *c, size_t n)
{
	return every(c, n, is_symbol) ? NULL : R_SYMBOL;
}

/* Printable ASCII but space: a letter, a digit or punctuation. */
static bool
is_graph(uint32_t c)
{
	return is_alnum(c) || is_punct(c);
}

/*
 * character_string: printable ASCII without space (order numbers, codes:
 * "SO-2019/001#A"). Spaces are not symbols, and Chinese is not allowed.
 */
static const char *
chk_charstr(const uint32_t *c, size_t n)
{
	return every(c, n, is_graph) ? NULL : R_CHARSTR;
}

/*
 * Read up to max ASCII digits at c[i]. Returns how many there were; a
 * digit right after them is left for the caller, whose next expectation
 * then fails, so "123" never passes as "12". Their value goes to *v
 * unless v is NULL; callers wanting it ask for at most 4 digits, so it
 * cannot overflow.
 */
static size_t
read_digits(const uint32_t *c, size_t n, size_t i, size_t max, unsigned *v)
{
	unsigned	val = 0;
	size_t		k = 0;

	while (i + k < n && k < max && is_digit(c[i + k])) {
		if (v != NULL)
			val = val * 10 + (unsigned)(c[i + k] - '0');
		k++;
	}
	if (v != NULL)
		*v = val;
	return k;
}

static bool
leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * A month, and a day that month has: 2019-02-30 is no date. Without a
 * year (m月d日, MM-DD) February may have 29 days.
 */
static bool
month_ok(unsigned m)
{
	return m >= 1 && m <= 12;
}

static bool
day_ok(bool has_year, unsigned y, unsigned m, unsigned d)
{
	static const unsigned char	mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (!month_ok(m) || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && has_year)
		return leap(y);
	return true;
}

/*
 * A 24-hour clock at c[i]: H or HH (0..23), ':', MM (00..59), optionally
 * ':' SS (00..59). Returns the index after it, or NOFIT.
 */
static size_t
p_clock(const uint32_t *c, size_t n, size_t i)
{
	unsigned	h, m, s;
	size_t		k;

	k = read_digits(c, n, i, 2, &h);
	if (k == 0 || h > 23)
		return NOFIT;
	i += k;
	if (i >= n || c[i] != ':')
		return NOFIT;
	i++;
	if (read_digits(c, n, i, 2, &m) != 2 || m > 59)
		return NOFIT;
	i += 2;
	if (i < n && c[i] == ':') {
		if (read_digits(c, n, i + 1, 2, &s) != 2 || s > 59)
			return NOFIT;
		i += 3;
	}
	return i;
}

/*
 * A Chinese date at c[i]: y年m月d日, y年m月 or m月d日, with a 4-digit
 * year and a 1- or 2-digit month and day. Returns the index after it.
 */
static size_t
p_date_cn(const uint32_t *c, size_t n, size_t i)
{
	unsigned	a, m, d;
	size_t		k;

	k = read_digits(c, n, i, 4, &a);
	if (k == 0 || i + k >= n)
		return NOFIT;
	i += k;
	if (c[i] == CP_NIAN) {
		if (k != 4)
			return NOFIT;
		i++;
		k = read_digits(c, n, i, 2, &m);
		if (k == 0 || i + k >= n || c[i + k] != CP_YUE)
			return NOFIT;
		i += k + 1;
		k = read_digits(c, n, i, 2, &d);
		if (k == 0)	/* y年m月 */
			return month_ok(m) ? i : NOFIT;
		if (i + k >= n || c[i + k] != CP_RI)
			return NOFIT;
		return day_ok(true, a, m, d) ? i + k + 1 : NOFIT;
	}
	if (k > 2 || c[i] != CP_YUE)
		return NOFIT;
	i++;
	k = read_digits(c, n, i, 2, &d);
	if (k == 0 || i + k >= n || c[i + k] != CP_RI)
		return NOFIT;
	return day_ok(false, 0, a, d) ? i + k + 1 : NOFIT;
}

/*
 * A numeric date at c[i]: YYYY-MM-DD, YYYY-MM or MM-DD, the separator
 * one of - / . and the same throughout; month and day take 1 or 2
 * digits (2019-1-5 passes). Returns the index after it, or NOFIT.
 */
static size_t
p_date_num(const uint32_t *c, size_t n, size_t i)
{
	unsigned	a, b, d;
	size_t		ka, kb, kd;
	uint32_t	sep;

	ka = read_digits(c, n, i, 4, &a);
	if (ka == 0 || i + ka >= n)
		return NOFIT;
	i += ka;
	sep = c[i];
	if (sep != '-' && sep != '/' && sep != '.')
		return NOFIT;
	i++;
	kb = read_digits(c, n, i, 2, &b);
	if (kb == 0)
		return NOFIT;
	i += kb;
	if (ka == 4) {
		if (i < n && c[i] == sep) {
			kd = read_digits(c, n, i + 1, 2, &d);
			if (kd == 0 || !day_ok(true, a, b, d))
				return NOFIT;
			return i + 1 + kd;
		}
		return month_ok(b) ? i : NOFIT;		/* YYYY-MM */
	}
	if (ka > 2)
		return NOFIT;
	return day_ok(false, 0, a, b) ? i : NOFIT;	/* MM-DD */
}

static size_t
p_date_only(const uint32_t *c, size_t n, size_t i)
{
	size_t	j;

	j = p_date_cn(c, n, i);
	return j != NOFIT ? j : p_date_num(c, n, i);
}

/* One date value: a date, then optionally a space and a clock. */
static size_t
p_date(const uint32_t *c, size_t n, size_t i)
{
	size_t	j, k;

	j = p_date_only(c, n, i);
	if (j == NOFIT || j >= n || c[j] != ' ')
		return j;
	k = p_clock(c, n, j + 1);
	/* Not a clock after the space: leave the space for the range. */
	return k != NOFIT ? k : j;
}

/* One time value: a clock, optionally after a date and a space. */
static size_t
p_time(const uint32_t *c, size_t n, size_t i)
{
	size_t	j, k;

	j = p_date_only(c, n, i);
	if (j != NOFIT && j < n && c[j] == ' ') {
		k = p_clock(c, n, j + 1);
		if (k != NOFIT)
			return k;
	}
	return p_clock(c, n, i);
}

/*
 * The whole value is one item, or two joined by '~' (one optional space
 * on each side: "09:00 ~ 18:00"). The halves are independent, so
 * "2019-12-25 09:00~18:00" passes. Only the ASCII tilde is a range: a
 * fullwidth ～ is not in WeChat's examples.
 */
static bool
p_range(const uint32_t *c, size_t n,
    size_t (*item)(const uint32_t *, size_t, size_t))
{
	size_t	i;

	i = item(c, n, 0);
	if (i == NOFIT)
		return false;
	if (i == n)
		return true;
	if (c[i] == ' ')
		i++;
	if (i >= n || c[i] != '~')
		return false;
	i++;
	if (i < n && c[i] == ' ')
		i++;
	return item(c, n, i) == n;
}

/* time: a clock must be there; a bare date is a date, not a time. */
static const char *
chk_time(const uint32_t *c, size_t n)
{
	return p_range(c, n, p_time) ? NULL : R_TIME;
}

/* date: a date must be there; a clock may follow it. */
static const char *
chk_date(const uint32_t *c, size_t n)
{
	return p_range(c, n, p_date) ? NULL : R_DATE;
}

/*
 * amount: [sign] digits [. 1-2 digits] [元]. The sign is one of ¥ ￥ $ €
 * £, at most one and only first; WeChat's "1 currency sign" is read as
 * "at most one", since "100元" is the common Chinese form. Both a sign
 * and 元 may appear, as WeChat's rule literally allows. 1..10 integer
 * digits; no minus, no thousands separators ("pure digits").
 */
static const char *
chk_amount(const uint32_t *c, size_t n)
{
	size_t	i = 0, k;

	if (is_currency(c[0]))
		i = 1;
	k = read_digits(c, n, i, 10, NULL);
	if (k == 0)
		return R_AMOUNT;
	i += k;
	if (i < n && c[i] == '.') {
		k = read_digits(c, n, i + 1, 2, NULL);
		if (k == 0)
			return R_AMOUNT;
		i += 1 + k;
	}
	if (i < n && c[i] == CP_YUAN)
		i++;
	return i == n ? NULL : R_AMOUNT;
}

/*
 * phone_number: digits and the symbols phone numbers are written with,
 * + - ( ) and space ("+86 (0766) 6688-8866"); at least one digit. No
 * letters, no extensions in words.
 */
static const char *
chk_phone(const uint32_t *c, size_t n)
{
	size_t	i, digits = 0;

	for (i = 0; i < n; i++) {
		if (is_digit(c[i]))
			digits++;
		else if (c[i] != '+' && c[i] != '-' && c[i] != '(' &&
		    c[i] != ')' && c[i] != ' ')
			return R_PHONE;
	}
	return digits > 0 ? NULL : R_PHONE;
}

/*
 * car_number: ASCII letters and digits (either case), with a Chinese
 * character allowed as the first (province: 粤, 京) and as the last
 * (挂, 学, 警, 领); at least one letter or digit.
 */
static const char *
chk_car(const uint32_t *c, size_t n)
{
	size_t	i, alnum = 0;

	for (i = 0; i < n; i++) {
		if (is_alnum(c[i]))
			alnum++;
		else if (!(is_cjk(c[i]) && (i == 0 || i == n - 1)))
			return R_CAR;
	}
	return alnum > 0 ? NULL : R_CAR;
}

/*
 * name: Chinese characters, Latin letters (ASCII and accented) and the
 * marks space . · - ' ; no digits. With any Chinese character in it the
 * limit is 10 ("mixed counts as Chinese"), else 20. A name needs at
 * least one letter or Chinese character: "..." is no name.
 */
static const char *
chk_name(const uint32_t *c, size_t n)
{
	size_t	i, cjk = 0, letters = 0;

	for (i = 0; i < n; i++) {
		if (is_cjk(c[i]))
			cjk++;
		else if (is_name_letter(c[i]))
			letters++;
		else if (!is_name_mark(c[i]))
			return R_NAME;
	}
	if (cjk > 0 && n > 10)
		return R_NAME_LEN;
	return cjk + letters > 0 ? NULL : R_NAME;
}

/* phrase: Chinese characters only, no punctuation. */
static const char *
chk_phrase(const uint32_t *c, size_t n)
{
	return every(c, n, is_cjk) ? NULL : R_PHRASE;
}

/*
 * The types WeChat names, in code points. thing takes anything printable.
 * time and date have no stated length: 64 is well above their longest
 * form (a range of two full date-times is 43). enum, enum_string and any
 * type not listed pass on the generic rules alone: their values come from
 * the template itself, which the service cannot see.
 */
static const struct vtype types[] = {
	{ "thing",		20, "at most 20 characters",	NULL },
	{ "number",		32, "at most 32 characters",	chk_number },
	{ "letter",		32, "at most 32 letters",	chk_letter },
	{ "symbol",		5,  "at most 5 symbols",	chk_symbol },
	{ "character_string",	32, "at most 32 characters",	chk_charstr },
	{ "time",		MAXCP, R_TIME,			chk_time },
	{ "date",		MAXCP, R_DATE,			chk_date },
	{ "amount",		15, R_AMOUNT,			chk_amount },
	{ "phone_number",	17, "at most 17 characters",	chk_phone },
	{ "car_number",		8,  "at most 8 characters",	chk_car },
	{ "name",		20, R_NAME_LEN,			chk_name },
	{ "phrase",		5,  "at most 5 Chinese characters",
	    chk_phrase },
};

/* The type of a valid data key: its length once trailing digits go. */
static size_t
type_len(const char *key)
{
	size_t	n = strlen(key);	/* < KEYMAX: the key was checked */

	while (n > 0 && is_digit((unsigned char)key[n - 1]))
		n--;
	return n;
}

static const struct vtype *
type_find(const char *type, size_t tlen)
{
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == tlen &&
		    memcmp(types[i].name, type, tlen) == 0)
			return &types[i];
	return NULL;
}

/*
 * Write "type: rule" into why[0..whylen), truncating if it must, but
 * never inside a UTF-8 sequence (the text goes into a JSON answer), and
 * always NUL-terminated when whylen > 0. Returns false, so callers can
 * refuse and explain in one statement.
 */
static bool
refuse(char *why, size_t whylen, const char *type, size_t tlen,
    const char *rule)
{
	const char	*part[3] = { type, ": ", rule };
	const size_t	 plen[3] = { tlen, 2, strlen(rule) };
	size_t		 at = 0, i, j;

	if (why == NULL || whylen == 0)
		return false;
	for (i = 0; i < 3; i++) {
		for (j = 0; j < plen[i]; j++) {
			if (at + 1 == whylen) {
				if (utf8_is_cont(part[i][j]))
					at = utf8_drop_partial(why, at);
				why[at] = '\0';
				return false;
			}
			why[at++] = part[i][j];
		}
	}
	why[at] = '\0';
	return false;
}

/*
 * See validate.h. Beyond it: a key that val_data_key() refuses fails too
 * (why "key: ..."), since its type could not be told; every why starts
 * with the type ("thing: must not be empty"), so the caller can prefix
 * the key; and why is "" when the value passes.
 */
bool
val_data_value(const char *key, const char *value, size_t len,
    char *why, size_t whylen)
{
	const struct vtype	*t;
	const char		*rule;
	uint32_t		 cp[MAXCP];
	size_t			 tlen, n;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (!val_data_key(key))
		return refuse(why, whylen, "key", 3,
		    "expected a letter, then letters, digits or _");
	tlen = type_len(key);
	if (value == NULL || len == 0)
		return refuse(why, whylen, key, tlen, "must not be empty");
	n = utf8_chars(value, len);
	if (n == (size_t)-1)
		return refuse(why, whylen, key, tlen, "is not valid UTF-8");
	if (val_has_control(value, len))
		return refuse(why, whylen, key, tlen,
		    "must not contain control characters or newlines");

	t = type_find(key, tlen);
	if (t == NULL)
		return true;
	if (n > t->max)
		return refuse(why, whylen, key, tlen, t->lenrule);
	if (t->check == NULL)
		return true;
	/* n <= t->max <= MAXCP, so this fits; checked all the same. */
	n = utf8_decode_all(value, len, cp, MAXCP);
	if (n == UTF8_BAD)
		return refuse(why, whylen, key, tlen, t->lenrule);
	rule = t->check(cp, n);
	if (rule != NULL)
		return refuse(why, whylen, key, tlen, rule);
	return true;
}
