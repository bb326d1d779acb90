/*
 * fuzz_spf.c - SPF records (spf_record_parse, spf_record_check) and
 * macro-strings (spf_macro_check, spf_macro_expand).
 *
 * The first byte picks what the rest is: even, a record; odd, a
 * macro-string, expanded as exp text (bit 1) or as a name, for an IPv6
 * client (bit 2) or an IPv4 one; a newline in it starts the sender
 * (also the HELO name and the domain) that the macros expand. What the
 * checker accepts must expand.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mauth/mauth.h"
#include "mauth/spf_int.h"

static void
record(const char *s, size_t len)
{
	struct spf_record rec;
	char err[256];
	size_t i;
	int r;

	r = spf_record_parse(s, len, &rec, err, sizeof(err));
	if (r != spf_record_check(s, len, err, sizeof(err)))
		abort();
	if (r == -1) {
		if (rec.nterms != 0 || rec.terms != NULL || err[0] == '\0')
			abort();
		return;
	}
	for (i = 0; i < rec.nterms; i++) {
		const struct spf_term *t = &rec.terms[i];

		if (t->text < s || t->text + t->textlen > s + len)
			abort();
		if (t->spec != NULL && (t->spec < t->text ||
		    t->spec + t->speclen > t->text + t->textlen ||
		    spf_macro_check(t->spec, t->speclen, false, err,
		    sizeof(err)) == -1))
			abort();
		if (t->cidr4 > 32 || t->cidr6 > 128)
			abort();
	}
	spf_record_free(&rec);
}

static void
macro(const char *s, size_t len, unsigned mode)
{
	static char out[70000];
	struct spf_macro_env env;
	struct netaddr ip;
	char err[256], *nl;
	bool exp = (mode & 2) != 0;
	int ok;

	memset(&ip, 0, sizeof(ip));
	if (mode & 4) {
		ip.family = AF_INET6;
		(void)inet_pton(AF_INET6, "2001:db8::cb01", ip.a);
	} else {
		ip.family = AF_INET;
		(void)inet_pton(AF_INET, "192.0.2.3", ip.a);
	}
	env.sender = "strong-bad@email.example.com";
	env.domain = "email.example.com";
	env.helo = "mx.example.org";
	if ((nl = memchr(s, '\n', len)) != NULL) {
		*nl = '\0';	/* the caller's copy has room for the NUL */
		env.sender = env.domain = env.helo = nl + 1;
		len = (size_t)(nl - s);
	}
	env.ip = &ip;
	env.receiver = (mode & 8) ? NULL : "mx.example.net";
	env.ptr = (mode & 16) ? NULL : "mx.example.org";
	env.now = 1800000000;
	ok = spf_macro_check(s, len, exp, err, sizeof(err));
	if (spf_macro_expand(s, len, &env, exp, out, exp ? sizeof(out) : 256,
	    err, sizeof(err)) == 0) {
		if (ok == -1 || strlen(out) >= (exp ? sizeof(out) : 256))
			abort();
	} else if (ok == 0 && exp && len < 64) {
		abort();	/* a short text always fits */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s;

	if (len == 0 || len > 16384)
		return 0;
	s = malloc(len);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	if ((data[0] & 1) == 0)
		record(s, len - 1);
	else
		macro(s, len - 1, data[0]);
	free(s);
	return 0;
}
