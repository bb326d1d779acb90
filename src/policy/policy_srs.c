/*
 * policy_srs.c - which mail has its envelope sender rewritten by the
 * Sender Rewriting Scheme (core/srs.h), which addresses are ours to take
 * back, and the secrets, from the account store (SPEC 10).
 *
 * Rewritten: the sender of a message that leaves for remote recipients
 * (an alias forwarding outside, and a trusted network relaying a foreign
 * sender), when the sender is not <> and its domain is neither hosted
 * here (the customer's SPF record includes us: its mail passes as it
 * is) nor the SRS domain (already ours), as postsrsd with Postfix does.
 * The copies for hosted mailboxes keep the original sender; so does
 * the queue file, which holds the rewritten one beside it for the SMTP
 * client (queue.h, srs_sender), so a bounce or delay notice of our own
 * goes straight to the original sender.
 *
 * Ours: an SRS0 or SRS1 local part at srs_domain. The secret that signs
 * and the one before a rotation are read from the store at each use, so
 * a rotation on one host is seen by all at once; the first is made on
 * first need by whichever host needs it first.
 */
#include <openssl/rand.h>

#include "policy/policy_int.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/compat.h"

bool
policy_srs_is_ours(const struct config *cfg, const struct mailaddr *a)
{
	return cfg->srs && !a->quoted &&
	    strcasecmp(a->domain, cfg->srs_domain) == 0 &&
	    srs_is_srs(a->local, strlen(a->local));
}

int
policy_srs_make_secret(char *out, size_t outsz)
{
	unsigned char rnd[24];
	struct buf b;
	int r = -1;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	buf_init(&b, STORE_SRS_SECRET_MAX);
	if (base64_encode(rnd, sizeof(rnd), &b) == 0 &&
	    str_copy(out, buf_cstr(&b), outsz) == 0)
		r = 0;
	explicit_bzero(rnd, sizeof(rnd));
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return r;
}

int
policy_srs_secrets(struct store *s, bool make, struct store_srs_secrets *sec,
    const char **error_r)
{
	char secret[STORE_SRS_SECRET_MAX + 1];
	int r;

	if ((r = store_srs_get(s, sec, error_r)) != 0 || !make)
		return r;
	if (policy_srs_make_secret(secret, sizeof(secret)) == -1) {
		*error_r = "no random octets for the SRS secret";
		return -1;
	}
	r = store_srs_init(s, secret, (int64_t)time(NULL), error_r);
	explicit_bzero(secret, sizeof(secret));
	if (r != 0)
		return -1;
	return store_srs_get(s, sec, error_r);
}

/* Whether DOMAIN is hosted here: 1, 0, -1. */
static int
hosted(struct store *s, const char *domain, const char **error_r)
{
	struct store_domain d;

	return store_domain_find(s, domain, &d, error_r);
}

int
policy_srs_forward(struct backends *b, const char *sender, time_t now,
    char out[ADDR_BUFSZ], const char **why_r, const char **error_r)
{
	struct store_srs_secrets sec;
	struct mailaddr a;
	struct store *s;
	const char *domain = addr_domain_of(sender), *err;
	enum srs_status st;
	int r;

	out[0] = '\0';
	*why_r = NULL;
	if (!b->cfg->srs || *sender == '\0' ||
	    strcasecmp(domain, b->cfg->srs_domain) == 0)
		return 0;
	if ((s = backends_store(b, error_r)) == NULL ||
	    (r = hosted(s, domain, error_r)) == -1)
		return -1;
	if (r == 1)
		return 0;
	if (policy_srs_secrets(s, true, &sec, error_r) != 1)
		return -1;
	st = srs_forward(sender, b->cfg->srs_domain, sec.current, now, out,
	    ADDR_BUFSZ);
	explicit_bzero(&sec, sizeof(sec));
	/* A quoted local part or an address literal make no dot-atom:
	   the sender goes as it is. */
	if (st == SRS_OK && addr_parse(out, strlen(out), ADDR_F_UTF8, &a,
	    &err) == -1)
		st = SRS_MALFORMED;
	if (st != SRS_OK) {
		*why_r = srs_status_text(st);
		out[0] = '\0';
		return 0;
	}
	return 1;
}

int
policy_srs_reverse(struct backends *b, const struct mailaddr *a, time_t now,
    char out[ADDR_BUFSZ], struct addr_canon *orig, enum srs_status *st_r,
    const char **error_r)
{
	struct store_srs_secrets sec;
	const char *secrets[2], *err;
	struct store *s;
	size_t n = 0;
	int r;

	if ((s = backends_store(b, error_r)) == NULL ||
	    (r = policy_srs_secrets(s, false, &sec, error_r)) == -1)
		return -1;
	if (r == 1)
		secrets[n++] = sec.current;
	if (sec.previous[0] != '\0')
		secrets[n++] = sec.previous;
	*st_r = srs_reverse(a->local, strlen(a->local), secrets, n, now,
	    (unsigned)(b->cfg->srs_max_age / SRS_DAY), out, ADDR_BUFSZ, NULL);
	explicit_bzero(&sec, sizeof(sec));
	if (*st_r != SRS_OK)
		return 0;
	/* What it decodes to must be an address, and not one of ours
	   again (a loop). */
	if (addr_canon_parse(out, strlen(out), ADDR_F_UTF8, orig, &err) == -1 ||
	    policy_srs_is_ours(b->cfg, &orig->a)) {
		*st_r = SRS_MALFORMED;
		out[0] = '\0';
		return 0;
	}
	str_lower(strrchr(out, '@') + 1);
	return 1;
}
