/*
 * test_validate.c: CUnit tests for validate.c. Every limit is tried at
 * and one past the bound, with real multi-byte text, since the rules
 * count code points and the bugs live where bytes and characters differ.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"
#include <CUnit/CUnit.h>

#include "wxlimits.h"
#include "validate.h"
#include "utf8.h"

/* Sample characters, spelled in bytes so the test reads the same anywhere. */
#define ZH	"\xe4\xb8\xad"		/* 中, U+4E2D, 3 bytes */
#define EXTB	"\xf0\xa0\x80\x80"	/* 𠀀, U+20000, 4 bytes */
#define EXTA	"\xe3\x90\x80"		/* 㐀, U+3400 */
#define COMPAT	"\xef\xa4\x80"		/* 豈, U+F900 */

/* A value built from n copies of unit; one static buffer, reused. */
static const char *
rep(const char *unit, size_t n)
{
	static char	buf[1024];
	size_t		ul = strlen(unit), i;

	CU_ASSERT_FATAL(ul * n < sizeof(buf));
	for (i = 0; i < n; i++)
		memcpy(buf + i * ul, unit, ul);
	buf[ul * n] = '\0';
	return buf;
}

/* val_data_value on a NUL-terminated value, the why thrown away. */
static bool
dv(const char *key, const char *value)
{
	char	why[128];

	return val_data_value(key, value, strlen(value), why, sizeof(why));
}

/* The why text a value gets (empty when it passes). */
static const char *
why_of(const char *key, const char *value, size_t len)
{
	static char	why[256];

	memset(why, 'Z', sizeof(why));
	(void)val_data_value(key, value, len, why, sizeof(why));
	return why;
}

#define OK(k, v)	CU_ASSERT_TRUE(dv((k), (v)))
#define BAD(k, v)	CU_ASSERT_FALSE(dv((k), (v)))
#define WHY(k, v, s)	\
	CU_ASSERT_STRING_EQUAL(why_of((k), (v), strlen(v)), (s))

/* ---- UTF-8 ------------------------------------------------------------ */

static void
test_utf8_valid(void)
{
	CU_ASSERT_TRUE(utf8_valid("", 0));
	CU_ASSERT_TRUE(utf8_valid(NULL, 0));
	CU_ASSERT_TRUE(utf8_valid("hello", 5));
	CU_ASSERT_TRUE(utf8_valid("\x7f", 1));
	CU_ASSERT_TRUE(utf8_valid("\xc2\x80", 2));		/* U+0080 */
	CU_ASSERT_TRUE(utf8_valid("\xdf\xbf", 2));		/* U+07FF */
	CU_ASSERT_TRUE(utf8_valid("\xe0\xa0\x80", 3));		/* U+0800 */
	CU_ASSERT_TRUE(utf8_valid("\xed\x9f\xbf", 3));		/* U+D7FF */
	CU_ASSERT_TRUE(utf8_valid("\xee\x80\x80", 3));		/* U+E000 */
	CU_ASSERT_TRUE(utf8_valid("\xef\xbf\xbf", 3));		/* U+FFFF */
	CU_ASSERT_TRUE(utf8_valid("\xf0\x90\x80\x80", 4));	/* U+10000 */
	CU_ASSERT_TRUE(utf8_valid("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	CU_ASSERT_TRUE(utf8_valid(ZH EXTB "a", 8));
}

static void
test_utf8_invalid(void)
{
	/* Overlongs. */
	CU_ASSERT_FALSE(utf8_valid("\xc0\xaf", 2));
	CU_ASSERT_FALSE(utf8_valid("\xc1\xbf", 2));
	CU_ASSERT_FALSE(utf8_valid("\xe0\x80\xaf", 3));
	CU_ASSERT_FALSE(utf8_valid("\xe0\x9f\xbf", 3));
	CU_ASSERT_FALSE(utf8_valid("\xf0\x80\x80\xaf", 4));
	CU_ASSERT_FALSE(utf8_valid("\xf0\x8f\xbf\xbf", 4));
	/* Surrogates. */
	CU_ASSERT_FALSE(utf8_valid("\xed\xa0\x80", 3));
	CU_ASSERT_FALSE(utf8_valid("\xed\xbf\xbf", 3));
	CU_ASSERT_FALSE(utf8_valid("\xed\xa0\xbd\xed\xb8\x80", 6));
	/* Past U+10FFFF. */
	CU_ASSERT_FALSE(utf8_valid("\xf4\x90\x80\x80", 4));
	CU_ASSERT_FALSE(utf8_valid("\xf5\x80\x80\x80", 4));
	CU_ASSERT_FALSE(utf8_valid("\xff", 1));
	CU_ASSERT_FALSE(utf8_valid("\xfe", 1));
	/* Truncated, by the bytes and by len. */
	CU_ASSERT_FALSE(utf8_valid("\xe4\xb8", 2));
	CU_ASSERT_FALSE(utf8_valid("\xe4", 1));
	CU_ASSERT_FALSE(utf8_valid("\xf0\xa0\x80", 3));
	CU_ASSERT_FALSE(utf8_valid(ZH, 2));
	CU_ASSERT_FALSE(utf8_valid("a\xe4\xb8" "b", 4));
	/* Stray continuation bytes. */
	CU_ASSERT_FALSE(utf8_valid("\x80", 1));
	CU_ASSERT_FALSE(utf8_valid("a\xbf", 2));
	CU_ASSERT_FALSE(utf8_valid(ZH "\x80", 4));
	/* Embedded NUL. */
	CU_ASSERT_FALSE(utf8_valid("a\0b", 3));
	CU_ASSERT_FALSE(utf8_valid("\0", 1));
	/* NULL with a length. */
	CU_ASSERT_FALSE(utf8_valid(NULL, 1));
}

static void
test_utf8_chars(void)
{
	CU_ASSERT_EQUAL(utf8_chars("", 0), 0);
	CU_ASSERT_EQUAL(utf8_chars("abc", 3), 3);
	CU_ASSERT_EQUAL(utf8_chars(ZH ZH, 6), 2);
	CU_ASSERT_EQUAL(utf8_chars(EXTB "a" ZH, 8), 3);
	CU_ASSERT_EQUAL(utf8_chars("\xc2\xa5" "1", 3), 2);
	CU_ASSERT_EQUAL(utf8_chars(ZH ZH, 5), (size_t)-1);
	CU_ASSERT_EQUAL(utf8_chars("\xc0\xaf", 2), (size_t)-1);
	CU_ASSERT_EQUAL(utf8_chars("a\0", 2), (size_t)-1);
	CU_ASSERT_EQUAL(utf8_chars(NULL, 0), 0);
	CU_ASSERT_EQUAL(utf8_chars(NULL, 3), (size_t)-1);
	/* len, not the NUL, ends the string. */
	CU_ASSERT_EQUAL(utf8_chars("abcdef", 2), 2);

	/*
	 * The eight-bytes-at-a-time path: a NUL, a stray continuation byte,
	 * 0xFF, the ASCII ends or a character at every offset of a 24-byte run.
	 */
	for (size_t at = 0; at < 24; at++) {
		char b[32];

		memset(b, 'a', sizeof(b));
		b[at] = '\0';
		CU_ASSERT_EQUAL(utf8_chars(b, 24), (size_t)-1);
		b[at] = (char)0x80;
		CU_ASSERT_EQUAL(utf8_chars(b, 24), (size_t)-1);
		b[at] = (char)0xff;
		CU_ASSERT_EQUAL(utf8_chars(b, 24), (size_t)-1);
		b[at] = 0x7f;
		CU_ASSERT_EQUAL(utf8_chars(b, 24), 24);
		b[at] = 0x01;
		CU_ASSERT_EQUAL(utf8_chars(b, 24), 24);
		if (at + 3 <= 24) {
			memcpy(b + at, ZH, 3);
			CU_ASSERT_EQUAL(utf8_chars(b, 24), 22);
			CU_ASSERT_EQUAL(utf8_chars(b, at + 2), (size_t)-1);
		}
	}
}

static void
test_has_control(void)
{
	CU_ASSERT_FALSE(val_has_control("plain text", 10));
	CU_ASSERT_FALSE(val_has_control(ZH "\xc2\xa0" "~", 6));	/* NBSP */
	CU_ASSERT_FALSE(val_has_control("\xc2\xa0", 2));
	CU_ASSERT_FALSE(val_has_control("\xe2\x80\xa7", 3));	/* U+2027 */
	CU_ASSERT_FALSE(val_has_control("\xe2\x80\xaa", 3));	/* U+202A */
	CU_ASSERT_FALSE(val_has_control(NULL, 4));
	CU_ASSERT_FALSE(val_has_control("", 0));
	CU_ASSERT_TRUE(val_has_control("a\tb", 3));
	CU_ASSERT_TRUE(val_has_control("a\nb", 3));
	CU_ASSERT_TRUE(val_has_control("a\rb", 3));
	CU_ASSERT_TRUE(val_has_control("\0", 1));
	CU_ASSERT_TRUE(val_has_control("\x01", 1));
	CU_ASSERT_TRUE(val_has_control("\x1b[31m", 5));
	CU_ASSERT_TRUE(val_has_control("\x1f", 1));
	CU_ASSERT_TRUE(val_has_control("x\x7f", 2));
	CU_ASSERT_TRUE(val_has_control("\xc2\x80", 2));
	CU_ASSERT_TRUE(val_has_control("\xc2\x85", 2));	/* NEL */
	CU_ASSERT_TRUE(val_has_control("\xc2\x9f", 2));
	CU_ASSERT_TRUE(val_has_control(ZH "\xe2\x80\xa8", 6));	/* LS */
	CU_ASSERT_TRUE(val_has_control("\xe2\x80\xa9" ZH, 6));	/* PS */
	/* Only inside len. */
	CU_ASSERT_FALSE(val_has_control("ab\n", 2));
	CU_ASSERT_FALSE(val_has_control("\xc2\x85", 1));
	CU_ASSERT_FALSE(val_has_control("\xe2\x80\xa8", 2));
}

/* ---- identifiers ------------------------------------------------------ */

static void
test_openid(void)
{
	CU_ASSERT_TRUE(val_openid("oABCD1234efgh5678ijkl90_-MNo"));
	CU_ASSERT_TRUE(val_openid(rep("a", 28)));
	CU_ASSERT_TRUE(val_openid("o6_bmjrPTlm6_2sgVt7hMZOPfL2M"));
	CU_ASSERT_FALSE(val_openid(rep("a", 27)));
	CU_ASSERT_FALSE(val_openid(rep("a", 29)));
	CU_ASSERT_FALSE(val_openid(""));
	CU_ASSERT_FALSE(val_openid(NULL));
	CU_ASSERT_FALSE(val_openid("o6_bmjrPTlm6_2sgVt7hMZOPfL2."));
	CU_ASSERT_FALSE(val_openid("o6_bmjrPTlm6_2sgVt7hMZOPfL2 "));
	CU_ASSERT_FALSE(val_openid("o6_bmjrPTlm6_2sgVt7hMZOPf=="));
	CU_ASSERT_FALSE(val_openid("o6_bmjrPTlm6_2sgVt7hMZOPf" ZH));
	CU_ASSERT_FALSE(val_openid("o6_bmjrPTlm6_2sgVt7hMZOP/L2M"));
}

static void
test_template_id(void)
{
	CU_ASSERT_TRUE(val_template_id("a"));
	CU_ASSERT_TRUE(val_template_id(
	    "Q1bLdXW7rGbOI6Fq-X3FmPZ9E_ABcdEfgHiJkLmNo12"));
	CU_ASSERT_TRUE(val_template_id(rep("x", LIM_ID - 1)));
	CU_ASSERT_FALSE(val_template_id(rep("x", LIM_ID)));
	CU_ASSERT_FALSE(val_template_id(""));
	CU_ASSERT_FALSE(val_template_id(NULL));
	CU_ASSERT_FALSE(val_template_id("abc.def"));
	CU_ASSERT_FALSE(val_template_id("abc def"));
	CU_ASSERT_FALSE(val_template_id("abc/def"));
	CU_ASSERT_FALSE(val_template_id("abc\xe4\xb8\xad"));
}

static void
test_request_id(void)
{
	CU_ASSERT_TRUE(val_request_id("a"));
	CU_ASSERT_TRUE(val_request_id("3f2a-9c.b_01"));
	CU_ASSERT_TRUE(val_request_id(rep("r", LIM_REQID - 1)));
	CU_ASSERT_FALSE(val_request_id(rep("r", LIM_REQID)));
	CU_ASSERT_FALSE(val_request_id(""));
	CU_ASSERT_FALSE(val_request_id(NULL));
	CU_ASSERT_FALSE(val_request_id("abc\r\nX-Evil: 1"));
	CU_ASSERT_FALSE(val_request_id("abc def"));
	CU_ASSERT_FALSE(val_request_id("abc\"def"));
	CU_ASSERT_FALSE(val_request_id("a/b"));
}

static void
test_data_key(void)
{
	CU_ASSERT_TRUE(val_data_key("thing1"));
	CU_ASSERT_TRUE(val_data_key("character_string12"));
	CU_ASSERT_TRUE(val_data_key("x"));
	CU_ASSERT_TRUE(val_data_key("Thing1"));
	CU_ASSERT_TRUE(val_data_key(rep("k", 63)));
	CU_ASSERT_FALSE(val_data_key(rep("k", 64)));
	CU_ASSERT_FALSE(val_data_key(""));
	CU_ASSERT_FALSE(val_data_key(NULL));
	CU_ASSERT_FALSE(val_data_key("1thing"));
	CU_ASSERT_FALSE(val_data_key("_thing"));
	CU_ASSERT_FALSE(val_data_key("thing-1"));
	CU_ASSERT_FALSE(val_data_key("thing.1"));
	CU_ASSERT_FALSE(val_data_key("thing1.DATA"));
	CU_ASSERT_FALSE(val_data_key("thing 1"));
	CU_ASSERT_FALSE(val_data_key("\xe4\xb8\xad"));
}

/* ---- generic value rules ---------------------------------------------- */

/* One key of every type WeChat names, plus some it does not. */
static const char *const all_keys[] = {
	"thing1", "number2", "letter3", "symbol4", "character_string5",
	"time6", "date7", "amount8", "phone_number9", "car_number10",
	"name11", "phrase12", "enum13", "enum_string14", "unknown15", "thing",
};
#define NKEYS	(sizeof(all_keys) / sizeof(all_keys[0]))

static void
test_generic_control(void)
{
	static const char *const bad[] = {
		"a\nb", "\n", "a\rb", "a\tb", "\t", "x\x7f", "\x01",
		"\x1b", "a\xc2\x85" "b", "\xc2\x80", "\xc2\x9f",
		"1\xe2\x80\xa8" "2", "\xe2\x80\xa9",
	};
	size_t	i, j;

	for (i = 0; i < NKEYS; i++)
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			CU_ASSERT_FALSE(dv(all_keys[i], bad[j]));
	WHY("thing1", "a\nb",
	    "thing: must not contain control characters or newlines");
	WHY("enum3", "a\tb",
	    "enum: must not contain control characters or newlines");
	/* A value that passes but for a trailing newline. */
	OK("time1", "09:42");
	BAD("time1", "09:42\n");
	OK("phrase1", ZH ZH);
	BAD("phrase1", ZH "\xe2\x80\xa8" ZH);
}

static void
test_generic_empty_and_nul(void)
{
	char	why[128];
	size_t	i;

	for (i = 0; i < NKEYS; i++) {
		CU_ASSERT_FALSE(dv(all_keys[i], ""));
		CU_ASSERT_FALSE(val_data_value(all_keys[i], NULL, 0, why,
		    sizeof(why)));
		CU_ASSERT_FALSE(val_data_value(all_keys[i], "a\0b", 3, why,
		    sizeof(why)));
		CU_ASSERT_FALSE(val_data_value(all_keys[i], "\0", 1, why,
		    sizeof(why)));
	}
	WHY("thing1", "", "thing: must not be empty");
	CU_ASSERT_STRING_EQUAL(why_of("thing1", "a\0b", 3),
	    "thing: is not valid UTF-8");
	/* len rules, not the terminator: a NUL past len is not seen. */
	CU_ASSERT_TRUE(val_data_value("thing1", "ab\0cd", 2, why,
	    sizeof(why)));
	CU_ASSERT_STRING_EQUAL(why, "");
}

static void
test_generic_bad_utf8(void)
{
	static const char *const bad[] = {
		"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xb8",
		"\x80", "a\xff", "\xf0\xa0\x80",
	};
	size_t	i, j;

	for (i = 0; i < NKEYS; i++)
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			CU_ASSERT_FALSE(dv(all_keys[i], bad[j]));
	WHY("phrase2", "\xed\xa0\x80", "phrase: is not valid UTF-8");
	WHY("name1", "\xc0\xaf", "name: is not valid UTF-8");
}

static void
test_bad_key(void)
{
	char	why[128];

	BAD("1thing", "x");
	BAD("", "x");
	BAD("thing-1", "x");
	BAD(rep("k", 64), "x");
	CU_ASSERT_FALSE(val_data_value(NULL, "x", 1, why, sizeof(why)));
	CU_ASSERT_STRING_EQUAL(why,
	    "key: expected a letter, then letters, digits or _");
}

static void
test_unknown_type(void)
{
	OK("enum1", "anything at all 123 " ZH);
	OK("enum_string2", "whatever");
	OK("keyword3", rep(ZH, 200));
	OK("thing_1", "no digits stripped past the underscore");
	OK("thingx1", rep(ZH, 30));
	OK("Thing1", rep(ZH, 30));		/* types are case-sensitive */
	BAD("enum1", "");
	BAD("enum1", "a\nb");
}

/* ---- typed rules ------------------------------------------------------ */

static void
test_thing(void)
{
	OK("thing1", "hello");
	OK("thing1", rep(ZH, 20));		/* 60 bytes */
	BAD("thing1", rep(ZH, 21));
	OK("thing1", rep(EXTB, 20));		/* 80 bytes */
	BAD("thing1", rep(EXTB, 21));
	OK("thing1", rep("a", 20));
	BAD("thing1", rep("a", 21));
	OK("thing", rep("a", 20));
	OK("thing01", rep("a", 20));
	BAD("thing99", rep("a", 21));
	OK("thing1", "Order #12, " ZH ZH "! (" "\xef\xbf\xa5" "3)");
	OK("thing1", "   ");
	WHY("thing1", rep(ZH, 21), "thing: at most 20 characters");
	WHY("thing1", rep(ZH, 20), "");
}

static void
test_number(void)
{
	OK("number1", "0");
	OK("number1", "42");
	OK("number1", "3.14");
	OK("number1", "-3.5");
	OK("number1", "+7");
	OK("number1", ".5");
	OK("number1", "5.");
	OK("number1", "007");
	OK("number1", rep("9", 32));
	BAD("number1", rep("9", 33));
	BAD("number1", ".");
	BAD("number1", "-");
	BAD("number1", "+");
	BAD("number1", "-.");
	BAD("number1", "1.2.3");
	BAD("number1", "1,000");
	BAD("number1", "1e5");
	BAD("number1", "--1");
	BAD("number1", "1-");
	BAD("number1", " 1");
	BAD("number1", "12a");
	BAD("number1", "\xef\xbc\x91");		/* fullwidth 1 */
	BAD("number1", ZH);
	WHY("number1", "abc", "number: digits with an optional leading + or "
	    "- and at most one decimal point");
	WHY("number1", rep("9", 33), "number: at most 32 characters");
}

static void
test_letter(void)
{
	OK("letter1", "abcXYZ");
	OK("letter1", rep("z", 32));
	BAD("letter1", rep("z", 33));
	BAD("letter1", "abc1");
	BAD("letter1", "ab cd");
	BAD("letter1", "ab-cd");
	BAD("letter1", ZH);
	BAD("letter1", "\xc3\xa9");			/* é */
	BAD("letter1", "\xef\xbd\x81");		/* fullwidth a */
	WHY("letter1", "a1", "letter: ASCII letters only");
	WHY("letter1", rep("z", 33), "letter: at most 32 letters");
}

static void
test_symbol(void)
{
	OK("symbol1", "!");
	OK("symbol1", "#$%&*");
	OK("symbol1", "\xef\xbf\xa5");			/* ￥ */
	OK("symbol1", "\xef\xbc\x8c\xe3\x80\x82");	/* ，。 */
	OK("symbol1", "\xe3\x80\x90\xe3\x80\x91");	/* 【】 */
	OK("symbol1", "\xe3\x80\x8a\xe3\x80\x8b");	/* 《》 */
	OK("symbol1", "\xe2\x80\xa6");			/* … */
	OK("symbol1", "\xe2\x98\x85\xe2\x9c\x93");	/* ★✓ */
	OK("symbol1", "\xe2\x86\x92");			/* → */
	OK("symbol1", "\xe2\x84\x83");			/* ℃ */
	OK("symbol1", "\xc2\xa5\xc2\xb0\xc2\xb7");	/* ¥°· */
	OK("symbol1", "\xe2\x82\xac");			/* € */
	/* Five multi-byte symbols pass, six do not. */
	OK("symbol1", rep("\xef\xbc\x81", 5));		/* ！ */
	BAD("symbol1", rep("\xef\xbc\x81", 6));
	OK("symbol1", "-----");
	BAD("symbol1", "------");
	BAD("symbol1", "a");
	BAD("symbol1", "1");
	BAD("symbol1", "! !");
	BAD("symbol1", " ");
	BAD("symbol1", ZH);
	BAD("symbol1", "\xe3\x80\x80");			/* ideographic space */
	BAD("symbol1", "\xc2\xa0");			/* NBSP */
	BAD("symbol1", "\xc2\xb2");			/* ² */
	BAD("symbol1", "\xe2\x91\xa0");			/* ① */
	BAD("symbol1", "\xc2\xad");			/* soft hyphen */
	BAD("symbol1", "\xe2\x80\x8b");			/* zero width space */
	BAD("symbol1", "\xf0\x9f\x98\x80");		/* emoji */
	BAD("symbol1", "\xef\xbc\xa1");			/* fullwidth A */
	WHY("symbol1", "a", "symbol: symbols only (punctuation and signs; no "
	    "letters, digits, spaces or Chinese)");
	WHY("symbol1", "!!!!!!", "symbol: at most 5 symbols");
}

static void
test_character_string(void)
{
	OK("character_string1", "SO-2019/001#A");
	OK("character_string1", "abc123");
	OK("character_string1", "!@#$%^&*()_+={}[]|\\:;\"'<>,.?/~`");
	OK("character_string1", rep("7", 32));
	BAD("character_string1", rep("7", 33));
	BAD("character_string1", "ab cd");
	BAD("character_string1", "abc" ZH);
	BAD("character_string1", "\xef\xbf\xa5" "12");
	BAD("character_string1", "\xc3\xa9");
	WHY("character_string1", "a b", "character_string: ASCII letters, "
	    "digits and punctuation only (no spaces)");
	WHY("character_string1", rep("7", 33),
	    "character_string: at most 32 characters");
}

static void
test_time(void)
{
	OK("time1", "09:42");
	OK("time1", "9:42");
	OK("time1", "00:00");
	OK("time1", "23:59");
	OK("time1", "23:59:59");
	OK("time1", "0:00:00");
	OK("time1", "2019-12-25 09:42");
	OK("time1", "2019/12/25 09:42:30");
	OK("time1", "2018.01.01 12:00");
	OK("time1", "2019年12月25日 09:42");
	OK("time1", "12月25日 9:42");
	OK("time1", "12-25 09:42");
	OK("time1", "09:00~18:00");
	OK("time1", "09:00 ~ 18:00");
	OK("time1", "2019-12-25 09:00~18:00");
	OK("time1", "2019-12-25 09:00~2019-12-26 18:00");
	OK("time1", "2019年12月25日 23:59:59 ~ 2019年12月26日 23:59:59");
	BAD("time1", "24:00");
	BAD("time1", "23:60");
	BAD("time1", "23:59:60");
	BAD("time1", "123:00");
	BAD("time1", "09:4");
	BAD("time1", "09:423");
	BAD("time1", "09:42:");
	BAD("time1", "09");
	BAD("time1", "0942");
	BAD("time1", "9.42");
	BAD("time1", "2019-12-25");		/* a date, no time */
	BAD("time1", "2019年12月25日");
	BAD("time1", "2019-12-25T09:42");
	BAD("time1", "2019-12-2509:42");
	BAD("time1", "2019-12-25  09:42");
	BAD("time1", " 09:42");
	BAD("time1", "09:42 ");
	BAD("time1", "09:00~");
	BAD("time1", "~09:00");
	BAD("time1", "09:00~18:00~19:00");
	BAD("time1", "09:00\xef\xbd\x9e" "18:00");	/* fullwidth ～ */
	BAD("time1", "09:00-18:00");
	BAD("time1", "2019-13-25 09:42");
	BAD("time1", "9am");
	BAD("time1", "\xef\xbc\x90\xef\xbc\x99:42");	/* fullwidth digits */
	WHY("time1", "24:00", "time: expected HH:MM or HH:MM:SS, optionally "
	    "after a date; A~B for a range");
	WHY("time1", rep("1", 65), "time: expected HH:MM or HH:MM:SS, "
	    "optionally after a date; A~B for a range");
}

static void
test_date(void)
{
	OK("date1", "2019-12-25");
	OK("date1", "2019/12/25");
	OK("date1", "2018.01.01");
	OK("date1", "2019-1-5");
	OK("date1", "2018-01");
	OK("date1", "2018/1");
	OK("date1", "01-01");
	OK("date1", "12.31");
	OK("date1", "1/5");
	OK("date1", "2019年12月25日");
	OK("date1", "2019年1月5日");
	OK("date1", "2019年01月05日");
	OK("date1", "2019年12月");
	OK("date1", "12月25日");
	OK("date1", "1月5日");
	OK("date1", "2019-12-25 09:42");
	OK("date1", "2019年12月25日 09:42:30");
	OK("date1", "12月25日 23:59");
	OK("date1", "2019-12-25~2019-12-31");
	OK("date1", "2019-12-25 ~ 2019-12-31");
	OK("date1", "2019年12月25日~2020年1月3日");
	OK("date1", "12月25日~12月31日");
	OK("date1", "2019-12-25 09:00~2019-12-25 18:00");
	OK("date1", "2020-02-29");		/* leap year */
	OK("date1", "2000-02-29");
	OK("date1", "02-29");			/* no year: may be leap */
	OK("date1", "2019-04-30");
	BAD("date1", "2019-02-29");
	BAD("date1", "1900-02-29");
	BAD("date1", "2019-04-31");
	BAD("date1", "2019-13-01");
	BAD("date1", "2019-00-10");
	BAD("date1", "2019-12-00");
	BAD("date1", "2019-12-32");
	BAD("date1", "13-01");
	BAD("date1", "2019-13");
	BAD("date1", "2019年13月1日");
	BAD("date1", "2019年13月");
	BAD("date1", "13月1日");
	BAD("date1", "2月30日");
	BAD("date1", "19年12月25日");
	BAD("date1", "2019年12月25");
	BAD("date1", "2019年");
	BAD("date1", "12月");
	BAD("date1", "2019-12/25");
	BAD("date1", "2019.12-25");
	BAD("date1", "201-12-25");
	BAD("date1", "20190-12-25");
	BAD("date1", "2019-123-25");
	BAD("date1", "2019-12-250");
	BAD("date1", "2019");
	BAD("date1", "20191225");
	BAD("date1", "09:42");			/* a time, no date */
	BAD("date1", "2019-12-25 24:00");
	BAD("date1", "2019-12-25 09:42 ");
	BAD("date1", "2019-12-25~");
	BAD("date1", "2019-12-25~2019-12-26~2019-12-27");
	BAD("date1", "yesterday");
	BAD("date1", "2019-12-25" ZH);
	WHY("date1", "2019-13-01", "date: expected y年m月d日, y年m月, m月d日, "
	    "YYYY-MM-DD, YYYY-MM or MM-DD (or with / or .), optionally "
	    "followed by HH:MM[:SS]; A~B for a range");
}

static void
test_amount(void)
{
	OK("amount1", "\xc2\xa5" "100.50");		/* ¥ */
	OK("amount1", "\xef\xbf\xa5" "100.50");	/* ￥ */
	OK("amount1", "$1234567890");
	OK("amount1", "\xe2\x82\xac" "9.9");		/* € */
	OK("amount1", "\xc2\xa3" "0.01");		/* £ */
	OK("amount1", "100元");
	OK("amount1", "100.5元");
	OK("amount1", "100");
	OK("amount1", "0");
	OK("amount1", "\xef\xbf\xa5" "1234567890.99元");	/* 15 chars */
	BAD("amount1", "$12345678901");		/* 11 digits */
	BAD("amount1", "12345678901元");
	BAD("amount1", "$");
	BAD("amount1", "元");
	BAD("amount1", "$.50");
	BAD("amount1", "$1.");
	BAD("amount1", "$1.234");
	BAD("amount1", "$-1");
	BAD("amount1", "-1");
	BAD("amount1", "$$1");
	BAD("amount1", "1$");
	BAD("amount1", "1,000");
	BAD("amount1", "CNY100");
	BAD("amount1", "$ 100");
	BAD("amount1", "100 元");
	BAD("amount1", "100元元");
	BAD("amount1", "100块");
	BAD("amount1", "1.2.3");
	WHY("amount1", "$12345678901", "amount: expected an optional currency "
	    "sign (¥ ￥ $ € £), 1 to 10 digits, up to 2 decimals, optionally "
	    "元");
}

static void
test_phone_number(void)
{
	OK("phone_number1", "+86-0766-66888866");		/* 17 */
	OK("phone_number1", "13800138000");
	OK("phone_number1", "(0766) 6688-8866");
	OK("phone_number1", "+86 138 0013 8000");
	OK("phone_number1", rep("1", 17));
	BAD("phone_number1", rep("1", 18));
	BAD("phone_number1", "+86-0766-668888666");		/* 18 */
	BAD("phone_number1", "138-CALL-NOW");
	BAD("phone_number1", "138" ZH);
	BAD("phone_number1", "0766#123");
	BAD("phone_number1", "+-()");
	BAD("phone_number1", "\xef\xbc\x91\xef\xbc\x93\xef\xbc\x98");
	WHY("phone_number1", "abc", "phone_number: digits, spaces and "
	    "+ - ( ) only");
	WHY("phone_number1", rep("1", 18),
	    "phone_number: at most 17 characters");
}

static void
test_car_number(void)
{
	OK("car_number1", "粤A8Z888挂");			/* 8 */
	OK("car_number1", "京A12345");
	OK("car_number1", "京AD12345");			/* new energy */
	OK("car_number1", "A12345");
	OK("car_number1", "粤B1234学");
	OK("car_number1", "粤b1234z");
	OK("car_number1", "12345678");
	BAD("car_number1", "粤A8Z8888挂");			/* 9 */
	BAD("car_number1", "123456789");
	BAD("car_number1", "粤A8" ZH "888");		/* CJK inside */
	BAD("car_number1", "粤挂");
	BAD("car_number1", "粤");
	BAD("car_number1", "粤A 12345");
	BAD("car_number1", "粤A-12345");
	BAD("car_number1", "粤·A12345");
	BAD("car_number1", "\xef\xbc\xa1" "12345");	/* fullwidth A */
	WHY("car_number1", "粤A 1", "car_number: ASCII letters and digits, "
	    "with a Chinese character allowed first and last");
	WHY("car_number1", "粤A8Z8888挂", "car_number: at most 8 characters");
}

static void
test_name(void)
{
	OK("name1", "张三");
	OK("name1", rep(ZH, 10));
	BAD("name1", rep(ZH, 11));
	OK("name1", rep("a", 20));
	BAD("name1", rep("a", 21));
	OK("name1", "Jon O'Neil-Smith Jr.");	/* 20 */
	BAD("name1", "John O'Neil-Smith Jr.");	/* 21 */
	OK("name1", "Jos\xc3\xa9 M\xc3\xbcller");	/* José Müller */
	OK("name1", "阿卜杜·艾力");
	OK("name1", "Tom" ZH);
	OK("name1", "Tom Lee" ZH ZH ZH);		/* 10, mixed */
	BAD("name1", "Tom Lee " ZH ZH ZH);		/* 11, mixed */
	OK("name1", rep(EXTB, 10));
	BAD("name1", rep(EXTB, 11));
	OK("name1", EXTA COMPAT);
	BAD("name1", "R2D2");
	BAD("name1", "张三1");
	BAD("name1", "a@b");
	BAD("name1", "a_b");
	BAD("name1", "...");
	BAD("name1", " ");
	BAD("name1", "\xc3\x97");			/* × */
	WHY("name1", rep(ZH, 11),
	    "name: at most 10 characters with Chinese, else 20");
	WHY("name1", rep("a", 21),
	    "name: at most 10 characters with Chinese, else 20");
	WHY("name1", "R2D2", "name: letters, spaces and . · - ' only");
}

static void
test_phrase(void)
{
	OK("phrase1", "配送中");
	OK("phrase1", "审核通过");
	OK("phrase1", rep(ZH, 5));
	BAD("phrase1", rep(ZH, 6));
	OK("phrase1", rep(EXTB, 5));
	BAD("phrase1", rep(EXTB, 6));
	OK("phrase1", EXTA COMPAT ZH);
	BAD("phrase1", "ok");
	BAD("phrase1", "配送中!");
	BAD("phrase1", "配送中\xef\xbc\x81");		/* fullwidth ！ */
	BAD("phrase1", "配送 中");
	BAD("phrase1", "配送1");
	BAD("phrase1", "\xe3\x81\x82");			/* hiragana あ */
	BAD("phrase1", "\xea\xb0\x80");			/* hangul 가 */
	WHY("phrase1", rep(ZH, 6), "phrase: at most 5 Chinese characters");
	WHY("phrase1", "ok", "phrase: Chinese characters only");
}

/* ---- why --------------------------------------------------------------- */

static void
test_why_buffer(void)
{
	char	buf[64];
	size_t	i;

	/* NULL why, zero whylen: still answers, writes nothing. */
	CU_ASSERT_FALSE(val_data_value("thing1", rep(ZH, 21), 63, NULL, 0));
	CU_ASSERT_FALSE(val_data_value("thing1", rep(ZH, 21), 63, NULL, 32));
	memset(buf, 'Z', sizeof(buf));
	CU_ASSERT_FALSE(val_data_value("thing1", rep(ZH, 21), 63, buf, 0));
	CU_ASSERT_EQUAL(buf[0], 'Z');

	/* whylen 1: just the terminator. */
	memset(buf, 'Z', sizeof(buf));
	CU_ASSERT_FALSE(val_data_value("thing1", "", 0, buf, 1));
	CU_ASSERT_EQUAL(buf[0], '\0');
	CU_ASSERT_EQUAL(buf[1], 'Z');

	/* Tiny buffers: truncated, terminated, nothing written past. */
	for (i = 2; i < 12; i++) {
		memset(buf, 'Z', sizeof(buf));
		CU_ASSERT_FALSE(val_data_value("thing1", rep(ZH, 21), 63, buf,
		    i));
		CU_ASSERT_EQUAL(strlen(buf), i - 1);
		CU_ASSERT_EQUAL(strncmp(buf, "thing: at most 20 characters",
		    i - 1), 0);
		CU_ASSERT_EQUAL(buf[i], 'Z');
	}
	memset(buf, 'Z', sizeof(buf));
	CU_ASSERT_FALSE(val_data_value("thing1", rep(ZH, 21), 63, buf, 6));
	CU_ASSERT_STRING_EQUAL(buf, "thing");

	/* Exactly enough room, and one byte short. */
	memset(buf, 'Z', sizeof(buf));
	CU_ASSERT_FALSE(val_data_value("thing1", "", 0, buf, 25));
	CU_ASSERT_STRING_EQUAL(buf, "thing: must not be empty");
	memset(buf, 'Z', sizeof(buf));
	CU_ASSERT_FALSE(val_data_value("thing1", "", 0, buf, 24));
	CU_ASSERT_STRING_EQUAL(buf, "thing: must not be empt");

	/* Success clears why. */
	memset(buf, 'Z', sizeof(buf));
	CU_ASSERT_TRUE(val_data_value("thing1", "ok", 2, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "");
}

/* A cut never leaves half a UTF-8 character behind. */
static void
test_why_utf8_cut(void)
{
	const char	*full, *yen;
	char		 buf[256], ref[256];
	size_t		 off, len;

	full = why_of("amount1", "x", 1);
	CU_ASSERT_FATAL(strlen(full) < sizeof(ref));
	memcpy(ref, full, strlen(full) + 1);
	yen = strstr(ref, "\xef\xbf\xa5");		/* ￥, 3 bytes */
	CU_ASSERT_PTR_NOT_NULL_FATAL(yen);
	off = (size_t)(yen - ref);

	/* Room for 0, 1, 2 and 3 bytes of ￥. */
	for (len = 0; len <= 3; len++) {
		memset(buf, 'Z', sizeof(buf));
		CU_ASSERT_FALSE(val_data_value("amount1", "x", 1, buf,
		    off + len + 1));
		CU_ASSERT_EQUAL(strlen(buf), len == 3 ? off + 3 : off);
		CU_ASSERT_EQUAL(strncmp(buf, ref, strlen(buf)), 0);
		CU_ASSERT_TRUE(utf8_valid(buf, strlen(buf)));
	}
	/* Every cut of every message is valid UTF-8. */
	for (len = 1; len < strlen(ref) + 2; len++) {
		memset(buf, 'Z', sizeof(buf));
		(void)val_data_value("date1", "x", 1, buf, len);
		CU_ASSERT_TRUE(utf8_valid(buf, strlen(buf)));
		CU_ASSERT_TRUE(strlen(buf) < len);
	}
}

static void
test_utf8_cut(void)
{
	const char *s = "ab\xe5\x95\x86\xe5\x93\x81";	/* ab商品 */

	CU_ASSERT_EQUAL(utf8_cut(s, 8, 100), 8);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 8), 8);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 7), 5);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 6), 5);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 5), 5);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 4), 2);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 3), 2);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 2), 2);
	CU_ASSERT_EQUAL(utf8_cut(s, 8, 0), 0);
	CU_ASSERT_TRUE(utf8_valid(s, utf8_cut(s, 8, 4)));
}

/* The class table against each class written out by hand, all 256 bytes. */
static void
test_char_classes(void)
{
	for (int c = 0; c < 256; c++) {
		bool digit = c >= '0' && c <= '9';
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		bool alnum = digit || alpha;

		CU_ASSERT_EQUAL(val_is(c, VC_DIGIT), digit);
		CU_ASSERT_EQUAL(val_is(c, VC_ALPHA), alpha);
		CU_ASSERT_EQUAL(val_is(c, VC_HEX), digit ||
		    (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
		CU_ASSERT_EQUAL(val_is(c, VC_WORD), alnum || c == '_');
		CU_ASSERT_EQUAL(val_is(c, VC_ID), alnum || c == '_' || c == '-');
		CU_ASSERT_EQUAL(val_is(c, VC_DOTID), alnum || c == '_' ||
		    c == '-' || c == '.');
		CU_ASSERT_EQUAL(val_is(c, VC_URLTOK), alnum || (c != 0 &&
		    strchr("-_.~*", c) != NULL));
		CU_ASSERT_EQUAL(val_is(c, VC_SPACE), c == ' ' ||
		    (c >= 0x09 && c <= 0x0D));
		CU_ASSERT_EQUAL(val_is(c, VC_GRAPH), c > 0x20 && c < 0x7F);
		CU_ASSERT_EQUAL(val_lower((char)c), c >= 'A' && c <= 'Z' ?
		    (char)(c + 32) : (char)c);
	}
}

static void
test_shapes(void)
{
	CU_ASSERT_TRUE(val_shape(VS_LOGIN_CODE, "0a1B-_", 6));
	CU_ASSERT_FALSE(val_shape(VS_LOGIN_CODE, "0a1B.", 5));
	CU_ASSERT_FALSE(val_shape(VS_LOGIN_CODE, "", 0));
	CU_ASSERT_FALSE(val_shape(VS_LOGIN_CODE, NULL, 3));
	CU_ASSERT_TRUE(val_shape(VS_ACCESS_TOKEN, "a.b~c*d-e_f", 11));
	CU_ASSERT_FALSE(val_shape(VS_ACCESS_TOKEN, "a b", 3));
	CU_ASSERT_FALSE(val_shape(VS_ACCESS_TOKEN, "a%20", 4));
	/* Bytes past a NUL are not read as part of a NUL-terminated id. */
	CU_ASSERT_TRUE(val_shape_str(VS_TEMPLATE_ID, "T1\0 junk"));
	CU_ASSERT_FALSE(val_shape(VS_TEMPLATE_ID, "T1\0", 3));
	CU_ASSERT_STRING_EQUAL(val_rules[VS_OPENID].name, "openId");
	CU_ASSERT_TRUE(val_span("", 0, VC_DIGIT));
	CU_ASSERT_FALSE(val_span("\xc3\xa9", 2, VC_GRAPH));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "character classes", test_char_classes },
		{ "identifier shapes", test_shapes },
		{ "utf8 valid", test_utf8_valid },
		{ "utf8 invalid", test_utf8_invalid },
		{ "utf8 chars", test_utf8_chars },
		{ "has control", test_has_control },
		{ "openid", test_openid },
		{ "template id", test_template_id },
		{ "request id", test_request_id },
		{ "data key", test_data_key },
		{ "generic: control characters", test_generic_control },
		{ "generic: empty and NUL", test_generic_empty_and_nul },
		{ "generic: bad UTF-8", test_generic_bad_utf8 },
		{ "bad key", test_bad_key },
		{ "unknown type", test_unknown_type },
		{ "thing", test_thing },
		{ "number", test_number },
		{ "letter", test_letter },
		{ "symbol", test_symbol },
		{ "character_string", test_character_string },
		{ "time", test_time },
		{ "date", test_date },
		{ "amount", test_amount },
		{ "phone_number", test_phone_number },
		{ "car_number", test_car_number },
		{ "name", test_name },
		{ "phrase", test_phrase },
		{ "why buffer", test_why_buffer },
		{ "why UTF-8 cut", test_why_utf8_cut },
		{ "utf8 cut for messages", test_utf8_cut },
	};

	return unit_run("validate", tests, sizeof(tests) / sizeof(tests[0]));
}
