/*
 * linereader.c - strict CRLF lines with a hard length limit.
 *
 * A line ends only at CRLF (SPEC section 3). A bare CR or LF before it
 * does not end anything: it makes the whole line, up to its CRLF, one
 * bad line, so "NOOP\nRCPT TO:<x>\r\n" is one error and the RCPT never
 * runs. The search for the CRLF never looks past the limit: what has no
 * CRLF within MAX octets is too long, whatever it holds, and its rest is
 * dropped up to the next CRLF (a CR at the end of one read may pair with
 * an LF at the start of the next).
 */
#include <event2/buffer.h>

#include "core/linereader.h"
#include "util/compat.h"

void
linereader_init(struct linereader *lr, size_t max)
{
	lr->max = max;
	lr->discarding = false;
	lr->cr = false;
}

/* Offset of the first CRLF in P[0..LEN) (the offset of its CR), or -1. */
static ssize_t
find_crlf(const unsigned char *p, size_t len)
{
	const unsigned char *lf;
	size_t off = 1;

	while (off < len && (lf = memchr(p + off, '\n', len - off)) != NULL) {
		off = (size_t)(lf - p);
		if (p[off - 1] == '\r')
			return (ssize_t)off - 1;
		off++;
	}
	return -1;
}

/* Drops the rest of an over-long line from IN, at most MAX octets at a
   time. True when its CRLF was found (and dropped). */
static bool
discard(struct linereader *lr, struct evbuffer *in)
{
	const unsigned char *p;
	size_t have, n;
	ssize_t at;

	while ((have = evbuffer_get_length(in)) > 0) {
		n = have < lr->max ? have : lr->max;
		if ((p = evbuffer_pullup(in, (ssize_t)n)) == NULL)
			return false;
		if (lr->cr && p[0] == '\n') {
			(void)evbuffer_drain(in, 1);
			lr->discarding = lr->cr = false;
			return true;
		}
		if ((at = find_crlf(p, n)) != -1) {
			(void)evbuffer_drain(in, (size_t)at + 2);
			lr->discarding = lr->cr = false;
			return true;
		}
		lr->cr = p[n - 1] == '\r';
		(void)evbuffer_drain(in, n);
	}
	return false;
}

enum line_result
linereader_get(struct linereader *lr, struct evbuffer *in, struct buf *line)
{
	const unsigned char *p;
	size_t have, lim, n;
	ssize_t at;

	buf_reset(line);
	if (lr->discarding && !discard(lr, in))
		return LINE_NONE;
	if ((have = evbuffer_get_length(in)) == 0)
		return LINE_NONE;
	/* A line of MAX octets, CRLF included, is the longest there is. */
	lim = have < lr->max ? have : lr->max;
	if ((p = evbuffer_pullup(in, (ssize_t)lim)) == NULL)
		return LINE_NONE;
	if ((at = find_crlf(p, lim)) == -1) {
		if (have < lr->max)
			return LINE_NONE;	/* the CRLF may still come */
		lr->discarding = true;
		lr->cr = false;
		(void)discard(lr, in);
		return LINE_TOO_LONG;
	}
	n = (size_t)at;
	if (memchr(p, '\r', n) != NULL || memchr(p, '\n', n) != NULL) {
		(void)evbuffer_drain(in, n + 2);
		return LINE_BARE;
	}
	if (buf_append(line, p, n) == -1) {
		(void)evbuffer_drain(in, n + 2);
		return LINE_TOO_LONG;
	}
	(void)evbuffer_drain(in, n + 2);
	return LINE_OK;
}
