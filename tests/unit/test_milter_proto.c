/*
 * test_milter_proto.c - the milter codec (src/milter/milter_proto.c):
 * each encoder's exact bytes, and the reply reader over a table of
 * streams, each fed whole and trickled byte by byte with the same result;
 * every reply kind at its stage, the ones refused at the wrong stage or
 * without their action, malformed lengths and fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/milter.h"
#include "util/buf.h"
#include "util/compat.h"

#include "testlib.h"

/* ---- encoders ---- */

static void
want_bytes(const struct buf *b, const char *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

#define WANT(b, lit) want_bytes((b), (lit), sizeof(lit) - 1)

static void
test_enc_simple(void **state)
{
	struct buf b;
	const char *mail[] = { "<a@b.example>", "SIZE=10" };

	(void)state;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(milter_enc_optneg(&b, 6, 0x1ff, 0x1ff), 0);
	WANT(&b, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\0\x01\xff");
	buf_reset(&b);
	assert_int_equal(milter_enc_helo(&b, "x.example"), 0);
	WANT(&b, "\0\0\0\x0bHx.example\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_mail(&b, mail, 2), 0);
	WANT(&b, "\0\0\0\x17M<a@b.example>\0SIZE=10\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_rcpt(&b, mail, 1), 0);
	WANT(&b, "\0\0\0\x0fR<a@b.example>\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_header(&b, "Subject", " hi"), 0);
	WANT(&b, "\0\0\0\x0dLSubject\0 hi\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_bare(&b, MILTER_C_EOH), 0);
	assert_int_equal(milter_enc_bare(&b, MILTER_C_EOM), 0);
	assert_int_equal(milter_enc_bare(&b, MILTER_C_ABORT), 0);
	assert_int_equal(milter_enc_bare(&b, MILTER_C_QUIT), 0);
	assert_int_equal(milter_enc_bare(&b, MILTER_C_QUIT_NC), 0);
	assert_int_equal(milter_enc_bare(&b, MILTER_C_DATA), 0);
	WANT(&b, "\0\0\0\1N\0\0\0\1E\0\0\0\1A\0\0\0\1Q\0\0\0\1K"
	    "\0\0\0\1T");
	buf_reset(&b);
	assert_int_equal(milter_enc_unknown(&b, "XFOO bar"), 0);
	WANT(&b, "\0\0\0\x0aUXFOO bar\0");
	buf_free(&b);
}

static void
test_enc_connect(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(milter_enc_connect(&b, "h.example", MILTER_F_INET,
	    25, "192.0.2.1"), 0);
	WANT(&b, "\0\0\0\x18""Ch.example\0""4\0\x19""192.0.2.1\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_connect(&b, "[::1]", MILTER_F_INET6,
	    0x1234, "::1"), 0);
	WANT(&b, "\0\0\0\x0e""C[::1]\0""6\x12\x34::1\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_connect(&b, "local", MILTER_F_UNIX, 0,
	    "/run/s"), 0);
	WANT(&b, "\0\0\0\x11""Clocal\0L\0\0/run/s\0");
	buf_reset(&b);
	assert_int_equal(milter_enc_connect(&b, "u", MILTER_F_UNKNOWN, 9,
	    "ignored"), 0);
	WANT(&b, "\0\0\0\x04""Cu\0U");
	buf_free(&b);
}

static void
test_enc_macros(void **state)
{
	struct buf b;
	const char *names[] = { "j", "client_addr", "{i}" };
	const char *values[] = { "mx.example", "192.0.2.1", "QID" };

	(void)state;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(milter_enc_macros(&b, 'C', names, values, 3), 0);
	WANT(&b, "\0\0\0\x2f""DCj\0mx.example\0{client_addr}\0""192.0.2.1\0"
	    "{i}\0QID\0");
	buf_free(&b);
}

static void
test_enc_body_chunks(void **state)
{
	struct buf b;
	char *big;
	size_t n = 2 * MILTER_CHUNK_SIZE + 10;

	(void)state;
	big = calloc(1, n);
	assert_non_null(big);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(milter_enc_body(&b, big, 0), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(milter_enc_body(&b, big, n), 0);
	assert_int_equal(b.len, n + 3 * 5);
	assert_memory_equal(b.data, "\0\1\0\0""B", 5);
	assert_memory_equal(b.data + 5 + MILTER_CHUNK_SIZE, "\0\1\0\0""B",
	    5);
	assert_memory_equal(b.data + 10 + 2 * MILTER_CHUNK_SIZE,
	    "\0\0\0\x0b""B", 5);
	buf_free(&b);
	/* a limit passed leaves the buffer as it was */
	buf_init(&b, 100);
	assert_int_equal(milter_enc_helo(&b, "a"), 0);
	assert_int_equal(milter_enc_body(&b, big, 200), -1);
	assert_int_equal(b.len, 7);
	/* a header too long for one packet is refused */
	big[n - 1] = '\0';
	memset(big, 'x', n - 1);
	buf_free(&b);
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(milter_enc_header(&b, "X", big), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	free(big);
}

/* ---- the reader ---- */

#define ALL_A	MILTER_A_ALL
#define ALL_P	MILTER_P_OFFER

struct pk {
	const char	*s;
	size_t		 n;
};

struct rd_case {
	const char		*name;
	/* the stream: RAW as it is when set, else the packets of PK, each
	   given its length */
	struct pk		 raw;
	struct pk		 pk[4];
	enum milter_stage	 stage;
	uint32_t		 actions, protocol;
	/* the results, one char per packet: the reply octet, 'X' for a
	   refused reply, 'E' for a reader error (the end) */
	const char		*want;
	const char		*detail;	/* what the last reply gives */
};

#define P(s)	{ (s), sizeof(s) - 1 }
#define NORAW	{ NULL, 0 }

static const struct rd_case rd_cases[] = {
	{ "continue", NORAW, { P("c") }, MILTER_S_CONNECT, 0, 0, "c", NULL },
	{ "accept-reject-tempfail", NORAW, { P("a"), P("r"), P("t") },
	  MILTER_S_RCPT, 0, 0, "art", NULL },
	{ "discard", NORAW, { P("d") }, MILTER_S_EOH, 0, 0, "d", NULL },
	{ "shutdown-connfail", NORAW, { P("4"), P("f") }, MILTER_S_HELO,
	  0, 0, "4f", NULL },
	{ "continue with data", NORAW, { P("cx") }, MILTER_S_MAIL, 0, 0, "X",
	  NULL },
	{ "length 0", P("\0\0\0\0c"), { P("") }, MILTER_S_MAIL, 0, 0, "E",
	  NULL },
	{ "oversized", P("\0\x20\0\0c"), { P("") }, MILTER_S_MAIL, 0, 0, "E",
	  NULL },
	{ "4 GB", P("\xff\xff\xff\xff""c"), { P("") }, MILTER_S_MAIL, 0, 0,
	  "E", NULL },
	{ "just over the limit", P("\0\0\x03\xea""c"), { P("") },
	  MILTER_S_EOM, 0, 0, "E", NULL },
	{ "unknown reply", NORAW, { P("Z") }, MILTER_S_MAIL, 0, 0, "X", NULL },
	{ "replycode", NORAW, { P("y550 5.7.1 go away\0") }, MILTER_S_MAIL,
	  0, 0, "y", "550 5.7.1 go away\r\n" },
	{ "replycode no ecode", NORAW, { P("y451 slow down\0") },
	  MILTER_S_RCPT, 0, 0, "y", "451 4.7.1 slow down\r\n" },
	{ "replycode bare", NORAW, { P("y554\0") }, MILTER_S_DATA, 0, 0, "y",
	  "554 5.7.1\r\n" },
	{ "replycode multi", NORAW, { P("y550-5.7.0 first\r\n550-second\r\n"
	  "550 third\0") }, MILTER_S_EOM, 0, 0, "y",
	  "550-5.7.0 first\r\n550-5.7.0 second\r\n550 5.7.0 third\r\n" },
	/* "%%" is libmilter's '%' (Postfix undoes it alike), a lone '%' goes */
	{ "replycode percent", NORAW, { P("y550 5.7.1 100%% sure, 50% off%\0") },
	  MILTER_S_MAIL, 0, 0, "y", "550 5.7.1 100% sure, 50 off\r\n" },
	{ "replycode tab", NORAW, { P("y451 4.7.1 a\tb\0") }, MILTER_S_MAIL,
	  0, 0, "y", "451 4.7.1 a\tb\r\n" },
	{ "replycode 2xx", NORAW, { P("y250 fine\0") }, MILTER_S_MAIL, 0, 0,
	  "X", NULL },
	{ "replycode class", NORAW, { P("y550 4.7.1 text\0") },
	  MILTER_S_MAIL, 0, 0, "X", NULL },
	{ "replycode codes differ", NORAW, { P("y550-a\r\n551 b\0") },
	  MILTER_S_MAIL, 0, 0, "X", NULL },
	{ "replycode no NUL", NORAW, { P("y550 text") }, MILTER_S_MAIL, 0, 0,
	  "X", NULL },
	{ "replycode NUL inside", NORAW, { P("y550 te\0t\0") }, MILTER_S_MAIL,
	  0, 0, "X", NULL },
	{ "replycode control", NORAW, { P("y550 t\x01xt\0") }, MILTER_S_MAIL,
	  0, 0, "X", NULL },
	{ "replycode last dash", NORAW, { P("y550-text\0") }, MILTER_S_MAIL,
	  0, 0, "X", NULL },
	{ "replycode bare LF", NORAW, { P("y550-a\n550 b\0") }, MILTER_S_MAIL,
	  0, 0, "X", NULL },
	{ "addheader", NORAW, { P("hX-Spam\0yes\0") }, MILTER_S_EOM, ALL_A, 0,
	  "h", "X-Spam=yes" },
	{ "addheader folded", NORAW, { P("hX-Spam\0a\r\n\tb\0"), P("c") },
	  MILTER_S_EOM, ALL_A, 0, "hc", NULL },
	{ "addheader bad fold", NORAW, { P("hX-Spam\0a\r\nb\0") },
	  MILTER_S_EOM, ALL_A, 0, "X", NULL },
	{ "addheader bad name", NORAW, { P("hX:Spam\0yes\0") }, MILTER_S_EOM,
	  ALL_A, 0, "X", NULL },
	{ "addheader not negotiated", NORAW, { P("hX-Spam\0yes\0") },
	  MILTER_S_EOM, MILTER_A_CHGHDRS, 0, "X", NULL },
	{ "addheader before eom", NORAW, { P("hX-Spam\0yes\0") },
	  MILTER_S_BODY, ALL_A, 0, "X", NULL },
	{ "addheader trailing", NORAW, { P("hX-Spam\0yes\0x") }, MILTER_S_EOM,
	  ALL_A, 0, "X", NULL },
	{ "insheader", NORAW, { P("i\0\0\0\2X-A\0v\0") }, MILTER_S_EOM,
	  MILTER_A_ADDHDRS, 0, "i", "2:X-A=v" },
	{ "chgheader delete", NORAW, { P("m\0\0\0\1Subject\0\0") },
	  MILTER_S_EOM, MILTER_A_CHGHDRS, 0, "m", "1:Subject=" },
	{ "chgheader short", NORAW, { P("m\0\0") }, MILTER_S_EOM,
	  MILTER_A_CHGHDRS, 0, "X", NULL },
	{ "chgfrom args", NORAW, { P("e<n@x.example>\0SIZE=10\0") },
	  MILTER_S_EOM, MILTER_A_CHGFROM, 0, "e", "<n@x.example>|SIZE=10" },
	{ "chgfrom plain", NORAW, { P("e<n@x.example>\0") }, MILTER_S_EOM,
	  MILTER_A_CHGFROM, 0, "e", "<n@x.example>|" },
	{ "addrcpt", NORAW, { P("+<r@x.example>\0") }, MILTER_S_EOM,
	  MILTER_A_ADDRCPT, 0, "+", "<r@x.example>|" },
	{ "addrcpt args refused", NORAW, { P("+<r@x.example>\0A\0") },
	  MILTER_S_EOM, MILTER_A_ADDRCPT, 0, "X", NULL },
	{ "addrcpt_par", NORAW, { P("2<r@x.example>\0NOTIFY=NEVER\0") },
	  MILTER_S_EOM, MILTER_A_ADDRCPT_PAR, 0, "2",
	  "<r@x.example>|NOTIFY=NEVER" },
	{ "addrcpt blank", NORAW, { P("+<r@x example>\0") }, MILTER_S_EOM,
	  MILTER_A_ADDRCPT, 0, "X", NULL },
	{ "delrcpt", NORAW, { P("-<r@x.example>\0") }, MILTER_S_EOM,
	  MILTER_A_DELRCPT, 0, "-", "<r@x.example>|" },
	{ "delrcpt not negotiated", NORAW, { P("-<r@x.example>\0") },
	  MILTER_S_EOM, MILTER_A_ADDRCPT, 0, "X", NULL },
	{ "replbody", NORAW, { P("bhello"), P("b") }, MILTER_S_EOM,
	  MILTER_A_CHGBODY, 0, "bb", "" },
	{ "progress at eom", NORAW, { P("p"), P("a") }, MILTER_S_EOM, 0, 0,
	  "pa", NULL },
	/* PROGRESS wherever a reply is awaited, as Postfix takes it */
	{ "progress at rcpt", NORAW, { P("p"), P("c") }, MILTER_S_RCPT, 0, 0,
	  "pc", NULL },
	{ "progress at header", NORAW, { P("p"), P("p"), P("r") },
	  MILTER_S_HEADER, 0, 0, "ppr", NULL },
	{ "progress with data", NORAW, { P("px") }, MILTER_S_BODY, 0, 0, "X",
	  NULL },
	{ "progress at optneg", NORAW, { P("p") }, MILTER_S_OPTNEG, ALL_A,
	  ALL_P, "X", NULL },
	{ "quarantine", NORAW, { P("qvirus\0") }, MILTER_S_EOM,
	  MILTER_A_QUARANTINE, 0, "q", "virus" },
	{ "quarantine not negotiated", NORAW, { P("qvirus\0") }, MILTER_S_EOM,
	  ALL_A & ~MILTER_A_QUARANTINE, 0, "X", NULL },
	{ "skip", NORAW, { P("s") }, MILTER_S_BODY, 0, MILTER_P_SKIP, "s",
	  NULL },
	{ "skip not negotiated", NORAW, { P("s") }, MILTER_S_BODY, 0, 0, "X",
	  NULL },
	{ "skip at eom", NORAW, { P("s") }, MILTER_S_EOM, 0, MILTER_P_SKIP,
	  "X", NULL },
	{ "optneg", NORAW, { P("O\0\0\0\6\0\0\0\x31\0\0\0\x80") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "O", "6 31 80" },
	{ "optneg macros", NORAW, { P("O\0\0\0\6\0\0\0\0\0\0\0\0"
	  "\0\0\0\0j {client_addr}\0\0\0\0\2{mail_addr}\0") }, MILTER_S_OPTNEG,
	  ALL_A, ALL_P, "O", "6 0 0 0=j {client_addr} 2={mail_addr}" },
	/* as Debian 12's opendkim, rspamd and clamav-milter answer
	   popgate's offer (recorded with the filters of the black-box
	   tests) */
	{ "optneg opendkim", NORAW,
	  { P("O\0\0\0\6\0\0\x01\x11\0\x10\x07\x02") }, MILTER_S_OPTNEG,
	  ALL_A, ALL_P, "O", "6 111 100702" },
	{ "optneg rspamd", NORAW,
	  { P("O\0\0\0\6\0\0\x01\xff\0\x0f\xf0\x80") }, MILTER_S_OPTNEG,
	  ALL_A, ALL_P, "O", "6 1ff ff080" },
	{ "optneg clamav-milter", NORAW,
	  { P("O\0\0\0\6\0\0\0\x31\0\0\x03\x42") }, MILTER_S_OPTNEG,
	  ALL_A, ALL_P, "O", "6 31 342" },
	/* opendkim's signature: index 0 (the top), folded with bare LF */
	{ "insheader opendkim", NORAW, { P("i\0\0\0\0DKIM-Signature\0"
	  " v=1; a=rsa-sha256;\n\tb=abc\0") }, MILTER_S_EOM, 0x111, 0, "i",
	  "0:DKIM-Signature= v=1; a=rsa-sha256;\n\tb=abc" },
	{ "optneg stage repeated", NORAW, { P("O\0\0\0\6\0\0\0\0\0\0\0\0"
	  "\0\0\0\0j\0\0\0\0\0i\0") }, MILTER_S_OPTNEG, ALL_A, ALL_P, "X",
	  NULL },
	{ "optneg stage bad", NORAW, { P("O\0\0\0\6\0\0\0\0\0\0\0\0"
	  "\0\0\0\7j\0") }, MILTER_S_OPTNEG, ALL_A, ALL_P, "X", NULL },
	{ "optneg short", NORAW, { P("O\0\0\0\6\0\0\0\0") }, MILTER_S_OPTNEG,
	  ALL_A, ALL_P, "X", NULL },
	{ "optneg version 1", NORAW, { P("O\0\0\0\1\0\0\0\0\0\0\0\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "X", NULL },
	{ "optneg more actions", NORAW, { P("O\0\0\0\6\0\0\x02\0\0\0\0\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "X", NULL },
	{ "optneg rcpt_rej", NORAW, { P("O\0\0\0\6\0\0\0\0\0\0\x08\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "X", NULL },
	/* no MTA takes SETSYMLIST as a packet of its own: the lists come
	   in the OPTNEG reply */
	{ "setsymlist", NORAW, { P("l\0\0\0\3{rcpt_addr}\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "X", NULL },
	{ "setsymlist at eom", NORAW, { P("l\0\0\0\3{rcpt_addr}\0") },
	  MILTER_S_EOM, ALL_A, ALL_P, "X", NULL },
	/* an older filter: the steps it does not know are not sent */
	{ "optneg version 2", NORAW, { P("O\0\0\0\2\0\0\0\1\0\0\0\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "O", "2 1 300" },
	{ "optneg version 3", NORAW, { P("O\0\0\0\3\0\0\0\0\0\0\0\x10") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "O", "3 0 210" },
	{ "optneg version 4", NORAW, { P("O\0\0\0\4\0\0\0\0\0\0\0\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "O", "4 0 0" },
	{ "optneg version 7", NORAW, { P("O\0\0\0\7\0\0\0\0\0\0\0\0") },
	  MILTER_S_OPTNEG, ALL_A, ALL_P, "X", NULL },
	{ "optneg fewer than offered", NORAW,
	  { P("O\0\0\0\6\0\0\0\x01\0\0\x04\0") }, MILTER_S_OPTNEG,
	  MILTER_A_ADDHDRS | MILTER_A_CHGBODY, MILTER_P_SKIP | MILTER_P_NOBODY,
	  "O", "6 1 400" },
	{ "optneg more than a narrow offer", NORAW,
	  { P("O\0\0\0\6\0\0\0\x04\0\0\0\0") }, MILTER_S_OPTNEG,
	  MILTER_A_ADDHDRS, ALL_P, "X", NULL },
	{ "continue at optneg", NORAW, { P("c") }, MILTER_S_OPTNEG, ALL_A,
	  ALL_P, "X", NULL },
	{ "incomplete packet", P("\0\0\0\1c\0\0\0"), { P("") },
	  MILTER_S_HEADER, 0, 0, "c", NULL },
};

/* The stream of a case, malloc'ed. */
static char *
case_stream(const struct rd_case *tc, size_t *len_r)
{
	char *p;
	size_t n = 0, i;

	if (tc->raw.s != NULL) {
		p = malloc(tc->raw.n);
		assert_non_null(p);
		memcpy(p, tc->raw.s, tc->raw.n);
		*len_r = tc->raw.n;
		return p;
	}
	for (i = 0; i < nitems(tc->pk); i++)
		n += tc->pk[i].s ? tc->pk[i].n + 4 : 0;
	p = malloc(n);
	assert_non_null(p);
	for (n = 0, i = 0; i < nitems(tc->pk) && tc->pk[i].s; i++) {
		p[n] = (char)(tc->pk[i].n >> 24);
		p[n + 1] = (char)(tc->pk[i].n >> 16);
		p[n + 2] = (char)(tc->pk[i].n >> 8);
		p[n + 3] = (char)tc->pk[i].n;
		memcpy(p + n + 4, tc->pk[i].s, tc->pk[i].n);
		n += tc->pk[i].n + 4;
	}
	*len_r = n;
	return p;
}

static void
detail(const struct milter_reply *r, struct buf *d)
{
	size_t i;

	switch (r->cmd) {
	case MILTER_R_REPLYCODE:
		assert_int_equal(milter_reply_smtp(r, d), 0);
		break;
	case MILTER_R_ADDHEADER:
		(void)buf_printf(d, "%s=%s", r->name, r->value);
		break;
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		(void)buf_printf(d, "%u:%s=%s", (unsigned)r->index, r->name,
		    r->value);
		break;
	case MILTER_R_CHGFROM:
	case MILTER_R_ADDRCPT:
	case MILTER_R_ADDRCPT_PAR:
	case MILTER_R_DELRCPT:
		(void)buf_printf(d, "%s|%s", r->addr, r->args ? r->args : "");
		break;
	case MILTER_R_QUARANTINE:
		(void)buf_append_str(d, r->value);
		break;
	case MILTER_R_OPTNEG:
		(void)buf_printf(d, "%u %x %x", (unsigned)r->version,
		    (unsigned)r->actions, (unsigned)r->protocol);
		for (i = 0; i < MILTER_M_NSTAGES; i++)
			if (r->macros[i] != NULL)
				(void)buf_printf(d, " %zu=%s", i, r->macros[i]);
		break;
	case MILTER_R_REPLBODY:
		(void)buf_append(d, r->body, r->bodylen);
		break;
	default:
		break;
	}
}

/* Runs a case with pieces of PIECE octets into GOT and D. */
static void
run_case(const struct rd_case *tc, const char *in, size_t inlen,
    size_t piece, struct buf *got, struct buf *d)
{
	struct milter_reader rd;
	struct milter_reply r;
	const char *err;
	size_t i = 0, k, used;
	int rc;

	milter_reader_init(&rd, 1000);
	while (i < inlen) {
		k = inlen - i < piece ? inlen - i : piece;
		rc = milter_reader_feed(&rd, in + i, k, &used, &err);
		if (rc == -1) {
			(void)buf_putc(got, 'E');
			break;
		}
		i += used;
		if (rc == 0)
			continue;
		buf_reset(d);
		if (milter_reply_parse(&rd, tc->stage, tc->actions,
		    tc->protocol, &r, &err) == -1) {
			(void)buf_putc(got, 'X');
			continue;
		}
		(void)buf_putc(got, (char)r.cmd);
		detail(&r, d);
	}
	milter_reader_free(&rd);
}

static void
test_reader(void **state)
{
	const struct rd_case *tc = *state;
	struct buf got, d;
	size_t piece, inlen;
	char *in = case_stream(tc, &inlen);

	for (piece = 1; piece <= inlen; piece = piece < 3 ? piece + 1 :
	    inlen) {
		buf_init(&got, BUF_UNLIMITED);
		buf_init(&d, BUF_UNLIMITED);
		run_case(tc, in, inlen, piece, &got, &d);
		assert_string_equal(buf_cstr(&got), tc->want);
		if (tc->detail != NULL)
			assert_string_equal(buf_cstr(&d), tc->detail);
		buf_free(&got);
		buf_free(&d);
		if (piece == inlen)
			break;
	}
	free(in);
}

/* Runs one REPLYCODE packet of TEXT at MAIL into *OUT (SMTP form);
   -1 when the reply is refused. */
static int
replycode_smtp(const char *text, struct buf *out)
{
	struct milter_reader rd;
	struct milter_reply r;
	struct buf in;
	const char *err;
	size_t used;
	int rc;

	buf_init(&in, BUF_UNLIMITED);
	assert_int_equal(buf_printf(&in, "%c%c%c%cy%s", 0, 0,
	    (int)((strlen(text) + 2) >> 8), (int)((strlen(text) + 2) & 0xff),
	    text), 0);
	assert_int_equal(buf_putc(&in, '\0'), 0);
	milter_reader_init(&rd, 0);
	assert_int_equal(milter_reader_feed(&rd, in.data, in.len, &used,
	    &err), 1);
	rc = milter_reply_parse(&rd, MILTER_S_MAIL, 0, 0, &r, &err);
	if (rc == 0)
		assert_int_equal(milter_reply_smtp(&r, out), 0);
	milter_reader_free(&rd);
	buf_free(&in);
	return rc;
}

/* Checks that OUT is SMTP lines of at most 512 octets, all "550-5.7.1 "
   but the last "550 5.7.1 ", and that their texts joined by JOIN give
   WANT. */
static void
want_split(const struct buf *out, const char *want, const char *join)
{
	struct buf texts;
	const char *s = buf_cstr(out), *eol;
	size_t nlines = 0;

	buf_init(&texts, BUF_UNLIMITED);
	for (; *s != '\0'; s = eol + 2) {
		eol = strstr(s, "\r\n");
		assert_non_null(eol);
		assert_true(eol - s <= 510);
		assert_memory_equal(s, eol[2] == '\0' ? "550 5.7.1 " :
		    "550-5.7.1 ", 10);
		if (nlines++ > 0)
			(void)buf_append_str(&texts, join);
		(void)buf_append(&texts, s + 10, (size_t)(eol - s) - 10);
	}
	assert_true(nlines > 1);
	assert_string_equal(buf_cstr(&texts), want);
	buf_free(&texts);
}

/* A filter's reply line longer than an SMTP line (libmilter allows 980
   octets of text) is taken and made into more SMTP lines, broken at
   blanks where there are some; over 1000 octets it is refused. */
static void
test_replycode_long(void **state)
{
	struct buf text, full, out;
	size_t i;

	(void)state;
	buf_init(&text, BUF_UNLIMITED);
	buf_init(&full, BUF_UNLIMITED);
	buf_init(&out, BUF_UNLIMITED);
	for (i = 0; i < 97; i++)
		(void)buf_printf(&text, "%sword%04zu", i ? " " : "", i);
	assert_int_equal(text.len, 97 * 9 - 1);
	(void)buf_printf(&full, "550 5.7.1 %s", buf_cstr(&text));
	assert_int_equal(replycode_smtp(buf_cstr(&full), &out), 0);
	want_split(&out, buf_cstr(&text), " ");
	/* no blank: broken anywhere, nothing lost */
	buf_reset(&text);
	buf_reset(&full);
	buf_reset(&out);
	for (i = 0; i < 700; i++)
		(void)buf_putc(&text, (char)('a' + i % 26));
	(void)buf_printf(&full, "550 5.7.1 %s", buf_cstr(&text));
	assert_int_equal(replycode_smtp(buf_cstr(&full), &out), 0);
	want_split(&out, buf_cstr(&text), "");
	/* 1001 octets in the line */
	while (full.len < 1001)
		(void)buf_putc(&full, 'z');
	buf_reset(&out);
	assert_int_equal(replycode_smtp(buf_cstr(&full), &out), -1);
	buf_free(&text);
	buf_free(&full);
	buf_free(&out);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(milter_stage_name(MILTER_S_EOM), "eom");
	assert_string_equal(milter_rep_name('y'), "replycode");
	assert_string_equal(milter_rep_name('Z'), "?");
}

int
main(void)
{
	size_t i;

	add_test("enc_simple", test_enc_simple, NULL);
	add_test("enc_connect", test_enc_connect, NULL);
	add_test("enc_macros", test_enc_macros, NULL);
	add_test("enc_body_chunks", test_enc_body_chunks, NULL);
	add_test("names", test_names, NULL);
	add_test("replycode_long", test_replycode_long, NULL);
	for (i = 0; i < nitems(rd_cases); i++)
		add_test(rd_cases[i].name, test_reader, &rd_cases[i]);
	return _cmocka_run_group_tests("milter_proto", tests, ntests, NULL,
	    NULL);
}
