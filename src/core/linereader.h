/*
 * linereader.h - bounded CRLF line reader over an evbuffer.
 *
 * The limit is enforced before a line is searched past it, and only CRLF
 * ends a line: a bare CR or LF never splits one, it makes the line up to
 * its CRLF one bad line (SMTP smuggling, STYLE.md section 4).
 * evbuffer_readln() has no maximum and takes a bare LF as a line end, so
 * it is not used for protocol input.
 */
#ifndef POPGATE_LINEREADER_H
#define POPGATE_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct evbuffer;

enum line_result {
	LINE_NONE,	/* no complete line yet */
	LINE_OK,	/* a line is in LINE, CRLF removed */
	LINE_TOO_LONG,	/* no CRLF within the limit: dropped up to its CRLF */
	LINE_BARE,	/* a bare CR or LF inside: dropped up to its CRLF */
};

struct linereader {
	size_t	max;		/* octets including CRLF */
	bool	discarding;	/* inside the rest of an over-long line */
	bool	cr;		/* discarding, and the last octet was a CR */
};

void	linereader_init(struct linereader *, size_t max);
/* Takes the next line from IN. LINE is reset first; it receives the
   content on LINE_OK. The consumed bytes are drained from IN. */
enum line_result linereader_get(struct linereader *, struct evbuffer *in,
	    struct buf *line);

#endif
