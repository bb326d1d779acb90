/*
 * linereader.c - strict CRLF lines with a hard length limit.
 */
#include <event2/buffer.h>

#include "core/linereader.h"
#include "util/compat.h"

void
linereader_init(struct linereader *lr, size_t max)
{
	lr->max = max;
	lr->discarding = false;
}

enum line_result
linereader_get(struct linereader *lr, struct evbuffer *in, struct buf *line)
{
	struct evbuffer_ptr eol;
	size_t n, have;
	const unsigned char *p;

	buf_reset(line);
	for (;;) {
		have = evbuffer_get_length(in);
		if (have == 0)
			return LINE_NONE;
		eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			if (lr->discarding) {
				(void)evbuffer_drain(in, have);
				return LINE_NONE;
			}
			if (have >= lr->max) {
				/* Keep nothing of it: the rest up to the next
				   LF belongs to the same line. */
				(void)evbuffer_drain(in, have);
				lr->discarding = true;
				return LINE_TOO_LONG;
			}
			return LINE_NONE;
		}
		n = (size_t)eol.pos + 1;	/* including the LF */
		if (lr->discarding) {
			(void)evbuffer_drain(in, n);
			lr->discarding = false;
			continue;
		}
		if (n > lr->max) {
			(void)evbuffer_drain(in, n);
			return LINE_TOO_LONG;
		}
		p = evbuffer_pullup(in, (ssize_t)n);
		if (p == NULL)
			return LINE_NONE;
		if (n < 2 || p[n - 2] != '\r' || memchr(p, '\r', n - 2) != NULL) {
			(void)evbuffer_drain(in, n);
			return LINE_BARE;
		}
		if (buf_append(line, p, n - 2) == -1) {
			(void)evbuffer_drain(in, n);
			return LINE_TOO_LONG;
		}
		(void)evbuffer_drain(in, n);
		return LINE_OK;
	}
}
