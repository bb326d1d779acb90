/*
 * test_util.c - the util layer: buf, str, net, hmap (src/util/).
 *
 * Table-driven; every row is its own cmocka test. A check that would
 * crash the whole program if the code were wrong (a huge append) runs in
 * a child process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/net.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/compat.h"


/* ==== buf ==== */

static void
assert_buf(const struct buf *b, const void *want, size_t n)
{
	assert_int_equal(b->len, n);
	if (n > 0)
		assert_memory_equal(b->data, want, n);
	if (b->data != NULL)
		assert_int_equal(b->data[b->len], '\0');
	assert_true(b->len <= b->max);
}

static void
test_buf_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_null(b.data);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_buf(&b, "hello", 5);
	/* Past max: refused, content unchanged. */
	assert_int_equal(buf_append(&b, "world!", 6), -1);
	assert_buf(&b, "hello", 5);
	assert_int_equal(buf_append_str(&b, "world!"), -1);
	assert_buf(&b, "hello", 5);
	assert_int_equal(buf_printf(&b, "%s", "123456"), -1);
	assert_buf(&b, "hello", 5);
	/* Up to max exactly: fine. */
	assert_int_equal(buf_printf(&b, "%d%s", 12, "345"), 0);
	assert_buf(&b, "hello12345", 10);
	assert_int_equal(buf_putc(&b, 'x'), -1);
	assert_int_equal(buf_append(&b, "y", 1), -1);
	assert_int_equal(buf_printf(&b, "%s", "z"), -1);
	assert_buf(&b, "hello12345", 10);
	/* Nothing more is still fine at the limit. */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_buf(&b, "hello12345", 10);
	assert_string_equal(buf_cstr(&b), "hello12345");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* Usable again after free, with the same limit. */
	assert_int_equal(buf_append_str(&b, "0123456789"), 0);
	assert_int_equal(buf_putc(&b, '!'), -1);
	assert_buf(&b, "0123456789", 10);
	buf_free(&b);
}

static void
test_buf_zero_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_putc(&b, 'a'), -1);
	assert_int_equal(buf_printf(&b, "%c", 'a'), -1);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

static void
test_buf_grow(void **state)
{
	struct buf b;
	char chunk[1000];
	size_t i;

	(void)state;
	buf_init(&b, 1000 * 1000);
	for (i = 0; i < 1000; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, 1000 * 1000);
	assert_true(b.cap > b.len);
	for (i = 0; i < 1000; i++)
		assert_int_equal(b.data[i * 1000 + 999], 'a' + (int)(i % 26));
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(buf_putc(&b, 'x'), -1);
	buf_free(&b);

	/* printf larger than the first allocation */
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_printf(&b, "%5000d|", 7), 0);
	assert_int_equal(b.len, 5001);
	assert_int_equal(b.data[4999], '7');
	assert_int_equal(b.data[5000], '|');
	assert_int_equal(b.data[5001], '\0');
	buf_free(&b);
}

static void
test_buf_edit(void **state)
{
	struct buf b;
	size_t cap;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_append_str(&b, "helloworld"), 0);
	buf_consume(&b, 5);
	assert_buf(&b, "world", 5);
	buf_truncate(&b, 3);
	assert_buf(&b, "wor", 3);
	buf_truncate(&b, 10);	/* longer: no change */
	assert_buf(&b, "wor", 3);
	buf_consume(&b, 0);
	assert_buf(&b, "wor", 3);
	buf_consume(&b, 100);
	assert_buf(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "");
	/* reset keeps the storage */
	assert_int_equal(buf_append_str(&b, "again"), 0);
	cap = b.cap;
	buf_reset(&b);
	assert_buf(&b, "", 0);
	assert_int_equal(b.cap, cap);
	assert_non_null(b.data);
	/* content may hold NUL bytes */
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_buf(&b, "a\0b", 3);
	buf_consume(&b, 1);
	assert_buf(&b, "\0b", 2);
	buf_free(&b);
	buf_reset(&b);	/* reset of an empty buffer */
	assert_int_equal(b.len, 0);
}

/* Writing in place: space, commit, and the storage handed over. */
static void
test_buf_space(void **state)
{
	struct buf b;
	size_t len;
	char *p;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	assert_non_null(p = buf_space(&b, 10));
	memcpy(p, "cdefg", 5);
	buf_commit(&b, 5);		/* less than asked */
	assert_buf(&b, "abcdefg", 7);
	assert_null(buf_space(&b, 10));	/* past max: refused, unchanged */
	assert_buf(&b, "abcdefg", 7);
	assert_non_null(buf_space(&b, 9));
	buf_commit(&b, 0);
	assert_buf(&b, "abcdefg", 7);
	p = buf_steal(&b, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(p, "abcdefg", 8);	/* NUL-terminated */
	free(p);
	assert_null(b.data);
	assert_buf(&b, "", 0);
	assert_int_equal(buf_append_str(&b, "again"), 0);	/* usable */
	assert_buf(&b, "again", 5);
	buf_free(&b);
	assert_null(buf_steal(&b, &len));
	assert_int_equal(len, 0);
}

/* A length so large that len + n + 1 wraps around must be refused, even
   without a limit. Run in a child: a wrong answer is a wild memcpy. */
static void
test_buf_huge_append(void **state)
{
	static const size_t huge[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 2 };
	size_t i;

	(void)state;
	for (i = 0; i < nitems(huge); i++) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct buf b;
			int r;

			buf_init(&b, BUF_UNLIMITED);
			if (buf_append(&b, "x", 1) != 0)
				_exit(2);
			r = buf_append(&b, "y", huge[i]);
			_exit(r == -1 && b.len == 1 ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("buf_append(len 1, n = SIZE_MAX - %zu) on an "
			    "unlimited buffer: %s %d", SIZE_MAX - huge[i],
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
	}
}

/* ==== str: numbers ==== */

struct uint_case {
	const char	*name;
	const char	*s;
	uint64_t	 min, max;
	int		 rc;
	uint64_t	 want;
};

static const struct uint_case uint_cases[] = {
	{ "uint zero", "0", 0, 10, 0, 0 },
	{ "uint plain", "42", 0, 100, 0, 42 },
	{ "uint at min", "16", 16, 128, 0, 16 },
	{ "uint at max", "128", 16, 128, 0, 128 },
	{ "uint below min", "15", 16, 128, -1, 0 },
	{ "uint above max", "129", 16, 128, -1, 0 },
	{ "uint leading zeros", "007", 0, 10, 0, 7 },
	{ "uint UINT64_MAX", "18446744073709551615", 0, UINT64_MAX, 0,
	    UINT64_MAX },
	{ "uint UINT64_MAX + 1", "18446744073709551616", 0, UINT64_MAX, -1,
	    0 },
	{ "uint UINT64_MAX * 10 overflows", "184467440737095516150", 0,
	    UINT64_MAX, -1, 0 },
	{ "uint 2^64 + 9", "18446744073709551625", 0, UINT64_MAX, -1, 0 },
	{ "uint 99999999999999999999", "99999999999999999999", 0, UINT64_MAX,
	    -1, 0 },
	{ "uint empty", "", 0, 10, -1, 0 },
	{ "uint sign plus", "+1", 0, 10, -1, 0 },
	{ "uint sign minus", "-1", 0, 10, -1, 0 },
	{ "uint leading blank", " 1", 0, 10, -1, 0 },
	{ "uint trailing blank", "1 ", 0, 10, -1, 0 },
	{ "uint hex", "0x10", 0, 100, -1, 0 },
	{ "uint trailing letter", "10k", 0, 100000, -1, 0 },
	{ "uint fraction", "1.5", 0, 10, -1, 0 },
};

static void
test_uint(void **state)
{
	const struct uint_case *tc = *state;
	uint64_t v = 12345;

	assert_int_equal(str_to_uint(tc->s, tc->min, tc->max, &v), tc->rc);
	if (tc->rc == 0)
		assert_int_equal(v, tc->want);
	else
		assert_int_equal(v, 12345);	/* untouched on failure */
}

static void
test_uint_n(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(str_to_uint_n("123abc", 3, 0, 1000, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(str_to_uint_n("123abc", 4, 0, 1000, &v), -1);
	assert_int_equal(str_to_uint_n("123", 0, 0, 1000, &v), -1);
	/* A field that is not NUL-terminated: exactly LEN bytes read. */
	{
		char *p = malloc(2);

		assert_non_null(p);
		memcpy(p, "25", 2);
		assert_int_equal(str_to_uint_n(p, 2, 1, 65535, &v), 0);
		assert_int_equal(v, 25);
		free(p);
	}
}

/* ==== str: sizes and durations ==== */

struct unit_case {
	const char	*name;
	bool		 duration;
	const char	*s;
	int		 rc;
	uint64_t	 want;
	const char	*fmt;	/* str_fmt_* of WANT; NULL: same as S */
};

static const struct unit_case unit_cases[] = {
	{ "size bytes", false, "512", 0, 512, NULL },
	{ "size zero", false, "0", 0, 0, NULL },
	{ "size 512K", false, "512K", 0, 512 * 1024ULL, NULL },
	{ "size 10k lower", false, "10k", 0, 10240, "10K" },
	{ "size 10M", false, "10M", 0, 10485760, NULL },
	{ "size 10m lower", false, "10m", 0, 10485760, "10M" },
	{ "size 2G", false, "2G", 0, 2147483648ULL, NULL },
	{ "size 1024K is 1M", false, "1024K", 0, 1048576, "1M" },
	{ "size 1536 stays bytes", false, "1536", 0, 1536, NULL },
	{ "size 1b", false, "1b", 0, 1, "1" },
	{ "size 2048 is 2K", false, "2048", 0, 2048, "2K" },
	{ "size largest G", false, "17179869183G", 0,
	    17179869183ULL * 1073741824ULL, NULL },
	{ "size G overflow", false, "17179869184G", -1, 0, NULL },
	{ "size largest bytes", false, "18446744073709551615", 0, UINT64_MAX,
	    NULL },
	{ "size number overflow", false, "99999999999999999999", -1, 0,
	    NULL },
	{ "size empty", false, "", -1, 0, NULL },
	{ "size unit only", false, "M", -1, 0, NULL },
	{ "size two units", false, "10MB", -1, 0, NULL },
	{ "size unknown unit", false, "10T", -1, 0, NULL },
	{ "size fraction", false, "1.5M", -1, 0, NULL },
	{ "size blank", false, "10 M", -1, 0, NULL },
	{ "size negative", false, "-1", -1, 0, NULL },
	{ "size duration unit", false, "10s", -1, 0, NULL },
	{ "duration bare seconds", true, "30", 0, 30, "30s" },
	{ "duration zero", true, "0", 0, 0, "0s" },
	{ "duration 30s", true, "30s", 0, 30, NULL },
	{ "duration 90s", true, "90s", 0, 90, NULL },
	{ "duration 90m", true, "90m", 0, 5400, NULL },
	{ "duration 60m is 1h", true, "60m", 0, 3600, "1h" },
	{ "duration 4h", true, "4h", 0, 14400, NULL },
	{ "duration 24h is 1d", true, "24h", 0, 86400, "1d" },
	{ "duration 5d", true, "5d", 0, 432000, NULL },
	{ "duration 1w", true, "1w", 0, 604800, "7d" },
	{ "duration 2w", true, "2w", 0, 1209600, "14d" },
	{ "duration 61s", true, "61s", 0, 61, NULL },
	{ "duration 36h", true, "36h", 0, 129600, NULL },
	{ "duration empty", true, "", -1, 0, NULL },
	{ "duration unit only", true, "h", -1, 0, NULL },
	{ "duration upper case unit", true, "5M", -1, 0, NULL },
	{ "duration unknown unit", true, "1y", -1, 0, NULL },
	{ "duration two units", true, "1h30m", -1, 0, NULL },
	{ "duration size unit", true, "10K", -1, 0, NULL },
	{ "duration negative", true, "-5m", -1, 0, NULL },
	{ "duration largest w", true, "30500568904943w", 0,
	    30500568904943ULL * 604800ULL, "213503982334601d" },
	{ "duration overflow", true, "30500568904944w", -1, 0, NULL },
};

static void
test_unit(void **state)
{
	const struct unit_case *tc = *state;
	uint64_t v = 777;
	char out[64];
	int r;

	r = tc->duration ? str_parse_duration(tc->s, &v) :
	    str_parse_size(tc->s, &v);
	assert_int_equal(r, tc->rc);
	if (r != 0) {
		assert_int_equal(v, 777);
		return;
	}
	assert_int_equal(v, tc->want);
	if (tc->duration)
		str_fmt_duration(out, sizeof(out), v);
	else
		str_fmt_size(out, sizeof(out), v);
	assert_string_equal(out, tc->fmt != NULL ? tc->fmt : tc->s);
	/* The formatted text parses back to the same value. */
	v = 0;
	assert_int_equal(tc->duration ? str_parse_duration(out, &v) :
	    str_parse_size(out, &v), 0);
	assert_int_equal(v, tc->want);
}

/* ==== str: copies, trimming, escaping ==== */

static void
test_str_copy(void **state)
{
	char d[6];

	(void)state;
	assert_int_equal(str_copy(d, "abc", sizeof(d)), 0);
	assert_string_equal(d, "abc");
	assert_int_equal(str_copy(d, "abcde", sizeof(d)), 0);
	assert_string_equal(d, "abcde");
	assert_int_equal(str_copy(d, "abcdef", sizeof(d)), -1);
	assert_string_equal(d, "");
	assert_int_equal(str_copy(d, "", sizeof(d)), 0);
	assert_string_equal(d, "");
	memcpy(d, "zzzzz", 6);
	assert_int_equal(str_copy(d, "a", 0), -1);
	assert_string_equal(d, "zzzzz");	/* DSTSZ 0: nothing written */
	assert_int_equal(str_ncopy(d, "abcdef", 3, sizeof(d)), 0);
	assert_string_equal(d, "abc");
	assert_int_equal(str_ncopy(d, "abcdef", 6, sizeof(d)), -1);
	assert_string_equal(d, "");
	assert_int_equal(str_fmt(d, sizeof(d), "%d-%s", 12, "ab"), 0);
	assert_string_equal(d, "12-ab");
	assert_int_equal(str_fmt(d, sizeof(d), "%d-%s", 123, "ab"), -1);
	assert_string_equal(d, "");
}

struct trim_case {
	const char	*name;
	const char	*in;
	const char	*want;
};

static const struct trim_case trim_cases[] = {
	{ "trim nothing", "abc", "abc" },
	{ "trim both", " \t abc \t ", "abc" },
	{ "trim inner blanks kept", "  a b  ", "a b" },
	{ "trim all blanks", " \t ", "" },
	{ "trim empty", "", "" },
	{ "trim keeps CR and LF", "\rabc\n", "\rabc\n" },
};

static void
test_trim(void **state)
{
	const struct trim_case *tc = *state;
	char buf[64];

	assert_int_equal(str_copy(buf, tc->in, sizeof(buf)), 0);
	assert_string_equal(str_trim(buf), tc->want);
}

static void
test_str_misc(void **state)
{
	char s[] = "MiXeD-Case 123 \xc3\x84";

	(void)state;
	str_lower(s);
	assert_string_equal(s, "mixed-case 123 \xc3\x84");
	assert_true(str_has_prefix_ci("MAIL FROM:<>", 12, "mail from:"));
	assert_false(str_has_prefix_ci("MAIL", 4, "mail from:"));
	/* LEN bounds the subject, even if it is longer */
	assert_false(str_has_prefix_ci("MAIL FROM:<>", 5, "mail from:"));
	assert_true(str_is_ascii("plain text\r\n", 12));
	assert_false(str_is_ascii("caf\xc3\xa9", 5));
	assert_true(str_is_ascii("caf\xc3\xa9", 3));
	assert_true(str_is_ascii("", 0));
}

struct vis_case {
	const char	*name;
	const char	*in;
	size_t		 len;	/* 0: strlen */
	size_t		 dstsz;
	const char	*want;
};

static const struct vis_case vis_cases[] = {
	{ "vis printable kept", "MAIL FROM:<a@b.example>", 0, 64,
	    "MAIL FROM:<a@b.example>" },
	{ "vis CR LF escaped", "QUIT\r\n", 0, 64, "QUIT\\x0d\\x0a" },
	{ "vis backslash and quote escaped", "a\\b\"c", 0, 64,
	    "a\\x5cb\\x22c" },
	{ "vis NUL and DEL escaped", "a\0b\x7f", 4, 64, "a\\x00b\\x7f" },
	{ "vis high bytes escaped", "caf\xc3\xa9", 0, 64,
	    "caf\\xc3\\xa9" },
	{ "vis tab and ESC escaped", "\t\x1b[0m", 0, 64, "\\x09\\x1b[0m" },
	{ "vis empty", "", 0, 64, "" },
	{ "vis truncated with dots", "abcdefghijklmnopqrstuvwxyz", 0, 16,
	    "abcdefghijkl..." },
	{ "vis escapes not cut in half", "abcdefghij\r\n", 0, 16,
	    "abcdefghij..." },
	{ "vis exact fit is not truncated", "abcdefghijklmno", 0, 16,
	    "abcdefghijklmno" },
	{ "vis fit with escapes is not truncated", "abcdefghijk\r", 0, 16,
	    "abcdefghijk\\x0d" },
	{ "vis one short of fitting", "abcdefghijklmnop", 0, 16,
	    "abcdefghijkl..." },
};

static void
test_vis(void **state)
{
	const struct vis_case *tc = *state;
	size_t n = tc->len != 0 ? tc->len : strlen(tc->in);
	char *src = malloc(n + 1), *dst = malloc(tc->dstsz);

	assert_non_null(src);
	assert_non_null(dst);
	memcpy(src, tc->in, n);
	assert_ptr_equal(str_vis(dst, tc->dstsz, src, n), dst);
	assert_true(strlen(dst) < tc->dstsz);
	if (strcmp(dst, tc->want) != 0) {
		print_error("got '%s', want '%s'\n", dst, tc->want);
		free(src);
		free(dst);
		fail();
	}
	free(src);
	free(dst);
}

static void
test_strlist(void **state)
{
	struct strlist l;
	size_t i;
	char key[16];

	(void)state;
	strlist_init(&l);
	assert_false(strlist_has(&l, "a", false));
	strlist_add(&l, "Alpha");
	strlist_addn(&l, "betagamma", 4);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1], "beta");
	assert_true(strlist_has(&l, "Alpha", false));
	assert_false(strlist_has(&l, "alpha", false));
	assert_true(strlist_has(&l, "alpha", true));
	assert_false(strlist_has(&l, "gamma", true));
	for (i = 0; i < 1000; i++) {
		(void)snprintf(key, sizeof(key), "k%zu", i);
		strlist_add(&l, key);
	}
	assert_int_equal(l.n, 1002);
	assert_string_equal(l.v[1001], "k999");
	strlist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
}

/* ==== net ==== */

struct addr_case {
	const char	*name;
	const char	*s;
	int		 rc;
	int		 family;
	const char	*fmt;		/* net_addr_format() */
	bool		 loopback;
};

static const struct addr_case addr_cases[] = {
	{ "addr IPv4", "192.0.2.1", 0, AF_INET, "192.0.2.1", false },
	{ "addr IPv4 loopback", "127.0.0.1", 0, AF_INET, "127.0.0.1", true },
	{ "addr IPv4 loopback net", "127.255.0.9", 0, AF_INET, "127.255.0.9",
	    true },
	{ "addr IPv6", "2001:DB8:0:0::1", 0, AF_INET6, "2001:db8::1",
	    false },
	{ "addr IPv6 loopback", "::1", 0, AF_INET6, "::1", true },
	{ "addr IPv6 unspecified", "::", 0, AF_INET6, "::", false },
	{ "addr IPv4-mapped is IPv4", "::ffff:192.0.2.1", 0, AF_INET,
	    "192.0.2.1", false },
	{ "addr IPv4-mapped loopback", "::FFFF:127.0.0.1", 0, AF_INET,
	    "127.0.0.1", true },
	{ "addr IPv4-compatible stays IPv6", "::192.0.2.1", 0, AF_INET6,
	    "::192.0.2.1", false },
	{ "addr bad octet", "256.0.0.1", -1, 0, NULL, false },
	{ "addr short IPv4", "1.2.3", -1, 0, NULL, false },
	{ "addr empty", "", -1, 0, NULL, false },
	{ "addr name", "localhost", -1, 0, NULL, false },
	{ "addr leading blank", " 1.2.3.4", -1, 0, NULL, false },
	{ "addr bracketed", "[::1]", -1, 0, NULL, false },
	{ "addr with port", "1.2.3.4:25", -1, 0, NULL, false },
	{ "addr with prefix", "1.2.3.0/24", -1, 0, NULL, false },
	{ "addr IPv6 zone", "fe80::1%lo", -1, 0, NULL, false },
};

static void
test_addr(void **state)
{
	const struct addr_case *tc = *state;
	struct netaddr a, b;
	struct sockaddr_storage ss;
	char out[NET_ADDRSTRLEN];
	socklen_t sl;

	assert_int_equal(net_addr_parse(tc->s, &a), tc->rc);
	if (tc->rc != 0)
		return;
	assert_int_equal(a.family, tc->family);
	net_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, tc->fmt);
	assert_int_equal(net_addr_is_loopback(&a), tc->loopback);
	/* through a sockaddr and back */
	sl = net_addr_to_sockaddr(&a, 25, &ss);
	assert_int_equal(sl, tc->family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	assert_int_equal(ss.ss_family, tc->family);
	assert_int_equal(net_addr_from_sockaddr((struct sockaddr *)&ss, &b),
	    0);
	assert_true(net_addr_equal(&a, &b));
	if (tc->family == AF_INET)
		assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port),
		    25);
	else
		assert_int_equal(
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 25);
}

/* A client on a dual-stack socket: ::ffff:a.b.c.d is a.b.c.d. */
static void
test_addr_mapped_sockaddr(void **state)
{
	struct sockaddr_in6 sin6;
	struct { sa_family_t f; char p[14]; } su;
	struct netaddr a, b;

	(void)state;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.7",
	    &sin6.sin6_addr), 1);
	assert_int_equal(net_addr_from_sockaddr((struct sockaddr *)&sin6, &a),
	    0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(net_addr_parse("198.51.100.7", &b), 0);
	assert_true(net_addr_equal(&a, &b));
	memset(&su, 0, sizeof(su));
	su.f = AF_UNIX;
	assert_int_equal(net_addr_from_sockaddr((struct sockaddr *)&su, &a),
	    -1);
	/* Families differ: never equal, even with equal bytes. */
	assert_int_equal(net_addr_parse("::", &a), 0);
	assert_int_equal(net_addr_parse("0.0.0.0", &b), 0);
	assert_false(net_addr_equal(&a, &b));
}

struct prefix_case {
	const char	*name;
	const char	*s;
	bool		 loose;
	int		 rc;
	const char	*fmt;
	const char	*in[4];
	const char	*out[4];
};

static const struct prefix_case prefix_cases[] = {
	{ "prefix IPv4 /24", "192.0.2.0/24", false, 0, "192.0.2.0/24",
	    { "192.0.2.0", "192.0.2.255", "::ffff:192.0.2.9", NULL },
	    { "192.0.3.0", "192.0.1.255", "2001:db8::1", NULL } },
	{ "prefix IPv4 /25", "192.0.2.128/25", false, 0, "192.0.2.128/25",
	    { "192.0.2.128", "192.0.2.200", NULL },
	    { "192.0.2.127", "192.0.3.128", NULL } },
	{ "prefix IPv4 /31", "10.1.2.2/31", false, 0, "10.1.2.2/31",
	    { "10.1.2.2", "10.1.2.3", NULL }, { "10.1.2.4", NULL } },
	{ "prefix IPv4 host", "192.0.2.7", false, 0, "192.0.2.7",
	    { "192.0.2.7", "::ffff:192.0.2.7", NULL },
	    { "192.0.2.8", NULL } },
	{ "prefix IPv4 /32", "192.0.2.7/32", false, 0, "192.0.2.7",
	    { "192.0.2.7", NULL }, { "192.0.2.6", NULL } },
	{ "prefix IPv4 everything", "0.0.0.0/0", false, 0, "0.0.0.0/0",
	    { "1.2.3.4", "255.255.255.255", "::ffff:1.2.3.4", NULL },
	    { "::1", "2001:db8::1", NULL } },
	{ "prefix IPv4 host bits refused", "192.0.2.1/24", false, -1, NULL,
	    { NULL }, { NULL } },
	{ "prefix IPv4 host bits loose", "192.0.2.1/24", true, 0,
	    "192.0.2.0/24", { "192.0.2.99", NULL }, { "192.0.3.1", NULL } },
	{ "prefix IPv4 /31 host bit refused", "10.1.2.3/31", false, -1, NULL,
	    { NULL }, { NULL } },
	{ "prefix IPv6 /32", "2001:db8::/32", false, 0, "2001:db8::/32",
	    { "2001:db8::1", "2001:db8:ffff:ffff::1", NULL },
	    { "2001:db9::", "192.0.2.1", NULL } },
	{ "prefix IPv6 /33", "2001:db8:8000::/33", false, 0,
	    "2001:db8:8000::/33", { "2001:db8:8000::1", "2001:db8:ffff::",
	    NULL }, { "2001:db8:7fff::1", NULL } },
	{ "prefix IPv6 /64", "2001:db8:1:2::/64", false, 0,
	    "2001:db8:1:2::/64", { "2001:db8:1:2:aaaa:bbbb:cccc:dddd", NULL },
	    { "2001:db8:1:3::1", NULL } },
	{ "prefix IPv6 host", "::1", false, 0, "::1", { "::1", NULL },
	    { "::2", "127.0.0.1", NULL } },
	{ "prefix IPv6 everything", "::/0", false, 0, "::/0",
	    { "::1", "2001:db8::1", NULL }, { "192.0.2.1", NULL } },
	{ "prefix IPv6 host bits refused", "2001:db8::1/64", false, -1, NULL,
	    { NULL }, { NULL } },
	{ "prefix IPv6 host bits loose", "2001:db8::1/64", true, 0,
	    "2001:db8::/64", { "2001:db8::ffff", NULL },
	    { "2001:db8:0:1::1", NULL } },
	{ "prefix mapped host is IPv4", "::ffff:192.0.2.7", false, 0,
	    "192.0.2.7", { "192.0.2.7", NULL }, { "192.0.2.6", NULL } },
	/* ::ffff:0:0/96 is the mapped IPv4 space: /120 of it is a /24 */
	{ "prefix mapped /120 is IPv4 /24", "::ffff:192.0.2.0/120", false, 0,
	    "192.0.2.0/24", { "192.0.2.1", "::ffff:192.0.2.200", NULL },
	    { "192.0.3.1", NULL } },
	/* An IPv6 prefix length must not be read as an IPv4 one:
	   ::ffff:10.0.0.0/8 is ::/8 with host bits set, not 10.0.0.0/8. */
	{ "prefix mapped /8 is no IPv4 /8", "::ffff:10.0.0.0/8", false, -1,
	    NULL, { NULL }, { NULL } },
	{ "prefix IPv4 /33", "10.0.0.0/33", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix IPv6 /129", "2001:db8::/129", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix empty bits", "10.0.0.0/", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix empty address", "/8", false, -1, NULL, { NULL }, { NULL } },
	{ "prefix two slashes", "10.0.0.0/8/8", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix negative bits", "10.0.0.0/-1", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix plus bits", "10.0.0.0/+8", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix name", "example.com/24", false, -1, NULL, { NULL },
	    { NULL } },
	{ "prefix overlong address", "0000000000000000000000000000000000000"
	    "000000000000000000000000000000.0/8", false, -1, NULL, { NULL },
	    { NULL } },
};

static void
test_prefix(void **state)
{
	const struct prefix_case *tc = *state;
	struct netprefix p;
	struct netaddr a;
	struct netlist l = { NULL, 0 };
	char out[NET_ADDRSTRLEN];
	size_t i;

	if (net_prefix_parse(tc->s, tc->loose, &p) != tc->rc)
		fail_msg("net_prefix_parse(%s) != %d", tc->s, tc->rc);
	if (tc->rc != 0)
		return;
	net_prefix_format(&p, out, sizeof(out));
	assert_string_equal(out, tc->fmt);
	netlist_add(&l, &p);
	for (i = 0; tc->in[i] != NULL; i++) {
		assert_int_equal(net_addr_parse(tc->in[i], &a), 0);
		if (!net_prefix_match(&p, &a) || !netlist_match(&l, &a))
			fail_msg("%s should match %s", tc->in[i], tc->s);
	}
	for (i = 0; tc->out[i] != NULL; i++) {
		assert_int_equal(net_addr_parse(tc->out[i], &a), 0);
		if (net_prefix_match(&p, &a) || netlist_match(&l, &a))
			fail_msg("%s should not match %s", tc->out[i], tc->s);
	}
	/* the formatted prefix parses back to itself, strictly */
	{
		struct netprefix q;

		assert_int_equal(net_prefix_parse(out, false, &q), 0);
		assert_int_equal(q.bits, p.bits);
		assert_true(net_addr_equal(&q.addr, &p.addr));
	}
	netlist_free(&l);
	assert_int_equal(l.n, 0);
}

static void
test_netlist_many(void **state)
{
	struct netlist l = { NULL, 0 };
	struct netprefix p;
	struct netaddr a;
	char s[64];
	unsigned i;

	(void)state;
	for (i = 0; i < 200; i++) {
		(void)snprintf(s, sizeof(s), "10.%u.0.0/16", i);
		assert_int_equal(net_prefix_parse(s, false, &p), 0);
		netlist_add(&l, &p);
	}
	assert_int_equal(l.n, 200);
	assert_int_equal(net_addr_parse("10.199.3.4", &a), 0);
	assert_true(netlist_match(&l, &a));
	assert_int_equal(net_addr_parse("10.200.3.4", &a), 0);
	assert_false(netlist_match(&l, &a));
	netlist_free(&l);
	assert_false(netlist_match(&l, &a));
}

static void
test_addr_mask(void **state)
{
	struct netaddr a;
	char out[NET_ADDRSTRLEN];

	(void)state;
	assert_int_equal(net_addr_parse("2001:db8:aaaa:bbbb:cccc::1", &a), 0);
	net_addr_mask(&a, 64);
	net_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, "2001:db8:aaaa:bbbb::");
	net_addr_mask(&a, 36);
	net_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, "2001:db8:a000::");
	net_addr_mask(&a, 128);	/* no change */
	net_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, "2001:db8:a000::");
	assert_int_equal(net_addr_parse("192.0.2.255", &a), 0);
	net_addr_mask(&a, 27);
	net_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, "192.0.2.224");
	net_addr_mask(&a, 0);
	net_addr_format(&a, out, sizeof(out));
	assert_string_equal(out, "0.0.0.0");
}

struct hostport_case {
	const char	*name;
	const char	*s;
	size_t		 hostsz;
	int		 rc;
	const char	*host;
	uint16_t	 port;
};

static const struct hostport_case hostport_cases[] = {
	{ "hostport IPv6 in brackets", "[::1]:25", 64, 0, "::1", 25 },
	{ "hostport IPv6 full", "[2001:db8::25]:2525", 64, 0, "2001:db8::25",
	    2525 },
	{ "hostport IPv4", "1.2.3.4:25", 64, 0, "1.2.3.4", 25 },
	{ "hostport IPv4 in brackets", "[1.2.3.4]:587", 64, 0, "1.2.3.4",
	    587 },
	{ "hostport name", "mail.example.net:587", 64, 0, "mail.example.net",
	    587 },
	{ "hostport port 1", "1.2.3.4:1", 64, 0, "1.2.3.4", 1 },
	{ "hostport port 65535", "1.2.3.4:65535", 64, 0, "1.2.3.4", 65535 },
	{ "hostport host just fits", "1234567:25", 8, 0, "1234567", 25 },
	{ "hostport host too long", "12345678:25", 8, -1, NULL, 0 },
	{ "hostport no port", "1.2.3.4", 64, -1, NULL, 0 },
	{ "hostport empty port", "1.2.3.4:", 64, -1, NULL, 0 },
	{ "hostport port 0", "1.2.3.4:0", 64, -1, NULL, 0 },
	{ "hostport port 65536", "1.2.3.4:65536", 64, -1, NULL, 0 },
	{ "hostport port with junk", "1.2.3.4:25x", 64, -1, NULL, 0 },
	{ "hostport negative port", "1.2.3.4:-1", 64, -1, NULL, 0 },
	{ "hostport blank before port", "1.2.3.4: 25", 64, -1, NULL, 0 },
	{ "hostport IPv6 without brackets", "::1:25", 64, -1, NULL, 0 },
	{ "hostport brackets without port", "[::1]", 64, -1, NULL, 0 },
	{ "hostport brackets without colon", "[::1]25", 64, -1, NULL, 0 },
	{ "hostport brackets empty port", "[::1]:", 64, -1, NULL, 0 },
	{ "hostport unclosed bracket", "[::1:25", 64, -1, NULL, 0 },
	{ "hostport empty host", ":25", 64, -1, NULL, 0 },
	{ "hostport empty brackets", "[]:25", 64, -1, NULL, 0 },
	{ "hostport two ports", "[::1]:25:26", 64, -1, NULL, 0 },
	{ "hostport empty", "", 64, -1, NULL, 0 },
};

static void
test_hostport(void **state)
{
	const struct hostport_case *tc = *state;
	char host[64];
	uint16_t port = 7;

	assert_true(tc->hostsz <= sizeof(host));
	assert_int_equal(net_hostport_parse(tc->s, host, tc->hostsz, &port),
	    tc->rc);
	if (tc->rc != 0) {
		assert_int_equal(port, 7);
		return;
	}
	assert_string_equal(host, tc->host);
	assert_int_equal(port, tc->port);
}

/* ==== hmap ==== */

#define NKEYS 5000

static int
atol_checked(const char *s)
{
	uint64_t v;

	assert_int_equal(str_to_uint(s, 0, NKEYS, &v), 0);
	return (int)v;
}

static bool
sweep_odd(const char *key, void *val, void *arg)
{
	size_t *seen = arg;
	int v = *(int *)val;

	(*seen)++;
	assert_int_equal(atol_checked(key), v);
	return v % 2 == 1;
}

static void
count_free(void *val)
{
	(*(int *)val) = -1;
}

static void
test_hmap(void **state)
{
	static int vals[NKEYS];
	struct hmap *h = hmap_new();
	char key[32];
	size_t i, seen = 0;
	int other = 0;

	(void)state;
	assert_non_null(h);
	assert_int_equal(hmap_count(h), 0);
	assert_null(hmap_get(h, "missing"));
	assert_null(hmap_del(h, "missing"));
	for (i = 0; i < NKEYS; i++) {
		vals[i] = (int)i;
		(void)snprintf(key, sizeof(key), "%zu", i);
		assert_null(hmap_put(h, key, &vals[i]));
	}
	assert_int_equal(hmap_count(h), NKEYS);
	for (i = 0; i < NKEYS; i++) {
		(void)snprintf(key, sizeof(key), "%zu", i);
		assert_ptr_equal(hmap_get(h, key), &vals[i]);
	}
	assert_null(hmap_get(h, "5000"));
	assert_null(hmap_get(h, ""));
	/* keys are copied: the caller's buffer may change */
	(void)snprintf(key, sizeof(key), "%s", "42");
	key[0] = '9';
	assert_ptr_equal(hmap_get(h, "42"), &vals[42]);
	/* replace returns the old value, count unchanged */
	assert_ptr_equal(hmap_put(h, "7", &other), &vals[7]);
	assert_ptr_equal(hmap_get(h, "7"), &other);
	assert_int_equal(hmap_count(h), NKEYS);
	assert_ptr_equal(hmap_put(h, "7", &vals[7]), &other);
	/* keys are case-sensitive, and the empty key is a key */
	assert_null(hmap_put(h, "Key", &other));
	assert_null(hmap_get(h, "key"));
	assert_null(hmap_put(h, "", &other));
	assert_ptr_equal(hmap_get(h, ""), &other);
	assert_ptr_equal(hmap_del(h, "Key"), &other);
	assert_ptr_equal(hmap_del(h, ""), &other);
	assert_int_equal(hmap_count(h), NKEYS);
	/* delete every third key */
	for (i = 0; i < NKEYS; i += 3) {
		(void)snprintf(key, sizeof(key), "%zu", i);
		assert_ptr_equal(hmap_del(h, key), &vals[i]);
		assert_null(hmap_del(h, key));
	}
	assert_int_equal(hmap_count(h), NKEYS - (NKEYS + 2) / 3);
	for (i = 0; i < NKEYS; i++) {
		(void)snprintf(key, sizeof(key), "%zu", i);
		if (i % 3 == 0)
			assert_null(hmap_get(h, key));
		else
			assert_ptr_equal(hmap_get(h, key), &vals[i]);
	}
	/* sweep out the odd values: every entry visited once */
	hmap_sweep(h, sweep_odd, &seen);
	assert_int_equal(seen, NKEYS - (NKEYS + 2) / 3);
	for (i = 0; i < NKEYS; i++) {
		(void)snprintf(key, sizeof(key), "%zu", i);
		if (i % 3 == 0 || i % 2 == 1)
			assert_null(hmap_get(h, key));
		else
			assert_ptr_equal(hmap_get(h, key), &vals[i]);
	}
	seen = 0;
	for (i = 0; i < NKEYS; i++)
		if (i % 3 != 0 && i % 2 == 0)
			seen++;
	assert_int_equal(hmap_count(h), seen);
	/* re-add everything, then free with a value destructor */
	for (i = 0; i < NKEYS; i++) {
		(void)snprintf(key, sizeof(key), "%zu", i);
		(void)hmap_put(h, key, &vals[i]);
	}
	assert_int_equal(hmap_count(h), NKEYS);
	hmap_free(&h, count_free);
	assert_null(h);
	for (i = 0; i < NKEYS; i++)
		assert_int_equal(vals[i], -1);
	hmap_free(&h, count_free);	/* NULL is fine */
}

static bool
sweep_all(const char *key, void *val, void *arg)
{
	(void)key;
	(void)val;
	(*(size_t *)arg)++;
	return true;
}

static void
test_hmap_sweep_all(void **state)
{
	struct hmap *h = hmap_new();
	char key[32];
	int v = 1;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < 3000; i++) {
		(void)snprintf(key, sizeof(key), "client-%zu.example", i);
		(void)hmap_put(h, key, &v);
	}
	hmap_sweep(h, sweep_all, &n);
	assert_int_equal(n, 3000);
	assert_int_equal(hmap_count(h), 0);
	assert_null(hmap_get(h, "client-1.example"));
	/* still usable */
	assert_null(hmap_put(h, "client-1.example", &v));
	assert_int_equal(hmap_count(h), 1);
	hmap_free(&h, NULL);
}

static void
walk_mark(const char *key, void *val, void *arg)
{
	unsigned char *seen = arg;

	(void)key;
	seen[*(int *)val]++;
}

/* A walk in slices sees every entry once, however small the slices. */
static void
test_hmap_walk(void **state)
{
	static const size_t slices[] = { 1, 7, 1000, 100000 };
	struct hmap *h = hmap_new();
	static int vals[NKEYS];
	unsigned char seen[NKEYS];
	char key[32];
	size_t i, s, cursor, calls;

	(void)state;
	cursor = 0;
	assert_true(hmap_walk(h, &cursor, 1000, walk_mark, seen));
	assert_int_equal(cursor, 0);
	for (i = 0; i < NKEYS; i++) {
		vals[i] = (int)i;
		(void)snprintf(key, sizeof(key), "%zu", i);
		(void)hmap_put(h, key, &vals[i]);
	}
	for (s = 0; s < nitems(slices); s++) {
		memset(seen, 0, sizeof(seen));
		cursor = 0;
		calls = 1;
		while (!hmap_walk(h, &cursor, slices[s], walk_mark, seen)) {
			assert_true(cursor > 0);
			calls++;
		}
		assert_int_equal(cursor, 0);
		for (i = 0; i < NKEYS; i++)
			assert_int_equal(seen[i], 1);
		if (slices[s] >= 100000)
			assert_int_equal(calls, 1);
		else
			assert_true(calls > 1);
	}
	hmap_free(&h, NULL);
}

/* ---- shared directory syncs ---- */

struct sync_arg {
	const char	*path;
	int		 rounds;
	int		 failures;
	int		 last_errno;
};

static void *
sync_thread(void *p)
{
	struct sync_arg *a = p;
	int i;

	for (i = 0; i < a->rounds; i++)
		if (fs_fsync_dir_shared(a->path) == -1) {
			a->failures++;
			a->last_errno = errno;
		}
	return NULL;
}

static void
test_fsync_dir_shared(void **state)
{
	char dir[] = "/tmp/popgate-unit-XXXXXX", missing[64];
	struct sync_arg a[8];
	pthread_t t[8];
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(missing, sizeof(missing), "%s/none", dir);
	/* Eight threads on one directory and two on a missing one: every
	   call returns, each with its own directory's answer. */
	for (i = 0; i < 8; i++) {
		a[i].path = i < 6 ? dir : missing;
		a[i].rounds = 50;
		a[i].failures = 0;
		a[i].last_errno = 0;
		assert_int_equal(pthread_create(&t[i], NULL, sync_thread,
		    &a[i]), 0);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(a[i].failures, 0);
	for (i = 6; i < 8; i++) {
		assert_int_equal(a[i].failures, 50);
		assert_int_equal(a[i].last_errno, ENOENT);
	}
	/* The slot is free again after use: one call alone works too. */
	assert_int_equal(fs_fsync_dir_shared(dir), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(fs_fsync_dir_shared(dir), -1);
	assert_int_equal(errno, ENOENT);
}

/* A log line is one line of ASCII whatever a client's bytes were. */
static void
test_log_escape(void **state)
{
	char path[] = "/tmp/popgate-logtest-XXXXXX", got[4096];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	(void)state;
	assert_true(fd != -1 && saved != -1);
	log_init("t", LOG_TO_STDERR);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_info("user=%s client=1", "a\x16" "b\xc8\r\nfake: line\\");
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	(void)close(saved);
	n = pread(fd, got, sizeof(got) - 1, 0);
	assert_true(n > 0);
	got[n] = '\0';
	assert_non_null(strstr(got, " t["));
	assert_non_null(strstr(got, "]: user=a\\x16b\\xc8\\x0d\\x0afake: "
	    "line\\ client=1\n"));
	assert_ptr_equal(strchr(got, '\n'), got + n - 1);
	(void)close(fd);
	(void)unlink(path);
}

/* A value a client chose stays one key=value token (ISSUE13 point 10). */
struct quote_case {
	const char	*name, *in, *out;
	size_t		 sz;
};

static const struct quote_case quote_cases[] = {
	{ "log_quote plain", "ann@acme.test", "ann@acme.test", 64 },
	{ "log_quote <addr>", "<a@b.test>", "<a@b.test>", 64 },
	{ "log_quote empty", "", "\"\"", 64 },
	{ "log_quote space", "evil client=6.6.6.6", "\"evil client=6.6.6.6\"",
	    64 },
	{ "log_quote equals", "client=6.6.6.6", "\"client=6.6.6.6\"", 64 },
	{ "log_quote quote", "x\" client=6.6.6.6 \"",
	    "\"x\\\" client=6.6.6.6 \\\"\"", 64 },
	{ "log_quote backslash", "a\\x0a", "\"a\\\\x0a\"", 64 },
	{ "log_quote control", "a\r\nb", "\"a\r\nb\"", 64 },
	{ "log_quote 8-bit", "\xc3\xa9", "\"\xc3\xa9\"", 64 },
	{ "log_quote cut bare", "abcdef", "\"abc\"", 6 },
	{ "log_quote cut before escape", "ab\"cd", "\"ab\"", 6 },
	{ "log_quote cut escape fits", "a\"cd", "\"a\\\"\"", 6 },
	{ "log_quote no room", "abc", "", 2 },
};

static void
test_log_quote(void **state)
{
	const struct quote_case *c = *state;
	char out[64];

	assert_true(c->sz <= sizeof(out));
	assert_ptr_equal(log_quote(out, c->sz, c->in), out);
	assert_string_equal(out, c->out);
	assert_true(strlen(out) < c->sz);
}

/* Texts are always quoted; envelope addresses keep their <...>. */
static void
test_log_quote_kinds(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(log_quote_text(out, sizeof(out), "OK"), "\"OK\"");
	assert_string_equal(log_quote_text(out, sizeof(out),
	    "250 \"x\" client=6.6.6.6"), "\"250 \\\"x\\\" client=6.6.6.6\"");
	assert_string_equal(log_quote_addr(out, sizeof(out), "bob@x.test"),
	    "<bob@x.test>");
	assert_string_equal(log_quote_addr(out, sizeof(out), ""), "<>");
	assert_string_equal(log_quote_addr(out, sizeof(out),
	    "a> client=6.6.6.6 <b@x"), "\"<a> client=6.6.6.6 <b@x>\"");
	assert_string_equal(log_quote_addr(out, sizeof(out), "\"a\"@x"),
	    "\"<\\\"a\\\"@x>\"");
	assert_string_equal(log_quote_addr(out, 8, "abcdef"), "\"<abcd\"");
}

/* ==== spool ==== */

static int
collect(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* A view of part of a file reads that part alone, through its own
   descriptor, and takes no appends. */
static void
test_spool_view(void **state)
{
	char path[] = "/tmp/popgate-test-spool-XXXXXX";
	struct spool v;
	struct buf out;
	int fd = mkstemp(path);

	(void)state;
	assert_int_not_equal(fd, -1);
	(void)unlink(path);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(spool_view(&v, fd, 3, 4), 0);
	assert_int_not_equal(v.fd, fd);
	(void)close(fd);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(spool_copy(&v, collect, &out), 0);
	assert_buf(&out, "3456", 4);
	spool_append(&v, "x", 1);
	assert_int_equal(v.err, EBADF);
	assert_int_equal(v.len, 4);
	spool_free(&v);
	buf_free(&out);
}

int
main(void)
{
	size_t i;
	int r;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	add_test("buf limit", test_buf_limit, NULL);
	add_test("buf max 0", test_buf_zero_max, NULL);
	add_test("buf growth", test_buf_grow, NULL);
	add_test("buf consume truncate reset", test_buf_edit, NULL);
	add_test("buf huge append refused", test_buf_huge_append, NULL);
	add_test("buf space commit steal", test_buf_space, NULL);
	ADD(uint_cases, test_uint);
	add_test("str_to_uint_n", test_uint_n, NULL);
	ADD(unit_cases, test_unit);
	add_test("str_copy str_ncopy str_fmt", test_str_copy, NULL);
	ADD(trim_cases, test_trim);
	add_test("str misc", test_str_misc, NULL);
	ADD(vis_cases, test_vis);
	add_test("strlist", test_strlist, NULL);
	add_test("log lines escape control and 8-bit octets", test_log_escape,
	    NULL);
	ADD(quote_cases, test_log_quote);
	add_test("log_quote_text log_quote_addr", test_log_quote_kinds, NULL);
	ADD(addr_cases, test_addr);
	add_test("addr from mapped sockaddr", test_addr_mapped_sockaddr,
	    NULL);
	ADD(prefix_cases, test_prefix);
	add_test("netlist of 200", test_netlist_many, NULL);
	add_test("net_addr_mask", test_addr_mask, NULL);
	ADD(hostport_cases, test_hostport);
	add_test("hmap 5000 keys", test_hmap, NULL);
	add_test("hmap sweep all", test_hmap_sweep_all, NULL);
	add_test("hmap walk in slices", test_hmap_walk, NULL);
	add_test("fsync of a directory, shared", test_fsync_dir_shared, NULL);
	add_test("spool view of part of a file", test_spool_view, NULL);
	r = _cmocka_run_group_tests("util", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
