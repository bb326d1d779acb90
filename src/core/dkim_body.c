/*
 * dkim_body.c - the canonical body of RFC 6376 section 3.4.3 (simple)
 * and 3.4.4 (relaxed), hashed with SHA-256 as it streams in (LF or CRLF
 * line ends, any piece size), up to a length (l=, section 3.5).
 *
 * Empty lines are held back until a line with content follows, so those
 * at the end are never hashed; relaxed also folds runs of blanks into
 * one space and drops blanks at line ends. The simple form of an empty
 * body is one CRLF, the relaxed one nothing.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/dkim.h"
#include "util/log.h"
#include "util/xalloc.h"

#define OUT_CHUNK	8192

struct dkim_body {
	bool		 relaxed;
	uint64_t	 limit;		/* octets hashed at most */
	uint64_t	 count;		/* canonical octets (all of them) */
	EVP_MD_CTX	*md;
	unsigned char	 out[OUT_CHUNK];
	size_t		 nout;
	size_t		 empty;		/* empty lines held back */
	bool		 content;	/* the line has content */
	bool		 wsp;		/* relaxed: blanks since content */
	bool		 cr;		/* a CR that may end the line */
	bool		 done;
};

static void
flush(struct dkim_body *b)
{
	if (b->nout > 0 && EVP_DigestUpdate(b->md, b->out, b->nout) != 1)
		PANIC("EVP_DigestUpdate failed");
	b->nout = 0;
}

static void
put(struct dkim_body *b, const char *p, size_t n)
{
	uint64_t room = b->count < b->limit ? b->limit - b->count : 0;
	size_t take = n < room ? n : (size_t)room;

	b->count += n;
	if (take == 0)
		return;
	if (b->nout + take > sizeof(b->out))
		flush(b);
	memcpy(b->out + b->nout, p, take);
	b->nout += take;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* One octet of a line that is not its end. */
static void
content(struct dkim_body *b, char c)
{
	if (!b->content) {
		for (; b->empty > 0; b->empty--)
			put(b, "\r\n", 2);
		b->content = true;
	}
	if (b->wsp)
		put(b, " ", 1);
	b->wsp = false;
	put(b, &c, 1);
}

static void
eol(struct dkim_body *b)
{
	if (b->content)
		put(b, "\r\n", 2);
	else
		b->empty++;
	b->content = b->wsp = false;
}

struct dkim_body *
dkim_body_new(bool relaxed, uint64_t limit)
{
	struct dkim_body *b = xcalloc(1, sizeof(*b));

	b->relaxed = relaxed;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(),
	    NULL) != 1)
		PANIC("EVP_DigestInit_ex failed");
	return b;
}

void
dkim_body_free(struct dkim_body **bp)
{
	struct dkim_body *b = *bp;

	if (b == NULL)
		return;
	*bp = NULL;
	EVP_MD_CTX_free(b->md);
	free(b);
}

void
dkim_body_feed(struct dkim_body *b, const void *data, size_t n)
{
	const char *p = data;
	size_t i;

	if (b->done)
		return;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				eol(b);
				continue;
			}
			content(b, '\r');
		}
		if (c == '\n')
			eol(b);
		else if (c == '\r')
			b->cr = true;
		else if (b->relaxed && is_wsp(c))
			b->wsp = true;
		else
			content(b, c);
	}
}

void
dkim_body_final(struct dkim_body *b, unsigned char md[DKIM_HASH_LEN],
    uint64_t *len_r)
{
	unsigned mdlen;

	if (b->done)
		PANIC("dkim_body_final called twice");
	{
		if (b->cr)
			content(b, '\r');
		b->cr = false;
		/* A last line without its end gets one; its blanks, not
		   being at a line end when seen, count as one space (as
		   OpenDKIM and python3-dkim do). */
		if (b->content) {
			if (b->wsp)
				put(b, " ", 1);
			put(b, "\r\n", 2);
		} else if (!b->relaxed && b->count == 0)
			put(b, "\r\n", 2);	/* 3.4.3: an empty body */
		flush(b);
		b->done = true;
	}
	if (EVP_DigestFinal_ex(b->md, md, &mdlen) != 1 ||
	    mdlen != DKIM_HASH_LEN)
		PANIC("EVP_DigestFinal_ex failed");
	if (len_r != NULL)
		*len_r = b->count;
}
