/*
 * test_mauth.c - the parsers of inbound mail authentication (src/mauth/):
 * tag lists (RFC 6376 3.2), the canonical body's hashes of the edge
 * cases (3.4.3, 3.4.4), DMARC records (RFC 7489 6.3), organizational
 * domains through the Public Suffix List, authserv-ids (RFC 8601 2.2)
 * and the From: domain (RFC 7489 6.6.1). Signatures are checked against
 * python3-dkim in tests/blackbox/test_mauth.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/dkim.h"
#include "mauth/mauth.h"
#include "util/base64.h"

static void
test_tags(void **state)
{
	static const char ok[] = " v=1; a=rsa-sha256;\r\n\th=from :\r\n to;"
	    " p=; ";
	struct mauth_tags t;
	const struct mauth_tag *h;
	struct buf b;
	const char *err;

	(void)state;
	assert_int_equal(mauth_tags_parse(ok, strlen(ok), &t, &err), 0);
	assert_int_equal(t.n, 4);
	assert_non_null(h = mauth_tag(&t, "h"));
	buf_init(&b, BUF_UNLIMITED);
	mauth_tag_compact(h, &b);
	assert_string_equal(buf_cstr(&b), "from:to");
	buf_free(&b);
	assert_int_equal(mauth_tag(&t, "p")->vlen, 0);
	assert_null(mauth_tag(&t, "V"));	/* names are case-sensitive */
	assert_int_equal(mauth_tags_parse("a=1; a=2", 8, &t, &err), -1);
	assert_string_equal(err, "a tag appears twice");
	assert_int_equal(mauth_tags_parse("1a=b", 4, &t, &err), -1);
	assert_int_equal(mauth_tags_parse("a=b;;c=d", 8, &t, &err), -1);
	assert_int_equal(mauth_tags_parse("a", 1, &t, &err), -1);
	assert_int_equal(mauth_tags_parse("", 0, &t, &err), 0);
	assert_int_equal(t.n, 0);
}

static void
body_hash(bool relaxed, const char *body, const char *want)
{
	struct dkim_body *b = dkim_body_new(relaxed, UINT64_MAX);
	unsigned char md[DKIM_HASH_LEN];
	struct buf out;

	dkim_body_feed(b, body, strlen(body));
	dkim_body_final(b, md, NULL);
	dkim_body_free(&b);
	buf_init(&out, BUF_UNLIMITED);
	assert_int_equal(base64_encode(md, sizeof(md), &out), 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void
test_bodies(void **state)
{
	(void)state;
	/* RFC 6376 3.4.3: simple's empty body is one CRLF; 3.4.4 relaxed's
	   is nothing (the hashes everyone checks against). */
	body_hash(false, "", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	body_hash(false, "\n\n\n", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	body_hash(true, "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	body_hash(true, " \r\n\t\r\n",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* "a \t b \r\n\r\n" relaxed is "a b\r\n"; LF alone counts as CRLF */
	body_hash(true, "a \t b \n\n", "SuEZjyiTjUp1XHpGpmLw9XKayjy3FMrk431guExO6cw=");
	body_hash(true, "a b\r\n", "SuEZjyiTjUp1XHpGpmLw9XKayjy3FMrk431guExO6cw=");
}

static void
test_length_limit(void **state)
{
	struct dkim_body *b = dkim_body_new(false, 3);
	unsigned char md[DKIM_HASH_LEN], want[DKIM_HASH_LEN];
	struct dkim_body *w = dkim_body_new(false, UINT64_MAX);
	uint64_t len;

	(void)state;
	dkim_body_feed(b, "abcdef\n", 7);
	dkim_body_final(b, md, &len);
	assert_int_equal(len, 8);	/* "abcdef\r\n": all of it counted */
	/* the first 3 octets hashed: as simple's hash of "abc" unended,
	   which is "abc\r\n": so compare with a raw SHA-256 instead */
	dkim_body_feed(w, "abc", 3);
	dkim_body_final(w, want, NULL);
	assert_memory_not_equal(md, want, DKIM_HASH_LEN);
	dkim_body_free(&b);
	dkim_body_free(&w);
}

static void
test_dmarc_records(void **state)
{
	struct dmarc_record d;
	const char *err;
	const char *r1 = "v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=20";


	(void)state;
	assert_int_equal(dmarc_record_parse(r1, strlen(r1), &d, &err), 0);
	assert_int_equal(d.p, DMARC_P_REJECT);
	assert_int_equal(d.sp, DMARC_P_QUARANTINE);
	assert_true(d.adkim_strict);
	assert_false(d.aspf_strict);
	assert_int_equal(d.pct, 20);
	/* sp= defaults to p= */
	assert_int_equal(dmarc_record_parse("v=DMARC1;p=quarantine", 21, &d,
	    &err), 0);
	assert_int_equal(d.sp, DMARC_P_QUARANTINE);
	assert_int_equal(d.pct, 100);
	/* 6.6.3: a bad p= with the rest sound is p=none */
	r1 = "v=DMARC1; p=maybe; rua=mailto:a@b";
	assert_int_equal(dmarc_record_parse(r1, strlen(r1), &d, &err), 0);
	assert_int_equal(d.p, DMARC_P_NONE);
	assert_int_equal(dmarc_record_parse("p=reject; v=DMARC1", 18, &d,
	    &err), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC2; p=reject", 18, &d,
	    &err), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC1; adkim=x", 17, &d,
	    &err), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC1; pct=1x", 16, &d,
	    &err), -1);
}

static void
org(const char *domain, const char *want)
{
	char out[256];

	dmarc_org_domain(domain, out, sizeof(out));
	assert_string_equal(out, want);
}

static void
test_org_domains(void **state)
{
	(void)state;
	org("mail.example.com", "example.com");
	org("example.com", "example.com");
	org("a.b.Example.CO.UK", "example.co.uk");
	org("co.uk", "co.uk");		/* a public suffix is its own */
	org("x.y.blogspot.com", "y.blogspot.com");	/* private part */
	assert_true(dmarc_aligned("mail.example.com", "example.com", false));
	assert_false(dmarc_aligned("mail.example.com", "example.com", true));
	assert_false(dmarc_aligned("a.co.uk", "b.co.uk", false));
	assert_true(dmarc_aligned("EXAMPLE.com", "example.COM", true));
}

static void
test_authserv(void **state)
{
	char id[64];
	const char *a = " (from the list) mx.example.net;\n\tspf=pass";
	const char *q = "\"mx.example.net\" 1; none";

	(void)state;
	assert_int_equal(mauth_ar_authserv(a, strlen(a), id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.net");
	assert_int_equal(mauth_ar_authserv(q, strlen(q), id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.net");
	assert_int_equal(mauth_ar_authserv(" (open", 6, id, sizeof(id)), -1);
	/* a control character in a quoted id (fuzz_mauth: a NUL made an
	   empty id) */
	assert_int_equal(mauth_ar_authserv("\"a\0b\"; x", 8, id, sizeof(id)),
	    -1);
	assert_int_equal(mauth_ar_authserv(" ; spf=pass", 11, id,
	    sizeof(id)), -1);
}

static int
from_of(const char *msg, char *out)
{
	struct mauth_msg *m = mauth_msg_new("mx.example.net");
	int r;

	mauth_msg_feed(m, msg, strlen(msg));
	mauth_msg_end(m);
	r = mauth_from_domain(m, out, 256);
	mauth_msg_free(&m);
	return r;
}

static void
test_from(void **state)
{
	char d[256];

	(void)state;
	assert_int_equal(from_of("From: A <a@Mail.Example.ORG>\nTo: b@c\n\nx\n",
	    d), 1);
	assert_string_equal(d, "mail.example.org");
	assert_int_equal(from_of("From: a@x.example\nFrom: b@y.example\n\n",
	    d), -1);
	assert_int_equal(from_of("From: a@x.example, b@y.example\n\n", d), -1);
	assert_int_equal(from_of("To: a@x.example\n\n", d), 0);
	assert_int_equal(from_of("From: =?utf-8?q?A?= <a@x.example>\r\n\r\n",
	    d), 1);
	assert_string_equal(d, "x.example");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_dmarc_records),
		cmocka_unit_test(test_org_domains),
		cmocka_unit_test(test_authserv),
		cmocka_unit_test(test_from),
	};

	return cmocka_run_group_tests_name("mauth", tests, NULL, NULL);
}
